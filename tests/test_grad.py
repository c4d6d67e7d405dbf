"""Gradients through the layer: surrogate spikes (forward bit-identical), exact sub-threshold gradients
against central finite differences, descent with spikes, checkpointing, and gradient-based fitting."""

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
        params = jaxiaf.Parameters(**{f: q[f] for f in jaxiaf.Parameters.__annotations__})
        state = mod.neuron_state
        state = jaxiaf.State(q["v0"], state.since_spike, state.key, state.step)
        spikes, _, rec = jaxiaf.evolve(params, mod.sim, state, q["x"] @ q["weights"], record=True)
        return jnp.mean(jaxiaf.metrics.trace_mse(rec["v"], target, 1e-4)), jnp.sum(spikes)

    point = {f: getattr(mod.params, f) for f in jaxiaf.Parameters.__annotations__}
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
