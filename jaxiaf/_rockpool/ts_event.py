"""`TSEvent`: events on channels (see `jaxiaf._rockpool.timeseries` for the rasterisation rule)."""

import numpy as np
from numpy.typing import ArrayLike

from .timebase import bin_index, checked_steps, num_bins
from .timebase import count as _count
from .timebase import seconds as _seconds
from .timebase import time_array as _time_array
from .ts_common import TimeSpan, _channel_columns, _count_array, _readonly
from .ts_neo import events_from_neo, events_to_neo


class TSEvent(TimeSpan):
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
        times = np.zeros(0) if times is None else _time_array("times", times)
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
            num_channels = _count("num_channels", num_channels)
            if channels.size and channels.max() >= num_channels:
                raise ValueError(
                    f"`channels` must be < `num_channels` ({num_channels}); got channel {channels.max()}."
                )

        if t_start is None:
            t_start = float(times[0]) if times.size else 0.0
        t_start = _seconds("t_start", t_start)
        if t_stop is None:
            t_stop = float(np.nextafter(times[-1], np.inf)) if times.size else t_start
        t_stop = _seconds("t_stop", t_stop)
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
        dt = _seconds("dt", dt, positive=True)
        t_start = _seconds("t_start", t_start)
        num_steps, width = counts.shape
        if num_channels is None:
            num_channels = width
        elif _count("num_channels", num_channels) < width:
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

    def to_neo(self) -> list:
        """One `neo.SpikeTrain` per channel (times in s, this series' `t_start` and `t_stop`); needs `neo`
        (the `interop` extra)."""
        return events_to_neo(self)

    @classmethod
    def from_neo(cls, spiketrains, name: str | None = None) -> "TSEvent":
        """The series of one trial's `neo.SpikeTrain`s (a list, one per channel, or a `neo.Segment`),
        with their common `t_start` and `t_stop`."""
        return events_from_neo(cls, spiketrains, name)

    @property
    def times(self) -> np.ndarray:
        """Event times, shape `(M,)`, in s, sorted (read-only)."""
        return self._times

    @property
    def channels(self) -> np.ndarray:
        """Event channels, shape `(M,)`, int64 (read-only)."""
        return self._channels

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
        dt = _seconds("dt", dt, positive=True)
        start = self._t_start if t_start is None else _seconds("t_start", t_start)
        if t_stop is not None and num_timesteps is not None:
            raise ValueError("Give at most one of `t_stop` and `num_timesteps`.")
        if num_timesteps is not None:
            num_steps = checked_steps(_count("num_timesteps", num_timesteps), "`num_timesteps`")
            stop = start + num_steps * dt
        else:
            stop = self._t_stop if t_stop is None else _seconds("t_stop", t_stop)
            if stop < start:
                raise ValueError(f"`t_stop` ({stop}) must be >= `t_start` ({start}).")
            num_steps = num_bins(start, stop, dt)
            if t_stop is None and self._times.size:
                last = int(bin_index(self._times, start, dt).max()) + 1
                num_steps = max(num_steps, checked_steps(last, "the last event time - `t_start`"))
        columns = _channel_columns(channels, self._num_channels)

        times, event_channels = self._unrolled(start, stop)
        bins = bin_index(times, start, dt)
        keep = (bins >= 0) & (bins < num_steps)
        flat = bins[keep] * self._num_channels + event_channels[keep]
        counts = np.bincount(flat, minlength=num_steps * self._num_channels)
        counts = counts.reshape(num_steps, self._num_channels)[:, columns]
        return counts if add_events else counts > 0

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
        start = self._t_start if t_start is None else _seconds("t_start", t_start)
        stop = self._t_stop if t_stop is None else _seconds("t_stop", t_stop)
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
        offset = _seconds("offset", offset)
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
