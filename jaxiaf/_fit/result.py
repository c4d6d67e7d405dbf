"""What [`jaxiaf.fit`][] returns, and how it judges whether its answer may be wrong."""

import warnings

import equinox as eqx
import numpy as np

from .._layer import FFIAF

NEAR_BEST = 0.05
"""Runs whose loss is at most `NEAR_BEST` times the null loss (spike losses) or the best loss (with a
trace term) above the best loss, or at most the dtype's machine epsilon times the null loss if that is more
(the loss's rounding), count as *at the best loss* when the result compares runs (`FitResult.spread`,
`FitResult.extent`, the flags)."""


class FitWarning(UserWarning):
    """Issued by [`jaxiaf.fit`][] when its answer may be wrong (see `FitResult.flags`)."""


class FitResult(eqx.Module):
    """What [`jaxiaf.fit`][] returns.

    **Fields:**

    - `best_params`: `{name: float}` the best parameters found (SI units).
    - `best_loss`: the loss of `best_params`.
    - `runs`: one `(loss, params, local)` per search run (a search from its start or restart to its
      end), in the order they ended: `params` is `{name: float}`; `local` is True for a run that
      polished the best point of the run before it, False for a search from a random point of the box.
    - `restarts`: how many times a stalled or finished search was restarted.
    - `tolerance_reached`: whether `best_loss <= tol` (always False with `tol=None`).
    - `stop_reason`: `"tolerance"` (`confirm` runs reached `tol`), `"patience"` (no improvement for
      `patience` generations), `"evaluations"`, `"time"` or `"generations"` (a budget was spent).
    - `spread`: `{name: float}` the range (max - min) of each parameter over the runs that ended *at the
      best loss*: within `tol`, or above the best loss by at most 5 % of the null loss (below; spike
      losses) or of the best loss (with a trace term); 0 when only one did.
    - `relative_loss`: `best_loss` divided by the loss of a silent model (spikes) or of the target's
      mean trace (`v`): about 0 for a fit that explains the data, near 1 for one that explains nothing.
    - `flags`: the reasons to doubt the answer, empty when there are none:
      `"tolerance_not_reached"` (a `tol` was set and no run reached it), `"unconfirmed"` (the runs that
      ended at the best loss all descend from one random starting point: nothing independent confirms
      it),
      `"runs_disagree"` (runs at the best loss differ by more than 5 % in a parameter, or by more than
      2 steps in `refractory`: the data do not pin the parameters),
      `"not_pinned"` (a fit at the best loss exists more than 5 % from the best in a parameter, or more
      than 2 steps in `refractory`: found by random walks, or by profiles that hold one parameter 6 %
      (3 steps) away and search the others; `extent`), `"high_loss"`
      (the best loss is more than 10 % of the way from the noise floor to the null loss: with no
      floor, `relative_loss > 0.1`). Each flag also issues a [`jaxiaf.FitWarning`][].
    - `extent`: `{name: float}` how far from the best parameters (SI) fits *at the best loss* were found:
      by random walks (`parallel * population_size` walks of 24 steps of 2-200 % of the 5 % / 2-step
      width) and by the profiles (evolution strategies only); a measure of how closely the data pin
      each parameter.
    - `loss_history`: (G,) the best loss found up to each generation.
    - `generation_best`: (G,) the best loss within each generation.
    - `params_history`: `{name: (G,) array}` the best parameters found up to each generation.
    - `elapsed`: (G,) wall time (s) from the start of the fit to the end of each generation.
    - `evaluations`: parameter sets evaluated (each over all trials).
    - `module`: the fitted [`jaxiaf.FFIAF`][] (`module.set_attributes(best_params)`, state reset); for
      [`jaxiaf.synapses.fit`][], a [`jaxiaf.synapses.SynapticLayer`][] (the layer with its synapses at
      `best_params`).
    - `optimizer`, `population_size`, `parallel`, `generations`: as run (`generations` = G).
    - `noise_floor`: the loss of the recorded repetitions of one input against each other
      (`jaxiaf._fit.recordings.noise_floor`; 0 when no input repeats or the repetitions agree): what one
      recording predicts of another. With a floor and no `tol` given, `tol` is the floor.
    - `neurons`: with `per_neuron=True`, one `FitResult` per neuron (each fitted on its own); then
      `best_params`, `spread` and `extent` hold (N,) arrays, `best_loss` is the neurons' mean,
      `relative_loss` their maximum, `noise_floor` their mean, `flags` those raised by any neuron,
      `restarts`, `evaluations` and `generations` their sums, `stop_reason` is `"per_neuron"`, and `runs`
      and the histories are empty (each neuron's are in `neurons`). Empty otherwise.
    """

    best_params: dict
    best_loss: float
    runs: list
    restarts: int
    tolerance_reached: bool
    stop_reason: str
    spread: dict
    relative_loss: float
    extent: dict
    flags: tuple
    loss_history: np.ndarray
    generation_best: np.ndarray
    params_history: dict
    elapsed: np.ndarray
    evaluations: int
    module: FFIAF  # or a jaxiaf.synapses.SynapticLayer (jaxiaf.synapses.fit)
    optimizer: str = eqx.field(static=True)
    population_size: int = eqx.field(static=True)
    parallel: int = eqx.field(static=True)
    generations: int = eqx.field(static=True)
    neurons: tuple = ()
    noise_floor: float = 0.0


