"""`fit`: gradient-free fitting of neuron parameters to spike trains or voltage traces.

A population of candidate parameter sets is evaluated over all trials in one compiled call (the
population and the trials are batch axes of the core's scan carry); an evolution strategy from evosax
proposes the next population. Bounds are enforced by a transform, never by clipping: the strategy works
on an unconstrained `z`, and a parameter is `low + (high - low) * sigmoid(z)`.
"""

import functools
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from . import _checks, _convert, _metrics
from ._core import Reducer, evolve
from ._module import FFIAF
from ._pytrees import Parameters, SimulationParameters, State

FITTABLE = ("bias", "tau_mem", "v_thresh", "v_reset", "v_rest", "refractory", "noise_std")
OPTIMIZERS = ("cma_es", "sep_cma_es", "simple_es", "snes", "open_es")


class FitResult(eqx.Module):
    """What [`jaxiaf.fit`][] returns.

    **Fields:**

    - `best_params`: `{name: float}` the best parameters found (SI units).
    - `best_loss`: the loss of `best_params`.
    - `loss_history`: (G,) the best loss found up to each generation.
    - `generation_best`: (G,) the best loss within each generation.
    - `params_history`: `{name: (G,) array}` the best parameters found up to each generation.
    - `elapsed`: (G,) wall time (s) from the start of the fit to the end of each generation.
    - `module`: the fitted [`jaxiaf.FFIAF`][] (`module.set_attributes(best_params)`, state reset).
    - `optimizer`, `population_size`, `generations`: as run.
    """

    best_params: dict
    best_loss: float
    loss_history: np.ndarray
    generation_best: np.ndarray
    params_history: dict
    elapsed: np.ndarray
    module: FFIAF
    optimizer: str = eqx.field(static=True)
    population_size: int = eqx.field(static=True)
    generations: int = eqx.field(static=True)


def _strategy(name: str, population_size: int, dim: int, std_init: float):
    """A small adapter over evosax 0.3: the strategy, its parameters, minimising by default."""
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


def spikes_to_raster(spike_times, num_steps: int, dt: float, t_start: float = 0.0) -> np.ndarray:
    """(K, T, 1) bool raster from K arrays of spike times (s): a spike at `t` falls in step
    `floor((t - t_start) / dt + 1e-6)`, so Brian2's `k*dt` stamps and mid-bin `(k + 0.5)*dt` times agree."""
    raster = np.zeros((len(spike_times), num_steps, 1), bool)
    for trial, times in enumerate(spike_times):
        steps = np.floor((np.asarray(times, float) - t_start) / dt + 1e-6).astype(int)
        if np.any((steps < 0) | (steps >= num_steps)):
            raise ValueError(f"`spikes` of trial {trial} fall outside the {num_steps} steps of `x`.")
        raster[trial, steps, 0] = True
    return raster


def _as_trials(name, value, shape_tail, dtype):
    arr = jnp.asarray(value, dtype)
    if arr.ndim == len(shape_tail) + 1:
        arr = arr[None]
    if arr.ndim != len(shape_tail) + 2 or arr.shape[2:] != shape_tail:
        raise ValueError(
            f"`{name}` must have shape (K, T, {', '.join(map(str, shape_tail))}) or "
            f"(T, {', '.join(map(str, shape_tail))}); got {np.shape(value)}."
        )
    return arr


