"""`jaxiaf.fit` recovers a Brian2 ground truth from its spikes and from its voltage traces."""

import re

import jax
import numpy as np
import pytest

import jaxiaf
from jaxiaf import metrics

DT = 1e-4
TRUTH = {"tau_mem": 0.02, "bias": 0.008, "v_thresh": -0.052, "refractory": 3e-3}
BOUNDS = {
    "tau_mem": (5e-3, 50e-3),
    "bias": (0.0, 0.02),
    "v_thresh": (-0.06, -0.045),
    "refractory": (0.0, 6e-3),
}


def _ou_currents(num_trials, num_steps, rng, mean=0.006, std=0.008, tau=5e-3):
    """(K, T) Ornstein-Uhlenbeck input currents (A)."""
    a = np.exp(-DT / tau)
    x = np.zeros((num_trials, num_steps))
    noise = rng.standard_normal((num_trials, num_steps)) * np.sqrt(1 - a * a)
    for k in range(1, num_steps):
        x[:, k] = a * x[:, k - 1] + noise[:, k]
    return mean + std * x


@pytest.fixture(scope="module")
def ground_truth():
    """Brian2 (brian_ref) spikes and v of the true neuron: 5 training trials of 1 s and 1 held-out trial."""
    from brian_ref import FFIAFBrian2

    x = _ou_currents(6, 10000, np.random.default_rng(0))
    ref = FFIAFBrian2(np.ones((1, 6)), **TRUTH).evolve(currents=x.T)
    raster = ref.raster().T[:, :, None]
    return x[:, :, None], raster, ref.v.T[:, :, None]


def _check_parameters(best):
    for name in ("tau_mem", "bias", "v_thresh"):
        assert abs(best[name] / TRUTH[name] - 1) < 0.05, (name, best[name])
    assert abs(best["refractory"] - TRUTH["refractory"]) <= 2 * DT


@pytest.mark.brian
def test_fit_to_spike_trains_recovers_the_truth(ground_truth):
    x, raster, _ = ground_truth
    assert raster[:5].sum() > 80
    result = jaxiaf.fit(
        jaxiaf.FFIAF(np.ones((1, 1))),
        x[:5],
        spikes=raster[:5],
        bounds=BOUNDS,
        population_size=64,
        generations=150,
        key=jax.random.key(0),
        progress=False,
    )
    _check_parameters(result.best_params)
    held_out, _, _ = result.module(x[5])
    gamma = float(metrics.gamma_factor(np.asarray(held_out)[:, 0], raster[5, :, 0], DT, 2e-3))
    assert gamma >= 0.95
    assert np.all(np.diff(result.loss_history) <= 0)
    assert result.loss_history[-1] == result.best_loss


@pytest.mark.brian
def test_fit_to_spike_times_list(ground_truth):
    x, raster, _ = ground_truth
    times = [(np.flatnonzero(raster[k, :, 0]) + 0.5) * DT for k in range(2)]
    np.testing.assert_array_equal(jaxiaf.spikes_to_raster(times, 10000, DT), raster[:2])


@pytest.mark.brian
def test_fit_to_voltage_traces_recovers_the_truth(ground_truth):
    x, _, v = ground_truth
    result = jaxiaf.fit(
        jaxiaf.FFIAF(np.ones((1, 1))),
        x[:3, :5000],
        v=v[:3, :5000],
        bounds=BOUNDS,
        population_size=48,
        generations=120,
        key=jax.random.key(1),
        progress=False,
    )
    _check_parameters(result.best_params)
    assert result.best_loss < 1e-8  # V^2


