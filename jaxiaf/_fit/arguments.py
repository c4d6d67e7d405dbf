"""The arguments of [`jaxiaf.fit`][], checked and converted before anything is compiled: the trials, the
targets, the metric and its weights, the budgets, the key. Every message names the argument."""

import math
import numbers
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._core import checks as _checks
from .._core import convert as _convert
from .._core.integrators import STABILITY_LIMITS
from .._core.scan import step_constants
from .._equations import names as _named
from .._layer import FFIAF
from .._rockpool.timebase import spikes_to_raster
from . import gradient as _gradient
from . import metrics as _metrics
from .search import OPTIMIZERS


def as_trials(name, value, shape_tail, dtype):
    """`value` as a (K, T, *shape_tail) array of `dtype` (a (T, *shape_tail) one is one trial)."""
    value = _convert.strip_unit(name, value, "V" if name == "v" else "A") if name != "spikes" else value
    try:
        arr = np.asarray(value)
    except ValueError as error:  # ragged nested lists
        raise ValueError(
            f"`{name}` must be one array (K, T, ...): trials of different lengths do not stack ({error})."
        ) from None
    if (
        arr.dtype == object
        or np.iscomplexobj(arr)
        or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool)
    ):
        raise TypeError(f"`{name}` must be an array of real numbers; got dtype {arr.dtype}.")
    if arr.ndim == len(shape_tail) + 1:
        arr = arr[None]
    if arr.ndim != len(shape_tail) + 2 or arr.shape[2:] != shape_tail:
        raise ValueError(
            f"`{name}` must have shape (K, T, {', '.join(map(str, shape_tail))}) or "
            f"(T, {', '.join(map(str, shape_tail))}); got {np.shape(value)}."
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(
            f"`{name}` must hold at least one trial of at least one step; got shape {arr.shape}."
        )
    if name == "spikes" and arr.dtype != bool:
        if not np.all((arr == 0) | (arr == 1)):
            raise ValueError("`spikes` must be a bool raster (or 0/1 values); got counts or fractions.")
    elif not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` must be finite; got NaN or inf.")
    return np.asarray(arr, dtype)


def distinct_trials(x):
    """`(x_distinct, trials)`: the distinct trials of `x` (K, T, N_in), in order of first appearance, and
    for each of the K trials the index of its input among them (a tuple), or `(x, None)` when all differ."""
    rows = np.asarray(x).reshape(x.shape[0], -1)
    first = {}  # each distinct row's bytes -> its index among the distinct rows
    trials = tuple(first.setdefault(row.tobytes(), len(first)) for row in rows)
    if len(first) == len(rows):
        return x, None
    return x[np.unique(trials, return_index=True)[1]], trials


def host_dt(module) -> float:
    """The layer's step as a Python float: in float32 the shortest decimal that rounds to it (0.1 ms, not
    9.999999747e-05 s), so that durations of recordings given in seconds are whole numbers of steps."""
    dt = np.asarray(module.dt).reshape(-1)[0]
    return float(str(dt)) if dt.dtype == np.float32 else float(dt)


def positive_int(name, value, minimum):
    """`ValueError` unless `value` is an integer (not a bool) >= `minimum`."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}; got {value!r}.")


def number(name: str, value, rule: str, ok) -> float:
    """`value` as a float if it is a real number and `ok(value)` holds; `TypeError`/`ValueError` naming
    `name` and `rule` otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be {rule}; got {value!r} ({type(value).__name__}).")
    if not ok(float(value)):
        raise ValueError(f"`{name}` must be {rule}; got {value!r}.")
    return float(value)


def key(value):
    """The optimizer's key: `jax.random.key(0)` for None, one typed key, or a raw `uint32[2]` key
    (wrapped)."""
    if value is None:
        return jax.random.key(0)
    if not isinstance(value, jax.Array | np.ndarray):
        raise TypeError(f"`key` must be one JAX PRNG key, e.g. `jax.random.key(0)`; got {value!r}.")
    if jnp.issubdtype(value.dtype, jax.dtypes.prng_key):
        if value.shape != ():
            raise ValueError(
                f"`key` must be one PRNG key (shape ()); got a key array of shape {value.shape} (e.g. from "
                "`jax.random.split`): give one of its keys."
            )
        return value
    if value.dtype != jnp.uint32 or value.shape != (2,):
        raise ValueError(
            f"`key` must be one PRNG key: `jax.random.key(seed)`, or a raw uint32 key of shape (2,); got "
            f"dtype {value.dtype} and shape {value.shape}."
        )
    return jax.random.wrap_key_data(jnp.asarray(value))


def metric_list(metric, spikes: bool) -> list:
    """`metric` as a list of `(weight, Metric)`; weights finite and > 0. Default: `VanRossum(10e-3)` for
    spikes, `TraceMSE()` for traces."""
    if metric is None:
        return [(1.0, _metrics.VanRossum(10e-3) if spikes else _metrics.TraceMSE())]
    if isinstance(metric, type) and issubclass(metric, _metrics.Metric):
        raise TypeError(f"`metric` must be a Metric instance, e.g. `{metric.__name__}()`; got the class.")
    if isinstance(metric, _metrics.Metric):
        return [(1.0, metric)]
    pairs = list(metric) if isinstance(metric, list | tuple) else None
    if not pairs or not all(
        isinstance(p, tuple) and len(p) == 2 and isinstance(p[1], _metrics.Metric) for p in pairs
    ):
        raise ValueError(f"`metric` must be a Metric or a list of (weight, Metric) pairs; got {metric!r}.")
    rule = "a finite number > 0"
    return [
        (number(f"metric[{i}]'s weight", w, rule, lambda w: np.isfinite(w) and w > 0), m)
        for i, (w, m) in enumerate(pairs)
    ]


class Settings(NamedTuple):
    """`fit`'s options, checked: the optimizer and its family (`"es"`, `"gradient"`, `"gauss_newton"`),
    the population, the budgets and patience, the tolerance (None: the default), the first width and
    the loop's unroll."""

    optimizer: object
    family: str
    population_size: int
    parallel: int
    max_evaluations: int
    max_time: float
    generations: int | None
    tol: float | None
    confirm: int
    patience: int | None
    run_patience: int
    std_init: float
    unroll: int


def settings(
    optimizer, population_size, parallel, max_evaluations, max_time, generations, tol, confirm, patience,
    run_patience, std_init, unroll,
) -> Settings:  # fmt: skip
    """[`Settings`][] from `fit`'s options; `ValueError`/`TypeError` naming the first bad one."""
    family = "es" if isinstance(optimizer, str) and optimizer in OPTIMIZERS else None
    if family is None and _gradient.is_gradient(optimizer):
        family = "gauss_newton" if optimizer == _gradient.GAUSS_NEWTON else "gradient"
    if family is None:
        raise ValueError(
            f"`optimizer` must be one of {list(OPTIMIZERS)}, or an optax optimizer (e.g. 'adam' or "
            f"`optax.adam(1e-2)`); got {optimizer!r}."
        )
    for name, value, least in (("population_size", population_size, 2), ("parallel", parallel, 1)):
        positive_int(name, value, least)
    positive_int("confirm", confirm, 1)
    if patience is not None:
        positive_int("patience", patience, 1)
    positive_int("run_patience", run_patience, 1)
    if generations is not None:
        positive_int("generations", generations, 1)
    if optimizer == "open_es" and population_size % 2:
        raise ValueError(
            f"`population_size` must be even for 'open_es' (antithetic pairs); got {population_size}."
        )
    if not (isinstance(max_evaluations, int | np.integer) and max_evaluations >= population_size * parallel):
        raise ValueError(
            f"`max_evaluations` must be an integer >= population_size * parallel = "
            f"{population_size * parallel}; got {max_evaluations!r}."
        )
    max_time = number("max_time", max_time, "> 0 seconds (a number; math.inf: no limit)", lambda t: t > 0)
    std_init = number("std_init", std_init, "a finite number > 0", lambda s: math.isfinite(s) and s > 0)
    if tol is not None:
        tol = number("tol", tol, "a finite number >= 0 or None", lambda t: math.isfinite(t) and t >= 0)
    return Settings(
        optimizer, family, int(population_size), int(parallel), int(max_evaluations), max_time,
        generations, tol, int(confirm), patience, int(run_patience), std_init, unroll,
    )  # fmt: skip


class Problem(NamedTuple):
    """What `fit` fits, checked and converted: the functional module (or, for `jaxiaf.synapses.fit`, the
    layer with its synapses: `jaxiaf._fit.synaptic.SynapticLayer`), the fitted names and their (D,)
    boxes, the inputs (K, T, N_in) (with synapses: each trial's raster, then its currents), the targets
    (T, K, N) (None where not given), the `(weight, Metric)` pairs, the step (s) and the float dtype."""

    module: object
    names: tuple
    lo: np.ndarray
    hi: np.ndarray
    x: jax.Array
    target_spikes: jax.Array | None
    target_v: jax.Array | None
    metrics: list
    dt: float
    dtype: object


def problem(module, x, bounds, spikes, v, metric, settings: Settings, dtype) -> Problem:
    """The [`Problem`][] of `fit(module, x, bounds=..., spikes=..., v=..., metric=...)` (`module`
    functional, `dtype` checked); `ValueError`/`TypeError` naming the first bad argument."""
    if spikes is None and v is None:
        raise ValueError("Give a target: `spikes` (a raster or spike times per trial) and/or `v` (traces).")
    names, lo, hi = fitted_bounds(module, bounds)
    if settings.family == "gradient":
        _gradient.check(settings.optimizer, names, module, None, hi)
    # host arrays go to the device with `device_put` (`jnp.asarray` runs a small program per shape, each
    # traced and loaded in a fresh process)
    x = jax.device_put(as_trials("x", x, (module.size_in,), dtype))
    return completed(module, module, (names, lo, hi), x, (spikes, v), metric, settings, dtype)


def completed(fitted, layer, box, x, target, metric, settings: Settings, dtype) -> Problem:
    """The [`Problem`][] of `fitted` (`layer`, or `layer` with its synapses) with the fitted `box`
    `(names, lo, hi)` and the inputs `x` (K, T, ...) checked: the `target` `(spikes, v)` and `metric`
    checked against them."""
    names, lo, hi = box
    dt = host_dt(layer)
    target_spikes, target_v = targets(layer, x.shape[:2], *target, dtype, dt)
    metrics = checked_metrics(metric, target_spikes, target_v, x.shape[1] * dt)
    trace_only = all(m.needs == "v" for _, m in metrics)
    if settings.family == "gradient" and "v_thresh" in names and trace_only:
        raise ValueError(
            "`bounds['v_thresh']`: with a trace loss only, the threshold has no gradient (it acts through "
            "the spike decision, and the surrogate's reset is detached); fit it with an evolution strategy "
            "(e.g. `optimizer='cma_es'`) or add a spike metric."
        )
    if settings.family == "gauss_newton":
        _gradient.check(settings.optimizer, names, layer, target_v, hi)
    return Problem(fitted, names, lo, hi, x, target_spikes, target_v, metrics, dt, dtype)


def targets(module, trials_steps, spikes, v, dtype, dt):
    """`(target_spikes, target_v)` as (T, K, N) device arrays (None where not given) from rasters, spike
    times or Neo objects, checked against the K trials of T steps of `x`."""
    from .._interop import neo as _neo  # it imports jaxiaf._fit: imported here, not at the top

    num_trials, num_steps = trials_steps
    target_spikes = target_v = None
    if spikes is not None:
        if _neo.is_neo(spikes):
            spikes = _neo.spikes_from_neo(spikes, dt)
        elif isinstance(spikes, list | tuple):
            spikes = spikes_to_raster(spikes, num_steps, dt)
        target_spikes = jax.device_put(
            np.moveaxis(as_trials("spikes", spikes, (module.size_out,), bool), 1, 0)
        )
    if v is not None:
        if _neo.is_neo(v):
            v = _neo.traces_from_neo(v, dt, "V")
        target_v = jax.device_put(np.moveaxis(as_trials("v", v, (module.size_out,), dtype), 1, 0))
    for name, target in (("spikes", target_spikes), ("v", target_v)):
        if target is not None and target.shape[:2] != (num_steps, num_trials):
            raise ValueError(
                f"`{name}` must cover the same K={num_trials} trials of T={num_steps} steps as `x`; "
                f"got {target.shape[1]} trials of {target.shape[0]} steps."
            )
    return target_spikes, target_v


def checked_metrics(metric, target_spikes, target_v, duration: float) -> list:
    """[`metric_list`][] of `metric`, each metric's targets given and its `t_start` before `duration`."""
    metrics = metric_list(metric, target_spikes is not None)
    for _, m in metrics:
        if (m.needs == "spikes" and target_spikes is None) or (m.needs == "v" and target_v is None):
            raise ValueError(f"{type(m).__name__} needs the target `{m.needs}`.")
        if m.needs_both and (target_spikes is None or target_v is None):
            raise ValueError(f"{type(m).__name__} needs both targets, `v` and `spikes`.")
        if getattr(m, "t_start", 0.0) >= duration:
            raise ValueError(f"`{type(m).__name__}.t_start` must be before the end of `x` ({duration} s).")
    return metrics


def fittable(model) -> tuple:
    """The names `fit` can fit on a layer whose `sim.model` is `model`: the parameters its equations
    declare, then the simulation parameters its dynamics read (`refractory`, `noise_std`)."""
    read = _named.simulation_names(model)
    return (*_named.declared(model).parameter_names, *(n for n in ("refractory", "noise_std") if n in read))


def fitted_bounds(module: FFIAF, bounds: dict, scales: tuple = ()):
    """`(names, lo (D,), hi (D,))` of `bounds` `{name: (low, high)}` (SI or Brian2 quantities); `scales`:
    further dimensionless names that may be fitted (the `scale` of each group of synapses of a synaptic
    fit, `jaxiaf._fit.synaptic`)."""
    if not isinstance(bounds, dict) or not bounds:
        raise ValueError("`bounds` must name at least one parameter, e.g. {'tau_mem': (5e-3, 50e-3)}.")
    model = module.sim.model
    allowed = (*fittable(model), *scales)
    unknown = sorted(set(bounds) - set(allowed), key=str)
    if unknown:
        raise ValueError(f"Cannot fit {unknown}; fittable names: {list(allowed)}.")
    names = tuple(bounds)
    lo, hi = [], []
    for name in names:
        unit = "1" if name in scales else _named.unit(model, name)
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
    if "tau_mem" in names:
        _stable_above(module, lo[names.index("tau_mem")])
    if "noise_std" in names and not module.sim.noisy:
        raise ValueError("Fitting `noise_std` needs a module built with `noise_std` > 0.")
    return names, np.array(lo), np.array(hi)


def _stable_above(module, tau_low: float) -> None:
    """`ValueError` if the layer's integrator is unstable at `tau_mem = tau_low`: the core's own check
    ([`jaxiaf.step_constants`][]), which applies where `tau_mem` sets the step's decay."""
    tau_mem = module.params.tau_mem
    low = jax.device_put(np.full(np.shape(tau_mem), tau_low, tau_mem.dtype))
    try:
        step_constants(eqx.tree_at(lambda p: p.tau_mem, module.params, low), module.sim)
    except ValueError:
        limit = STABILITY_LIMITS[module.sim.integrator_name]
        raise ValueError(
            f"`bounds['tau_mem']` must start above dt / {limit:.4g} = {float(module.dt) / limit:.4g} s: "
            f"below it the {module.sim.integrator_name!r} integrator is unstable (use 'exact' for shorter "
            "tau_mem)."
        ) from None


def functional(module) -> FFIAF:
    """The functional module of a layer: an [`jaxiaf.FFIAF`][] as is, an `FFIAFBrian`'s `.module`."""
    if isinstance(module, FFIAF):
        return module
    inner = getattr(module, "module", None)
    if isinstance(inner, FFIAF):
        return inner
    raise TypeError(f"`module` must be a jaxiaf.FFIAF or jaxiaf.FFIAFBrian; got {type(module).__name__}.")


def float_dtype(module, dtype):
    """The fit's float dtype: `dtype`, or the module's; float32 or float64 (which needs x64)."""
    dtype = module.params.tau_mem.dtype if dtype is None else jnp.dtype(dtype)
    if dtype not in (jnp.float32, jnp.float64):
        raise ValueError(f"`dtype` must be float32 or float64; got {dtype}.")
    if dtype == jnp.float64 and not jax.config.read("jax_enable_x64"):
        raise ValueError(
            "`dtype=float64` needs `jax.config.update('jax_enable_x64', True)` before the layer is built."
        )
    return dtype
