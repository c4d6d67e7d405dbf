"""The metrics against hand-made spike trains with known values."""

import re

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxiaf import metrics

DT = 1e-4


def _train(steps, num_steps=10000):
    out = np.zeros(num_steps, bool)
    out[np.asarray(steps, int)] = True
    return jnp.asarray(out)


A = _train([1000, 3000, 5000, 7000, 9000])


def test_identical_trains():
    assert float(metrics.gamma_factor(A, A, DT, 2e-3)) == pytest.approx(1.0)
    assert float(metrics.van_rossum(A, A, DT, 5e-3)) == 0.0
    assert float(metrics.spike_count_error(A, A)) == 0.0


def test_gamma_factor_known_values():
    # 3 of 5 spikes within 2 ms (20 steps), 2 shifted by 30 steps: N_coinc = 3, nu = 5 spikes / 1 s.
    b = _train([1010, 2980, 5020, 7030, 8970])
    nu, delta = 5.0, 2e-3
    expected = (3 - 2 * nu * delta * 5) / (0.5 * 10 * (1 - 2 * nu * delta))
    assert float(metrics.gamma_factor(b, A, DT, delta)) == pytest.approx(expected, rel=1e-6)
    assert int(metrics.coincidences(b, A, DT, delta)) == 3
    # A window of exactly 20 steps includes a shift of 20 steps, excludes 21.
    assert int(metrics.coincidences(_train([1020]), _train([1000]), DT, 2e-3)) == 1
    assert int(metrics.coincidences(_train([1021]), _train([1000]), DT, 2e-3)) == 0
    assert float(metrics.gamma_factor(jnp.zeros(100, bool), jnp.zeros(100, bool), DT, 2e-3)) == 1.0


def test_van_rossum_known_values():
    tau = 5e-3
    e = np.exp(-DT / tau)
    one_spike = (DT / tau) / (1 - e**2)
    alone = float(metrics.van_rossum(_train([1000]), _train([]), DT, tau))
    assert alone**2 == pytest.approx(one_spike, rel=1e-3)
    assert alone**2 == pytest.approx(0.5, rel=0.03)  # the continuum limit, dt/tau = 0.02 here
    # A spike shifted by n steps: the difference is -e^j for n steps, then (1 - e^n) e^j.
    n = 50
    shifted = float(metrics.van_rossum(_train([1000 + n]), _train([1000]), DT, tau))
    closed = (DT / tau) * ((1 - e ** (2 * n)) / (1 - e**2) + (1 - e**n) ** 2 / (1 - e**2))
    assert shifted**2 == pytest.approx(closed, rel=1e-3)


def test_trace_mse_and_count_error():
    v = jnp.linspace(0.0, 1.0, 11)[:, None]
    target = jnp.zeros((11, 1))
    assert float(metrics.trace_mse(v, target, 0.1)[0]) == pytest.approx(np.mean(np.linspace(0, 1, 11) ** 2))
    assert float(metrics.trace_mse(v, target, 0.1, t_start=0.5)[0]) == pytest.approx(
        np.mean(np.linspace(0.5, 1, 6) ** 2)
    )
    w = np.zeros(11)
    w[-1] = 1.0
    assert float(metrics.trace_mse(v, target, 0.1, weights=w)[0]) == pytest.approx(1.0)
    assert float(metrics.spike_count_error(_train([1, 2, 3]), A)) == pytest.approx(2 / 5)


PAIRS = {
    "coincidences": lambda m, t, dt: metrics.coincidences(m, t, dt, 2e-3),
    "gamma_factor": lambda m, t, dt: metrics.gamma_factor(m, t, dt, 2e-3),
    "van_rossum": lambda m, t, dt: metrics.van_rossum(m, t, dt, 5e-3),
    "trace_mse": lambda m, t, dt: metrics.trace_mse(m * 1.0, t * 1.0, dt),
    "spike_count_error": lambda m, t, dt: metrics.spike_count_error(m, t),
}
TRAINS = jnp.stack([A, _train([1010, 5000]), _train([])], axis=1)
TARGET = jnp.stack([A, A, _train([2000])], axis=1)


@pytest.mark.parametrize("name", PAIRS)
def test_every_metric_under_jit_and_vmap(name):
    f = PAIRS[name]
    eager = f(TRAINS, TARGET, DT)
    assert eager.shape == (3,)
    np.testing.assert_allclose(jax.jit(f)(TRAINS, TARGET, DT), eager, rtol=1e-12)  # dt traced
    vmapped = jax.vmap(lambda m, t: f(m, t, DT), in_axes=1)(TRAINS, TARGET)
    np.testing.assert_allclose(vmapped, eager, rtol=1e-12)
    # Float 0/1 rasters give what bool rasters give.
    np.testing.assert_allclose(f(TRAINS.astype(float), TARGET.astype(jnp.float32), DT), eager, rtol=1e-12)


def test_gamma_factor_is_jit_able_with_every_argument_traced():
    jitted = jax.jit(metrics.gamma_factor)(TRAINS, TARGET, DT, 2e-3)
    np.testing.assert_allclose(jitted, metrics.gamma_factor(TRAINS, TARGET, DT, 2e-3), rtol=1e-12)
    assert float(jitted[0]) == pytest.approx(1.0)


