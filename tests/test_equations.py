"""The equation-driven layer (`neuron_eq`): Brian2 parity over a model zoo, the default equations through
the generated path, names, and every refusal."""

import re

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import brian_ref
import jaxiaf
from brian_ref.parity import run_both
from brian_ref.zoo import ADAPTIVE, ZOO, same_trains, transcendental
from jaxiaf._core.pytrees import SimulationParameters

pytestmark = pytest.mark.brian
CASES = [(name, method) for name, zoo in ZOO.items() for method in zoo.methods]
DEFAULT_RUN = {"euler", "rk4"}
"""The default run checks each model under its first method (Brian2's own choice), euler and rk4; the
other methods are marked slow (`pytest -m slow`; `benchmarks/zoo_parity.py` runs all, 100 scenarios each)."""


def _case(name, method):
    first = method == ZOO[name].methods[0]
    return pytest.param(name, method, marks=() if first or method in DEFAULT_RUN else pytest.mark.slow)


@pytest.mark.parametrize(("name", "method"), [_case(*case) for case in CASES])
def test_zoo_matches_brian(name, method):
    """100 random scenarios (parameters, initial state, refractory 0-30 steps, input per neuron): spike
    sets and every state variable bit-identical where the update is arithmetic only; with `exp` of a
    state variable (AdEx) or of `t` (Brian2's `independent`), >= 99 % identical, and the others within
    1e-9 V until their first divergence."""
    spikes, traces, ref, model = run_both(ZOO[name], method, seed=CASES.index((name, method)))
    assert spikes.any(axis=0).mean() > 0.3, "too few scenarios fire"
    same = same_trains(spikes, ref.raster())
    if not transcendental(model):
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
    """The hand-tuned kernels of the default equations (`jaxiaf._core.integrators`) equal the statements
    Brian2 generates from `DEFAULT_NEURON_EQ`, bit for bit (spikes and v), float64."""
    rng = np.random.default_rng(["rk4", "rk2", "euler", "exponential_euler", "exact"].index(method))
    n, t = 200, 2000
    mod = jaxiaf.FFIAF(
        np.eye(n),
        bias=rng.uniform(0, 0.02, n),
        tau_mem=rng.uniform(0.003, 0.05, n),
        v_thresh=rng.uniform(-0.056, -0.05, n),
        v_reset=rng.uniform(-0.07, -0.06, n),
        v_rest=rng.uniform(-0.07, -0.06, n),
        refractory=rng.integers(0, 30, n) * 1e-4,
        integrator_name=method,
    )
    currents = jnp.asarray(rng.normal(0.003, 0.01, (t, n)))
    hand, state, rec = jaxiaf.evolve(mod.params, mod.sim, mod.neuron_state, currents, record=True)
    params, sim = _generated_default(mod, method)
    generated, state2, rec2 = jaxiaf.evolve(params, sim, mod.neuron_state, currents, record=True)
    assert np.asarray(hand).sum() > 100
    np.testing.assert_array_equal(np.asarray(hand), np.asarray(generated))
    np.testing.assert_array_equal(np.asarray(rec["v"]), np.asarray(rec2["v"]))
    np.testing.assert_array_equal(np.asarray(state.since_spike), np.asarray(state2.since_spike))


ADAPTIVE_VALUES = dict(
    v_rest=-0.065, R=1.0, tau_m=0.02, tau_w=0.15, a=0.02, b=0.002, v_thresh=-0.05, v_reset=-0.065
)


def _adaptive(**overrides):
    values = {**ADAPTIVE_VALUES, **overrides}
    return jaxiaf.FFIAF(np.eye(1), neuron_eq=ADAPTIVE.equations, reset=ADAPTIVE.reset, **values)


