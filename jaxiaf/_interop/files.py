"""Saving and loading layers and fit results (recorded data from Neo and NWB: `jaxiaf._interop.neo`).

**The layer file format** (version 1) is a NumPy `.npz` archive (no pickled objects) holding:

- `header`: a 0-d string array, a JSON object `{"format": "jaxiaf-layer", "version": 1, "class": "FFIAF",
  "FFIAFBrian", "FFIAFSpkInBrian", "RecIAFBrian" or "RecIAFSpkInBrian", "name", "integrator_name",
  "key_impl", "record", "model", "surrogate"}` (`key_impl` names the PRNG implementation of the noise key,
  `""` for a raw `uint32` key; `record` only for the timed layers; `model` null for the default
  equations; `surrogate` null or the class name and fields of one of `jaxiaf.surrogate`'s;
  `input_sampling` `"held"` or `"timed"`, `"held"` where a file lacks it);
- the parameters `weights`, `bias`, `tau_mem`, `v_thresh`, `v_reset`, `v_rest` and the simulation
  parameters `dt`, `noise_std`, `refractory` (those the layer has, by name), in the layer's dtype
  (`FFIAFBrian`'s `dt` in float64: its time base's exact step);
- the parameters the layer is built from when loaded, the same names prefixed `initial_`: an
  `FFIAFBrian`'s initial ones (those its `reset_parameters` restores, with its initial simulation
  parameters, `initial_integrator_name` going into the header), an `FFIAF`'s current ones;
- the state `v`, `since_spike`, `step` and `key_data` (the noise key's raw `uint32` data).

A timed layer keeps its parameters by the names of its `parameters()`: the synaptic layers (Rockpool's
`FFIAFSpkInBrian`, `RecIAFBrian`, `RecIAFSpkInBrian`) their weight matrices (`weights`, or `weights_in` and
`weights_rec`) and Rockpool's names (`tau_syn`, ...), with `model` null (the class fixes its equations)
and their synaptic currents as state (`state_I_syn`, ...).

A layer with its own equations ([`jaxiaf.Model`][]) also has `model` in the header (`equations`,
`threshold`, `reset`, the `refractory` expression or null, the `namespace` constants as `[name, SI value,
unit]` and `input_sampling`), its declared parameters by name instead
of the page's (and `initial_` copies), and its other state variables prefixed `state_` (e.g. `state_w`).

A functional layer saved with its synapses (`save(layer, path, feedforward=..., recurrent=...,
pending=...)`) has the class `"Network"`; its layout is in `jaxiaf._interop.network`.

A loaded layer equals the saved one leaf for leaf, so it continues bit-identically. A `FitResult` file has
the class `"FitResult"`, its module's header under `module` and its module's arrays prefixed `module.`; its
array fields (and dicts of arrays, listed in `array_dicts`) are entries prefixed `fit.`, and its other
fields are JSON in the header's `fields` (tuples as `{"__tuple__": [...]}`).
"""

import dataclasses
import json
import os
import zipfile

import jax
import jax.numpy as jnp
import numpy as np

from .._core import surrogate as _surrogate
from .._equations import names as _named
from .._layer import FFIAF
from .._rockpool.synaptic import FFIAFSpkInBrian, RecIAFBrian, RecIAFSpkInBrian
from .._rockpool.timed import FFIAFBrian
from . import network as _network

FORMAT = "jaxiaf-layer"
VERSION = 1
SIMULATION = ("dt", "noise_std", "refractory")
STATE = "state_"
"""The prefix of the state variables of a layer's own equations other than `v` (e.g. `state_w`)."""
TIMED = {cls.__name__: cls for cls in (FFIAFBrian, FFIAFSpkInBrian, RecIAFBrian, RecIAFSpkInBrian)}
"""The timed layers by class name; all but `FFIAFBrian` fix their equations."""
_RESULTS: dict = {}
"""The result classes `save` and `load` keep besides layers (`register`), by class name."""


def register(cls) -> None:
    """Let `save` and `load` keep instances of `cls`, a dataclass with a `module` field (its layer): the
    fit's [`jaxiaf.FitResult`][], registered by `jaxiaf/__init__.py` (so that `jaxiaf._interop` does not
    import `jaxiaf._fit`, which reads Neo data through it)."""
    _RESULTS[cls.__name__] = cls


