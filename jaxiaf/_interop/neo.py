"""Recorded data from Neo (and NWB files through Neo's reader): rasters and traces for [`jaxiaf.fit`][],
and the time series as Neo objects and back. `neo` is imported only when one of these is called.
"""

import numpy as np

from .._fit.driver import spikes_to_raster
from .._rockpool.ts_continuous import TSContinuous
from .._rockpool.ts_event import TSEvent


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

    data, as_list = _listed(neo, data, kind), lambda trial: _listed(neo, trial, kind)
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
    for trial in map(as_list, data):
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


def _listed(neo, value, kind):
    """Neo's own list types (a Block's `segments`, a Segment's `spiketrains`) as plain lists."""
    if isinstance(value, (neo.Block, neo.Segment, kind, list, tuple, str)) or not hasattr(value, "__iter__"):
        return value
    return list(value) if type(value).__module__.split(".")[0] == "neo" else value


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


def is_neo(value) -> bool:
    """Whether `value` is a Neo object, or a (nested) list whose first item is one."""
    while isinstance(value, (list, tuple)) and value:
        value = value[0]
    return type(value).__module__.split(".")[0] == "neo"


def events_to_neo(events: TSEvent) -> list:
    """One `neo.SpikeTrain` per channel of a [`jaxiaf.TSEvent`][] (times in s, its `t_start`/`t_stop`)."""
    neo = _neo()
    import quantities as pq

    return [
        neo.SpikeTrain(
            events.times[events.channels == c] * pq.s,
            t_start=events.t_start * pq.s,
            t_stop=events.t_stop * pq.s,
            name=f"{events.name} {c}",
        )
        for c in range(events.num_channels)
    ]


def events_from_neo(spiketrains, name=None) -> TSEvent:
    """A [`jaxiaf.TSEvent`][] from the spike trains of one trial (a list of `neo.SpikeTrain`s, one per
    channel, or a `neo.Segment`): times in s, the trains' common `t_start` and `t_stop`."""
    neo = _neo()
    trials = _trials(neo, spiketrains, neo.SpikeTrain, "spiketrains")
    if len(trials) != 1 or not trials[0]:
        raise ValueError(f"`spiketrains` must hold one trial of >= 1 trains; got {len(trials)} trials.")
    trains = trials[0]
    start = _same("spiketrains", "t_start", [_seconds(st.t_start) for st in trains])
    stop = _same("spiketrains", "t_stop", [_seconds(st.t_stop) for st in trains])
    times = [np.asarray(st.times.rescale("s").magnitude, float) for st in trains]
    channels = [np.full(len(t), c) for c, t in enumerate(times)]
    return TSEvent(
        np.concatenate(times),
        np.concatenate(channels),
        t_start=start,
        t_stop=stop,
        num_channels=len(trains),
        name=str(trains[0].name) if name is None else name,
    )


def continuous_to_neo(series: TSContinuous, units: str = "dimensionless"):
    """A [`jaxiaf.TSContinuous`][] as a `neo.AnalogSignal` (regular sample times, to 1e-9 of the step)
    or a `neo.IrregularlySampledSignal`, its samples in `units` (a time series carries none: say which)."""
    neo = _neo()
    import quantities as pq

    times = series.times
    steps = np.diff(times)
    if times.size > 1 and np.all(np.abs(steps - steps[0]) <= 1e-9 * steps[0]):
        return neo.AnalogSignal(
            series.samples,
            units=units,
            t_start=times[0] * pq.s,
            sampling_period=steps[0] * pq.s,
            name=series.name,
        )
    return neo.IrregularlySampledSignal(times * pq.s, series.samples, units=units, name=series.name)


def continuous_from_neo(signal, unit=None, name=None) -> TSContinuous:
    """A [`jaxiaf.TSContinuous`][] from a `neo.AnalogSignal` or `neo.IrregularlySampledSignal` (times in
    s; samples in `unit` if given, e.g. `"A"` or `"V"`, else in the signal's own units)."""
    neo = _neo()
    if not isinstance(signal, (neo.AnalogSignal, neo.IrregularlySampledSignal)):
        raise TypeError(
            f"`signal` must be a neo.AnalogSignal or IrregularlySampledSignal; got {type(signal).__name__}."
        )
    try:
        samples = signal if unit is None else signal.rescale(unit)
    except ValueError as err:
        raise ValueError(f"`signal` must be in units convertible to {unit}: {err}") from err
    return TSContinuous(
        np.asarray(signal.times.rescale("s").magnitude, float),
        np.asarray(samples.magnitude, float),
        t_start=_seconds(signal.t_start),
        t_stop=_seconds(signal.t_stop),
        name=str(signal.name) if name is None else name,
    )
