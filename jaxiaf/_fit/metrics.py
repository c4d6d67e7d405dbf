"""Spike-train and trace metrics in JAX, for fitting and analysis.

Every function takes time-major arrays (`(T, ...)`, one row per step of `dt` seconds), compares them
column by column and returns one value per column (shape `...`); they are jit- and vmap-able, with `dt`,
`delta` and `tau` as Python floats or traced values. Spike rasters are bool, or numbers (non-zero is a
spike for the gamma factor and coincidences; counts for the van Rossum distance and the count error).

Bad values raise `ValueError` naming the argument eagerly (`EquinoxRuntimeError` under jit/vmap):
`dt`, `tau` not finite and > 0, `delta` not finite and >= 0, a Brian2 quantity that is not a time,
rasters or traces of different shapes or holding NaN/inf, a `trace_mse` with no step to average.
"""

import functools
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


def intrinsic_reliability(trains, dt: float, delta: float):
    """The intrinsic reliability `Gamma_int` of repeated recordings (Jolivet et al. 2008): the mean
    [`jaxiaf.metrics.gamma_factor`][] over the ordered pairs `(i, j)`, `i != j`, of R repetitions of one
    input (`gamma_factor(trains[:, i], trains[:, j])`: each repetition in turn the "model").

    **Arguments:** `trains`: (T, R, ...) rasters of R >= 2 repetitions; `dt`, `delta`: seconds.

    **Returns:** (...) `Gamma_int` per column.
    """
    trains = jnp.asarray(trains)
    if trains.ndim < 2 or trains.shape[1] < 2:
        raise ValueError(f"`trains` must have shape (T, R, ...) with R >= 2 repetitions; got {trains.shape}.")
    num = trains.shape[1]
    pairs = [(i, j) for i in range(num) for j in range(num) if i != j]
    first, second = (jnp.stack([trains[:, p[k]] for p in pairs], axis=1) for k in (0, 1))
    return jnp.mean(gamma_factor(first, second, dt, delta), axis=0)


def normalised_gamma(model, trains, dt: float, delta: float):
    """The competition's score (Jolivet et al. 2008): the model's gamma factor against each of R recorded
    repetitions of one input, averaged, divided by their [`jaxiaf.metrics.intrinsic_reliability`][]:
    `mean_r Gamma(model, trains[:, r]) / Gamma_int`. About 1 for a model as reliable a predictor as the
    cell is of itself; undefined (inf or NaN) when `Gamma_int <= 0` (an unreliable cell: report the raw
    gamma instead).

    **Arguments:** `model`: (T, ...) the model's raster; `trains`: (T, R, ...) the R repetitions;
    `dt`, `delta`: seconds.

    **Returns:** (...) the normalised gamma per column.
    """
    model, trains = jnp.asarray(model), jnp.asarray(trains)
    if trains.ndim != model.ndim + 1 or trains.shape[:1] + trains.shape[2:] != model.shape:
        raise ValueError(
            f"`trains` must have shape (T, R, ...) around `model`'s (T, ...) = {model.shape}; got "
            f"{trains.shape}."
        )
    repeated = jnp.broadcast_to(model[:, None], trains.shape)
    raw = jnp.mean(gamma_factor(repeated, trains, dt, delta), axis=0)
    return raw / intrinsic_reliability(trains, dt, delta)


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


@jax.jit
def _filtered(trains, decay):
    """(T, ...) the exponentially filtered trains, `f[k] = f[k-1] decay + trains[k]`."""

    def body(f, s):
        f = f * decay + s
        return f, f

    return jax.lax.scan(body, jnp.zeros(trains.shape[1:], trains.dtype), trains)[1]


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


