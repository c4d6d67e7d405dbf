"""Restarted evolution strategies for [`jaxiaf.fit`][]: several independent searches side by side.

`runs` searches of `population_size` candidates each are one batch of the same compiled generation (the
candidates of every search and every trial are batch axes of the core's scan carry). A search that stops
improving, or reaches the loss tolerance, is restarted inside the same compiled call; restarts alternate
between a random point of the box and a narrow refinement around the best point so far. Each search, from
its (re)start to its end, is kept as one *run*.

The fit ends when `confirm` runs started from random points have reached the loss tolerance, when the
best loss has not improved for `patience` generations (with a tolerance: only once the best loss is within
it; a fit that has not reached it keeps searching), or when the budget (evaluations, seconds,
generations) is spent. `jaxiaf._fit.driver` then compares the runs that ended at the best loss.
"""

import functools
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._compile.cache import PersistentJit
from .._compile.progress import bar as progress_bar

OPTIMIZERS = ("cma_es", "sep_cma_es", "simple_es", "snes", "open_es")
LOCAL_STD = 0.1
"""Initial width (in the transformed space) of a polishing restart around a finished run's best point."""


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


class Record:
    """The loop's account of a fit, shared by the evolution strategies and the gradient fit: after each
    generation (`update`), the best loss and values so far, the generations since the best loss last
    improved by `rtol`, and the histories that become the [`Trace`][]."""

    def __init__(self, rtol: float):
        self.rtol, self.start = rtol, time.perf_counter()
        self.best_loss, self.best_values, self.stale = np.inf, None, 0
        self.history, self.generation_best, self.values_history, self.elapsed = [], [], [], []

    def update(self, run_best, run_values, generation_min: float):
        """Fold in a generation: the runs' best losses and values so far, the generation's lowest loss."""
        r = int(np.argmin(run_best))
        self.stale = 0 if _improves(run_best[r], self.best_loss, self.rtol) else self.stale + 1
        if run_best[r] < self.best_loss:
            self.best_loss, self.best_values = float(run_best[r]), run_values[r]
        self.generation_best.append(float(generation_min))
        self.history.append(self.best_loss)
        self.values_history.append(self.best_values)
        self.elapsed.append(time.perf_counter() - self.start)

    def trace(self, runs: list, reason: str, evaluations: int) -> Trace:
        histories = (self.history, self.generation_best, self.values_history, self.elapsed)
        return Trace(self.best_loss, self.best_values, *map(np.array, histories), runs, reason, evaluations)


def _strategy(name: str, population_size: int, dim: int, std_init: float):
    """A small adapter over evosax 0.3: the strategy and its parameters, minimising by default."""
    from evosax import algorithms

    classes = {
        "cma_es": algorithms.CMA_ES,
        "sep_cma_es": algorithms.Sep_CMA_ES,
        "simple_es": algorithms.SimpleES,
        "snes": algorithms.SNES,
        "open_es": algorithms.Open_ES,
    }
    es = classes[name](population_size=population_size, solution=jnp.zeros(dim))
    # evosax computes its defaults op by op; one compiled call instead of ~40 small ones saves ~1 s of a
    # cold fit
    params = jax.jit(lambda: es.default_params)()
    if hasattr(params, "std_init"):
        params = params.replace(std_init=std_init)
    return es, params


def transform(z, lo, hi):
    """Parameter values from unconstrained `z` (..., D), inside the (D,) boxes `lo`..`hi`."""
    shape = (1,) * (z.ndim - 1) + (-1,)
    return lo.reshape(shape) + (hi - lo).reshape(shape) * jax.nn.sigmoid(z)


@functools.lru_cache(maxsize=16)
def compiled_generation(optimizer, population_size, runs, dim, std_init, loss_fn, dtype):
    """One jitted generation of all runs (restart the flagged ones, ask, evaluate, tell), the first states,
    and the loss of given values (`evaluate(values (runs * P, D), data)`), cached so that fits of the same
    shape compile once, and kept on disk (`jaxiaf._compile.cache.PersistentJit`) so that a later process loads
    them without tracing (or importing evosax). `loss_fn(values (P, D), data) -> (P,)`."""
    options = (optimizer, population_size, runs, dim, std_init, loss_fn, dtype)
    build = functools.cache(lambda: _programs(*options))
    names = ("generation", "first_states", "evaluate")
    return tuple(PersistentJit(lambda i=i: build()[i], name, options) for i, name in enumerate(names))


