"""Time series containers: sampled continuous signals (`TSContinuous`) and events (`TSEvent`).

Plain NumPy containers modelled on the interface of `rockpool.timeseries`. Sampling and
rasterisation follow exact, documented rules:

- `TSContinuous` with `interp_kind="previous"` returns the last sample at a time `<= t`, found with
  `np.searchsorted(times, t, side="right") - 1`; no tolerance is applied.
- `TSEvent.raster` puts an event at time `t` into bin `floor((t - t_start) / dt + 1e-6)`, so events
  placed at bin starts `t_start + k * dt` or bin centres `t_start + (k + 0.5) * dt` (computed in
  floating point) land in bin `k`.

matplotlib is imported only inside the `plot` methods.
"""

import operator

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["TSContinuous", "TSEvent"]

_INTERP_KINDS = ("previous", "linear")

# Tolerance, in bins, that absorbs floating-point error when mapping event times to raster bins.
_BIN_TOL = 1e-6


def _finite_scalar(value, name: str) -> float:
    """`value` as a Python float; `ValueError` naming `name` unless it is a finite real scalar."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a finite real scalar; got {value!r}.") from None
    if array.ndim != 0 or not np.isfinite(array):
        raise ValueError(f"`{name}` must be a finite real scalar; got {value!r}.")
    return float(array)


def _positive_scalar(value, name: str) -> float:
    """`value` as a Python float; `ValueError` naming `name` unless it is finite and > 0."""
    result = _finite_scalar(value, name)
    if result <= 0:
        raise ValueError(f"`{name}` must be finite and > 0; got {value!r}.")
    return result


def _count(value, name: str) -> int:
    """`value` as a Python int; `ValueError` naming `name` unless it is an integer >= 0."""
    try:
        result = operator.index(value)
    except TypeError:
        raise ValueError(f"`{name}` must be an integer >= 0; got {value!r}.") from None
    if result < 0:
        raise ValueError(f"`{name}` must be an integer >= 0; got {value!r}.")
    return result


def _time_array(values, name: str) -> np.ndarray:
    """`values` as a fresh 1-D float64 array; `ValueError` naming `name` unless 1-D and finite."""
    array = np.atleast_1d(np.array(values, dtype=np.float64))
    if array.ndim != 1:
        raise ValueError(f"`{name}` must be a scalar or a 1-D array of shape (T,); got shape {array.shape}.")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"`{name}` must contain only finite times (in s); it contains NaN or inf.")
    return array


def _count_array(values, name: str) -> np.ndarray:
    """`values` as an int64 array; `ValueError` naming `name` unless every entry is an integer >= 0."""
    array = np.asarray(values)
    if array.dtype == np.bool_:
        return array.astype(np.int64)
    if np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array) & (array == np.round(array))):
            raise ValueError(f"`{name}` must hold integers >= 0; it contains non-integer values.")
    elif not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"`{name}` must hold integers >= 0; got dtype {array.dtype}.")
    if np.any(array < 0):
        raise ValueError(f"`{name}` must hold integers >= 0; its minimum is {array.min()}.")
    return array.astype(np.int64)


def _channel_columns(channels, num_channels: int) -> np.ndarray:
    """Indices of the selected channels (all of them for `None`); `ValueError` if any is out of range."""
    if channels is None:
        return np.arange(num_channels)
    columns = np.atleast_1d(np.asarray(channels))
    if columns.ndim != 1 or not np.issubdtype(columns.dtype, np.integer):
        raise ValueError(f"`channels` must be an integer or a 1-D sequence of integers; got {channels!r}.")
    if np.any(columns < 0) or np.any(columns >= num_channels):
        raise ValueError(f"`channels` must lie in [0, {num_channels}); got {columns.tolist()}.")
    return columns


def _readonly(array: np.ndarray) -> np.ndarray:
    """`array`, marked read-only so that a series cannot be changed behind its back."""
    array.setflags(write=False)
    return array


class TSContinuous:
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
        if times is None:
            width = 0 if num_channels is None else _count(num_channels, "num_channels")
            times = np.zeros(0)
            samples = np.zeros((0, width))
        else:
            times = _time_array(times, "times")
            samples = np.atleast_1d(np.array(samples))
            if samples.ndim == 1:
                samples = samples[:, None]
            if samples.ndim != 2:
                raise ValueError(f"`samples` must have shape (T,) or (T, N); got shape {samples.shape}.")
            if samples.shape[0] != times.shape[0]:
                raise ValueError(
                    f"`samples` and `times` must have the same length T: `samples` has shape "
                    f"{samples.shape} but `times` has shape {times.shape}."
                )
            if num_channels is not None and samples.shape[1] != _count(num_channels, "num_channels"):
                raise ValueError(
                    f"`num_channels` is {num_channels} but `samples` has shape {samples.shape} "
                    f"({samples.shape[1]} channels)."
                )
            if np.any(np.diff(times) < 0):
                raise ValueError("`times` must be non-decreasing.")
            if not np.issubdtype(samples.dtype, np.inexact):
                samples = samples.astype(np.float64)

        if t_start is None:
            t_start = float(times[0]) if times.size else 0.0
        t_start = _finite_scalar(t_start, "t_start")
        if t_stop is None:
            t_stop = float(times[-1]) if times.size else t_start
        t_stop = _finite_scalar(t_stop, "t_stop")
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
        dt = _positive_scalar(dt, "dt")
        t_start = _finite_scalar(t_start, "t_start")
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

    @property
    def times(self) -> np.ndarray:
        """Sample times, shape `(T,)`, in s (read-only)."""
        return self._times

    @property
    def samples(self) -> np.ndarray:
        """Sample values, shape `(T, N)` (read-only)."""
        return self._samples

    @property
    def t_start(self) -> float:
        """Start of the series, in s."""
        return self._t_start

    @property
    def t_stop(self) -> float:
        """End of the series, in s."""
        return self._t_stop

    @property
    def duration(self) -> float:
        """`t_stop - t_start`, in s."""
        return self._t_stop - self._t_start

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
        start = self._t_start if t_start is None else _finite_scalar(t_start, "t_start")
        stop = self._t_stop if t_stop is None else _finite_scalar(t_stop, "t_stop")
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
        offset = _finite_scalar(offset, "offset")
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


class TSEvent:
    """Discrete events (spikes), each at a time on an integer channel.

    Events lie in `[t_start, t_stop)` and are kept sorted by time, then by channel. Arrays are
    stored as read-only copies.
    """

    def __init__(
        self,
        times: ArrayLike | None = None,
        channels: ArrayLike | int | None = None,
        periodic: bool = False,
        t_start: float | None = None,
        t_stop: float | None = None,
        name: str = "unnamed",
        num_channels: int | None = None,
    ):
        """**Arguments:**

        - `times`: event times, shape `(M,)`, in s, in any order (default: no events).
        - `channels`: event channels, shape `(M,)`, integers >= 0; a scalar applies to every event
            (default: channel 0).
        - `periodic`: if `True`, the events repeat with period `t_stop - t_start` (> 0) when
            rasterising or clipping outside `[t_start, t_stop)`.
        - `t_start`: start of the series, in s. Default: the earliest event (0 if none).
        - `t_stop`: end of the series, in s, exclusive. Default: just after the latest event
            (`np.nextafter(max(times), inf)`), or `t_start` if there are no events.
        - `name`: name of the series.
        - `num_channels`: number of channels, > every channel. Default `max(channels) + 1` (0 if
            there are no events).

        Every event must satisfy `t_start <= time < t_stop`.
        """
        times = np.zeros(0) if times is None else _time_array(times, "times")
        if channels is None:
            channels = np.zeros(times.shape, dtype=np.int64)
        else:
            channels = np.asarray(channels)
            if channels.ndim == 0:
                channels = np.full(times.shape, channels)
            if channels.shape != times.shape:
                raise ValueError(
                    f"`channels` must be a scalar or have the shape of `times`: `channels` has shape "
                    f"{channels.shape} but `times` has shape {times.shape}."
                )
            channels = _count_array(channels, "channels")
        order = np.lexsort((channels, times))
        times, channels = times[order], channels[order]

        if num_channels is None:
            num_channels = int(channels.max()) + 1 if channels.size else 0
        else:
            num_channels = _count(num_channels, "num_channels")
            if channels.size and channels.max() >= num_channels:
                raise ValueError(
                    f"`channels` must be < `num_channels` ({num_channels}); got channel {channels.max()}."
                )

        if t_start is None:
            t_start = float(times[0]) if times.size else 0.0
        t_start = _finite_scalar(t_start, "t_start")
        if t_stop is None:
            t_stop = float(np.nextafter(times[-1], np.inf)) if times.size else t_start
        t_stop = _finite_scalar(t_stop, "t_stop")
        if times.size and times[0] < t_start:
            raise ValueError(
                f"`times` must lie in [`t_start`, `t_stop`) = [{t_start}, {t_stop}); "
                f"the earliest event is at {times[0]}."
            )
        if t_stop < t_start:
            raise ValueError(f"`t_stop` ({t_stop}) must be >= `t_start` ({t_start}).")
        if times.size and times[-1] >= t_stop:
            raise ValueError(
                f"`times` must lie in [`t_start`, `t_stop`) = [{t_start}, {t_stop}); "
                f"the latest event is at {times[-1]}."
            )
        if periodic and t_stop == t_start:
            raise ValueError(f"`periodic=True` needs `t_stop` > `t_start`; both are {t_start}.")

        self._times = _readonly(times)
        self._channels = _readonly(channels)
        self._t_start = t_start
        self._t_stop = t_stop
        self._periodic = bool(periodic)
        self._num_channels = num_channels
        self.name = name

    @classmethod
    def from_raster(
        cls,
        raster: ArrayLike,
        dt: float,
        t_start: float = 0.0,
        name: str | None = None,
        periodic: bool = False,
        num_channels: int | None = None,
        spikes_at_bin_start: bool = False,
    ) -> "TSEvent":
        """Build events from a raster; the inverse of `raster`.

        Each count `c` in bin `k`, channel `n` becomes `c` events on channel `n` at
        `t_start + (k + 0.5) * dt` (bin centre), or `t_start + k * dt` with
        `spikes_at_bin_start=True`. `t_stop = t_start + T * dt`.

        **Arguments:**

        - `raster`: event counts, shape `(T, N)` or `(T,)`: booleans or integers >= 0.
        - `dt`: bin width, in s, > 0.
        - `t_start`: start of the first bin, in s.
        - `name`: name of the series (default `"unnamed"`).
        - `periodic`: whether the events repeat with period `T * dt`.
        - `num_channels`: number of channels, >= `N` (default `N`).
        - `spikes_at_bin_start`: place events at bin starts instead of bin centres.

        **Returns:**

        A `TSEvent` with `raster.sum()` events.
        """
        raster = np.asarray(raster)
        if raster.ndim == 1:
            raster = raster[:, None]
        if raster.ndim != 2:
            raise ValueError(f"`raster` must have shape (T, N) or (T,); got shape {raster.shape}.")
        counts = _count_array(raster, "raster")
        dt = _positive_scalar(dt, "dt")
        t_start = _finite_scalar(t_start, "t_start")
        num_steps, width = counts.shape
        if num_channels is None:
            num_channels = width
        elif _count(num_channels, "num_channels") < width:
            raise ValueError(
                f"`num_channels` ({num_channels}) must be >= the number of raster columns ({width})."
            )
        steps, channels = np.nonzero(counts)
        repeats = counts[steps, channels]
        steps, channels = np.repeat(steps, repeats), np.repeat(channels, repeats)
        offset = 0.0 if spikes_at_bin_start else 0.5
        return cls(
            t_start + (steps + offset) * dt,
            channels,
            periodic=periodic,
            t_start=t_start,
            t_stop=t_start + num_steps * dt,
            name="unnamed" if name is None else name,
            num_channels=num_channels,
        )

    @property
    def times(self) -> np.ndarray:
        """Event times, shape `(M,)`, in s, sorted (read-only)."""
        return self._times

    @property
    def channels(self) -> np.ndarray:
        """Event channels, shape `(M,)`, int64 (read-only)."""
        return self._channels

    @property
    def t_start(self) -> float:
        """Start of the series, in s."""
        return self._t_start

    @property
    def t_stop(self) -> float:
        """End of the series, in s (exclusive)."""
        return self._t_stop

    @property
    def duration(self) -> float:
        """`t_stop - t_start`, in s."""
        return self._t_stop - self._t_start

    @property
    def num_channels(self) -> int:
        """Number of channels."""
        return self._num_channels

    @property
    def periodic(self) -> bool:
        """Whether the events repeat with period `t_stop - t_start`."""
        return self._periodic

    def isempty(self) -> bool:
        """True if the series holds no events."""
        return self._times.size == 0

    def _unrolled(self, t_start: float, t_stop: float) -> tuple[np.ndarray, np.ndarray]:
        """Event times and channels covering `[t_start, t_stop)`: periodic events repeated, with a
        period of margin on each side; all events otherwise."""
        if not self._periodic or self.isempty():
            return self._times, self._channels
        period = self.duration
        first = int(np.floor((t_start - self._t_start) / period)) - 1
        last = int(np.ceil((t_stop - self._t_start) / period)) + 1
        offsets = np.arange(first, last + 1) * period
        times = (self._times[None, :] + offsets[:, None]).ravel()
        return times, np.tile(self._channels, offsets.size)

    def raster(
        self,
        dt: float,
        t_start: float | None = None,
        t_stop: float | None = None,
        num_timesteps: int | None = None,
        channels=None,
        add_events: bool = False,
    ) -> np.ndarray:
        """Bin the events on a regular clock.

        Bin `k` covers `[t_start + k * dt, t_start + (k + 1) * dt)`; an event at `t` goes to bin
        `floor((t - t_start) / dt + 1e-6)`, which absorbs floating-point error for events at bin
        starts. Events whose bin falls outside `[0, T)` are left out. `T` is `num_timesteps` if
        given, else `ceil((t_stop - t_start) / dt - 1e-6)`; with neither `t_stop` nor
        `num_timesteps` given, `T` is also large enough to hold every event of the series.
        Periodic series repeat their events to fill the window.

        **Arguments:**

        - `dt`: bin width, in s, > 0.
        - `t_start`: start of the first bin, in s (default `self.t_start`).
        - `t_stop`: end of the raster, in s (default `self.t_stop`). Give at most one of `t_stop`
            and `num_timesteps`.
        - `num_timesteps`: number of bins `T`.
        - `channels`: channel index or sequence of indices to include, in that order (default:
            all `num_channels` channels).
        - `add_events`: count events per bin instead of flagging them.

        **Returns:**

        Array of shape `(T, C)` for `C` selected channels: bool (any event in the bin), or int64
        event counts with `add_events=True`.
        """
        dt = _positive_scalar(dt, "dt")
        start = self._t_start if t_start is None else _finite_scalar(t_start, "t_start")
        if t_stop is not None and num_timesteps is not None:
            raise ValueError("Give at most one of `t_stop` and `num_timesteps`.")
        if num_timesteps is not None:
            num_steps = _count(num_timesteps, "num_timesteps")
            stop = start + num_steps * dt
        else:
            stop = self._t_stop if t_stop is None else _finite_scalar(t_stop, "t_stop")
            if stop < start:
                raise ValueError(f"`t_stop` ({stop}) must be >= `t_start` ({start}).")
            num_steps = max(int(np.ceil((stop - start) / dt - _BIN_TOL)), 0)
            if t_stop is None and self._times.size:
                num_steps = max(num_steps, int(self._bins(self._times, start, dt).max()) + 1)
        columns = _channel_columns(channels, self._num_channels)

        times, event_channels = self._unrolled(start, stop)
        bins = self._bins(times, start, dt)
        keep = (bins >= 0) & (bins < num_steps)
        flat = bins[keep] * self._num_channels + event_channels[keep]
        counts = np.bincount(flat, minlength=num_steps * self._num_channels)
        counts = counts.reshape(num_steps, self._num_channels)[:, columns]
        return counts if add_events else counts > 0

    @staticmethod
    def _bins(times: np.ndarray, t_start: float, dt: float) -> np.ndarray:
        """Raster bin index of each of `times`, int64."""
        return np.floor((times - t_start) / dt + _BIN_TOL).astype(np.int64)

    def clip(self, t_start: float | None = None, t_stop: float | None = None) -> "TSEvent":
        """Keep the events in `[t_start, t_stop)`.

        A periodic series is repeated to fill the window; the result is not periodic. The window
        may extend beyond `[self.t_start, self.t_stop)`.

        **Arguments:**

        - `t_start`: start of the window, in s (default `self.t_start`).
        - `t_stop`: end of the window, in s, exclusive, `>= t_start` (default `self.t_stop`).

        **Returns:**

        A new `TSEvent` on `[t_start, t_stop)` with the same `num_channels`.
        """
        start = self._t_start if t_start is None else _finite_scalar(t_start, "t_start")
        stop = self._t_stop if t_stop is None else _finite_scalar(t_stop, "t_stop")
        if stop < start:
            raise ValueError(f"`t_stop` ({stop}) must be >= `t_start` ({start}).")
        times, channels = self._unrolled(start, stop)
        keep = (times >= start) & (times < stop)
        return TSEvent(
            times[keep],
            channels[keep],
            t_start=start,
            t_stop=stop,
            name=self.name,
            num_channels=self._num_channels,
        )

    def delay(self, offset: float) -> "TSEvent":
        """Shift the events in time.

        **Arguments:**

        - `offset`: shift, in s, added to `times`, `t_start` and `t_stop`. If rounding would put
            the last event at `t_stop`, `t_stop` moves to just after it.

        **Returns:**

        A new, shifted `TSEvent`.
        """
        offset = _finite_scalar(offset, "offset")
        times = self._times + offset
        t_stop = self._t_stop + offset
        if times.size and times[-1] >= t_stop:
            t_stop = float(np.nextafter(times[-1], np.inf))
        return TSEvent(
            times,
            self._channels,
            periodic=self._periodic,
            t_start=self._t_start + offset,
            t_stop=t_stop,
            name=self.name,
            num_channels=self._num_channels,
        )

    def copy(self) -> "TSEvent":
        """An independent copy of the series.

        **Returns:**

        A new `TSEvent` with the same data.
        """
        return TSEvent(
            self._times,
            self._channels,
            periodic=self._periodic,
            t_start=self._t_start,
            t_stop=self._t_stop,
            name=self.name,
            num_channels=self._num_channels,
        )

    def plot(self, target=None, **kwargs):
        """Raster plot of the events with matplotlib: time on x, channel on y.

        **Arguments:**

        - `target`: matplotlib axes to draw into (default: the current axes).
        - `**kwargs`: passed on to `Axes.scatter` (default `marker="|"`).

        **Returns:**

        The `PathCollection` artist.
        """
        import matplotlib.pyplot as plt

        axes = plt.gca() if target is None else target
        kwargs.setdefault("marker", "|")
        return axes.scatter(self._times, self._channels, **kwargs)

    def __repr__(self) -> str:
        return (
            f"TSEvent(name={self.name!r}, t_start={self._t_start}, t_stop={self._t_stop}, "
            f"num_events={self._times.size}, num_channels={self._num_channels}, periodic={self._periodic})"
        )
