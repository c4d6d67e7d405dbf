"""Validators shared by the time series classes (times and counts: `jaxiaf._rockpool.timebase`)."""

import numpy as np

INTERP_KINDS = ("previous", "linear")


class TimeSpan:
    """The time span every series has: `t_start`, `t_stop` (exclusive) and `duration`, in s."""

    _t_start: float
    _t_stop: float

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


def _number_array(values, name: str) -> np.ndarray:
    """`values` as a NumPy array of numbers; `ValueError` naming `name` for a ragged sequence, `TypeError`
    for strings or other objects."""
    try:
        array = np.array(values)
    except (ValueError, TypeError):
        raise ValueError(f"`{name}` must be a rectangular array of numbers; got a ragged sequence.") from None
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise TypeError(f"`{name}` must hold numbers; got dtype {array.dtype}.")
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
        raise TypeError(f"`{name}` must hold integers >= 0; got dtype {array.dtype}.")
    if np.any(array < 0):
        raise ValueError(f"`{name}` must hold integers >= 0; its minimum is {array.min()}.")
    return array.astype(np.int64)


def _channel_columns(channels, num_channels: int) -> np.ndarray:
    """Indices of the selected channels (all of them for `None`); `ValueError` if any is out of range."""
    if channels is None:
        return np.arange(num_channels)
    columns = np.atleast_1d(np.asarray(channels))
    if columns.ndim != 1 or not np.issubdtype(columns.dtype, np.integer):
        raise TypeError(f"`channels` must be an integer or a 1-D sequence of integers; got {channels!r}.")
    if np.any(columns < 0) or np.any(columns >= num_channels):
        raise ValueError(f"`channels` must lie in [0, {num_channels}); got {columns.tolist()}.")
    return columns


def _readonly(array: np.ndarray) -> np.ndarray:
    """`array`, marked read-only so that a series cannot be changed behind its back."""
    array.setflags(write=False)
    return array
