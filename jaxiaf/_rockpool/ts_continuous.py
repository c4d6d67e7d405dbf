"""`TSContinuous`: a sampled continuous signal (see `jaxiaf._rockpool.timeseries` for the sampling rules)."""

import numpy as np
from numpy.typing import ArrayLike

from .timebase import count as _count
from .timebase import seconds as _seconds
from .timebase import time_array as _time_array
from .ts_common import INTERP_KINDS as _INTERP_KINDS
from .ts_common import TimeSpan, _channel_columns, _number_array, _readonly
from .ts_neo import continuous_from_neo, continuous_to_neo


class TSContinuous(TimeSpan):
    """A sampled continuous signal with `N` channels.

    The signal is defined on `[t_start, t_stop]`; calling the series samples it there (see
    `__call__`). Arrays are stored as read-only copies.
    """

    def __init__(
        self,
        times: ArrayLike | None = None,
        samples: ArrayLike | None = None,
        num_channels: int | None = None,
        periodic: bool = False,
        t_start: float | None = None,
        t_stop: float | None = None,
        name: str = "unnamed",
        interp_kind: str = "previous",
        fill_value: float | str = "extrapolate",
    ):
        """**Arguments:**

        - `times`: sample times, shape `(T,)`, in s, non-decreasing. Give together with `samples`;
            leave both out for an empty series.
        - `samples`: sample values, shape `(T, N)`; shape `(T,)` is taken as `(T, 1)`. Non-float
            values are converted to float64.
        - `num_channels`: `N`; must match `samples` if both are given. Sets the width of an empty
            series (default 0).
        - `periodic`: if `True`, sampling wraps times into `[t_start, t_stop)` with period
            `t_stop - t_start`, which must then be > 0.
        - `t_start`: start of the series, in s, `<= times[0]`. Default `times[0]` (0 if empty).
        - `t_stop`: end of the series, in s, `>= times[-1]` and `>= t_start`. Default `times[-1]`
            (`t_start` if empty).
        - `name`: name of the series.
        - `interp_kind`: `"previous"` (hold the last sample) or `"linear"`.
        - `fill_value`: value for times inside `[t_start, t_stop]` that the samples do not
            determine: before `times[0]` for both kinds, after `times[-1]` for `"linear"`, and
            everywhere for a series without samples. `"extrapolate"` extends the first or last
            segment linearly for `"linear"` (a single sample is held constant) and gives NaN
            otherwise (before the first sample for `"previous"`, or without samples).
        """
        if (times is None) != (samples is None):
            missing = "samples" if samples is None else "times"
            raise ValueError(f"`times` and `samples` must be given together; `{missing}` is missing.")
        times, samples = _times_and_samples(times, samples, num_channels)
        if t_start is None:
            t_start = float(times[0]) if times.size else 0.0
        t_start = _seconds("t_start", t_start)
        if t_stop is None:
            t_stop = float(times[-1]) if times.size else t_start
        t_stop = _seconds("t_stop", t_stop)
        if times.size and t_start > times[0]:
            raise ValueError(f"`t_start` ({t_start}) must be <= the first sample time ({times[0]}).")
        if t_stop < t_start:
            raise ValueError(f"`t_stop` ({t_stop}) must be >= `t_start` ({t_start}).")
        if times.size and t_stop < times[-1]:
            raise ValueError(f"`t_stop` ({t_stop}) must be >= the last sample time ({times[-1]}).")
        if periodic and t_stop == t_start:
            raise ValueError(f"`periodic=True` needs `t_stop` > `t_start`; both are {t_start}.")
        if interp_kind not in _INTERP_KINDS:
            raise ValueError(f"`interp_kind` must be one of {_INTERP_KINDS}; got {interp_kind!r}.")
        if isinstance(fill_value, str):
            if fill_value != "extrapolate":
                raise ValueError(f"`fill_value` must be 'extrapolate' or a real scalar; got {fill_value!r}.")
        elif np.ndim(fill_value) != 0 or not np.isrealobj(fill_value):
            raise ValueError(f"`fill_value` must be 'extrapolate' or a real scalar; got {fill_value!r}.")

        self._times = _readonly(times)
        self._samples = _readonly(samples)
        self._t_start = t_start
        self._t_stop = t_stop
        self._periodic = bool(periodic)
        self._interp_kind = interp_kind
        self._fill_value = fill_value
        self.name = name

    @classmethod
    def from_clocked(
        cls,
        samples: ArrayLike,
        dt: float,
        t_start: float = 0.0,
        periodic: bool = False,
        name: str | None = None,
        interp_kind: str = "previous",
    ) -> "TSContinuous":
        """Build a series from samples taken on a regular clock.

        Sample `k` is at `t_start + k * dt` (computed as `t_start + np.arange(T) * dt`) and
        `t_stop = t_start + T * dt`, so the last sample holds over its whole bin.

        **Arguments:**

        - `samples`: sample values, shape `(T, N)` or `(T,)`.
        - `dt`: clock period, in s, > 0.
        - `t_start`: time of the first sample, in s.
        - `periodic`: whether the series repeats with period `T * dt`.
        - `name`: name of the series (default `"unnamed"`).
        - `interp_kind`: `"previous"` or `"linear"`.

        **Returns:**

        A `TSContinuous` with `T` samples.
        """
        dt = _seconds("dt", dt, positive=True)
        t_start = _seconds("t_start", t_start)
        samples = np.atleast_1d(np.asarray(samples))
        num_steps = samples.shape[0]
        return cls(
            t_start + np.arange(num_steps) * dt,
            samples,
            periodic=periodic,
            t_start=t_start,
            t_stop=t_start + num_steps * dt,
            name="unnamed" if name is None else name,
            interp_kind=interp_kind,
        )

    def to_neo(self, units: str = "dimensionless"):
        """A `neo.AnalogSignal` (regular sample times) or `neo.IrregularlySampledSignal`, its samples in
        `units` (e.g. `"A"`: a series carries no unit); needs `neo` (the `interop` extra)."""
        return continuous_to_neo(self, units)

    @classmethod
    def from_neo(cls, signal, unit: str | None = None, name: str | None = None) -> "TSContinuous":
        """The series of a `neo.AnalogSignal` or `neo.IrregularlySampledSignal`: times in s, samples in
        `unit` if given (e.g. `"A"`), else in the signal's units."""
        return continuous_from_neo(cls, signal, unit, name)

    @property
    def times(self) -> np.ndarray:
        """Sample times, shape `(T,)`, in s (read-only)."""
        return self._times

    @property
    def samples(self) -> np.ndarray:
        """Sample values, shape `(T, N)` (read-only)."""
        return self._samples

    @property
    def num_channels(self) -> int:
        """Number of channels `N`."""
        return self._samples.shape[1]

    @property
    def num_traces(self) -> int:
        """Alias of `num_channels`."""
        return self.num_channels

    @property
    def periodic(self) -> bool:
        """Whether sampling wraps times into `[t_start, t_stop)`."""
        return self._periodic

    @property
    def interp_kind(self) -> str:
        """`"previous"` or `"linear"`."""
        return self._interp_kind

    @property
    def fill_value(self) -> float | str:
        """Value for undetermined times inside the series, or `"extrapolate"`."""
        return self._fill_value

    def isempty(self) -> bool:
        """True if the series holds no sample values (no samples or no channels)."""
        return self._samples.size == 0

    def contains(self, times: ArrayLike) -> bool:
        """Whether the series is defined at every one of `times`.

        **Arguments:**

        - `times`: scalar or array of times, in s.

        **Returns:**

        True if every time lies in `[t_start, t_stop]`, or, for a periodic series, is finite.
        """
        t = np.asarray(times, dtype=np.float64)
        if self._periodic:
            return bool(np.all(np.isfinite(t)))
        return bool(np.all((t >= self._t_start) & (t <= self._t_stop)))

    def __call__(self, times: ArrayLike) -> np.ndarray:
        """Sample the series.

        `"previous"` returns the last sample at a time `<= t` (the last one among equal times),
        exactly. `"linear"` interpolates between neighbouring samples and returns a sample exactly
        at its own time. Times outside `[t_start, t_stop]` give NaN; a periodic series first wraps
        every time into `[t_start, t_stop)`. See `fill_value` for times the samples do not cover.

        **Arguments:**

        - `times`: scalar or 1-D array of times, shape `(M,)`, in s.

        **Returns:**

        Sampled values, shape `(M, N)` (`M = 1` for a scalar).
        """
        t = np.asarray(times, dtype=np.float64)
        if t.ndim > 1:
            raise ValueError(f"`times` must be a scalar or a 1-D array of shape (M,); got shape {t.shape}.")
        t = np.atleast_1d(t)
        if self._periodic:
            t = self._wrap(t)
        values = np.full((t.size, self.num_channels), np.nan, dtype=self._samples.dtype)
        inside = (t >= self._t_start) & (t <= self._t_stop)
        if self._times.size:
            values[inside] = self._interpolate(t[inside])
        elif not isinstance(self._fill_value, str):
            values[inside] = self._fill_value
        return values

    def _wrap(self, t: np.ndarray) -> np.ndarray:
        """Times `t` wrapped into `[t_start, t_stop)`; non-finite times become NaN."""
        period = self.duration
        with np.errstate(invalid="ignore"):
            offset = np.mod(t - self._t_start, period)
        return self._t_start + np.where(offset >= period, 0.0, offset)

    def _interpolate(self, t: np.ndarray) -> np.ndarray:
        """Values at times `t` inside `[t_start, t_stop]`, shape `(len(t), N)`; needs T >= 1."""
        times, samples = self._times, self._samples
        index = np.searchsorted(times, t, side="right") - 1
        fill = np.nan if isinstance(self._fill_value, str) else self._fill_value
        if self._interp_kind == "previous":
            values = samples[np.maximum(index, 0)]
            values[index < 0] = fill
            return values

        if times.size == 1:
            values = np.repeat(samples, t.size, axis=0)
        else:
            left = np.clip(index, 0, times.size - 2)
            t0, t1 = times[left], times[left + 1]
            span = t1 - t0
            frac = np.divide(t - t0, span, out=np.ones_like(t), where=span > 0)[:, None]
            with np.errstate(invalid="ignore"):
                values = ((1.0 - frac) * samples[left] + frac * samples[left + 1]).astype(samples.dtype)
        exact = (index >= 0) & (times[np.maximum(index, 0)] == t)
        values[exact] = samples[index[exact]]
        if not isinstance(self._fill_value, str):
            values[(t < times[0]) | (t > times[-1])] = fill
        return values

    def clip(self, t_start: float | None = None, t_stop: float | None = None) -> "TSContinuous":
        """Restrict the series to a window inside `[self.t_start, self.t_stop]`.

        Samples in `(t_start, t_stop]` are kept, and samples with values `self(t_start)` and (for
        `"linear"`) `self(t_stop)` are added at the window edges where needed, so that the clipped
        series gives the same values inside the window: exactly for `"previous"`, up to rounding
        for `"linear"`. The result is not periodic.

        **Arguments:**

        - `t_start`: start of the window, in s (default `self.t_start`).
        - `t_stop`: end of the window, in s, `>= t_start` (default `self.t_stop`).

        **Returns:**

        A new `TSContinuous` on `[t_start, t_stop]`.
        """
        start = self._t_start if t_start is None else _seconds("t_start", t_start)
        stop = self._t_stop if t_stop is None else _seconds("t_stop", t_stop)
        if stop < start:
            raise ValueError(f"`t_stop` ({stop}) must be >= `t_start` ({start}).")
        if start < self._t_start or stop > self._t_stop:
            raise ValueError(
                f"`t_start` and `t_stop` must lie in [{self._t_start}, {self._t_stop}]; "
                f"got [{start}, {stop}]."
            )
        times, samples = self._times, self._samples
        keep = (times > start) & (times <= stop)
        new_times, new_samples = times[keep], samples[keep]
        if times.size:
            linear = self._interp_kind == "linear"
            extrapolate = linear and isinstance(self._fill_value, str)
            if start >= times[0] or extrapolate:
                new_times = np.concatenate([[start], new_times])
                new_samples = np.concatenate([self(start), new_samples])
            after_last = new_times.size == 0 or stop > new_times[-1]
            if linear and (stop <= times[-1] or extrapolate) and after_last:
                new_times = np.append(new_times, stop)
                new_samples = np.concatenate([new_samples, self(stop)])
        return TSContinuous(
            new_times,
            new_samples,
            num_channels=self.num_channels,
            t_start=start,
            t_stop=stop,
            name=self.name,
            interp_kind=self._interp_kind,
            fill_value=self._fill_value,
        )

    def delay(self, offset: float) -> "TSContinuous":
        """Shift the series in time.

        **Arguments:**

        - `offset`: shift, in s, added to `times`, `t_start` and `t_stop`.

        **Returns:**

        A new, shifted `TSContinuous`.
        """
        offset = _seconds("offset", offset)
        return TSContinuous(
            self._times + offset,
            self._samples,
            num_channels=self.num_channels,
            periodic=self._periodic,
            t_start=self._t_start + offset,
            t_stop=self._t_stop + offset,
            name=self.name,
            interp_kind=self._interp_kind,
            fill_value=self._fill_value,
        )

    def copy(self) -> "TSContinuous":
        """An independent copy of the series.

        **Returns:**

        A new `TSContinuous` with the same data.
        """
        return TSContinuous(
            self._times,
            self._samples,
            num_channels=self.num_channels,
            periodic=self._periodic,
            t_start=self._t_start,
            t_stop=self._t_stop,
            name=self.name,
            interp_kind=self._interp_kind,
            fill_value=self._fill_value,
        )

    def plot(self, times: ArrayLike | None = None, target=None, channels=None, **kwargs) -> list:
        """Plot the series with matplotlib.

        `"previous"` series are drawn as steps (the last sample extended to `t_stop`), `"linear"`
        series as straight segments.

        **Arguments:**

        - `times`: times to sample and plot, shape `(M,)`, in s (default: the sample times).
        - `target`: matplotlib axes to draw into (default: the current axes).
        - `channels`: channel index or sequence of indices to plot (default: all).
        - `**kwargs`: passed on to `Axes.step` or `Axes.plot`.

        **Returns:**

        The list of `Line2D` artists, one per plotted channel.
        """
        import matplotlib.pyplot as plt

        axes = plt.gca() if target is None else target
        columns = _channel_columns(channels, self.num_channels)
        if times is None:
            t = self._times
            values = self._samples[:, columns]
            if self._interp_kind == "previous" and t.size and self._t_stop > t[-1]:
                t = np.append(t, self._t_stop)
                values = np.concatenate([values, values[-1:]])
        else:
            t = np.atleast_1d(np.asarray(times, dtype=np.float64))
            values = self(t)[:, columns]
        if self._interp_kind == "previous":
            return axes.step(t, values, where="post", **kwargs)
        return axes.plot(t, values, **kwargs)

    def __repr__(self) -> str:
        return (
            f"TSContinuous(name={self.name!r}, t_start={self._t_start}, t_stop={self._t_stop}, "
            f"num_samples={self._times.size}, num_channels={self.num_channels}, "
            f"interp_kind={self._interp_kind!r}, periodic={self._periodic})"
        )


