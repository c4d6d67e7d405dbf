"""Every bad input gets a clear error naming the argument: eagerly, under jit and under vmap."""

import re

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxiaf

W = np.full((2, 3), 0.01)
X = np.ones((50, 2))


def _mod(**kwargs):
    return jaxiaf.FFIAF(W, **kwargs)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(tau_mem=0.0), "`tau_mem` must be finite and > 0 (in s)"),
        (dict(tau_mem=[0.01, -0.02, 0.01]), "`tau_mem` must be finite and > 0 (in s)"),
        (dict(dt=-1e-4), "`dt` must be finite and > 0 (in s)"),
        (dict(refractory=-1e-3), "`refractory` must be finite and >= 0 (in s)"),
        (dict(noise_std=-0.1), "`noise_std` must be finite and >= 0 (in V)"),
        (dict(bias=np.nan), "`bias` must be finite (in A)"),
        (dict(v_thresh=np.inf), "`v_thresh` must be finite (in V)"),
        (dict(v_reset=[0.0, np.nan, 0.0]), "`v_reset` must be finite (in V)"),
        (dict(v_rest=-np.inf), "`v_rest` must be finite (in V)"),
        (dict(tau_mem=[0.01, 0.02]), "`tau_mem` must be a scalar or have shape (1,) or (3,)"),
        (dict(bias=np.zeros((3, 1))), "`bias` must be a scalar or have shape (1,) or (3,)"),
        (dict(dt=[1e-4, 1e-4]), "`dt` must be a scalar; got shape (2,)"),
        (dict(integrator_name="heun"), "`integrator_name` must be one of 'rk4', 'rk2', 'euler'"),
    ],
)
def test_construction_errors(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        _mod(**kwargs)


@pytest.mark.parametrize("weights", [np.ones(3), np.ones((2, 3, 1)), np.ones((0, 3))])
def test_weights_must_be_2d(weights):
    with pytest.raises(ValueError, match=re.escape("`weights` must be a 2-D array [N_in, N]")):
        jaxiaf.FFIAF(weights)


def test_non_finite_weights():
    with pytest.raises(ValueError, match=re.escape("`weights` must be finite")):
        jaxiaf.FFIAF(np.array([[0.1, np.nan]]))


def test_units_are_checked():
    import brian2 as b2

    mod = jaxiaf.FFIAF(W, tau_mem=15 * b2.ms, v_rest=-70 * b2.mV, bias=2 * b2.mA)
    np.testing.assert_allclose(mod.tau_mem, 0.015)
    np.testing.assert_allclose(mod.v_rest, -0.07)
    with pytest.raises(ValueError, match=re.escape("`tau_mem` must be in seconds (s)")):
        jaxiaf.FFIAF(W, tau_mem=20 * b2.mV)
    with pytest.raises(TypeError, match="`bias` must be a number"):
        jaxiaf.FFIAF(W, bias="lots")


@pytest.mark.parametrize(
    "x, message",
    [
        (np.ones((50, 3)), "`x` must have shape (T, N_in=2)"),
        (np.ones(50), "`x` must have shape (T, N_in=2)"),
        (np.ones((4, 50, 2)), "`x` must have shape (T, N_in=2)"),
    ],
)
def test_input_shape_errors(x, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        _mod()(x)
    with pytest.raises(ValueError, match=re.escape(message)):
        jax.jit(lambda x: _mod()(x))(x)


def test_non_finite_input_eager_jit_vmap():
    bad = X.copy()
    bad[10, 1] = np.nan
    message = "`x` (the input) must be finite"
    with pytest.raises(ValueError, match=re.escape(message)):
        _mod()(bad)
    with pytest.raises(Exception, match=re.escape(message)):
        jax.block_until_ready(jax.jit(lambda x: _mod()(x)[0])(bad))
    with pytest.raises(Exception, match=re.escape(message)):
        jax.block_until_ready(jax.vmap(lambda x: _mod()(x)[0])(np.stack([X, bad])))


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("tau_mem", -0.01, "`tau_mem` must be finite and > 0 (in s)"),
        ("dt", 0.0, "`dt` must be finite and > 0 (in s)"),
        ("refractory", -1e-3, "`refractory` must be finite and >= 0 (in s)"),
        ("bias", jnp.inf, "`bias` must be finite (in A)"),
    ],
)
def test_value_errors_under_jit_and_vmap(name, value, message):
    mod = _mod()
    run = lambda v: mod.set_attributes({name: v})(X)[0]
    with pytest.raises(ValueError, match=re.escape(message)):
        run(value)
    with pytest.raises(Exception, match=re.escape(message)):
        jax.block_until_ready(jax.jit(run)(value))
    with pytest.raises(Exception, match=re.escape(message)):
        jax.block_until_ready(jax.vmap(run)(jnp.array([0.01 if name != "bias" else 0.0, value])))
    with pytest.raises(eqx.EquinoxRuntimeError, match=re.escape(message)):
        jax.block_until_ready(eqx.filter_jit(run)(value))


def test_set_attributes_errors():
    mod = _mod()
    with pytest.raises(ValueError, match=re.escape("Unknown attribute(s) ['tau']")):
        mod.set_attributes({"tau": 0.01})
    with pytest.raises(ValueError, match=re.escape("`weights` must keep shape (2, 3)")):
        mod.set_attributes({"weights": np.ones((3, 3))})
    with pytest.raises(ValueError, match=re.escape("`v` and `since_spike` must have shape (3,)")):
        mod.set_attributes({"v": np.zeros(4)})
    with pytest.raises(ValueError, match=re.escape("`integrator_name` must be one of")):
        mod.set_attributes({"integrator_name": "midpoint"})
    with pytest.raises(TypeError, match=re.escape("`new_attributes` must be a dict")):
        mod.set_attributes([1, 2])


def test_core_checks_currents():
    mod = _mod()
    currents = jnp.full((10, 3), jnp.nan)
    with pytest.raises(Exception, match=re.escape("`currents` (the input) must be finite")):
        jax.block_until_ready(jaxiaf.evolve(mod.params, mod.sim, mod.neuron_state, currents)[0])