def test_names_from_the_equations():
    """Declared parameters and state variables are the layer's, by name: listed, set (SI or Brian2
    quantities, dimension checked), carried across calls, recorded, and refused when unknown."""
    import brian2

    mod = _adaptive(tau_w=150 * brian2.ms, w=1e-3)
    assert set(mod.parameters()) == {"weights", *ADAPTIVE_VALUES}
    assert set(mod.parameters("equations")) == {"R", "tau_m", "tau_w", "a", "b"}
    assert float(mod.parameters()["tau_w"][0]) == 0.15 and float(mod.state()["w"][0]) == 1e-3
    assert mod.sim.model.method == "exact" and mod.integrator_name == "exact"  # Brian2's own choice
    x = np.full((3000, 1), 0.03)
    spikes, state, record = mod(x, record=True)
    assert set(record) == {"v", "w", "spikes"} and record["w"].shape == (3000, 1)
    assert float(state["w"][0]) == float(record["w"][-1, 0]) > 0
    whole = mod(np.concatenate([x, x]))[0]
    second = mod.set_attributes(state)(x)[0]
    np.testing.assert_array_equal(np.asarray(whole[3000:]), np.asarray(second))
    assert float(mod.set_attributes({"a": 0.05}).parameters()["a"][0]) == 0.05
    assert float(mod.reset_state().state()["w"][0]) == 0.0
    with pytest.raises(ValueError, match=r"`b` must be in amp; got a quantity of dimension"):
        _adaptive(b=2 * brian2.mV)
    with pytest.raises(ValueError, match=r"declares the parameter `b : amp`; give its value"):
        jaxiaf.FFIAF(
            np.eye(1), neuron_eq=ADAPTIVE.equations, reset=ADAPTIVE.reset, R=1.0, tau_m=0.02, tau_w=0.1, a=0.0
        )
    with pytest.raises(
        ValueError, match=r"\['c'\] not declared by the layer's equations; its parameters are"
    ):
        _adaptive(c=1.0)
    with pytest.raises(ValueError, match=r"Unknown attribute\(s\) \['bias'\] for `set_attributes`"):
        mod.set_attributes({"bias": 0.01})
    with pytest.raises(ValueError, match=r"Cannot sweep \['bias'\]; sweepable names: \['weights', 'v_rest'"):
        jaxiaf.sweep(mod, {"bias": [0.01]}, x)
    with pytest.raises(ValueError, match=r"Cannot fit \['bias'\]; fittable names: \['v_rest'"):
        jaxiaf.fit(mod, x[None], spikes=np.asarray(spikes)[None], bounds={"bias": (0.0, 0.1)})


def test_jit_vmap_sweep_over_an_equation_parameter():
    """`jax.jit`, `jax.vmap` and `jaxiaf.sweep` over declared parameters: each row equals the layer
    evolved alone with that row's values (bit for bit, float64); quantities are checked by unit."""
    import brian2

    mod = _adaptive(integrator_name="rk4")
    x = np.full((4000, 1), 0.03)
    values = (0.0, 0.5, 1.0)
    result = jaxiaf.sweep(
        mod, jaxiaf.grid(a=values * brian2.siemens, b=[0.0, 0.002]), x, outputs=("counts", "v")
    )
    alone = [int(mod.set_attributes({"a": a, "b": b})(x)[0].sum()) for a in values for b in (0.0, 0.002)]
    np.testing.assert_array_equal(np.asarray(result.counts[:, 0]), alone)
    assert len(set(alone)) > 2
    jitted = jax.jit(lambda m: m(x)[0].sum())(mod)
    mapped = jax.vmap(lambda a: mod.set_attributes({"a": a})(jnp.asarray(x))[0].sum())(jnp.asarray(values))
    assert int(jitted) == int(mod(x)[0].sum()) and list(np.asarray(mapped)) == alone[1::2]
    with pytest.raises(ValueError, match=r"`a` must be in siemens"):
        jaxiaf.sweep(mod, {"a": [1.0, 2.0] * brian2.ohm}, x)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_fit_adaptive_lif_from_brian_spikes(seed):
    """`jaxiaf.fit` of `a`, `b`, `tau_w` and `tau_m` from Brian2 spike trains (4 trials of 0.8 s of
    current steps), with the fit's defaults: every parameter within 10 %. Slow (35-75 s a seed): the default
    run fits own equations in `test_real_guide.py` (the named models on a recorded cell)."""
    rng = np.random.default_rng(seed)
    true = dict(
        v_rest=-0.065,
        R=1.0,
        tau_m=rng.uniform(0.01, 0.03),
        tau_w=rng.uniform(0.1, 0.3),
        a=rng.uniform(0.02, 0.05),
        b=rng.uniform(0.001, 0.004),
        v_thresh=-0.05,
        v_reset=-0.065,
    )
    levels = rng.uniform(0.005, 0.05, (4, 16, 1))
    x = np.repeat(levels, 500, axis=1) + rng.normal(0, 0.003, (4, 8000, 1))
    layer = brian_ref.EquationLayer(ADAPTIVE.equations, reset=ADAPTIVE.reset, parameters=true, method="exact")
    spikes = np.stack([layer.evolve(trial, init={"v": [-0.065]}).raster() for trial in x])
    guess = jaxiaf.FFIAF(
        np.eye(1), neuron_eq=ADAPTIVE.equations, reset=ADAPTIVE.reset, integrator_name="exact", **true
    )
    bounds = {"a": (0.0, 0.08), "b": (0.0, 0.006), "tau_w": (0.05, 0.4), "tau_m": (0.005, 0.05)}
    result = jaxiaf.fit(guess, x, spikes=spikes, bounds=bounds, key=jax.random.key(seed), progress=False)
    errors = {k: abs(v / true[k] - 1) for k, v in result.best_params.items()}
    assert max(errors.values()) < 0.1, errors


