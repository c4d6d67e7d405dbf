"""Cross-validation by stimulus: fit on some inputs, predict the others, score as the field scores."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import arguments as _arguments
from . import metrics as _metrics
from .arguments import functional as _functional
from .driver import fit
from .result import FitResult


class Score(NamedTuple):
    """The prediction of one held-out stimulus: `gamma`, the model's coincidence factor against each
    recorded repetition, averaged; `reliability`, the repetitions' intrinsic reliability (NaN with one
    repetition); `normalised`, `gamma / reliability` (the competition's score)."""

    gamma: float
    reliability: float
    normalised: float


class Fold(NamedTuple):
    """One fold of [`jaxiaf.cross_validate`][]: the held-out stimulus labels, the fit on the others, and
    `scores` `{label: Score}` of each held-out stimulus."""

    held_out: tuple
    fit: FitResult
    scores: dict


def cross_validate(module, x, spikes, stimuli, *, folds=None, delta: float = 2e-3, **fit_kwargs) -> list:
    """Fit on some stimuli, predict the others: for each fold, [`jaxiaf.fit`][] on the trials whose
    stimulus is not held out, then the fitted model's spikes on each held-out trial, scored against its
    recording with the coincidence factor [`jaxiaf.metrics.gamma_factor`][] (window `delta`), averaged
    over the repetitions of the stimulus and divided by their intrinsic reliability
    ([`jaxiaf.metrics.intrinsic_reliability`][]), as the 2007 single-neuron modelling competition scored.

    **Arguments:**

    - `module`: the layer to fit (one neuron), as for [`jaxiaf.fit`][].
    - `x`: (K, T, N_in) inputs of K trials (A). Repetitions of one stimulus with identical inputs are
      simulated once per candidate (give the repetitions one input, e.g. their mean recorded current).
    - `spikes`: the K recorded spike trains: a (K, T, 1) raster, or K arrays of spike times (s).
    - `stimuli`: (K,) the stimulus label of each trial (trials with one label are its repetitions).
    - `folds`: the labels held out by each fold, a list of lists; default: each label alone.
    - `delta`: the coincidence window (s; default 2 ms).
    - `fit_kwargs`: passed to [`jaxiaf.fit`][] (`bounds` is required).

    **Returns:** a list of `Fold`s (`held_out`, `fit`, `scores`: `{label: Score(gamma, reliability,
    normalised)}`), one per fold.

    **Raises:** `ValueError` naming `stimuli` or `folds` when they do not match the trials.
    """
    module = _functional(module)
    dt = _arguments.host_dt(module)
    x = np.asarray(x)
    stimuli = np.asarray(stimuli)
    if stimuli.shape != x.shape[:1]:
        raise ValueError(
            f"`stimuli` must hold one label per trial of `x`, shape ({x.shape[0]},); got {stimuli.shape}."
        )
    labels = list(dict.fromkeys(stimuli.tolist()))
    folds = [[label] for label in labels] if folds is None else [list(f) for f in folds]
    for held in folds:
        unknown = [label for label in held if label not in labels]
        if not held or unknown or len(held) == len(labels):
            raise ValueError(
                f"`folds`: each fold must hold out some but not all of the stimuli {labels}; got {held}."
            )
    if isinstance(spikes, list | tuple):
        spikes = _arguments.spikes_to_raster(spikes, x.shape[1], dt)
    spikes = np.asarray(spikes)
    out = []
    for held in folds:
        test = np.isin(stimuli, held)
        result = fit(module, x[~test], spikes=spikes[~test], **fit_kwargs)
        scores = {label: _score(result.module, x, spikes, stimuli == label, dt, delta) for label in held}
        out.append(Fold(tuple(held), result, scores))
    return out


def _score(model, x, spikes, trials, dt, delta) -> Score:
    """The model's prediction of the trials `trials` (bool (K,)) of one stimulus, scored."""
    distinct, index = _arguments.distinct_trials(x[trials])
    predicted = np.stack([np.asarray(model(trial)[0])[:, 0] for trial in distinct])
    predicted = predicted if index is None else predicted[list(index)]
    recorded = spikes[trials][..., 0]
    gamma, reliability = map(float, _gamma_and_reliability(predicted.T, recorded.T, dt, delta))
    return Score(gamma, reliability, gamma / reliability)


@jax.jit
def _gamma_and_reliability(predicted, recorded, dt, delta):
    """The mean gamma factor of `predicted` (T, R) against `recorded` (T, R), and the intrinsic
    reliability of `recorded` (NaN for R = 1), in one compiled call (op by op, the metrics compile ~100
    small programs: 9 s of a fold on 2 loaded cores)."""
    gamma = jnp.mean(_metrics.gamma_factor(predicted, recorded, dt, delta))
    if recorded.shape[1] < 2:
        return gamma, jnp.full((), jnp.nan, gamma.dtype)
    return gamma, _metrics.intrinsic_reliability(recorded, dt, delta)
