"""Rockpool's timed synaptic layers (`FFIAFSpkInBrian`, `RecIAFBrian`, `RecIAFSpkInBrian`) against Rockpool's
own Brian2 networks (`brian_ref.RockpoolSynapticLayer`: Brian2 2.x, numpy target, float64): identical spike
trains and bit-identical state (`v` and the synaptic currents at every step) on seeded random scenarios, 3
per class by default and 100 per class under `-m slow`; and the layers' Rockpool surface."""

import numpy as np
import pytest
from helpers import CLASSES, DT, NUM_STEPS, build, scenario, series

from jaxiaf import FFIAFSpkInBrian, RecIAFBrian, RecIAFSpkInBrian, TSContinuous, TSEvent


def run_jaxiaf(sc: dict):
    """`(raster (T, N), traces {name: (T, N)}, new_state)` of the scenario in `jaxiaf`."""
    layer = build(sc)
    output, state, record = layer.evolve(series(sc), num_timesteps=NUM_STEPS, record=True)
    raster = np.zeros((NUM_STEPS, sc["n"]), bool)
    raster[np.floor(output.times / DT).astype(int), output.channels] = True
    traces = {k: np.asarray(ts.samples) for k, ts in record.items() if k != "spikes"}
    return raster, traces, state


def run_brian(sc: dict):
    brian_ref = pytest.importorskip("brian_ref")
    layer = brian_ref.RockpoolSynapticLayer(
        sc["kind"], sc["weights"], sc["params"], refractory=sc["refractory"], method=sc["method"], dt=DT
    )
    if sc["kind"] == "RecIAFBrian":
        result = layer.evolve(NUM_STEPS, sc["n"], currents=sc["currents"])
    else:
        result = layer.evolve(NUM_STEPS, sc["n"], event_times=sc["times"], event_channels=sc["channels"])
    return result.raster(), result.traces


@pytest.mark.brian
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("kind", list(CLASSES))
def test_identical_to_rockpools_brian2_layer(kind, seed):
    """Float64: the same spikes at the same steps and `v` and every synaptic current bit-identical at
    every step, against the network Rockpool's layer builds in Brian2 (the integrator cycles through rk4,
    euler, exact and rk2 with the seed)."""
    sc = scenario(kind, seed)
    raster, traces, _ = run_jaxiaf(sc)
    expected, expected_traces = run_brian(sc)
    assert raster.sum() > 5, "the scenario should make the layer spike"
    np.testing.assert_array_equal(raster, expected)
    assert set(traces) == set(expected_traces)
    for name, trace in traces.items():
        np.testing.assert_array_equal(trace, expected_traces[name], err_msg=name)


@pytest.mark.slow
@pytest.mark.brian
@pytest.mark.parametrize("kind", list(CLASSES))
def test_identical_to_rockpools_brian2_layer_100_scenarios(kind):
    """As `test_identical_to_rockpools_brian2_layer` on the next 97 seeds of each class (100 in all)."""
    for seed in range(3, 100):
        test_identical_to_rockpools_brian2_layer(kind, seed)


@pytest.mark.brian
@pytest.mark.parametrize("kind", ["FFIAFSpkInBrian", "RecIAFSpkInBrian"])
def test_events_of_one_step_at_different_times(kind):
    """Brian2's `SpikeGeneratorGroup` orders the events of one step by their exact times; `jaxiaf` adds
    them by channel. Where one neuron receives several in one step at different times, the sums can
    differ in the last bits: the same spikes, and the state within 1e-15 relative, on 2 scenarios each."""
    for seed in range(2):
        sc = scenario(kind, seed, timed_within_step=True)
        raster, traces, _ = run_jaxiaf(sc)
        expected, expected_traces = run_brian(sc)
        np.testing.assert_array_equal(raster, expected)
        for name, trace in traces.items():
            np.testing.assert_allclose(trace, expected_traces[name], rtol=1e-15, atol=0, err_msg=name)


