"""`fit` refuses bad arguments clearly and survives bad candidates: float32 Neo targets, metric weights,
optimizers that need more than a gradient, argument types, keys, diverging candidates, repeated trials."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxiaf
from jaxiaf import metrics
from jaxiaf._fit import arguments as fit_arguments
from jaxiaf._fit import loss as fit_loss

QUIET = dict(bounds={"tau_mem": (5e-3, 5e-2)}, generations=1, population_size=4, parallel=1, progress=False)


def _layer_and_target(num_steps=300, trials=1):
    layer = jaxiaf.FFIAF(np.ones((1, 1)))
    x = np.full((trials, num_steps, 1), 0.02)
    return layer, x, np.asarray(layer(x[0])[0])[None].repeat(trials, 0)


def test_float32_fit_takes_neo_targets_at_a_tenth_of_a_millisecond():
    """In a float32 process the layer's dt is 9.9999997e-05 s; Neo durations in seconds still fit."""
    import neo
    import quantities as pq

    with jax.enable_x64(False):
        layer = jaxiaf.FFIAF(np.ones((1, 1)))
        assert layer.dt.dtype == jnp.float32
        x = np.full((500, 1), 0.02)
        train = neo.SpikeTrain([0.01, 0.02] * pq.s, t_stop=0.05 * pq.s)
        from_neo = jaxiaf.fit(layer, x, spikes=[train], **QUIET)
        raster = jaxiaf.spikes_to_raster([[0.01, 0.02]], 500, 1e-4)
        from_array = jaxiaf.fit(layer, x, spikes=raster, **QUIET)
        assert from_neo.best_params == from_array.best_params
        signal = neo.AnalogSignal(np.full((500, 1), -60.0) * pq.mV, sampling_period=0.1 * pq.ms)
        assert np.isfinite(jaxiaf.fit(layer, x, v=[signal], **QUIET).best_loss)


@pytest.mark.parametrize("weight", [np.nan, np.inf, -1.0, 0.0])
def test_metric_weights_must_be_finite_and_positive(weight):
    layer, x, target = _layer_and_target()
    with pytest.raises(ValueError, match=re.escape("`metric[1]'s weight` must be a finite number > 0")):
        jaxiaf.fit(
            layer,
            x,
            spikes=target,
            metric=[(1.0, metrics.SpikeCount()), (weight, metrics.VanRossum())],
            **QUIET,
        )


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(metric=metrics.VanRossum), TypeError, "`metric` must be a Metric instance, e.g. `VanRossum()`"),
        (dict(metric=[(1.0, metrics.VanRossum())]), None, None),
        (
            dict(metric=[("1", metrics.VanRossum())]),
            TypeError,
            "`metric[0]'s weight` must be a finite number",
        ),
        (dict(max_time="1"), TypeError, "`max_time` must be > 0 seconds"),
        (dict(max_time=None), TypeError, "`max_time` must be > 0 seconds"),
        (dict(tol="0"), TypeError, "`tol` must be a finite number >= 0 or None"),
        (dict(std_init="1"), TypeError, "`std_init` must be a finite number > 0"),
        (dict(key=0), TypeError, "`key` must be one JAX PRNG key, e.g. `jax.random.key(0)`; got 0"),
        (dict(key=jax.random.split(jax.random.key(0))), ValueError, "got a key array of shape (2,)"),
        (dict(key=np.zeros(3, np.uint32)), ValueError, "`key` must be one PRNG key"),
        (dict(key=jax.random.PRNGKey(3)), None, None),
        (dict(optimizer="lbfgs"), ValueError, "`optimizer='lbfgs'`: its update needs more than the gradient"),
    ],
)
def test_fit_argument_types(kwargs, error, message):
    layer, x, target = _layer_and_target()
    args = {**QUIET, **kwargs}
    if error is None:
        assert np.isfinite(jaxiaf.fit(layer, x, spikes=target, **args).best_loss)
        return
    with pytest.raises(error, match=re.escape(message)):
        jaxiaf.fit(layer, x, spikes=target, **args)


def test_ragged_trials_are_refused_by_name():
    layer = jaxiaf.FFIAF(np.ones((1, 1)))
    x = [np.zeros((100, 1)), np.zeros((50, 1))]
    with pytest.raises(ValueError, match=re.escape("`x` must be one array (K, T, ...)")):
        jaxiaf.fit(layer, x, spikes=np.zeros((2, 100, 1), bool), **QUIET)


