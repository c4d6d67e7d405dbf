"""Gradient-based fitting: [`jaxiaf.fit`][]`(..., optimizer="adam")` (or any optax optimizer), and
`optimizer="gauss_newton"` for voltage traces.

`parallel` runs descend side by side from random points of the box, in one compiled step: the loss of
every run is evolved over all trials, differentiated (through spikes with the `SuperSpike` surrogate,
exactly below the threshold), and the optimizer moves each run's unconstrained `z`, whose parameters are
`low + (high - low) * sigmoid(z)` as in the evolution-strategy path. The result is built from the same
`jaxiaf._fit.search.Trace` as that path's, so `FitResult` and its flags read the same.

A trace loss through a spiking neuron is rugged for any local method: a spike one step earlier or later
moves the trace by the whole reset, so the loss jumps wherever a parameter moves a spike, and between the
jumps the gradient only sees the sub-threshold part (with the reset detached, none of `v_thresh`).
`"gauss_newton"` removes the jumps instead of smoothing them (the spike-forced fit of the IAF literature,
e.g. Jolivet et al. 2006): the resets are read from the target trace (a jump to `v_reset`, held through
the refractory period), the model is evolved from the trace's value after each reset up to the next one
with its own spikes switched off, and Levenberg-Marquardt fits the sub-threshold parameters to the
squared voltage error of those segments (Jacobian by forward differentiation; smooth, no surrogate).
What the resets pin is read from the trace and the fitted model: `v_thresh` is the middle of the interval
between the highest voltage the trace reaches without a reset and the lowest voltage the model reaches at
a reset step, `refractory` the shortest hold at `v_reset` after a reset. Each step is scored with the
fit's own metric on the free-running model, which is what the result reports.
"""

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._compile.cache import COMPILER_OPTIONS
from .._core.pytrees import NEVER, Parameters, State
from .._core.scan import evolve
from .._core.surrogate import SuperSpike
from .._equations import names as _names
from .search import transform
from .solver import Run, Step, stop_reason

LEARNING_RATE = 0.05
"""The step size of an optimizer given by name, in the transformed space `z` (where a unit spans most of a
box): Adam's steps are about this size at first."""

SURROGATE = SuperSpike()
"""The surrogate through which a gradient fit differentiates spikes."""

GAUSS_NEWTON = "gauss_newton"
SMOOTH = ("tau_mem", "bias", "v_rest")
"""The parameters `"gauss_newton"` fits by Levenberg-Marquardt; it reads `v_thresh` and `refractory`."""
READ = ("v_thresh", "refractory")
DAMPING = (1e-6, 1e-4, 1e-2, 1.0)
"""Marquardt's damping, relative to the diagonal of `J^T J`: each step tries all, keeps the best."""
CLAMP_RTOL = 1e-6
"""A target voltage within this (relative, + 1 nV) of `v_reset` is at `v_reset` (float32 rounding)."""


def is_gradient(optimizer) -> bool:
    """Whether `optimizer` asks for the gradient path: an optax optimizer, or the name of one."""
    import optax

    if isinstance(optimizer, str) and optimizer == GAUSS_NEWTON:
        return True
    if isinstance(optimizer, optax.GradientTransformation):
        return True
    return isinstance(optimizer, str) and callable(getattr(optax, optimizer, None)) and optimizer[0] != "_"


