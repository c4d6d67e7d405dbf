"""A functional layer with its synapses and the spikes in transit, as [`jaxiaf.save`][] and
[`jaxiaf.to_nir`][] keep them (`save(layer, path, feedforward=..., recurrent=..., pending=...)`).

**In a file** (the header's class `"Network"`): the layer's own record under the header's `layer` and its
arrays prefixed `layer.`; the header's `synapses` lists each group, `{"pathway": "feedforward" or
"recurrent", "on_pre", "max_delay", "max_spikes", "single"}` (`single`: the pathway was one `Synapses`,
not a tuple), in order, feedforward first; group g's arrays are `synapses.g.weights`, `.delays`,
`.targets` (the connected pairs, absent where every pair is) and `.scale` (absent without one), and the
spikes in transit `pending.feedforward.g` and `pending.recurrent.g` (the histories of
[`jaxiaf.synapses.empty_pending`][]'s structure).
"""

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .._core.page import declared
from .._core.synapses import Events, Synapses, check_events, empty_pending, groups
from .._layer import FFIAF
from .._spiking import Network

PATHWAYS = ("feedforward", "recurrent")


def network(layer, feedforward, recurrent, pending) -> Network:
    """The checked [`Network`][] of `save`'s arguments: `layer` an `FFIAF` (`TypeError` otherwise; a batched
    one is refused where its record is made), synapses that fit it
    (`ValueError` naming the field, as `run` would), `pending` None (a fresh layer: none in transit) or of
    [`jaxiaf.synapses.empty_pending`][]'s structure."""
    if not isinstance(layer, FFIAF):
        raise TypeError(
            f"`layer`: synapses go with a functional jaxiaf.FFIAF, as jaxiaf.synapses.run takes them; got "
            f"{type(layer).__name__} "
            "(Rockpool's timed synaptic layers keep their own weights: save them without `feedforward` and "
            "`recurrent`)."
        )
    shape = layer.neuron_state.v.shape
    own = bool if layer.surrogate is None else layer.neuron_state.v.dtype
    if pending is None:
        pending = empty_pending(shape, feedforward, recurrent, own)
    ff = groups(feedforward)
    spikes = jnp.zeros((0, ff[0].weights.shape[-2]), bool) if ff else None
    events = Events(spikes, feedforward, recurrent, tuple(pending))
    check_events(events, declared(layer.sim.model).state_names, shape, 0, own)
    return Network(layer, feedforward, recurrent, tuple(pending))


def record(net: Network) -> tuple[list, dict]:
    """`(groups, arrays)` of the synapses and spikes in transit of `net`, as in this module's docstring."""
    entries, arrays = [], {}
    for pathway, histories in zip(PATHWAYS, net.pending, strict=True):
        given = getattr(net, pathway)
        for g, (syn, history) in enumerate(zip(groups(given), histories, strict=True)):
            index = len(entries)
            entries.append(
                {
                    "pathway": pathway,
                    "on_pre": on_pre_text(syn),
                    "max_delay": syn.max_delay,
                    "max_spikes": syn.max_spikes,
                    "single": isinstance(given, Synapses),
                }
            )
            values = {
                "weights": syn.weights,
                "delays": syn.delays,
                "targets": syn.targets,
                "scale": syn.scale,
            }
            arrays.update(
                {f"synapses.{index}.{k}": np.asarray(v) for k, v in values.items() if v is not None}
            )
            arrays[f"pending.{pathway}.{g}"] = np.asarray(history)
    return entries, arrays


def from_record(layer: FFIAF, entries: list, arrays: dict) -> Network:
    """The inverse of [`record`][]: every group equal to the saved one leaf for leaf; `KeyError`,
    `TypeError` or `ValueError` for missing or bad entries."""
    built = {p: [] for p in PATHWAYS}
    pending = {p: [] for p in PATHWAYS}
    single = {p: False for p in PATHWAYS}
    for index, entry in enumerate(entries):
        pathway = entry["pathway"]
        if pathway not in PATHWAYS:
            raise ValueError(f"unknown synapse pathway {pathway!r}")
        prefix = f"synapses.{index}."
        values = {k: arrays[prefix + k] for k in ("weights", "delays")}  # KeyError naming a missing one
        optional = {k: arrays.get(prefix + k) for k in ("scale", "targets")}
        syn = synapses({**values, **optional}, entry)
        pending[pathway].append(jnp.asarray(arrays[f"pending.{pathway}.{len(built[pathway])}"]))
        built[pathway].append(syn)
        single[pathway] = bool(entry["single"])
    given = {p: (built[p][0] if single[p] else tuple(built[p])) if built[p] else None for p in PATHWAYS}
    return network(
        layer, given["feedforward"], given["recurrent"], tuple(tuple(pending[p]) for p in PATHWAYS)
    )


def synapses(values: dict, entry: dict) -> Synapses:
    """A `Synapses` of `values` (`weights`, `delays`, optional `scale` and `targets`) and `entry`
    (`on_pre`, `max_delay`, `max_spikes`); with `targets` in `values` (saved connected pairs, None for
    every pair), those pairs as they are, else the pairs of non-zero weight."""
    syn = Synapses(
        values["weights"],
        jnp.asarray(values["delays"]),
        entry["on_pre"],
        max_delay=int(entry["max_delay"]),
        max_spikes=None if entry.get("max_spikes") is None else int(entry["max_spikes"]),
        scale=values.get("scale"),
    )
    if "targets" not in values:
        return syn
    targets = None if values["targets"] is None else jnp.asarray(values["targets"], jnp.int32)
    return eqx.tree_at(lambda s: s.targets, syn, targets, is_leaf=lambda x: x is None)


def on_pre_text(syn: Synapses) -> str:
    """The Brian2 statements of `syn.on_pre`, e.g. `"v += w; ge -= w"`."""
    return "; ".join(f"{target} {sign}= w" for target, sign in syn.on_pre)
