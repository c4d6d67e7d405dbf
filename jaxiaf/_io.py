"""Saving and loading layers, and recorded data from Neo (and NWB files through Neo) for [`jaxiaf.fit`][].

**The layer file format** (version 1) is a NumPy `.npz` archive (no pickled objects) holding:

- `header`: a 0-d string array, a JSON object `{"format": "jaxiaf-layer", "version": 1, "class": "FFIAF"
  or "FFIAFBrian", "name", "integrator_name", "key_impl", "record"}` (`key_impl` names the PRNG
  implementation of the noise key, `""` for a raw `uint32` key; `record` only for `FFIAFBrian`);
- the parameters `weights`, `bias`, `tau_mem`, `v_thresh`, `v_reset`, `v_rest` and the simulation
  parameters `dt`, `noise_std`, `refractory`, in the layer's dtype;
- the values that `reset_parameters` restores, the same names prefixed `initial_` (an `FFIAFBrian` also
  keeps its initial simulation parameters, `initial_integrator_name` going into the header);
- the state `v`, `since_spike`, `step` and `key_data` (the noise key's raw `uint32` data).

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

from ._fit import FitResult, spikes_to_raster
from ._module import FFIAF
from ._timed import FFIAFBrian

FORMAT = "jaxiaf-layer"
VERSION = 1
PARAMETERS = ("weights", "bias", "tau_mem", "v_thresh", "v_reset", "v_rest")
SIMULATION = ("dt", "noise_std", "refractory")


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
    }
    return arrays, str(jax.random.key_impl(key)) if typed else ""


def state_from_record(arrays: dict, key_impl: str) -> dict:
    """The inverse of [`state_record`][]: `{v, since_spike, step, key}` for `set_attributes`."""
    data = jnp.asarray(arrays["key_data"], jnp.uint32)
    return {
        "v": jnp.asarray(arrays["v"]),
        "since_spike": jnp.asarray(arrays["since_spike"]),
        "step": jnp.asarray(arrays["step"]),
        "key": jax.random.wrap_key_data(data, impl=key_impl) if key_impl else data,
    }


# --------------------------------------------------------------------------------------------- save/load
def _layer_record(layer) -> tuple[dict, dict]:
    """`(header, arrays)` of an `FFIAF` or `FFIAFBrian` (the header without format and version)."""
    module = functional(layer)
    if isinstance(layer, FFIAFBrian):
        initial = layer._initial
        extra = {"record": layer._record, "initial_integrator_name": initial["integrator_name"]}
        initial_names = PARAMETERS + SIMULATION
    else:
        initial, extra = {k: getattr(layer.initial_params, k) for k in PARAMETERS}, {}
        initial_names = PARAMETERS
    state, key_impl = state_record(module)
    values = {**module.parameters(), **module.simulation_parameters()}
    header = {
        "class": type(layer).__name__,
        "name": module.name,
        "integrator_name": values["integrator_name"],
        "key_impl": key_impl,
        **extra,
    }
    arrays = {k: np.asarray(values[k]) for k in PARAMETERS + SIMULATION}
    arrays.update({f"initial_{k}": np.asarray(initial[k]) for k in initial_names})
    return header, {**arrays, **state}


def _layer_from_record(header: dict, arrays: dict):
    """The inverse of [`_layer_record`][]; `KeyError`/`TypeError`/`ValueError` for missing or bad entries."""
    state = state_from_record(arrays, header["key_impl"])
    initial = {k[len("initial_") :]: v for k, v in arrays.items() if k.startswith("initial_")}
    current = {k: arrays[k] for k in PARAMETERS + SIMULATION}
    current["integrator_name"] = header["integrator_name"]
    if header["class"] == "FFIAFBrian":
        initial["integrator_name"] = header["initial_integrator_name"]
        layer = FFIAFBrian(**initial, name=header["name"], record=header["record"], key=state["key"])
        return layer.set_attributes(current).set_attributes(state)
    if header["class"] == "FFIAF":
        sim = {k: current[k] for k in (*SIMULATION, "integrator_name")}
        layer = FFIAF(**initial, **sim, name=header["name"], key=state["key"])
        return layer.set_attributes({k: current[k] for k in PARAMETERS}).set_attributes(state)
    raise ValueError(f"unknown layer class {header['class']!r}")


def _encode(value):
    """A JSON form of a `FitResult` field; tuples are tagged so that they come back as tuples."""
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


def _fit_record(result: FitResult) -> tuple[dict, dict]:
    """`(header, arrays)` of a `FitResult`: its module as a layer record under `module.`, array fields and
    dicts of arrays under `fit.`, every other field in the header's `fields` (JSON)."""
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
    header = {"class": "FitResult", "module": module_header, "fields": plain, "array_dicts": array_dicts}
    return header, arrays