def check(optimizer, names, module, target_v, hi) -> None:
    """`ValueError` for an optax name that is not an optimizer, a parameter without a gradient
    (`refractory` is a whole number of steps), or what `"gauss_newton"` cannot fit: a parameter it does
    not fit, no target trace, a layer with equations of its own or noise, a trace it cannot read
    (`module`: the functional module; `target_v`: the (T, K, N) target or None; `hi`: the (D,) upper
    bounds of `names`)."""
    if isinstance(optimizer, str) and optimizer == GAUSS_NEWTON:
        if any(n not in SMOOTH + READ for n in names) or not any(n in SMOOTH for n in names):
            raise ValueError(
                f"`optimizer='gauss_newton'` fits {SMOOTH} (at least one) and reads {READ} from the trace; "
                f"got bounds for {list(names)}."
            )
        if target_v is None:
            raise ValueError("`optimizer='gauss_newton'` fits voltage traces: give the target `v`.")
        if _names.source(module.sim.model) is not None or module.sim.noisy:
            raise ValueError(
                "`optimizer='gauss_newton'` fits the default equations without noise; for a layer's own "
                "equations or a noisy module use an evolution strategy (e.g. `optimizer='cma_es'`)."
            )
        _check_readable(module.params, target_v, hi, names)
        return
    _plain_update(_named(optimizer) if isinstance(optimizer, str) else optimizer, optimizer)
    if "refractory" in names:
        raise ValueError(
            "`bounds['refractory']`: the refractory period is a whole number of steps, with no gradient; "
            "fit it with an evolution strategy (e.g. `optimizer='cma_es'`)."
        )


@functools.lru_cache(maxsize=16)
def _named(optimizer: str):
    """The optax transformation of a name (one object per name, so that compiled steps are reused)."""
    import optax

    try:
        return getattr(optax, optimizer)(learning_rate=LEARNING_RATE)
    except TypeError as error:
        raise ValueError(
            f"`optimizer={optimizer!r}` is not an optax optimizer taking a `learning_rate`; pass one "
            "built with its arguments, e.g. `optax.adam(1e-2)`."
        ) from error


def _plain_update(transformation, optimizer) -> None:
    """`ValueError` for an optimizer whose `update` needs more than the gradient (optax's `lbfgs` and its
    line search want `value`, `grad` and `value_fn`): tried once on shapes only."""
    z = jnp.zeros(2)
    try:
        jax.eval_shape(lambda: transformation.update(z, transformation.init(z), z))
    except TypeError as error:
        raise ValueError(
            f"`optimizer={optimizer!r}`: its update needs more than the gradient ({error}); jaxiaf's "
            "gradient fit passes only the gradient: use an optimizer such as 'adam', or an evolution "
            "strategy (e.g. 'cma_es')."
        ) from None


@functools.lru_cache(maxsize=16)
def evaluator(loss_fn, dtype):
    """The jitted `evaluate(values, data)`: the fit's loss of each parameter set (no gradient)."""
    return jax.jit(
        lambda values, data: loss_fn(values.astype(dtype), data[0]), compiler_options=COMPILER_OPTIONS
    )


@functools.lru_cache(maxsize=16)
def compiled_step(optimizer, loss_fn, dtype):
    """The jitted `step(z, opt_state, data) -> (z, opt_state, values, losses)` of all runs (the losses and
    values are those of `z` before the step), and the jitted `init(z)`."""

    def total(z, data):
        sim_data, lo, hi = data
        values = transform(z, lo, hi).astype(dtype)
        losses = loss_fn(values, sim_data)
        return jnp.sum(losses), (values, losses)

    def step(z, opt_state, data):
        grad, (values, losses) = jax.grad(total, has_aux=True)(z, data)
        # a metric without a derivative at its minimum (the van Rossum distance of matching trains) gives
        # NaN there: that run does not move
        grad = jnp.where(jnp.isfinite(grad), grad, 0.0)
        updates, opt_state = optimizer.update(grad, opt_state, z)
        return (z + updates).astype(dtype), opt_state, values, losses

    return jax.jit(step, compiler_options=COMPILER_OPTIONS), jax.jit(optimizer.init)


