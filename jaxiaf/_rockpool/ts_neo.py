"""The time series as Neo objects and back (`neo` is imported only when one of these is called), and the
helpers that read Neo's containers (also used by `jaxiaf._interop.neo`'s readers for fits).

The converters take the time series class (`cls`) to build, so that the time series modules import this
one and not the other way round.
"""

import numpy as np

T_STOP = "jaxiaf_t_stop"
"""The annotation of a Neo signal that keeps a [`jaxiaf.TSContinuous`][]'s `t_stop` (s)."""


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


def _same(name: str, what: str, values: list, expected=None) -> float:
    """The common value of `values` (and `expected` if given), within 1e-9 of dt-scale rounding."""
    reference = values[0] if expected is None else float(expected)
    if any(abs(v - reference) > 1e-9 * max(abs(reference), 1e-3) for v in values):
        raise ValueError(f"`{name}`: {what} differ: {sorted(set(values))[:5]} (expected {reference!r}) s.")
    return reference


def events_to_neo(events) -> list:
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


def events_from_neo(cls, spiketrains, name=None):
    """A `cls` ([`jaxiaf.TSEvent`][]) from the spike trains of one trial (a list of `neo.SpikeTrain`s, one per
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
    return cls(
        np.concatenate(times),
        np.concatenate(channels),
        t_start=start,
        t_stop=stop,
        num_channels=len(trains),
        name=str(trains[0].name) if name is None else name,
    )


def continuous_to_neo(series, units: str = "dimensionless"):
    """A [`jaxiaf.TSContinuous`][] as a `neo.AnalogSignal` (regular sample times, to 1e-9 of the step)
    or a `neo.IrregularlySampledSignal`, its samples in `units` (a time series carries none: say which);
    the series' `t_stop` (s) is kept in the annotation `jaxiaf_t_stop` (Neo's own ends after the last
    sample)."""
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
            **{T_STOP: series.t_stop},
        )
    return neo.IrregularlySampledSignal(
        times * pq.s, series.samples, units=units, name=series.name, **{T_STOP: series.t_stop}
    )


def continuous_from_neo(cls, signal, unit=None, name=None):
    """A `cls` ([`jaxiaf.TSContinuous`][]) from a `neo.AnalogSignal` or `neo.IrregularlySampledSignal`
    (times in s; samples in `unit` if given, e.g. `"A"` or `"V"`, else in the signal's own units;
    `t_stop` from the annotation `jaxiaf_t_stop` if present, else Neo's)."""
    neo = _neo()
    if not isinstance(signal, (neo.AnalogSignal, neo.IrregularlySampledSignal)):
        raise TypeError(
            f"`signal` must be a neo.AnalogSignal or IrregularlySampledSignal; got {type(signal).__name__}."
        )
    try:
        samples = signal if unit is None else signal.rescale(unit)
    except ValueError as err:
        raise ValueError(f"`signal` must be in units convertible to {unit}: {err}") from err
    return cls(
        np.asarray(signal.times.rescale("s").magnitude, float),
        np.asarray(samples.magnitude, float),
        t_start=_seconds(signal.t_start),
        t_stop=float(signal.annotations.get(T_STOP, _seconds(signal.t_stop))),
        name=str(signal.name) if name is None else name,
    )
