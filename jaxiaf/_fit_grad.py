"""Gradient-based fitting: [`jaxiaf.fit`][]`(..., optimizer="adam")` (or any optax optimizer).

`parallel` runs descend side by side from random points of the box, in one compiled step: the loss of
every run is evolved over all trials, differentiated (through spikes with the `SuperSpike` surrogate,
exactly below the threshold), and the optimizer moves each run's unconstrained `z`, whose parameters are
`low + (high - low) * sigmoid(z)` as in the evolution-strategy path. The result is built from the same
`jaxiaf._search.Trace` as that path's, so `FitResult` and its flags read the same.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ._progress import bar as progress_bar
from ._search import Record, Run, stop_reason, transform
from ._surrogate import SuperSpike

LEARNING_RATE = 0.05
"""The step size of an optimizer given by name, in the transformed space `z` (where a unit spans most of a
box): Adam's steps are about this size at first."""

SURROGATE = SuperSpike()
"""The surrogate through which a gradient fit differentiates spikes."""


def is_gradient(optimizer) -> bool:
    """Whether `optimizer` asks for the gradient path: an optax optimizer, or the name of one."""
    import optax

    if isinstance(optimizer, optax.GradientTransformation):
        return True
    return isinstance(optimizer, str) and callable(getattr(optax, optimizer, None)) and optimizer[0] != "_"


def check(optimizer, names) -> None:
    """`ValueError` for an optax name that is not an optimizer, or a parameter without a gradient
    (`refractory` is a whole number of steps)."""
    if isinstance(optimizer, str):
        _named(optimizer)
    if "refractory" in names:
        raise ValueError(
            "`bounds['refractory']`: the refractory period is a whole number of steps, with no gradient; "
            "fit it with an evolution strategy (e.g. `optimizer='cma_es'`)."
        )


@functools.lru_cache(maxsize=16)
def _named(optimizer: str):
    """The optax transformation of a name (one object per name, so that compiled steps are reused)."""
    import optax

    try:
        return getattr(optax, optimizer)(learning_rate=LEARNING_RATE)
    except TypeError as error:
        raise ValueError(
            f"`optimizer={optimizer!r}` is not an optax optimizer taking a `learning_rate`; pass one "
            "built with its arguments, e.g. `optax.adam(1e-2)`."
        ) from error


@functools.lru_cache(maxsize=16)
def compiled_step(optimizer, loss_fn, dtype):
    """The jitted `step(z, opt_state, data) -> (z, opt_state, values, losses)` of all runs (the losses and
    values are those of `z` before the step), the jitted `init(z)`, and `evaluate(values, data)`."""

    def total(z, data):
        sim_data, lo, hi = data
        values = transform(z, lo, hi).astype(dtype)
        losses = loss_fn(values, sim_data)
        return jnp.sum(losses), (values, losses)

    def step(z, opt_state, data):
        grad, (values, losses) = jax.grad(total, has_aux=True)(z, data)
        # a metric without a derivative at its minimum (the van Rossum distance of matching trains) gives
        # NaN there: that run does not move
        grad = jnp.where(jnp.isfinite(grad), grad, 0.0)
        updates, opt_state = optimizer.update(grad, opt_state, z)
        return (z + updates).astype(dtype), opt_state, values, losses

    evaluate = jax.jit(lambda values, data: loss_fn(values.astype(dtype), data[0]))
    return jax.jit(step), jax.jit(optimizer.init), evaluate


def descend(optimizer, loss_fn, data, budget, key, runs: int, std_init: float, progress):
    """Run the gradient steps until a stopping rule holds; returns the `Trace` and `evaluate`.

    Stopping rules as the evolution strategies': `confirm` runs (at most `runs`) at `tol`, `patience` steps
    without an improvement of the best loss by `budget.rtol`, or a budget spent (one evaluation: one
    parameter set and its gradient). Runs are not restarted: each run is one random start (its own
    origin) descending for the whole fit."""
    transformation = _named(optimizer) if isinstance(optimizer, str) else optimizer
    dtype = data[1].dtype
    dim = data[1].shape[0]
    try:
        step, init, evaluate = compiled_step(transformation, loss_fn, jnp.dtype(dtype))
    except TypeError:  # an unhashable optimizer or metric: build without the cache
        step, init, evaluate = compiled_step.__wrapped__(transformation, loss_fn, jnp.dtype(dtype))
    key, k_z = jax.random.split(key)
    z = (std_init * jax.random.normal(k_z, (runs, dim))).astype(dtype)
    opt_state = init(z)
    run_best, run_values = np.full(runs, np.inf), [None] * runs
    evaluations, reason = 0, "generations"
    reached_tol = lambda loss: budget.tol is not None and loss <= budget.tol
    bar = progress_bar(budget.generations, progress, "fit steps", "step")
    record = Record(budget.rtol)
    for _ in range(budget.generations):
        z, opt_state, values, losses = step(z, opt_state, data)
        losses = np.where(np.isfinite(np.asarray(losses)), np.asarray(losses), np.inf)
        values = np.asarray(values, float)
        evaluations += runs
        for r in np.flatnonzero(losses < run_best):
            run_best[r], run_values[r] = float(losses[r]), values[r]
        record.update(run_best, run_values, losses.min())
        if bar is not None:
            bar.set_postfix(best_loss=f"{record.best_loss:.4g}")
            bar.update()
        confirmed = int(np.sum(reached_tol(run_best)))
        budget_now = budget._replace(confirm=min(budget.confirm, runs))
        reason = stop_reason(budget_now, confirmed, record, evaluations) or reason
        if reason != "generations":
            break
    if bar is not None:
        bar.close()
    finished = [Run(float(run_best[r]), run_values[r], len(record.history), False, r) for r in range(runs)]
    trace = record.trace(finished, reason, evaluations)
    return trace, evaluate
