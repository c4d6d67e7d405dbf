"""`fit`: fitting of neuron parameters to spike trains or voltage traces, gradient-free (below) or by
gradient descent (`optimizer="adam"` or another optax optimizer: `jaxiaf._fit.gradient`).

A population of candidate parameter sets is evaluated over all trials in one compiled call (the
population, the parallel searches and the trials are batch axes of the core's scan carry); an evolution
strategy from evosax proposes the next population, and searches that stall are restarted (see
`jaxiaf._fit.search`). Bounds are enforced by a transform, never by clipping: the strategy works on an
unconstrained `z`, and a parameter is `low + (high - low) * sigmoid(z)`.
"""

import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._compile.cache import PersistentJit
from .._core import checks as _checks
from .._core import convert as _convert
from .._core import integrators as _integrators
from .._core.pytrees import Parameters, SimulationParameters, State
from .._core.scan import Reducer, evolve
from .._equations import names as _named
from .._layer import FFIAF
from . import arguments as _arguments
from . import gradient as _fit_grad
from . import neurons as _fit_neurons
from . import recordings as _recordings
from . import search as _search
from .arguments import spikes_to_raster as spikes_to_raster
from .result import NEAR_BEST, FitResult, result

FITTABLE = ("bias", "tau_mem", "v_thresh", "v_reset", "v_rest", "refractory", "noise_std")
OPTIMIZERS = _search.OPTIMIZERS
SPIKE_TOL = 1e-9
"""`fit`'s default loss tolerance when every metric compares spikes: an exact fit, up to rounding (`1 -
Gamma` of identical trains is ~1e-16, not 0)."""


def _bounds(module: FFIAF, bounds: dict):
    if not isinstance(bounds, dict) or not bounds:
        raise ValueError("`bounds` must name at least one parameter, e.g. {'tau_mem': (5e-3, 50e-3)}.")
    model = module.sim.model
    fittable = FITTABLE
    if model is not None:  # the declared parameters, and the numeric refractory period if it applies
        fittable = (*model.parameter_names, *(("refractory",) if model.refractory is None else ()))
    unknown = sorted(set(bounds) - set(fittable))
    if unknown:
        raise ValueError(f"Cannot fit {unknown}; fittable names: {list(fittable)}.")
    names = tuple(bounds)
    lo, hi = [], []
    for name in names:
        unit = _named.unit(model, name)
        pair = np.asarray(_convert.strip_unit(f"bounds['{name}']", bounds[name], unit), float)
        if pair.shape != (2,) or not np.all(np.isfinite(pair)) or not pair[0] < pair[1]:
            raise ValueError(
                f"`bounds['{name}']` must be (low, high) with finite low < high (in {unit}); "
                f"got {bounds[name]!r}."
            )
        for value in pair:
            _checks.check_now(name, value)
        lo.append(pair[0])
        hi.append(pair[1])
    limit = _integrators.STABILITY_LIMITS.get(module.sim.integrator_name)
    if (
        model is None
        and "tau_mem" in names
        and limit is not None
        and float(module.dt) / lo[names.index("tau_mem")] > limit
    ):
        raise ValueError(
            f"`bounds['tau_mem']` must start above dt / {limit:.4g} = {float(module.dt) / limit:.4g} s: "
            f"below it the {module.sim.integrator_name!r} integrator is unstable (use 'exact' for shorter "
            "tau_mem)."
        )
    if "noise_std" in names and not module.sim.noisy:
        raise ValueError("Fitting `noise_std` needs a module built with `noise_std` > 0.")
    return names, np.array(lo), np.array(hi)


@functools.lru_cache(maxsize=16)
def _recorder(need_v: bool) -> Reducer:
    return Reducer(
        init=lambda shape, dtype: None,
        update=lambda acc, k, spike, v: (None, (spike, v) if need_v else (spike, None)),
    )


