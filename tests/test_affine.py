"""The float32 affine update of linear equations (`jaxiaf._core.affine`): which models qualify,
that the map
is Brian2's step, and float32 spike agreement with float64 on the zoo's linear models."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import as_float32

import jaxiaf
from brian_ref import zoo
from jaxiaf._core import affine as _affine
from jaxiaf._core import interpret as _generated

LINEAR = [
    (name, method)
    for name in ("ADAPTIVE", "SYNAPTIC", "TWO_COMPARTMENT")
    for method in getattr(zoo, name).methods
    if method != "independent"
]


def _layer(name, method, n, seed, num_steps=1):
    z = getattr(zoo, name)
    params, init, refractory, currents = zoo.scenarios(z, np.random.default_rng(seed), n, num_steps, 1e-4)
    mod = jaxiaf.FFIAF(
        np.eye(n), dt=1e-4, refractory=refractory, neuron_eq=z.equations, threshold=z.threshold,
        reset=z.reset, integrator_name=method, **params, **init,
    )  # fmt: skip
    return mod, jnp.asarray(currents)


def _map_env(mod, shape) -> dict:
    """What a step reads, with the affine map computed in float64 (the tests' x64 mode)."""
    model, params = mod.sim.model, mod.params
    consts = jaxiaf.step_constants(params, mod.sim)
    maps = _affine.maps(model, _generated.parameters(model, params), consts.dt, shape[-1], jnp.float64)
    consts = eqx.tree_at(lambda c: c.extra, consts, {**consts.extra, **maps})
    return _generated.loop_env(model, params, consts, shape)


SLOW_TO_SOLVE = {("ADAPTIVE", "exact"), ("TWO_COMPARTMENT", "exact")}
"""Brian2's symbolic `exact` solution of these coupled models takes 10-30 s to build: their qualification
runs under `pytest -m slow` (their parity with Brian2 stays in the default run: `test_equations.py`)."""


@pytest.mark.parametrize(
    "name, method",
    [pytest.param(*case, marks=pytest.mark.slow) if case in SLOW_TO_SOLVE else case for case in LINEAR]
    + [("ADAPTIVE", "independent")],
)
def test_which_models_qualify(name, method):
    z = getattr(zoo, name)
    model = jaxiaf.model(z.equations, z.threshold, z.reset, integrator_name=method)
    assert _affine.affine(model) == (method != "independent")  # Brian2's `independent` reads `t`


@pytest.mark.parametrize("name", ["QUADRATIC", "ADEX", "NOISY"])
def test_nonlinear_and_noisy_models_do_not_qualify(name):
    z = getattr(zoo, name)
    for method in z.methods:
        assert not _affine.affine(jaxiaf.model(z.equations, z.threshold, z.reset, integrator_name=method))


def test_time_and_neuron_index_do_not_qualify():
    for term in ("sin(2*pi*t/ms)*mV/ms", "i*mV/ms"):
        eq = f"dv/dt = (v_rest - v)/tau_m + {term} + I_inp/nF : volt\nv_rest : volt\ntau_m : second\n"
        eq += "v_thresh : volt\nv_reset : volt"
        assert not _affine.affine(jaxiaf.model(eq, integrator_name="euler"))


@pytest.mark.parametrize("name, method", LINEAR)
def test_the_map_is_brian2s_step(name, method):
    """In float64, the map read off the statements equals the statements' step on random states, inputs
    and refractory flags."""
    mod, _ = _layer(name, method, 200, seed=5)
    model, env = mod.sim.model, _map_env(mod, (200,))
    rng = np.random.default_rng(6)
    _, init, _, _ = getattr(zoo, name).draw(rng, 200)
    vals = {k: jnp.asarray(init[k]) for k in model.state_names}
    nr = jnp.asarray(rng.random(200) < 0.7)
    u = jnp.asarray(rng.uniform(0, 0.05, 200))
    since = jnp.ones(200, jnp.int32)
    got = _affine.advance(model, env, vals, nr, u, True)
    want = _generated.advance(model, env, vals, since, nr, u, 0, None, True)
    for k in model.state_names:
        scale = np.max(np.abs(np.asarray(want[k]))) + 1e-30
        np.testing.assert_allclose(got[k], want[k], rtol=0, atol=1e-13 * scale, err_msg=k)
    np.testing.assert_array_equal(
        np.asarray(got["v"])[~np.asarray(nr)], np.asarray(vals["v"])[~np.asarray(nr)]
    )


def _agreement(mod, currents):
    """Percent of neurons with identical spike trains and identical counts, float32 against float64."""
    parts = (mod.params, mod.sim, mod.neuron_state)
    r64 = np.asarray(jaxiaf.evolve(*parts, currents)[0])
    r32 = np.asarray(jaxiaf.evolve(*as_float32(parts), currents.astype(jnp.float32))[0])
    return 100 * (r32 == r64).all(0).mean(), 100 * (r32.sum(0) == r64.sum(0)).mean()


@pytest.mark.parametrize("name, method", LINEAR)
def test_float32_spikes_agree_with_float64(name, method):
    mod, currents = _layer(name, method, 200, seed=2, num_steps=2000)
    trains, counts = _agreement(mod, currents)
    assert trains >= 99 and counts >= 99, (trains, counts)


def test_float32_exact_solution_without_cancellation():
    """Brian2's closed form for the two-variable adaptive LIF cancels beyond float32 when evaluated in
    float32 (66.6 % identical counts on this workload before the affine map); the map is computed in
    float64 and rounded once."""
    rng = np.random.default_rng(11)
    n = 400
    mod = jaxiaf.FFIAF(
        np.eye(n), neuron_eq=zoo.ADAPTIVE.equations, threshold="v > v_thresh", reset="v = v_reset; w += b",
        v_rest=-0.065, R=1.0, tau_m=0.02, tau_w=0.2, v_thresh=-0.05, v_reset=-0.065, v=-0.065, w=0.0,
        a=rng.uniform(0.001, 0.05, n), b=rng.uniform(0.0, 0.004, n),
    )  # fmt: skip
    assert mod.sim.model.method == "exact"
    currents = jnp.asarray(0.025 * (1 + 0.3 * rng.normal(0, 1, (3000, n))))
    trains, counts = _agreement(mod, currents)
    assert counts >= 99, counts


def test_float32_gradients_through_the_map():
    """`jax.grad` of a sub-threshold trace loss in float32 flows through the host-computed map (its
    derivatives come from the statements' Jacobian, computed on the host in float64) and matches
    float64's to float32 precision."""
    mod, currents = _layer("ADAPTIVE", "rk4", 20, seed=3, num_steps=300)
    currents = currents * 0.2  # below threshold

    def loss(tau_m, parts, cur):
        params, sim, state = parts
        params = eqx.tree_at(lambda p: p.extra["tau_m"], params, tau_m)
        rec = jaxiaf.evolve(params, sim, state, cur, record=True)[2]
        return jnp.mean(rec["v"] ** 2)

    parts = (mod.params, mod.sim, mod.neuron_state)
    tau = mod.params.extra["tau_m"]
    g64 = jax.grad(loss)(tau, parts, currents)
    g32 = jax.grad(loss)(tau.astype(jnp.float32), as_float32(parts), currents.astype(jnp.float32))
    assert np.all(np.isfinite(g32))
    np.testing.assert_allclose(g32, g64, rtol=1e-3, atol=1e-3 * np.max(np.abs(g64)))


def test_float32_sweep_jit_vmap_rows_equal_the_layer_alone():
    """The map is computed per set (on the host, before a sweep shards its batch): each float32 row equals
    the float32 layer evolved alone with its values, bit for bit, through `sweep`, `jit` and `vmap`."""
    mod, currents = _layer("ADAPTIVE", "rk4", 3, seed=7, num_steps=3000)
    x = np.asarray(currents)
    values = np.array([0.0, 0.002, 0.004])
    result = jaxiaf.sweep(mod, {"b": values[:, None] * np.ones(3)}, x, outputs=("spikes",), dtype=jnp.float32)
    evolve = lambda m: m(jnp.asarray(x, jnp.float32))[0]
    alone = [np.asarray(evolve(as_float32(mod.set_attributes({"b": np.full(3, b)})))) for b in values]
    for row, want in zip(np.asarray(result.spikes), alone, strict=True):
        np.testing.assert_array_equal(row, want)
    assert len({int(a.sum()) for a in alone}) == 3
    mod32 = as_float32(mod)
    np.testing.assert_array_equal(np.asarray(jax.jit(evolve)(mod32)), np.asarray(evolve(mod32)))
    mapped = jax.vmap(lambda b: evolve(eqx.tree_at(lambda m: m.params.extra["b"], mod32, b)))
    np.testing.assert_array_equal(
        np.asarray(mapped(jnp.asarray(values[:, None] * np.ones(3), jnp.float32))), alone
    )


def test_subexpressions():
    """A `(constant over dt)` leak to a second reversal potential and a plain subexpression, both linear
    in `v`, qualify and their map is Brian2's step; a conductance that is a state variable (`g * v`) does
    not qualify."""
    eq = """
    dv/dt = (drive - v + I_x/g_L)/tau_m : volt (unless refractory)
    I_x = g_x*(E_x - v) : amp (constant over dt)
    drive = v_rest + R*I_inp : volt
    v_rest : volt
    R : ohm
    g_L : siemens
    g_x : siemens
    E_x : volt
    tau_m : second
    v_thresh : volt
    v_reset : volt
    """
    values = dict(
        v_rest=-0.065, R=1.0, g_L=1.0, g_x=0.5, E_x=-0.08, tau_m=0.02, v_thresh=-0.05, v_reset=-0.065
    )
    for method in ("euler", "rk4", "exact"):
        mod = jaxiaf.FFIAF(np.eye(2), neuron_eq=eq, integrator_name=method, **values)
        model = mod.sim.model
        assert _affine.affine(model) and (bool(model.per_step) or method == "exact"), method
        env = _map_env(mod, (2,))
        vals, nr, u = (
            {"v": jnp.asarray([-0.07, -0.052])},
            jnp.asarray([True, False]),
            jnp.asarray([0.01, 0.02]),
        )
        got = _affine.advance(model, env, vals, nr, u, True)["v"]
        want = _generated.advance(model, env, vals, jnp.ones(2, jnp.int32), nr, u, 0, None, True)["v"]
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-13 * 0.07)
    conductance = (
        eq.replace("I_x = g_x*(E_x - v)", "I_x = g*(E_x - v)") + "dg/dt = -g/tau_g : siemens\ntau_g : second"
    )
    conductance = conductance.replace("    g_x : siemens\n", "")
    assert not _affine.affine(jaxiaf.model(conductance, integrator_name="euler"))