def test_empty_trains():
    empty = jnp.zeros((0, 2), bool)
    np.testing.assert_array_equal(metrics.van_rossum(empty, empty, DT, 5e-3), [0.0, 0.0])
    np.testing.assert_array_equal(metrics.gamma_factor(empty, empty, DT, 2e-3), [1.0, 1.0])
    np.testing.assert_array_equal(metrics.coincidences(empty, empty, DT, 2e-3), [0, 0])
    np.testing.assert_array_equal(metrics.spike_count_error(empty, empty), [0.0, 0.0])
    with pytest.raises(ValueError, match="no step to average"):
        metrics.trace_mse(empty * 1.0, empty * 1.0, DT)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: metrics.gamma_factor(A, A, 0.0, 2e-3), "`dt` must be finite and > 0 (in s)"),
        (lambda: metrics.coincidences(A, A, DT, -1e-3), "`delta` must be finite and >= 0 (in s)"),
        (lambda: metrics.van_rossum(A, A, DT, 0.0), "`tau` must be finite and > 0 (in s)"),
        (lambda: metrics.van_rossum(A, A, np.nan, 1e-3), "`dt` must be finite and > 0 (in s)"),
        (lambda: metrics.trace_mse(A * 1.0, A * 1.0, 0.0), "`dt` must be finite and > 0 (in s)"),
        (lambda: metrics.trace_mse(A * 1.0, A * 1.0, DT, t_start=2.0), "no step to average"),
        (lambda: metrics.trace_mse(A * 1.0, A * 1.0, DT, weights=np.zeros(10000)), "no step to average"),
        (lambda: metrics.trace_mse(A * 1.0, A * 1.0, DT, weights=np.ones(3)), "`weights` must have shape"),
        (lambda: metrics.trace_mse(A * 1.0, A * 1.0, DT, weights=-np.ones(10000)), "`weights` must be"),
        (lambda: metrics.trace_mse(A * jnp.nan, A * 1.0, DT), "`v` (the input) must be finite"),
        (lambda: metrics.gamma_factor(A, A[:-1], DT, 2e-3), "`model` and `target` must have one shape"),
        (lambda: metrics.van_rossum(A * jnp.inf, A, DT, 1e-3), "`model` (the input) must be finite"),
        (lambda: metrics.VanRossum(tau=0.0), "`tau` must be finite and > 0"),
        (lambda: metrics.GammaFactor(delta=np.inf), "`delta` must be finite and >= 0"),
    ],
)
def test_bad_arguments_give_clear_errors(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def test_bad_values_under_jit():
    jitted = eqx.filter_jit(metrics.van_rossum)
    with pytest.raises(eqx.EquinoxRuntimeError, match=re.escape("`tau` must be finite and > 0")):
        jax.block_until_ready(jitted(A, A, DT, jnp.asarray(0.0)))
    with pytest.raises(eqx.EquinoxRuntimeError, match=re.escape("`target` (the input) must be finite")):
        jax.block_until_ready(jitted(A, jnp.where(A, jnp.nan, 0.0), DT, 1e-3))
    mse = eqx.filter_jit(metrics.trace_mse)
    with pytest.raises(eqx.EquinoxRuntimeError, match="no step to average"):
        jax.block_until_ready(mse(A * 1.0, A * 1.0, DT, jnp.asarray(2.0)))


def test_trace_mse_metric_with_weights():
    v = jnp.linspace(0.0, 1.0, 11)[:, None] * jnp.ones((1, 2))
    target = jnp.zeros((11, 2))
    weights = np.zeros(11)
    weights[[2, 10]] = [3.0, 1.0]  # a weighted mean of the squared errors 0.04 and 1
    loss = metrics.TraceMSE(weights=weights).loss(None, v, None, target, 0.1)
    np.testing.assert_allclose(loss, [(3 * 0.04 + 1.0) / 4] * 2, rtol=1e-12)
    late = metrics.TraceMSE(t_start=0.55, weights=weights).loss(None, v, None, target, 0.1)
    np.testing.assert_allclose(late, [1.0, 1.0], rtol=1e-12)


def test_van_rossum_loss_defaults_to_10_ms():
    b = _train([1050, 3000, 5000, 7000])  # one spike shifted by 5 ms, one missing
    loss = float(metrics.VanRossum().loss(b, None, A, None, DT))
    assert loss == pytest.approx(float(metrics.van_rossum(b, A, DT, 10e-3)), rel=1e-12)
    assert loss != pytest.approx(float(metrics.van_rossum(b, A, DT, 2e-3)), rel=1e-3)


@pytest.mark.parametrize("x64, rtol", [(False, 1e-5), (True, 1e-12)])
def test_van_rossum_population_loss_is_the_distance_of_each_candidate_and_trial(x64, rtol):
    """The fit's one-pass loss of P candidates x U distinct outputs, gathered to K trials, equals
    `van_rossum` of each candidate's output against each trial's target (float32: to 1e-5, the order of
    the sums differs); a candidate that reproduces the targets scores exactly 0."""
    rng = np.random.default_rng(2)
    target = rng.random((3000, 3, 2)) < 0.01  # (T, K, N)
    outputs = rng.random((3000, 4, 2, 2)) < 0.01  # (T, P, U, N)
    trials = (0, 1, 0)
    outputs[:, 0] = target[:, :2]
    outputs[:, 0, 0] = target[:, 2] = target[:, 0]  # trials 0 and 2 repeat input 0, with one target
    with jax.enable_x64(x64):
        loss = metrics.VanRossum(5e-3).population_loss(
            jnp.asarray(outputs), None, jnp.asarray(target), None, DT, trials
        )
        assert loss.shape == (4, 3, 2) and loss.dtype == (jnp.float64 if x64 else jnp.float32)
        assert np.all(np.asarray(loss[0]) == 0.0)
        for p in range(4):
            for k, u in enumerate(trials):
                expected = metrics.van_rossum(outputs[:, p, u], target[:, k], DT, 5e-3)
                np.testing.assert_allclose(loss[p, k], expected, rtol=rtol)
