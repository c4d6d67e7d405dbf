"""The time base shared by the timed layer and the time series: validated times, step counts and bins.

One exception rule for every time-like argument: `TypeError` when the value is not a number (or not an
integer where a count is asked for), `ValueError` when it is one but out of range (NaN, inf, negative,
wrong shape) or a Brian2 quantity of another dimension. Every message names the argument.
"""

import operator

import numpy as np

from .._core import convert as _convert

STEP_TOL = 1e-6
"""The one tolerance, in steps of dt, when a time becomes a whole number of steps or bins: a duration of
`floor(duration / dt + STEP_TOL)` steps, an event at `t` in bin `floor((t - t_start) / dt + STEP_TOL)`,
a `"previous"` input read `STEP_TOL * dt` after each step time. It absorbs the rounding of times computed
as `k * dt` (Brian2's spike stamps) or `(k + 0.5) * dt` (mid-bin spikes)."""

MAX_STEPS = 2**31 - 1
"""The most steps (or raster bins) one call may span: the layer's step counter is an int32."""


def _numbers(name: str, value, what: str) -> np.ndarray:
    value = _convert.strip_unit(name, value, "s")
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be {what}; got {value!r}.")
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be {what}; got {value!r} ({type(value).__name__}).") from None
    if np.iscomplexobj(np.asarray(value)):
        raise TypeError(f"`{name}` must be {what}; got a complex value.")
    return array


def seconds(name: str, value, *, positive: bool = False) -> float:
    """`value` (s, or a Brian2 quantity of time) as a finite Python float (> 0 with `positive`)."""
    what = "a finite scalar number of seconds" + (" > 0" if positive else "")
    array = _numbers(name, value, what)
    if array.shape not in ((), (1,)) or not np.isfinite(array).all() or (positive and array.item() <= 0):
        raise ValueError(f"`{name}` must be {what}; got {value!r}.")
    return float(array.reshape(()))


def time_array(name: str, values) -> np.ndarray:
    """`values` (s, or a Brian2 quantity of time) as a fresh 1-D finite float64 array."""
    array = np.atleast_1d(_numbers(name, values, "a 1-D array of times (in s)"))
    if array.ndim != 1:
        raise ValueError(f"`{name}` must be a scalar or a 1-D array of shape (T,); got shape {array.shape}.")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"`{name}` must contain only finite times (in s); it contains NaN or inf.")
    return array


def count(name: str, value) -> int:
    """`value` as a Python int >= 0 (a number of steps, channels, ...)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be an integer >= 0; got {value!r}.")
    try:
        result = operator.index(value)
    except TypeError:
        raise TypeError(
            f"`{name}` must be an integer >= 0; got {value!r} ({type(value).__name__})."
        ) from None
    if result < 0:
        raise ValueError(f"`{name}` must be an integer >= 0; got {result}.")
    return result


def grid_times(t_start: float, dt: float, k) -> np.ndarray:
    """Times `t_start + k * dt` (s) of the (float) step offsets `k`.

    A start on the dt grid (a whole number `k0` of steps, within `STEP_TOL` step), such as a layer's own
    `t`, gives `(k0 + k) * dt`: every time then follows from an integer step count, so evolving in chunks
    samples the input and stamps the spikes at exactly the times of one long evolution.
    """
    first = round(t_start / dt)
    if abs(t_start / dt - first) <= STEP_TOL:
        return (first + np.asarray(k, dtype=np.float64)) * dt
    return t_start + np.asarray(k, dtype=np.float64) * dt


def checked_steps(count: int, what: str) -> int:
    """`count`, or `ValueError` naming `what` (e.g. "`duration`") if it exceeds `MAX_STEPS`."""
    if count > MAX_STEPS:
        raise ValueError(f"{what} spans {count:.3g} steps of dt; at most 2**31 - 1 fit the int32 step count.")
    return count


def num_steps(duration: float, dt: float) -> int:
    """Whole steps in `duration`: `floor(duration / dt + STEP_TOL)`; at most `MAX_STEPS`."""
    return checked_steps(int(np.floor(duration / dt + STEP_TOL)), "`duration`")


def num_bins(t_start: float, t_stop: float, dt: float) -> int:
    """Bins of width `dt` needed to cover `[t_start, t_stop)`: `ceil((t_stop - t_start) / dt - STEP_TOL)`;
    at most `MAX_STEPS`."""
    return checked_steps(max(int(np.ceil((t_stop - t_start) / dt - STEP_TOL)), 0), "`t_stop` - `t_start`")


def bin_index(times, t_start: float, dt: float) -> np.ndarray:
    """The bin of each time: `floor((t - t_start) / dt + STEP_TOL)` (int64)."""
    return np.floor((np.asarray(times, np.float64) - t_start) / dt + STEP_TOL).astype(np.int64)


def previous_sample_times(time_base: np.ndarray, dt: float, t_stop: float, periodic: bool) -> np.ndarray:
    """Where a `"previous"` series is read for steps at `time_base`: `STEP_TOL * dt` after each step time
    (but not after `t_stop` unless periodic), so that a sample meant to fall on the step time but rounded to
    just after it is the one in force for that step."""
    sample_times = time_base + STEP_TOL * dt
    return sample_times if periodic else np.minimum(sample_times, t_stop)


def spikes_to_raster(spike_times, num_steps: int, dt: float, t_start: float = 0.0) -> np.ndarray:
    """(K, T, 1) bool raster from K arrays of spike times (s): a spike at `t` falls in step
    `floor((t - t_start) / dt + 1e-6)` (`bin_index`), so Brian2's `k*dt` stamps and mid-bin `(k + 0.5)*dt`
    times agree.

    **Raises:** `ValueError` naming the argument for `dt` not finite and > 0, `t_start` not finite,
    `num_steps` not an integer >= 1, or a spike outside the `num_steps` steps."""
    dt = seconds("dt", dt, positive=True)
    t_start = seconds("t_start", t_start)
    if isinstance(num_steps, bool) or not isinstance(num_steps, int | np.integer) or num_steps < 1:
        raise ValueError(f"`num_steps` must be an integer >= 1; got {num_steps!r}.")
    raster = np.zeros((len(spike_times), num_steps, 1), bool)
    for trial, times in enumerate(spike_times):
        steps = bin_index(time_array(f"spikes[{trial}]", times), t_start, dt)
        if np.any((steps < 0) | (steps >= num_steps)):
            raise ValueError(f"`spikes` of trial {trial} fall outside the {num_steps} steps of `x`.")
        raster[trial, steps, 0] = True
    return raster
