"""`FFIAFBrian.evolve`: step counts, input sampling, output times, the record, purity, and every error."""

import numpy as np
import pytest

import jaxiaf

W = np.array([[0.02, 0.01, 0.0], [0.0, 0.01, 0.03]])
DT = 1e-4


def _layer(**kwargs):
    return jaxiaf.FFIAFBrian(W, bias=0.011, **kwargs)


def _raster(events, mod, num_steps, t_start=0.0):
    return events.raster(mod.dt, t_start=t_start, num_timesteps=num_steps)


def test_number_of_steps_from_num_timesteps_duration_or_the_input():
    mod = _layer()
    assert mod._determine_timesteps(duration=0.1) == 1000
    assert _layer(dt=0.5e-3)._determine_timesteps(duration=0.1234) == 246
    assert mod._determine_timesteps(duration=0.3) == 3000
    assert mod._determine_timesteps(duration=0.1, num_timesteps=np.int64(7)) == 7
    ts = jaxiaf.TSContinuous.from_clocked(np.ones((500, 2)), dt=DT)
    assert mod._determine_timesteps(ts) == 500
    out, new_state, _ = mod(ts)
    assert out.t_stop == pytest.approx(0.05) and int(new_state["step"]) == 500
    mod.set_attributes(mod(ts, num_timesteps=200)[1])
    assert mod._determine_timesteps(ts) == 300
    assert mod(ts)[0].t_start == mod.t == 200 * DT
    periodic = jaxiaf.TSContinuous.from_clocked(np.ones((30, 2)), dt=DT, periodic=True)
    assert mod._determine_timesteps(periodic) == 30


def test_input_is_sampled_at_step_times_with_the_series_interpolation():
    # The third sample is meant for t = 0.7 ms but lies one ulp after it: the 'previous' rule reads the
    # series 1e-6 dt after each step time, so it is the one in force for the step at 0.7 ms.
    times = np.array([0.0, 0.00033, np.nextafter(0.0007, 1.0), 0.0011, 0.002])
    samples = np.array([[0.0, 1.0], [2.0, -1.0], [4.0, 5.0], [0.5, 0.5], [1.0, 3.0]])
    steps = (3 + np.arange(17)) * DT  # from the integer step count, never t + k*dt accumulated
    assert steps[4] == 0.0007 < times[2]
    in_force = [0, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3]  # by hand: last sample at or before t
    linear = np.stack([np.interp(steps, times, samples[:, c]) for c in range(2)], axis=1)
    for kind, expected, rtol in (("previous", samples[in_force], 0), ("linear", linear, 1e-14)):
        ts = jaxiaf.TSContinuous(times, samples, interp_kind=kind)
        mod = _layer()
        mod.set_attributes(mod(num_timesteps=3)[1])
        time_base, raster, num_steps = mod._prepare_input(ts)
        np.testing.assert_array_equal(time_base, steps)
        assert num_steps == 17
        np.testing.assert_allclose(raster, expected, rtol=rtol, atol=0)  # previous: exact


def test_none_input_is_zero_input():
    mod = _layer(v_rest=-0.06)
    zeros = jaxiaf.TSContinuous.from_clocked(np.zeros((300, 2)), dt=DT)
    a, state_a, _ = mod(duration=0.03)
    b, state_b, _ = mod(zeros)
    np.testing.assert_array_equal(a.times, b.times)
    np.testing.assert_array_equal(state_a["v"], state_b["v"])
    assert a.times.size > 0


