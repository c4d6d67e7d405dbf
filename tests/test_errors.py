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


@pytest.mark.brian
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
    with pytest.raises(ValueError, match=re.escape("`v` must be a scalar or have shape (3,)")):
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


@pytest.mark.parametrize(
    "name, value, error, message",
    [
        ("v", np.full(3, np.nan), ValueError, "`v` must be finite (in V)"),
        ("v", np.array([0.0, np.inf, 0.0]), ValueError, "`v` must be finite (in V)"),
        ("step", 2.5, TypeError, "`step` must hold integers (steps)"),
        ("step", -1, ValueError, "`step` must be finite and >= 0 (in steps)"),
        ("since_spike", np.array([1, -5, 1]), ValueError, "`since_spike` must be finite and >= 0 (in steps)"),
        ("since_spike", np.ones(3), TypeError, "`since_spike` must hold integers (steps)"),
        ("key", 5, TypeError, "`key` must be a JAX PRNG key"),
        ("key", jax.random.split(jax.random.key(0), 2), ValueError, "`key` must be one PRNG key (shape ())"),
        ("key", np.zeros(3, np.uint32), ValueError, "`key` must be one PRNG key"),
        ("bias", 1 + 2j, TypeError, "`bias` must be real; got complex values"),
        ("weights", np.full((2, 3), 1j), TypeError, "`weights` must be real; got complex values"),
    ],
)
def test_state_and_key_values_are_checked(name, value, error, message):
    with pytest.raises(error, match=re.escape(message)):
        _mod().set_attributes({name: value})


def test_state_values_are_checked_under_jit():
    mod = _mod()
    run = eqx.filter_jit(lambda v: mod.set_attributes({"v": jnp.full(3, v)})(X)[0])
    assert run(-0.06).shape == (50, 3)
    with pytest.raises(eqx.EquinoxRuntimeError, match=re.escape("`v` must be finite (in V)")):
        jax.block_until_ready(run(jnp.nan))
    step = eqx.filter_jit(lambda k: mod.set_attributes({"step": k})(X)[1]["step"])
    with pytest.raises(eqx.EquinoxRuntimeError, match=re.escape("`step` must be finite and >= 0")):
        jax.block_until_ready(step(-3))


@pytest.mark.parametrize("key", [jax.random.split(jax.random.key(0), 2), 0, np.zeros((2, 2), np.uint32)])
def test_keys_are_checked_at_construction(key):
    with pytest.raises((TypeError, ValueError), match="`key` must be"):
        _mod(noise_std=1e-3, key=key)


def test_raw_and_typed_keys_draw_the_same_noise():
    typed = _mod(noise_std=1e-3, key=jax.random.key(3))(X, record=True)[2]["v"]
    raw = _mod(noise_std=1e-3, key=jax.random.PRNGKey(3))(X, record=True)[2]["v"]
    np.testing.assert_array_equal(typed, raw)


def test_batched_module_must_be_called_under_vmap():
    mods = jax.vmap(lambda b: _mod(bias=b, noise_std=1e-3))(jnp.array([0.0, 0.01]))
    with pytest.raises(ValueError, match=re.escape("call it under `jax.vmap` as well")):
        mods(X)
    assert jax.vmap(lambda m: m(X)[0])(mods).shape == (2, 50, 3)


def test_unknown_family_names_the_families():
    message = "`family` must be one of ['biases', 'taus', 'voltages', 'weights']"
    with pytest.raises(ValueError, match=re.escape(message)):
        _mod().parameters("tau")
    with pytest.raises(
        ValueError, match=re.escape("`family` must be one of ['integrator', 'noise', 'time']")
    ):
        _mod().simulation_parameters(["time", "taus"])
    with pytest.raises(ValueError, match=re.escape("`family` must be one of")):
        _mod().state("v")


def test_record_must_be_a_bool():
    mod = _mod()
    np.testing.assert_array_equal(mod(X, record=np.bool_(True))[2]["v"], mod(X, record=True)[2]["v"])
    with pytest.raises(TypeError, match=re.escape("`record` must be a bool")):
        mod(X, record="yes")


@pytest.mark.parametrize("x", [np.full((50, 2), 1 + 1j), np.full((50, 2), "a")])
def test_input_must_be_real_numbers(x):
    with pytest.raises(TypeError, match="`x` must be"):
        _mod()(x)


def test_dt_changes_only_at_t_zero():
    mod = _mod()
    assert float(mod.set_attributes({"dt": 2e-4}).dt) == 2e-4
    advanced = mod.set_attributes(mod(X)[1])
    message = "`dt` can change only at t = 0"
    with pytest.raises(ValueError, match=re.escape(message)):
        advanced.set_attributes({"dt": 2e-4})
    assert advanced.set_attributes({"dt": 1e-4}).dt == advanced.dt  # an unchanged dt is accepted
    assert float(advanced.reset_time().set_attributes({"dt": 2e-4}).dt) == 2e-4
    assert float(advanced.set_attributes({"dt": 2e-4, "step": 0}).t) == 0.0
    traced = eqx.filter_jit(lambda dt: advanced.set_attributes({"dt": dt})(X)[0])
    with pytest.raises(eqx.EquinoxRuntimeError, match=re.escape(message)):
        jax.block_until_ready(traced(2e-4))


@pytest.mark.brian
def test_every_value_checks_its_dimension():
    import brian2 as b2

    wrong = {"bias": b2.mV, "tau_mem": b2.mA, "v_thresh": b2.ms, "v_reset": b2.ms, "v_rest": b2.mA}
    wrong |= {"dt": b2.mV, "noise_std": b2.ms, "refractory": b2.mV, "weights": b2.mA}
    for name, unit in wrong.items():
        value = np.full((2, 3), 1.0) * unit if name == "weights" else 1.0 * unit
        with pytest.raises(ValueError, match=re.escape(f"`{name}` must be in")):
            jaxiaf.FFIAF(W, **{name: value}) if name != "weights" else jaxiaf.FFIAF(value)
    with pytest.raises(ValueError, match=re.escape("`tau_mem` must be in seconds (s)")):
        _mod(tau_mem=[10 * b2.ms, 20 * b2.mV, 30 * b2.ms])
    np.testing.assert_allclose(_mod(tau_mem=[10 * b2.ms, 20 * b2.ms, 30 * b2.ms]).tau_mem, [0.01, 0.02, 0.03])
    with pytest.raises(ValueError, match=re.escape("`v` must be in volts (V)")):
        _mod().set_attributes({"v": np.zeros(3) * b2.mA})
    with pytest.raises(ValueError, match=re.escape("`x` must be in amperes (A)")):
        _mod()(X * b2.mV)
    np.testing.assert_array_equal(_mod()(X * b2.amp)[0], _mod()(X)[0])
    train = np.zeros((100, 1), bool)
    with pytest.raises(ValueError, match=re.escape("`tau` must be in seconds (s)")):
        jaxiaf.metrics.van_rossum(train, train, 0.1 * b2.ms, 10 * b2.mV)
    assert float(jaxiaf.metrics.van_rossum(train, train, 0.1 * b2.ms, 10 * b2.ms)[0]) == 0.0