def _fit_from_record(header: dict, arrays: dict) -> FitResult:
    module = {k[len("module.") :]: v for k, v in arrays.items() if k.startswith("module.")}
    fields = {name: _decode(value) for name, value in header["fields"].items()}
    for key, value in arrays.items():
        if key.startswith("fit."):
            name, _, entry = key[len("fit.") :].partition(".")
            if name in header["array_dicts"]:
                fields.setdefault(name, {})[entry] = value
            else:
                fields[name] = value
    return FitResult(**fields, module=_layer_from_record(header["module"], module))


def save(obj, path) -> None:
    """Save an [`jaxiaf.FFIAF`][] or [`jaxiaf.FFIAFBrian`][] (parameters, initial parameters, simulation
    parameters, state with the noise key and the step), or a [`jaxiaf.FitResult`][] (its fitted module and
    every other field), to `path`, in the format of this module's docstring.

    **Arguments:** `obj`: the layer or fit result; `path`: a file path (written as given, no suffix added).

    **Raises:** `TypeError` for another kind of object; `ValueError` for a batched module.
    """
    header, arrays = _fit_record(obj) if isinstance(obj, FitResult) else _layer_record(obj)
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


def load(path):
    """Load what [`jaxiaf.save`][] wrote: an `FFIAF` or `FFIAFBrian` equal to the saved one (same
    parameters, initial parameters, simulation parameters and state), so it continues bit-identically, or a
    `FitResult` with equal fields. Values are read in the session's precision: a float32 file loads as
    float64 when `jax_enable_x64` is on.

    **Raises:** `FileNotFoundError`; `ValueError` naming the file for a truncated, corrupted or foreign file,
    another format version, or missing / invalid entries. Nothing is returned half-loaded.
    """
    header, arrays = _read(path)
    try:
        if header.get("class") == "FitResult":
            return _fit_from_record(header, arrays)
        return _layer_from_record(header, arrays)
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{os.fspath(path)!r}: invalid jaxiaf layer file ({err}).") from err


# ------------------------------------------------------------------------------------------ Neo and NWB
def _neo():
    try:
        import neo
    except ImportError as err:
        raise ImportError("Reading Neo objects needs `neo`: pip install 'jaxiaf[interop]'.") from err
    return neo


def _trials(neo, data, kind, name: str, select=None) -> list:
    """K lists of `kind` objects (neo.SpikeTrain or neo.AnalogSignal) from one object, a Segment, a Block,
    or a list of trials (each an object, a Segment or a list of objects)."""
    attribute = "spiketrains" if kind is neo.SpikeTrain else "analogsignals"

    def of_segment(segment):
        found = list(getattr(segment, attribute))
        return found if select is None else [s for s in found if _named(s.name, select)]

    if isinstance(data, neo.Block):
        return [of_segment(s) for s in data.segments]
    if isinstance(data, (neo.Segment, kind)):
        data = [data]
    elif not isinstance(data, (list, tuple)) or not data:
        raise TypeError(
            f"`{name}` must be a neo.{kind.__name__}, a neo.Segment, a neo.Block or a non-empty list; got "
            f"{type(data).__name__}."
        )
    if kind is neo.SpikeTrain and all(isinstance(d, kind) for d in data):
        return [list(data)]  # the N neurons of one trial
    trials = []
    for trial in data:
        if isinstance(trial, neo.Segment):
            trials.append(of_segment(trial))
        elif isinstance(trial, kind):
            trials.append([trial])
        elif isinstance(trial, (list, tuple)) and all(isinstance(d, kind) for d in trial):
            trials.append(list(trial))
        else:
            raise TypeError(
                f"`{name}`: a trial must be a neo.Segment or neo.{kind.__name__}(s); got {trial!r}."
            )
    return trials


def _named(name, wanted: str) -> bool:
    """Whether a signal called `name` is the one `wanted`: Neo's NWB reader renames signal `v` of segment
    `trial0` to `"trial0 v 1"`, so a whole word of the name counts too."""
    return name == wanted or wanted in str(name).split()


def _seconds(quantity) -> float:
    return float(quantity.rescale("s").magnitude)


def _time(value):
    """A time in s from None, a number or a quantity."""
    if value is None:
        return None
    return _seconds(value) if hasattr(value, "rescale") else float(value)


def _steps(name: str, duration: float, dt: float) -> int:
    num_steps = round(duration / dt)
    if num_steps < 1 or abs(num_steps * dt - duration) > 1e-9 * max(duration, dt):
        raise ValueError(
            f"`{name}`: its duration {duration!r} s is not a whole number of steps of dt={dt!r} s."
        )
    return num_steps


def _same(name: str, what: str, values: list, expected=None) -> float:
    """The common value of `values` (and `expected` if given), within 1e-9 of dt-scale rounding."""
    reference = values[0] if expected is None else float(expected)
    if any(abs(v - reference) > 1e-9 * max(abs(reference), 1e-3) for v in values):
        raise ValueError(f"`{name}`: {what} differ: {sorted(set(values))[:5]} (expected {reference!r}) s.")
    return reference


