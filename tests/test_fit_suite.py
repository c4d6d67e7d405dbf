"""The reduced fitting problem suite: `fit`'s defaults on random Brian2 ground truths it was not tuned to.

`benchmarks/bench_fit_suite.py` runs the full suite (20 problems x 5 seeds and more); this is its test
version: a few problems drawn from a seed of their own, one fit each with the defaults (data, bounds and a
seed; float32, as for a user without x64). Each fit must recover its truth (5 %, refractory within 2
steps) or flag that it may be wrong; most must recover it.
"""

import warnings

import jax
import numpy as np
import pytest

import jaxiaf
from brian_ref.problems import BOUNDS, draw_problems, recovered

NUM_PROBLEMS = 4


def _fit_with_defaults(problem, seed):
    """`fit` as a new user calls it: the data, the bounds and a seed (float32, no progress bar)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jaxiaf.FitWarning)
        return jaxiaf.fit(
            jaxiaf.FFIAF(np.ones((1, 1))),
            problem.x,
            spikes=problem.spikes,
            bounds=BOUNDS,
            key=jax.random.key(seed),
            dtype=np.float32,
            progress=False,
        )


@pytest.fixture(scope="module")
def problems():
    return draw_problems(NUM_PROBLEMS, seed=11, max_trials=3)


@pytest.mark.brian
def test_fits_with_the_defaults_recover_or_flag(problems):
    outcomes = []
    for index, problem in enumerate(problems):
        result = _fit_with_defaults(problem, index)
        ok = recovered(result.best_params, problem.truth)
        assert ok or result.flags, (index, problem.truth, result.best_params)
        outcomes.append(ok)
    assert sum(outcomes) >= NUM_PROBLEMS - 1, outcomes


def test_problems_are_drawn_inside_the_bounds_and_fire():
    problems = draw_problems(3, seed=5, num_steps=2000, max_trials=2)
    for problem in problems:
        for name, (low, high) in BOUNDS.items():
            assert low <= problem.truth[name] <= high
        assert problem.spikes.sum(axis=1).min() >= 5
        assert problem.x.shape[1:] == (2000, 1) and problem.spikes.shape == problem.v.shape
    assert recovered(problems[0].truth, problems[0].truth)
    nudged = dict(problems[0].truth, tau_mem=problems[0].truth["tau_mem"] * 1.06)
    assert not recovered(nudged, problems[0].truth)


@pytest.mark.brian
def test_a_narrow_ridge_of_exact_fits_is_flagged():
    """Problem 10 of the suite's spike set (1 trial, 18 spikes): with seed 1 two random starts agree on an
    exact fit with `bias` 13 % off, and random walks from it stay within 5 %. The profiles (one parameter
    held 6 % away, the others searched) find exact fits there: the result says `not_pinned`."""
    problem = draw_problems(20)[10]
    result = _fit_with_defaults(problem, 1)
    assert not recovered(result.best_params, problem.truth) and result.tolerance_reached
    assert "not_pinned" in result.flags


@pytest.mark.brian
def test_per_neuron_parameters_are_recovered():
    """`per_neuron=True`: 8 neurons with their own `tau_mem` and `bias`, fitted from Brian2 spikes with
    the defaults: at least 90 % of the 16 values within 5 % (benchmarks/bench_fit_neurons.py: 100
    neurons)."""
    from brian_ref.parity import fit_neurons
    from brian_ref.scenarios import neurons_problem

    truth, weights, x, spikes = neurons_problem(8, seed=3)
    result = fit_neurons(weights, x, spikes, dtype=np.float32)
    errors = np.array([np.abs(result.best_params[k] / truth[k] - 1) for k in truth])
    assert (errors < 0.05).mean() >= 0.9, errors
    assert len(result.neurons) == 8 and result.best_params["bias"].shape == (8,)
    np.testing.assert_array_equal(result.module.parameters()["bias"], result.best_params["bias"])
    assert result.flags == tuple(f for f in result.flags if any(f in r.flags for r in result.neurons))
    with pytest.raises(ValueError, match="a per-neuron FitResult is not saved whole"):
        jaxiaf.save(result, "unused.npz")