def _population_loss(values, data, names, dt, metrics, need_v, unroll, surrogate=None, trials=None):
    """(P,) loss of P parameter sets `values` (P, D), every trial evolved in one scan.

    `data` is `((params, sim, state), currents (T, K, N), target_spikes (T, K, N), target_v (T, K, N))`;
    the state's key is one per trial (common to all candidates: common random numbers). With `trials` (a
    tuple of K indices), `currents` holds only the distinct inputs and trial k's output is input
    `trials[k]`'s. A candidate whose state ends non-finite (it diverged) has loss inf."""
    (params, sim, state), currents, target_spikes, target_v = data
    num_pop = values.shape[0]
    num_trials, num_neurons = currents.shape[1], currents.shape[2]
    shape = (num_pop, num_trials, num_neurons)
    column = lambda i: values[:, i].reshape(num_pop, 1, 1)
    p = {f: getattr(params, f) for f in Parameters.__annotations__ if f != "extra"}
    extra = dict(params.extra)
    s = {f: getattr(sim, f) for f in ("dt", "noise_std", "refractory")}
    for i, name in enumerate(names):
        (s if name in s else p if name in p else extra)[name] = column(i)
    state = State(
        v=jnp.broadcast_to(state.v, shape),
        since_spike=jnp.broadcast_to(state.since_spike, shape),
        key=jnp.broadcast_to(state.key, shape[:2]),
        step=state.step,
        extra={k: jnp.broadcast_to(x, shape) for k, x in state.extra.items()},
    )
    sim = SimulationParameters(
        **s, integrator_name=sim.integrator_name, noisy=sim.noisy, model=sim.model,
        input_sampling=sim.input_sampling,
    )  # fmt: skip
    (_, (spikes, v)), end, _ = evolve(
        Parameters(**p, extra=extra),
        sim,
        state,
        currents,
        reducer=_recorder(need_v),
        check=False,
        unroll=unroll,
        surrogate=surrogate,
    )
    total = jnp.zeros(num_pop, values.dtype)
    for weight, metric in metrics:
        per_column = metric.population_loss(spikes, v, target_spikes, target_v, dt, trials)
        total = total + weight * jnp.mean(per_column.reshape(num_pop, -1), axis=1)
    finite = [jnp.all(jnp.isfinite(a).reshape(num_pop, -1), axis=1) for a in (end.v, *end.extra.values())]
    return jnp.where(functools.reduce(jnp.logical_and, finite), total, jnp.inf)


@functools.lru_cache(maxsize=16)
def _loss_fn(names, dt, metrics, need_v, unroll, surrogate, trials):
    """One function object per configuration, so that the compiled generation's cache key repeats."""
    return functools.partial(
        _population_loss,
        names=names,
        dt=dt,
        metrics=metrics,
        need_v=need_v,
        unroll=unroll,
        surrogate=surrogate,
        trials=trials,
    )


# small programs of a fit, kept on disk too (each would otherwise be traced and lowered in a fresh process)
_TRIAL_KEYS = PersistentJit(lambda: jax.vmap(jax.random.fold_in, (None, 0)), "trial_keys", ())
_SEED = PersistentJit(lambda: lambda key: jax.random.randint(key, (), 0, 2**31 - 1), "explore_seed", ())