def _times_and_samples(times, samples, num_channels) -> tuple[np.ndarray, np.ndarray]:
    """`(T,)` checked times (s) and `(T, N)` samples (float unless complex) of a series; without
    samples, `(0,)` and `(0, num_channels or 0)`."""
    if times is None:
        width = 0 if num_channels is None else _count("num_channels", num_channels)
        return np.zeros(0), np.zeros((0, width))
    times = _time_array("times", times)
    samples = np.atleast_1d(_number_array(samples, "samples"))
    if samples.ndim == 1:
        samples = samples[:, None]
    if samples.ndim != 2:
        raise ValueError(f"`samples` must have shape (T,) or (T, N); got shape {samples.shape}.")
    if samples.shape[0] != times.shape[0]:
        raise ValueError(
            f"`samples` and `times` must have the same length T: `samples` has shape "
            f"{samples.shape} but `times` has shape {times.shape}."
        )
    if num_channels is not None and samples.shape[1] != _count("num_channels", num_channels):
        raise ValueError(
            f"`num_channels` is {num_channels} but `samples` has shape {samples.shape} "
            f"({samples.shape[1]} channels)."
        )
    if np.any(np.diff(times) < 0):
        raise ValueError("`times` must be non-decreasing.")
    if not np.issubdtype(samples.dtype, np.inexact):
        samples = samples.astype(np.float64)
    return times, samples
