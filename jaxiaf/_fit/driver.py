"""`fit`: fitting of neuron parameters to spike trains or voltage traces, by a solver of
`jaxiaf._fit.solver`'s interface: restarted evolution strategies (`jaxiaf._fit.search`), gradient descent
or Gauss-Newton (`jaxiaf._fit.gradient`).

`fit` checks its arguments (`jaxiaf._fit.arguments`), builds the loss and its data (`jaxiaf._fit.loss`),
runs the solver (`jaxiaf._fit.solver.run`), checks how closely the data pin the answer (random walks and
profiles from the best) and returns the result with its flags (`jaxiaf._fit.result`). Bounds are enforced
by a transform, never by clipping: a solver works on an unconstrained `z`, and a parameter is
`low + (high - low) * sigmoid(z)`.
"""

import math

import jax
import numpy as np

from .._compile.cache import PersistentJit
from .._core import noise as _noise
from .._layer import FFIAF
from . import arguments as _arguments
from . import gradient as _gradient
from . import loss as _loss
from . import neurons as _fit_neurons
from . import recordings as _recordings
from . import search as _search
from .result import NEAR_BEST, FitResult, result
from .solver import Budget, run

OPTIMIZERS = _search.OPTIMIZERS
SPIKE_TOL = 1e-9
"""`fit`'s default loss tolerance when every metric compares spikes: an exact fit, up to rounding (`1 -
Gamma` of identical trains is ~1e-16, not 0)."""

_SEED = PersistentJit(lambda: lambda key: jax.random.randint(key, (), 0, 2**31 - 1), "explore_seed", ())


