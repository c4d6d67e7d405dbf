"""Per-neuron fits: [`jaxiaf.fit`][]`(..., per_neuron=True)`.

In a feedforward layer each neuron sees the same input through its own column of weights and nothing
else, so with per-neuron parameters the fit decouples into one problem per neuron. Each is fitted with
the layer's defaults (restarts, confirmation, profiles, flags) on that neuron's targets; the result
gathers them: `best_params` as (N,) arrays, one [`jaxiaf.FitResult`][] per neuron in `neurons`, and the
fitted layer.
"""

import warnings

import equinox as eqx
import jax
import numpy as np

from .result import _MESSAGES, FitResult, FitWarning


def one_neuron(module, n: int):
    """Neuron `n` of `module` as a layer of its own: its weight column, parameters and state."""
    cut = lambda a: a[..., n : n + 1]
    own = lambda a: a if np.ndim(a) == 0 else cut(a)
    state = module.neuron_state
    return eqx.tree_at(
        lambda m: (m.params, m.sim.noise_std, m.sim.refractory, m.neuron_state),
        module,
        (
            jax.tree.map(cut, module.params),
            own(module.sim.noise_std),
            own(module.sim.refractory),
            eqx.tree_at(
                lambda s: (s.v, s.since_spike, s.extra),
                state,
                (cut(state.v), cut(state.since_spike), jax.tree.map(cut, state.extra)),
            ),
        ),
    )


def fit_each(solve, module, x, targets: dict, key, progress, options: dict) -> FitResult:
    """Fit every neuron of `module` on its own with `solve` (the driver's one-neuron solve, called as
    `solve(module, x, key=, progress=, **targets, **options)`; `targets`: `spikes` and/or `v`, (K, T, N)
    arrays) and gather the results; one warning per flag names the neurons that raised it."""
    from tqdm.auto import tqdm

    results = []
    neurons = range(module.size_out)
    show = module.size_out > 1 if progress is None else progress
    for n in tqdm(neurons, desc="fit neurons", unit="neuron", disable=not show):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FitWarning)
            own_targets = {k: None if t is None else t[..., n : n + 1] for k, t in targets.items()}
            results.append(
                solve(
                    one_neuron(module, n),
                    x,
                    key=jax.random.fold_in(key, n),
                    progress=False,
                    **own_targets,
                    **options,
                )  # fmt: skip
            )
    return _gather(module, results)


def _gather(module, results) -> FitResult:
    names = list(results[0].best_params)
    stack = lambda field: {k: np.array([getattr(r, field)[k] for r in results]) for k in names}
    best = stack("best_params")
    flags = tuple(f for f in _MESSAGES if any(f in r.flags for r in results))
    for flag in flags:
        which = [n for n, r in enumerate(results) if flag in r.flags]
        warnings.warn(
            f"Neurons {which} raised `{flag}` (see `FitResult.neurons[n]`).", FitWarning, stacklevel=3
        )
    first = results[0]
    return FitResult(
        best_params=best,
        best_loss=float(np.mean([r.best_loss for r in results])),
        runs=[],
        restarts=sum(r.restarts for r in results),
        tolerance_reached=all(r.tolerance_reached for r in results),
        stop_reason="per_neuron",
        spread=stack("spread"),
        relative_loss=float(max(r.relative_loss for r in results)),
        extent=stack("extent"),
        flags=flags,
        loss_history=np.zeros(0),
        generation_best=np.zeros(0),
        params_history={},
        elapsed=np.zeros(0),
        evaluations=sum(r.evaluations for r in results),
        module=module.set_attributes(best).reset_all(),
        optimizer=first.optimizer,
        population_size=first.population_size,
        parallel=first.parallel,
        generations=sum(r.generations for r in results),
        neurons=tuple(results),
        noise_floor=float(np.mean([r.noise_floor for r in results])),
    )
