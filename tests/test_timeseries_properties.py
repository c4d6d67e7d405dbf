"""Property-based tests (hypothesis) of the time series: hostile times, starts, stops and steps."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxiaf import TSContinuous, TSEvent

HOSTILE = [0.0, -0.0, 1e-3, -1e-3, 0.5, 1e-300, 1e300, np.nan, np.inf, -np.inf, "x", None, True, 2 + 1j]


def _named(error, names):
    assert any(f"`{name}`" in str(error) for name in names), f"{type(error).__name__}: {error}"


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    times=st.lists(st.sampled_from([0.0, 1e-4, 2.5e-4, 0.001, 1e-300, -1e-3, np.nan, np.inf]), max_size=4),
    t_start=st.sampled_from(HOSTILE),
    t_stop=st.sampled_from(HOSTILE),
    dt=st.sampled_from(HOSTILE),
)
def test_event_series_give_a_consistent_raster_or_a_clear_error(times, t_start, t_stop, dt):
    """TSEvent and its raster: a result whose counts are the events in the window, or a TypeError or
    ValueError naming the argument at fault; never another exception."""
    kwargs = {k: v for k, v in {"t_start": t_start, "t_stop": t_stop}.items() if v is not None}
    try:
        ev = TSEvent(times, [0] * len(times), num_channels=1, **kwargs)
    except (TypeError, ValueError) as error:
        _named(error, ["times", "t_start", "t_stop", "periodic"])
        return
    try:
        raster = ev.raster(dt, add_events=True)
    except (TypeError, ValueError) as error:
        _named(error, ["dt", "t_start", "t_stop", "num_timesteps"])
        return
    assert raster.shape[1] == 1 and raster.sum() == len(times)  # every event lands in a bin of the window


@settings(max_examples=100, deadline=None, derandomize=True)
@given(
    sample=st.sampled_from([0.0, 1.0, -2.5, np.nan, np.inf]),
    t_start=st.sampled_from(HOSTILE),
    dt=st.sampled_from(HOSTILE[:-3] + HOSTILE[-2:]),  # dt is required: no None
    num=st.sampled_from([0, 1, 3]),
)
def test_clocked_series_sample_exactly_or_fail_clearly(sample, t_start, dt, num):
    kwargs = {} if t_start is None else {"t_start": t_start}
    try:
        ts = TSContinuous.from_clocked(np.full((num, 2), sample), dt=dt, **kwargs)
    except (TypeError, ValueError) as error:
        _named(error, ["dt", "t_start", "t_stop", "times", "samples"])
        return
    assert ts.samples.shape == (num, 2)
    if num:  # 'previous' at the sample times returns the samples themselves, NaN included
        np.testing.assert_array_equal(ts(ts.times), ts.samples)