def fit(
    module: FFIAF,
    x,
    *,
    bounds: dict,
    spikes=None,
    v=None,
    metric=None,
    optimizer: str = "cma_es",
    population_size: int = 16,
    parallel: int = 4,
    max_evaluations: int = 100_000,
    max_time: float = math.inf,
    generations: int | None = None,
    tol: float | None = None,
    confirm: int = 2,
    patience: int | None = None,
    run_patience: int = 25,
    key=None,
    std_init: float = 1.0,
    dtype=None,
    progress: bool | None = None,
    unroll: int = 1,
    per_neuron: bool = False,
) -> FitResult:
    """Fit neuron parameters of `module` to recorded (or simulated) spike trains or voltage traces.

    `parallel` independent searches (an evolution strategy each, `population_size` candidates per
    generation) run side by side in one compiled call per generation: every candidate of every search is
    evolved over all trials and scored by `metric` (averaged over trials and neurons). A search whose best
    loss has not improved by 0.1 % for `run_patience` generations, or that has reached `tol`, ends; what
    it reached is kept as a *run*. A search from a random point of the box that ended short of `tol` is
    followed by a narrow one that polishes its best point; otherwise the next search starts from a new
    random point. The fit ends when runs from `confirm` different random starts have reached `tol`, when
    the best loss has not improved by 0.1 % for `patience` generations (with a `tol`, only once it is
    reached: until then the fit searches on), or when `max_evaluations`, `max_time` or `generations` is
    spent. The runs that end at the best loss are compared, and the result flags an answer that may be
    wrong (`FitResult.flags`, each also a [`jaxiaf.FitWarning`][]). A tqdm bar shows the generations,
    the best loss and the runs.

    **Arguments:**

    - `module`: the [`jaxiaf.FFIAF`][] (or `FFIAFBrian`) to fit; parameters not in `bounds` keep its values.
    - `x`: (K, T, N_in) inputs of K trials (or (T, N_in) for one), in A. Trials with identical inputs
      (repetitions of one stimulus) are simulated once per candidate when the model is deterministic
      (same losses as simulating each), and their targets' disagreement is the data's noise floor
      (`FitResult.noise_floor`).
    - `bounds`: `{name: (low, high)}` in SI units (or Brian2 quantities) for any of `bias`, `tau_mem`,
      `v_thresh`, `v_reset`, `v_rest`, `refractory`, `noise_std` (with `neuron_eq`: the parameters the
      equations declare); one value per layer (shared by its neurons), or per neuron with `per_neuron`.
    - `spikes`: target spikes: a (K, T, N) bool (or 0/1) raster, K arrays of spike times (s) for N = 1,
      or Neo spike trains (anything [`jaxiaf.spikes_from_neo`][] reads: a list of `neo.SpikeTrain`s, a
      `Segment`, a `Block` of trials; their `t_stop - t_start` must be the T steps of `x`).
    - `v`: target membrane potentials (K, T, N) (V), or Neo analog signals sampled at `dt` (anything
      [`jaxiaf.traces_from_neo`][] reads, in units of voltage).
    - `metric`: a [`jaxiaf.metrics.Metric`][] or a list of `(weight, Metric)` summed. Default: for spikes
      `VanRossum(10e-3)`, for traces `TraceMSE()`. The van Rossum distance is zero only for identical
      trains and grows smoothly with each spike's shift (up to ~tau), so it pins the parameters where the
      gamma factor (1 for any trains matching within +-delta) leaves them loose; see `docs/guides/fitting.md`.
    - `optimizer`: an evosax strategy: `"cma_es"` (default), `"sep_cma_es"`, `"simple_es"`, `"snes"`,
      `"open_es"` (even `population_size`); or gradient descent (`jaxiaf._fit.gradient`): an optax optimizer
      by name (`"adam"`, `"sgd"`, ...; learning rate 0.05 in the transformed space) or object
      (`optax.adam(1e-2)`), differentiating through spikes with `jaxiaf.surrogate.SuperSpike()`; then
      `population_size` is 1 and runs are not restarted; or `"gauss_newton"`, for voltage traces of the
      default equations: the spike-forced Levenberg-Marquardt fit of `tau_mem`, `bias`, `v_rest` on the
      segments between the resets read from the target trace, with `v_thresh` and `refractory` read from
      the trace and the fitted model (`jaxiaf._fit.gradient`; see `docs/guides/gradients.md`).
    - `population_size`: candidates per search and generation (int >= 2); `parallel`: searches side by
      side (int >= 1). A generation evaluates `parallel * population_size` parameter sets.
    - `max_evaluations`: budget in evaluated parameter sets (default 100 000; a fit that reproduces
      the data stops long before: see `docs/guides/fitting.md` for measured times); `max_time`: budget
      in seconds (checked after each generation); `generations`:
      budget in generations (default: as many as the other budgets allow).
    - `tol`: the loss at which a run counts as an exact fit. Default: the noise floor when repeated
      trials of a deterministic model disagree (a recorded cell: a run as good as one repetition is of
      another), else 1e-9 when every metric compares spikes (noise-free data reproduced spike for spike,
      up to rounding), else None (no tolerance: traces). With a default floor tolerance, the fit's
      `patience` counts whether or not the floor is reached.
    - `confirm`: random starts whose runs must reach `tol` before the fit stops (default 2: a second,
      independent search confirms the first, or shows that the data do not pin the parameters).
    - `patience`, `run_patience`: generations without improvement before the fit stops (default 100;
      `run_patience` with a noise floor) / a search restarts (default 25).
    - `key`: PRNG key of the optimizer (default `jax.random.key(0)`): a seeded fit is reproducible.
      The noise of a noisy module is drawn from its own key, one realisation per trial, common to all
      candidates (common random numbers make the candidates comparable).
    - `std_init`: initial search width in the transformed space (1.0 spans most of each box).
    - `dtype`: float32 or float64; default: the module's (float64 needs `jax_enable_x64`).
    - `progress`: show the tqdm bar (default: yes, as `sweep` shows one when there is more than one step
      to wait for).
    - `unroll`: steps per iteration of the compiled loop (see [`jaxiaf.evolve`][]; 1 on CPUs).
    - `per_neuron`: fit one value per neuron of each parameter in `bounds`: in a feedforward layer the
      neurons are independent, so each is fitted on its own targets, with everything above
      (`jaxiaf._fit.neurons`); the result's `best_params` are then (N,) arrays and `neurons` holds each
      neuron's result. Default False: one value per layer.

    **Returns:** a [`jaxiaf.FitResult`][].
    """
    module = _arguments.functional(module)
    dtype = _arguments.float_dtype(module, dtype)
    options = _arguments.settings(
        optimizer, population_size, parallel, max_evaluations, max_time, generations, tol, confirm,
        patience, run_patience, std_init, unroll,
    )  # fmt: skip
    key = _arguments.key(key)
    problem = _arguments.problem(module, x, bounds, spikes, v, metric, options, dtype)
    if per_neuron:
        targets = {"spikes": problem.target_spikes, "v": problem.target_v}
        targets = {k: None if t is None else np.moveaxis(np.asarray(t), 1, 0) for k, t in targets.items()}
        each = dict(bounds=bounds, metric=metric, options=options, dtype=dtype)
        return _fit_neurons.fit_each(_fit_neuron, module, problem.x, targets, key, progress, each)
    return _solve(problem, options, key, progress)


def _fit_neuron(module, x, *, spikes, v, key, progress, bounds, metric, options, dtype) -> FitResult:
    """One neuron's fit of a `per_neuron` fit (`jaxiaf._fit.neurons.fit_each`): `module` is the neuron's
    layer, `spikes` and `v` its (K, T, 1) targets, `options` the checked settings."""
    problem = _arguments.problem(module, x, bounds, spikes, v, metric, options, dtype)
    return _solve(problem, options, key, progress)


