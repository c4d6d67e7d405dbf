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

import jax
import jax.numpy as jnp
import numpy as np

from .._compile.cache import PersistentJit
from .solver import Budget, Run, Step, improves, stop_reason

OPTIMIZERS = ("cma_es", "sep_cma_es", "simple_es", "snes", "open_es")
LOCAL_STD = 0.1
"""Initial width (in the transformed space) of a polishing restart around a finished run's best point."""


def _fast_keys():
    """The strategies' random numbers drawn by JAX's original threefry (`jax_threefry_partitionable`
    off, for the operations traced inside): XLA:CPU compiles a partitionable threefry draw, JAX's default,
    in about 3 s instead of 0.3 s (jax 0.10, 2 cores), and a generation draws several (the CMA-ES
    generation compiled in ~10 s instead of ~2 s). A fit has one device; the simulations (their noise)
    keep the caller's setting."""
    return jax.threefry_partitionable(False)


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
        with _fast_keys(), jax.numpy_rank_promotion("allow"):  # evosax relies on implicit broadcasting
            k_init, k_ask, k_tell = jax.random.split(key, 3)
            fresh = jax.vmap(init)(lanes(k_init), local, centre.astype(dtype), std.astype(dtype))
            pick = lambda f, s: jnp.where(restart.reshape((runs,) + (1,) * (s.ndim - 1)), f, s)
            states = jax.tree.map(pick, fresh, states)
            z, states = jax.vmap(es.ask, (0, 0, None))(lanes(k_ask), states, es_params)
        values = (lane_lo[:, None] + (lane_hi - lane_lo)[:, None] * jax.nn.sigmoid(z)).astype(dtype)
        losses = loss_fn(values.reshape(runs * population_size, dim), sim_data).reshape(runs, -1)
        losses = jnp.where(jnp.isfinite(losses), losses, jnp.inf)
        with _fast_keys(), jax.numpy_rank_promotion("allow"):
            states, _ = jax.vmap(es.tell, (0, 0, 0, 0, None))(lanes(k_tell), z, losses, states, es_params)
        # the state keeps its dtypes (evosax promotes some leaves to float64 under x64): no retrace
        return jax.tree.leaves(jax.tree.map(lambda a, t: a.astype(t), states, types)), z, values, losses

    def first_tree(key):
        with _fast_keys(), jax.numpy_rank_promotion("allow"):
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


class _Lanes:
    """The host's account of the searches side by side: the strategies' states, and per lane whether it
    restarts next generation (and where: `local`), its origin, its best loss and values so far, the
    generations since it improved, its age; the runs that have ended."""

    def __init__(self, key, states, runs: int, dim: int, dtype):
        self.key, self.states = key, states
        self.restart, self.local = np.zeros(runs, bool), np.zeros(runs, bool)
        self.origin, self.origins = np.arange(runs), runs
        self.best, self.stale, self.age = np.full(runs, np.inf), np.zeros(runs, int), np.zeros(runs, int)
        self.values, self.z = [None] * runs, np.zeros((runs, dim), dtype)
        self.finished = []

    def run(self, r: int) -> Run:
        return Run(
            float(self.best[r]), self.values[r], int(self.age[r]), bool(self.local[r]), int(self.origin[r])
        )


class EvolutionStrategy:
    """`runs` restarted evolution strategies side by side (the module docstring; the solver interface of
    `jaxiaf._fit.solver`).

    When a search from a random point ends short of the tolerance, its lane polishes that search's best
    point (a restart there with the narrow width `LOCAL_STD`: a near-fit that a wide search keeps
    missing); after a polish, or a search that reached the tolerance, the lane starts again from a
    random point. Each random start is an *origin*: a result counts as confirmed when runs of two
    origins reach it."""

    label = ("fit generations", "gen")

    def __init__(self, optimizer, population_size, runs, std_init, loss, data, budget: Budget):
        self.dtype = data[1].dtype
        self.dim, self.width, self.data, self.budget = data[1].shape[0], runs, data, budget
        options = (optimizer, population_size, runs, self.dim, std_init, loss, jnp.dtype(self.dtype))
        self.generation, self.first_states, self.evaluate = compiled_generation(*options)
        # host arrays go to the device with `device_put` (`jnp.asarray` runs a small program per shape,
        # each traced and loaded in a fresh process)
        self.lane_bounds = tuple(jax.device_put(np.broadcast_to(b, (runs, b.shape[0]))) for b in data[1:])
        self.std = np.full(runs, LOCAL_STD, self.dtype)

    def init(self, key) -> _Lanes:
        key, k_init = split(key)
        return _Lanes(key, self.first_states(k_init), self.width, self.dim, self.dtype)

    def step(self, lanes: _Lanes):
        """One generation of every lane; lanes that reached the tolerance or stalled end their run."""
        budget = self.budget
        lanes.key, k_gen = split(lanes.key)
        args = jax.device_put((lanes.restart, lanes.local & lanes.restart, lanes.z, self.std))
        lanes.states, z, values, losses = self.generation(
            k_gen, lanes.states, *args, self.data, *self.lane_bounds
        )
        losses, values, z = np.asarray(losses), np.asarray(values, float), np.asarray(z, self.dtype)
        lanes.restart[:] = False
        lanes.age += 1
        for r in range(self.width):
            i = int(np.argmin(losses[r]))
            lanes.stale[r] = 0 if improves(losses[r, i], lanes.best[r], budget.rtol) else lanes.stale[r] + 1
            if losses[r, i] < lanes.best[r]:
                lanes.best[r], lanes.values[r], lanes.z[r] = float(losses[r, i]), values[r, i], z[r, i]
        step = Step(lanes.best.copy(), list(lanes.values), float(losses.min()), losses.size, 0)
        for r in range(self.width):
            if not (budget.reached(lanes.best[r]) or lanes.stale[r] >= budget.run_patience):
                continue
            lanes.finished.append(lanes.run(r))
            lanes.restart[r], lanes.local[r] = True, not (lanes.local[r] or budget.reached(lanes.best[r]))
            if not lanes.local[r]:
                lanes.origin[r], lanes.origins = lanes.origins, lanes.origins + 1
            lanes.best[r], lanes.stale[r], lanes.age[r] = np.inf, 0, 0
        return lanes, step._replace(ended=len(lanes.finished))

    def terminate(self, lanes: _Lanes, record, evaluations: int):
        confirmed = len({run.origin for run in lanes.finished if self.budget.reached(run.loss)})
        return stop_reason(self.budget, confirmed, record, evaluations)

    def runs(self, lanes: _Lanes, generations: int) -> list:
        """The runs that ended, then those still going (a lane about to restart has none)."""
        return lanes.finished + [lanes.run(r) for r in np.flatnonzero(~lanes.restart)]

    def profile(self, best_values, names, dt, near, key, spent):
        return profile(
            self.generation,
            self.first_states,
            self.data,
            best_values,
            names,
            dt,
            self.width,
            near,
            key,
            spent,
        )


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
