"""The equation-driven layer (`neuron_eq`): Brian2 parity over a model zoo, the default equations through
the generated path, names, and every refusal."""

import brian_ref
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from zoo import ZOO, run_both, same_trains

import jaxiaf
from jaxiaf._pytrees import NEVER, Parameters, SimulationParameters, State

pytestmark = pytest.mark.brian
CASES = [(name, method) for name, zoo in ZOO.items() for method in zoo.methods]


@pytest.mark.parametrize(("name", "method"), CASES)
def test_zoo_matches_brian(name, method):
    """100 random scenarios (parameters, initial state, refractory 0-30 steps, input per neuron): spike
    sets and every state variable bit-identical where the update is arithmetic only; with `exp` of a
    state variable (AdEx), >= 99 % identical, and the others within 1e-9 V until their first divergence."""
    zoo = ZOO[name]
    spikes, traces, ref = run_both(zoo, method, seed=CASES.index((name, method)))
    assert spikes.any(axis=0).mean() > 0.3, "too few scenarios fire"
    same = same_trains(spikes, ref.raster())
    if not zoo.transcendental:
        assert same.all(), f"{(~same).sum()} of {same.size} scenarios differ"
        for var, trace in traces.items():
            np.testing.assert_array_equal(trace, ref.traces[var], err_msg=var)
        return
    assert same.mean() >= 0.99, f"{(~same).sum()} of {same.size} scenarios differ"
    for neuron in np.flatnonzero(~same):
        first = np.flatnonzero(spikes[:, neuron] != ref.raster()[:, neuron])[0]
        gap = np.abs(traces["v"][:first, neuron] - ref.traces["v"][:first, neuron]).max(initial=0)
        assert gap <= 1e-9, f"scenario {neuron} drifted by {gap} V before its first divergent spike"


def _generated_default(mod: jaxiaf.FFIAF, method: str):
    """The pytrees of `mod` with the default equations run through the generated path. The equations
    are `brian_ref`'s (the kernels were derived from them): Brian2 orders the terms of its generated code
    by variable name, so `DEFAULT_NEURON_EQ`'s names give another rounding for `exact`."""
    model = jaxiaf.model(brian_ref._layer._EQUATIONS, integrator_name=method)
    p = mod.params
    extra = {"Ib": p.bias, "tau_m": p.tau_mem, "r_m": jnp.ones_like(p.bias), "refr": jnp.zeros_like(p.bias)}
    params = eqx.tree_at(lambda q: q.extra, p, extra)
    sim = SimulationParameters(mod.sim.dt, mod.sim.noise_std, mod.sim.refractory, model.method, False, model)
    return params, sim


@pytest.mark.parametrize("method", ["rk4", "rk2", "euler", "exponential_euler", "exact"])
def test_default_kernels_equal_the_generated_statements(method):
    """The hand-tuned kernels of the default equations (`jaxiaf._integrators`) equal the statements
    Brian2 generates from `DEFAULT_NEURON_EQ`, bit for bit (spikes and v), float64."""
    rng = np.random.default_rng(["rk4", "rk2", "euler", "exponential_euler", "exact"].index(method))
    n, t = 200, 2000
    mod = jaxiaf.FFIAF(
        np.eye(n), bias=rng.uniform(0, 0.02, n), tau_mem=rng.uniform(0.003, 0.05, n),
        v_thresh=rng.uniform(-0.056, -0.05, n), v_reset=rng.uniform(-0.07, -0.06, n),
        v_rest=rng.uniform(-0.07, -0.06, n), refractory=rng.integers(0, 30, n) * 1e-4, integrator_name=method,
    )  # fmt: skip
    currents = jnp.asarray(rng.normal(0.003, 0.01, (t, n)))
    hand, state, rec = jaxiaf.evolve(mod.params, mod.sim, mod.neuron_state, currents, record=True)
    params, sim = _generated_default(mod, method)
    generated, state2, rec2 = jaxiaf.evolve(params, sim, mod.neuron_state, currents, record=True)
    assert np.asarray(hand).sum() > 100
    np.testing.assert_array_equal(np.asarray(hand), np.asarray(generated))
    np.testing.assert_array_equal(np.asarray(rec["v"]), np.asarray(rec2["v"]))
    np.testing.assert_array_equal(np.asarray(state.since_spike), np.asarray(state2.since_spike))
