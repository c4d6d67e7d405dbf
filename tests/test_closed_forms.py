"""The dynamics against closed forms: relaxation, convergence order, inter-spike intervals."""

import jax.numpy as jnp
import numpy as np
import pytest

import jaxiaf

INTEGRATORS = ["rk4", "rk2", "euler", "exponential_euler", "exact"]
ORDERS = {"euler": 1, "rk2": 2, "rk4": 4}


def _relax(integrator, dt, num_steps, tau=0.02, current=0.004, v_rest=-0.065):
    mod = jaxiaf.FFIAF(
        np.ones((1, 1)), bias=0.0, tau_mem=tau, v_thresh=1.0, v_rest=v_rest, dt=dt, integrator_name=integrator
    )
    _, _, rec = mod(np.full((num_steps, 1), current), record=True)
    t = dt * np.arange(1, num_steps + 1)
    exact = v_rest + current + (-current) * np.exp(-t / tau)
    return np.asarray(rec["v"][:, 0]), exact


@pytest.mark.parametrize("integrator", ["exact", "exponential_euler"])
def test_exact_integrators_follow_the_closed_form(integrator):
    v, exact = _relax(integrator, 1e-4, 2000)
    # Only rounding separates them: at most one ulp of v (1.4e-17 V) per step, over 2000 steps.
    np.testing.assert_allclose(v, exact, rtol=0, atol=2000 * 1.4e-17)


@pytest.mark.parametrize("integrator", ["euler", "rk2", "rk4"])
def test_convergence_order(integrator):
    errors = []
    for dt in (4e-4, 2e-4, 1e-4):
        v, exact = _relax(integrator, dt, int(round(0.02 / dt)))
        errors.append(np.abs(v - exact).max())
    rates = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    np.testing.assert_allclose(rates, ORDERS[integrator], atol=0.1)


def _isi_model(current, tau, v_thresh, v_reset, v_rest):
    return tau * np.log((current - (v_reset - v_rest)) / (current - (v_thresh - v_rest)))


@pytest.mark.parametrize("integrator", INTEGRATORS)
def test_constant_current_interspike_interval(integrator):
    dt, tau = 1e-4, np.array([0.005, 0.01, 0.02, 0.05])
    bias = np.array([0.012, 0.02, 0.015, 0.03])
    v_rest, v_reset, v_thresh = -0.065, -0.07, -0.055
    mod = jaxiaf.FFIAF(
        np.zeros((1, 4)),
        bias=bias,
        tau_mem=tau,
        v_thresh=v_thresh,
        v_reset=v_reset,
        v_rest=v_rest,
        dt=dt,
        integrator_name=integrator,
    )
    spikes, _, _ = mod(np.zeros((20000, 1)))
    predicted = np.floor(_isi_model(bias, tau, v_thresh, v_reset, v_rest) / dt) + 1
    for n in range(4):
        steps = np.flatnonzero(np.asarray(spikes[:, n]))
        isi = np.diff(steps)
        assert len(isi) > 5
        if integrator in ("exact", "exponential_euler"):
            assert (isi == predicted[n]).all(), (n, np.unique(isi), predicted[n])
        else:
            assert (np.abs(isi - predicted[n]) <= 2).all(), (n, np.unique(isi), predicted[n])


@pytest.mark.parametrize("integrator", INTEGRATORS)
@pytest.mark.parametrize("refractory_steps", [0, 0.5, 1, 1.5, 2, 2.99, 2.9995, 3, 7, 10.25, 30])
def test_refractory_interval_is_max_of_r_and_one(integrator, refractory_steps):
    dt = 1e-4
    # v_reset above threshold and a strong drive: the neuron fires whenever it is allowed to.
    mod = jaxiaf.FFIAF(
        np.zeros((1, 1)),
        bias=1.0,
        v_reset=-0.05,
        v_thresh=-0.055,
        dt=dt,
        refractory=refractory_steps * dt,
        integrator_name=integrator,
    )
    spikes, _, _ = mod(np.zeros((400, 1)))
    isi = np.diff(np.flatnonzero(np.asarray(spikes[:, 0])))
    # Brian2's timestep(): R = int(refractory / dt + 1e-3), so 2.9995 steps count as 3 and 2.99 as 2.
    expected = {2.99: 2, 2.9995: 3}.get(refractory_steps, int(refractory_steps))
    assert set(isi.tolist()) == {max(expected, 1)}


def test_refractory_neuron_holds_v_exactly():
    mod = jaxiaf.FFIAF(np.zeros((1, 1)), bias=0.05, v_reset=-0.07, refractory=2e-3, dt=1e-4)
    spikes, _, rec = mod(np.zeros((300, 1)), record=True)
    first = int(np.flatnonzero(np.asarray(spikes[:, 0]))[0])
    held = np.asarray(rec["v"][first : first + 20, 0])
    assert (held == -0.07).all()
    assert rec["v"][first + 20, 0] > -0.07
    assert jnp.asarray(spikes).dtype == jnp.bool_
