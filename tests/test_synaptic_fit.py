"""`jaxiaf.synapses.fit`: neuron parameters and synaptic scales of a layer driven by spikes, fitted to its own
simulated spike trains (float64, the library's defaults); the fitted layer replays them; a gradient step
through the recurrent spikes lowers the loss; bad arguments are refused by name; the guide's figures."""

import pathlib
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import python_blocks

import jaxiaf
from jaxiaf._fit import arguments as _arguments
from jaxiaf._fit import gradient as _gradient
from jaxiaf._fit import loss as _loss
from jaxiaf._fit import synaptic as _synaptic
from jaxiaf.synapses import Synapses, SynapticLayer, fit, run

PAGE = pathlib.Path(__file__).parents[1] / "docs" / "guides" / "synaptic_fit.md"
RECOVERY = 0.10
"""The stated recovery of `tau_mem` and `bias` from the spike trains of a feedforward layer (relative): an
exact fit stops at the first point that reproduces every spike, and the trains pin these two to a few %
(the fit flags `not_pinned` where they do not pin them to 5 %)."""
SCALE_RECOVERY = 0.01
"""The stated recovery of a recurrent group's `scale` (relative)."""


def _feedforward(seed: int, num_steps: int = 2000, n: int = 16, n_in: int = 20):
    """A random input raster (about 200 Hz per input), its `v += w` synapses, and a layer of random true
    `tau_mem` and `bias` (one value per layer)."""
    rng = np.random.default_rng(seed)
    raster = rng.random((num_steps, n_in)) < 0.02
    synapses = Synapses(rng.uniform(0.0, 4e-3, (n_in, n)), on_pre="v += w")
    truth = {"tau_mem": float(rng.uniform(0.01, 0.04)), "bias": float(rng.uniform(0.002, 0.009))}
    layer = jaxiaf.FFIAF(np.zeros((1, n)), integrator_name="exact", **truth)
    return raster, synapses, layer, truth


def _recurrent(seed: int, num_steps: int = 2000, n: int = 16):
    """`_feedforward`'s layer with sparse (30 %) recurrent `v += w` synapses of random sign, and a random
    true scale of them in 0.5..1.5."""
    raster, synapses, layer, _ = _feedforward(seed, num_steps, n)
    rng = np.random.default_rng(seed + 1000)
    weights = rng.normal(0.0, 2e-3, (n, n)) * (rng.random((n, n)) < 0.3)
    return raster, synapses, weights, layer, float(rng.uniform(0.5, 1.5))


def _fit_feedforward(seed: int, **kwargs):
    raster, synapses, layer, truth = _feedforward(seed, **kwargs)
    target = run(layer, raster, feedforward=synapses)[0]
    start = layer.set_attributes({"tau_mem": 0.02, "bias": 0.01})  # the page's defaults
    bounds = {"tau_mem": (5e-3, 50e-3), "bias": (0.0, 0.015)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jaxiaf.FitWarning)
        result = fit(start, raster, feedforward=synapses, bounds=bounds, spikes=target, progress=False)
    for name, value in truth.items():
        assert abs(result.best_params[name] / value - 1) < RECOVERY, (seed, name, result.best_params, truth)
    assert result.tolerance_reached and result.stop_reason == "tolerance"
    assert isinstance(result.module, SynapticLayer)
    np.testing.assert_array_equal(result.module.run(raster)[0], target)  # replays every spike


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(6))
def test_fit_recovers_neuron_parameters_of_a_spike_driven_layer(seed):
    _fit_feedforward(seed)  # the default run's counterpart: the guide's first fit


def _fit_recurrent(seed: int):
    raster, synapses, weights, layer, scale = _recurrent(seed)
    target = run(layer, raster, feedforward=synapses, recurrent=Synapses(weights, scale=scale))[0]
    bounds = {"recurrent.scale": (0.0, 2.0)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jaxiaf.FitWarning)
        result = fit(
            layer, raster, feedforward=synapses, recurrent=Synapses(weights), bounds=bounds, spikes=target,
            progress=False,
        )  # fmt: skip
    assert abs(result.best_params["recurrent.scale"] / scale - 1) < SCALE_RECOVERY, (seed, result.best_params)
    assert result.tolerance_reached
    assert float(result.module.recurrent.scale) == result.best_params["recurrent.scale"]
    np.testing.assert_array_equal(result.module.run(raster)[0], target)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(5))
