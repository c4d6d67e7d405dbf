"""Spike-train and trace metrics in JAX, for fitting and analysis.

Every function takes time-major arrays (`(T, ...)`, one row per step of `dt` seconds), compares them
column by column and returns one value per column (shape `...`); they are jit- and vmap-able, with `dt`,
`delta` and `tau` as Python floats or traced values. Spike rasters are bool, or numbers (non-zero is a
spike for the gamma factor and coincidences; counts for the van Rossum distance and the count error).

Bad values raise `ValueError` naming the argument eagerly (`EquinoxRuntimeError` under jit/vmap):
`dt`, `tau` not finite and > 0, `delta` not finite and >= 0, a Brian2 quantity that is not a time,
rasters or traces of different shapes or holding NaN/inf, a `trace_mse` with no step to average.
"""

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp

from .._core import checks as _checks
from .._core import convert as _convert


def _pair(model, target, names=("model", "target")):
    """`model` and `target` as JAX arrays of one shape (T, ...), real and finite."""
    model, target = jnp.asarray(model), jnp.asarray(target)
    for name, a in zip(names, (model, target), strict=True):
        if not (jnp.issubdtype(a.dtype, jnp.number) or a.dtype == jnp.bool_) or jnp.iscomplexobj(a):
            raise TypeError(f"`{name}` must hold real numbers or bools; got dtype {a.dtype}.")
    if model.shape != target.shape or model.ndim < 1:
        raise ValueError(
            f"`{names[0]}` and `{names[1]}` must have one shape (T, ...), time first; got {model.shape} "
            f"and {target.shape}."
        )
    for name, a in zip(names, (model, target), strict=True):
        if jnp.issubdtype(a.dtype, jnp.inexact):
            _checks.check_input_now(a, name)
    return model, target


def _tie_finite(out, arrays: dict):
    """`out`, tied to a runtime check that every float array of `arrays` (name -> array) is finite."""
    for name, a in arrays.items():
        if jnp.issubdtype(a.dtype, jnp.inexact):
            out = _checks.tie_input_check(out, a, name)
    return out


def _positive(name: str, value, rule: str = "finite and > 0"):
    """A duration in seconds (a float, a traced value, or a Brian2 quantity of time), checked."""
    return _checks.ensure(name, _convert.strip_unit(name, value, "s"), rule, "s")


def coincidences(model, target, dt: float, delta: float):
    """Number of `target` spikes with at least one `model` spike within `+-delta` seconds (on the step grid:
    within `round(delta / dt)` steps). Each target spike counts at most once (Kistler et al. 1997)."""
    model, target = _pair(model, target)
    dt, delta = _positive("dt", dt), _positive("delta", delta, "finite and >= 0")
    num_steps = model.shape[0]
    w = jnp.minimum(jnp.round(delta / dt), num_steps).astype(jnp.int32)
    hits = (model != 0).astype(jnp.int32)
    csum = jnp.concatenate([jnp.zeros_like(hits[:1]), jnp.cumsum(hits, 0)])
    k = jnp.arange(num_steps)
    near = csum[jnp.minimum(k + w + 1, num_steps)] - csum[jnp.maximum(k - w, 0)]
    return _tie_finite(jnp.sum((target != 0) & (near > 0), axis=0), {"model": model, "target": target})


def gamma_factor(model, target, dt: float, delta: float):
    """The coincidence factor of Jolivet et al. (2008), with the model's rate as the chance rate.

    `Gamma = (N_coinc - 2 nu delta N_data) / (0.5 (N_data + N_model) (1 - 2 nu delta))`, `nu` the model's
    firing rate (`N_model / (T dt)`), `N_coinc` from [`jaxiaf.metrics.coincidences`][]. 1 for identical
    trains, about 0 for independent ones. (brian2modelfitting's `GammaFactor` instead takes `nu` as the
    data rate and reports `1 + 2|r_data - r_model| / r_data - Gamma`.) Two silent trains (or T = 0) give 1;
    a model so fast that `2 nu delta >= 1` (no chance correction possible) gives -1.

    **Arguments:** `model`, `target`: (T, ...) rasters (bool, or numbers: non-zero is a spike); `dt`,
    `delta`: seconds.

    **Returns:** (...) Gamma per column.
    """
    model, target = _pair(model, target)
    n_coinc = coincidences(model, target, dt, delta)
    model, target = model != 0, target != 0
    n_model = jnp.sum(model, axis=0)
    n_data = jnp.sum(target, axis=0)
    duration = model.shape[0] * dt
    nu = n_model / (duration if model.shape[0] else 1.0)
    norm = 1 - 2 * nu * delta
    expected = 2 * nu * delta * n_data
    total = 0.5 * (n_data + n_model)
    gamma = (n_coinc - expected) / jnp.where(total * norm > 0, total * norm, 1.0)
    gamma = jnp.where(norm > 0, gamma, -1.0)
    return jnp.where(total == 0, 1.0, gamma)