class _Descents:
    """Gradient descents side by side (the solver interface of `jaxiaf._fit.solver`): `runs` runs from
    random points of the box, never restarted (each run is its own origin); stopping rules as the
    evolution strategies', with `confirm` capped at `runs`. A subclass gives `_first(key)`, its own state
    before the first step, and `_advance(own) -> (own, values (runs, D), losses (runs,), evaluations)`;
    the solver's state is `(own, each run's best loss (runs,), its values)`."""

    label = ("fit steps", "step")

    def __init__(self, loss, data, budget, runs: int, std_init: float):
        self.data, self.width, self.std_init = data, runs, std_init
        self.budget = budget._replace(confirm=min(budget.confirm, runs))
        self.dtype = jnp.dtype(data[1].dtype)
        self.evaluate = evaluator(loss, self.dtype)

    def init(self, key):
        return self._first(key), np.full(self.width, np.inf), [None] * self.width

    def step(self, state):
        own, best, kept = state
        own, values, losses, spent = self._advance(own)
        losses = np.where(np.isfinite(losses), losses, np.inf)
        best, kept = best.copy(), list(kept)
        for r in np.flatnonzero(losses < best):
            best[r], kept[r] = float(losses[r]), values[r]
        return (own, best, kept), Step(best, kept, float(losses.min()), spent, 0)

    def terminate(self, state, record, evaluations: int):
        confirmed = int(sum(self.budget.reached(loss) for loss in state[1]))
        return stop_reason(self.budget, confirmed, record, evaluations)

    def runs(self, state, generations: int) -> list:
        _, best, kept = state
        return [Run(float(best[r]), kept[r], generations, False, r) for r in range(self.width)]

    def profile(self, best_values, names, dt, near, key, spent):
        return np.zeros(len(best_values))

    def _start(self, key, dim: int):
        """The runs' first points in the transformed space: `std_init` times unit normal draws."""
        return (self.std_init * jax.random.normal(jax.random.split(key)[1], (self.width, dim))).astype(
            self.dtype
        )


class Descent(_Descents):
    """An optax optimizer (a name: `LEARNING_RATE`) on the transformed parameters of every run, the loss
    differentiated through spikes with `SURROGATE`; one step of a run counts one evaluation."""

    def __init__(self, optimizer, loss, data, budget, runs: int, std_init: float):
        super().__init__(loss, data, budget, runs, std_init)
        transformation = _named(optimizer) if isinstance(optimizer, str) else optimizer
        self._step, self._init = compiled_step(transformation, loss, self.dtype)

    def _first(self, key):
        z = self._start(key, self.data[1].shape[0])
        return z, self._init(z)

    def _advance(self, state):
        z, opt_state, values, losses = self._step(*state, self.data)
        return (z, opt_state), np.asarray(values, float), np.asarray(losses), self.width


class GaussNewton(_Descents):
    """`optimizer="gauss_newton"` (module docstring): `runs` Levenberg-Marquardt descents from random
    points of the box on the spike-forced segments of the target trace, each step scored by `evaluate`
    (the fit's metric, free-running) at the fitted and read parameters. One step of all runs counts
    `runs * (2 + len(DAMPING))` evaluations: each run's point with its Jacobian, its damped candidates,
    and its free-running score."""

    def __init__(self, names, loss, data, budget, runs: int, std_init: float):
        super().__init__(loss, data, budget, runs, std_init)
        self.names = names
        self.lo, self.hi = (np.asarray(a, float) for a in data[1:])
        self.smooth = tuple(n for n in names if n in SMOOTH)
        self.index = np.array([names.index(n) for n in self.smooth])

    def _first(self, key):
        (params, sim, state), currents, _, target_v, _ = self.data[0]
        self.forced, self.lower, self.hold = _forced_segments(params, sim, state, currents, target_v)
        self.step_dt = float(np.asarray(sim.dt).reshape(-1)[0])
        self.bounds = tuple(jnp.asarray(b[self.index], self.dtype) for b in (self.lo, self.hi))
        return self._start(key, len(self.smooth))

    def _advance(self, z):
        names, lo, hi = self.names, self.lo, self.hi
        z, fitted, upper = _lm_step(self.smooth, z, self.forced, *self.bounds)
        values = np.repeat(
            ((lo + hi) / 2)[None], self.width, axis=0
        )  # refractory without a reset: the middle
        values[:, self.index] = np.asarray(fitted, float)
        if "v_thresh" in names:  # the middle of what the trace and the fitted model allow
            i, upper = names.index("v_thresh"), np.asarray(upper, float)
            middle = 0.5 * (max(self.lower, lo[i]) + np.where(np.isfinite(upper), upper, hi[i]))
            values[:, i] = np.clip(middle, lo[i], hi[i])
        if "refractory" in names and self.hold:
            i = names.index("refractory")
            values[:, i] = np.clip(self.hold * self.step_dt, lo[i], hi[i])
        losses = np.asarray(self.evaluate(jnp.asarray(values, self.dtype), self.data))
        return z, values, losses, self.width * (2 + len(DAMPING))