def test_fit_recovers_the_scale_of_recurrent_synapses(seed):
    _fit_recurrent(seed)  # the default run's counterpart: the guide's second fit


CONDUCTANCE = """dv/dt = (v_rest - v + R*I_inp + ge*(E_e - v))/tau_m : volt (unless refractory)
dge/dt = -ge/tau_e : 1
v_rest : volt
R : ohm
E_e : volt
tau_m : second
tau_e : second
v_thresh : volt
v_reset : volt"""


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3))
def test_fit_recovers_a_conductance_model_s_time_constant_and_input_scale(seed):
    """A layer's own equations: excitatory conductances `ge += w`, `tau_m` and the input's scale fitted."""
    rng = np.random.default_rng(seed)
    raster = rng.random((2000, 20)) < 0.02
    truth = {"tau_m": float(rng.uniform(0.01, 0.03)), "feedforward.scale": float(rng.uniform(0.7, 1.3))}
    layer = jaxiaf.FFIAF(
        np.zeros((1, 16)), neuron_eq=CONDUCTANCE, integrator_name="rk4", refractory=2e-3, v_rest=-0.065,
        R=1.0, E_e=0.0, tau_m=truth["tau_m"], tau_e=5e-3, v_thresh=-0.052, v_reset=-0.065,
    )  # fmt: skip
    weights = rng.uniform(0.0, 0.3, (20, 16))
    synapses = Synapses(weights, on_pre="ge += w")
    target = run(
        layer, raster, feedforward=Synapses(weights, on_pre="ge += w", scale=truth["feedforward.scale"])
    )
    bounds = {"tau_m": (5e-3, 50e-3), "feedforward.scale": (0.2, 2.0)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jaxiaf.FitWarning)
        result = fit(layer, raster, feedforward=synapses, bounds=bounds, spikes=target[0], progress=False)
    for name, value in truth.items():
        assert abs(result.best_params[name] / value - 1) < RECOVERY, (seed, name, result.best_params, truth)
    np.testing.assert_array_equal(result.module.run(raster)[0], target[0])


def test_the_fitted_layer_at_the_truth_replays_the_target_bit_for_bit(tmp_path):
    raster, synapses, weights, layer, scale = _recurrent(3, num_steps=500)
    truth = {"tau_mem": 0.025, "bias": 0.004, "recurrent.scale": scale, "feedforward.scale": 0.9}
    # scales of the fitted layer's dtype (not weakly typed): the three runs below are one compiled program
    given = (Synapses(synapses.weights, scale=np.float64(0.9)), Synapses(weights, scale=np.float64(scale)))
    expected = run(layer.set_attributes({"tau_mem": 0.025, "bias": 0.004}), raster, feedforward=given[0],
                   recurrent=given[1], record=True)  # fmt: skip
    fitted = SynapticLayer(layer, synapses, Synapses(weights)).set_attributes(truth).reset_all()
    got = fitted.run(raster, record=True)
    assert int(np.sum(expected[0])) > 0
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[2]["v"], expected[2]["v"])
    # the guide's way to keep a fit: the layer with its synapses in a file
    path = tmp_path / "fitted.jaxiaf"
    jaxiaf.save(fitted.layer, path, feedforward=fitted.feedforward, recurrent=fitted.recurrent)
    net = jaxiaf.load(path)
    again = run(net.layer, raster, feedforward=net.feedforward, recurrent=net.recurrent, record=True)
    np.testing.assert_array_equal(again[2]["v"], expected[2]["v"])


def _loss_and_data(names, optimizer):
    """The fit's loss of a recurrent layer on two trials of different input rasters
    (`jaxiaf._fit.loss.PopulationLoss` as `fit` builds it), its data, and the true scale."""
    raster, synapses, weights, layer, scale = _recurrent(0, num_steps=1000)
    rasters = np.stack([raster, _recurrent(1, num_steps=1000)[0]])
    true = Synapses(weights, scale=scale)
    target = np.stack([run(layer, r, feedforward=synapses, recurrent=true)[0] for r in rasters])
    options = _arguments.settings(optimizer, 16, 4, 100_000, np.inf, None, None, 2, None, 25, 1.0, 1)
    problem = _synaptic._problem(
        layer, (rasters, synapses, Synapses(weights), None), {n: (0.0, 2.0) for n in names}, (target, None),
        None, options, jnp.float64,
    )  # fmt: skip
    static, arrays = _loss.split_metrics(problem.metrics)
    surrogate = _gradient.SURROGATE if options.family == "gradient" else None
    loss = _loss.PopulationLoss(problem.names, problem.dt, static, False, 1, surrogate, None)
    data = _loss.simulation_data(problem.module, problem.x, problem.target_spikes, None, arrays, jnp.float64)
    return loss, data, scale


