"""Spike-for-spike parity with Brian2 (brian_ref, numpy target) in float64, for every integrator.

Many scenarios are packed into one Brian2 NeuronGroup (neurons are independent) and one vmapped JAX call.
"""

import numpy as np
import pytest
from helpers import brian_layer, spike_sets_equal

from brian_ref.parity import run_jax
from brian_ref.scenarios import random_scenarios

INTEGRATORS = ["rk4", "rk2", "euler", "exponential_euler", "exact"]
pytestmark = pytest.mark.brian


@pytest.mark.parametrize("integrator", INTEGRATORS)
@pytest.mark.parametrize("dt", [1e-4, 3e-5])
def test_random_scenarios_match_brian(integrator, dt):
    rng = np.random.default_rng([INTEGRATORS.index(integrator), int(dt * 1e6)])
    sc = random_scenarios(rng, 120, 2000, dt)
    spikes, v = run_jax(sc, integrator)
    ref = brian_layer(sc, integrator).evolve(currents=sc.currents())
    same = spike_sets_equal(spikes, ref.raster(), sc.shape[0])
    assert same.all(), f"{(~same).sum()} of {same.size} scenarios differ: {np.flatnonzero(~same)}"
    np.testing.assert_array_equal(v, ref.v)
    assert (spikes.reshape(spikes.shape[0], 120, -1).any(axis=(0, 2))).mean() > 0.5, "too few scenarios fire"


def _grazing(integrator, rng, kind):
    """Scenarios whose v reaches the threshold within +-1e-12 V (or exactly at it)."""
    sc = random_scenarios(rng, 60, 1500, 1e-4)
    sc.refractory[:] = 0.0
    if kind == "asymptote":
        # Zero input: v relaxes to v_rest + bias, which is put within 1e-12 V of the threshold.
        sc.x[:] = 0.0
        sc.tau_mem[:] = rng.uniform(1e-3, 5e-3, sc.tau_mem.shape)
        peak = sc.v_rest + sc.bias
    else:
        # The sub-threshold peak of each trajectory, measured by a run with an unreachable threshold.
        _, v = run_jax(sc.with_thresholds(np.ones_like(sc.v_thresh)), integrator)
        peak = v.max(axis=0).reshape(sc.v_thresh.shape)
    eps = rng.choice([-1e-12, -1e-13, -1e-14, -1e-15, 0.0, 1e-15, 1e-14, 1e-13, 1e-12], peak.shape)
    return sc.with_thresholds(peak + eps)


@pytest.mark.parametrize("integrator", INTEGRATORS)
@pytest.mark.parametrize("kind", ["peak", "asymptote"])
def test_grazing_threshold_matches_brian(integrator, kind):
    rng = np.random.default_rng([7, INTEGRATORS.index(integrator), kind == "peak"])
    sc = _grazing(integrator, rng, kind)
    spikes, v = run_jax(sc, integrator)
    ref = brian_layer(sc, integrator).evolve(currents=sc.currents())
    same = spike_sets_equal(spikes, ref.raster(), sc.shape[0])
    assert same.all(), f"{(~same).sum()} of {same.size} grazing scenarios differ"
    np.testing.assert_array_equal(v, ref.v)
    fired = spikes.any(axis=0).mean()
    assert 0.05 < fired < 0.95, f"grazing scenarios should split between firing and not; {fired:.2f} fired"
