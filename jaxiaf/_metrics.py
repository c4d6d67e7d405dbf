"""Spike-train and trace metrics in JAX, for fitting and analysis.

Every function takes time-major arrays (`(T, ...)`, one row per step of `dt` seconds), compares them
column by column and returns one value per column (shape `...`); they are jit- and vmap-able.
"""

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp


def _window_steps(width: float, dt: float) -> int:
    return int(round(width / dt))


def coincidences(model, target, dt: float, delta: float):
    """Number of `target` spikes with at least one `model` spike within `+-delta` seconds (on the step grid:
    within `round(delta / dt)` steps). Each target spike counts at most once (Kistler et al. 1997)."""
    w = _window_steps(delta, dt)
    num_steps = model.shape[0]
    csum = jnp.concatenate([jnp.zeros_like(model[:1], jnp.int32), jnp.cumsum(model, 0, dtype=jnp.int32)])
    k = jnp.arange(num_steps)
    near = csum[jnp.minimum(k + w + 1, num_steps)] - csum[jnp.maximum(k - w, 0)]
    return jnp.sum(target & (near > 0), axis=0)


def gamma_factor(model, target, dt: float, delta: float):
    """The coincidence factor of Jolivet et al. (2008), with the model's rate as the chance rate.

    `Gamma = (N_coinc - 2 nu delta N_data) / (0.5 (N_data + N_model) (1 - 2 nu delta))`, `nu` the model's
    firing rate (`N_model / (T dt)`), `N_coinc` from [`jaxiaf.metrics.coincidences`][]. 1 for identical
    trains, about 0 for independent ones. (brian2modelfitting's `GammaFactor` instead takes `nu` as the
    data rate and reports `1 + 2|r_data - r_model| / r_data - Gamma`.) Two silent trains give 1; a model
    so fast that `2 nu delta >= 1` (no chance correction possible) gives -1.

    **Arguments:** `model`, `target`: (T, ...) bool rasters; `dt`, `delta`: seconds.

    **Returns:** (...) Gamma per column.
    """
    n_model = jnp.sum(model, axis=0)
    n_data = jnp.sum(target, axis=0)
    nu = n_model / (model.shape[0] * dt)
    norm = 1 - 2 * nu * delta
    expected = 2 * nu * delta * n_data
    total = 0.5 * (n_data + n_model)
    gamma = (coincidences(model, target, dt, delta) - expected) / jnp.where(
        total * norm > 0, total * norm, 1.0
    )
    gamma = jnp.where(norm > 0, gamma, -1.0)
    return jnp.where(total == 0, 1.0, gamma)


def van_rossum(model, target, dt: float, tau: float):
    """The van Rossum distance `D = sqrt((dt / tau) * sum_k d[k]^2)`.

    `d[k] = d[k-1] exp(-dt/tau) + m[k] - s[k]` is the exponentially filtered difference of the trains.

    With this normalisation one unmatched spike contributes `D^2` of about 1/2 (exactly
    `(dt/tau) / (1 - exp(-2 dt/tau))`), and a spike shifted by `s` seconds about `1 - exp(-s/tau)`
    (van Rossum 2001; elephant divides by 2 instead). Identical trains give 0.

    **Arguments:** `model`, `target`: (T, ...) rasters (bool or counts); `dt`, `tau`: seconds.

    **Returns:** (...) distance per column.
    """
    decay = jnp.exp(-dt / tau)
    diff = model.astype(jnp.result_type(float)) - target.astype(jnp.result_type(float))

    def body(d, s):
        d = d * decay + s
        return d, d * d

    _, sq = jax.lax.scan(body, jnp.zeros_like(diff[0]), diff)
    return jnp.sqrt((dt / tau) * jnp.sum(sq, axis=0))


def trace_mse(v, target, dt: float, t_start: float = 0.0, weights=None):
    """Mean squared difference of two traces (V^2) over the steps at `k * dt >= t_start`, optionally
    weighted per step by `weights` (T,)."""
    keep = (jnp.arange(v.shape[0]) * dt >= t_start).astype(v.dtype)
    if weights is not None:
        keep = keep * jnp.asarray(weights, v.dtype)
    keep = keep.reshape((-1,) + (1,) * (v.ndim - 1))
    return jnp.sum(keep * (v - target) ** 2, axis=0) / jnp.sum(keep)


def spike_count_error(model, target):
    """`|N_model - N_data| / max(N_data, 1)`: the relative error of the spike count."""
    n_model = jnp.sum(model, axis=0)
    n_data = jnp.sum(target, axis=0)
    return jnp.abs(n_model - n_data) / jnp.maximum(n_data, 1)


class Metric(eqx.Module):
    """A loss for [`jaxiaf.fit`][]: `loss(spikes, v, target_spikes, target_v, dt)` -> per-column loss
    (lower is better). `needs` is `"spikes"` or `"v"`: the target it compares against."""

    needs: ClassVar[str] = "spikes"


class GammaFactor(Metric):
    """Loss `1 - Gamma` with coincidence window `delta` (s); see [`jaxiaf.metrics.gamma_factor`][]."""

    delta: float = eqx.field(static=True, default=2e-3)

    def loss(self, spikes, v, target_spikes, target_v, dt):
        return 1 - gamma_factor(spikes, target_spikes, dt, self.delta)


class VanRossum(Metric):
    """Loss: the van Rossum distance with time constant `tau` (s); see [`jaxiaf.metrics.van_rossum`][]."""

    tau: float = eqx.field(static=True, default=2e-3)

    def loss(self, spikes, v, target_spikes, target_v, dt):
        return van_rossum(spikes, target_spikes, dt, self.tau)


class SpikeCount(Metric):
    """Loss: the relative spike-count error; see [`jaxiaf.metrics.spike_count_error`][]."""

    def loss(self, spikes, v, target_spikes, target_v, dt):
        return spike_count_error(spikes, target_spikes)


class TraceMSE(Metric):
    """Loss: the mean squared voltage error (V^2) from `t_start` (s), with optional per-step `weights`."""

    t_start: float = eqx.field(static=True, default=0.0)
    weights: jax.Array | None = None
    needs: ClassVar[str] = "v"

    def loss(self, spikes, v, target_spikes, target_v, dt):
        return trace_mse(v, target_v, dt, self.t_start, self.weights)
