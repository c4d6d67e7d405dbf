"""The loop of [`jaxiaf.fit`][] over a solver, and what it keeps: runs, budgets, the record of the best loss.

A solver is an object with a small interface, one per family of optimizers (evolution strategies in
`jaxiaf._fit.search`; gradient descent and Gauss-Newton in `jaxiaf._fit.gradient`):

- `label`: the progress bar's description and unit;
- `evaluate(values (M, D), data) -> (M,)`: the fit's loss of parameter sets (for the checks after the fit);
- `init(key) -> state`: the solver's state before its first step;
- `step(state) -> (state, Step)`: one generation (or descent step) of all its runs;
- `terminate(state, record, evaluations) -> str | None`: why the fit stops now (None: it goes on);
- `runs(state, generations) -> list[Run]`: every run at the end, in the order they ended;
- `profile(best_values, names, dt, near, key, spent) -> (D,)`: how far profiles moved each parameter at
  the best loss (zeros where the solver has none).

[`run`][] drives any of them until `terminate` says why it stops, and returns the [`Trace`][].
"""

import time
from typing import NamedTuple

import numpy as np

from .._compile.progress import bar as progress_bar


class Run(NamedTuple):
    """One search from its (re)start to its end: the best loss it reached, its parameters, the
    generations it ran, whether it polished an earlier run's best point (`local`), and its `origin`: the
    index of the search from a random point that it descends from (runs of one origin are not
    independent of each other)."""

    loss: float
    values: np.ndarray
    generations: int
    local: bool
    origin: int


class Budget(NamedTuple):
    """When to stop: evaluations (one parameter set over all trials), wall seconds, generations, a loss
    tolerance (None: none), the number of runs that must reach it, and the patience of the whole fit and
    of one search (generations without an improvement of more than `rtol`); with `strict`, the fit's
    patience counts only once the tolerance is reached (an exact fit is searched for until found)."""

    max_evaluations: int
    max_time: float
    generations: int
    tol: float | None
    confirm: int
    patience: int
    run_patience: int
    strict: bool = True
    rtol: float = 1e-3

    def reached(self, loss) -> bool:
        """Whether `loss` is within the tolerance (never without one)."""
        return self.tol is not None and loss <= self.tol


class Trace(NamedTuple):
    """What the loop saw: per generation the best loss so far, the best of the generation, the best
    parameters so far and the elapsed time; all runs; why it stopped; evaluations spent."""

    best_loss: float
    best_values: np.ndarray
    loss_history: np.ndarray
    generation_best: np.ndarray
    values_history: np.ndarray
    elapsed: np.ndarray
    runs: list
    stop_reason: str
    evaluations: int


class Step(NamedTuple):
    """What one step of a solver reports: each run's best loss (R,) and values so far, the step's lowest
    loss, the parameter sets it evaluated, and the runs that have ended so far."""

    run_best: np.ndarray
    run_values: list
    lowest: float
    evaluations: int
    ended: int


class Record:
    """The loop's account of a fit: after each generation (`update`), the best loss and values so far,
    the generations since the best loss last improved by `rtol`, and the histories that become the
    [`Trace`][]."""

    def __init__(self, rtol: float):
        self.rtol, self.start = rtol, time.perf_counter()
        self.best_loss, self.best_values, self.stale = np.inf, None, 0
        self.history, self.generation_best, self.values_history, self.elapsed = [], [], [], []

    def update(self, run_best, run_values, generation_min: float):
        """Fold in a generation: the runs' best losses and values so far, the generation's lowest loss."""
        r = int(np.argmin(run_best))
        self.stale = 0 if improves(run_best[r], self.best_loss, self.rtol) else self.stale + 1
        if run_best[r] < self.best_loss:
            self.best_loss, self.best_values = float(run_best[r]), run_values[r]
        self.generation_best.append(float(generation_min))
        self.history.append(self.best_loss)
        self.values_history.append(self.best_values)
        self.elapsed.append(time.perf_counter() - self.start)

    def trace(self, runs: list, reason: str, evaluations: int) -> Trace:
        histories = (self.history, self.generation_best, self.values_history, self.elapsed)
        return Trace(self.best_loss, self.best_values, *map(np.array, histories), runs, reason, evaluations)


def run(solver, budget: Budget, key, progress) -> Trace:
    """Step `solver` until its `terminate` gives a reason or `budget.generations` are spent."""
    record = Record(budget.rtol)
    state = solver.init(key)
    evaluations, reason = 0, "generations"
    bar = progress_bar(budget.generations, progress, *solver.label)
    for _ in range(budget.generations):
        state, step = solver.step(state)
        evaluations += step.evaluations
        record.update(step.run_best, step.run_values, step.lowest)
        if bar is not None:
            bar.set_postfix(best_loss=f"{record.best_loss:.4g}", runs=step.ended)
            bar.update()
        reason = solver.terminate(state, record, evaluations) or reason
        if reason != "generations":
            break
    if bar is not None:
        bar.close()
    return record.trace(solver.runs(state, len(record.history)), reason, evaluations)


def stop_reason(budget: Budget, confirmed: int, record: Record, evaluations: int):
    """Why a fit stops after this generation (None: it goes on): `confirmed` runs (of different random
    starts) reached the tolerance; no improvement for `patience` generations (with a tolerance, only once
    the best loss is within it); or a budget is spent."""
    if confirmed >= budget.confirm:
        return "tolerance"
    reached = budget.tol is None or record.best_loss <= budget.tol or not budget.strict
    if record.stale >= budget.patience and reached:
        return "patience"
    if evaluations >= budget.max_evaluations:
        return "evaluations"
    if record.elapsed[-1] >= budget.max_time:
        return "time"
    return None


def improves(new, old, rtol):
    """`new` is a real improvement on `old`: lower by more than `rtol` of `old` (any drop to 0 counts)."""
    return new < old - rtol * abs(old) if np.isfinite(old) else np.isfinite(new)
