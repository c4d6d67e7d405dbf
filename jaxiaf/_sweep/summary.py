"""`summarize`: one layer call reduced inside the scan to spike counts, rates or first spike times."""

import equinox as eqx
import jax.numpy as jnp

from .._core import checks as _checks
from .._core import convert as _convert
from .._core.batching import layer_call
from .._layer import FFIAF
from .sweep import _functional, _reducer

SUMMARIES = ("counts", "rates", "first_spike_times")


def summarize(module: FFIAF, x, outputs: tuple = ("counts",)) -> dict:
    """Evolve `module` over `x` and return per-neuron summaries computed inside the scan, never the
    (T, N) raster: what `module(x)[0].sum(axis=0)` computes, without storing the spikes.

    Under `jax.vmap` (over modules, or over parameter values given to `set_attributes`), the batch is one
    (B, N) state in the scan's carry, as in [`jaxiaf.sweep`][]: the fast way to batch a layer by hand.

    **Arguments:**

    - `module`: a [`jaxiaf.FFIAF`][] (or [`jaxiaf.FFIAFBrian`][], whose `module` is used).
    - `x`: (T, N_in) input (A), held over each step, as for `module(x)`.
    - `outputs`: a tuple of any of `"counts"` ((N,) int32 spike counts), `"rates"` ((N,) firing rates,
      Hz: `counts / (T * dt)`), `"first_spike_times"` ((N,) time of each neuron's first spike, s, mid-bin
      `(k + 0.5) * dt` from the start of the call; `inf` if it never fired).

    **Returns:** `{name: (N,) array}` for each name in `outputs`; the module is not advanced.

    **Raises:** `ValueError` for an unknown output, a wrong shape of `x`, a non-finite `x` or parameter
    (`EquinoxRuntimeError` under `jax.jit`/`jax.vmap`), or a divergent layer (non-finite `v`); `TypeError`
    for a module of another type or a non-numeric `x`.
    """
    module = _functional(module)
    if isinstance(outputs, str) or not isinstance(outputs, tuple) or not set(outputs) <= set(SUMMARIES):
        raise ValueError(f"`outputs` must be a tuple of names from {list(SUMMARIES)}; got {outputs!r}.")
    if not outputs:
        raise ValueError(f"`outputs` must name at least one of {list(SUMMARIES)}.")
    if module.params.weights.ndim != 2:
        raise ValueError(
            f"This module carries batch axes (weights of shape {module.params.weights.shape}): call "
            "`summarize` under `jax.vmap` as well."
        )
    x = _convert.input_array("x", x)
    if x.ndim != 2 or x.shape[1] != module.size_in:
        raise ValueError(f"`x` must have shape (T, N_in={module.size_in}); got shape {x.shape}.")
    if _checks.is_concrete(x):
        _checks.check_input_now(x)
    return _summarize(module, x, tuple(sorted(set(outputs))))


@eqx.filter_jit
def _summarize(module: FFIAF, x, outputs: tuple) -> dict:
    state = module.neuron_state
    state = eqx.tree_at(lambda s: s.v, state, _checks.tie_input_check(state.v, x, "x"))
    options = dict(record=False, unroll=1, surrogate=None, checkpoint_every=None)
    options["reducer"] = _reducer(outputs, None)
    (acc, _), _, _ = layer_call(module.params, module.sim, state, x, **options)
    dt = jnp.broadcast_to(module.sim.dt, acc[next(iter(acc))].shape)
    out = {}
    if "counts" in outputs:
        out["counts"] = acc["counts"]
    if "rates" in outputs:
        out["rates"] = acc["counts"] / (x.shape[0] * dt)
    if "first_spike_times" in outputs:
        out["first_spike_times"] = jnp.where(acc["first"] >= 0, (acc["first"] + 0.5) * dt, jnp.inf)
    return out
