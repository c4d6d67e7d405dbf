"""Gradients through the layer: surrogate spikes (forward bit-identical), exact sub-threshold gradients
against central finite differences, descent with spikes, checkpointing, and gradient-based fitting."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxiaf
from jaxiaf.surrogate import ArcTan, PiecewiseLinear, Sigmoid, SuperSpike

INTEGRATORS = ["rk4", "rk2", "euler", "exponential_euler", "exact"]
SURROGATES = [SuperSpike(), Sigmoid(), ArcTan(), PiecewiseLinear()]


def _float32(tree):
    cast = lambda a: a.astype(jnp.float32) if isinstance(a, jax.Array) and a.dtype == jnp.float64 else a
    return jax.tree.map(cast, tree)


def _layer(integrator, num=5, refractory=5e-4, seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    kw = dict(bias=rng.uniform(0.005, 0.015, num), tau_mem=rng.uniform(0.01, 0.03, num))
    kw["refractory"] = refractory
    return jaxiaf.FFIAF(rng.normal(0.01, 0.005, (3, num)), integrator_name=integrator, **{**kw, **kwargs})


def _currents(mod, num_steps, dtype=jnp.float64, seed=1):
    x = np.random.default_rng(seed).uniform(0.0, 1.5, (num_steps, 3))
    return jnp.asarray(x @ np.asarray(mod.params.weights), dtype)


@pytest.mark.parametrize("integrator", INTEGRATORS)
@pytest.mark.parametrize("dtype", [jnp.float64, jnp.float32])
def test_surrogate_forward_is_bit_identical(integrator, dtype):
    mod = _layer(integrator, noise_std=1e-3)
    parts = (mod.params, mod.sim, mod.neuron_state)
    parts = _float32(parts) if dtype == jnp.float32 else parts
    currents = _currents(mod, 400, dtype)
    plain, _, rec = jaxiaf.evolve(*parts, currents, record=True, check=False)
    surrogate = SuperSpike(detach_reset=integrator != "rk4")  # one integrator with the reset attached
    spikes, _, rec2 = jaxiaf.evolve(
        *parts, currents, record=True, check=False, surrogate=surrogate, checkpoint_every=64
    )
    assert spikes.dtype == dtype and int(plain.sum()) > 10
    np.testing.assert_array_equal(spikes, plain)
    np.testing.assert_array_equal(rec2["spikes"], rec["spikes"])
    np.testing.assert_array_equal(rec2["v"], rec["v"])


def _trace_loss(integrator):
    """Sub-threshold (no spike: threshold far above) trace MSE against a target trace, as a function of every
    per-neuron parameter, the weights, the input and the initial `v`."""
    mod = _layer(integrator, v_thresh=1.0)
    x = jnp.asarray(np.random.default_rng(2).uniform(0.0, 1.5, (300, 3)))
    target = jnp.asarray(np.random.default_rng(3).normal(-0.06, 0.002, (300, 5)))

    def loss(q):
        params = jaxiaf.Parameters(**{f: q[f] for f in mod.params.named()})
        state = mod.neuron_state
        state = jaxiaf.State(q["v0"], state.since_spike, state.key, state.step)
        spikes, _, rec = jaxiaf.evolve(params, mod.sim, state, q["x"] @ q["weights"], record=True)
        return jnp.mean(jaxiaf.metrics.trace_mse(rec["v"], target, 1e-4)), jnp.sum(spikes)

    point = dict(mod.params.named())
    point.update(x=x, v0=mod.neuron_state.v + 1e-3)
    return jax.jit(loss), point


@pytest.mark.parametrize("integrator", ["rk4", "exact", "euler"])
def test_subthreshold_gradients_equal_central_differences(integrator):
    loss_and_count, point = _trace_loss(integrator)
    loss = lambda q: loss_and_count(q)[0]
    grad, count = jax.grad(loss_and_count, has_aux=True)(point)
    assert int(count) == 0
    rng = np.random.default_rng(4)
    for name, value in point.items():
        direction = jnp.asarray(rng.normal(size=value.shape)) * (jnp.abs(value) + 1e-3)
        h = 1e-5
        plus = {**point, name: value + h * direction}
        minus = {**point, name: value - h * direction}
        numeric = (loss(plus) - loss(minus)) / (2 * h)
        exact = jnp.sum(grad[name] * direction)
        if name in ("v_thresh", "v_reset"):  # no spike: the loss does not depend on them
            assert float(exact) == 0.0 and float(numeric) == 0.0
        else:
            np.testing.assert_allclose(float(exact), float(numeric), rtol=1e-6, err_msg=name)


def test_surrogate_gradient_of_van_rossum_is_a_descent_direction():
    """40 random scenarios (a layer of 20 neurons with per-neuron `bias` and `tau_mem` 10 % off the target's):
    the surrogate gradient of the mean van Rossum distance is finite, and a step of 1 % (in log space)
    along it lowers the loss in >= 95 % of the scenarios."""
    num_sets, num, num_steps = 40, 20, 1000
    rng = np.random.default_rng(5)
    mod = jaxiaf.FFIAF(rng.normal(0.01, 0.005, (3, num)), integrator_name="exact")
    currents = _currents(mod, num_steps)
    true = {
        "bias": rng.uniform(0.008, 0.012, (num_sets, num)),
        "tau_mem": rng.uniform(0.01, 0.03, (num_sets, num)),
    }
    start = {k: v * np.exp(rng.normal(0, 0.1, v.shape)) for k, v in true.items()}
    state = mod.neuron_state
    state = jaxiaf.State(
        jnp.broadcast_to(state.v, (num_sets, num)),
        jnp.broadcast_to(state.since_spike, (num_sets, num)),
        jnp.broadcast_to(state.key, (num_sets, *state.key.shape)),
        state.step,
    )

    def spikes(q, surrogate):
        params = jaxiaf.Parameters(
            **{**{f: getattr(mod.params, f) for f in jaxiaf.Parameters.__annotations__}, **q}
        )
        return jaxiaf.evolve(params, mod.sim, state, currents, surrogate=surrogate, check=False)[0]

    target = spikes(true, None)

    distances = jax.jit(lambda q: jaxiaf.metrics.van_rossum(spikes(q, SuperSpike()), target, 1e-4, 10e-3))
    losses = lambda q: jnp.mean(distances(q), axis=-1)
    before, grad = losses(start), jax.jit(jax.grad(lambda q: jnp.sum(distances(q))))(start)
    log_grad = {k: grad[k] * start[k] for k in start}
    # van_rossum's sqrt has no derivative at 0: NaN for a neuron whose train already matches
    matched = distances(start) == 0
    assert all(np.all(np.isfinite(g) | matched) for g in log_grad.values())
    log_grad = {k: jnp.where(matched, 0.0, g) for k, g in log_grad.items()}
    norm = jnp.sqrt(sum(jnp.sum(g**2, axis=-1, keepdims=True) for g in log_grad.values()))
    after = losses({k: start[k] * jnp.exp(-0.01 * log_grad[k] / norm) for k in start})
    assert np.all(before > 0) and np.mean(after < before) >= 0.95


@pytest.mark.parametrize("every", [25, 32, 300])  # divides T; chunks and a tail; longer than T
def test_checkpointed_gradient_equals_the_plain_one(every):
    mod = _layer("rk4")
    currents = _currents(mod, 250)

    def loss(tau_mem, bias, every):
        params = jaxiaf.Parameters(
            mod.params.weights, bias, tau_mem, mod.params.v_thresh, mod.params.v_reset, mod.params.v_rest
        )
        spikes, _, rec = jaxiaf.evolve(
            params,
            mod.sim,
            mod.neuron_state,
            currents,
            record=True,
            surrogate=SuperSpike(),
            checkpoint_every=every,
        )
        return jnp.sum(spikes * jnp.arange(250.0)[:, None]) + 1e3 * jnp.sum(rec["v"])

    grad = jax.jit(jax.grad(loss, argnums=(0, 1)), static_argnums=2)
    plain, chunked = (
        grad(mod.params.tau_mem, mod.params.bias, None),
        grad(mod.params.tau_mem, mod.params.bias, every),
    )
    assert np.all(np.abs(plain[1]) > 0)
    for a, b in zip(plain, chunked, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("surrogate", SURROGATES)
def test_surrogates_peak_at_the_threshold_and_are_hashable(surrogate):
    x = jnp.linspace(-1, 1, 201)
    d = surrogate.derivative(x)
    peak = {"SuperSpike": 1.0, "Sigmoid": 2.5, "ArcTan": 5.0, "PiecewiseLinear": 10.0}[
        type(surrogate).__name__
    ]
    assert float(d[100]) == pytest.approx(peak) and float(jnp.max(d)) == pytest.approx(peak)
    assert np.all(np.asarray(d) >= 0) and float(d[0]) < 0.05 * peak
    assert hash(surrogate) == hash(type(surrogate)()) and surrogate == type(surrogate)()


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"surrogate": "superspike"}, "`surrogate`"), ({"checkpoint_every": 0}, "`checkpoint_every`")],
)
def test_bad_options_name_the_argument(kwargs, name):
    mod = _layer("exact")
    with pytest.raises(ValueError, match=name):
        jaxiaf.evolve(mod.params, mod.sim, mod.neuron_state, _currents(mod, 5), **kwargs)


@pytest.fixture(scope="module")
def subthreshold_traces():
    """3 trials of 0.2 s of a sub-threshold neuron (tau_mem 20 ms, bias 8 mA) driven by noisy currents."""
    x = 0.006 + 0.008 * np.random.default_rng(0).standard_normal((3, 2000, 1))
    truth = jaxiaf.FFIAF(np.ones((1, 1)), tau_mem=0.02, bias=0.008, v_thresh=0.0, integrator_name="exact")
    return x, np.stack([np.asarray(truth(trial, record=True)[2]["v"]) for trial in x])


@pytest.mark.parametrize("optimizer", ["adam", "optax.adam(0.1)"])
def test_gradient_fit_recovers_a_subthreshold_trace_fit(subthreshold_traces, optimizer):
    import optax

    x, v = subthreshold_traces
    result = jaxiaf.fit(
        jaxiaf.FFIAF(np.ones((1, 1)), v_thresh=0.0, integrator_name="exact"),
        x,
        v=v,
        bounds={"tau_mem": (5e-3, 50e-3), "bias": (0.0, 0.02)},
        optimizer=optax.adam(0.1) if optimizer != "adam" else optimizer,
        max_evaluations=1200,
        progress=False,
        key=jax.random.key(1),
    )
    assert abs(result.best_params["tau_mem"] / 0.02 - 1) < 0.01
    assert abs(result.best_params["bias"] / 0.008 - 1) < 0.01
    if optimizer == "adam":
        assert result.optimizer == "adam"
    assert result.population_size == 1 and result.evaluations == result.generations * result.parallel
    assert len(result.runs) == result.parallel and np.all(np.diff(result.loss_history) <= 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(optimizer="adamz"), "`optimizer` must be one of"),
        (dict(optimizer="apply_updates"), "is not an optax optimizer taking a `learning_rate`"),
        (dict(bounds={"refractory": (0, 1e-3)}), "with no gradient"),
        (dict(bounds={"v_thresh": (-0.06, -0.05)}), "with a trace loss only, the threshold has no gradient"),
    ],
)
def test_gradient_fit_errors(kwargs, message):
    args = {**dict(v=np.ones((10, 1)), bounds={"bias": (0, 1)}, optimizer="adam", progress=False), **kwargs}
    with pytest.raises(ValueError, match=re.escape(message)):
        jaxiaf.fit(jaxiaf.FFIAF(np.ones((1, 1))), np.ones((10, 1)), **args)


def test_sweep_gives_gradients_per_set_through_v():
    """`jaxiaf.sweep` is differentiable through its `v` output (its spikes are bool: no surrogate there);
    each set's gradient equals that of `jaxiaf.evolve` alone."""
    mod = _layer("exact", num=3, v_thresh=1.0)
    x = np.random.default_rng(6).uniform(0.0, 1.5, (200, 3))
    taus = jnp.asarray([0.015, 0.02, 0.03])
    swept = lambda tau: jnp.sum(jaxiaf.sweep(mod, {"tau_mem": tau}, x, outputs=("v",), progress=False).v)

    def alone(tau):
        params = jaxiaf.Parameters(
            **{
                **{f: getattr(mod.params, f) for f in ("weights", "bias", "v_thresh", "v_reset", "v_rest")},
                "tau_mem": tau,
            }
        )
        return jnp.sum(
            jaxiaf.evolve(
                params, mod.sim, mod.neuron_state, jnp.asarray(x) @ mod.params.weights, record=True
            )[2]["v"]
        )

    np.testing.assert_allclose(jax.grad(swept)(taus), [jax.grad(alone)(t) for t in taus], rtol=1e-9)


def test_adam_fits_spike_trains_through_the_surrogate():
    """2 trials of 0.2 s, 15 spikes: Adam on the van Rossum loss reproduces the trains spike for spike
    (two runs at the tolerance) with `tau_mem` and `bias` within 1 %."""
    x = 0.006 + 0.02 * np.random.default_rng(0).standard_normal((2, 2000, 1))
    truth = jaxiaf.FFIAF(np.ones((1, 1)), tau_mem=0.02, bias=0.008)
    spikes = np.stack([np.asarray(truth(trial)[0]) for trial in x])
    result = jaxiaf.fit(
        jaxiaf.FFIAF(np.ones((1, 1))),
        x,
        spikes=spikes,
        bounds={"tau_mem": (5e-3, 50e-3), "bias": (0.0, 0.02)},
        optimizer="adam",
        max_evaluations=800,
        progress=False,
        key=jax.random.key(0),
        dtype=np.float32,
    )
    assert spikes.sum() == 15 and result.stop_reason == "tolerance" and result.best_loss == 0.0
    assert (
        abs(result.best_params["tau_mem"] / 0.02 - 1) < 0.01
        and abs(result.best_params["bias"] / 0.008 - 1) < 0.01
    )


def test_per_neuron_parameters_descend_with_optax():
    """Per-neuron `tau_mem` and `bias` of 50 neurons (10 % off, in log space) recovered from sub-threshold
    traces by 150 Adam steps on `trace_mse` through `jaxiaf.evolve`: all within 5 %, >= 90 % within 1 %."""
    import optax

    num = 50
    rng = np.random.default_rng(7)
    mod = jaxiaf.FFIAF(rng.normal(0.01, 0.005, (3, num)), v_thresh=1.0, integrator_name="exact")
    currents = _currents(mod, 1000)
    true = {"tau_mem": rng.uniform(0.01, 0.03, num), "bias": rng.uniform(0.006, 0.01, num)}

    def trace(q):
        params = jaxiaf.Parameters(
            **{**{f: getattr(mod.params, f) for f in ("weights", "v_thresh", "v_reset", "v_rest")}, **q}
        )
        return jaxiaf.evolve(params, mod.sim, mod.neuron_state, currents, record=True)[2]["v"]

    target = trace(true)
    loss = lambda z: jnp.sum(jaxiaf.metrics.trace_mse(trace(jax.tree.map(jnp.exp, z)), target, 1e-4))
    optimizer = optax.adam(0.01)

    @jax.jit
    def step(z, state):
        updates, state = optimizer.update(jax.grad(loss)(z), state)
        return optax.apply_updates(z, updates), state

    z = {k: jnp.log(v) + rng.normal(0, 0.1, num) for k, v in true.items()}
    state = optimizer.init(z)
    for _ in range(150):
        z, state = step(z, state)
    for k, v in true.items():
        error = np.abs(np.exp(z[k]) / v - 1)
        assert np.all(error < 0.05) and np.mean(error < 0.01) >= 0.9, (k, np.sort(error)[-5:])


@pytest.mark.parametrize("beta", [-1.0, 0.0, float("nan"), float("inf"), "10"])
def test_surrogate_beta_must_be_finite_and_positive(beta):
    for kind in (jaxiaf.surrogate.SuperSpike, jaxiaf.surrogate.Sigmoid, jaxiaf.surrogate.ArcTan):
        with pytest.raises(ValueError, match=r"`beta` of \w+ must be a finite number > 0"):
            kind(beta=beta)
