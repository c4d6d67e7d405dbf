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


def test_evolve_checked_names_the_parameters():
    """`jaxiaf.evolve` itself (`check=True`) names the parameters of a singular update, as the layer does,
    instead of reporting the NaN that the update gives."""
    mod = _layer([0.0, 0.02])
    match = r"singular for some neurons' values of `R`, `a`, `tau_m`, `tau_w`"
    with pytest.raises(Exception, match=match):
        jaxiaf.evolve(mod.params, mod.sim, mod.neuron_state, jnp.full((20, 2), 0.03))
    one = _layer(0.02)
    run = lambda a: jaxiaf.evolve(_layer(a).params, one.sim, one.neuron_state, jnp.full((20, 1), 0.03))[1].v
    with pytest.raises(Exception, match=match):
        jax.vmap(run)(jnp.array([0.0, 0.02]))
    assert np.isfinite(np.asarray(jax.vmap(run)(jnp.array([1e-6, 0.02])))).all()


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


def test_the_rule_flags_the_values_where_the_closed_form_loses_digits():
    """The coefficient of `w` in Brian2's closed-form `v` update (NumPy, float64, as Brian2 runs it),
    against the matrix exponential of the linear system: exactly 0 at `a = 0` (the adaptation no longer
    acts on `v`), and about `1.6e-13 / a` off for small `a` (17 % at 1e-12, 8.4e-5 at 1e-9, 1.6e-6 at 1e-7,
    1.6e-7 at 1e-6). The rule (a divisor's error bound above 1e-8 of its value) flags exactly the values
    here whose coefficient is off by more than 1e-6."""
    adaptive = model(ADAPT, reset="v = v_reset; w += b")
    R, tau_m, tau_w, dt = PA["R"], PA["tau_m"], PA["tau_w"], 1e-4
    cases = ((0.0, 1.0), (1e-12, 0.17), (1e-9, 8.4e-5), (1e-7, 1.6e-6), (1e-6, 1.6e-7), (0.02, None))
    for a, error in cases:
        env = {**PA, "a": a, "dt": dt, "_numpy": np, "exp": np.exp, "sqrt": np.sqrt, "not_refractory": True}
        for statement in (*adaptive.scalar, *adaptive.invariant):
            exec(statement, env)

        def step(w, env=env):
            out = {}
            exec(adaptive.update[0], {**env, "v": -0.065, "w": w, "I_inp": 0.0}, out)
            return out["_v"]

        rates, vectors = np.linalg.eig(np.array([[-1 / tau_m, -R / tau_m], [a / tau_w, -1 / tau_w]]))
        exact = (vectors @ np.diag(np.exp(rates * dt)) @ np.linalg.inv(vectors))[0, 1]
        relative = abs((step(1.0) - step(0.0)) / exact - 1)
        assert relative < 1e-9 if error is None else error / 2 < relative < 2 * error, (a, relative)
        values = {n: np.asarray(env[n]) for n in adaptive.parameter_names}
        flagged = any(bad.any() for _, bad in singular.analyse(adaptive, values, dt, {"N": 1}))
        assert flagged == (relative > 1e-6), (a, relative)


def test_the_host_analysis_is_remembered_by_value():
    """Each set of values is analysed once (the last 16 are kept); other values are analysed anew."""
    adaptive = model(ADAPT, reset="v = v_reset; w += b")
    fixed = {**dict(adaptive.constants), "N": 2}
    given = {n: np.asarray(PA.get(n, 0.0)) for n in adaptive.parameter_names}
    values = lambda a: {**given, "a": np.asarray(a)}
    for a in [[0.0, 0.02], [0.02, 0.02], [0.0, 0.02], *([k * 1e-3, 0.02] for k in range(1, 20))]:
        where = singular.mask(adaptive, values(a), 1e-4, fixed)
        np.testing.assert_array_equal(where, np.asarray(a) == 0.0)
    assert len(singular._MEMORY) == 16


def test_hoisted_values_the_candidates_do_not_read_are_not_evaluated():
    """The GIF-like model of `jaxiaf.neuron_models`: its closed form divides by `tau_w - tau_m` and hoists
    `exp(-dt / tau_theta)`, which no candidate reads (and the analysis is not given `tau_theta`)."""
    gif = jaxiaf.neuron_models["gif"]
    layer = gif.layer(1e-4)
    assert [c[:2] for c in singular.candidates(layer.sim.model)] == [("divisor", "-tau_m + tau_w")]
    assert np.asarray(layer(np.full((200, layer.size_in), 1e-10))[0]).shape == (200, layer.size_out)
    equal = r"singular for 1 of 1 neurons: \[neuron 0: tau_w=0\.02, tau_m=0\.02 \(its closed form divides"
    with pytest.raises(ValueError, match=equal):
        gif.layer(1e-4, tau_w=0.02, tau_m=0.02)(np.full((10, layer.size_in), 1e-10))
