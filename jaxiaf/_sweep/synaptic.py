"""`jaxiaf.synapses.sweep`: many parameter sets of a layer driven by spikes, in one compiled call."""

import functools

import jax
import jax.numpy as jnp

from .._core.poisson import Poisson
from .._core.scan import evolve, step_constants
from .._core.synapses import Events, Synapses, empty_pending, groups
from .sweep import SweepResult, _batched_inputs, _checked, _functional, _reducer, _result


def sweep(
    module,
    params: dict,
    spikes=None,
    *,
    feedforward=None,
    recurrent=None,
    x=None,
    outputs=("counts",),
    dtype=None,
) -> SweepResult:
    """Evolve B parameter sets of a layer driven by spikes through synapses in one compiled loop.

    As [`jaxiaf.sweep`][], the batch is a leading axis of the scan's carry: one (B, N) state, and the
    synaptic events of every set, in each step. Row b equals [`run`][jaxiaf.synapses.run] of
    `module.set_attributes(row b of params)` with that set's synapses and input alone (the sets' own
    weights or `scale * weights`, the set's `Poisson` key and rates), bit for bit in float64.

    **Arguments:**

    - `module`: the [`jaxiaf.FFIAF`][] (or [`jaxiaf.FFIAFBrian`][]) whose other parameters and state
      every set shares.
    - `params`: `{name: (B, ...) values}` as for [`jaxiaf.sweep`][]: the layer's parameters (the default
      ones or its own equations' declared ones), `noise_std`, `refractory`, `dt`, `weights` of its current
      input, noise `seed` or `key`. Use `{}` to sweep only the synapses or the input; B is then read from
      them.
    - `spikes`: the input: a (T, N_in) bool raster shared by all sets, a (T, B, N_in) raster, or a
      [`Poisson`][jaxiaf.synapses.Poisson] source (rates (N_in,) or (B, N_in), keys () or (B,): each
      set's own draws); with `feedforward`. None without input synapses.
    - `feedforward`, `recurrent`: [`Synapses`][jaxiaf.synapses.Synapses] (or tuples), as for `run`; per
      set values as `weights` of shape (B, N_src, N), or `scale` of shape (B, 1) over shared (N_src, N)
      weights (no copy of the matrix per set).
    - `x`: (T, N_in) input currents through the layer's own weights (A), or None (zero; T is then the
      input's).
    - `outputs`: any of `"counts"`, `"rates"`, `"first_spike_times"`, `"spikes"`, `"v"`.
    - `dtype`: float32 or float64 (default: the layer's); the synapses' weights and scales and the
      Poisson rates are cast to it.

    **Returns:** a [`jaxiaf.SweepResult`][] (its `final_state` the batched state after T steps).

    **Raises:** as [`jaxiaf.sweep`][] for `params`, `x` and `outputs`; `ValueError` naming the field
    for synapses or input whose batch axis is not B, or that do not fit the layer (see
    [`run`][jaxiaf.synapses.run]).
    """
    module = _functional(module)
    if spikes is None and x is None:
        raise ValueError("`spikes` or `x` must be given (they set the number of steps).")
    batch = _batch(params, spikes, feedforward, recurrent)
    if x is None:
        num_steps = spikes.num_steps if isinstance(spikes, Poisson) else len(spikes)
        x = jnp.zeros((num_steps, module.size_in), module.params.weights.dtype)
    swept = dict(params) if params else {"dt": jnp.full((batch,), module.sim.dt)}  # B copies of its own dt
    module, dtype, _, x = _checked(module, swept, x, outputs, None, dtype, False)
    p, sim, state = _batched_inputs(module, swept, batch, dtype, False)
    cast = lambda tree: jax.tree.map(
        lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a, tree
    )
    if spikes is not None and not isinstance(spikes, Poisson):
        spikes = jnp.asarray(spikes, bool)
    own = bool if module.surrogate is None else dtype
    pending = empty_pending(state.v.shape, feedforward, recurrent, own)
    events = Events(cast(spikes), cast(feedforward), cast(recurrent), pending)
    red = _reducer(tuple(sorted(set(outputs))), None)
    acc, ys, final = _run(p, sim, state, x, events, red, module.surrogate)
    dt = jnp.broadcast_to(sim.dt, (batch, module.size_out))
    return _result(params, acc, ys, final, dt, x.shape[0], tuple(outputs))


@functools.partial(jax.jit, static_argnames=("reducer", "surrogate"))
def _run(params, sim, state, x, events, reducer, surrogate):
    currents = jnp.matmul(x, params.weights, precision=jax.lax.Precision.HIGHEST)
    if params.weights.ndim == 3:
        currents = jnp.moveaxis(currents, 0, 1)
    (acc, ys), final, _, _ = evolve(
        params, sim, state, currents, reducer=reducer, check=False, constants=step_constants(params, sim),
        surrogate=surrogate, events=events,
    )  # fmt: skip
    return acc, jax.tree.map(lambda a: jnp.moveaxis(a, 0, 1), ys), final


def _batch(params: dict, spikes, feedforward, recurrent) -> int:
    """B: the swept values' leading axis, else that of the synapses' per-set values or of the input;
    `ValueError` if none has one."""
    if not isinstance(params, dict):
        raise TypeError(f"`params` must be a dict {{name: (B, ...) values}}; got {type(params).__name__}.")
    if params:
        first = next(iter(params.values()))
        return int(jnp.shape(first)[0]) if jnp.ndim(first) else 0
    sizes = []
    for syn in groups(feedforward) + groups(recurrent):
        if isinstance(syn, Synapses) and syn.weights.ndim == 3:
            sizes.append(syn.weights.shape[0])
        if isinstance(syn, Synapses) and syn.scale is not None and syn.scale.ndim == 2:
            sizes.append(syn.scale.shape[0])
    if isinstance(spikes, Poisson) and spikes.probability.ndim == 2:
        sizes.append(spikes.probability.shape[0])
    elif spikes is not None and not isinstance(spikes, Poisson) and jnp.ndim(spikes) == 3:
        sizes.append(jnp.shape(spikes)[1])
    if not sizes:
        raise ValueError(
            "`params` is empty and no synapse or input has a batch axis: nothing to sweep (give per-set "
            "values in `params`, Synapses(weights (B, N_src, N)) or Synapses(scale=(B, 1)), or (B, N_in) "
            "rates)."
        )
    return sizes[0]
