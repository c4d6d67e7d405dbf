"""The faults of Rockpool's `FFIAFBrian`, each shown fixed in `jaxiaf.FFIAFBrian`."""

import jax
import numpy as np
import pytest

import jaxiaf

W = np.array([[0.02, 0.01, 0.0], [0.0, 0.01, 0.03]])
DT = 1e-4
TS = jaxiaf.TSContinuous.from_clocked(np.ones((200, 2)), dt=DT)


def test_state_and_record_are_not_empty():
    # Rockpool returned `{}` for both.
    mod = jaxiaf.FFIAFBrian(W, bias=0.011)
    assert set(mod.state()) == {"v", "since_spike", "key", "step"}
    _, new_state, record = mod(TS, record=True)
    assert set(new_state) == {"v", "since_spike", "key", "step"} and int(new_state["step"]) == 200
    assert record["v"].samples.shape == (200, 3) and record["spikes"].times.size > 0


def test_duration_shorter_than_dt_gives_empty_output_and_keeps_t():
    # Rockpool crashed.
    mod = jaxiaf.FFIAFBrian(W, bias=0.03)
    mod.set_attributes(mod(TS, num_timesteps=150)[1])
    out, new_state, _ = mod(TS, duration=0.4 * DT)
    assert out.isempty() and out.num_channels == 3 and out.t_start == out.t_stop == mod.t
    assert mod.set_attributes(new_state).t == 150 * DT
    ending_soon = jaxiaf.TSContinuous([0.0, 0.01502], [[1.0, 1.0], [1.0, 1.0]])
    assert mod(ending_soon)[0].isempty() and mod.t == 150 * DT


def test_a_spike_in_the_first_step_of_every_call_is_kept():
    # Rockpool dropped spikes of a call's first step when its float time accumulator ran ahead.
    mod = jaxiaf.FFIAFBrian(W, bias=0.02, v_reset=-0.05)
    mod.set_attributes({"v": np.full(3, -0.05)})  # above threshold: every neuron spikes every step
    for call in range(25):
        out, _, _ = mod._evolve_wrapper(TS, num_timesteps=3)
        assert out.times.size == 9 and out.t_start <= out.times[0]
        np.testing.assert_array_equal(out.times[:3], np.full(3, (3 * call + 0.5) * DT))
    assert mod.t == 75 * DT


def test_set_attributes_accepts_the_simulation_parameters():
    # Rockpool crashed on `mod.set_attributes(mod.simulation_parameters())`.
    mod = jaxiaf.FFIAFBrian(W, refractory=1e-3, noise_std=1e-3)
    mod.set_attributes(mod(TS)[1])
    before = mod.simulation_parameters()
    assert mod.set_attributes(mod.simulation_parameters()) is mod
    for name, value in mod.simulation_parameters().items():
        np.testing.assert_array_equal(value, before[name])
    assert mod.t == pytest.approx(0.02)


@pytest.mark.brian
def test_unitless_and_brian2_quantities_are_accepted():
    # Rockpool crashed on a unit-less `v_rest`.
    import brian2

    plain = jaxiaf.FFIAFBrian(W, bias=0.011, v_rest=-0.06, tau_mem=0.02, dt=1e-4, refractory=2e-3)
    mV, ms, mA = brian2.mV, brian2.ms, brian2.mA
    units = jaxiaf.FFIAFBrian(
        W, bias=11 * mA, v_rest=-60 * mV, tau_mem=20 * ms, dt=0.1 * ms, refractory=2 * ms
    )
    np.testing.assert_array_equal(plain(TS)[0].times, units(TS)[0].times)
    assert units.dt == 1e-4
    with pytest.raises(ValueError, match=r"`v_rest` must be in volts \(V\)"):
        jaxiaf.FFIAFBrian(W, v_rest=-60 * ms)


def test_noise_std_is_the_stationary_std_of_v():
    # Rockpool scaled the noise by an extra factor 1.63.
    num_neurons, noise_std = 2000, 2e-3
    mod = jaxiaf.FFIAFBrian(
        np.zeros((1, num_neurons)),
        bias=0.0,
        v_thresh=1.0,
        noise_std=noise_std,
        integrator_name="exact",
        key=jax.random.key(11),
    )
    _, state, _ = mod(duration=0.2)  # 10 time constants: v is stationary
    v = np.asarray(state["v"])
    assert abs(v.std() / noise_std - 1) < 0.06
    assert abs(v.mean() + 0.065) < 4 * noise_std / np.sqrt(num_neurons)
