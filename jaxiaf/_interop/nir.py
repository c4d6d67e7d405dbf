"""Exchanging layers through NIR, the Neuromorphic Intermediate Representation (`nir` 1.0.8).

A layer is the NIR graph `Input -> Affine(weight = weights.T, bias) -> LIF(tau = tau_mem, r = 1,
v_leak = v_rest, v_threshold = v_thresh, v_reset = v_reset) -> Output`, in SI units: NIR's LIF,
`tau dv/dt = (v_leak - v) + r I` with `I = W x + b`, is the layer's equation with `r_m = 1` ohm. What NIR
cannot hold (the time step, the integrator, the refractory period, the noise, the name and the state with
its noise key) goes into the LIF node's `metadata["jaxiaf"]`, which [`jaxiaf.from_nir`][] reads back. A
layer's [`jaxiaf.synapses.Synapses`][] add `Linear` edges into and back onto the LIF
(`jaxiaf._interop.nir_network`).
"""

import json
import warnings
from typing import TYPE_CHECKING

import numpy as np

from .._equations import names as _named
from .._layer import FFIAF
from .._rockpool.synaptic import FFIAFSpkInBrian, RecIAFBrian, RecIAFSpkInBrian
from . import network as _network
from . import nir_network as _nir_network
from .files import _layer_from_record, _layer_record, functional, state_from_record, state_record

if TYPE_CHECKING:
    import nir

    from .._rockpool.timed import FFIAFBrian

METADATA_VERSION = 1
SUPPORTED = (
    "Input -> Affine or Linear -> LIF -> Output (a CubaLIF only with tau_syn = 0, a pass-through synapse)"
)
LINEAR = {"Linear", "Affine"}
SYNAPTIC = (
    "Input -> Linear -> CubaLIF -> Output, and optionally CubaLIF -> Linear -> CubaLIF (recurrent), for a "
    "CubaLIF with tau_syn > 0"
)


def _nir():
    try:
        import nir
    except ImportError as err:
        raise ImportError(
            "jaxiaf.to_nir and jaxiaf.from_nir need the `nir` package: pip install 'jaxiaf[interop]'."
        ) from err
    return nir


def _step_fraction(module: FFIAF) -> np.ndarray:
    """(N,) the fraction `c` of the way from `v` to its target that one step of the layer covers:
    `1 - v` after one step from `v = 1` towards 0 (no input, bias, noise or refractoriness)."""
    probe = module.set_attributes(
        {"bias": 0.0, "v_rest": 0.0, "v_reset": 0.0, "v_thresh": 2.0, "noise_std": 0.0, "refractory": 0.0}
    ).reset_state()
    probe = probe.set_attributes({"v": np.ones(module.size_out)})
    _, _, record = probe(np.zeros((1, module.size_in)), record=True)
    return 1.0 - np.asarray(record["v"][0], float)