def _check_readable(params, target_v, hi, names) -> None:
    """`ValueError` for a target trace above every threshold the fit may give the model: it holds action
    potentials (a recording), not the resets of an integrate-and-fire model, and the spike-forced fit
    cannot read its resets."""
    top = np.max(np.asarray(params.v_thresh, float))
    if "v_thresh" in names:
        top = max(top, float(np.asarray(hi)[names.index("v_thresh")]))
    if float(jnp.max(target_v)) > top:
        raise ValueError(
            f"`optimizer='gauss_newton'`: the target `v` rises above the highest threshold allowed "
            f"({top} V): it holds action potentials, not resets to `v_reset`, which the spike-forced fit "
            "reads. For recorded traces use `metric=jaxiaf.metrics.SubthresholdMSE()` (with `spikes` from "
            "`jaxiaf.detect_spikes`) and an evolution strategy."
        )


def _forced_segments(params, sim, state, currents, target_v):
    """The target trace cut at its resets, on the host: `(forced, lower, hold)`.

    A reset is a step at `v_reset` (within `CLAMP_RTOL`) coming from above it, held through the following
    steps at `v_reset`. Each stretch between holds is one segment (one column of `forced`, padded to the
    longest): its start voltage (the trace's value before it, or the initial state's), its currents, the
    target (with a 0/1 mask) and a marker on the reset step that ends it. `lower` is the highest voltage
    of the trace outside the holds; `hold` the shortest hold followed by a free step, in steps (0: none)."""
    v = np.asarray(target_v, float)
    num_steps, num_trials, num_neurons = v.shape
    v_reset = np.broadcast_to(np.asarray(params.v_reset, float), (num_neurons,))
    v0 = np.broadcast_to(np.asarray(state.v, float), (num_neurons,))
    columns, source = v.reshape(num_steps, -1).T, np.asarray(currents, float).reshape(num_steps, -1).T
    segments, holds, lower = [], [], -np.inf
    for c, trace in enumerate(columns):
        n = c % num_neurons
        at_reset = np.abs(trace - v_reset[n]) <= CLAMP_RTOL * abs(v_reset[n]) + 1e-9
        held = np.zeros(num_steps, bool)
        for t in np.flatnonzero(at_reset[1:] & ~at_reset[:-1] & (trace[:-1] > v_reset[n])) + 1:
            end = t + np.argmin(np.append(at_reset[t:], False))  # first step off v_reset
            held[t:end] = True
            holds += [end - t] if end < num_steps else []
        free = np.flatnonzero(~held)
        if not len(free):
            continue
        lower = max(lower, trace[free].max())
        for run in np.split(free, np.flatnonzero(np.diff(free) > 1) + 1):
            start, stop = run[0], run[-1] + 1
            segments.append(
                (n, trace[start - 1] if start else v0[n], source[c, start : stop + 1], trace[start:stop])
            )
    length = max(len(s[2]) for s in segments)
    pad = lambda rows: np.stack([np.pad(r, (0, length - len(r))) for r in rows], axis=1)
    neuron = np.array([s[0] for s in segments])
    dtype = target_v.dtype
    per = lambda a: jnp.asarray(np.broadcast_to(np.asarray(a, float), (num_neurons,))[neuron], dtype)
    never = jnp.full(len(segments), jnp.finfo(dtype).max, dtype)  # the model's own spikes switched off
    forced = {
        "params": Parameters(
            jnp.zeros((1, len(segments)), dtype),
            per(params.bias),
            per(params.tau_mem),
            never,
            per(params.v_reset),
            per(params.v_rest),
        ),
        "v0": jnp.asarray([s[1] for s in segments], dtype),
        "currents": jnp.asarray(pad([s[2] for s in segments]), dtype),
        "target": jnp.asarray(pad([s[3] for s in segments]), dtype),
        "free": jnp.asarray(pad([np.ones(len(s[3])) for s in segments]), dtype),
        "reset": jnp.asarray(pad([np.eye(1, len(s[2]), len(s[3]))[0] for s in segments]), dtype),
        "sim": eqx.tree_at(
            lambda q: (q.dt, q.noise_std, q.refractory),
            sim,
            tuple(per(a) if np.ndim(a) else a for a in (sim.dt, sim.noise_std, sim.refractory)),
        ),
        "key": state.key.reshape(-1)[0],
        "step": state.step,
    }
    return forced, lower, min(holds, default=0)


