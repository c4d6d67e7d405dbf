"""A layer whose update is singular for its parameters (Brian2's `exact` closed form of the adaptive LIF at
`a = 0`, at `a = 0, tau_w == tau_m`, or oscillating: round-3 robustness report E7) is refused by name
eagerly and under `jit`/`vmap`, and marked in sweeps; elsewhere nothing changes."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import ADAPTIVE_LIF as ADAPT
from helpers import as_float32

import jaxiaf
from jaxiaf._core import singular
from jaxiaf._equations.model import model

PA = dict(v_rest=-0.065, R=1.0, tau_m=0.02, tau_w=0.15, b=2e-3, v_thresh=-0.05, v_reset=-0.065)
KW = dict(neuron_eq=ADAPT, reset="v = v_reset; w += b", refractory=2e-3, **PA)
X = np.full((5000, 1), 0.03)


def _layer(a, dtype=jnp.float64, **kw):
    mod = jaxiaf.FFIAF(np.eye(np.size(a)), a=a, **{**KW, **kw})
    return mod if dtype == jnp.float64 else as_float32(mod)


@pytest.mark.parametrize("dtype", [jnp.float64, jnp.float32])
def test_a_layer_at_a_singular_value_is_refused_by_name(dtype):
    """The README's `a=[0.0, 0.02]`: Brian2's closed form divides 0 by rounding noise at `a = 0`."""
    x = np.repeat(X.astype(dtype), 2, axis=1)
    with pytest.raises(
        ValueError,
        match=r"Brian2's `exact` solution .* singular for 1 of 2 neurons: \[neuron 0: R=1, tau_m=0\.02, "
        r"tau_w=0\.15, a=0 \(its closed form divides by a value that is 0 to rounding\)\]\. .*"
        r"integrator_name='rk4'",
    ):
        _layer([0.0, 0.02], dtype=dtype)(x)


def test_near_the_singular_value_and_with_rk4_the_counts_agree():
    """`a = 1e-6` (exact) and `a = 0` (rk4) both fire 19 times in 0.5 s: the closed form is refused only
    where it is wrong."""
    exact = np.asarray(_layer([1e-6, 0.02])(np.repeat(X, 2, axis=1))[0]).sum(0)
    rk4 = np.asarray(_layer([0.0, 0.02], integrator_name="rk4")(np.repeat(X, 2, axis=1))[0]).sum(0)
    assert exact.tolist() == rk4.tolist() == [19, 19]


def test_equal_time_constants_and_an_oscillating_system_are_named():
    with pytest.raises(ValueError, match=r"\[neuron 1: R=1, tau_m=0\.02, tau_w=0\.02, a=0 \(its closed form"):
        _layer([0.02, 0.0], tau_w=[0.15, 0.02])(np.repeat(X[:10], 2, axis=1))
    with pytest.raises(ValueError, match=r"a=5 \(its closed form takes the square root of a negative value"):
        _layer(5.0)(X[:10])


def test_under_jit_and_vmap_a_runtime_error_names_it():
    run = lambda a: _layer(a)(X[:50])[0].sum()
    match = r"singular for some neurons' values of `R`, `a`, `tau_m`, `tau_w`"
    with pytest.raises(Exception, match=match):
        jax.vmap(run)(jnp.array([0.0, 0.02]))
    with pytest.raises(Exception, match=match):
        jax.jit(run)(jnp.array(0.0))
    assert int(jax.jit(run)(jnp.array(0.02))) == int(run(0.02))


@pytest.mark.parametrize("dtype", [jnp.float64, jnp.float32])
def test_a_sweep_marks_the_singular_set_and_keeps_the_others(dtype):
    mod = _layer(0.02, dtype=dtype)
    with pytest.warns(jaxiaf.SweepWarning, match=r"1 of 3 parameter sets diverged.*sets 0 \(a=0\)"):
        res = jaxiaf.sweep(mod, {"a": [0.0, 1e-6, 0.02]}, X.astype(dtype), outputs=("counts", "v"))
    np.testing.assert_array_equal(np.asarray(res.diverged).ravel(), [True, False, False])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        alone = jaxiaf.sweep(mod, {"a": [1e-6, 0.02]}, X.astype(dtype), outputs=("counts", "v"))
    np.testing.assert_array_equal(np.asarray(res.counts)[1:], np.asarray(alone.counts))
    np.testing.assert_array_equal(np.asarray(res.v)[1:], np.asarray(alone.v))


def test_evolve_unchecked_marks_the_neuron_and_gradients_pass():
    mod = _layer([0.0, 0.02])
    state = jaxiaf.evolve(mod.params, mod.sim, mod.neuron_state, jnp.full((20, 2), 0.03), check=False)[1]
    np.testing.assert_array_equal(np.asarray(jaxiaf.diverged(state)), [True, False])
    loss = lambda a: jnp.sum(_layer(a)(X[:200])[1].v)
    assert np.isfinite(float(jax.grad(loss)(jnp.asarray(0.02))))


def test_only_expressions_that_can_cancel_are_candidates():
    """A LIF's update divides by `tau` alone: nothing to evaluate (no host call per evolve); the adaptive
    LIF's closed form has divisors and a square root over `R`, `a`, `tau_m`, `tau_w`."""
    lif = model("dv/dt = (v_rest - v + R*I_inp)/tau : volt\nv_rest : volt\nR : ohm\ntau : second")
    assert singular.candidates(lif) == ()
    adaptive = singular.candidates(model(ADAPT, reset="v = v_reset; w += b"))
    assert {kind for kind, _, _ in adaptive} == {"divisor", "root"}
    assert set().union(*(names for _, _, names in adaptive)) == {"R", "a", "tau_m", "tau_w"}
