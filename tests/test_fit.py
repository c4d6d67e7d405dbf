"""`jaxiaf.fit` recovers a Brian2 ground truth from its spikes and from its voltage traces."""

import re

import jax
import numpy as np
import pytest
from helpers import FIT_BOUNDS as BOUNDS
from helpers import FIT_TRUTH as TRUTH

import jaxiaf
from jaxiaf import metrics

DT = 1e-4


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


def _check_parameters(best, rel=0.01, steps=1):
    """The README's claim: tau_mem, bias and v_thresh within 1 %, the refractory period within a step."""
    for name in ("tau_mem", "bias", "v_thresh"):
        assert abs(best[name] / TRUTH[name] - 1) < rel, (name, best[name])
    assert abs(best["refractory"] - TRUTH["refractory"]) <= steps * DT + 1e-12


def _fit(x, **kwargs):
    """`fit` as a user without x64 calls it (float32: the tests switch x64 on, and a layer's fit follows
    the layer's dtype), quietly."""
    kwargs.setdefault("bounds", BOUNDS)
    kwargs.setdefault("progress", False)
    kwargs.setdefault("dtype", np.float32)
    return jaxiaf.fit(jaxiaf.FFIAF(np.ones((1, 1))), x, **kwargs)


@pytest.mark.brian
def test_fit_to_spike_trains_recovers_the_truth(ground_truth):
    """The README's fitting example, with fit's defaults (data, bounds, seed)."""
    x, raster, _ = ground_truth
    assert raster[:5].sum() > 80
    result = _fit(x[:5], spikes=raster[:5], key=jax.random.key(0))
    _check_parameters(result.best_params)
    assert result.tolerance_reached and result.best_loss == 0.0 and result.stop_reason == "tolerance"
    assert result.flags == () and result.relative_loss == 0.0
    assert all(
        extent < 0.05 * abs(result.best_params[k]) for k, extent in result.extent.items() if k != "refractory"
    )
    assert sum(loss == 0.0 for loss, _, _ in result.runs) >= 2
    held_out, _, _ = result.module(x[5])
    gamma = float(metrics.gamma_factor(np.asarray(held_out)[:, 0], raster[5, :, 0], DT, 2e-3))
    assert gamma >= 0.95
    assert np.all(np.diff(result.loss_history) <= 0)
    assert result.loss_history[-1] == result.best_loss
    assert result.evaluations == result.generations * result.population_size * result.parallel


@pytest.mark.brian
def test_fit_to_spike_times_list(ground_truth):
    """K arrays of spike times (mid-bin) give the same raster and the same fit as the raster itself."""
    x, raster, _ = ground_truth
    times = [(np.flatnonzero(raster[k, :, 0]) + 0.5) * DT for k in range(2)]
    np.testing.assert_array_equal(jaxiaf.spikes_to_raster(times, 10000, DT), raster[:2])
    budget = dict(max_evaluations=128, bounds={"bias": (0.0, 0.02)}, key=jax.random.key(2))
    from_times = _fit(x[:2], spikes=times, **budget)
    from_raster = _fit(x[:2], spikes=raster[:2], **budget)
    assert from_times.best_params == from_raster.best_params


@pytest.mark.brian
def test_fit_to_voltage_traces_recovers_the_truth(ground_truth):
    x, _, v = ground_truth
    result = _fit(x[:3, :5000], v=v[:3, :5000], key=jax.random.key(1))
    _check_parameters(result.best_params)
    assert result.best_loss < 1e-8  # V^2
    assert result.stop_reason == "patience" and not result.tolerance_reached
    assert "unconfirmed" not in result.flags and "runs_disagree" not in result.flags


@pytest.mark.brian
def test_spikes_and_traces_together_with_weighted_metrics(ground_truth):
    x, raster, v = ground_truth
    metric = [(1.0, metrics.VanRossum(10e-3)), (1e6, metrics.TraceMSE(weights=np.ones(3000)))]
    result = _fit(
        x[:2, :3000],
        spikes=raster[:2, :3000],
        v=v[:2, :3000],
        metric=metric,
        max_evaluations=6400,
        key=jax.random.key(3),
    )
    _check_parameters(result.best_params, rel=0.05, steps=2)
    assert result.tolerance_reached is False  # a trace term: no tolerance by default