def test_refractory_period_as_a_parameter_expression():
    """`refractory="ref"` (a declared per-neuron parameter) is Brian2's rule, as `brian_ref` runs it."""
    eqs = ADAPTIVE.equations + "\nref : second"
    rng = np.random.default_rng(3)
    n = 50
    params = dict(
        v_rest=-0.065,
        R=1.0,
        tau_m=rng.uniform(0.005, 0.02, n),
        tau_w=0.1,
        a=0.01,
        b=0.001,
        v_thresh=-0.05,
        v_reset=-0.065,
        ref=rng.integers(0, 40, n) * 1e-4,
    )
    currents = rng.normal(0.03, 0.01, (2000, n))
    mod = jaxiaf.FFIAF(
        np.eye(n), neuron_eq=eqs, reset=ADAPTIVE.reset, refractory="ref", integrator_name="rk4", **params
    )
    spikes, _, record = mod(currents, record=True)
    ref = brian_ref.EquationLayer(
        eqs, reset=ADAPTIVE.reset, refractory="ref", method="rk4", parameters=params
    )
    result = ref.evolve(currents, init={"v": np.full(n, -0.065)})
    np.testing.assert_array_equal(np.asarray(spikes), result.raster())
    np.testing.assert_array_equal(np.asarray(record["v"]), result.traces["v"])
    assert np.asarray(spikes).sum() > 100


def test_the_timed_layer_records_every_state_variable():
    layer = jaxiaf.FFIAFBrian(
        np.eye(1),
        neuron_eq=ADAPTIVE.equations,
        reset=ADAPTIVE.reset,
        **ADAPTIVE_VALUES,
    )
    out, _, record = layer.evolve(jaxiaf.TSContinuous([0.0, 0.5], [[0.03], [0.03]]), record=True)
    assert isinstance(record["w"], jaxiaf.TSContinuous) and record["w"].samples.shape == (5000, 1)
    assert len(out.times) > 5


