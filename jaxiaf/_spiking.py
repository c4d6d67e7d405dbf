"""`jaxiaf.synapses.run`: a layer driven by spikes through synapses, over the core's `evolve`; `Network`: its
arguments, as a file or a NIR graph gives them back."""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from ._core.poisson import Poisson
from ._core.scan import evolve
from ._core.synapses import Events, Synapses, empty_pending
from ._layer import FFIAF


class Network(NamedTuple):
    """What [`jaxiaf.load`][] returns for a file that [`jaxiaf.save`][] wrote with synapses (and
    [`jaxiaf.from_nir`][] for such a graph): the fields are [`jaxiaf.synapses.run`][]'s arguments, so
    `run(net.layer, spikes, feedforward=net.feedforward, recurrent=net.recurrent, pending=net.pending)`
    continues where the saved network stopped.

    **Fields:** `layer` ([`jaxiaf.FFIAF`][]); `feedforward`, `recurrent` (a
    [`jaxiaf.synapses.Synapses`][], a tuple of them, or None, as given to `save`); `pending` (the spikes in
    transit, as `run` returns them).
    """

    layer: FFIAF
    feedforward: "Synapses | tuple | None"
    recurrent: "Synapses | tuple | None"
    pending: tuple


def run(layer, spikes=None, *, feedforward=None, recurrent=None, pending=None, x=None, record: bool = False):
    """Evolve `layer` over T steps driven by spikes.

    **Arguments:**

    - `layer`: a [`jaxiaf.FFIAF`][] (its state, parameters and equations; its own `weights` carry `x`).
    - `spikes`: (T, N_in) bool input raster, or a [`Poisson`][jaxiaf.synapses.Poisson] source of T
      steps, with `feedforward`; None without input synapses.
    - `feedforward`: [`Synapses`][jaxiaf.synapses.Synapses] from the N_in inputs, a tuple of them (acting
      in that order), or None.
    - `recurrent`: [`Synapses`][jaxiaf.synapses.Synapses] (N, N) from the layer to itself, a tuple of
      them (acting after the input groups, in that order), or None.
    - `pending`: the spikes in transit returned by the previous call (default: none, a fresh layer).
    - `x`: (T, layer's N_in) input currents through the layer's own weights (A), or None (no current; T is
      then the raster's length).
    - `record`: if True, also return the per-step state variables and spikes.

    **Returns:** `(raster, new_state, record, pending)`: the (T, N) spikes, the [`jaxiaf.State`][] after the
    last step (`layer.set_attributes(new_state)` advances the layer), `{name: (T, N), "spikes": (T, N)}`
    or `{}`, and the spikes in transit for the next call.
    """
    if spikes is None and x is None:
        raise ValueError("`spikes` or `x` must be given (they set the number of steps).")
    n = layer.size_out
    if x is not None:
        num_steps = len(x)
    else:
        num_steps = spikes.num_steps if isinstance(spikes, Poisson) else len(spikes)
    if x is None:
        currents = jnp.zeros((num_steps, n), layer.params.weights.dtype)
    else:
        x = jnp.asarray(x, layer.params.weights.dtype)
        currents = jnp.matmul(x, layer.params.weights, precision=jax.lax.Precision.HIGHEST)
    state = layer.neuron_state
    if pending is None:
        own = bool if layer.surrogate is None else state.v.dtype
        pending = empty_pending(state.v.shape, feedforward, recurrent, own)
    if spikes is not None and not isinstance(spikes, Poisson):
        spikes = jnp.asarray(spikes, bool)
    events = Events(spikes, feedforward, recurrent, tuple(pending))
    return evolve(
        layer.params, layer.sim, state, currents, record=record, surrogate=layer.surrogate, events=events
    )