@pytest.mark.brian
@pytest.mark.parametrize("metric", [metrics.GammaFactor(2e-3), metrics.SpikeCount()])
def test_gamma_factor_and_spike_count_as_losses(ground_truth, metric):
    """Both are piecewise constant: they improve the loss, and a run reaching 0 stops the fit."""
    x, raster, _ = ground_truth
    result = _fit(x[:2, :3000], spikes=raster[:2, :3000], metric=metric, max_evaluations=1280)
    assert result.tolerance_reached and result.best_loss < 1e-9
    assert result.stop_reason == "tolerance"


def test_seeded_fits_are_reproducible(ground_truth):
    x, raster, _ = ground_truth
    run = lambda seed: _fit(
        x[:2, :2000], spikes=raster[:2, :2000], max_evaluations=8 * 16 * 4, key=jax.random.key(seed)
    )
    a, b, c = run(3), run(3), run(4)
    assert a.best_params == b.best_params
    np.testing.assert_array_equal(a.loss_history, b.loss_history)
    assert a.best_params != c.best_params


def test_a_fit_compiles_its_generation_once(ground_truth, caplog):
    """Restarts happen inside the one compiled generation: no recompilation however many there are."""
    x, raster, _ = ground_truth
    with jax.log_compiles(True), caplog.at_level("WARNING"):
        result = _fit(
            x[:2, :1000],
            spikes=raster[:2, :1000],
            max_evaluations=64 * 60,
            run_patience=2,
            patience=1000,
            confirm=1000,  # runs that reproduce the data restart too; the fit goes on for its budget
            population_size=8,
            parallel=8,
            dtype=np.float32,
        )
    assert result.restarts > 8
    compiles = [r for r in caplog.records if r.getMessage().startswith("Compiling jit(generation)")]
    assert len(compiles) == 1


def test_runs_short_of_the_tolerance_are_polished(ground_truth):
    """A random start that ends short of `tol` is followed by a narrow search polishing its best point
    (a local run); after a polish the lane starts from a random point again: both kinds appear."""
    x, raster, _ = ground_truth
    result = _fit(
        x[:1, :2000],
        spikes=raster[:1, :2000],
        max_evaluations=64 * 40,
        run_patience=3,
        tol=0.0,
        confirm=100,
        dtype=np.float32,
    )
    kinds = [local for _, _, local in result.runs]
    assert result.restarts == len(result.runs) - result.parallel
    assert any(kinds) and not all(kinds)
    assert result.stop_reason in ("evaluations", "patience")


def test_a_budget_too_small_is_flagged(ground_truth):
    x, raster, _ = ground_truth
    with pytest.warns(jaxiaf.FitWarning, match="No run reached the loss tolerance"):
        result = _fit(x[:2, :3000], spikes=raster[:2, :3000], max_evaluations=64, key=jax.random.key(5))
    assert result.stop_reason == "evaluations" and result.generations == 1
    assert "tolerance_not_reached" in result.flags and "unconfirmed" in result.flags


def test_unidentifiable_parameters_are_flagged():
    """A silent target: every threshold above the asymptote fits it exactly, so runs disagree."""
    x = np.zeros((1, 500, 1))
    with pytest.warns(jaxiaf.FitWarning, match="different parameters"):
        result = _fit(
            x, spikes=np.zeros((1, 500, 1), bool), bounds={"v_thresh": (-0.06, -0.045)}, key=jax.random.key(0)
        )
    assert result.tolerance_reached and result.flags == ("runs_disagree", "not_pinned")
    assert result.spread["v_thresh"] > 0.05 * abs(result.best_params["v_thresh"])
    assert result.extent["v_thresh"] > 0.05 * abs(result.best_params["v_thresh"])


@pytest.mark.parametrize("optimizer", ["simple_es", "snes", "sep_cma_es", "open_es"])
def test_other_optimizers_improve_the_loss(ground_truth, optimizer):
    x, raster, _ = ground_truth
    result = _fit(
        x[:2, :3000],
        spikes=raster[:2, :3000],
        optimizer=optimizer,
        max_evaluations=16 * 4 * 15,
        dtype=np.float32,
    )
    assert result.loss_history[-1] < result.generation_best[0]
    assert result.evaluations == result.generations * 16 * 4