def van_rossum(model, target, dt: float, tau: float):
    """The van Rossum distance `D = sqrt((dt / tau) * sum_k d[k]^2)`.

    `d[k] = d[k-1] exp(-dt/tau) + m[k] - s[k]` is the exponentially filtered difference of the trains.

    With this normalisation one unmatched spike contributes `D^2` of about 1/2 (exactly
    `(dt/tau) / (1 - exp(-2 dt/tau))`), and a spike shifted by `s` seconds about `1 - exp(-s/tau)`
    (van Rossum 2001; elephant divides by 2 instead). Identical trains (and T = 0) give 0.

    **Arguments:** `model`, `target`: (T, ...) rasters (bool or counts); `dt`, `tau`: seconds.

    **Returns:** (...) distance per column.
    """
    model, target = _pair(model, target)
    dt, tau = _positive("dt", dt), _positive("tau", tau)
    ratio = _checks.ensure("dt / tau", dt / tau, "finite", "dimensionless units")
    diff = model.astype(jnp.result_type(float)) - target.astype(jnp.result_type(float))
    squared = ratio * _filtered_sum_of_squares(diff, jnp.exp(-ratio))
    # the gradient of sqrt at 0 is inf (times 0: NaN); where the trains match it is 0 instead
    out = jnp.where(squared > 0, jnp.sqrt(jnp.where(squared > 0, squared, 1.0)), 0.0)
    return _tie_finite(out, {"model": model, "target": target})


@jax.jit
def _filtered_sum_of_squares(diff, decay):
    """`sum_k d[k]^2`, `d[k] = d[k-1] decay + diff[k]` (compiled once per shape, also for eager calls)."""

    def body(d, s):
        d = d * decay + s
        return d, d * d

    _, sq = jax.lax.scan(body, jnp.zeros(diff.shape[1:], diff.dtype), diff)
    return jnp.sum(sq, axis=0)


def trace_mse(v, target, dt: float, t_start: float = 0.0, weights=None):
    """Mean squared difference of two traces (V^2) over the steps at `k * dt >= t_start`, optionally
    weighted per step by `weights` (T,), finite and >= 0.

    **Raises:** `ValueError` (`EquinoxRuntimeError` under jit) if no step has weight: T = 0, `t_start`
    past the end, or all `weights` zero."""
    v, target = (a.astype(jnp.result_type(float, a)) for a in _pair(v, target, ("v", "target")))
    dt = _positive("dt", dt)
    t_start = _checks.ensure("t_start", t_start, "finite", "s")
    keep = (jnp.arange(v.shape[0]) * dt >= t_start).astype(v.dtype)
    if weights is not None:
        weights = jnp.asarray(weights, v.dtype)
        if weights.shape != v.shape[:1]:
            raise ValueError(f"`weights` must have shape (T,) = {v.shape[:1]}; got {weights.shape}.")
        keep = keep * _checks.ensure("weights", weights, "finite and >= 0", "1 per step")
    total = jnp.sum(keep)
    message = "`trace_mse`: no step to average (T = 0, `t_start` past the end, or all `weights` zero)."
    if _checks.is_concrete(total) and not total > 0:
        raise ValueError(message)
    total = eqx.error_if(total, ~(total > 0), message)
    keep = keep.reshape((-1,) + (1,) * (v.ndim - 1))
    out = jnp.sum(keep * (v - target) ** 2, axis=0) / total
    return _tie_finite(out, {"v": v, "target": target})


def spike_count_error(model, target):
    """`|N_model - N_data| / max(N_data, 1)`: the relative error of the spike count."""
    model, target = _pair(model, target)
    n_model = jnp.sum(model, axis=0)
    n_data = jnp.sum(target, axis=0)
    out = jnp.abs(n_model - n_data) / jnp.maximum(n_data, 1)
    return _tie_finite(out, {"model": model, "target": target})


class Metric(eqx.Module):
    """A loss for [`jaxiaf.fit`][]: `loss(spikes, v, target_spikes, target_v, dt)` -> per-column loss
    (lower is better). `needs` is `"spikes"` or `"v"`: the target it compares against."""

    needs: ClassVar[str] = "spikes"


class GammaFactor(Metric):
    """Loss `1 - Gamma` with coincidence window `delta` (s, default 2 ms); see
    [`jaxiaf.metrics.gamma_factor`][]."""

    delta: float = eqx.field(static=True, default=2e-3)

    def __check_init__(self):
        _positive("delta", self.delta, "finite and >= 0")

    def loss(self, spikes, v, target_spikes, target_v, dt):
        return 1 - gamma_factor(spikes, target_spikes, dt, self.delta)


class VanRossum(Metric):
    """Loss: the van Rossum distance with time constant `tau` (s, default 10 ms, as [`jaxiaf.fit`][]'s
    default spike loss); see [`jaxiaf.metrics.van_rossum`][]."""

    tau: float = eqx.field(static=True, default=10e-3)

    def __check_init__(self):
        _positive("tau", self.tau)

    def loss(self, spikes, v, target_spikes, target_v, dt):
        return van_rossum(spikes, target_spikes, dt, self.tau)


class SpikeCount(Metric):
    """Loss: the relative spike-count error; see [`jaxiaf.metrics.spike_count_error`][]."""

    def loss(self, spikes, v, target_spikes, target_v, dt):
        return spike_count_error(spikes, target_spikes)


class TraceMSE(Metric):
    """Loss: the mean squared voltage error (V^2) from `t_start` (s), with optional per-step `weights`
    (T,); see [`jaxiaf.metrics.trace_mse`][]."""

    t_start: float = eqx.field(static=True, default=0.0)
    weights: jax.Array | None = None
    needs: ClassVar[str] = "v"

    def __check_init__(self):
        _checks.ensure("t_start", self.t_start, "finite", "s")

    def loss(self, spikes, v, target_spikes, target_v, dt):
        return trace_mse(v, target_v, dt, self.t_start, self.weights)
