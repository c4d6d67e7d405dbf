"""`jaxiaf.synapses.sweep`: many parameter sets of a layer driven by spikes, in one compiled call."""

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._core.page import declared
from .._core.poisson import Poisson
from .._core.pytrees import cast_floating
from .._core.scan import evolve, step_constants
from .._core.synapses import Events, Synapses, check_events, empty_pending, groups
from . import checks as _sweep_checks
from .sweep import SweepResult, _batched_inputs, _batched_mask, _checked, _functional, _reducer, _result


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
    chunk_size: int | None = 1,
) -> SweepResult:
    """Evolve B parameter sets of a layer driven by spikes through synapses in one compiled call.

    The sets run in chunks of `chunk_size` (default: one set at a time), one after another inside the
    call; a chunk is a leading axis of the scan's carry, as in [`jaxiaf.sweep`][]: one (C, N) state, and
    the synaptic events of its sets, in each step. Row b equals [`run`][jaxiaf.synapses.run] of
    `module.set_attributes(row b of params)` with that set's synapses and input alone (the sets' own
    weights or `scale * weights` and delays, the set's `Poisson` key and rates), bit for bit in float64.

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
      weights (no copy of the matrix per set), and `delays` of shape (B,) or (B, N_src, N) integer steps
      (each set's events act after its own delays; `max_delay` as for `Synapses`).
    - `x`: (T, N_in) input currents through the layer's own weights (A), or None (zero; T is then the
      input's).
    - `outputs`: any of `"counts"`, `"rates"`, `"first_spike_times"`, `"spikes"`, `"v"`.
    - `dtype`: float32 or float64 (default: the layer's); the synapses' weights and scales and the
      Poisson rates are cast to it.
    - `chunk_size`: sets evolved together, C (default 1); the chunks run one after another inside the
      one compiled call (`jax.lax.map`), the last padded with copies of the last set. None: all B
      together. Every size gives the same results (bit for bit). The rule: a step visits the synapses
      of the sources that spiked in rounds, as many as the busiest set of its chunk has spiking sources,
      each round costing the whole chunk, so small chunks waste no rounds; on a CPU, one set at a time
      was the fastest or within noise of it, and all 64 sets together 1.3-1.6x slower, in two runs
      (Brian2's CUBA network with Poisson input: `benchmarks/results/cuba_sweep_1s.md`); one set also
      keeps a chunk's memory smallest.
      With C < B, a `Poisson` source is drawn for a chunk's T steps at once (its
      [`raster`][jaxiaf.synapses.Poisson.raster], T x C x N_in bools; the same spikes).

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
    cast = functools.partial(cast_floating, dtype=dtype)
    if spikes is not None and not isinstance(spikes, Poisson):
        spikes = jnp.asarray(spikes, bool)
    own = bool if module.surrogate is None else dtype
    pending = empty_pending(state.v.shape, feedforward, recurrent, own)
    events = Events(cast(spikes), cast(feedforward), cast(recurrent), pending)
    check_events(events, declared(module.sim.model).state_names, state.v.shape, x.shape[-2], own)
    red = _reducer(tuple(sorted(set(outputs))), None)
    chunk = min(_sweep_checks.chunk_size(chunk_size, batch), batch)
    mask = tuple(jax.tree.leaves(_batched_mask((p, sim, state, x, ()), swept)))
    acc, ys, final = _run((p, sim, state, x), mask, events, red, module.surrogate, chunk)
    dt = jnp.broadcast_to(sim.dt, (batch, module.size_out))
    return _result(params, acc, ys, final, dt, x.shape[-2], tuple(outputs))


@functools.partial(jax.jit, static_argnames=("mask", "reducer", "surrogate", "chunk"))
def _run(layer, mask, events, reducer, surrogate, chunk):
    """`(acc, ys, final)` of every set: `layer` `(params, sim, state, x)` (the leaves that `mask`, one bool
    per leaf, flags carry the batch axis first) and `events`, in chunks of `chunk` sets one after another."""
    batch = layer[2].v.shape[0]
    if chunk == batch:
        return _evolve(*layer, events, reducer, surrogate, poisson_raster=False)
    count = -(-batch // chunk)
    rows = np.minimum(np.arange(count * chunk), batch - 1)  # the last chunk padded with the last set
    layer, events = _along_batch(layer, mask, events, lambda a, axis: jnp.take(a, rows, axis=axis))

    def one(start):
        take = lambda a, axis: jax.lax.dynamic_slice_in_dim(a, start, chunk, axis)
        part, part_events = _along_batch(layer, mask, events, take)
        return _evolve(*part, part_events, reducer, surrogate, poisson_raster=True)

    acc, ys, final = jax.lax.map(one, jnp.arange(count) * chunk)
    step = final.step[0]  # every chunk's
    merge = lambda a: jnp.reshape(a, (count * chunk, *a.shape[2:]))[:batch]
    acc, ys, final = jax.tree.map(merge, (acc, ys, eqx.tree_at(lambda s: s.step, final, None)))
    return acc, ys, eqx.tree_at(lambda s: s.step, final, step, is_leaf=lambda a: a is None)


def _evolve(params, sim, state, x, events, reducer, surrogate, poisson_raster: bool):
    """One batch of sets through the core's `evolve`: `(acc, ys (B, T, ...), final state)`; with
    `poisson_raster`, a `Poisson` input is drawn for all steps at once (its raster, the same spikes)."""
    if poisson_raster and isinstance(events.spikes, Poisson):
        events = eqx.tree_at(lambda e: e.spikes, events, events.spikes.raster())
    currents = jnp.matmul(x, params.weights, precision=jax.lax.Precision.HIGHEST)
    if params.weights.ndim == 3 or x.ndim == 3:
        currents = jnp.moveaxis(currents, 0, 1)
    (acc, ys), final, _, _ = evolve(
        params, sim, state, currents, reducer=reducer, check=False, constants=step_constants(params, sim),
        surrogate=surrogate, events=events,
    )  # fmt: skip
    return acc, jax.tree.map(lambda a: jnp.moveaxis(a, 0, 1), ys), final


def _along_batch(layer, mask, events, take):
    """`(layer, events)` with `take(array, axis)` applied along the batch axis of each leaf that has one: the
    leaves of `layer` that `mask` flags (axis 0), per-set synapse weights, scales and delays and Poisson
    rates and keys (axis 0), a (T, B, N_in) raster and the pending spikes (axis 1)."""
    leaves, tree = jax.tree.flatten(layer)
    layer = jax.tree.unflatten(tree, [take(a, 0) if m else a for a, m in zip(leaves, mask, strict=True)])

    def synapses(g):
        if g.weights.ndim == 3:
            g = eqx.tree_at(lambda s: s.weights, g, take(g.weights, 0))
        if g.scale is not None and g.scale.ndim == 2:
            g = eqx.tree_at(lambda s: s.scale, g, take(g.scale, 0))
        if g.delays.ndim in (1, 3):
            g = eqx.tree_at(lambda s: s.delays, g, take(g.delays, 0))
        return g

    spikes = events.spikes
    if isinstance(spikes, Poisson):
        rates = take(spikes.probability, 0) if spikes.probability.ndim == 2 else spikes.probability
        keys = take(spikes.key, 0) if spikes.key.ndim == 1 else spikes.key
        spikes = eqx.tree_at(lambda p: (p.probability, p.key), spikes, (rates, keys))
    elif spikes is not None and spikes.ndim == 3:
        spikes = take(spikes, 1)
    events = Events(
        spikes,
        tuple(map(synapses, groups(events.feedforward))),
        tuple(map(synapses, groups(events.recurrent))),
        jax.tree.map(lambda a: take(a, 1), events.pending),
    )
    return layer, events


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
        if isinstance(syn, Synapses) and syn.delays.ndim in (1, 3):
            sizes.append(syn.delays.shape[0])
    if isinstance(spikes, Poisson) and spikes.probability.ndim == 2:
        sizes.append(spikes.probability.shape[0])
    elif spikes is not None and not isinstance(spikes, Poisson) and jnp.ndim(spikes) == 3:
        sizes.append(jnp.shape(spikes)[1])
    if not sizes:
        raise ValueError(
            "`params` is empty and no synapse or input has a batch axis: nothing to sweep (give per-set "
            "values in `params`, Synapses(weights (B, N_src, N)), Synapses(scale=(B, 1)) or Synapses(delays "
            "(B,) or (B, N_src, N)), or (B, N_in) rates)."
        )
    return sizes[0]