def to_nir(
    layer: "FFIAF | FFIAFBrian", *, for_norse: bool = False, feedforward=None, recurrent=None
) -> "nir.NIRGraph":
    """The NIR graph of a layer: `Input -> Affine -> LIF -> Output` (for Rockpool's synaptic layers, a
    `CubaLIF` graph: see `_synaptic_to_nir`; with `feedforward` or `recurrent` synapses, the same graph with
    `spikes -> Linear -> lif` and `lif -> Linear -> lif` edges: see `jaxiaf._interop.nir_network`).

    **Arguments:**

    - `layer`: an [`jaxiaf.FFIAF`][], [`jaxiaf.FFIAFBrian`][], [`jaxiaf.FFIAFSpkInBrian`][] or
      [`jaxiaf.RecIAFSpkInBrian`][].
    - `feedforward`, `recurrent`: an `FFIAF`'s [`jaxiaf.synapses.Synapses`][] (one, a tuple, or None), as
      [`jaxiaf.synapses.run`][] takes them: each group a `Linear` node (`feedforward_g`, `recurrent_g`)
      whose weight is the jump of `v` per spike (`weights.T * tau_mem`), with its exact record in its
      metadata. Without delays, the network has no spikes in transit between steps.
    - `for_norse`: if True, a graph that Norse's `from_nir(graph, dt=layer.dt)` simulates step for step as
      this layer does (up to float32 rounding): Norse integrates `v += dt/tau * (I + v_leak - v)` (forward
      Euler) and resets to 0 whatever `v_reset` says, so every voltage is shifted by `-v_reset` and `tau`
      is `dt / c`, where `c` is the fraction of the way to `v_leak + I` that this layer's integrator covers
      in one step (`1 - exp(-dt/tau_mem)` for `exact`, `dt/tau_mem` for `euler`). Such a graph carries no
      jaxiaf metadata: it is for Norse, not for a round trip.

    **Returns:** a `nir.NIRGraph` with nodes `input`, `affine`, `lif`, `output`; arrays in the layer's
    dtype. Unless `for_norse`, `lif.metadata["jaxiaf"]` holds `format_version` (1), `dt`,
    `integrator_name`, `refractory`, `noise_std`, `name`, the state `v`, `since_spike`, `step`,
    `key_data` and `key_impl`.

    **Raises:** `ValueError` for a layer with its own equations (`neuron_eq`), a [`jaxiaf.RecIAFBrian`][]
    or a [`jaxiaf.RecIAFSpkInBrian`][] whose `tau_syn_inp` and `tau_syn_rec` differ; with synapses, for
    what NIR cannot express (a delay, an `on_pre` onto a variable other than `v`, `for_norse`), naming it,
    and as [`jaxiaf.synapses.run`][] for synapses that do not fit the layer.

    **Warns:** `UserWarning` when the layer has a non-zero refractory period or noise: other NIR readers
    ignore both (only [`jaxiaf.from_nir`][] restores them, from the metadata).
    """
    nir = _nir()
    if feedforward is not None or recurrent is not None:
        net = _network.network(layer, feedforward, recurrent, None)
        _nir_network.check(feedforward, recurrent, for_norse)
        graph = to_nir(layer)
        return _nir_network.add_synapses(graph, nir, net, layer.params.tau_mem)
    if isinstance(layer, (FFIAFSpkInBrian, RecIAFBrian, RecIAFSpkInBrian)):
        return _synaptic_to_nir(layer, nir)
    module = functional(layer)
    if _named.declared(module.sim.model) is not _named.PAGE:
        raise ValueError(
            "`to_nir`: NIR's LIF node describes the default equations only; a layer with its own "
            "`neuron_eq` has no NIR counterpart (save it with `jaxiaf.save`, which keeps its equations)."
        )
    p = {k: np.array(v) for k, v in module.parameters().items()}  # writable copies (torch warns otherwise)
    sim = module.simulation_parameters()
    dt = np.asarray(sim["dt"])
    for name in ("refractory", "noise_std"):
        if np.any(np.asarray(sim[name]) > 0):
            warnings.warn(
                f"The layer's `{name}` is not zero: NIR has no field for it, so other NIR readers (Norse, "
                "snnTorch, ...) ignore it; only jaxiaf.from_nir restores it (from the metadata).",
                UserWarning,
                stacklevel=2,
            )
    tau, v_leak, v_threshold, v_reset = p["tau_mem"], p["v_rest"], p["v_thresh"], p["v_reset"]
    metadata = {}
    if for_norse:
        tau = dt / _step_fraction(module)
        v_leak, v_threshold, v_reset = v_leak - v_reset, v_threshold - v_reset, np.zeros_like(v_reset)
    else:
        state, key_impl = state_record(module)
        values = {"dt": dt, "refractory": sim["refractory"], "noise_std": sim["noise_std"], **state}
        metadata["jaxiaf"] = {
            "format_version": METADATA_VERSION,
            "integrator_name": sim["integrator_name"],
            "name": module.name,
            "key_impl": key_impl,
            # nir.write compresses arrays, which HDF5 refuses for 0-d ones: those go as Python numbers
            **{k: np.asarray(v).item() if np.ndim(v) == 0 else np.asarray(v) for k, v in values.items()},
        }
    num_in, num_out = module.shape
    nodes = {
        "input": nir.Input(input_type=np.array([num_in])),
        "affine": nir.Affine(weight=np.ascontiguousarray(p["weights"].T), bias=p["bias"]),
        "lif": nir.LIF(
            tau=tau,
            r=np.ones_like(tau),
            v_leak=v_leak,
            v_threshold=v_threshold,
            v_reset=v_reset,
            metadata=metadata,
        ),
        "output": nir.Output(output_type=np.array([num_out])),
    }
    return nir.NIRGraph(nodes=nodes, edges=[("input", "affine"), ("affine", "lif"), ("lif", "output")])


