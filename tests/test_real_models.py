"""The named models for real cells (`jaxiaf.neuron_models`) spike exactly as Brian2 runs their equations
(float64, numpy target), on random parameters drawn from their default bounds and fluctuating currents
of a recording's scale."""

import numpy as np
import pytest

import jaxiaf
from brian_ref import EquationLayer

DT = 2e-4  # the sampling period of the QSNMC recordings
NEURONS = 6


def _currents(rng, num_steps, n):
    """(T, n) Ornstein-Uhlenbeck currents (tau 3 ms) of mean 100-400 pA and std 50-300 pA."""
    a = np.exp(-DT / 3e-3)
    x = np.zeros((num_steps, n))
    noise = rng.standard_normal((num_steps, n)) * np.sqrt(1 - a * a)
    for k in range(1, num_steps):
        x[k] = a * x[k - 1] + noise[k]
    return (rng.uniform(100, 400, n) + rng.uniform(50, 300, n) * x) * 1e-12


def _draw(model, rng, n):
    """Per-neuron values: the model's defaults, the fitted ones uniform in their default bounds."""
    values = {k: np.full(n, v) for k, v in model.values.items()}
    for name, (lo, hi) in model.bounds.items():
        values[name] = rng.uniform(lo, hi, n)
    if "v_reset" in values and "v_thresh" in values:  # a reset below the threshold, as cells do
        values["v_reset"] = np.minimum(values["v_reset"], values["v_thresh"] - 5e-3)
    if model.name == "adaptive_threshold":  # a threshold that follows v closely (a -> 1) never fires here
        values["a"] = rng.uniform(0.0, 0.3, n)
    return values


def test_every_model_is_documented_with_its_source_and_bounds():
    assert set(jaxiaf.neuron_models) == {"lif", "adaptation", "adaptive_threshold", "adex", "gif"}
    for name, model in jaxiaf.neuron_models.items():
        assert model.name == name and "(" in model.source  # a citation with its year
        assert set(model.bounds) <= set(model.values)
        for lo, hi in model.bounds.values():
            assert lo < hi
        for key, value in model.values.items():
            if key in model.bounds:
                lo, hi = model.bounds[key]
                assert lo <= value <= hi, (name, key)


@pytest.mark.brian
@pytest.mark.parametrize("name", ["lif", "adaptation", "adaptive_threshold", "adex", "gif"])
def test_named_models_spike_as_brian2(name):
    model = jaxiaf.neuron_models[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    values = _draw(model, rng, NEURONS)
    refractory = values.pop("refractory")
    currents = _currents(rng, 2500, NEURONS)
    layer = jaxiaf.FFIAF(
        np.eye(NEURONS),
        dt=DT,
        refractory=refractory,
        neuron_eq=model.equations,
        threshold=model.threshold,
        reset=model.reset,
        integrator_name=model.integrator,
        **values,
    )
    spikes = np.asarray(layer(currents)[0])
    ref = EquationLayer(
        model.equations,
        threshold=model.threshold,
        reset=model.reset,
        refractory=refractory,
        method=model.integrator,
        parameters=values,
        dt=DT,
    ).evolve(currents, init={"v": values["v_rest"]})
    assert np.sum(spikes.sum(axis=0) >= 3) >= NEURONS // 2, spikes.sum(axis=0)  # most fire: it can fail
    np.testing.assert_array_equal(spikes, ref.raster())


def test_a_model_layer_takes_values_by_name():
    model = jaxiaf.neuron_models["gif"]
    layer = model.layer(DT, tau_w=0.2)
    assert float(layer.parameters()["tau_w"][0]) == 0.2 and float(layer.dt) == DT
    with pytest.raises(ValueError, match=r"\['tau_x'\] are not parameters of the 'gif' model"):
        model.layer(DT, tau_x=0.2)
