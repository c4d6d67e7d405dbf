"""What real recordings need, against hand-made traces and hand-computed values: spike detection with a
dead time, the coincidence factor normalised by the intrinsic reliability, the trace loss outside action
potentials, the noise floor of repeated recordings, and the Gauss-Newton path's refusal of recordings."""

import re

import jax
import numpy as np
import pytest

import jaxiaf
from jaxiaf import metrics
from jaxiaf._fit import recordings

DT = 1e-3


def _raster(steps, num_steps=1000):
    out = np.zeros(num_steps, bool)
    out[steps] = True
    return out


def test_detect_spikes_on_hand_made_traces():
    v = np.full(100, -0.07)
    v[[10, 11, 12]] = [0.01, 0.02, -0.01]  # one action potential over three samples: one spike at 10
    v[[14]] = 0.005  # a second peak 4 steps later: inside the 5 ms dead time
    v[[30, 31]] = 0.02  # a spike at 30
    v[[40]] = 0.0  # touches the threshold without crossing it (crossing is strictly above)
    v[[99]] = 0.01  # the last sample
    times = jaxiaf.detect_spikes(v, DT, threshold=0.0, dead_time=5e-3)
    np.testing.assert_array_equal(times[0], np.array([10, 30, 99]) * DT)
    both = jaxiaf.detect_spikes(np.stack([v, v]), DT, threshold=0.0, dead_time=0.0)
    np.testing.assert_array_equal(both[1], np.array([10, 14, 30, 99]) * DT)
    above = np.full(20, 0.01)  # a trace that starts above threshold: no crossing at 0
    assert jaxiaf.detect_spikes(above, DT)[0].size == 0
    raster = jaxiaf.spikes_to_raster(times, 100, DT)
    np.testing.assert_array_equal(np.flatnonzero(raster[0, :, 0]), [10, 30, 99])


@pytest.mark.parametrize("seed", range(3))
def test_detect_spikes_on_random_traces(seed):
    """Random spike steps (at least the dead time apart) on a noisy subthreshold trace are found exactly."""
    rng = np.random.default_rng(seed)
    v = -0.065 + 0.003 * rng.standard_normal(5000)
    steps = np.sort(rng.choice(np.arange(1, 4990, 8), 60, replace=False))
    for k in steps:
        v[k : k + 3] = [0.02, 0.03, 0.01]
    np.testing.assert_array_equal(jaxiaf.detect_spikes(v, DT, dead_time=4e-3)[0], steps * DT)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(dt=0.0), "`dt` must be a finite scalar number of seconds > 0"),
        (dict(dead_time=-1e-3), "`dead_time` must be >= 0 s"),
        (dict(threshold=np.nan), "`threshold` must be a finite voltage"),
        (dict(v=np.zeros((2, 3, 4))), "`v` must be a (T,) or (K, T) array of finite voltages"),
        (dict(v=np.array([0.0, np.nan])), "`v` must be a (T,) or (K, T) array of finite voltages"),
    ],
)
def test_detect_spikes_errors(kwargs, message):
    args = dict(v=np.zeros(10), dt=DT)
    args.update(kwargs)
    with pytest.raises(ValueError, match=re.escape(message)):
        jaxiaf.detect_spikes(**args)


def test_intrinsic_reliability_and_normalised_gamma_by_hand():
    """Three repetitions of 1 s at dt = 1 ms, delta = 2 ms (2 steps). Gamma(m, d) =
    (N_coinc - 2 nu delta N_d) / (0.5 (N_d + N_m) (1 - 2 nu delta)), nu = N_m / 1 s."""
    r0 = _raster([100, 300, 500, 700])
    r1 = _raster([101, 302, 500, 900])  # coincides with r0 at 100, 300, 500 (within 2 steps)
    r2 = _raster([100, 300])  # coincides with r0 at 100, 300; with r1 at 100, 300
    trains = np.stack([r0, r1, r2], axis=1)

    def gamma(n_coinc, n_model, n_data):
        nu = n_model / 1.0
        return (n_coinc - 2 * nu * 2e-3 * n_data) / (0.5 * (n_data + n_model) * (1 - 2 * nu * 2e-3))

    # ordered pairs (model, data): coincidences counted on the data's spikes
    expected = np.mean(
        [gamma(3, 4, 4), gamma(2, 4, 2), gamma(3, 4, 4), gamma(2, 4, 2), gamma(2, 2, 4), gamma(2, 2, 4)]
    )
    reliability = float(metrics.intrinsic_reliability(trains, DT, 2e-3))
    np.testing.assert_allclose(reliability, expected, rtol=1e-12)
    model = _raster([100, 300, 500, 700, 800])
    raw = np.mean([gamma(4, 5, 4), gamma(3, 5, 4), gamma(2, 5, 2)])
    np.testing.assert_allclose(
        float(metrics.normalised_gamma(model, trains, DT, 2e-3)), raw / expected, rtol=1e-12
    )
    with pytest.raises(ValueError, match=re.escape("`trains` must have shape (T, R, ...) with R >= 2")):
        metrics.intrinsic_reliability(trains[:, :1], DT, 2e-3)
    with pytest.raises(ValueError, match=re.escape("`trains` must have shape (T, R, ...) around")):
        metrics.normalised_gamma(model[:-1], trains, DT, 2e-3)