def _chain(graph, nir) -> list:
    """The nodes between the graph's one Input and its one Output, in order; `ValueError` otherwise."""
    inputs = [k for k, node in graph.nodes.items() if isinstance(node, nir.Input)]
    following = {}
    for src, dst in graph.edges:
        following.setdefault(src, []).append(dst)
    visited, current = [], inputs[0] if len(inputs) == 1 else None
    while current is not None and not isinstance(graph.nodes[current], nir.Output):
        visited.append(current)
        nxt = following.get(current, [])
        current = nxt[0] if len(nxt) == 1 and nxt[0] not in visited else None
    chain = [graph.nodes[k] for k in visited[1:]]
    if current is None or len(graph.nodes) != len(visited) + 1 or len(graph.edges) != len(visited):
        kinds = sorted(f"{name} ({type(node).__name__})" for name, node in graph.nodes.items())
        path = " -> ".join(type(node).__name__ for node in chain) or "nothing"
        raise ValueError(
            f"from_nir supports one chain {SUPPORTED}; this graph is not one chain from a single Input to a "
            f"single Output (nodes: {', '.join(kinds)}; followed from the Input: {path})."
        )
    return chain


def _neuron(node, nir) -> tuple[dict, np.ndarray]:
    """`({tau_mem, v_rest, v_thresh, v_reset}, gain)` of a LIF-like node; `gain` multiplies its input."""
    name = type(node).__name__
    if isinstance(node, nir.LIF):
        tau, gain = node.tau, np.asarray(node.r)
    elif isinstance(node, nir.CubaLIF):
        if np.any(np.asarray(node.tau_syn) != 0):
            raise ValueError(
                "from_nir: a CubaLIF node with tau_syn > 0 filters its input through a synaptic current, "
                "which the default equations of jaxiaf.FFIAF do not have; it needs the equation-driven "
                "layer (jaxiaf.FFIAF(neuron_eq=...) with a synaptic current). Only tau_syn = 0 (the synapse "
                "a pass-through) is imported."
            )
        tau, gain = node.tau_mem, np.asarray(node.r) * np.asarray(node.w_in)
    elif isinstance(node, nir.IF):
        raise ValueError(
            "from_nir: an IF node has no leak (dv/dt = r I, an infinite tau), which jaxiaf.FFIAF cannot "
            f"express (`tau_mem` must be finite). Supported: {SUPPORTED}."
        )
    else:
        raise ValueError(f"from_nir: a {name} node cannot be the neurons of a layer. Supported: {SUPPORTED}.")
    values = {"tau_mem": tau, "v_rest": node.v_leak, "v_thresh": node.v_threshold, "v_reset": node.v_reset}
    return {k: np.asarray(v) for k, v in values.items()}, gain