def test_fitted_module_carries_the_best_parameters(ground_truth):
    x, raster, _ = ground_truth
    module = jaxiaf.FFIAF(np.ones((1, 1)), v_reset=-0.07)
    result = jaxiaf.fit(
        module,
        x[:1, :1000],
        spikes=raster[:1, :1000],
        bounds={"bias": (0.0, 0.02)},
        population_size=4,
        parallel=2,
        generations=2,
        confirm=1000,  # one parameter can be reproduced in 2 generations: the budget ends this fit
        progress=False,
    )
    assert float(result.module.bias[0]) == pytest.approx(result.best_params["bias"])
    assert float(result.module.v_reset[0]) == -0.07
    assert result.params_history["bias"].shape == (2,) and result.elapsed.shape == (2,)
    assert result.generations == 2 and result.stop_reason == "generations"


def test_dtype_follows_the_module_and_float64_fits_are_float64(ground_truth):
    x, raster, _ = ground_truth
    args = dict(spikes=raster[:1, :500], bounds={"bias": (0.0, 0.02)}, max_evaluations=64)
    result = jaxiaf.fit(jaxiaf.FFIAF(np.ones((1, 1))), x[:1, :500], progress=False, **args)
    assert result.module.bias.dtype == np.float64 and result.best_loss == 0.0
    with jax.enable_x64(False):
        module32 = jaxiaf.FFIAF(np.ones((1, 1)))
        assert module32.bias.dtype == np.float32
        with pytest.raises(ValueError, match=re.escape("`dtype=float64` needs")):
            jaxiaf.fit(module32, x[:1, :500], dtype=np.float64, progress=False, **args)


def test_noise_std_is_fittable_with_one_noise_realisation_per_trial():
    """Common random numbers: the same noise for every candidate, a different one for each trial."""
    truth = jaxiaf.FFIAF(np.ones((1, 1)), noise_std=2e-3, bias=0.005, key=jax.random.key(7))
    x = np.full((2, 3000, 1), 0.004)
    v = np.stack(
        [
            np.asarray(truth.set_attributes({"key": k})(x[0], record=True)[2]["v"])
            for k in jax.vmap(jax.random.fold_in, (None, 0))(jax.random.key(7), np.arange(2))
        ]
    )
    assert not np.array_equal(v[0], v[1])
    result = jaxiaf.fit(
        jaxiaf.FFIAF(np.ones((1, 1)), noise_std=1e-3, bias=0.005, key=jax.random.key(7)),
        x,
        v=v,
        bounds={"noise_std": (1e-4, 5e-3)},
        progress=False,
        key=jax.random.key(0),
    )
    assert abs(result.best_params["noise_std"] / 2e-3 - 1) < 1e-3
    assert result.best_loss < 1e-20


def test_std_init_sets_the_first_search_width(ground_truth):
    x, raster, _ = ground_truth
    args = dict(
        spikes=raster[:1, :1000],
        bounds={"bias": (0.0, 0.02)},
        population_size=32,
        parallel=1,
        generations=1,
        key=jax.random.key(0),
    )
    narrow, wide = _fit(x[:1, :1000], std_init=0.01, **args), _fit(x[:1, :1000], std_init=3.0, **args)
    spread = lambda r: np.ptp([p["bias"] for _, p, _ in r.runs])
    assert narrow.runs and wide.runs
    assert spread(narrow) <= spread(wide)


