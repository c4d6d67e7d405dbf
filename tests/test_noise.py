"""The noise: its stationary std, its key, and step-for-step parity with Brian2 fed the same draws."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import as_float32, brian_layer, spike_sets_equal

import jaxiaf
from brian_ref.parity import run_jax
from brian_ref.scenarios import random_scenarios
from jaxiaf._core.noise import standard_normal_raster


@pytest.mark.parametrize("integrator", ["exact", "rk4"])
def test_stationary_std_matches_noise_std(integrator):
    noise_std = 0.002
    mod = jaxiaf.FFIAF(
        np.zeros((1, 200)),
        bias=0.0,
        v_thresh=1.0,
        tau_mem=0.01,
        noise_std=noise_std,
        integrator_name=integrator,
        key=jax.random.key(5),
    )
    _, _, rec = mod(np.zeros((20000, 1)), record=True)
    v = np.asarray(rec["v"][2000:])
    assert abs(v.mean() - (-0.065)) < 0.05 * noise_std
    assert abs(v.std() / noise_std - 1) < 0.05


@pytest.mark.brian
@pytest.mark.parametrize("integrator", ["rk4", "rk2", "euler", "exponential_euler", "exact"])
def test_noisy_run_equals_brian_with_the_same_draws(integrator, key):
    sc = random_scenarios(np.random.default_rng(21), 30, 1500, 1e-4)
    noise_std = 0.001
    spikes, v = run_jax(sc, integrator, noise_std=noise_std, key=key)
    per_scenario = standard_normal_raster(key, 0, 1500, sc.shape[1])
    xi = np.tile(np.asarray(per_scenario), (1, sc.shape[0]))
    ref = brian_layer(sc, integrator, noise_std=noise_std).evolve(currents=sc.currents(), xi=xi)
    same = spike_sets_equal(spikes, ref.raster(), sc.shape[0])
    assert same.all(), f"{(~same).sum()} noisy scenarios differ"
    np.testing.assert_array_equal(v, ref.v)
    quiet, _ = run_jax(sc, integrator)
    assert (quiet != spikes).any()


def test_noise_draws_depend_only_on_key_and_global_step(key):
    whole = standard_normal_raster(key, 0, 50, 3)
    tail = standard_normal_raster(key, 20, 30, 3)
    np.testing.assert_array_equal(np.asarray(whole[20:]), np.asarray(tail))
    assert abs(float(standard_normal_raster(key, 0, 4000, 50).std()) - 1) < 0.02


def test_per_neuron_noise_std_sets_each_neurons_stationary_std():
    noise_std = np.repeat([0.0, 0.001, 0.003], 20)
    mod = jaxiaf.FFIAF(
        np.zeros((1, 60)), bias=0.0, v_thresh=1.0, tau_mem=0.01, noise_std=noise_std, key=jax.random.key(8)
    )
    _, _, rec = mod(np.zeros((20000, 1)), record=True)
    v = np.asarray(rec["v"][2000:]).reshape(-1, 3, 20)
    assert (v[:, 0] == -0.065).all()  # no noise: v stays exactly at rest
    np.testing.assert_allclose(v[:, 1:].std(axis=(0, 2)) / [0.001, 0.003], 1, atol=0.05)


def test_external_draws_replace_the_keys_and_brian2_replays_them():
    """`evolve(..., draws=...)`: the layer's own draws given back reproduce its run bit for bit (default
    equations and a model with two `xi` terms), and Brian2 fed any given draws (here uniform ones, not the
    key's) gives the layer's spikes and traces with the same draws."""
    from brian_ref import EquationLayer

    t, n = 300, 3
    noisy = jaxiaf.FFIAF(np.eye(n), noise_std=2e-3)
    x = jnp.full((t, n), 0.011)
    own = np.asarray(standard_normal_raster(noisy.neuron_state.key, 0, t, n, jnp.float64))[:, None]
    keyed = jaxiaf.evolve(noisy.params, noisy.sim, noisy.neuron_state, x, record=True)[2]["v"]
    given = jaxiaf.evolve(noisy.params, noisy.sim, noisy.neuron_state, x, record=True, draws=own)[2]["v"]
    np.testing.assert_array_equal(np.asarray(keyed), np.asarray(given))
    eqs = """dv/dt = (v_rest - v + R*I_inp)/tau + s*sqrt(2/tau)*xi_1 : volt
dw/dt = -w/tau + s*sqrt(2/tau)*xi_2/volt : 1
v_rest : volt
R : ohm
tau : second
s : volt
v_thresh : volt
v_reset : volt"""
    values = dict(v_rest=-0.065, R=1.0, tau=0.02, s=2e-3, v_thresh=-0.05, v_reset=-0.065)
    mod = jaxiaf.FFIAF(np.eye(n), neuron_eq=eqs, integrator_name="euler", **values)
    draws = np.random.default_rng(0).uniform(-2.0, 2.0, (t, 2, n))
    currents = np.full((t, n), 0.04)
    spikes, _, rec = jaxiaf.evolve(mod.params, mod.sim, mod.neuron_state, jnp.asarray(currents), record=True,
                                   draws=draws)  # fmt: skip
    ref = EquationLayer(eqs, method="euler", parameters=values).evolve(currents, xi=draws, init={"v": -0.065})
    np.testing.assert_array_equal(np.asarray(spikes), ref.raster())
    np.testing.assert_array_equal(np.asarray(rec["v"]), ref.traces["v"])
    assert np.asarray(spikes).sum() > 5
    with pytest.raises(ValueError, match=r"`draws` must have shape \(T, D, \.\.\.state\) = \(300, 2, 3\)"):
        jaxiaf.evolve(mod.params, mod.sim, mod.neuron_state, jnp.asarray(currents), draws=draws[:, :1])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_noise_gain_where_the_decay_rounds_to_one(dtype):
    """`tau_mem` >> `dt`: `E = exp(-dt / tau_mem)` rounds to 1, and `1 - E` is taken as `-expm1(-dt /
    tau_mem)`, so the noise gain `sqrt((1 + E) / (1 - E))` is finite (it was inf: NaN `v`)."""
    tau = 1e20 if dtype == "float64" else 1e10
    mod = jaxiaf.FFIAF(np.ones((1, 2)), noise_std=1e-3, tau_mem=tau, bias=0.0)
    mod = as_float32(mod) if dtype == "float32" else mod
    consts = jaxiaf.step_constants(mod.params, mod.sim)
    assert float(consts.decay[0]) == 1.0
    expected = 1e-3 * np.sqrt(2 / (1e-4 / tau))
    np.testing.assert_allclose(np.asarray(consts.noise_scale), expected, rtol=1e-6)
    _, _, record = mod(np.zeros((10, 1)), record=True)
    assert np.all(np.isfinite(np.asarray(record["v"])))