def from_nir(graph: "nir.NIRGraph", dt: float | None = None, **overrides):
    """An [`jaxiaf.FFIAF`][] from a NIR graph `Input -> Affine or Linear -> LIF -> Output`, or one of
    Rockpool's synaptic layers from a graph with a `CubaLIF` of `tau_syn > 0` (see `_synaptic_from_nir`), or,
    from a graph that [`jaxiaf.to_nir`][] wrote with `feedforward` or `recurrent` synapses, the network
    (`Network(layer, feedforward, recurrent, pending)`, no spikes in transit; each group from its `Linear`'s
    metadata, the layer as above; see `jaxiaf._interop.nir_network`); a foreign graph whose LIF feeds itself
    through a `Linear` gives such a network too, with recurrent groups `on_pre="v += w"`.

    The weights are `weight.T`; a LIF's `r` is folded into them and into the bias (`weights = weight.T * r`,
    `bias = b * r`, exact for `r = 1`). A `CubaLIF` with `tau_syn = 0` (the synapse passes its input
    through) is read as a LIF whose input is also scaled by `w_in`. A graph written by
    [`jaxiaf.to_nir`][] brings back, from its metadata, the time step, integrator, refractory period,
    noise, name and state (noise key and step included): the layer continues bit-identically. Any other
    graph is simulated with the `exact` integrator (NIR's LIF is a continuous-time equation) and needs
    `dt`.

    **Arguments:**

    - `graph`: a `nir.NIRGraph` (e.g. from `nir.read(path)`).
    - `dt`: the time step (s); default: the one in the metadata (required without).
    - `overrides`: any other [`jaxiaf.FFIAF`][] argument (`integrator_name`, `refractory`, `noise_std`,
      `name`, `key`, or a parameter), replacing the graph's value. The state from the metadata is kept
      (its key unless `key` is given); call `reset_state()` for a fresh one.

    **Raises:** `TypeError` for a non-graph; `ValueError` naming the node type for a graph of another
    shape or a node that the layer cannot express (an `IF`, a `CubaLIF` with `tau_syn > 0`), for metadata
    of another format version, or for a missing `dt`.
    """
    nir = _nir()
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"`graph` must be a nir.NIRGraph; got {type(graph).__name__}.")
    own, records = _nir_network.split(graph, nir)
    if records:
        return _nir_network.attach(from_nir(own, dt, **overrides), records)
    if any(isinstance(n, nir.CubaLIF) and np.any(np.asarray(n.tau_syn) != 0) for n in graph.nodes.values()):
        return _synaptic_from_nir(graph, nir, dt, overrides)
    chain = _chain(graph, nir)
    if len(chain) != 2 or not isinstance(chain[0], (nir.Affine, nir.Linear)):
        found = " -> ".join(type(node).__name__ for node in chain)
        raise ValueError(f"from_nir supports {SUPPORTED}; got Input -> {found} -> Output.")
    weight_node, neuron_node = chain
    values, gain = _neuron(neuron_node, nir)
    weight = np.asarray(weight_node.weight)
    bias = np.asarray(weight_node.bias) if isinstance(weight_node, nir.Affine) else np.zeros(weight.shape[0])
    if weight.ndim != 2 or bias.shape != weight.shape[:1]:
        raise ValueError(
            f"from_nir: the {type(weight_node).__name__} node's weight must be (N, N_in) and its bias (N,); "
            f"got {weight.shape} and {bias.shape}."
        )
    kwargs = dict(values, weights=weight.T * gain, bias=bias * gain, integrator_name="exact")
    meta = _metadata(neuron_node.metadata.get("jaxiaf"))
    if meta is not None:
        kwargs.update({k: meta[k] for k in ("dt", "integrator_name", "refractory", "noise_std")})
        kwargs["name"] = str(meta["name"])
        if dt is not None and float(dt) != float(meta["dt"]) and int(meta["step"]) != 0:
            raise ValueError(
                f"from_nir: `dt`={dt!r} differs from the graph's {float(meta['dt'])!r} s while its state has "
                f"advanced {int(meta['step'])} steps (`t = step * dt` would jump): leave `dt` out, or reset "
                "the time (`reset_time()`) of the layer before exporting it."
            )
    if dt is not None:
        kwargs["dt"] = dt
    if "dt" not in kwargs:
        raise ValueError("from_nir: `dt` is required: this graph has no jaxiaf metadata holding a time step.")
    kwargs.update(overrides)
    if meta is None and np.any(np.asarray(kwargs["tau_mem"], float) < float(kwargs["dt"])):
        warnings.warn(
            f"from_nir: the LIF's `tau` is below `dt` = {kwargs['dt']!r} s for some neurons. Norse 1.1.0's "
            "to_nir writes `dt * tau` for `tau` (fixed after 1.1.0): for such a graph give "
            "`tau_mem=lif.tau / dt`.",
            UserWarning,
            stacklevel=2,
        )
    layer = FFIAF(**kwargs)
    if meta is None:
        return layer
    state = state_from_record(meta, str(meta["key_impl"]))
    if "key" in overrides:
        del state["key"]
    return layer.set_attributes(state)


_METADATA = ("format_version", "dt", "integrator_name", "refractory", "noise_std", "name", "key_impl")
_METADATA += ("v", "since_spike", "step", "key_data")


def _metadata(meta):
    """The LIF node's `metadata["jaxiaf"]` (or None); `ValueError` for another version or missing entries."""
    if meta is None:
        return None
    if not isinstance(meta, dict) or meta.get("format_version") != METADATA_VERSION:
        version = meta.get("format_version") if isinstance(meta, dict) else None
        raise ValueError(
            f"from_nir: the graph's jaxiaf metadata has format version {version!r}; this jaxiaf reads "
            f"version {METADATA_VERSION}."
        )
    missing = [k for k in _METADATA if k not in meta]
    if missing:
        raise ValueError(
            f"from_nir: invalid jaxiaf metadata in the LIF node: {missing} missing (a graph written by "
            "jaxiaf.to_nir has all of them; remove `metadata['jaxiaf']` to import it as a foreign graph)."
        )
    return meta