def _solve(problem: _arguments.Problem, options: _arguments.Settings, key, progress) -> FitResult:
    """The fit of a checked problem: loss and data, tolerances, the solver's run, the checks, the result."""
    module, metrics, dt = problem.module, problem.metrics, problem.dt
    target_spikes, target_v = problem.target_spikes, problem.target_v
    distinct, trials = _arguments.distinct_trials(problem.x)
    deterministic = _noise.rows(module.sim.model, module.sim) == 0
    # a deterministic model gives every repetition of an input one output: the repetitions' own
    # disagreement is its floor (a noisy model draws one realisation per trial, and may match each)
    floor = _recordings.noise_floor(metrics, target_spikes, target_v, trials if deterministic else None, dt)
    spikes_only = all(m.needs == "spikes" for _, m in metrics)
    strict = options.tol is not None or (floor == 0 and spikes_only)
    tol = options.tol
    if tol is None:  # reproducible spikes: exact, up to rounding; repetitions that differ: their floor
        tol = SPIKE_TOL if strict else (floor if floor > 0 else None)
    once = deterministic and options.family != "gauss_newton"  # each distinct input once per candidate
    x, trials = (distinct, trials) if once else (problem.x, None)
    static, arrays = _loss.split_metrics(metrics)
    surrogate = _gradient.SURROGATE if options.family == "gradient" else None
    loss = _loss.PopulationLoss(problem.names, dt, static, any(m.needs == "v" for _, m in metrics),
                                int(options.unroll), surrogate, trials)  # fmt: skip
    sim_data = _loss.simulation_data(module, x, target_spikes, target_v, arrays, problem.dtype)
    data = (sim_data, *jax.device_put((problem.lo.astype(problem.dtype), problem.hi.astype(problem.dtype))))
    population_size = options.population_size if options.family == "es" else 1
    max_generations = options.max_evaluations // (population_size * options.parallel)
    patience = options.patience or (options.run_patience if floor > 0 else 100)
    budget = Budget(
        max_evaluations=options.max_evaluations,
        max_time=options.max_time,
        generations=int(min(options.generations or max_generations, max_generations)),
        tol=None if tol is None else float(tol),
        confirm=options.confirm,
        patience=int(patience),
        run_patience=options.run_patience,
        strict=strict,
    )
    solver = _solver(options, problem.names, loss, data, budget)
    trace = run(solver, budget, key, progress)
    null_loss = _loss.null_loss(metrics, target_spikes, target_v, dt)
    # at the best loss: within 5 % of the null loss above it for spike losses (one spike more or less
    # moves a van Rossum loss by ~0.5); within 5 % of the best loss itself with a trace term (a trace
    # error is smooth and its best value is the data's noise level); and within the dtype's resolution
    # of the null loss (the loss's rounding: a fit of data made by the same layer ends there)
    scale = null_loss - floor if tol is not None else trace.best_loss
    rounding = float(np.finfo(problem.dtype).eps) * null_loss
    near = max(trace.best_loss + max(NEAR_BEST * scale, rounding), -1.0 if tol is None else tol)
    extent = _extent(solver, data, trace, problem, near, key, population_size * options.parallel)
    name = options.optimizer if isinstance(options.optimizer, str) else type(options.optimizer).__name__
    config = (name, population_size, options.parallel)
    return result(module, problem.names, problem.lo, problem.hi, trace, budget, (null_loss, floor), near,
                  extent, config)  # fmt: skip


def _solver(options, names, loss, data, budget):
    """The solver of `options.family` (`jaxiaf._fit.solver`'s interface)."""
    if options.family == "es":
        return _search.EvolutionStrategy(
            options.optimizer, options.population_size, options.parallel, options.std_init, loss, data, budget
        )
    if options.family == "gauss_newton":
        return _gradient.GaussNewton(names, loss, data, budget, options.parallel, options.std_init)
    return _gradient.Descent(options.optimizer, loss, data, budget, options.parallel, options.std_init)


def _extent(solver, data, trace, problem, near, key, walks: int):
    """How far from the best fits at the best loss (`<= near`) were found, per parameter: by random walks
    (`jaxiaf._fit.search.explore`), and by the solver's profiles; the checks cost at most about what the
    search did."""
    spent = len(trace.loss_history)
    seed = int(_SEED(key))
    steps = min(24, max(4, spent // 2))
    names, dt = problem.names, problem.dt
    extent = _search.explore(solver.evaluate, data, trace.best_values, names, dt, walks, seed, near, steps)
    moved = solver.profile(trace.best_values, names, dt, near, key, spent)
    return np.maximum(extent, moved)