def test_periodic_input_repeats():
    rng = np.random.default_rng(0)
    period = rng.uniform(0.0, 2.0, (100, 2))
    periodic = jaxiaf.TSContinuous.from_clocked(period, dt=DT, periodic=True)
    tiled = jaxiaf.TSContinuous.from_clocked(np.tile(period, (4, 1)), dt=DT)
    mod = _layer()
    a, _, _ = mod(periodic, duration=0.035)
    b, _, _ = mod(tiled, duration=0.035)
    assert a.t_stop == b.t_stop == pytest.approx(0.035)
    np.testing.assert_array_equal(a.times, b.times)
    np.testing.assert_array_equal(a.channels, b.channels)
    assert a.times.size > 3
    # From a later time the period is wrapped: evolving from step 250 reads the period from its 50th sample.
    mod.set_attributes(mod(num_timesteps=250)[1])
    _, raster, _ = mod._prepare_input(periodic, num_timesteps=100)
    np.testing.assert_array_equal(raster, np.roll(period, -50, axis=0))


def test_input_starting_before_zero():
    rng = np.random.default_rng(1)
    samples = rng.uniform(0.0, 2.0, (400, 2))
    ts = jaxiaf.TSContinuous.from_clocked(samples, dt=DT, t_start=-0.01)
    mod = _layer()
    time_base, raster, num_steps = mod._prepare_input(ts)
    assert num_steps == 300 and time_base[0] == 0.0
    np.testing.assert_array_equal(raster, samples[100:])
    out, _, _ = mod(ts)
    assert out.t_start == 0.0 and out.t_stop == pytest.approx(0.03)


def test_output_spikes_mid_bin_sorted_with_the_call_span():
    mod = _layer(v_reset=-0.06, refractory=3e-4)
    mod.set_attributes(mod(num_timesteps=7)[1])
    t0 = mod.t
    ts = jaxiaf.TSContinuous.from_clocked(np.full((500, 2), 1.0), dt=DT)
    out, new_state, record = mod(ts, num_timesteps=300, record=True)
    spikes = np.asarray(mod.module(np.ones((300, 2)))[0])
    steps, channels = np.nonzero(spikes)
    assert out.t_start == t0 and out.t_stop == (7 + 300) * DT and out.num_channels == 3
    np.testing.assert_array_equal(out.times, (7 + steps + 0.5) * DT)
    np.testing.assert_array_equal(out.channels, channels)
    assert np.all(np.diff(out.times) >= 0) and out.times.size > 10
    starts = mod._gen_tsevent(spikes, spikes_at_bin_start=True)
    np.testing.assert_array_equal(starts.times, (7 + steps) * DT)
    assert mod.set_attributes(new_state).t == out.t_stop
    np.testing.assert_array_equal(_raster(record["spikes"], mod, 300, t0), spikes)


def test_record_returns_v_and_spikes_as_timeseries():
    ts = jaxiaf.TSContinuous.from_clocked(np.ones((200, 2)), dt=DT)
    mod = _layer(v_reset=-0.07)
    out, _, record = mod(ts, record=True)
    _, _, functional = mod.module(ts.samples, record=True)
    v = record["v"]
    assert isinstance(v, jaxiaf.TSContinuous) and v.samples.shape == (200, 3)
    np.testing.assert_array_equal(v.samples, functional["v"])
    np.testing.assert_array_equal(v.times, np.arange(200) * DT)
    assert v.t_stop == pytest.approx(0.02) and v.interp_kind == "previous"
    np.testing.assert_array_equal(record["spikes"].times, out.times)
    assert (v(out.times)[np.arange(out.times.size), out.channels] == -0.07).all()
    assert mod(ts)[2] == {}
    assert set(_layer(record=True)(ts)[2]) == {"v", "spikes"}


def test_evolve_is_pure_and_set_attributes_advances():
    ts = jaxiaf.TSContinuous.from_clocked(np.ones((200, 2)), dt=DT)
    mod = _layer()
    first = mod.evolve(ts, duration=0.01)
    second = mod(ts, duration=0.01)
    assert mod.t == 0.0 and int(mod.step) == 0
    np.testing.assert_array_equal(first[0].times, second[0].times)
    np.testing.assert_array_equal(first[1]["v"], second[1]["v"])
    same = mod.set_attributes(first[1])
    assert same is mod and mod.t == pytest.approx(0.01)
    np.testing.assert_array_equal(mod.v, first[1]["v"])
    named = mod(ts, duration=0.005, kwargs_timeseries={"name": "mine"})[0]
    assert named.name == "mine" and named.t_start == pytest.approx(0.01)