def test_subthreshold_mse_leaves_out_the_windows_around_target_spikes():
    """Spike at step 10 with before = 2 ms, after = 3 ms: steps 8..13 are left out of the 20."""
    v = np.arange(20.0)[:, None] * 1e-3
    target = np.zeros((20, 1))
    spikes = np.zeros((20, 1), bool)
    spikes[10] = True
    kept = [k for k in range(20) if not 8 <= k <= 13]
    expected = np.mean([(k * 1e-3) ** 2 for k in kept])
    loss = metrics.subthreshold_mse(v, target, spikes, DT, before=2e-3, after=3e-3)
    np.testing.assert_allclose(np.asarray(loss), [expected], rtol=1e-12)
    metric = metrics.SubthresholdMSE(before=2e-3, after=3e-3)
    np.testing.assert_allclose(metric.loss(None, v, spikes, target, DT), [expected], rtol=1e-12)
    jitted = jax.jit(lambda a: metrics.subthreshold_mse(a, target, spikes, DT, 2e-3, 3e-3))
    np.testing.assert_allclose(np.asarray(jitted(v)), [expected], rtol=1e-12)
    hidden = metrics.subthreshold_mse(v, target, spikes, DT, before=20e-3, after=20e-3)
    assert np.isnan(np.asarray(hidden)).all()  # "NaN where no step is left"


def test_noise_floor_of_repetitions_by_hand():
    """Trials 0 and 2 repeat one input, 1 is alone: the floor is the mean loss of the ordered pairs
    (0, 2) and (2, 0) (the spike-count error: |4 - 2| / 2 = 1 and |2 - 4| / 4 = 0.5)."""
    spikes = np.zeros((100, 3, 1), bool)
    spikes[[10, 20, 30, 40], 0] = True
    spikes[[10, 20], 2] = True
    floor = recordings.noise_floor([(2.0, metrics.SpikeCount())], spikes, None, (0, 1, 0), DT)
    assert floor == pytest.approx(2.0 * 0.75, rel=1e-12)
    assert recordings.noise_floor([(1.0, metrics.SpikeCount())], spikes, None, (0, 1, 2), DT) == 0.0
    assert recordings.noise_floor([(1.0, metrics.SpikeCount())], spikes, None, None, DT) == 0.0


def test_gauss_newton_refuses_recorded_action_potentials():
    layer = jaxiaf.FFIAF(np.ones((1, 1)), dt=1e-4)
    v = np.full((1, 200, 1), -0.065)
    v[0, 50:53, 0] = 0.02  # an action potential, not a reset
    with pytest.raises(ValueError, match=re.escape("it holds action potentials, not resets to `v_reset`")):
        jaxiaf.fit(
            layer,
            np.zeros((1, 200, 1)),
            v=v,
            bounds={"tau_mem": (5e-3, 5e-2), "v_thresh": (-0.06, -0.04)},
            optimizer="gauss_newton",
            progress=False,
        )


def test_cross_validate_by_stimulus():
    """Three stimuli x two repetitions of a simulated cell (the second repetition loses every 7th spike);
    a fold per stimulus. Each fold fits on the other stimuli and scores the held-out one as by hand."""
    truth = jaxiaf.FFIAF(np.ones((1, 1)), tau_mem=0.02, bias=0.0, v_thresh=-0.055, dt=DT)
    rng = np.random.default_rng(5)
    inputs = rng.uniform(0.0, 0.03, (3, 600, 1))
    x = inputs[[0, 0, 1, 1, 2, 2]]
    spikes = np.array(jax.vmap(lambda xk: truth(xk)[0])(x))
    for k in (1, 3, 5):
        steps = np.flatnonzero(spikes[k, :, 0])[::7]
        spikes[k, steps, 0] = False
    stimuli = np.array(["a", "a", "b", "b", "c", "c"])
    budget = dict(
        bounds={"tau_mem": (5e-3, 5e-2)}, generations=3, population_size=4, parallel=1, progress=False
    )
    folds = jaxiaf.cross_validate(truth, x, spikes, stimuli, **budget)
    assert [f.held_out for f in folds] == [("a",), ("b",), ("c",)]
    for fold in folds:
        for label, score in fold.scores.items():
            rows = np.flatnonzero(stimuli == label)
            predicted = np.asarray(fold.fit.module(x[rows[0]])[0])[:, 0]
            recorded = spikes[rows, :, 0].T
            gamma = np.mean(
                [float(metrics.gamma_factor(predicted, recorded[:, r], DT, 2e-3)) for r in (0, 1)]
            )
            reliability = float(metrics.intrinsic_reliability(recorded, DT, 2e-3))
            assert score.gamma == pytest.approx(gamma, rel=1e-12)
            assert score.reliability == pytest.approx(reliability, rel=1e-12)
            assert score.normalised == pytest.approx(gamma / reliability, rel=1e-12)
    assert folds[0].fit.noise_floor > 0  # the repetitions differ: their floor is the fit's yardstick
    with pytest.raises(ValueError, match=re.escape("`folds`: each fold must hold out some but not all")):
        jaxiaf.cross_validate(truth, x, spikes, stimuli, folds=[["a", "b", "c"]], **budget)
    with pytest.raises(ValueError, match=re.escape("`stimuli` must hold one label per trial")):
        jaxiaf.cross_validate(truth, x, spikes, stimuli[:3], **budget)