def test_seeded_fits_are_reproducible(ground_truth):
    x, raster, _ = ground_truth
    run = lambda seed: jaxiaf.fit(
        jaxiaf.FFIAF(np.ones((1, 1))),
        x[:2, :2000],
        spikes=raster[:2, :2000],
        bounds=BOUNDS,
        population_size=8,
        generations=6,
        key=jax.random.key(seed),
        progress=False,
    )
    a, b, c = run(3), run(3), run(4)
    assert a.best_params == b.best_params
    np.testing.assert_array_equal(a.loss_history, b.loss_history)
    assert a.best_params != c.best_params


def test_a_fit_compiles_its_generation_once(ground_truth, caplog):
    x, raster, _ = ground_truth
    with jax.log_compiles(True), caplog.at_level("WARNING"):
        jaxiaf.fit(
            jaxiaf.FFIAF(np.ones((1, 1))),
            x[:2, :1000],
            spikes=raster[:2, :1000],
            bounds=BOUNDS,
            population_size=12,
            generations=4,
            progress=False,
        )
    compiles = [r for r in caplog.records if r.getMessage().startswith("Compiling jit(generation)")]
    assert len(compiles) == 1


@pytest.mark.parametrize("optimizer", ["simple_es", "snes", "sep_cma_es", "open_es"])
def test_other_optimizers_improve_the_loss(ground_truth, optimizer):
    x, raster, _ = ground_truth
    result = jaxiaf.fit(
        jaxiaf.FFIAF(np.ones((1, 1))),
        x[:2, :3000],
        spikes=raster[:2, :3000],
        bounds=BOUNDS,
        optimizer=optimizer,
        population_size=16,
        generations=15,
        progress=False,
    )
    assert result.loss_history[-1] < result.generation_best[0]
    for name, (low, high) in BOUNDS.items():
        assert low <= result.best_params[name] <= high


def test_fitted_module_carries_the_best_parameters(ground_truth):
    x, raster, _ = ground_truth
    module = jaxiaf.FFIAF(np.ones((1, 1)), v_reset=-0.07)
    result = jaxiaf.fit(
        module,
        x[:1, :1000],
        spikes=raster[:1, :1000],
        bounds={"bias": (0.0, 0.02)},
        population_size=4,
        generations=2,
        progress=False,
    )
    assert float(result.module.bias[0]) == pytest.approx(result.best_params["bias"])
    assert float(result.module.v_reset[0]) == -0.07
    assert result.params_history["bias"].shape == (2,) and result.elapsed.shape == (2,)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(bounds={"tau": (0.0, 1.0)}), "Cannot fit ['tau']"),
        (dict(bounds={}), "`bounds` must name at least one parameter"),
        (
            dict(bounds={"tau_mem": (0.05, 0.01)}),
            "`bounds['tau_mem']` must be (low, high) with finite low < high",
        ),
        (dict(bounds={"tau_mem": (-0.01, 0.01)}), "`tau_mem` must be finite and > 0 (in s)"),
        (dict(optimizer="adam"), "`optimizer` must be one of"),
        (dict(population_size=1), "`population_size` must be an integer >= 2"),
        (dict(generations=0), "`generations` must be an integer >= 1"),
        (dict(spikes=None), "Give a target"),
        (dict(metric=metrics.TraceMSE()), "TraceMSE needs the target `v`"),
        (dict(metric=[metrics.VanRossum()]), "`metric` must be a Metric or a list of (weight, Metric) pairs"),
        (dict(spikes=np.zeros((2, 50, 1), bool)), "`spikes` must cover the same K=2 trials of T=100 steps"),
        (
            dict(bounds={"noise_std": (0.0, 0.01)}),
            "Fitting `noise_std` needs a module built with `noise_std` > 0",
        ),
    ],
)
def test_fit_errors(kwargs, message):
    args = dict(bounds={"bias": (0.0, 0.02)}, spikes=np.zeros((2, 100, 1), bool), progress=False)
    args.update(kwargs)
    with pytest.raises(ValueError, match=re.escape(message)):
        jaxiaf.fit(jaxiaf.FFIAF(np.ones((1, 1))), np.zeros((2, 100, 1)), **args)
