"""Surrogate gradients of the spike, and the checkpointed scan: what makes [`jaxiaf.evolve`][] differentiable.

The spike `(v > v_thresh) & not_refractory` is a step function of `v`: its derivative is zero almost
everywhere, so `jax.grad` through a spiking layer sees no effect of any parameter on the spikes. A
*surrogate* keeps the forward pass exactly as it is and replaces that derivative, in the backward pass
only, by a smooth bump `surrogate(x)` of the normalised distance to the threshold
`x = (v - v_thresh) / |v_thresh - v_reset|` (Zenke & Ganguli 2018; Neftci et al. 2019). The primal is the
same comparison, so spikes and voltages are bit-identical with and without a surrogate.

The reset `v = where(spike, v_reset, v)` is *detached* by default: its gradient flows to `v` where there
is no spike and to `v_reset` where there is, but not through the spike decision. Attached
(`detach_reset=False`), each spike adds `surrogate(x) * (v_reset - v) / |v_thresh - v_reset|` to the
derivative of the next `v` with respect to this one; over many steps those products of factors near the
threshold grow without bound (the exploding gradients of BPTT through spikes; Zenke & Vogels 2021 find
detaching it trains as well or better). The refractory counter is an integer: no gradient flows through it.
"""

import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp


class Surrogate(eqx.Module):
    """Base class: `derivative(x)`, the surrogate of `d spike / d x` at the normalised distance `x` to the
    threshold. Hyperparameters are static fields, so a surrogate is hashable (a static argument of
    [`jaxiaf.evolve`][]); changing one recompiles."""

    detach_reset: bool = eqx.field(static=True, default=True, kw_only=True)

    def derivative(self, x):
        raise NotImplementedError

    def __check_init__(self):
        beta = getattr(self, "beta", 1.0)
        if (
            isinstance(beta, bool)
            or not isinstance(beta, (int, float))
            or not math.isfinite(beta)
            or beta <= 0
        ):
            raise ValueError(f"`beta` of {type(self).__name__} must be a finite number > 0; got {beta!r}.")


class SuperSpike(Surrogate):
    """The fast sigmoid's derivative `1 / (1 + beta |x|)^2` (SuperSpike; Zenke & Ganguli 2018), the default.

    With `x` in units of `|v_thresh - v_reset|`, `beta = 10` makes the bump about 1 mV wide on the default
    layer's 10 mV."""

    beta: float = eqx.field(static=True, default=10.0)

    def derivative(self, x):
        return 1.0 / (1.0 + self.beta * jnp.abs(x)) ** 2


class Sigmoid(Surrogate):
    """The derivative of `sigmoid(beta x)`: `beta * s * (1 - s)`, `s = sigmoid(beta x)`."""

    beta: float = eqx.field(static=True, default=10.0)

    def derivative(self, x):
        s = jax.nn.sigmoid(self.beta * x)
        return self.beta * s * (1 - s)


class ArcTan(Surrogate):
    """The derivative of `1/2 + arctan(pi beta x / 2) / pi`: `(beta / 2) / (1 + (pi beta x / 2)^2)`."""

    beta: float = eqx.field(static=True, default=10.0)

    def derivative(self, x):
        return (self.beta / 2) / (1 + (math.pi * self.beta * x / 2) ** 2)


class PiecewiseLinear(Surrogate):
    """A triangle: `beta * max(0, 1 - beta |x|)` (zero beyond `|x| = 1 / beta`)."""

    beta: float = eqx.field(static=True, default=10.0)

    def derivative(self, x):
        return self.beta * jnp.maximum(0.0, 1 - self.beta * jnp.abs(x))


def _scale(v_thresh, v_reset):
    """`|v_thresh - v_reset|`, the voltage unit of `x` (1 V where the two are equal)."""
    gap = jnp.abs(v_thresh - v_reset)
    return jnp.where(gap > 0, gap, jnp.ones_like(gap))


@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def _heaviside(surrogate, v, v_thresh, scale):
    return (v > v_thresh).astype(v.dtype)


@_heaviside.defjvp
def _heaviside_jvp(surrogate, primals, tangents):
    v, v_thresh, scale = primals
    dv, dthresh, _ = tangents
    x = (v - v_thresh) / scale
    return _heaviside(surrogate, *primals), surrogate.derivative(x) * ((dv - dthresh) / scale)