# ------------------------------------------------------------------------------------------ state records
def functional(layer) -> FFIAF:
    """The functional module of an `FFIAF` or `FFIAFBrian`; `TypeError` for other objects, `ValueError` for
    a batched module (a `vmap` over modules: its weights have a leading batch axis)."""
    if isinstance(layer, FFIAFBrian):
        return layer.module
    if not isinstance(layer, FFIAF):
        raise TypeError(f"`layer` must be an FFIAF or an FFIAFBrian; got {type(layer).__name__}.")
    shape = layer.params.weights.shape
    if len(shape) != 2:
        raise ValueError(f"`layer` must be one layer; got a batch of modules (weights of shape {shape}).")
    return layer


def state_record(module: FFIAF) -> tuple[dict, str]:
    """The state of `module` as NumPy arrays `{v, since_spike, step, key_data}`, and the key's
    implementation name (`""` for a raw `uint32` key)."""
    key = module.neuron_state.key
    typed = jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
    arrays = {
        "v": np.asarray(module.neuron_state.v),
        "since_spike": np.asarray(module.neuron_state.since_spike),
        "step": np.asarray(module.neuron_state.step),
        "key_data": np.asarray(jax.random.key_data(key) if typed else key),
        **{STATE + k: np.asarray(v) for k, v in module.neuron_state.extra.items()},
    }
    return arrays, str(jax.random.key_impl(key)) if typed else ""


def state_from_record(arrays: dict, key_impl: str) -> dict:
    """The inverse of [`state_record`][]: `{v, since_spike, step, key}` (and the other state variables
    of a layer's own equations) for `set_attributes`."""
    data = jnp.asarray(arrays["key_data"], jnp.uint32)
    return {
        "v": jnp.asarray(arrays["v"]),
        "since_spike": jnp.asarray(arrays["since_spike"]),
        "step": jnp.asarray(arrays["step"]),
        "key": jax.random.wrap_key_data(data, impl=key_impl) if key_impl else data,
        **{k[len(STATE) :]: jnp.asarray(v) for k, v in arrays.items() if k.startswith(STATE)},
    }


# --------------------------------------------------------------------------------------------- save/load
def _layer_record(layer) -> tuple[dict, dict]:
    """`(header, arrays)` of an `FFIAF` or `FFIAFBrian` (the header without format and version)."""
    module = functional(layer)
    params, sim = (_own(layer, kind) for kind in ("Parameter", "SimulationParameter"))
    integrator = sim.pop("integrator_name")
    if isinstance(layer, FFIAFBrian):
        initial = dict(layer._initial)
        extra = {"record": layer._record, "initial_integrator_name": initial.pop("integrator_name")}
        sim["dt"] = np.float64(layer.dt)  # the time base's exact step, not the float32-rounded leaf
        initial["dt"] = np.float64(initial["dt"])
    else:
        initial, extra = dict(params), {}
    state, key_impl = state_record(module)
    header = {
        "class": type(layer).__name__,
        "name": module.name,
        "integrator_name": integrator,
        "key_impl": key_impl,
        "model": _named.source(module.sim.model) if type(layer) in (FFIAF, FFIAFBrian) else None,
        "input_sampling": module.sim.input_sampling,
        "surrogate": _surrogate_record(module.surrogate),
        **extra,
    }
    arrays = {k: np.asarray(v) for k, v in {**params, **sim}.items()}
    arrays.update({f"initial_{k}": np.asarray(v) for k, v in initial.items()})
    return header, {**arrays, **state}


def _layer_from_record(header: dict, arrays: dict):
    """The inverse of [`_layer_record`][]; `KeyError`/`TypeError`/`ValueError` for missing or bad entries."""
    state = state_from_record(arrays, header["key_impl"])
    initial = {k[len("initial_") :]: v for k, v in arrays.items() if k.startswith("initial_")}
    if header["class"] in TIMED:
        own = _named.source_arguments(header.get("model"), header["initial_integrator_name"])
        if header["class"] == "FFIAFBrian":
            own.setdefault("input_sampling", header.get("input_sampling", "held"))  # files before it: held
        cls = TIMED[header["class"]]
        layer = cls(**initial, **own, name=header["name"], record=header["record"], key=state["key"])
        module = layer.module
    elif header["class"] == "FFIAF":
        own = _named.source_arguments(header.get("model"), header["integrator_name"])
        own.setdefault("input_sampling", header.get("input_sampling", "held"))
        sim = {k: arrays[k] for k in SIMULATION if k in arrays}
        surrogate = _surrogate_from_record(header.get("surrogate"))
        module = layer = FFIAF(
            **initial, **sim, **own, name=header["name"], key=state["key"], surrogate=surrogate
        )
    else:
        raise ValueError(f"unknown layer class {header['class']!r}")
    names = [*_own(layer, "Parameter"), *_own(layer, "SimulationParameter")]
    current = {k: arrays[k] for k in names if k != "integrator_name"}
    primary = _named.primary(module.sim.model)  # the file keeps it as `v`, as the core carries it
    state = {primary if k == "v" else k: v for k, v in state.items()}
    missing = sorted(set(module.state()) - set(state))
    if missing:
        raise ValueError(f"the state entries {missing} are missing")
    current["integrator_name"] = header["integrator_name"]
    return layer.set_attributes(current).set_attributes(state)