def _forced_v(smooth, values, forced):
    """(L, B, S) voltages of B parameter sets `values` (B, len(smooth)) on the S segments, no spikes."""
    num, num_segments = values.shape[0], forced["v0"].shape[0]
    shape = (num, num_segments)
    params = eqx.tree_at(
        lambda p: [getattr(p, n) for n in smooth],
        forced["params"],
        [jnp.broadcast_to(values[:, i : i + 1], shape) for i in range(len(smooth))],
    )
    state = State(
        v=jnp.broadcast_to(forced["v0"], shape),
        since_spike=jnp.full(shape, NEVER, jnp.int32),
        key=jnp.broadcast_to(forced["key"], (num,)),
        step=forced["step"],
        extra={},
    )
    sim = forced["sim"]  # the default equations: the affine update, as the population loss runs them
    return evolve(
        params, sim, state, forced["currents"], record=True, check=False, bit_exact=sim.model is not None
    )[2]["v"]


@functools.partial(jax.jit, static_argnums=0, compiler_options=COMPILER_OPTIONS)
def _lm_step(smooth, z, forced, lo, hi):
    """One Levenberg-Marquardt step of every run (`z`: (B, D)), the damping chosen among `DAMPING` by the
    segments' squared error: `(z, values, upper)`, `upper` (B,) the lowest voltage of the model at a reset
    step of the trace (inf: none)."""
    sim_v = lambda z: _forced_v(smooth, transform(z, lo, hi), forced)
    weight = forced["free"][:, None]
    error = lambda v: jnp.sum(((v - forced["target"][:, None]) * weight) ** 2, axis=(0, 2))
    v, linear = jax.linearize(sim_v, z)
    num, dim = z.shape
    jac = jnp.stack([linear(jnp.zeros_like(z).at[:, d].set(1)) * weight for d in range(dim)], -1)
    grad = jnp.einsum("lbsd,lbs->bd", jac, (v - forced["target"][:, None]) * weight)
    normal = jnp.einsum("lbsd,lbse->bde", jac, jac)
    diag = jnp.diagonal(normal, axis1=1, axis2=2)
    diag = jnp.maximum(diag, 1e-12 * jnp.max(diag, axis=1, keepdims=True))
    damping = jnp.asarray(DAMPING, z.dtype).reshape(1, -1, 1, 1)
    damped = normal[:, None] + damping * (diag[:, None, :, None] * jnp.eye(dim, dtype=z.dtype)[None, None])
    candidates = (
        z[:, None]
        - jnp.linalg.solve(damped, jnp.broadcast_to(grad[:, None, :, None], damped.shape[:3] + (1,)))[..., 0]
    )
    v_new = sim_v(candidates.reshape(-1, dim))
    losses = error(v_new).reshape(num, -1)
    best = jnp.argmin(jnp.where(jnp.isfinite(losses), losses, jnp.inf), axis=1)
    better = losses[jnp.arange(num), best] < error(v)
    z = jnp.where(better[:, None], candidates[jnp.arange(num), best], z)
    v = jnp.where(
        better[None, :, None], v_new.reshape(v.shape[0], num, -1, v.shape[2])[:, jnp.arange(num), best], v
    )
    upper = jnp.min(jnp.where(forced["reset"][:, None] > 0, v, jnp.inf), axis=(0, 2))
    return z, transform(z, lo, hi), upper