def _synaptic_to_nir(layer, nir) -> "nir.NIRGraph":
    """The NIR graph of [`jaxiaf.FFIAFSpkInBrian`][] (`Input -> Linear -> CubaLIF -> Output`) or
    [`jaxiaf.RecIAFSpkInBrian`][] (the same with `CubaLIF -> Linear -> CubaLIF`, the recurrent weights).

    NIR's CubaLIF, `tau_syn dI/dt = -I + w_in S`, `tau_mem dv/dt = (v_leak - v) + r I`, with input spikes
    `S` (Dirac deltas through the Linear weights), jumps `I` by `w_in * weight / tau_syn` per spike: with
    `weight = weights.T`, `w_in = tau_syn` and `r = 1` the jump is the layer's weight and `I` its `I_syn`;
    the bias current is folded into `v_leak = v_rest + bias` (1 ohm). The CubaLIF's
    `metadata["jaxiaf"]` holds the layer's file record (`format_version`, `layer`: the JSON header of
    [`jaxiaf.save`][], and its arrays), so that [`jaxiaf.from_nir`][] rebuilds the layer exactly.
    `RecIAFBrian` (its input current reaches `v` past the synaptic current) and a `RecIAFSpkInBrian` with
    `tau_syn_inp != tau_syn_rec` (one CubaLIF has one synaptic current) have no such graph: `ValueError`.
    """
    if isinstance(layer, RecIAFBrian):
        raise ValueError(
            "`to_nir`: RecIAFBrian's input current acts on v directly while its recurrent spikes act through "
            "the synaptic current; NIR's CubaLIF passes all its input through its synapse, so it cannot "
            "express this layer (save it with `jaxiaf.save`)."
        )
    p = {k: np.array(v) for k, v in layer.parameters().items()}
    recurrent = isinstance(layer, RecIAFSpkInBrian)
    tau_syn = p["tau_syn_inp"] if recurrent else p["tau_syn"]
    if recurrent and not np.array_equal(p["tau_syn_inp"], p["tau_syn_rec"]):
        raise ValueError(
            "`to_nir`: a NIR CubaLIF has one synaptic current per neuron; this layer's `tau_syn_inp` and "
            "`tau_syn_rec` differ, so its two currents are not one (save it with `jaxiaf.save`)."
        )
    if np.any(np.asarray(layer.refractory) > 0):
        warnings.warn(
            "The layer's `refractory` is not zero: NIR has no field for it, so other NIR readers ignore it; "
            "only jaxiaf.from_nir restores it (from the metadata).",
            UserWarning,
            stacklevel=3,
        )
    header, arrays = _layer_record(layer)
    metadata = {
        "format_version": METADATA_VERSION,
        "layer": json.dumps(header),
        **{k: v.item() if np.ndim(v) == 0 else v for k, v in arrays.items()},
    }
    n_in, n = layer.shape
    nodes = {
        "input": nir.Input(input_type=np.array([n_in])),
        "linear": nir.Linear(weight=np.ascontiguousarray(p["weights_in" if recurrent else "weights"].T)),
        "cubalif": nir.CubaLIF(
            tau_syn=tau_syn,
            tau_mem=p["tau_mem"],
            r=np.ones_like(tau_syn),
            v_leak=p["v_rest"] + p["bias"],
            v_threshold=p["v_thresh"],
            v_reset=p["v_reset"],
            w_in=tau_syn,
            metadata={"jaxiaf": metadata},
        ),  # fmt: skip
        "output": nir.Output(output_type=np.array([n])),
    }
    edges = [("input", "linear"), ("linear", "cubalif"), ("cubalif", "output")]
    if recurrent:
        nodes["recurrent"] = nir.Linear(weight=np.ascontiguousarray(p["weights_rec"].T))
        edges += [("cubalif", "recurrent"), ("recurrent", "cubalif")]
    return nir.NIRGraph(nodes=nodes, edges=edges)