def _null_loss(metrics, target_spikes, target_v, dt):
    """The loss of a model that explains nothing: no spikes, and the target's mean trace."""
    ts = target_spikes
    tv = None if target_v is None else jnp.broadcast_to(jnp.mean(target_v, axis=0), target_v.shape)
    spikes = None if ts is None else jnp.zeros_like(ts)
    total = 0.0
    for weight, metric in metrics:
        total += weight * float(jnp.mean(metric.loss(spikes, tv, ts, target_v, dt)))
    return total


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
    module = _functional(module)
    dtype = _dtype(module, dtype)
    gradient = _fit_grad.is_gradient(optimizer)
    if not gradient and optimizer not in OPTIMIZERS:
        raise ValueError(
            f"`optimizer` must be one of {list(OPTIMIZERS)}, or an optax optimizer (e.g. 'adam' or "
            f"`optax.adam(1e-2)`); got {optimizer!r}."
        )
    _arguments.positive_int("population_size", population_size, 2)
    _arguments.positive_int("parallel", parallel, 1)
    _arguments.positive_int("confirm", confirm, 1)
    if patience is not None:
        _arguments.positive_int("patience", patience, 1)
    _arguments.positive_int("run_patience", run_patience, 1)
    if generations is not None:
        _arguments.positive_int("generations", generations, 1)
    if optimizer == "open_es" and population_size % 2:
        raise ValueError(
            f"`population_size` must be even for 'open_es' (antithetic pairs); got {population_size}."
        )
    if not (isinstance(max_evaluations, int | np.integer) and max_evaluations >= population_size * parallel):
        raise ValueError(
            f"`max_evaluations` must be an integer >= population_size * parallel = "
            f"{population_size * parallel}; got {max_evaluations!r}."
        )
    max_time = _arguments.number(
        "max_time", max_time, "> 0 seconds (a number; math.inf: no limit)", lambda t: t > 0
    )
    std_init = _arguments.number(
        "std_init", std_init, "a finite number > 0", lambda s: np.isfinite(s) and s > 0
    )
    key = _arguments.key(key)
    if spikes is None and v is None:
        raise ValueError("Give a target: `spikes` (a raster or spike times per trial) and/or `v` (traces).")
    names, lo, hi = _bounds(module, bounds)
    if gradient:
        _fit_grad.check(optimizer, names)
    # host arrays go to the device with `device_put` (`jnp.asarray` runs a small program per shape, each
    # traced and loaded in a fresh process)
    x = jax.device_put(_arguments.as_trials("x", x, (module.size_in,), dtype))
    num_trials, num_steps = x.shape[:2]
    dt = _arguments.host_dt(module)
    target_spikes = target_v = None
    from .._interop import neo as _neo  # it imports this module: imported here, not at the top

    if spikes is not None:
        if _neo.is_neo(spikes):
            spikes = _neo.spikes_from_neo(spikes, dt)
        elif isinstance(spikes, (list, tuple)):
            spikes = spikes_to_raster(spikes, num_steps, dt)
        target_spikes = jax.device_put(
            np.moveaxis(_arguments.as_trials("spikes", spikes, (module.size_out,), bool), 1, 0)
        )
    if v is not None:
        if _neo.is_neo(v):
            v = _neo.traces_from_neo(v, dt, "V")
        target_v = jax.device_put(np.moveaxis(_arguments.as_trials("v", v, (module.size_out,), dtype), 1, 0))
    for name, target in (("spikes", target_spikes), ("v", target_v)):
        if target is not None and target.shape[:2] != (num_steps, num_trials):
            raise ValueError(
                f"`{name}` must cover the same K={num_trials} trials of T={num_steps} steps as `x`; "
                f"got {target.shape[1]} trials of {target.shape[0]} steps."
            )
    metrics = _arguments.metric_list(metric, target_spikes is not None)
    for _, m in metrics:
        if (m.needs == "spikes" and target_spikes is None) or (m.needs == "v" and target_v is None):
            raise ValueError(f"{type(m).__name__} needs the target `{m.needs}`.")
        if m.needs_both and (target_spikes is None or target_v is None):
            raise ValueError(f"{type(m).__name__} needs both targets, `v` and `spikes`.")
        if getattr(m, "t_start", 0.0) >= num_steps * dt:
            raise ValueError(
                f"`{type(m).__name__}.t_start` must be before the end of `x` ({num_steps * dt} s)."
            )
    need_v = any(m.needs == "v" for _, m in metrics)
    trace_only = all(m.needs == "v" for _, m in metrics)
    if gradient and optimizer != _fit_grad.GAUSS_NEWTON and "v_thresh" in names and trace_only:
        raise ValueError(
            "`bounds['v_thresh']`: with a trace loss only, the threshold has no gradient (it acts through "
            "the spike decision, and the surrogate's reset is detached); fit it with an evolution strategy "
            "(e.g. `optimizer='cma_es'`) or add a spike metric."
        )
    if tol is not None:
        tol = _arguments.number(
            "tol", tol, "a finite number >= 0 or None", lambda t: np.isfinite(t) and t >= 0
        )
    if per_neuron:
        options = dict(
            bounds=bounds, metric=metric, optimizer=optimizer, population_size=population_size,
            parallel=parallel, max_evaluations=max_evaluations, max_time=max_time, generations=generations,
            tol=tol, confirm=confirm, patience=patience, run_patience=run_patience, std_init=std_init,
            dtype=dtype, unroll=unroll,
        )  # fmt: skip
        targets = {"spikes": target_spikes, "v": target_v}
        targets = {k: None if t is None else np.moveaxis(np.asarray(t), 1, 0) for k, t in targets.items()}
        return _fit_neurons.fit_each(fit, module, x, targets, key, progress, options)

    mod = module.reset_all()
    distinct, trials = _arguments.distinct_trials(x)
    deterministic = not mod.sim.noisy and (mod.sim.model is None or not mod.sim.model.draws)
    # a deterministic model gives every repetition of an input one output: the repetitions' own
    # disagreement is its floor (a noisy model draws one realisation per trial, and may match each)
    floor = _recordings.noise_floor(metrics, target_spikes, target_v, trials if deterministic else None, dt)
    strict = tol is not None or (floor == 0 and all(m.needs == "spikes" for _, m in metrics))
    if tol is None:  # reproducible spikes: exact, up to rounding; repetitions that differ: their floor
        tol = SPIKE_TOL if strict else (floor if floor > 0 else None)
    if patience is None:
        patience = run_patience if floor > 0 else 100
    if deterministic and optimizer != _fit_grad.GAUSS_NEWTON:  # each distinct input once per candidate
        x = distinct
    else:
        trials = None
    weights = mod.params.weights.astype(dtype)
    currents = jnp.moveaxis(jnp.matmul(x, weights, precision=jax.lax.Precision.HIGHEST), 1, 0)
    params, sim, state = jax.tree.map(
        lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a,
        (mod.params, mod.sim, mod.neuron_state),
    )
    key0 = (
        state.key
        if jnp.issubdtype(state.key.dtype, jax.dtypes.prng_key)
        else jax.random.wrap_key_data(state.key)
    )
    trial_keys = _TRIAL_KEYS(key0, jax.device_put(np.arange(x.shape[0], dtype=jnp.result_type(int))))
    state = eqx.tree_at(lambda st: st.key, state, trial_keys)
    config = (names, dt, tuple(metrics), need_v, unroll, _fit_grad.SURROGATE if gradient else None, trials)
    population_size = 1 if gradient else population_size  # a gradient step evaluates one set per run
    options = (optimizer, int(population_size), int(parallel), len(names), float(std_init))
    try:
        loss_fn = _loss_fn(*config)
        if not gradient:
            generation, first_states, evaluate = _search.compiled_generation(
                *options, loss_fn, jnp.dtype(dtype)
            )
    except TypeError:  # a metric holding an array is not hashable: build without the caches
        loss_fn = _loss_fn.__wrapped__(*config)
        if not gradient:
            generation, first_states, evaluate = _search.compiled_generation.__wrapped__(
                *options, loss_fn, jnp.dtype(dtype)
            )
    sim_data = ((params, sim, state), currents, target_spikes, target_v)
    data = (sim_data, *jax.device_put((lo.astype(dtype), hi.astype(dtype))))
    max_generations = max_evaluations // (population_size * parallel)
    budget = _search.Budget(
        max_evaluations=int(max_evaluations),
        max_time=float(max_time),
        generations=int(max_generations if generations is None else min(generations, max_generations)),
        tol=None if tol is None else float(tol),
        confirm=int(confirm),
        patience=int(patience),
        run_patience=int(run_patience),
        strict=strict,
    )
    if gradient:
        trace, evaluate = _fit_grad.descend(
            optimizer, loss_fn, data, budget, key, parallel, std_init, progress
        )
    else:
        trace = _search.search(
            generation, first_states, data, budget, key, parallel, population_size, progress
        )
    null_loss = _null_loss(metrics, target_spikes, target_v, dt)
    # at the best loss: within 5 % of the null loss above it for spike losses (one spike more or less
    # moves a van Rossum loss by ~0.5); within 5 % of the best loss itself with a trace term (a trace
    # error is smooth and its best value is the data's noise level)
    scale = null_loss - floor if tol is not None else trace.best_loss
    near = max(trace.best_loss + NEAR_BEST * scale, -1.0 if tol is None else tol)
    seed = int(_SEED(key))
    spent = len(trace.loss_history)  # the checks cost at most about what the search did
    extent = _search.explore(
        evaluate,
        data,
        trace.best_values,
        names,
        dt,
        population_size * parallel,
        seed,
        near,
        min(24, max(4, spent // 2)),
    )
    if not gradient:  # profiles: a parameter held beyond the recovery tolerance, the others searched
        moved = _search.profile(
            generation, first_states, data, trace.best_values, names, dt, parallel, near, key, spent
        )
        extent = np.maximum(extent, moved)
    return result(
        module,
        names,
        lo,
        hi,
        trace,
        budget,
        (null_loss, floor),
        near,
        extent,
        (optimizer if isinstance(optimizer, str) else type(optimizer).__name__, population_size, parallel),
    )


def _functional(module):
    """The functional module of a layer: an [`jaxiaf.FFIAF`][] as is, an `FFIAFBrian`'s `.module`."""
    if isinstance(module, FFIAF):
        return module
    inner = getattr(module, "module", None)
    if isinstance(inner, FFIAF):
        return inner
    raise TypeError(f"`module` must be a jaxiaf.FFIAF or jaxiaf.FFIAFBrian; got {type(module).__name__}.")


def _dtype(module, dtype):
    dtype = module.params.tau_mem.dtype if dtype is None else jnp.dtype(dtype)
    if dtype not in (jnp.float32, jnp.float64):
        raise ValueError(f"`dtype` must be float32 or float64; got {dtype}.")
    if dtype == jnp.float64 and not jax.config.read("jax_enable_x64"):
        raise ValueError(
            "`dtype=float64` needs `jax.config.update('jax_enable_x64', True)` before the layer is built."
        )
    return dtype