def test_float32_gradient_through_the_exact_solution():
    """Brian2's `exact` solution of the adaptive LIF differentiated in float32: d loss / d `tau_w` equals
    float64's within 1e-4 relative (differentiated in float32 on the device, the closed form cancels:
    -7.0e-8 against -4.1e-8)."""
    mod, currents = _layer("ADAPTIVE", "exact", 1, seed=0, num_steps=300)
    currents = jnp.asarray(np.random.default_rng(0).uniform(0, 0.01, (300, 1)))

    def loss(tau_w, parts, cur):
        params, sim, state = parts
        params = eqx.tree_at(lambda p: p.extra["tau_w"], params, tau_w)
        return jnp.mean((jaxiaf.evolve(params, sim, state, cur, record=True)[2]["v"] + 0.06) ** 2)

    parts = (mod.params, mod.sim, mod.neuron_state)
    tau_w = jnp.full((1,), 0.1)
    g64 = jax.grad(loss)(tau_w, parts, currents)
    g32 = jax.grad(loss)(tau_w.astype(jnp.float32), as_float32(parts), currents.astype(jnp.float32))
    assert mod.sim.model.method == "linear" and float(g64[0]) != 0.0
    np.testing.assert_allclose(np.asarray(g32, np.float64), np.asarray(g64), rtol=1e-4)