def _own(layer, type_name: str) -> dict:
    """A layer's parameters or simulation parameters (`type_name`) by its own names: a timed layer's (its
    sub-modules left out), else the functional module's."""
    if isinstance(layer, FFIAFBrian):
        return layer._own_attributes(type_name)
    module = functional(layer)
    return module.parameters() if type_name == "Parameter" else module.simulation_parameters()


def _surrogate_record(surrogate) -> "dict | None":
    """A layer's surrogate as JSON: its class (one of `jaxiaf.surrogate`'s) and fields; `ValueError` for
    another class (its code cannot be kept in a file)."""
    if surrogate is None:
        return None
    cls = type(surrogate)
    if getattr(_surrogate, cls.__name__, None) is not cls:
        raise ValueError(
            f"`save` keeps the surrogates of `jaxiaf.surrogate` only; this layer's is a {cls.__name__}: "
            "save the layer without it (`eqx.tree_at(lambda m: m.surrogate, layer, None)`) and set it "
            "after loading."
        )
    return {
        "class": cls.__name__,
        **{f.name: getattr(surrogate, f.name) for f in dataclasses.fields(surrogate)},
    }


def _surrogate_from_record(record: "dict | None"):
    if record is None:
        return None
    fields = dict(record)
    return getattr(_surrogate, fields.pop("class"))(**fields)


def _encode(value):
    """A JSON form of a result's field; tuples are tagged so that they come back as tuples."""
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    return value.item() if isinstance(value, np.generic) else value


def _decode(value):
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(_decode(v) for v in value["__tuple__"])
        return {k: _decode(v) for k, v in value.items()}
    return value


def _result_record(result) -> tuple[dict, dict]:
    """`(header, arrays)` of a result (a `FitResult`): its module as a layer record under `module.`, array
    fields and dicts of arrays under `fit.`, every other field in the header's `fields` (JSON)."""
    fields = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
    module_header, module_arrays = _layer_record(fields.pop("module"))
    arrays = {f"module.{k}": v for k, v in module_arrays.items()}
    plain, array_dicts = {}, []
    for name, value in fields.items():
        if isinstance(value, np.ndarray):
            arrays[f"fit.{name}"] = value
        elif isinstance(value, dict) and value and all(isinstance(v, np.ndarray) for v in value.values()):
            array_dicts.append(name)
            arrays.update({f"fit.{name}.{k}": v for k, v in value.items()})
        else:
            plain[name] = _encode(value)
    header = {
        "class": type(result).__name__,
        "module": module_header,
        "fields": plain,
        "array_dicts": array_dicts,
    }
    return header, arrays


def _result_from_record(header: dict, arrays: dict):
    module = {k[len("module.") :]: v for k, v in arrays.items() if k.startswith("module.")}
    fields = {name: _decode(value) for name, value in header["fields"].items()}
    for key, value in arrays.items():
        if key.startswith("fit."):
            name, _, entry = key[len("fit.") :].partition(".")
            if name in header["array_dicts"]:
                fields.setdefault(name, {})[entry] = value
            else:
                fields[name] = value
    return _RESULTS[header["class"]](**fields, module=_layer_from_record(header["module"], module))


def _network_record(net) -> tuple[dict, dict]:
    """`(header, arrays)` of a `Network`: its layer's record under `layer`
    (arrays prefixed `layer.`), its synapses and spikes in transit as `jaxiaf._interop.network` lays them
    out."""
    layer_header, layer_arrays = _layer_record(net.layer)
    entries, arrays = _network.record(net)
    arrays.update({f"layer.{k}": v for k, v in layer_arrays.items()})
    return {"class": "Network", "layer": layer_header, "synapses": entries}, arrays


def _network_from_record(header: dict, arrays: dict):
    layer = _layer_from_record(
        header["layer"], {k[len("layer.") :]: v for k, v in arrays.items() if k.startswith("layer.")}
    )
    return _network.from_record(layer, header["synapses"], arrays)