def test_the_loss_is_zero_at_the_truth_and_a_gradient_step_through_the_recurrent_spikes_lowers_it():
    loss, data, scale = _loss_and_data(("recurrent.scale", "feedforward.scale"), "adam")
    total = lambda values: (jnp.sum(loss(values, data)), loss(values, data))
    gradient = jax.jit(jax.value_and_grad(total, has_aux=True))  # one program for both calls
    values = jnp.array([[scale, 1.0], [0.5 * scale, 1.0], [0.8 * scale, 1.05]])
    (_, losses), grad = gradient(values)  # each candidate over both trials, one vmapped evolve
    assert losses[0] == 0.0 and losses[1] > 0.5  # the truth reproduces every spike of both trials
    assert np.all(np.isfinite(grad)) and np.all(grad[2] != 0)  # the surrogate reaches both scales
    step = values.at[2].add(-1e-3 * grad[2] / jnp.max(jnp.abs(grad[2])))
    assert float(gradient(step)[0][1][2]) < float(losses[2])


@pytest.mark.slow
def test_an_adam_fit_of_the_scales_lowers_the_loss():
    """`optimizer="adam"` through `fit`: the surrogate gradient through the input and recurrent spikes
    moves the two scales, and the best loss falls below the first step's."""
    raster, synapses, weights, layer, scale = _recurrent(0, num_steps=1000)
    target = run(layer, raster, feedforward=synapses, recurrent=Synapses(weights, scale=scale))[0]
    bounds = {"recurrent.scale": (0.0, 2.0), "feedforward.scale": (0.5, 1.5)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jaxiaf.FitWarning)
        result = fit(
            layer, raster, feedforward=synapses, recurrent=Synapses(weights), bounds=bounds, spikes=target,
            optimizer="adam", generations=20, parallel=2, progress=False,
        )  # fmt: skip
    assert result.optimizer == "adam" and result.generations == 20
    assert np.all(np.isfinite(result.generation_best))
    assert result.best_loss < 0.95 * result.generation_best[0]
    assert np.ptp(result.params_history["recurrent.scale"]) > 0


def test_the_loss_s_data_hold_each_trial_s_raster_and_currents():
    """`spikes_in` and `x` of K trials, packed in the problem's `x`, come back apart in the loss's data."""
    raster, synapses, weights, _, _ = _recurrent(0, num_steps=50)
    layer = jaxiaf.FFIAF(np.random.default_rng(0).normal(0.0, 0.01, (3, 16)), integrator_name="exact")
    rasters = np.stack([raster, ~raster])
    x = np.random.default_rng(1).normal(0.0, 1.0, (2, 50, 3))
    options = _arguments.settings("cma_es", 16, 4, 100_000, np.inf, None, None, 2, None, 25, 1.0, 1)
    synaptic = (rasters, synapses, Synapses(weights), x)
    problem = _synaptic._problem(
        layer, synaptic, {"recurrent.scale": (0.0, 2.0)}, (np.zeros((2, 50, 16), bool), None), None,
        options, jnp.float64,
    )  # fmt: skip
    assert problem.names == ("recurrent.scale",) and problem.x.shape == (2, 50, 23)
    (params, _, state), inputs, *_ = _loss.simulation_data(
        problem.module, problem.x, problem.target_spikes, None, (), jnp.float64
    )
    currents, got, feedforward, recurrent = inputs
    np.testing.assert_array_equal(got, np.moveaxis(rasters, 1, 0))  # (T, K, N_src)
    np.testing.assert_array_equal(currents, np.moveaxis(x @ np.asarray(layer.params.weights), 1, 0))
    assert feedforward.weights.shape == (20, 16) and recurrent.weights.shape == (16, 16)
    assert state.key.shape == (2,)  # one noise key per trial


