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


@pytest.fixture(scope="module")
def problems():
    return draw_problems(NUM_PROBLEMS, seed=11, max_trials=3)


@pytest.mark.brian
def test_fits_with_the_defaults_recover_or_flag(problems):
    outcomes = []
    for index, problem in enumerate(problems):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", jaxiaf.FitWarning)
            result = jaxiaf.fit(
                jaxiaf.FFIAF(np.ones((1, 1))),
                problem.x,
                spikes=problem.spikes,
                bounds=BOUNDS,
                key=jax.random.key(index),
                dtype=np.float32,
                progress=False,
            )
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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jaxiaf.FitWarning)
        result = jaxiaf.fit(
            jaxiaf.FFIAF(np.ones((1, 1))),
            problem.x,
            spikes=problem.spikes,
            bounds=BOUNDS,
            key=jax.random.key(1),
            dtype=np.float32,
            progress=False,
        )
    assert not recovered(result.best_params, problem.truth) and result.tolerance_reached
    assert "not_pinned" in result.flags