def subthreshold_mse(v, target, target_spikes, dt: float, before: float = 2e-3, after: float = 8e-3):
    """Mean squared difference of two traces (V^2) outside the action potentials of the target: steps
    within `before` seconds before to `after` seconds after a target spike (on the step grid:
    `round(before / dt)` and `round(after / dt)` steps) are left out, and the mean is taken over the
    others, per column. For fitting the subthreshold dynamics of recorded traces, whose action potentials
    a model with a reset does not reproduce.

    **Arguments:** `v`, `target`: (T, ...) traces (V); `target_spikes`: (T, ...) the target's spike raster;
    `dt`, `before`, `after`: seconds.

    **Returns:** (...) the mean squared error per column (NaN where no step is left).
    """
    v, target = (a.astype(jnp.result_type(float, a)) for a in _pair(v, target, ("v", "target")))
    target_spikes = _pair(target_spikes, target, ("target_spikes", "target"))[0]
    dt = _positive("dt", dt)
    before = _positive("before", before, "finite and >= 0")
    after = _positive("after", after, "finite and >= 0")
    num_steps = v.shape[0]
    hits = (target_spikes != 0).astype(jnp.int32)
    csum = jnp.concatenate([jnp.zeros_like(hits[:1]), jnp.cumsum(hits, 0)])
    k = jnp.arange(num_steps).reshape((-1,) + (1,) * (v.ndim - 1))
    w_before = jnp.minimum(jnp.round(before / dt), num_steps).astype(jnp.int32)
    w_after = jnp.minimum(jnp.round(after / dt), num_steps).astype(jnp.int32)
    # a spike at s hides steps s - w_before .. s + w_after: step k is hidden by spikes in k - w_after ..
    # k + w_before
    upper = jnp.take_along_axis(csum, jnp.broadcast_to(jnp.minimum(k + w_before + 1, num_steps), v.shape), 0)
    lower = jnp.take_along_axis(csum, jnp.broadcast_to(jnp.maximum(k - w_after, 0), v.shape), 0)
    keep = (upper - lower == 0).astype(v.dtype)
    out = jnp.sum(keep * (v - target) ** 2, axis=0) / jnp.sum(keep, axis=0)
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
    (lower is better). `needs` is `"spikes"` or `"v"`: the target it compares against; `needs_both`: it
    reads the target spikes too."""

    needs: ClassVar[str] = "spikes"
    needs_both: ClassVar[bool] = False

    def population_loss(self, spikes, v, target_spikes, target_v, dt, trials=None):
        """(P, K, ...) loss of P candidates' outputs `spikes`, `v` (T, P, U, ...) against the K trials'
        targets (T, K, ...); with `trials` (K indices), trial k's output is column `trials[k]` of the U
        simulated ones (else U = K). By default the outputs are gathered and `loss` compares each."""
        spikes, v = (None if a is None else _per_trial(a, trials) for a in (spikes, v))
        shape = (spikes if v is None else v).shape
        ts, tv = (
            None if t is None else jnp.broadcast_to(t[:, None], shape) for t in (target_spikes, target_v)
        )
        return self.loss(spikes, v, ts, tv, dt)


def _per_trial(outputs, trials):
    """(T, P, K, ...) outputs of the K trials from the (T, P, U, ...) outputs of the distinct inputs."""
    return outputs if trials is None else jnp.take(outputs, jnp.asarray(trials), axis=2)


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
        return self.population_loss(spikes[:, None], None, target_spikes, None, dt)[0]

    def population_loss(self, spikes, v, target_spikes, target_v, dt, trials=None):
        """As [`jaxiaf.metrics.van_rossum`][] (up to rounding), in one pass over the steps: each of the U
        distinct outputs of each candidate is filtered once, the K targets once before, and the squared
        differences are summed as the filter goes (no (T, P, K, ...) array of filtered trains)."""
        ratio = dt / self.tau
        decay = jnp.exp(-ratio)
        dtype = jnp.result_type(float)
        target = _filtered(target_spikes.astype(dtype), decay)
        squared = ratio * _population_sum_of_squares(spikes, target, decay, trials)
        # the gradient of sqrt at 0 is inf (times 0: NaN); where the trains match it is 0 instead
        return jnp.where(squared > 0, jnp.sqrt(jnp.where(squared > 0, squared, 1.0)), 0.0)


@functools.partial(jax.jit, static_argnums=3)
def _population_sum_of_squares(spikes, target, decay, trials):
    """(P, K, ...) `sum_k (m[k] - t[k])^2` of the filtered outputs `m` of `spikes` (T, P, U, ...) (output
    `trials[k]` for trial k; U = K without `trials`) against the filtered targets `target` (T, K, ...)."""
    dtype = target.dtype
    index = None if trials is None else jnp.asarray(trials)

    def body(carry, step):
        filtered, total = carry
        spike, target_k = step
        filtered = filtered * decay + spike.astype(dtype)
        model = filtered if index is None else jnp.take(filtered, index, axis=1)
        return (filtered, total + (model - target_k[None]) ** 2), None

    start = (jnp.zeros(spikes.shape[1:], dtype), jnp.zeros(spikes.shape[1:2] + target.shape[1:], dtype))
    return jax.lax.scan(body, start, (spikes, target))[0][1]


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


class SubthresholdMSE(Metric):
    """Loss: the mean squared voltage error (V^2) outside windows around the target's spikes, from
    `before` (s, default 2 ms) before each to `after` (s, default 8 ms) after it; see
    [`jaxiaf.metrics.subthreshold_mse`][]. Needs both targets, `v` and `spikes` (e.g. from
    [`jaxiaf.detect_spikes`][])."""

    before: float = eqx.field(static=True, default=2e-3)
    after: float = eqx.field(static=True, default=8e-3)
    needs: ClassVar[str] = "v"
    needs_both: ClassVar[bool] = True

    def __check_init__(self):
        _positive("before", self.before, "finite and >= 0")
        _positive("after", self.after, "finite and >= 0")

    def loss(self, spikes, v, target_spikes, target_v, dt):
        return subthreshold_mse(v, target_v, target_spikes, dt, self.before, self.after)