def threshold(surrogate: Surrogate | None, w, v_thresh, v_reset, not_refractory):
    """`(fired, spike)` of the voltages `w` after an update: `fired` is `(w > v_thresh) & not_refractory`
    (bool); `spike` is `fired` without a surrogate, else `fired` as 0/1 floats of `w`'s dtype whose
    derivative is the surrogate's (zero where refractory)."""
    fired = (w > v_thresh) & not_refractory
    if surrogate is None:
        return fired, fired
    scale = jax.lax.stop_gradient(_scale(v_thresh, v_reset))
    return fired, jnp.where(not_refractory, _heaviside(surrogate, w, v_thresh, scale), 0.0)


def reset(surrogate: Surrogate | None, fired, spike, w, v_reset):
    """`where(fired, v_reset, w)`; with an attached reset, plus `(spike - stop_gradient(spike)) *
    (v_reset - w)`, which is zero in the forward pass and carries the spike's surrogate derivative."""
    v = jnp.where(fired, v_reset, w)
    if surrogate is None or surrogate.detach_reset:
        return v
    return v + (spike - jax.lax.stop_gradient(spike)) * (v_reset - w)


def scan(body, carry, source, num_steps: int, unroll: int, checkpoint_every: int | None):
    """The core's loop: `body(carry, k, source[k + 1]) -> (carry, y)` for k = 0 .. num_steps - 1 (the
    last step reads `source[-1]`), stacking the `y`.

    With `checkpoint_every = C`, the first `C * floor(T / C)` steps run as an outer scan over chunks of C
    steps under `jax.checkpoint`, the rest as a plain scan: reverse mode then stores the carry once per
    chunk and recomputes one chunk at a time, `O(T / C + C)` states instead of `O(T)` per-step residuals.
    Same results. Each chunk takes its C inputs as a slice of the outer scan's `xs` (a free reshape of
    `source` when C divides T): read by index inside a checkpointed chunk, `source` would make each
    chunk's backward pass build a whole (T, ...) cotangent.
    """
    read = lambda k: jax.lax.dynamic_index_in_dim(source, jnp.minimum(k + 1, len(source) - 1), keepdims=False)
    plain = lambda c, ks: jax.lax.scan(lambda c, k: body(c, k, read(k)), c, ks, unroll=unroll)
    if checkpoint_every is None:
        return plain(carry, jnp.arange(num_steps))
    size = checkpoint_every
    num = num_steps // size
    steps = jnp.arange(num * size).reshape(num, size)
    rows = source[: num * size].reshape(num, size, *source.shape[1:])
    after = source[jnp.minimum((jnp.arange(num) + 1) * size, len(source) - 1)]  # next chunk's first input

    @functools.partial(jax.checkpoint, prevent_cse=False)
    def chunk(c, xs):
        ks, own, first_after = xs
        return jax.lax.scan(
            lambda c, ku: body(c, *ku), c, (ks, jnp.concatenate([own[1:], first_after[None]])), unroll=unroll
        )

    carry, ys = jax.lax.scan(chunk, carry, (steps, rows, after))
    ys = jax.tree.map(lambda a: a.reshape(num * size, *a.shape[2:]), ys)
    carry, tail = plain(carry, jnp.arange(num * size, num_steps))
    return carry, jax.tree.map(lambda a, b: jnp.concatenate([a, b]), ys, tail)


def check_options(surrogate, checkpoint_every) -> None:
    """`ValueError` naming the argument for a surrogate that is not a `Surrogate` (or None), or a
    `checkpoint_every` that is not a positive integer (or None)."""
    if surrogate is not None and not isinstance(surrogate, Surrogate):
        raise ValueError(
            "`surrogate` must be None or a jaxiaf.surrogate.Surrogate (e.g. SuperSpike()); "
            f"got {surrogate!r}."
        )
    if checkpoint_every is not None and (
        not isinstance(checkpoint_every, int) or isinstance(checkpoint_every, bool) or checkpoint_every < 1
    ):
        raise ValueError(f"`checkpoint_every` must be None or a positive integer; got {checkpoint_every!r}.")
