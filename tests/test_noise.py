"""The noise: its stationary std, its key, and step-for-step parity with Brian2 fed the same draws."""

import jax
import numpy as np
import pytest
from helpers import brian_layer, random_scenarios, run_jax, spike_sets_equal

import jaxiaf
from jaxiaf._core.scan import standard_normal_raster


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