def _bounds(module: FFIAF, bounds: dict):
    if not bounds:
        raise ValueError("`bounds` must name at least one parameter, e.g. {'tau_mem': (5e-3, 50e-3)}.")
    unknown = sorted(set(bounds) - set(FITTABLE))
    if unknown:
        raise ValueError(f"Cannot fit {unknown}; fittable names: {list(FITTABLE)}.")
    names = tuple(bounds)
    lo, hi = [], []
    for name in names:
        pair = np.asarray(bounds[name], float)
        if pair.shape != (2,) or not np.all(np.isfinite(pair)) or not pair[0] < pair[1]:
            raise ValueError(
                f"`bounds['{name}']` must be (low, high) with finite low < high (in "
                f"{_convert.UNITS[name]}); got {bounds[name]!r}."
            )
        for value in pair:
            _checks.check_now(name, value)
        lo.append(pair[0])
        hi.append(pair[1])
    if "noise_std" in names and not module.sim.noisy:
        raise ValueError("Fitting `noise_std` needs a module built with `noise_std` > 0.")
    return names, np.array(lo), np.array(hi)


def _transform(z, lo, hi):
    """(P, D) parameter values from (P, D) unconstrained `z`, inside the (D,) boxes `lo`..`hi`."""
    return lo[None, :] + (hi - lo)[None, :] * jax.nn.sigmoid(z)


@functools.lru_cache(maxsize=16)
def _recorder(need_v: bool) -> Reducer:
    return Reducer(
        init=lambda shape, dtype: None,
        update=lambda acc, k, spike, v: (None, (spike, v) if need_v else (spike, None)),
    )


def _population_loss(values, data, names, dt, metrics, need_v):
    """(P,) loss of P parameter sets `values` (P, D), every trial evolved in one scan.

    `data` is `((params, sim, state), currents (T, K, N), target_spikes (T, K, N), target_v (T, K, N))`."""
    (params, sim, state), currents, target_spikes, target_v = data
    num_pop = values.shape[0]
    num_trials, num_neurons = currents.shape[1], currents.shape[2]
    shape = (num_pop, num_trials, num_neurons)
    column = lambda i: values[:, i].reshape(num_pop, 1, 1)
    p = {f: getattr(params, f) for f in Parameters.__annotations__}
    s = {f: getattr(sim, f) for f in ("dt", "noise_std", "refractory")}
    for i, name in enumerate(names):
        (s if name in s else p)[name] = column(i)
    state = State(
        v=jnp.broadcast_to(state.v, shape),
        since_spike=jnp.broadcast_to(state.since_spike, shape),
        key=jnp.broadcast_to(state.key, shape[:2]),
        step=state.step,
    )
    sim = SimulationParameters(**s, integrator_name=sim.integrator_name, noisy=sim.noisy)
    (_, (spikes, v)), _, _ = evolve(
        Parameters(**p), sim, state, currents, reducer=_recorder(need_v), check=False
    )
    total = jnp.zeros(num_pop, values.dtype)
    for weight, metric in metrics:
        ts = None if target_spikes is None else jnp.broadcast_to(target_spikes[:, None], spikes.shape)
        tv = None if target_v is None else jnp.broadcast_to(target_v[:, None], v.shape)
        per_column = metric.loss(spikes, v, ts, tv, dt)
        total = total + weight * jnp.mean(per_column.reshape(num_pop, -1), axis=1)
    return total


@functools.lru_cache(maxsize=16)
def _generation(optimizer, population_size, names, std_init, dt, metrics, need_v, dtype):
    """One jitted generation (ask, evaluate, tell), cached so that fits of the same shape compile once."""
    es, es_params = _strategy(optimizer, population_size, len(names), std_init)
    loss_fn = functools.partial(_population_loss, names=names, dt=dt, metrics=metrics, need_v=need_v)

    @jax.jit
    def generation(key, es_state, data):
        types = jax.tree.map(lambda a: a.dtype, es_state)
        sim_data, lo, hi = data
        k_ask, k_tell = jax.random.split(key)
        with jax.numpy_rank_promotion("allow"):  # evosax relies on implicit broadcasting
            z, es_state = es.ask(k_ask, es_state, es_params)
        values = _transform(z, lo, hi).astype(dtype)
        losses = loss_fn(values, sim_data)
        losses = jnp.where(jnp.isfinite(losses), losses, jnp.inf)
        with jax.numpy_rank_promotion("allow"):
            es_state, _ = es.tell(k_tell, z, losses, es_state, es_params)
        # the state keeps its dtypes (evosax promotes some leaves to float64 under x64): no retrace
        return jax.tree.map(lambda a, t: a.astype(t), es_state, types), values, losses

    return generation, es, es_params