@pytest.mark.parametrize(
    "args, error, message",
    [
        (([[0.001]], 100, 0.0), ValueError, "`dt` must be a finite scalar number of seconds > 0"),
        (([[0.001]], 100, np.nan), ValueError, "`dt` must be a finite scalar number of seconds > 0"),
        (([[0.001]], 100, 1e-4, np.inf), ValueError, "`t_start` must be a finite scalar number of seconds"),
        (([[0.001]], 0, 1e-4), ValueError, "`num_steps` must be an integer >= 1"),
        (([[0.001]], 2.5, 1e-4), ValueError, "`num_steps` must be an integer >= 1"),
        (([[np.nan]], 100, 1e-4), ValueError, "`spikes[0]` must contain only finite times"),
        (([[0.02]], 100, 1e-4), ValueError, "`spikes` of trial 0 fall outside the 100 steps"),
    ],
)
def test_spikes_to_raster_checks_its_arguments(args, error, message):
    with pytest.raises(error, match=re.escape(message)):
        jaxiaf.spikes_to_raster(*args)


DIVERGING = """
dv/dt = (v_rest - v + R*I_inp - w*mV)/tau_m : volt (unless refractory)
dw/dt = (w + 1)/tau_w : 1
v_rest : volt
R : ohm
tau_m : second
tau_w : second
v_thresh : volt
v_reset : volt
"""


def test_a_diverging_candidate_is_infinitely_bad_and_the_fit_goes_on():
    """`w` grows as exp(t / tau_w): below tau_w ~ 1 ms it overflows within the 0.1 s trials. Such candidates
    fall silent (v -> -inf), which a spike loss alone would score as well as any other silent candidate."""
    truth = dict(v_rest=-0.065, R=1.0, tau_m=0.02, tau_w=2.0, v_thresh=-0.05, v_reset=-0.065)
    layer = jaxiaf.FFIAF(np.ones((1, 1)), neuron_eq=DIVERGING, integrator_name="euler", **truth)
    x = np.random.default_rng(0).uniform(0.02, 0.04, (2, 1000, 1))
    target = np.asarray(jax.vmap(lambda xk: layer(xk)[0])(x))
    assert target.sum() > 10
    bounds = {"tau_w": (1e-5, 5.0), "tau_m": (0.01, 0.04)}
    values = np.array([[5e-5, 0.02], [2.0, 0.02]])
    fit_args = dict(bounds=bounds, spikes=target, population_size=6, parallel=2, progress=False)
    result = jaxiaf.fit(layer, x, generations=6, key=jax.random.key(1), **fit_args)
    assert np.isfinite(result.best_loss) and result.best_params["tau_w"] > 0.1
    # the loss of a diverging candidate (first row) is inf, the truth's (second row) 0
    static, arrays = fit_loss.split_metrics([(1.0, metrics.VanRossum())])
    population_loss = fit_loss.PopulationLoss(names=tuple(bounds), dt=1e-4, metrics=static, need_v=False)
    sim_data = (
        (layer.params, layer.sim, jax.tree.map(lambda a: a, layer.neuron_state)),
        jnp.moveaxis(jnp.asarray(x), 1, 0) @ layer.params.weights,
        jnp.moveaxis(jnp.asarray(target), 1, 0),
        None,
        arrays,
    )
    loss = population_loss(jnp.asarray(values), sim_data)
    assert np.isinf(loss[0]) and loss[1] == 0.0


def test_repeated_trials_are_simulated_once_with_the_same_result():
    """Trials with identical inputs (repetitions of one stimulus) are simulated once per candidate; the fit
    (its losses, parameters, runs) is the same as with every trial simulated."""
    rng = np.random.default_rng(3)
    layer = jaxiaf.FFIAF(np.ones((1, 1)), tau_mem=0.02, bias=0.0, v_thresh=-0.055)
    inputs = rng.uniform(0.0, 0.03, (2, 800, 1))
    x = inputs[[0, 1, 0, 1, 1]]
    target = np.array(jax.vmap(lambda xk: layer(xk)[0])(x))
    target[2, ::97] = ~target[2, ::97]  # the repetitions differ, as a cell's do
    distinct, trials = fit_arguments.distinct_trials(x)
    np.testing.assert_array_equal(distinct, inputs)
    assert trials == (0, 1, 0, 1, 1)
    args = dict(bounds={"tau_mem": (5e-3, 5e-2), "v_thresh": (-0.06, -0.05)}, spikes=target, generations=3)
    args.update(progress=False, population_size=8, parallel=2, key=jax.random.key(4))
    once = jaxiaf.fit(layer, x, **args)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fit_arguments, "distinct_trials", lambda x: (x, None))
        every = jaxiaf.fit(layer, x, **args)
    assert once.best_loss == every.best_loss and once.best_params == every.best_params
    np.testing.assert_array_equal(once.generation_best, every.generation_best)