def save(obj, path: "str | os.PathLike", *, feedforward=None, recurrent=None, pending=None) -> None:
    """Save an [`jaxiaf.FFIAF`][] or a timed layer ([`jaxiaf.FFIAFBrian`][], [`jaxiaf.FFIAFSpkInBrian`][],
    [`jaxiaf.RecIAFBrian`][], [`jaxiaf.RecIAFSpkInBrian`][]) (parameters, initial parameters, simulation
    parameters, state with the noise key and the step), a [`jaxiaf.FitResult`][] (its fitted module and
    every other field), or an `FFIAF` with the [`jaxiaf.synapses.Synapses`][] it runs with and the spikes
    in transit, to `path`, in the format of this module's docstring.

    **Arguments:**

    - `obj`: the layer or fit result (or a network that [`jaxiaf.load`][] returned, saved as it is).
    - `path`: a file path (written as given, no suffix added).
    - `feedforward`, `recurrent`, `pending`: as [`jaxiaf.synapses.run`][] takes them (its returned
      `pending` after a run, None for a fresh layer): then `load` returns the network (a `Network`:
      `layer`, `feedforward`, `recurrent`, `pending`), each group with its weights, delays, connected
      pairs, `on_pre`, scale and bounds.

    **Raises:** `TypeError` for another kind of object (or synapses with a timed layer); `ValueError` for
    a batched module, a per-neuron `FitResult`, or synapses and spikes in transit that do not fit the
    layer (naming the field, as `run` does).
    """
    if feedforward is not None or recurrent is not None or pending is not None:
        obj = _network.network(obj, feedforward, recurrent, pending)
    result = _RESULTS.get(type(obj).__name__) is type(obj)
    if result and getattr(obj, "neurons", None):
        raise ValueError(
            "`save`: a per-neuron FitResult is not saved whole; save its fitted layer (`result.module`) or "
            "each neuron's result (`result.neurons[n]`)."
        )
    if isinstance(obj, _network.Network):
        header, arrays = _network_record(_network.network(*obj))
    else:
        header, arrays = _result_record(obj) if result else _layer_record(obj)
    header = {"format": FORMAT, "version": VERSION, **header}
    with open(path, "wb") as f:
        np.savez(f, header=np.array(json.dumps(header)), **arrays)


def _read(path) -> tuple[dict, dict]:
    """`(header, arrays)` of a layer file, everything read into memory; `ValueError` naming the file."""
    try:
        with zipfile.ZipFile(path) as archive:  # np.load reads entries without checking their CRC
            damaged = archive.testzip()
        if damaged is not None:
            raise zipfile.BadZipFile(f"Bad CRC-32 for entry {damaged!r}")
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise ValueError(f"{os.fspath(path)!r} is not a readable jaxiaf layer file ({err}).") from err
    if "header" not in arrays:
        raise ValueError(f"{os.fspath(path)!r} is not a jaxiaf layer file: it has no `header` entry.")
    try:
        header = json.loads(str(arrays.pop("header")))
    except json.JSONDecodeError as err:
        raise ValueError(f"{os.fspath(path)!r}: its header is not valid JSON ({err}).") from err
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"{os.fspath(path)!r} is not a jaxiaf layer file (its header names no {FORMAT!r}).")
    if header.get("version") != VERSION:
        raise ValueError(
            f"{os.fspath(path)!r} has jaxiaf layer format version {header.get('version')!r}; this jaxiaf "
            f"reads version {VERSION} only."
        )
    return header, arrays


def load(path: "str | os.PathLike"):
    """Load what [`jaxiaf.save`][] wrote: an `FFIAF` or a timed layer equal to the saved one (same
    parameters, initial parameters, simulation parameters and state), so it continues bit-identically, a
    `FitResult` with equal fields, or a network (`Network(layer, feedforward, recurrent, pending)`, each
    equal leaf for leaf to the saved one: [`jaxiaf.synapses.run`][] with them continues bit-identically).
    Values are read in the session's precision: a float32 file loads as float64 when `jax_enable_x64` is
    on.

    **Raises:** `FileNotFoundError`; `ValueError` naming the file for a truncated, corrupted or foreign file,
    another format version, or missing / invalid entries. Nothing is returned half-loaded.
    """
    header, arrays = _read(path)
    try:
        if header.get("class") in _RESULTS:
            return _result_from_record(header, arrays)
        if header.get("class") == "Network":
            return _network_from_record(header, arrays)
        return _layer_from_record(header, arrays)
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{os.fspath(path)!r}: invalid jaxiaf layer file ({err}).") from err


# ------------------------------------------------------------------------------------------ Neo and NWB
