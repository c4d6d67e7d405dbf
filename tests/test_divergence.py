"""Divergence reported per neuron, not fatal for the rest: the error names the neurons, the variable, the
step and their parameters; `jaxiaf.diverged` marks them, and the other neurons' results are those of
the same neurons run alone."""

import jax
import numpy as np
import pytest
from helpers import ADAPTIVE_LIF as ADAPT
from helpers import LIF

import jaxiaf

P = dict(v_rest=-0.065, R=1.0, v_thresh=-0.05, v_reset=-0.065)
PA = dict(v_rest=-0.065, R=1.0, tau_m=0.02, b=2e-3, v_thresh=-0.05, v_reset=-0.065, a=0.02)


def _layer(tau_w, **kw):
    n = len(tau_w)
    return jaxiaf.FFIAF(np.eye(n), neuron_eq=ADAPT, reset="v = v_reset; w += b", tau_w=tau_w, **PA, **kw)


@pytest.mark.parametrize("record", [False, True])
def test_the_error_names_neurons_step_variable_and_parameters(record):
    """Euler at `dt / tau = 10` multiplies `v - v_rest` by -9 every step: neuron 1's `v` overflows
    float64 (9**k > 1.8e308 from k = 323 on) and is NaN one step later (inf - inf)."""
    mod = jaxiaf.FFIAF(
        np.eye(3), neuron_eq=LIF, integrator_name="euler", threshold="", tau=[0.02, 1e-5, 0.1], **P, v=-0.064
    )
    with pytest.raises(
        ValueError, match=r"1 of 3 neurons: \[neuron 1: `v` first NaN or inf at step 32\d .*tau=1e-05"
    ):
        mod(np.zeros((400, 3)), record=record)


def test_the_mask_keeps_the_other_neurons():
    """Random sets of `tau_w` with some equal to `tau_m`: `diverged` is exactly those neurons, and every
    other neuron's spikes and state equal a layer of the valid neurons alone."""
    rng = np.random.default_rng(0)
    for _ in range(3):
        tau_w = rng.choice([0.02, 0.05, 0.15, 0.3], size=5)
        x = rng.uniform(0.0, 0.05, (400, 5))
        mod = _layer(tau_w)
        spikes, state, _ = jaxiaf.evolve(
            mod.params, mod.sim, mod.neuron_state, jax.numpy.asarray(x), check=False
        )
        bad = np.asarray(jaxiaf.diverged(state))
        np.testing.assert_array_equal(bad, tau_w == 0.02)
        keep = np.flatnonzero(~bad)
        alone, state_alone, _ = _layer(tau_w[keep])(x[:, keep])
        np.testing.assert_array_equal(np.asarray(spikes)[:, keep], np.asarray(alone))
        np.testing.assert_array_equal(np.asarray(state.v)[keep], np.asarray(state_alone["v"]))


def test_the_mask_over_a_batch_axis():
    state = _layer([0.15, 0.02]).neuron_state
    v = np.stack([state.v, state.v])
    v[1, 0] = np.nan
    w = np.stack([state.extra["w"], state.extra["w"]])
    w[0, 1] = np.inf
    batched = jaxiaf.State(v, state.since_spike, state.key, state.step, {"w": w})
    np.testing.assert_array_equal(np.asarray(jaxiaf.diverged(batched)), [[False, True], [True, False]])


@pytest.mark.parametrize("reducer", ["counts", lambda a: a])
def test_evolve_refuses_a_reducer_that_is_not_a_reducer(reducer):
    mod = jaxiaf.FFIAF(np.ones((1, 2)))
    with pytest.raises(TypeError, match="`reducer` must be a jaxiaf.Reducer"):
        jaxiaf.evolve(mod.params, mod.sim, mod.neuron_state, np.zeros((5, 2)), reducer=reducer)


def test_evolve_names_a_parameter_of_another_size_and_a_missing_batch_key():
    """U14 and C5: shapes that do not fit the state are refused by name, not by JAX's broadcasting."""
    mod = jaxiaf.FFIAF(np.ones((1, 3)), noise_std=1e-3)
    other = jaxiaf.FFIAF(np.ones((1, 4))).params
    with pytest.raises(ValueError, match="`bias` has shape \\(4,\\)"):
        jaxiaf.evolve(other, mod.sim, mod.neuron_state, np.zeros((5, 3)))
    st = mod.neuron_state
    batched = jaxiaf.State(
        np.broadcast_to(st.v, (2, 3)), np.broadcast_to(st.since_spike, (2, 3)), st.key, st.step, {}
    )
    with pytest.raises(ValueError, match="one key per batch entry"):
        jaxiaf.evolve(mod.params, mod.sim, batched, np.zeros((5, 3)))
    keys = jax.random.split(jax.random.key(0), 2)
    keyed = jaxiaf.State(batched.v, batched.since_spike, keys, st.step, {})
    spikes = jaxiaf.evolve(mod.params, mod.sim, keyed, np.zeros((5, 3)))[0]
    assert spikes.shape == (5, 2, 3)


def test_a_traced_unroll_and_reducer_signatures_are_refused_by_name():
    """E29 and E27: an `unroll` traced by `jax.jit`, and a Reducer whose functions take other arguments."""
    mod = jaxiaf.FFIAF(np.ones((1, 1)))
    with pytest.raises(TypeError, match="`unroll` must be a positive Python int"):
        jax.jit(lambda u: mod(np.ones((5, 1)), unroll=u)[0])(2)
    bad = jaxiaf.Reducer(init=lambda: 0, update=lambda: 0)
    with pytest.raises(TypeError, match=r"`reducer.init` must be callable as init\(shape, dtype\)"):
        jaxiaf.sweep(mod, {"bias": [0.01, 0.02]}, np.ones((5, 1)), reducer=bad)
    half = jaxiaf.Reducer(init=lambda shape, dtype: 0, update=lambda acc, k: (acc, None))
    with pytest.raises(TypeError, match=r"`reducer.update` must be callable as update\(acc, k, spike, v\)"):
        jaxiaf.evolve(mod.params, mod.sim, mod.neuron_state, np.zeros((5, 1)), reducer=half)