def _programs(optimizer, population_size, runs, dim, std_init, loss_fn, dtype):
    """The functions that `compiled_generation` compiles."""
    es, es_params = _strategy(optimizer, population_size, dim, std_init)
    lanes = lambda key: jax.random.split(key, runs)

    def init(key, local, centre, std):
        """A fresh search: from a random point of the box, or (`local`) from `centre` with width `std`."""
        k_mean, k_init = jax.random.split(key)
        mean = jax.scipy.special.logit(jax.random.uniform(k_mean, (dim,), dtype, 0.1, 0.9))
        state = es.init(k_init, jnp.where(local, centre, mean), es_params)
        if hasattr(state, "std"):
            state = state.replace(std=jnp.where(local, std, state.std).astype(state.std.dtype))
        return state

    def generation(key, leaves, restart, local, centre, std, data, lane_lo, lane_hi):
        """`lane_lo`, `lane_hi`: (runs, D) boxes of each search (all `data`'s boxes, but in a profile)."""
        states = jax.tree.structure(jax.eval_shape(first_tree, key)).unflatten(leaves)
        types = jax.tree.map(lambda a: a.dtype, states)
        sim_data = data[0]
        k_init, k_ask, k_tell = jax.random.split(key, 3)
        with jax.numpy_rank_promotion("allow"):  # evosax relies on implicit broadcasting
            fresh = jax.vmap(init)(lanes(k_init), local, centre.astype(dtype), std.astype(dtype))
            pick = lambda f, s: jnp.where(restart.reshape((runs,) + (1,) * (s.ndim - 1)), f, s)
            states = jax.tree.map(pick, fresh, states)
            z, states = jax.vmap(es.ask, (0, 0, None))(lanes(k_ask), states, es_params)
        values = (lane_lo[:, None] + (lane_hi - lane_lo)[:, None] * jax.nn.sigmoid(z)).astype(dtype)
        losses = loss_fn(values.reshape(runs * population_size, dim), sim_data).reshape(runs, -1)
        losses = jnp.where(jnp.isfinite(losses), losses, jnp.inf)
        with jax.numpy_rank_promotion("allow"):
            states, _ = jax.vmap(es.tell, (0, 0, 0, 0, None))(lanes(k_tell), z, losses, states, es_params)
        # the state keeps its dtypes (evosax promotes some leaves to float64 under x64): no retrace
        return jax.tree.leaves(jax.tree.map(lambda a, t: a.astype(t), states, types)), z, values, losses

    def first_tree(key):
        with jax.numpy_rank_promotion("allow"):
            return jax.vmap(init, (0, None, None, None))(lanes(key), False, jnp.zeros(dim, dtype), 1.0)

    def first_states(key):
        """The states cross the compiled calls as a list of arrays (a stored program's outputs are then
        rebuilt without importing evosax), of strong dtypes, as `generation` returns them: the next
        generation does not retrace."""
        return [jnp.asarray(a, dtype=jnp.result_type(a)) for a in jax.tree.leaves(first_tree(key))]

    evaluate = lambda values, data: loss_fn(values.astype(dtype), data[0])
    return generation, first_states, evaluate


split = PersistentJit(lambda: lambda key: tuple(jax.random.split(key)), "split", ())
"""`jax.random.split(key)` as two keys, one program kept on disk (eagerly, splitting and unpacking are
two programs traced and lowered in each fresh process)."""


