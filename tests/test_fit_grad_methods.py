"""`jaxiaf.fit(..., optimizer="gauss_newton")`: the spike-forced Levenberg-Marquardt fit of voltage traces
(`jaxiaf._fit.gradient`), with the library's defaults; its refusals."""

import re

import jax
import numpy as np
import pytest
from helpers import FIT_BOUNDS as BOUNDS
from helpers import FIT_TRUTH as TRUTH

import jaxiaf


@pytest.fixture(scope="module")
def spiking_traces():
    """2 trials of 0.3 s of a 2-neuron layer (rk4, float64) with the truth above: (x, v, spike count)."""
    x = 0.006 + 0.008 * np.random.default_rng(0).standard_normal((2, 3000, 2))
    truth = jaxiaf.FFIAF(np.array([[1.0, 0.5], [0.2, 1.0]]), **TRUTH)
    out = [truth(trial, record=True) for trial in x]
    return x, np.stack([np.asarray(o[2]["v"]) for o in out]), int(sum(np.sum(o[0]) for o in out))


def test_gauss_newton_recovers_all_four_parameters_from_spiking_traces(spiking_traces):
    """From random starts in the box: `tau_mem` and `bias` by Levenberg-Marquardt on the segments between
    the trace's resets, `v_thresh` and `refractory` read from the trace (and the fitted model)."""
    x, v, num_spikes = spiking_traces
    result = jaxiaf.fit(
        jaxiaf.FFIAF(np.array([[1.0, 0.5], [0.2, 1.0]])),
        x,
        v=v,
        bounds=BOUNDS,
        optimizer="gauss_newton",
        progress=False,
        key=jax.random.key(3),
    )
    assert num_spikes >= 10
    for name in ("tau_mem", "bias", "v_thresh"):
        assert abs(result.best_params[name] / TRUTH[name] - 1) < 1e-3, name
    assert abs(result.best_params["refractory"] - TRUTH["refractory"]) < 1e-4 / 2
    assert result.relative_loss < 1e-6 and result.optimizer == "gauss_newton" and result.population_size == 1
    assert result.stop_reason == "patience" and len(result.runs) == result.parallel
    assert np.all(np.diff(result.loss_history) <= 0) and result.flags == ()


def test_gauss_newton_fits_a_subthreshold_trace_float32():
    """No reset in the trace: one segment per trial, the plain trace fit (float32, exact integrator)."""
    x = 0.006 + 0.008 * np.random.default_rng(0).standard_normal((2, 2000, 1))
    truth = jaxiaf.FFIAF(np.ones((1, 1)), tau_mem=0.02, bias=0.008, v_thresh=0.0, integrator_name="exact")
    v = np.stack([np.asarray(truth(trial, record=True)[2]["v"]) for trial in x])
    result = jaxiaf.fit(
        jaxiaf.FFIAF(np.ones((1, 1)), v_thresh=0.0, integrator_name="exact"),
        x,
        v=v,
        bounds={"tau_mem": (5e-3, 50e-3), "bias": (0.0, 0.02)},
        optimizer="gauss_newton",
        dtype=np.float32,
        progress=False,
    )
    assert abs(result.best_params["tau_mem"] / 0.02 - 1) < 1e-3
    assert abs(result.best_params["bias"] / 0.008 - 1) < 1e-3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(v=None, spikes=np.zeros((10, 1), bool)), "`optimizer='gauss_newton'` fits voltage traces"),
        (dict(bounds={"v_reset": (-0.07, -0.06)}), "`optimizer='gauss_newton'` fits ('tau_mem', 'bias'"),
        (dict(bounds={"v_thresh": (-0.06, -0.05)}), "(at least one) and reads ('v_thresh', 'refractory')"),
        (dict(module=dict(noise_std=1e-3)), "fits the default equations without noise"),
    ],
)
def test_gauss_newton_errors(kwargs, message):
    module = jaxiaf.FFIAF(np.ones((1, 1)), **kwargs.pop("module", {}))
    args = {**dict(v=np.ones((10, 1)), bounds={"bias": (0, 1)}, progress=False), **kwargs}
    with pytest.raises(ValueError, match=re.escape(message)):
        jaxiaf.fit(module, np.ones((10, 1)), optimizer="gauss_newton", **args)