def spikes_from_neo(spiketrains, dt, *, t_start=None, t_stop=None) -> np.ndarray:
    """A (K, T, N) bool raster on the grid of `dt`, as [`jaxiaf.fit`][]'s `spikes`, from Neo spike trains.

    A spike at `t` falls in step `floor((t - t_start) / dt + 1e-6)` (as [`jaxiaf.spikes_to_raster`][]); the
    grid runs from the trains' `t_start` to their `t_stop` (`T = (t_stop - t_start) / dt`).

    **Arguments:**

    - `spiketrains`: a `neo.SpikeTrain` (K = N = 1); a list of them (one trial of N neurons); a
      `neo.Segment` (its spike trains: one trial); a `neo.Block` (its segments are the K trials); or a list
      of trials, each a Segment or a list of SpikeTrains. Units are honoured (any time unit).
    - `dt`: the layer's time step (s).
    - `t_start`, `t_stop`: optional times (s, or quantities) that every train's must equal, e.g. those of
      the input currents.

    **Raises:** `ValueError` naming `spiketrains` if trains of a trial or trials differ in `t_start`,
    `t_stop` or neuron count, if the duration is not a whole number of steps, or if two spikes of a train
    fall in one step (the raster cannot hold them: use a smaller `dt`); `TypeError` for other objects.
    """
    neo = _neo()
    dt = float(dt)
    trials = _trials(neo, spiketrains, neo.SpikeTrain, "spiketrains")
    trains = [st for trial in trials for st in trial]
    if not trains or len({len(trial) for trial in trials}) != 1:
        counts = [len(trial) for trial in trials]
        raise ValueError(f"`spiketrains`: every trial needs the same number (>= 1) of trains; got {counts}.")
    start = _same("spiketrains", "t_start", [_seconds(st.t_start) for st in trains], _time(t_start))
    stop = _same("spiketrains", "t_stop", [_seconds(st.t_stop) for st in trains], _time(t_stop))
    num_steps = _steps("spiketrains", stop - start, dt)
    rasters = []
    for trial in trials:
        times = [st.times.rescale("s").magnitude for st in trial]
        raster = spikes_to_raster(times, num_steps, dt, start)[..., 0].T
        if raster.sum() != sum(len(t) for t in times):
            raise ValueError(f"`spiketrains`: two spikes of one train fall in one step of dt={dt!r} s.")
        rasters.append(raster)
    return np.stack(rasters)


def traces_from_neo(signals, dt, unit: str = "V", *, name=None, t_start=None) -> np.ndarray:
    """A (K, T, N) float64 array in SI units from Neo analog signals sampled at `dt`: voltage targets for
    [`jaxiaf.fit`][]'s `v` (`unit="V"`) or input currents for its `x` (`unit="A"`).

    No resampling: each signal's sampling period must equal `dt` (to 1e-9 relative).

    **Arguments:**

    - `signals`: a `neo.AnalogSignal` (T, N) (one trial); a `neo.Segment` or `neo.Block` (its segments
      are the trials; `name` picks one signal per segment); or a list of trials (signals or Segments).
    - `dt`: the layer's time step (s).
    - `unit`: `"V"` or `"A"`; the signals are rescaled to it.
    - `name`: the signal's `name` to pick in Segments holding several (a whole word of the name also
      matches: Neo's NWB reader renames signal `v` of segment `trial0` to `"trial0 v 1"`).
    - `t_start`: optional time (s or quantity) that every signal's `t_start` must equal.

    **Raises:** `ValueError` naming `signals` for a unit of another dimension, a sampling period other than
    `dt`, trials of different shapes or starts, or not exactly one signal per trial.
    """
    neo = _neo()
    dt = float(dt)
    if unit not in ("V", "A"):
        raise ValueError(f"`unit` must be 'V' or 'A'; got {unit!r}.")
    trials = _trials(neo, signals, neo.AnalogSignal, "signals", select=name)
    if any(len(trial) != 1 for trial in trials):
        found = [[s.name for s in trial] for trial in trials]
        raise ValueError(f"`signals`: need exactly one signal per trial (pick with `name`); got {found}.")
    picked = [trial[0] for trial in trials]
    periods = [_seconds(s.sampling_period) for s in picked]
    if any(abs(period - dt) > 1e-9 * dt for period in periods):
        raise ValueError(
            f"`signals`: sampled every {sorted(set(periods))} s, not every dt={dt!r} s; jaxiaf does not "
            "resample: resample the signals to dt first (e.g. with neo's AnalogSignal.downsample)."
        )
    _same("signals", "t_start", [_seconds(s.t_start) for s in picked], _time(t_start))
    try:
        arrays = [np.asarray(s.rescale(unit).magnitude, float) for s in picked]
    except ValueError as err:
        raise ValueError(f"`signals` must be in units convertible to {unit}: {err}") from err
    if len({a.shape for a in arrays}) != 1:
        shapes = [a.shape for a in arrays]
        raise ValueError(f"`signals`: every trial needs the same shape (T, N); got {shapes}.")
    return np.stack(arrays)
