"""A functional layer with its [`jaxiaf.synapses.Synapses`][] as a NIR graph, and back.

The layer's own graph (`Input -> Affine -> LIF -> Output`, `jaxiaf._interop.nir`) gains, per input group g,
`spikes -> feedforward_g -> lif` (`spikes` an `Input` of the N_src input channels) and, per recurrent
group g, `lif -> recurrent_g -> lif`, each `feedforward_g` / `recurrent_g` a `Linear`. NIR's LIF,
`tau dv/dt = (v_leak - v) + r I`, jumps `v` by `r * weight / tau` for a spike (a Dirac delta) through a
`Linear`: with `r = 1` the weight is `weight = ±scale * weights.T * tau_mem` (per target row; `-` for
`v -= w`), the jump that `on_pre="v += w"` makes. What NIR cannot express is refused by name: a delay (NIR
edges have none), an `on_pre` onto another variable than `v` (the LIF has no place for it), and a layer's
own equations (no NIR node for them). Each `Linear`'s `metadata["jaxiaf"]` holds its group's exact record
(weights, delays, `on_pre`, scale, bounds), so that [`jaxiaf.from_nir`][] gives back the same `Synapses`.
"""

from typing import TYPE_CHECKING

import numpy as np

from .._core.synapses import Synapses, groups
from . import network as _network

if TYPE_CHECKING:
    import nir

METADATA_VERSION = 1


def check(feedforward, recurrent, for_norse: bool) -> None:
    """`ValueError` naming what NIR cannot express: delays, an `on_pre` onto a variable other than `v`,
    `for_norse` with synapses (Norse reads a `Linear` into a LIF as a current over one step)."""
    if for_norse:
        raise ValueError(
            "`to_nir`: `for_norse` maps a layer of current input only; Norse reads a spike through a Linear "
            "into a LIF as a current over one step, not as the jump of `on_pre`: leave out `feedforward` and "
            "`recurrent`, or `for_norse`."
        )
    for pathway, given in (("feedforward", feedforward), ("recurrent", recurrent)):
        for syn in groups(given):
            others = sorted({t for t, _ in syn.on_pre} - {"v"})
            if others:
                raise ValueError(
                    f"`to_nir`: `{pathway}.on_pre` writes {others}; NIR's LIF node has a place for spikes "
                    "onto `v` only (a jump through a Linear edge): save this network with `jaxiaf.save`."
                )
            if np.any(np.asarray(syn.delays) != 0):
                raise ValueError(
                    f"`to_nir`: `{pathway}` has synaptic delays; NIR edges have no delay: save this network "
                    "with `jaxiaf.save`."
                )


def add_synapses(graph, nir, net: "_network.Network", tau_mem) -> "nir.NIRGraph":
    """`graph` (the layer's own, its neurons the node `lif`) with the synapses of `net` (checked by
    [`check`][]); `tau_mem` (N,): the layer's membrane time constants (s)."""
    nodes, edges = dict(graph.nodes), list(graph.edges)
    tau = np.broadcast_to(np.asarray(tau_mem, float), (net.layer.size_out,))[:, None]
    for pathway in _network.PATHWAYS:
        given = getattr(net, pathway)
        for g, syn in enumerate(groups(given)):
            (_, sign), name = syn.on_pre[0], f"{pathway}_{g}"
            weights = np.asarray(syn.weights)
            scaled = weights if syn.scale is None else np.asarray(syn.scale) * weights
            meta = {
                "format_version": METADATA_VERSION,
                "pathway": pathway,
                "on_pre": _network.on_pre_text(syn),
                "max_delay": syn.max_delay,
                "single": int(isinstance(given, Synapses)),
                "weights": weights,
                "delays": np.asarray(syn.delays).item()
                if np.ndim(syn.delays) == 0
                else np.asarray(syn.delays),
            }
            if syn.max_spikes is not None:
                meta["max_spikes"] = syn.max_spikes
            if syn.scale is not None:
                meta["scale"] = np.asarray(syn.scale).item()
            weight = (1.0 if sign == "+" else -1.0) * scaled.T * tau
            nodes[name] = nir.Linear(weight=np.ascontiguousarray(weight), metadata={"jaxiaf": meta})
            if pathway == "feedforward":
                nodes.setdefault("spikes", nir.Input(input_type=np.array([weights.shape[0]])))
                edges.append(("spikes", name))
            else:
                edges.append(("lif", name))
            edges.append((name, "lif"))
    return nir.NIRGraph(nodes=nodes, edges=edges)