def _synaptic_from_nir(graph, nir, dt, overrides):
    """A [`jaxiaf.FFIAFSpkInBrian`][] (or, with a recurrent Linear, a [`jaxiaf.RecIAFSpkInBrian`][] with
    `tau_syn_inp = tau_syn_rec = tau_syn`) from `Input -> Linear -> CubaLIF -> Output` (and `CubaLIF ->
    Linear -> CubaLIF`). The weights are `weight.T * w_in * r / tau_syn` (the jump of `r I` per spike; exact
    for a graph of [`jaxiaf.to_nir`][]); an Affine node is read as a Linear if its bias is 0.

    A graph written by [`jaxiaf.to_nir`][] brings back, from its metadata, the layer's class, parameters,
    initial parameters, time step, integrator, refractory period, name and state (the weights from the
    graph): it continues bit-identically; `dt` and `overrides` then go to `set_attributes`. Any other graph
    gives `v_rest = v_leak`, `bias = 0` and the `exact` integrator (Brian2's `linear`), and needs `dt`;
    `overrides` are constructor arguments.
    """
    kinds = {k: type(node).__name__ for k, node in graph.nodes.items()}
    find = lambda kind: [k for k, name in kinds.items() if name == kind]
    inputs, outputs, cubas = find("Input"), find("Output"), find("CubaLIF")
    edges = {tuple(e) for e in graph.edges}
    ff = [d for s, d in edges if inputs and s == inputs[0]]
    rec = [s for s, d in edges if cubas and d == cubas[0] and s not in ff]
    one = len(inputs) == len(outputs) == len(cubas) == len(ff) == 1 and len(rec) <= 1
    (i, o, c), chain = (inputs[0], outputs[0], cubas[0]) if one else (None, None, None), [*ff, *rec]
    expected = (
        {(i, ff[0]), (ff[0], c), (c, o)} | {(c, r) for r in rec} | {(r, c) for r in rec} if one else None
    )
    if expected != edges or set(graph.nodes) != {i, o, c, *chain} or {kinds[k] for k in chain} - LINEAR:
        found = ", ".join(f"{s} ({kinds[s]}) -> {d} ({kinds[d]})" for s, d in sorted(edges))
        raise ValueError(f"from_nir supports {SYNAPTIC}; got the edges {found}.")
    node = graph.nodes[c]
    scale = np.asarray(node.w_in, float) * np.asarray(node.r, float) / np.asarray(node.tau_syn, float)
    weights = []
    for k in chain:
        linear = graph.nodes[k]
        if kinds[k] == "Affine" and np.any(np.asarray(linear.bias) != 0):
            raise ValueError(
                f"from_nir: the Affine node {k!r} feeds a CubaLIF with tau_syn > 0 a constant through its "
                "synapse; Rockpool's synaptic layers have a bias current on v instead. Give a zero bias "
                "or a Linear node."
            )
        weights.append(np.asarray(linear.weight).T * scale)
    meta = node.metadata.get("jaxiaf")
    if meta is not None and "layer" in meta:
        header = json.loads(meta["layer"])
        if meta.get("format_version") != METADATA_VERSION:
            raise ValueError(f"from_nir: jaxiaf metadata of format version {meta.get('format_version')!r}.")
        names = ("weights_in", "weights_rec") if rec else ("weights",)
        arrays = {k: np.asarray(v) for k, v in meta.items() if k not in ("format_version", "layer")}
        arrays.update(zip(names, weights, strict=True))
        layer = _layer_from_record(header, arrays)
        return layer.set_attributes({**({} if dt is None else {"dt": dt}), **overrides})
    if dt is None:
        raise ValueError("from_nir: `dt` is required: this graph has no jaxiaf metadata holding a time step.")
    values = dict(
        tau_mem=node.tau_mem, v_rest=node.v_leak, v_thresh=node.v_threshold, bias=0.0, dt=dt,
        v_reset=node.v_leak if node.v_reset is None else node.v_reset, integrator_name="exact",
    )  # fmt: skip
    if rec:
        values.update(tau_syn_inp=node.tau_syn, tau_syn_rec=node.tau_syn)
        return RecIAFSpkInBrian(*weights, **{**values, **overrides})
    return FFIAFSpkInBrian(weights[0], tau_syn=node.tau_syn, **{**values, **overrides})