def test_rockpool_defaults_names_and_families():
    """Rockpool's defaults and attribute names: `bias` 10 mA (`FFIAFSpkInBrian`) or 10.5 mA (the
    recurrent layers), `tau_syn` 20 ms, `tau_syn_r`, `tau_syn_inp`, `tau_syn_rec` 50 ms, `rk4`."""
    ff = FFIAFSpkInBrian(np.full((2, 3), 1e-3))
    assert set(ff.parameters()) == {"weights", "bias", "tau_mem", "tau_syn", "v_thresh", "v_reset", "v_rest"}
    assert ff.bias.tolist() == [0.01] * 3 and ff.tau_syn.tolist() == [0.02] * 3 and ff.tau_mem[0] == 0.02
    assert (ff.v_thresh[0], ff.v_reset[0], ff.v_rest[0]) == (-0.055, -0.065, -0.065)
    assert ff.simulation_parameters() == {"dt": ff.dt, "refractory": 0.0, "integrator_name": "rk4"}
    assert ff.dt == 1e-4 and set(ff.state()) == {"v", "I_syn", "since_spike", "key", "step"}
    assert (
        ff.spiking_input and ff.input_type is TSEvent and ff.shape == (2, 3) and ff.I_syn.tolist() == [0] * 3
    )
    rec = RecIAFBrian(np.zeros((3, 3)))
    assert rec.bias.tolist() == [0.0105] * 3 and rec.tau_syn_r.tolist() == [0.05] * 3
    assert not rec.spiking_input and rec.input_type is TSContinuous and rec.shape == (3, 3)
    both = RecIAFSpkInBrian(np.zeros((2, 3)), np.ones((3, 3)))
    assert both.tau_syn_inp.tolist() == both.tau_syn_rec.tolist() == [0.05] * 3 and both.bias[0] == 0.0105
    assert set(both.parameters("weights")) == {"weights_in", "weights_rec"}
    assert set(both.parameters("taus")) == {"tau_mem", "tau_syn_inp", "tau_syn_rec"}
    assert both.weights.tolist() == both.weights_rec.tolist() == np.ones((3, 3)).tolist()
    both.weights = np.zeros((3, 3))
    assert both.weights_rec.sum() == 0 and both.reset_parameters().weights_rec.sum() == 9
    registry = both._get_attribute_registry()[0]
    assert registry["tau_syn_rec"].family == "taus" and registry["weights_in"].type_name == "Parameter"


@pytest.mark.parametrize("kind", ["FFIAFSpkInBrian", "RecIAFSpkInBrian"])
def test_two_evolves_equal_one_and_resets(kind):
    """No delay: an evolve leaves no event in transit, so evolving in two calls equals one (spike times
    and state bit for bit); spikes are stamped mid-bin, or at the bin start on request; `reset_state`
    sets `v = v_rest` and the synaptic currents to 0, `reset_all` repeats the first evolution."""
    sc = scenario(kind, 2)
    layer = build(sc)
    output, state, _ = layer.evolve(series(sc), num_timesteps=NUM_STEPS)
    first, middle, _ = layer.evolve(series(sc, 0.0, 0.012), num_timesteps=120)
    layer.set_attributes(middle)
    second, end, _ = layer.evolve(series(sc, 0.012, 0.03), num_timesteps=180)
    assert np.array_equal(np.concatenate([first.times, second.times]), output.times)
    for name in set(state) - {"key"}:
        assert np.array_equal(np.asarray(end[name]), np.asarray(state[name])), name
    steps = np.round(output.times / DT - 0.5)
    assert len(steps) > 5 and np.allclose(output.times, (steps + 0.5) * DT, rtol=0, atol=1e-15)
    at_start = layer.reset_all().evolve(
        series(sc), num_timesteps=NUM_STEPS, kwargs_timeseries={"spikes_at_bin_start": True}
    )[0]
    assert np.allclose(at_start.times, steps * DT, rtol=0, atol=1e-15)
    layer.set_attributes(state).reset_state()
    assert layer.t == NUM_STEPS * DT and np.array_equal(layer.v, layer.v_rest)
    assert all(not np.any(np.asarray(x)) for k, x in layer.state().items() if k.startswith("I_syn"))


def test_bad_arguments_and_inputs_are_refused_by_name():
    with pytest.raises(ValueError, match="`noise_std` must be 0"):
        FFIAFSpkInBrian(np.ones((2, 3)), noise_std=1e-3)
    with pytest.raises(ValueError, match="`neuron_eq` must be None"):
        RecIAFBrian(np.ones((3, 3)), neuron_eq="dv/dt = -v/tau : volt")
    with pytest.raises(ValueError, match=r"`weights_rec` must have shape \(3, 3\)"):
        RecIAFSpkInBrian(np.ones((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"`weights` must have shape \(3, 3\)"):
        RecIAFBrian(np.ones((2, 3)))
    layer = FFIAFSpkInBrian(np.ones((2, 3)) * 1e-3)
    with pytest.raises(ValueError, match=r"`weights` must keep shape \(2, 3\)"):
        layer.set_attributes({"weights": np.ones((3, 3))})
    with pytest.raises(ValueError, match=r"Unknown attribute\(s\) \['I_bias'\]"):
        layer.set_attributes({"I_bias": 0.01})
    with pytest.raises(TypeError, match="must be a TSEvent"):
        layer.evolve(TSContinuous([0, 1e-3], np.zeros((2, 2))), num_timesteps=5)
    twice = TSEvent([1e-5, 5e-5], [1, 1], t_start=0, t_stop=1e-3, num_channels=2)
    with pytest.raises(ValueError, match="channel 1 of `ts_input` has 2 events in the step at t = 0.0 s"):
        layer.evolve(twice, num_timesteps=10)
    with pytest.raises(TypeError, match="TSContinuous"):
        RecIAFBrian(np.ones((3, 3))).evolve(twice, num_timesteps=10)
    with pytest.raises(NotImplementedError, match=r"use `jaxiaf.to_nir\(layer\)`"):
        layer.as_graph()
