"""The functional module's interface: defaults, families, set_attributes, resets, immutability."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import ADAPTIVE_LIF, ADAPTIVE_LIF_VALUES

import jaxiaf
from jaxiaf._core.pytrees import NEVER

W = np.full((2, 3), 0.01)


def test_documented_defaults():
    mod = jaxiaf.FFIAF(W)
    np.testing.assert_array_equal(mod.bias, np.full(3, 0.01))
    np.testing.assert_array_equal(mod.tau_mem, np.full(3, 0.02))
    np.testing.assert_array_equal(mod.v_thresh, np.full(3, -0.055))
    np.testing.assert_array_equal(mod.v_reset, np.full(3, -0.065))
    np.testing.assert_array_equal(mod.v_rest, np.full(3, -0.065))
    np.testing.assert_array_equal(mod.v, np.full(3, -0.065))
    assert float(mod.dt) == 1e-4 and float(mod.refractory) == 0.0
    np.testing.assert_array_equal(mod.noise_std, np.zeros(3))
    assert mod.integrator_name == "rk4" and mod.name == "unnamed"
    assert mod.shape == (2, 3) and mod.size_in == 2 and mod.size_out == 3
    assert mod.bias.dtype == jnp.float64
    # Rockpool's module registry and name lookup belong to the timed layer only.
    assert not hasattr(mod, "modules") and not hasattr(mod, "attributes_named")


def test_families():
    mod = jaxiaf.FFIAF(W)
    assert set(mod.parameters()) == {"weights", "bias", "tau_mem", "v_thresh", "v_reset", "v_rest"}
    assert set(mod.parameters("voltages")) == {"v_thresh", "v_reset", "v_rest"}
    assert set(mod.parameters(["weights", "taus"])) == {"weights", "tau_mem"}
    assert set(mod.parameters("biases")) == {"bias"}
    assert set(mod.simulation_parameters()) == {"dt", "noise_std", "refractory", "integrator_name"}
    assert set(mod.simulation_parameters("time")) == {"dt", "refractory"}
    assert set(mod.state()) == {"v", "since_spike", "key", "step"}
    assert set(mod.state("voltages")) == {"v"}
    with pytest.raises(ValueError, match=r"`family` must be one of"):
        mod.parameters("nope")
    with pytest.raises(TypeError, match=r"`family` must be a family name or a list of them; got 123"):
        mod.state(family=123)


def test_call_leaves_module_unchanged_and_set_attributes_advances():
    mod = jaxiaf.FFIAF(W, bias=0.02)
    x = np.ones((400, 2))
    spikes, new_state, record = mod(x)
    assert spikes.shape == (400, 3) and spikes.dtype == jnp.bool_ and record == {}
    assert int(mod.neuron_state.step) == 0 and (np.asarray(mod.v) == -0.065).all()
    advanced = mod.set_attributes(new_state)
    assert int(advanced.neuron_state.step) == 400
    np.testing.assert_allclose(float(advanced.t), 0.04)
    np.testing.assert_array_equal(advanced.v, new_state["v"])
    assert int(spikes.sum()) > 0


def test_record_holds_v_after_reset_and_the_raster():
    mod = jaxiaf.FFIAF(W, bias=0.03, v_reset=-0.07)
    spikes, _, rec = mod(np.zeros((300, 2)), record=True)
    np.testing.assert_array_equal(rec["spikes"], spikes)
    assert (np.asarray(rec["v"])[np.asarray(spikes)] == -0.07).all()


def test_resets():
    mod = jaxiaf.FFIAF(W, bias=0.03, refractory=1e-3)
    changed = mod.set_attributes(mod(np.ones((100, 2)))[1]).set_attributes({"tau_mem": 0.05})
    assert int(changed.neuron_state.step) == 100
    state_reset = changed.reset_state()
    np.testing.assert_array_equal(state_reset.v, mod.v_rest)
    assert (np.asarray(state_reset.neuron_state.since_spike) == NEVER).all()
    assert int(state_reset.neuron_state.step) == 100
    assert int(changed.reset_time().neuron_state.step) == 0
    assert int(changed.reset_all().neuron_state.step) == 0
    np.testing.assert_array_equal(changed.tau_mem, np.full(3, 0.05))


@pytest.mark.parametrize("own", [False, True])
def test_each_parameter_is_one_leaf_of_the_module(own):
    """The functional module carries its parameters once (no copy of the initial ones: `jax.vmap` and
    `jax.grad` see each value once); the timed layer keeps what `reset_parameters` restores."""
    kw = dict(neuron_eq=ADAPTIVE_LIF, reset="v = v_reset; w += b", **ADAPTIVE_LIF_VALUES) if own else {}
    mod = jaxiaf.FFIAF(np.full((2, 3), 0.5), **kw)
    leaves = jax.tree.leaves(mod)
    values = list(mod.params.named().values())
    assert sum(any(leaf is value for leaf in leaves) for value in values) == len(values)
    assert len(leaves) == len(values) + len(jax.tree.leaves((mod.sim, mod.neuron_state)))
    assert not hasattr(mod, "reset_parameters") and not hasattr(mod, "initial_params")


def test_set_attributes_accepts_pytrees_and_parameter_dicts():
    mod = jaxiaf.FFIAF(W)
    params = mod.parameters()
    params["weights"] = params["weights"] * 0.0
    zeroed = mod.set_attributes(params)
    assert (np.asarray(zeroed.weights) == 0).all()
    again = zeroed.set_attributes(mod.params)
    np.testing.assert_array_equal(again.weights, mod.weights)
    assert mod.set_attributes(mod.simulation_parameters()).sim == mod.sim


def test_per_neuron_refractory_and_noise_are_accepted():
    mod = jaxiaf.FFIAF(W, refractory=[0.0, 1e-3, 2e-3], noise_std=[0.0, 0.001, 0.002])
    assert mod.refractory.shape == (3,) and mod.sim.noisy
    assert not jaxiaf.FFIAF(W).sim.noisy
    # The integrator name and the noise switch are static: every leaf is an array.
    assert len(jax.tree.leaves(mod.sim)) == 3
    assert all(isinstance(leaf, jax.Array) for leaf in jax.tree.leaves(mod.sim))


@pytest.mark.parametrize(
    "integrator, x64",
    [(name, True) for name in ("rk4", "rk2", "euler", "exponential_euler", "exact")]
    + [("rk4", False), ("exact", False)],
)
def test_default_layer_rests_exactly_at_the_threshold(integrator, x64):
    # With every default, v_rest + bias * 1 ohm = -55 mV = v_thresh: v approaches the threshold from below and
    # settles just under it (after 30 tau_mem: within 5e-15 V in float64, 2e-6 V in float32), and
    # `v > v_thresh` is strict, so the layer is silent without input ...
    with jax.enable_x64(x64):
        mod = jaxiaf.FFIAF(np.ones((1, 3)), integrator_name=integrator)
        spikes, _, rec = mod(np.zeros((6000, 1)), record=True)
        assert not spikes.any()
        v, v_thresh = np.asarray(rec["v"]), np.asarray(mod.v_thresh)
        assert (v <= v_thresh).all() and (v_thresh - v[-1] < (5e-15 if x64 else 2e-6)).all()
        # ... and a small positive input makes it fire: 1 nA in float64, 10 uA in float32.
        assert mod(np.full((6000, 1), 1e-9 if x64 else 1e-5), record=True)[0].any(axis=0).all()


def test_default_float32_layer(key):
    x = np.linspace(0.0, 2.0, 2000)[:, None] * np.ones((1, 2))
    with jax.enable_x64(False):
        mod = jaxiaf.FFIAF(W, noise_std=0.0)
        assert mod.bias.dtype == jnp.float32 and mod.neuron_state.step.dtype == jnp.int32
        spikes, state, rec = mod(x, record=True)
        assert rec["v"].dtype == jnp.float32 and state["v"].dtype == jnp.float32
        # Integers beyond 2**31 are converted, not wrapped through int32.
        big = mod(np.full((3, 2), 2**40, dtype=np.int64), record=True)[2]["v"]
        np.testing.assert_array_equal(big, mod(np.full((3, 2), 2.0**40), record=True)[2]["v"])
    f64 = jaxiaf.FFIAF(W)(x, record=True)
    assert int(spikes.sum()) == int(f64[0].sum()) > 0
    np.testing.assert_allclose(rec["v"], f64[2]["v"], atol=1e-5)


def test_unroll_gives_the_same_results():
    mod = jaxiaf.FFIAF(W, bias=0.03, noise_std=1e-3)
    x = np.ones((61, 2))
    one, state_one, rec_one = mod(x, record=True)
    many, state_many, rec_many = mod(x, record=True, unroll=np.int64(4))
    np.testing.assert_array_equal(one, many)
    np.testing.assert_array_equal(rec_one["v"], rec_many["v"])
    np.testing.assert_array_equal(state_one["v"], state_many["v"])
    with pytest.raises(ValueError, match=r"`unroll` must be a positive integer"):
        mod(x, unroll=0)


def test_evolve_with_precomputed_constants_equals_evolve():
    mod = jaxiaf.FFIAF(W, bias=0.03, refractory=[0.0, 1e-3, 2.5e-3], noise_std=1e-3, integrator_name="rk2")
    currents = jnp.asarray(np.ones((400, 2)) @ np.asarray(mod.weights))
    args = (mod.params, mod.sim, mod.neuron_state, currents)
    constants = jaxiaf.step_constants(mod.params, mod.sim)
    given, given_state, _ = jaxiaf.evolve(*args, constants=constants)
    computed, computed_state, _ = jaxiaf.evolve(*args)
    np.testing.assert_array_equal(given, computed)
    np.testing.assert_array_equal(given_state.v, computed_state.v)
    assert int(given.sum()) > 0
    # The constants are used, not recomputed: doubling the refractory steps changes the spikes.
    longer = eqx.tree_at(lambda c: c.refractory_steps, constants, constants.refractory_steps * 2 + 5)
    assert (np.asarray(jaxiaf.evolve(*args, constants=longer)[0]) != np.asarray(given)).any()


def test_noise_key_default_is_fixed_and_documented():
    # The default key is jax.random.key(0): two layers built without a key draw the same noise.
    x = np.ones((200, 2))
    a = jaxiaf.FFIAF(W, noise_std=1e-3)(x, record=True)[2]["v"]
    b = jaxiaf.FFIAF(W, noise_std=1e-3, key=jax.random.key(0))(x, record=True)[2]["v"]
    c = jaxiaf.FFIAF(W, noise_std=1e-3, key=jax.random.key(1))(x, record=True)[2]["v"]
    np.testing.assert_array_equal(a, b)
    assert (np.asarray(a) != np.asarray(c)).any()


def test_surrogate_layer_has_the_same_forward_and_a_gradient():
    from jaxiaf.surrogate import SuperSpike

    x = np.ones((200, 2))
    smooth = jaxiaf.FFIAF(W, bias=0.03, surrogate=SuperSpike())
    spikes, _, rec = smooth(x, record=True)
    hard, _, hard_rec = jaxiaf.FFIAF(W, bias=0.03)(x, record=True)
    assert spikes.dtype == jnp.float64 and int(hard.sum()) > 0
    np.testing.assert_array_equal(spikes, hard)
    np.testing.assert_array_equal(rec["v"], hard_rec["v"])
    count = lambda b, every: smooth.set_attributes({"bias": b})(x, checkpoint_every=every)[0].sum()
    grad = jax.grad(count)(jnp.full(3, 0.03), None)
    assert np.isfinite(grad).all() and (np.asarray(grad) > 0).all()
    np.testing.assert_allclose(jax.grad(count)(jnp.full(3, 0.03), 50), grad, rtol=1e-12)
    with pytest.raises(ValueError, match=r"`surrogate` must be None or a jaxiaf.surrogate.Surrogate"):
        jaxiaf.FFIAF(W, surrogate="superspike")
