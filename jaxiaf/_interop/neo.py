"""Recorded data from Neo (and NWB files through Neo's reader): rasters and traces for [`jaxiaf.fit`][].
`neo` is imported only when one of these is called. (The time series' own Neo converters are in
`jaxiaf._rockpool.ts_neo`.)
"""

import numpy as np

from .._rockpool.timebase import spikes_to_raster
from .._rockpool.ts_neo import _neo, _same, _seconds, _time, _trials


def _dt(dt) -> float:
    """The time step as a float; `ValueError` naming `dt` unless finite and > 0."""
    value = float(dt)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"`dt` must be finite and > 0 (s); got {dt!r}.")
    return value


def _steps(name: str, duration: float, dt: float) -> int:
    num_steps = round(duration / dt)
    if num_steps < 1 or abs(num_steps * dt - duration) > 1e-9 * max(duration, dt):
        raise ValueError(
            f"`{name}`: its duration {duration!r} s is not a whole number of steps of dt={dt!r} s."
        )
    return num_steps


def spikes_from_neo(spiketrains, dt: float, *, t_start=None, t_stop=None) -> np.ndarray:
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
    dt = _dt(dt)
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
        late = [t for train in times for t in train if np.floor((t - start) / dt + 1e-6) >= num_steps]
        if late:
            raise ValueError(
                f"`spiketrains`: a spike at t = {float(late[0])!r} s falls in no step of the grid "
                f"[t_start, t_stop) = [{start!r}, {stop!r}) s of dt={dt!r} s (Neo allows a spike at t_stop; "
                "the last step ends there): give the trains a t_stop one step later, or drop the spike."
            )
        raster = spikes_to_raster(times, num_steps, dt, start)[..., 0].T
        if raster.sum() != sum(len(t) for t in times):
            raise ValueError(f"`spiketrains`: two spikes of one train fall in one step of dt={dt!r} s.")
        rasters.append(raster)
    return np.stack(rasters)


def traces_from_neo(
    signals, dt: float, unit: str = "V", *, name: str | None = None, t_start=None
) -> np.ndarray:
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
    dt = _dt(dt)
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