def test_empty_evolution():
    mod = _layer()
    out, new_state, record = mod(num_timesteps=0, record=True)
    assert out.isempty() and out.t_start == out.t_stop == 0.0 and int(new_state["step"]) == 0
    assert record["v"].samples.shape == (0, 3)


ONE = jaxiaf.TSContinuous.from_clocked(np.ones((100, 2)), dt=DT)
ERRORS = [
    (dict(), TypeError, r"give `ts_input`, `duration` or `num_timesteps`"),
    (dict(num_timesteps=2.5), TypeError, r"`num_timesteps` must be an integer >= 0; got 2.5 \(float\)"),
    (dict(num_timesteps=True), TypeError, r"`num_timesteps` must be an integer >= 0"),
    (
        dict(num_timesteps=2**31),
        ValueError,
        r"`num_timesteps` spans 2.15e\+09 steps of dt; at most 2\*\*31 - 1",
    ),
    (dict(duration=1e300), ValueError, r"`duration` spans 1e\+304 steps of dt; at most 2\*\*31 - 1 fit"),
    (dict(num_timesteps=-1), ValueError, r"`num_timesteps` must be an integer >= 0; got -1"),
    (dict(duration=-0.1), ValueError, r"`duration` must be >= 0 \(s\); got -0.1"),
    (dict(duration="long"), TypeError, r"`duration` must be a finite scalar number of seconds; got 'long'"),
    (dict(duration=float("nan")), ValueError, r"`duration` must be a finite scalar"),
    (
        dict(ts_input=jaxiaf.TSEvent([0.001], [0])),
        TypeError,
        r"`ts_input` must be a TSContinuous .* got TSEvent",
    ),
    (dict(ts_input=np.ones((10, 2))), TypeError, r"`ts_input` must be a TSContinuous .* got ndarray"),
    (
        dict(ts_input=jaxiaf.TSContinuous.from_clocked(np.ones((100, 3)), dt=DT)),
        ValueError,
        r"`ts_input` has 3 channel\(s\) but the layer has N_in = 2",
    ),
    (
        dict(ts_input=jaxiaf.TSContinuous.from_clocked(np.ones((100, 1)), dt=DT)),
        ValueError,
        r"has 1 channel\(s\) .* a 1-channel series is not broadcast",
    ),
    (dict(ts_input=ONE, duration=0.02), ValueError, r"the input ends before the evolution does"),
    (
        dict(
            ts_input=jaxiaf.TSContinuous.from_clocked(np.ones((100, 2)), dt=DT, t_start=0.001), duration=0.005
        ),
        ValueError,
        r"covers t = \[0.001, 0.011\] s, but the evolution samples it at t = 0.0 ",
    ),
    (
        dict(ts_input=jaxiaf.TSContinuous([0.0, 0.005, 0.01], [[1.0, 1.0], [np.nan, 1.0], [1.0, 1.0]])),
        ValueError,
        r"`ts_input` gives NaN or inf at t = 0.005 s",
    ),
    (dict(ts_input=ONE, kwargs_timeseries=["name"]), TypeError, r"`kwargs_timeseries` must be a dict"),
]


@pytest.mark.parametrize("kwargs, error, match", ERRORS)
def test_evolve_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        _layer().evolve(**kwargs)


def test_input_ending_before_the_layer_time_is_an_error():
    mod = _layer()
    mod.set_attributes(mod(num_timesteps=150)[1])
    with pytest.raises(
        ValueError, match=r"`ts_input` ends at t = 0.01 s, at or before the layer's time t = 0.015"
    ):
        mod(ONE)