def search(generation, first_states, data, budget: Budget, key, runs: int, population_size: int, progress):
    """Run the generations until a stopping rule holds; see the module docstring.

    When a search from a random point ends short of the tolerance, its lane polishes that search's best
    point (a restart there with the narrow width `LOCAL_STD`: a near-fit that a wide search keeps
    missing); after a polish, or a search that reached the tolerance, the lane starts again from a
    random point. Each random start is an *origin*: a result counts as confirmed when runs of two
    origins reach it."""
    key, k_init = split(key)
    states = first_states(k_init)
    dtype = data[1].dtype
    # host arrays go to the device with `device_put` (`jnp.asarray` runs a small program per shape, each
    # traced and loaded in a fresh process)
    lane_bounds = tuple(jax.device_put(np.broadcast_to(b, (runs, b.shape[0]))) for b in data[1:])
    restart, local = np.zeros(runs, bool), np.zeros(runs, bool)
    origin = np.arange(runs)
    run_best, run_stale, run_age = np.full(runs, np.inf), np.zeros(runs, int), np.zeros(runs, int)
    run_values, run_z = [None] * runs, np.zeros((runs, np.shape(data[1])[0]), dtype)
    finished, origins, record = [], runs, Record(budget.rtol)
    evaluations, reason = 0, "generations"
    std = np.full(runs, LOCAL_STD, dtype)
    bar = progress_bar(budget.generations, progress, "fit generations", "gen")
    reached_tol = lambda loss: budget.tol is not None and loss <= budget.tol
    for _ in range(budget.generations):
        key, k_gen = split(key)
        args = jax.device_put((restart, local & restart, run_z, std))
        states, z, values, losses = generation(k_gen, states, *args, data, *lane_bounds)
        losses, values, z = np.asarray(losses), np.asarray(values, float), np.asarray(z, dtype)
        evaluations += losses.size
        restart[:] = False
        run_age += 1
        for r in range(runs):
            i = int(np.argmin(losses[r]))
            run_stale[r] = 0 if _improves(losses[r, i], run_best[r], budget.rtol) else run_stale[r] + 1
            if losses[r, i] < run_best[r]:
                run_best[r], run_values[r], run_z[r] = float(losses[r, i]), values[r, i], z[r, i]
        record.update(run_best, run_values, losses.min())
        for r in range(runs):
            if not (reached_tol(run_best[r]) or run_stale[r] >= budget.run_patience):
                continue
            finished.append(
                Run(float(run_best[r]), run_values[r], int(run_age[r]), bool(local[r]), int(origin[r]))
            )
            restart[r], local[r] = True, not (local[r] or reached_tol(run_best[r]))
            if not local[r]:
                origin[r], origins = origins, origins + 1
            run_best[r], run_stale[r], run_age[r] = np.inf, 0, 0
        if bar is not None:
            bar.set_postfix(best_loss=f"{record.best_loss:.4g}", runs=len(finished))
            bar.update()
        confirmed = len({run.origin for run in finished if reached_tol(run.loss)})
        reason = stop_reason(budget, confirmed, record, evaluations) or reason
        if reason != "generations":
            break
    if bar is not None:
        bar.close()
    for r in np.flatnonzero(~restart):
        finished.append(
            Run(float(run_best[r]), run_values[r], int(run_age[r]), bool(local[r]), int(origin[r]))
        )
    return record.trace(finished, reason, evaluations)


PROBE_REL = 0.05
"""How far [`explore`][] tries to walk from the best: 5 % of each value (the refractory period:
`PROBE_STEPS` steps)."""
PROBE_STEPS = 2


def explore(evaluate, data, best_values, names, dt, count, seed, near, steps=24):
    """How far from the best the parameters can go while still fitting the data as well (loss <= `near`).

    `count` random walks start at the best values; each step proposes a Gaussian move of 2 % to 200 %
    (log-uniform, per walk) of the tolerance width (`PROBE_REL` of each value, `PROBE_STEPS * dt` for
    the refractory period), clipped to the bounds, and keeps it if its loss is <= `near`. Walks follow
    ridges of equally good fits that a fixed shell would miss. Returns the (D,) largest distance from
    the best reached, per parameter (SI).
    """
    _, lo, hi = data
    rng = np.random.default_rng(seed)
    width = np.array(
        [
            PROBE_STEPS * dt if n == "refractory" else PROBE_REL * abs(v)
            for n, v in zip(names, best_values, strict=True)
        ]
    )
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    walkers = np.repeat(np.asarray(best_values, float)[None], count, axis=0)
    extent = np.zeros(len(names))
    for _ in range(steps):
        scale = np.exp(rng.uniform(np.log(0.02), np.log(2.0), (count, 1)))
        proposal = np.clip(walkers + scale * width * rng.standard_normal(walkers.shape), lo, hi)
        keep = np.asarray(evaluate(jax.device_put(proposal), data), float) <= near
        walkers[keep] = proposal[keep]
        extent = np.maximum(extent, np.abs(walkers - best_values).max(axis=0))
    return extent


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


