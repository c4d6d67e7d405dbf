"""Tests for `jaxiaf._rockpool.timeseries`: exact sampling, rasterisation and validation."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from jaxiaf._rockpool.timeseries import TSContinuous, TSEvent


@pytest.fixture
def axes():
    figure, axes = plt.subplots()
    yield axes
    plt.close(figure)


# --- TSContinuous: construction -------------------------------------------------------------------


def test_continuous_defaults_and_shapes():
    ts = TSContinuous([0.5, 1.0, 2.0], [1.0, 2.0, 3.0], name="v")
    assert ts.samples.shape == (3, 1)
    assert (ts.t_start, ts.t_stop, ts.duration) == (0.5, 2.0, 1.5)
    assert ts.num_channels == ts.num_traces == 1
    assert ts.interp_kind == "previous" and not ts.periodic and not ts.isempty()
    assert ts.samples.dtype == np.float64


def test_continuous_empty():
    ts = TSContinuous(num_channels=3)
    assert ts.isempty() and ts.samples.shape == (0, 3)
    assert (ts.t_start, ts.t_stop) == (0.0, 0.0)
    assert np.isnan(ts(0.0)).all() and ts(0.0).shape == (1, 3)


def test_continuous_arrays_are_read_only_copies():
    times, samples = np.array([0.0, 1.0]), np.array([[1.0], [2.0]])
    ts = TSContinuous(times, samples)
    samples[0, 0] = 99.0
    assert ts.samples[0, 0] == 1.0
    with pytest.raises(ValueError, match="read-only"):
        ts.samples[0, 0] = 5.0
    copy = ts.copy()
    assert copy is not ts and np.array_equal(copy.samples, ts.samples) and copy.t_stop == ts.t_stop


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"times": [0.0, 1.0], "samples": [1.0, 2.0, 3.0]}, r"`samples` and `times`.*\(3, 1\).*\(2,\)"),
        ({"times": [0.0, 1.0]}, "`samples` is missing"),
        ({"samples": [1.0]}, "`times` is missing"),
        ({"times": [0.0, 1.0], "samples": np.zeros((2, 1, 1))}, r"`samples` must have shape.*\(2, 1, 1\)"),
        ({"times": [1.0, 0.0], "samples": [1.0, 2.0]}, "`times` must be non-decreasing"),
        ({"times": [0.0, np.nan], "samples": [1.0, 2.0]}, "`times` must contain only finite"),
        ({"times": np.zeros((2, 2)), "samples": [1.0, 2.0]}, r"`times` must be a scalar or a 1-D"),
        (
            {"times": [0.0, 1.0], "samples": [1.0, 2.0], "t_start": 0.5},
            r"`t_start` \(0.5\) must be <= the first",
        ),
        (
            {"times": [0.0, 1.0], "samples": [1.0, 2.0], "t_stop": -1.0},
            r"`t_stop` \(-1.0\) must be >= `t_start`",
        ),
        (
            {"times": [0.0, 1.0], "samples": [1.0, 2.0], "t_stop": 0.5},
            r"`t_stop` \(0.5\) must be >= the last",
        ),
        ({"t_start": 1.0, "t_stop": 0.0}, r"`t_stop` \(0.0\) must be >= `t_start` \(1.0\)"),
        (
            {"times": [0.0], "samples": [1.0], "t_start": np.inf},
            "`t_start` must be a finite scalar number of seconds",
        ),
        ({"times": [0.0], "samples": [[1.0, 2.0]], "num_channels": 3}, r"`num_channels` is 3 but `samples`"),
        ({"num_channels": -1}, "`num_channels` must be an integer >= 0"),
        ({"times": [1.0], "samples": [1.0], "periodic": True}, r"`periodic=True` needs `t_stop` > `t_start`"),
        ({"interp_kind": "cubic"}, r"`interp_kind` must be one of \('previous', 'linear'\); got 'cubic'"),
        ({"fill_value": "nearest"}, "`fill_value` must be 'extrapolate' or a real scalar"),
        ({"fill_value": [1.0, 2.0]}, "`fill_value` must be 'extrapolate' or a real scalar"),
    ],
)
def test_continuous_construction_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TSContinuous(**kwargs)


# --- TSContinuous: sampling -----------------------------------------------------------------------


def test_previous_is_exact_at_and_between_samples():
    times = np.arange(1000) * 0.1  # not exactly representable: no tolerance may be needed
    samples = np.random.default_rng(0).normal(size=(1000, 2))
    ts = TSContinuous(times, samples, t_stop=100.0)
    assert np.array_equal(ts(times), samples)
    assert np.array_equal(ts(np.nextafter(times[1:], -np.inf)), samples[:-1])
    assert np.array_equal(ts(times + 0.05), samples)
    assert np.array_equal(ts(100.0), samples[-1:])


def test_previous_nan_outside_and_before_first_sample():
    ts = TSContinuous([1.0, 2.0], [[10.0], [20.0]], t_start=0.0, t_stop=3.0)
    values = ts([-0.1, 0.0, 0.999, 1.0, 3.0, 3.1])
    assert np.isnan(values[[0, 1, 2, 5]]).all()
    assert values[3, 0] == 10.0 and values[4, 0] == 20.0
    assert ts.contains([0.0, 3.0]) and not ts.contains([0.0, 3.1])


def test_previous_duplicate_times_use_last_sample():
    ts = TSContinuous([0.0, 1.0, 1.0, 2.0], [1.0, 2.0, 3.0, 4.0])
    assert ts(1.0)[0, 0] == 3.0
    assert ts(np.nextafter(1.0, 0.0))[0, 0] == 1.0


def test_previous_fill_value_before_first_sample_only():
    ts = TSContinuous([1.0, 2.0], [10.0, 20.0], t_start=0.0, t_stop=3.0, fill_value=-1.0)
    assert ts([0.5, 2.5, 4.0])[:, 0].tolist()[:2] == [-1.0, 20.0]
    assert np.isnan(ts(4.0)).all()


def test_linear_exact_at_samples_and_interpolates_between():
    rng = np.random.default_rng(1)
    times = np.cumsum(rng.uniform(0.01, 0.1, size=200))
    samples = rng.normal(size=(200, 3))
    ts = TSContinuous(times, samples, interp_kind="linear")
    assert np.array_equal(ts(times), samples)
    midpoints = (times[:-1] + times[1:]) / 2
    np.testing.assert_allclose(ts(midpoints), (samples[:-1] + samples[1:]) / 2, rtol=1e-9, atol=1e-12)
    quarter = times[:-1] + 0.25 * np.diff(times)
    np.testing.assert_allclose(ts(quarter), 0.75 * samples[:-1] + 0.25 * samples[1:], rtol=1e-9, atol=1e-12)


def test_linear_non_finite_sample_does_not_leak_into_neighbours():
    ts = TSContinuous([0.0, 1.0, 2.0], [1.0, np.nan, np.inf], interp_kind="linear")
    values = ts([0.0, 0.5, 1.0, 2.0])[:, 0]
    assert values[0] == 1.0 and values[3] == np.inf and np.isnan(values[1:3]).all()


def test_linear_extrapolation_and_fill_value():
    kwargs = {
        "times": [1.0, 2.0],
        "samples": [1.0, 3.0],
        "t_start": 0.0,
        "t_stop": 3.0,
        "interp_kind": "linear",
    }
    assert TSContinuous(**kwargs)([0.0, 3.0])[:, 0].tolist() == [-1.0, 5.0]
    assert TSContinuous(**kwargs, fill_value=0.0)([0.0, 1.5, 3.0])[:, 0].tolist() == [0.0, 2.0, 0.0]
    single = TSContinuous([1.0], [7.0], t_start=0.0, t_stop=2.0, interp_kind="linear")
    assert single([0.0, 1.0, 2.0])[:, 0].tolist() == [7.0, 7.0, 7.0]
    assert np.isnan(single(2.5)).all()


def test_linear_duplicate_times_are_a_step():
    ts = TSContinuous([0.0, 1.0, 1.0, 2.0], [0.0, 1.0, 5.0, 5.0], interp_kind="linear")
    assert ts([0.5, 1.0, 1.5])[:, 0].tolist() == [0.5, 5.0, 5.0]


def test_periodic_wraps_times():
    ts = TSContinuous([0.0, 1.0, 2.0], [0.0, 1.0, 2.0], t_stop=3.0, periodic=True)
    assert ts([3.0, 3.5, 5.25, -0.5, 301.0])[:, 0].tolist() == [0.0, 0.0, 2.0, 2.0, 1.0]
    assert ts.contains([-1e9, 1e9]) and not ts.contains(np.inf)
    assert np.isnan(ts(np.nan)).all()
    linear = TSContinuous([0.0, 1.0], [0.0, 2.0], t_stop=2.0, periodic=True, interp_kind="linear")
    assert linear([2.25, 4.5, -1.5])[:, 0].tolist() == [0.5, 1.0, 1.0]


def test_sampling_shapes_and_errors():
    ts = TSContinuous([0.0, 1.0], [[1.0, 2.0], [3.0, 4.0]])
    assert ts(0.5).shape == (1, 2) and ts([0.0, 0.5, 1.0]).shape == (3, 2)
    with pytest.raises(ValueError, match=r"`times` must be a scalar or a 1-D array.*\(2, 2\)"):
        ts(np.zeros((2, 2)))


def test_from_clocked():
    samples = np.arange(12.0).reshape(6, 2)
    ts = TSContinuous.from_clocked(samples, dt=0.1, t_start=0.3, name="clock")
    assert np.array_equal(ts.times, 0.3 + np.arange(6) * 0.1)
    assert ts.t_start == 0.3 and ts.t_stop == 0.3 + 6 * 0.1 and ts.name == "clock"
    assert np.array_equal(ts(ts.times), samples)
    assert np.array_equal(ts(ts.t_stop), samples[-1:])
    assert np.isnan(ts(np.nextafter(ts.t_stop, np.inf))).all()
    assert TSContinuous.from_clocked([1.0, 2.0], dt=1.0).name == "unnamed"
    periodic = TSContinuous.from_clocked([1.0, 2.0, 3.0], dt=0.25, periodic=True)
    assert periodic([0.75, 1.0, 1.25, -0.25])[:, 0].tolist() == [1.0, 2.0, 3.0, 3.0]


@pytest.mark.parametrize("dt", [0.0, -1.0, np.nan])
def test_from_clocked_rejects_bad_dt(dt):
    with pytest.raises(ValueError, match="`dt` must be"):
        TSContinuous.from_clocked([1.0], dt=dt)


# --- TSContinuous: clip, delay, repr, plot --------------------------------------------------------


def test_clip_previous_preserves_values_exactly():
    ts = TSContinuous.from_clocked(np.arange(10.0), dt=0.1, t_start=0.0)
    clipped = ts.clip(0.25, 0.65)
    assert (clipped.t_start, clipped.t_stop) == (0.25, 0.65)
    assert clipped.times[0] == 0.25 and clipped.samples[0, 0] == 2.0
    probe = np.linspace(0.25, 0.65, 41)
    assert np.array_equal(clipped(probe), ts(probe))
    assert not ts.copy().clip().periodic


def test_clip_linear_preserves_values():
    ts = TSContinuous([0.0, 1.0, 2.0, 3.0], [0.0, 2.0, 1.0, 5.0], interp_kind="linear")
    clipped = ts.clip(0.5, 2.5)
    assert clipped.times.tolist() == [0.5, 1.0, 2.0, 2.5]
    probe = np.linspace(0.5, 2.5, 21)
    np.testing.assert_allclose(clipped(probe), ts(probe), rtol=1e-12)
    outer = TSContinuous([1.0, 2.0], [1.0, 3.0], t_start=0.0, t_stop=3.0, interp_kind="linear")
    np.testing.assert_allclose(outer.clip(0.0, 0.5)([0.0, 0.25, 0.5]), outer([0.0, 0.25, 0.5]))


def test_clip_errors():
    ts = TSContinuous([0.0, 1.0], [0.0, 1.0])
    with pytest.raises(ValueError, match=r"`t_start` and `t_stop` must lie in \[0.0, 1.0\]"):
        ts.clip(-0.5, 0.5)
    with pytest.raises(ValueError, match=r"`t_stop` \(0.2\) must be >= `t_start` \(0.5\)"):
        ts.clip(0.5, 0.2)


def test_delay():
    ts = TSContinuous([0.0, 1.0], [1.0, 2.0], t_stop=2.0).delay(0.5)
    assert ts.times.tolist() == [0.5, 1.5] and (ts.t_start, ts.t_stop) == (0.5, 2.5)
    with pytest.raises(ValueError, match="`offset` must be a finite scalar number of seconds"):
        ts.delay(np.inf)


def test_continuous_repr():
    text = repr(TSContinuous([0.0, 1.0], [[1.0, 2.0], [3.0, 4.0]], name="v", interp_kind="linear"))
    assert text.startswith("TSContinuous(") and "'v'" in text
    assert "num_samples=2" in text and "num_channels=2" in text and "'linear'" in text


def test_continuous_plot_returns_lines(axes):
    ts = TSContinuous.from_clocked(np.arange(6.0).reshape(3, 2), dt=0.5)
    lines = ts.plot(target=axes)
    assert len(lines) == 2 and lines[0].get_drawstyle() == "steps-post"
    assert lines[0].get_xdata().tolist() == [0.0, 0.5, 1.0, 1.5]
    linear = TSContinuous([0.0, 1.0], [[0.0, 1.0], [1.0, 2.0]], interp_kind="linear")
    (line,) = linear.plot(times=[0.0, 0.5], target=axes, channels=1, color="k")
    assert line.get_ydata().tolist() == [1.0, 1.5] and line.get_drawstyle() == "default"
    with pytest.raises(ValueError, match=r"`channels` must lie in \[0, 2\); got \[2\]"):
        linear.plot(target=axes, channels=2)


# --- TSEvent: construction ------------------------------------------------------------------------


def test_event_sorts_by_time_then_channel():
    ev = TSEvent([0.3, 0.1, 0.3, 0.2, 0.1], [2, 1, 0, 0, 0])
    assert ev.times.tolist() == [0.1, 0.1, 0.2, 0.3, 0.3]
    assert ev.channels.tolist() == [0, 1, 0, 0, 2]
    assert ev.num_channels == 3 and ev.channels.dtype == np.int64


def test_event_defaults():
    ev = TSEvent([0.2, 0.5], 3, name="spikes")
    assert ev.channels.tolist() == [3, 3] and ev.num_channels == 4
    assert ev.t_start == 0.2 and ev.t_stop == np.nextafter(0.5, np.inf)
    assert ev.duration == ev.t_stop - 0.2 and not ev.isempty() and not ev.periodic
    assert TSEvent([0.1]).channels.tolist() == [0]
    assert TSEvent([0.0], [1.0], num_channels=5).num_channels == 5
    empty = TSEvent()
    assert empty.isempty() and empty.num_channels == 0 and (empty.t_start, empty.t_stop) == (0.0, 0.0)
    assert empty.raster(0.1).shape == (0, 0)


def test_event_copy_and_read_only():
    ev = TSEvent([0.1, 0.2], [0, 1], t_stop=1.0)
    copy = ev.copy()
    assert copy is not ev and np.array_equal(copy.times, ev.times) and copy.t_stop == 1.0
    with pytest.raises(ValueError, match="read-only"):
        ev.times[0] = 0.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"times": [0.0, 1.0], "channels": [0, 1, 2]}, r"`channels` must be a scalar or.*\(3,\).*\(2,\)"),
        ({"times": [0.0], "channels": [-1]}, "`channels` must hold integers >= 0; its minimum is -1"),
        ({"times": [0.0], "channels": [0.5]}, "`channels` must hold integers >= 0; it contains non-integer"),
        (
            {"times": [0.0, 1.0], "channels": [0, 3], "num_channels": 3},
            r"< `num_channels` \(3\); got channel 3",
        ),
        ({"times": [0.0, 1.0], "t_start": 0.5}, r"\[0.5, .*\); the earliest event is at 0.0"),
        ({"times": [0.0, 1.0], "t_stop": 1.0}, r"\[0.0, 1.0\); the latest event is at 1.0"),
        ({"times": [0.0], "t_start": 0.0, "t_stop": 0.0}, r"the latest event is at 0.0"),
        ({"t_start": 1.0, "t_stop": 0.5}, r"`t_stop` \(0.5\) must be >= `t_start` \(1.0\)"),
        ({"times": [np.inf]}, "`times` must contain only finite"),
        ({"periodic": True}, r"`periodic=True` needs `t_stop` > `t_start`"),
    ],
)
def test_event_construction_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TSEvent(**kwargs)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: TSEvent([0.0], ["a"]), "`channels` must hold integers >= 0; got dtype"),
        (lambda: TSEvent(num_channels=1.5), r"`num_channels` must be an integer >= 0; got 1.5 \(float\)"),
        (
            lambda: TSEvent([0.1]).delay("soon"),
            "`offset` must be a finite scalar number of seconds; got 'soon'",
        ),
        (
            lambda: TSContinuous([0.0], [1.0], t_start="x"),
            "`t_start` must be a finite scalar number of seconds",
        ),
        (lambda: TSEvent([0.1]).raster(1e-3, channels=[0.5]), "`channels` must be an integer or a 1-D"),
    ],
)
def test_a_value_of_the_wrong_type_is_a_type_error(make, match):
    """The one rule of the time series and the timed layer: TypeError for a value that is not a number
    (or not an integer where a count is asked for), ValueError for one out of range."""
    with pytest.raises(TypeError, match=match):
        make()


def test_a_raster_longer_than_the_step_counter_is_refused():
    # Found by the property test below: t_stop = 1e300 s at dt = 1 ms raised OverflowError from NumPy.
    with pytest.raises(ValueError, match=r"`t_stop` - `t_start` spans 1e\+303 steps of dt"):
        TSEvent([0.0], t_stop=1e300).raster(1e-3)
    with pytest.raises(ValueError, match=r"`num_timesteps` spans 2.15e\+09 steps"):
        TSEvent([0.0]).raster(1e-3, num_timesteps=2**31)


@pytest.mark.brian
def test_brian2_times_must_be_times():
    import brian2 as b2

    np.testing.assert_array_equal(TSContinuous([1, 2] * b2.ms, [0.0, 1.0]).times, [0.001, 0.002])
    np.testing.assert_array_equal(TSEvent([3] * b2.ms, [0]).times, [0.003])
    with pytest.raises(ValueError, match=r"`times` must be in seconds \(s\); got a quantity of dimension"):
        TSContinuous([1, 2] * b2.mV, [0.0, 1.0])
    with pytest.raises(ValueError, match=r"`t_start` must be in seconds \(s\)"):
        TSEvent([0.1], t_start=0 * b2.amp)


# --- TSEvent: raster and from_raster --------------------------------------------------------------


def test_raster_bool_and_counts():
    ev = TSEvent([0.05, 0.15, 0.16, 0.35], [0, 1, 1, 0], t_start=0.0, t_stop=0.4, num_channels=3)
    expected = np.zeros((4, 3), dtype=np.int64)
    expected[0, 0], expected[1, 1], expected[3, 0] = 1, 2, 1
    counts = ev.raster(0.1, add_events=True)
    assert counts.dtype == np.int64 and np.array_equal(counts, expected)
    flags = ev.raster(0.1)
    assert flags.dtype == np.bool_ and np.array_equal(flags, expected > 0)
    assert np.array_equal(ev.raster(0.1, channels=[1, 0], add_events=True), expected[:, [1, 0]])
    assert np.array_equal(ev.raster(0.1, channels=2), np.zeros((4, 1), dtype=bool))


def test_raster_window_options():
    ev = TSEvent([0.05, 0.15, 0.35], [0, 0, 0], t_start=0.0, t_stop=0.4)
    assert ev.raster(0.1, num_timesteps=2)[:, 0].tolist() == [True, True]
    assert ev.raster(0.1, num_timesteps=6)[:, 0].tolist() == [True, True, False, True, False, False]
    assert ev.raster(0.1, t_stop=0.2)[:, 0].tolist() == [True, True]
    assert ev.raster(0.1, t_start=0.1)[:, 0].tolist() == [True, False, True]


def test_raster_default_holds_last_event():
    ev = TSEvent([0.0, 0.1], [0, 0])
    assert ev.raster(0.1)[:, 0].tolist() == [True, True]


def test_raster_errors():
    ev = TSEvent([0.1], [0], t_stop=1.0)
    with pytest.raises(ValueError, match="Give at most one of `t_stop` and `num_timesteps`"):
        ev.raster(0.1, t_stop=0.5, num_timesteps=5)
    with pytest.raises(ValueError, match="`dt` must be a finite scalar number of seconds > 0"):
        ev.raster(0.0)
    with pytest.raises(ValueError, match=r"`t_stop` \(0.0\) must be >= `t_start` \(0.5\)"):
        ev.raster(0.1, t_start=0.5, t_stop=0.0)
    with pytest.raises(ValueError, match="`num_timesteps` must be an integer >= 0"):
        ev.raster(0.1, num_timesteps=-1)
    with pytest.raises(ValueError, match=r"`channels` must lie in \[0, 1\); got \[1\]"):
        ev.raster(0.1, channels=1)


@pytest.mark.parametrize("t_start", [0.0, 0.3, 12.7])
@pytest.mark.parametrize("offset", [0.0, 0.5])
def test_events_at_bin_starts_and_centres_land_in_their_bin(t_start, offset):
    dt, num_steps = 1e-4, 100_001
    k = np.arange(num_steps)
    ev = TSEvent(t_start + (k + offset) * dt, k % 3, t_start=t_start, t_stop=t_start + num_steps * dt)
    counts = ev.raster(dt, add_events=True)
    assert counts.shape == (num_steps, 3)
    assert np.array_equal(counts[k, k % 3], np.ones(num_steps, dtype=np.int64))
    assert counts.sum() == num_steps


@pytest.mark.parametrize("dt", [1e-4, 1e-3, 0.1, 0.3])
@pytest.mark.parametrize("num_steps", [1, 7, 1000, 100_000])
@pytest.mark.parametrize("t_start", [0.0, 0.1, 3.7])
def test_default_number_of_bins(dt, num_steps, t_start):
    ev = TSEvent(t_start=t_start, t_stop=t_start + num_steps * dt)
    assert ev.raster(dt).shape == (num_steps, 0)


@pytest.mark.parametrize("spikes_at_bin_start", [False, True])
@pytest.mark.parametrize("t_start", [0.0, 0.37])
def test_from_raster_round_trip(spikes_at_bin_start, t_start):
    rng = np.random.default_rng(2)
    counts = rng.poisson(0.7, size=(500, 4))
    counts[-3:] = 0  # trailing empty bins must survive the round trip
    bool_raster = counts > 0
    kwargs = {"dt": 1e-3, "t_start": t_start, "spikes_at_bin_start": spikes_at_bin_start}

    ev = TSEvent.from_raster(counts, **kwargs)
    assert ev.times.size == counts.sum() and ev.t_stop == t_start + 500 * 1e-3
    assert np.array_equal(ev.raster(1e-3, add_events=True), counts)
    assert np.array_equal(ev.raster(1e-3), bool_raster)
    assert np.array_equal(TSEvent.from_raster(bool_raster, **kwargs).raster(1e-3), bool_raster)


def test_from_raster_event_times():
    raster = np.array([[0, 2], [1, 0], [0, 0]])
    centres = TSEvent.from_raster(raster, dt=0.5, t_start=1.0, name="r", num_channels=4)
    assert centres.times.tolist() == [1.25, 1.25, 1.75] and centres.channels.tolist() == [1, 1, 0]
    assert (centres.t_stop, centres.num_channels, centres.name) == (2.5, 4, "r")
    starts = TSEvent.from_raster(raster, dt=0.5, t_start=1.0, spikes_at_bin_start=True)
    assert starts.times.tolist() == [1.0, 1.0, 1.5] and starts.name == "unnamed"
    assert TSEvent.from_raster([True, False, True], dt=1.0).times.tolist() == [0.5, 2.5]


@pytest.mark.parametrize(
    "raster, kwargs, match",
    [
        (np.array([[-1]]), {}, "`raster` must hold integers >= 0; its minimum is -1"),
        (np.array([[0.5]]), {}, "`raster` must hold integers >= 0; it contains non-integer"),
        (np.zeros((2, 2, 2)), {}, r"`raster` must have shape \(T, N\) or \(T,\); got shape \(2, 2, 2\)"),
        (np.zeros((2, 3)), {"num_channels": 2}, r"`num_channels` \(2\) must be >= the number of raster col"),
        (np.zeros((2, 3)), {"dt": -0.1}, "`dt` must be a finite scalar number of seconds > 0"),
    ],
)
def test_from_raster_errors(raster, kwargs, match):
    kwargs = {"dt": 0.1, **kwargs}
    with pytest.raises(ValueError, match=match):
        TSEvent.from_raster(raster, **kwargs)


def test_periodic_raster_repeats():
    raster = np.random.default_rng(3).poisson(0.5, size=(50, 2))
    ev = TSEvent.from_raster(raster, dt=1e-3, t_start=0.2, periodic=True)
    assert np.array_equal(ev.raster(1e-3, num_timesteps=150, add_events=True), np.tile(raster, (3, 1)))
    shifted = ev.raster(1e-3, t_start=0.2 - 10 * 1e-3, num_timesteps=50, add_events=True)
    assert np.array_equal(shifted, np.roll(raster, 10, axis=0))


# --- TSEvent: clip, delay, repr, plot -------------------------------------------------------------


def test_event_clip():
    ev = TSEvent([0.1, 0.2, 0.3, 0.4], [0, 1, 0, 1], t_start=0.0, t_stop=0.5, num_channels=3)
    clipped = ev.clip(0.2, 0.4)
    assert clipped.times.tolist() == [0.2, 0.3] and clipped.channels.tolist() == [1, 0]
    assert (clipped.t_start, clipped.t_stop, clipped.num_channels) == (0.2, 0.4, 3)
    periodic = TSEvent([0.0, 0.5], [0, 1], t_stop=1.0, periodic=True).clip(0.5, 2.5)
    assert periodic.times.tolist() == [0.5, 1.0, 1.5, 2.0] and periodic.channels.tolist() == [1, 0, 1, 0]
    assert not periodic.periodic
    with pytest.raises(ValueError, match=r"`t_stop` \(0.1\) must be >= `t_start` \(0.2\)"):
        ev.clip(0.2, 0.1)


def test_event_delay():
    ev = TSEvent([0.1, 0.2], [0, 1], t_start=0.0, t_stop=0.5).delay(1.0)
    assert ev.times.tolist() == [1.1, 1.2] and (ev.t_start, ev.t_stop) == (1.0, 1.5)
    tight = TSEvent([0.1]).delay(1e6)
    assert tight.times[0] < tight.t_stop
    with pytest.raises(ValueError, match="`offset` must be a finite scalar number of seconds; got inf"):
        ev.delay(np.inf)


def test_event_repr():
    text = repr(TSEvent([0.1, 0.2], [0, 1], name="spikes"))
    assert text.startswith("TSEvent(") and "'spikes'" in text
    assert "num_events=2" in text and "num_channels=2" in text


def test_event_plot_returns_collection(axes):
    ev = TSEvent([0.1, 0.2, 0.3], [0, 2, 1])
    artist = ev.plot(target=axes, color="r")
    assert artist.get_offsets().tolist() == [[0.1, 0.0], [0.2, 2.0], [0.3, 1.0]]
    assert artist in axes.collections
