"""Spiking input and recurrent connections, exactly as Brian2's `Synapses(on_pre=...)`.

- [`Synapses`][jaxiaf.synapses.Synapses]: dense weights (and whole-step delays) from `N_src` sources to a
  layer's `N` neurons, with `on_pre` statements `x += w` / `x -= w` on the layer's state variables; a
  layer takes several groups of them (e.g. excitatory onto `ge`, inhibitory onto `gi`).
- [`Events`][jaxiaf.synapses.Events]: an input raster, the input and recurrent synapses and the spikes in
  transit, for [`jaxiaf.evolve`][]`(..., events=...)`; [`empty_pending`][jaxiaf.synapses.empty_pending]
  gives the spikes in transit of a fresh layer.
- [`Poisson`][jaxiaf.synapses.Poisson]: input spikes drawn step by step as Brian2's `PoissonGroup`.
- [`run`][jaxiaf.synapses.run]: a layer ([`jaxiaf.FFIAF`][], default or own equations) driven by them.
- [`sweep`][jaxiaf.synapses.sweep]: B parameter sets of such a layer (neuron parameters, per-set
  weights or a per-set scale of shared weights, per-set Poisson rates and keys) in one compiled call.
- [`fit`][jaxiaf.synapses.fit]: the neuron parameters of such a layer and the scale of each group of its
  synapses fitted to spike trains or traces, as [`jaxiaf.fit`][] fits a layer driven by currents (its
  result's module a [`SynapticLayer`][jaxiaf.synapses.SynapticLayer]: the layer with its synapses).
- [`Network`][jaxiaf.synapses.Network]: a layer with its synapses and spikes in transit, as
  [`jaxiaf.load`][] and [`jaxiaf.from_nir`][] return what `jaxiaf.save(layer, path, feedforward=...,
  recurrent=..., pending=...)` and `jaxiaf.to_nir(layer, feedforward=..., recurrent=...)` wrote.

The semantics, step by step, are Brian2's (state update, threshold, the events due this step, reset; see
`docs/guides/synapses.md`).
"""

from ._core.poisson import Poisson as Poisson
from ._core.synapses import Events as Events
from ._core.synapses import Synapses as Synapses
from ._core.synapses import empty_pending as empty_pending
from ._fit.synaptic import SynapticLayer as SynapticLayer
from ._fit.synaptic import fit as fit
from ._spiking import Network as Network
from ._spiking import run as run
from ._sweep.synaptic import sweep as sweep