def _improves(new, old, rtol):
    """`new` is a real improvement on `old`: lower by more than `rtol` of `old` (any drop to 0 counts)."""
    return new < old - rtol * abs(old) if np.isfinite(old) else np.isfinite(new)


PROFILE_REL = 0.06
"""A profile fixes one parameter this far (relative) from the best, beyond the 5 % of a recovery."""
PROFILE_STEPS = 3
"""... or the refractory period this many steps from the best, beyond the 2 steps of a recovery."""
PROFILE_GENERATIONS = 30


def profile(generation, first_states, data, best_values, names, dt, runs: int, near, key, spent=None):
    """Which parameters are not pinned by the data: for each parameter and side, the parameter is fixed
    `PROFILE_REL` (or `PROFILE_STEPS * dt`) from the best and the others are searched (one lane of the
    compiled generation each, a local restart at the best point, up to `PROFILE_GENERATIONS`
    generations; with `spent`, the search's generations, all profiles together take at most as many
    generations as the search, and at least 5 per batch of `runs` cases). A profile whose loss gets back
    to `near` shows a fit of the data as good as the best with that parameter beyond the recovery
    tolerance: the other parameters compensate, which random walks from the best (`explore`) can miss
    when the ridge of equally good fits is narrow and curved.

    **Returns:** the (D,) distance of each parameter's fixed value from the best where a profile reached
    `near` (0 elsewhere).
    """
    lo, hi = (np.asarray(b, float) for b in data[1:])
    best = np.asarray(best_values, float)
    offsets = np.array(
        [
            PROFILE_STEPS * dt if n == "refractory" else PROFILE_REL * abs(v)
            for n, v in zip(names, best, strict=True)
        ]
    )
    cases = []  # (parameter, fixed value)
    for i in range(len(names)):
        for side in (-1, 1):
            fixed = float(np.clip(best[i] + side * offsets[i], lo[i], hi[i]))
            if abs(fixed - best[i]) >= 0.999 * offsets[i]:
                cases.append((i, fixed))
    dtype = data[1].dtype
    unit = np.clip((best - lo) / (hi - lo), 1e-6, 1 - 1e-6)
    centre = np.repeat(np.log(unit / (1 - unit))[None], runs, axis=0).astype(dtype)
    moved = np.zeros(len(names))
    batches = -(-len(cases) // runs)
    limit = (
        PROFILE_GENERATIONS if spent is None else min(PROFILE_GENERATIONS, max(5, spent // max(batches, 1)))
    )
    for start in range(0, len(cases), runs):
        batch = cases[start : start + runs]
        batch = batch + [batch[-1]] * (runs - len(batch))  # pad the lanes with the last case
        lane_lo, lane_hi = np.repeat(lo[None], runs, axis=0), np.repeat(hi[None], runs, axis=0)
        for lane, (i, fixed) in enumerate(batch):
            lane_lo[lane, i] = lane_hi[lane, i] = fixed
        bounds = jax.device_put((lane_lo.astype(dtype), lane_hi.astype(dtype)))
        key, k_init = split(key)
        states = first_states(k_init)
        restart = jax.device_put(np.ones(runs, bool))
        lane_best = np.full(runs, np.inf)
        for _ in range(limit):
            key, k_gen = split(key)
            args = (restart, restart, *jax.device_put((centre, np.full(runs, LOCAL_STD, dtype))))
            states, _, _, losses = generation(k_gen, states, *args, data, *bounds)
            restart = jax.device_put(np.zeros(runs, bool))
            lane_best = np.minimum(lane_best, np.asarray(losses).min(axis=1))
            if np.all(lane_best <= near):
                break
        for lane, (i, fixed) in enumerate(batch):
            if lane_best[lane] <= near:
                moved[i] = max(moved[i], abs(fixed - best[i]))
    return moved