def split(graph, nir):
    """`(layer_graph, records)`: the layer's own graph and its groups' records in order (feedforward
    first), from the metadata of a graph written by [`add_synapses`][], or, for a foreign graph, one per
    `Linear` (or `Affine` of zero bias) on an edge from its one LIF back to it (`foreign`); `records` empty
    for a graph without either."""
    records = {
        k: node.metadata["jaxiaf"]
        for k, node in graph.nodes.items()
        if isinstance(node, nir.Linear) and "pathway" in node.metadata.get("jaxiaf", {})
    }
    for meta in records.values():
        if meta.get("format_version") != METADATA_VERSION:
            raise ValueError(f"from_nir: jaxiaf metadata of format version {meta.get('format_version')!r}.")
    order = sorted(records, key=lambda k: (_text(records[k]["pathway"]), int(k.rsplit("_", 1)[1])))
    if not records:
        records = foreign(graph, nir)
        order = list(records)
    if not records:
        return graph, []
    spikes = {s for s, d in graph.edges if d in records and isinstance(graph.nodes[s], nir.Input)}
    keep = {k: v for k, v in graph.nodes.items() if k not in records and k not in spikes}
    edges = [(s, d) for s, d in graph.edges if s in keep and d in keep]
    return nir.NIRGraph(nodes=keep, edges=edges), [records[k] for k in order]


def foreign(graph, nir) -> dict:
    """`{node name: record}` of the recurrent groups of a graph without jaxiaf metadata: each `Linear` or
    `Affine` node on the edges `lif -> node -> lif` of the graph's one LIF, read as `on_pre="v += w"` with
    `weights = weight.T * r / tau` (the jump of `v` per spike), no delay. `ValueError` for an `Affine` of
    non-zero bias there (a constant current, not spikes)."""
    lifs = [k for k, node in graph.nodes.items() if isinstance(node, nir.LIF)]
    if len(lifs) != 1:
        return {}
    lif, edges = graph.nodes[lifs[0]], {tuple(e) for e in graph.edges}
    loops = [
        k
        for k, node in graph.nodes.items()
        if isinstance(node, (nir.Linear, nir.Affine)) and {(lifs[0], k), (k, lifs[0])} <= edges
    ]
    records = {}
    for k in loops:
        node = graph.nodes[k]
        if isinstance(node, nir.Affine) and np.any(np.asarray(node.bias) != 0):
            raise ValueError(
                f"from_nir: the Affine node {k!r} on a recurrent edge of the LIF has a bias, a constant "
                "current that is not spikes; give a zero bias or a Linear node."
            )
        jump = np.asarray(lif.r, float) / np.asarray(lif.tau, float)
        weights = np.asarray(node.weight, float).T * np.broadcast_to(jump, np.shape(node.weight)[:1])
        records[k] = {"pathway": "recurrent", "on_pre": "v += w", "max_delay": 0, "weights": weights}
        records[k].update({"delays": 0, "single": int(len(loops) == 1)})
    return records


def attach(layer, records: list) -> "_network.Network":
    """The [`jaxiaf._interop.network.Network`][] of `layer` and the groups of `records` (metadata of
    [`add_synapses`][]), with no spikes in transit (NIR edges have no delay)."""
    built = {p: [] for p in _network.PATHWAYS}
    single = {}
    for meta in records:
        pathway = _text(meta["pathway"])
        entry = {
            "on_pre": _text(meta["on_pre"]),
            "max_delay": meta["max_delay"],
            "max_spikes": meta.get("max_spikes"),
        }
        values = {k: np.asarray(meta[k]) for k in ("weights", "delays", "scale") if k in meta}
        built[pathway].append(_network.synapses(values, entry))
        single[pathway] = bool(meta["single"])
    given = {p: (b[0] if single[p] else tuple(b)) if b else None for p, b in built.items()}
    return _network.network(layer, given["feedforward"], given["recurrent"], None)


def _text(value) -> str:
    """A string read back from a NIR file (HDF5 may give bytes)."""
    return value.decode() if isinstance(value, bytes) else str(value)
