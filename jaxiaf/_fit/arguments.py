"""The arguments of [`jaxiaf.fit`][], checked and converted before anything is compiled: the trials, the
targets, the metric and its weights, the budgets, the key. Every message names the argument."""

import numbers

import jax
import jax.numpy as jnp
import numpy as np

from .._core import convert as _convert
from .._rockpool import timebase as _timebase
from . import metrics as _metrics


def spikes_to_raster(spike_times, num_steps: int, dt: float, t_start: float = 0.0) -> np.ndarray:
    """(K, T, 1) bool raster from K arrays of spike times (s): a spike at `t` falls in step
    `floor((t - t_start) / dt + 1e-6)` (`jaxiaf._rockpool.timebase.bin_index`), so Brian2's `k*dt` stamps and
    mid-bin `(k + 0.5)*dt` times agree.

    **Raises:** `ValueError` naming the argument for `dt` not finite and > 0, `t_start` not finite,
    `num_steps` not an integer >= 1, or a spike outside the `num_steps` steps."""
    dt = _timebase.seconds("dt", dt, positive=True)
    t_start = _timebase.seconds("t_start", t_start)
    positive_int("num_steps", num_steps, 1)
    raster = np.zeros((len(spike_times), num_steps, 1), bool)
    for trial, times in enumerate(spike_times):
        steps = _timebase.bin_index(_timebase.time_array(f"spikes[{trial}]", times), t_start, dt)
        if np.any((steps < 0) | (steps >= num_steps)):
            raise ValueError(f"`spikes` of trial {trial} fall outside the {num_steps} steps of `x`.")
        raster[trial, steps, 0] = True
    return raster


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
    _, first, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    if len(first) == len(rows):
        return x, None
    order = np.argsort(first)  # np.unique sorts the rows: back to their order of appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return x[np.sort(first)], tuple(int(i) for i in rank[np.ravel(inverse)])


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