REFUSALS = [
    (dict(neuron_eq="dv/dt = -v/tau : volt\ntau : second (shared)"), "shared variables are not supported"),
    (dict(neuron_eq="dv/dt = -v/tau : volt\ntau : second (linked)"), "linked variables are not supported"),
    (dict(neuron_eq="dv/dt = -v/tau : volt\ntau : second (summed)"), "unsupported flags ['summed'] on `tau`"),
    (
        dict(neuron_eq="dv/dt = -v/tau : volt (event-driven)\ntau : second"),
        "unsupported flags ['event-driven']",
    ),
    (
        dict(
            neuron_eq="dv/dt = -v/tau + poisson(2)*volt/second : volt\ntau : second", integrator_name="euler"
        ),
        "calls poisson, which has no JAX counterpart",
    ),
    (
        dict(neuron_eq="dv/dt = (I_inp - v)/tau : volt\nI_inp = 2*volt : volt\ntau : second"),
        "`I_inp` is the layer's input",
    ),
    (
        dict(neuron_eq="du/dt = -u/tau : volt\ntau : second"),
        "`v` is used but neither declared by the equations nor given",
    ),
    (dict(neuron_eq="dv/dt = -v/tau : volt\ntau : second", integrator_name="gsl_rk45"), "GSL methods"),
    (
        dict(neuron_eq="dv/dt = -v*v/(tau*volt) : volt\ntau : second", integrator_name="exponential_euler"),
        "Brian2 refused",
    ),
    (dict(neuron_eq="dv/dt = -v/tau : amp\ntau : second"), "Brian2 refused"),
    (
        dict(neuron_eq="dv/dt = -v/tau + rand()*volt/second : volt\ntau : second", integrator_name="euler"),
        "calls rand, which has no JAX counterpart",
    ),
    (
        dict(neuron_eq="dv/dt = -v/tau : volt\ntau : second\nc : 1", reset="c = 1"),
        "only variables with a differential equation may be reset",
    ),
    (
        dict(neuron_eq="dv/dt = -v/tau : volt\ntau : second", noise_std=0.001),
        "A layer with its own equations has no `noise_std`",
    ),
]


@pytest.mark.parametrize(("kwargs", "message"), REFUSALS)
def test_refusals_name_what_is_allowed(kwargs, message):
    kwargs = {"threshold": "v > 1*volt", "reset": "v = 0*volt", **kwargs}
    with pytest.raises(ValueError, match=re.escape(message)):
        jaxiaf.FFIAF(np.eye(2), tau=0.01, **kwargs)


def _grad_layer(method, **overrides):
    return jaxiaf.FFIAF(
        np.eye(3), neuron_eq=ADAPTIVE.equations, reset=ADAPTIVE.reset, integrator_name=method,
        **{**ADAPTIVE_VALUES, **overrides},
    )  # fmt: skip


@pytest.mark.parametrize("method", ["rk4", "exact"])
def test_surrogate_forward_is_bit_identical_for_own_equations(method):
    mod = _grad_layer(method)
    currents = jnp.asarray(np.random.default_rng(0).normal(0.03, 0.01, (2000, 3)))
    plain, _, rec = jaxiaf.evolve(mod.params, mod.sim, mod.neuron_state, currents, record=True)
    soft, _, rec2 = jaxiaf.evolve(
        mod.params, mod.sim, mod.neuron_state, currents, record=True, surrogate=jaxiaf.surrogate.SuperSpike()
    )
    assert soft.dtype == jnp.float64 and int(plain.sum()) > 10
    np.testing.assert_array_equal(np.asarray(soft), np.asarray(plain, np.float64))
    for var in ("v", "w"):
        np.testing.assert_array_equal(np.asarray(rec2[var]), np.asarray(rec[var]))


@pytest.mark.parametrize(("method", "rtol"), [("rk4", 1e-6), ("euler", 1e-6), ("exact", 1e-4)])
def test_subthreshold_gradients_of_own_equations_equal_central_differences(method, rtol):
    """No spike (threshold far above): the gradient of a trace MSE with respect to declared parameters
    equals central differences. With `exact`, whose `exp` and `sqrt` of parameters run on the host, the
    derivative comes from the same statements in `jax.numpy`; Brian2's closed form cancels terms, so its
    central differences are only good to ~1e-5 (rtol 1e-4 there)."""
    mod = _grad_layer(method, v_thresh=1.0)
    rng = np.random.default_rng(1)
    currents = jnp.asarray(rng.normal(0.03, 0.01, (2000, 3)))
    target = jnp.asarray(rng.normal(-0.05, 0.002, (2000, 3)))
    names = ("a", "tau_w", "tau_m", "R")

    def loss(q):
        params = eqx.tree_at(
            lambda p: (p.extra, p.v_rest),
            mod.params,
            ({**mod.params.extra, **{k: q[k] for k in names}}, q["v_rest"]),
        )
        spikes, _, rec = jaxiaf.evolve(params, mod.sim, mod.neuron_state, currents, record=True)
        return jnp.mean((rec["v"] - target) ** 2), jnp.sum(spikes)

    point = {k: mod.parameters()[k] for k in (*names, "v_rest")}
    grad, count = jax.grad(loss, has_aux=True)(point)
    assert int(count) == 0
    for name, value in point.items():
        direction = jnp.asarray(rng.normal(size=value.shape)) * (jnp.abs(value) + 1e-3)
        h = 1e-5
        numeric = (
            loss({**point, name: value + h * direction})[0] - loss({**point, name: value - h * direction})[0]
        ) / (2 * h)
        np.testing.assert_allclose(
            float(jnp.sum(grad[name] * direction)), float(numeric), rtol=rtol, err_msg=name
        )