def result(module, names, lo, hi, trace, budget, losses, near, extent, config) -> FitResult:
    """The [`jaxiaf.FitResult`][] of a search, with its flags (and a warning per flag); `losses` is the
    null loss and the noise floor."""
    null_loss, floor = losses
    as_dict = lambda values: {name: float(val) for name, val in zip(names, values, strict=True)}
    best = as_dict(trace.best_values)
    at_best = [run for run in trace.runs if run.loss <= near]
    values = np.array([run.values for run in at_best]) if at_best else trace.best_values[None]
    spread = as_dict(values.max(axis=0) - values.min(axis=0))
    relative = trace.best_loss / null_loss if null_loss > 0 else (0.0 if trace.best_loss == 0 else np.inf)
    reached = _reached(trace.best_loss, budget.tol)
    flags = []
    if budget.tol is not None and not reached:
        flags.append("tolerance_not_reached")
    if len({run.origin for run in at_best}) < 2:
        flags.append("unconfirmed")
    elif any(_disagree(name, spread[name], best[name], module.dt) for name in names):
        flags.append("runs_disagree")
    extent = as_dict(extent)
    if any(_disagree(name, extent[name], best[name], module.dt) for name in names):
        flags.append("not_pinned")
    if _above_floor(trace.best_loss, null_loss, floor) > 0.1:
        flags.append("high_loss")
    for flag in flags:
        warnings.warn(
            _MESSAGES[flag].format(
                r=relative,
                s=spread,
                n=len(at_best),
                e=extent,
                f=_above_floor(trace.best_loss, null_loss, floor),
            ),
            FitWarning,
            stacklevel=3,
        )
    optimizer, population_size, parallel = config
    return FitResult(
        best_params=best,
        best_loss=trace.best_loss,
        runs=[(run.loss, as_dict(run.values), run.local) for run in trace.runs],
        restarts=max(len(trace.runs) - parallel, 0),
        tolerance_reached=bool(reached),
        stop_reason=trace.stop_reason,
        spread=spread,
        relative_loss=float(relative),
        extent=extent,
        flags=tuple(flags),
        loss_history=trace.loss_history,
        generation_best=trace.generation_best,
        params_history={name: trace.values_history[:, i] for i, name in enumerate(names)},
        elapsed=trace.elapsed,
        evaluations=trace.evaluations,
        module=module.set_attributes(best).reset_all(),
        optimizer=optimizer,
        population_size=population_size,
        parallel=parallel,
        generations=len(trace.loss_history),
        noise_floor=float(floor),
    )


_MESSAGES = {
    "tolerance_not_reached": "No run reached the loss tolerance: the fit may have stopped in a local minimum "
    "(raise `max_evaluations` or `parallel`), or the data hold noise the model lacks.",
    "unconfirmed": "Only one search from a random start reached the best loss: nothing confirms that it "
    "is the global minimum (raise `max_evaluations` or `parallel`).",
    "runs_disagree": "{n} runs ended at the best loss with different parameters (spread {s}): the data do "
    "not pin them down.",
    "not_pinned": "Parameters up to {e} away from the best fit the data as well: the data do not pin "
    "them to 5 % (or 2 refractory steps).",
    "high_loss": "The best loss is {r:.2f} of the loss of a model that explains nothing ({f:.2f} of the way "
    "from the data's noise floor to it): the fit explains little of the data.",
}


def _above_floor(loss, null_loss, floor):
    """Where `loss` lies from the noise floor (0) to the null loss (1); 0 at or below the floor."""
    if null_loss > floor:
        return max(loss - floor, 0.0) / (null_loss - floor)
    return 0.0 if loss <= floor else np.inf


def _reached(loss, tol):
    return tol is not None and loss <= tol


def _disagree(name, spread, value, dt):
    if name == "refractory":
        return spread > 2 * dt
    return spread > 0.05 * max(abs(value), 1e-30)