def fit(
    module: FFIAF,
    x,
    *,
    bounds: dict,
    spikes=None,
    v=None,
    metric=None,
    optimizer: str = "cma_es",
    population_size: int = 32,
    generations: int = 100,
    key=None,
    std_init: float = 1.0,
    dtype=jnp.float32,
    progress: bool = True,
) -> FitResult:
    """Fit neuron parameters of `module` to recorded (or simulated) spike trains or voltage traces.

    Each generation, the optimizer proposes `population_size` parameter sets; all of them are evolved over
    all trials in one compiled call, scored by `metric` (averaged over trials and neurons), and the scores
    are told back. A tqdm bar shows the generations and the best loss so far.

    **Arguments:**

    - `module`: the [`jaxiaf.FFIAF`][] to fit; parameters not in `bounds` keep its values.
    - `x`: (K, T, N_in) inputs of K trials (or (T, N_in) for one), in A.
    - `bounds`: `{name: (low, high)}` in SI units for any of `bias`, `tau_mem`, `v_thresh`, `v_reset`,
      `v_rest`, `refractory`, `noise_std`; one value per layer (shared by its neurons).
    - `spikes`: target spikes: a (K, T, N) bool raster, or K arrays of spike times (s) for N = 1.
    - `v`: target membrane potentials (K, T, N) (V).
    - `metric`: a [`jaxiaf.metrics.Metric`][] or a list of `(weight, Metric)` summed. Default: for spikes
      `VanRossum(10e-3)`, for traces `TraceMSE()`. The van Rossum distance is zero only for identical
      trains and grows smoothly with each spike's shift (up to ~tau), so it pins the parameters where the
      gamma factor (1 for any trains matching within +-delta) leaves them loose; see the README.
    - `optimizer`: an evosax strategy: `"cma_es"` (default), `"sep_cma_es"`, `"simple_es"`, `"snes"`,
      `"open_es"`.
    - `population_size`, `generations`: ints >= 2 and >= 1.
    - `key`: PRNG key of the optimizer (default `jax.random.key(0)`): a seeded fit is reproducible.
    - `std_init`: initial search width in the transformed space (1.0 spans most of each box).
    - `dtype`: float32 (default, fast) or float64.
    - `progress`: show the tqdm bar.

    **Returns:** a [`jaxiaf.FitResult`][].
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"`optimizer` must be one of {list(OPTIMIZERS)}; got {optimizer!r}.")
    if int(population_size) != population_size or population_size < 2:
        raise ValueError(f"`population_size` must be an integer >= 2; got {population_size!r}.")
    if int(generations) != generations or generations < 1:
        raise ValueError(f"`generations` must be an integer >= 1; got {generations!r}.")
    if spikes is None and v is None:
        raise ValueError("Give a target: `spikes` (a raster or spike times per trial) and/or `v` (traces).")
    names, lo, hi = _bounds(module, bounds)
    x = _as_trials("x", x, (module.size_in,), dtype)
    _checks.check_input_now(x)
    num_trials, num_steps = x.shape[:2]
    dt = float(module.dt)
    target_spikes = target_v = None
    if spikes is not None:
        if isinstance(spikes, (list, tuple)):
            spikes = spikes_to_raster(spikes, num_steps, dt)
        target_spikes = _as_trials("spikes", spikes, (module.size_out,), jnp.bool_)
        target_spikes = jnp.moveaxis(target_spikes, 1, 0)
    if v is not None:
        target_v = jnp.moveaxis(_as_trials("v", v, (module.size_out,), dtype), 1, 0)
    for name, target in (("spikes", target_spikes), ("v", target_v)):
        if target is not None and target.shape[:2] != (num_steps, num_trials):
            raise ValueError(
                f"`{name}` must cover the same K={num_trials} trials of T={num_steps} steps as `x`; "
                f"got {target.shape[1]} trials of {target.shape[0]} steps."
            )
    metrics = _metric_list(metric, target_spikes is not None)
    for _, m in metrics:
        if (m.needs == "spikes" and target_spikes is None) or (m.needs == "v" and target_v is None):
            raise ValueError(f"{type(m).__name__} needs the target `{m.needs}`.")
    need_v = any(m.needs == "v" for _, m in metrics)

    mod = module.reset_all()
    weights = mod.params.weights.astype(dtype)
    currents = jnp.moveaxis(jnp.matmul(x, weights, precision=jax.lax.Precision.HIGHEST), 1, 0)
    tree = jax.tree.map(
        lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a,
        (mod.params, mod.sim, mod.neuron_state),
    )
    config = (optimizer, int(population_size), names, std_init, dt, tuple(metrics), need_v, jnp.dtype(dtype))
    try:
        generation, es, es_params = _generation(*config)
    except TypeError:  # a metric holding an array is not hashable: build without the cache
        generation, es, es_params = _generation.__wrapped__(*config)
    data = ((tree, currents, target_spikes, target_v), jnp.asarray(lo, dtype), jnp.asarray(hi, dtype))

    key = jax.random.key(0) if key is None else key
    key, k_init = jax.random.split(key)
    with jax.numpy_rank_promotion("allow"):
        es_state = es.init(k_init, jnp.zeros(len(names), dtype), es_params)
    # strong dtypes, as the state that `generation` returns has: the second generation does not retrace
    es_state = jax.tree.map(lambda a: jnp.asarray(a, dtype=jnp.result_type(a)), es_state)
    best_loss, best_values = np.inf, None
    history, per_generation, best_history, elapsed = [], [], [], []
    start = time.perf_counter()
    bar = _bar(int(generations), progress)
    for _ in range(int(generations)):
        key, k_gen = jax.random.split(key)
        es_state, values, losses = generation(k_gen, es_state, data)
        losses = np.asarray(losses)
        i = int(np.argmin(losses))
        per_generation.append(float(losses[i]))
        if losses[i] < best_loss:
            best_loss, best_values = float(losses[i]), np.asarray(values[i], float)
        history.append(best_loss)
        best_history.append(best_values)
        elapsed.append(time.perf_counter() - start)
        if bar is not None:
            bar.set_postfix(best_loss=f"{best_loss:.4g}")
            bar.update()
    if bar is not None:
        bar.close()
    best = {name: float(val) for name, val in zip(names, best_values, strict=True)}
    return FitResult(
        best_params=best,
        best_loss=best_loss,
        loss_history=np.array(history),
        generation_best=np.array(per_generation),
        params_history={name: np.array([b[i] for b in best_history]) for i, name in enumerate(names)},
        elapsed=np.array(elapsed),
        module=module.set_attributes(best).reset_all(),
        optimizer=optimizer,
        population_size=int(population_size),
        generations=int(generations),
    )


def _metric_list(metric, spikes: bool):
    if metric is None:
        if spikes:
            return [(1.0, _metrics.VanRossum(10e-3))]
        return [(1.0, _metrics.TraceMSE())]
    if isinstance(metric, _metrics.Metric):
        return [(1.0, metric)]
    pairs = list(metric)
    if not pairs or not all(
        isinstance(p, tuple) and len(p) == 2 and isinstance(p[1], _metrics.Metric) for p in pairs
    ):
        raise ValueError("`metric` must be a Metric or a list of (weight, Metric) pairs.")
    return [(float(w), m) for w, m in pairs]


def _bar(total: int, show: bool):
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="fit generations", unit="gen")
