"""The metrics against hand-made spike trains with known values."""

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


def test_metrics_vmap_and_jit_over_columns():
    trains = jnp.stack([A, _train([1010]), _train([])], axis=1)
    target = jnp.broadcast_to(A[:, None], trains.shape)
    by_column = metrics.gamma_factor(trains, target, DT, 2e-3)
    jitted = jax.jit(lambda a: metrics.gamma_factor(a, target, DT, 2e-3))(trains)
    vmapped = jax.vmap(lambda a, b: metrics.gamma_factor(a, b, DT, 2e-3), in_axes=1)(trains, target)
    np.testing.assert_allclose(by_column, jitted)
    np.testing.assert_allclose(by_column, vmapped)
    assert by_column[0] == pytest.approx(1.0) and by_column[2] <= 0.0