def test_an_ffiafbrian_layer_can_be_fitted(ground_truth):
    x, raster, _ = ground_truth
    layer = jaxiaf.FFIAFBrian(np.ones((1, 1)))
    result = jaxiaf.fit(
        layer,
        x[:1, :500],
        spikes=raster[:1, :500],
        bounds={"bias": (0.0, 0.02)},
        max_evaluations=64,
        progress=False,
    )
    assert isinstance(result.module, jaxiaf.FFIAF)


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
        (dict(optimizer="not_an_optimizer"), "`optimizer` must be one of"),
        (dict(bounds={"tau_mem": (1e-5, 0.05)}), "`bounds['tau_mem']` must start above dt / 2.785"),
        (dict(population_size=1), "`population_size` must be an integer >= 2"),
        (dict(parallel=0), "`parallel` must be an integer >= 1"),
        (dict(generations=0), "`generations` must be an integer >= 1"),
        (dict(max_evaluations=10), "`max_evaluations` must be an integer >= population_size * parallel"),
        (dict(max_time=0), "`max_time` must be > 0 seconds"),
        (dict(std_init=0.0), "`std_init` must be a finite number > 0"),
        (dict(tol=-1.0), "`tol` must be a finite number >= 0 or None"),
        (dict(optimizer="open_es", population_size=5), "`population_size` must be even for 'open_es'"),
        (dict(spikes=None), "Give a target"),
        (dict(metric=metrics.TraceMSE()), "TraceMSE needs the target `v`"),
        (dict(metric=[metrics.VanRossum()]), "`metric` must be a Metric or a list of (weight, Metric) pairs"),
        (dict(spikes=np.zeros((2, 50, 1), bool)), "`spikes` must cover the same K=2 trials of T=100 steps"),
        (dict(spikes=np.full((2, 100, 1), 2)), "`spikes` must be a bool raster (or 0/1 values)"),
        (dict(spikes=np.full((2, 100, 1), 0.5)), "`spikes` must be a bool raster (or 0/1 values)"),
        (dict(spikes=None, v=np.full((2, 100, 1), np.nan)), "`v` must be finite"),
        (
            dict(spikes=None, v=np.zeros((2, 100, 1)), metric=metrics.TraceMSE(t_start=1.0)),
            "`TraceMSE.t_start` must be before the end of `x`",
        ),
        (
            dict(x=np.zeros((0, 100, 1)), spikes=np.zeros((0, 100, 1), bool)),
            "`x` must hold at least one trial",
        ),
        (dict(x=np.zeros((2, 0, 1)), spikes=np.zeros((2, 0, 1), bool)), "`x` must hold at least one trial"),
        (
            dict(bounds={"noise_std": (0.0, 0.01)}),
            "Fitting `noise_std` needs a module built with `noise_std` > 0",
        ),
    ],
)
def test_fit_errors(kwargs, message):
    args = dict(bounds={"bias": (0.0, 0.02)}, spikes=np.zeros((2, 100, 1), bool), progress=False)
    args.update(kwargs)
    x = args.pop("x", np.zeros((2, 100, 1)))
    with pytest.raises(ValueError, match=re.escape(message)):
        jaxiaf.fit(jaxiaf.FFIAF(np.ones((1, 1))), x, **args)


def test_fit_type_errors():
    with pytest.raises(TypeError, match="`module` must be a jaxiaf.FFIAF or jaxiaf.FFIAFBrian"):
        jaxiaf.fit(object(), np.zeros((1, 10, 1)), bounds={"bias": (0, 1)}, spikes=np.zeros((1, 10, 1), bool))
    with pytest.raises(TypeError, match="`x` must be an array of real numbers"):
        jaxiaf.fit(
            jaxiaf.FFIAF(np.ones((1, 1))),
            np.zeros((1, 10, 1), complex),
            bounds={"bias": (0, 1)},
            spikes=np.zeros((1, 10, 1), bool),
        )


def test_bounds_with_brian2_units_are_checked():
    import brian2

    args = dict(spikes=np.zeros((1, 100, 1), bool), max_evaluations=64, progress=False)
    ok = jaxiaf.fit(
        jaxiaf.FFIAF(np.ones((1, 1))),
        np.zeros((1, 100, 1)),
        bounds={"tau_mem": (5 * brian2.ms, 50 * brian2.ms)},
        **args,
    )
    assert 5e-3 < ok.best_params["tau_mem"] < 50e-3
    with pytest.raises(ValueError, match="bounds\\['tau_mem'\\]` must be in"):
        jaxiaf.fit(
            jaxiaf.FFIAF(np.ones((1, 1))),
            np.zeros((1, 100, 1)),
            bounds={"tau_mem": (5 * brian2.mV, 50 * brian2.mV)},
            **args,
        )


def test_van_rossum_has_a_zero_gradient_where_trains_match():
    """The distance is a sqrt: its gradient at 0 would be NaN; it is 0, and the value is unchanged."""
    target = np.zeros((50, 2), bool)
    target[[10, 30], 0] = True
    grad = jax.grad(lambda m: metrics.van_rossum(m, target, 1e-4, 1e-2).sum())(target.astype(float))
    assert np.all(np.isfinite(grad)) and np.all(np.asarray(grad)[:, 1] == 0.0)
    np.testing.assert_array_equal(metrics.van_rossum(target, target, 1e-4, 1e-2), [0.0, 0.0])