BOUNDS = {"tau_mem": (5e-3, 50e-3)}
POISSON = jaxiaf.synapses.Poisson(np.full(20, 100.0), 1e-4, 2000, jax.random.key(0))
WEIGHTS = r"`{}.weights` must have shape \({}, 16\)"


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (dict(spikes=None), ValueError, "Give a target"),
        (dict(bounds={"feedforward.weights": (0, 1)}), ValueError, r"Cannot fit \['feedforward.weights'\]"),
        (dict(bounds={"recurrent.scale": (0, 1)}), ValueError, r"fittable names: .*'feedforward.scale'"),
        (dict(bounds={"feedforward.scale": (1, 0)}), ValueError, r"`bounds\['feedforward.scale'\]`"),
        (dict(feedforward=None), ValueError, "`spikes_in` .* and `feedforward`"),
        (dict(feedforward=Synapses(np.ones((3, 4)))), ValueError, WEIGHTS.format("feedforward", 3)),
        (dict(recurrent=Synapses(np.ones((16, 15)))), ValueError, WEIGHTS.format("recurrent", 16)),
        (dict(recurrent=Synapses(np.ones((2, 16, 16)))), ValueError, "`recurrent.weights`"),
        (dict(recurrent=Synapses(np.ones((16, 16)), scale=np.ones((2, 1)))), ValueError, "`recurrent.scale`"),
        (dict(recurrent="w"), TypeError, "`recurrent` must be"),
        (dict(spikes_in=np.full((2000, 20), 2)), ValueError, "`spikes_in` must be a bool raster"),
        (dict(spikes_in=np.zeros((2000, 7), bool)), ValueError, r"`spikes_in` must have shape"),
        (dict(x=np.zeros((1999, 1))), ValueError, "`spikes_in` and `x` must cover the same"),
        (dict(spikes=np.zeros((1999, 16), bool)), ValueError, "`spikes` must cover the same"),
        (dict(optimizer="gauss_newton"), ValueError, "gauss_newton"),
        (dict(optimizer="adam", bounds={"refractory": (0, 1e-3)}), ValueError, r"`bounds\['refractory'\]`"),
        (dict(spikes_in=POISSON), TypeError, "`spikes_in` must be a recorded raster"),
    ],
)
def test_bad_arguments_are_refused_by_name(change, error, match):
    raster, synapses, layer, _ = _feedforward(0)
    target = np.zeros((2000, 16), bool)
    args = dict(spikes_in=raster, feedforward=synapses, bounds=BOUNDS, spikes=target, progress=False)
    with pytest.raises(error, match=match):
        fit(layer, **{**args, **change})


def _first_block():
    """The guide's first block run (it asserts the replay itself) and its figures asserted; its namespace."""
    namespace = {}
    exec(compile(python_blocks(PAGE)[0], str(PAGE), "exec"), namespace)
    fitted = namespace["result"]
    for name, value in {"tau_mem": 0.03, "bias": 0.006}.items():  # "within 10 % of 30 ms and 6 mA"
        assert abs(fitted.best_params[name] / value - 1) < RECOVERY, fitted.best_params
    assert fitted.stop_reason == "tolerance" and fitted.flags == ("runs_disagree", "not_pinned")
    return namespace


def test_the_guide_s_first_fit_states_true_figures(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jaxiaf.FitWarning)
        namespace = _first_block()  # the default run's counterpart of the whole page's test
    with pytest.raises(TypeError, match="SynapticLayer"):  # "`jaxiaf.save(result)` refuses"
        jaxiaf.save(namespace["result"], tmp_path / "result.jaxiaf")


@pytest.mark.slow
def test_the_guide_s_blocks_run_and_state_true_figures():
    blocks = python_blocks(PAGE)
    assert len(blocks) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jaxiaf.FitWarning)
        namespace = _first_block()
        exec(compile(blocks[1], str(PAGE), "exec"), namespace)
    scale = namespace["result"].best_params["recurrent.scale"]
    assert abs(scale / 1.3 - 1) < SCALE_RECOVERY  # "1.3 within 1 %"
    assert float(namespace["result"].module.recurrent.scale) == scale