def test_surrogate_gradient_of_own_equations_is_a_descent_direction():
    """40 random scenarios (an adaptive-LIF layer of 20 neurons, rk4, per-neuron `tau_m` and `R` 10 % off
    the target's): the surrogate gradient of the mean van Rossum distance is finite, and a step of 1 % (in
    log space) along it lowers the loss in >= 90 % of the scenarios (37/40 measured)."""
    rng = np.random.default_rng(5)
    num, num_steps = 20, 1000
    mod = jaxiaf.FFIAF(
        rng.normal(0.02, 0.01, (3, num)), neuron_eq=ADAPTIVE.equations, reset=ADAPTIVE.reset,
        integrator_name="rk4", **ADAPTIVE_VALUES,
    )  # fmt: skip
    currents = jnp.asarray(rng.uniform(0, 2.5, (num_steps, 3))) @ mod.params.weights

    def spikes(q, surrogate=None):
        params = eqx.tree_at(lambda p: p.extra, mod.params, {**mod.params.extra, **q})
        return jaxiaf.evolve(params, mod.sim, mod.neuron_state, currents, surrogate=surrogate)[0]

    def run(q, target):
        soft = spikes({k: jnp.exp(v) for k, v in q.items()}, jaxiaf.surrogate.SuperSpike())
        return jnp.mean(jaxiaf.metrics.van_rossum(soft, target, 1e-4, 10e-3))

    run = jax.jit(run)
    step = jax.jit(jax.value_and_grad(run))
    lowered = []
    for _ in range(40):
        true = {
            "tau_m": jnp.asarray(rng.uniform(0.01, 0.03, num)),
            "R": jnp.asarray(rng.uniform(0.8, 1.2, num)),
        }
        target = spikes(true).astype(jnp.float64)
        start = {k: jnp.log(v) + jnp.asarray(rng.normal(0, 0.1, num)) for k, v in true.items()}
        before, grad = step(start, target)
        norm = jnp.sqrt(sum(jnp.sum(g**2) for g in grad.values()))
        assert np.isfinite(float(norm))
        after = run({k: start[k] - 0.01 * grad[k] / norm for k in start}, target)
        lowered.append(bool(after < before))
    assert np.mean(lowered) >= 0.9, sum(lowered)


def test_surrogate_refusals_for_own_equations():
    eqs = "dv/dt = (I_inp*ohm - v)/tau : volt\ntau : second"
    two = jaxiaf.FFIAF(
        np.eye(2), neuron_eq=eqs, threshold="v > 1*volt or v < -1*volt", reset="v = 0*volt", tau=0.01
    )
    with pytest.raises(ValueError, match="the threshold must compare a variable with a level"):
        jaxiaf.evolve(
            two.params, two.sim, two.neuron_state, jnp.zeros((10, 2)), surrogate=jaxiaf.surrogate.SuperSpike()
        )
    one = jaxiaf.FFIAF(np.eye(2), neuron_eq=eqs, threshold="v > 1*volt", reset="v = 0*volt", tau=0.01)
    with pytest.raises(ValueError, match="the reset is detached"):
        jaxiaf.evolve(
            one.params,
            one.sim,
            one.neuron_state,
            jnp.zeros((10, 2)),
            surrogate=jaxiaf.surrogate.SuperSpike(detach_reset=False),
        )
