"""`sweep`: many parameter sets of one layer in one compiled call, chunked and sharded over devices."""

import functools
import itertools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._compile import progress as _progress
from .._compile.cache import COMPILER_OPTIONS
from .._core import checks as _checks
from .._core import convert as _convert
from .._core.divergence import diverged
from .._core.pytrees import Parameters, SimulationParameters, State, StepConstants
from .._core.scan import Reducer, check_reducer, evolve, step_constants
from .._equations import names as _named
from .._layer import FFIAF
from . import checks as _sweep_checks
from . import sharding as _sharding

OUTPUTS = ("spikes", "counts", "rates", "first_spike_times", "v")


class SweepResult(eqx.Module):
    """What [`jaxiaf.sweep`][] returns; every array has the batch axis first (B parameter sets).

    **Fields** (None where not requested):

    - `params`: `{name: (B, ...) array}`, the swept values that produced each row.
    - `counts`: (B, N) int32 spike counts.
    - `rates`: (B, N) firing rates (Hz), `counts / (T * dt)`.
    - `first_spike_times`: (B, N) time of each neuron's first spike (s, mid-bin: `(k + 0.5) * dt` from
      the start of the evolution); `inf` for a neuron that never fired.
    - `spikes`: (B, T, N) bool raster.
    - `v`: (B, T, N) membrane potential after reset (V).
    - `reduced`: the user reducer's final accumulator, (B, ...) leaves.
    - `final_state`: the batched [`jaxiaf.State`][] after the T steps.
    - `diverged`: (B, N) bool, the neurons whose state (`v` or another state variable) ended NaN or inf;
      `diverged.any(axis=1)` marks the sets whose results are not valid. The sets are independent: every
      other row is the same as sweeping its set alone. [`jaxiaf.sweep`][] warns naming the sets.
    - `num_steps`: T.
    """

    params: dict
    counts: jax.Array | None
    rates: jax.Array | None
    first_spike_times: jax.Array | None
    spikes: jax.Array | None
    v: jax.Array | None
    reduced: object
    final_state: State
    diverged: jax.Array
    num_steps: int = eqx.field(static=True)


def grid(**values) -> dict:
    """The Cartesian product of per-parameter value lists, as a batch for [`jaxiaf.sweep`][].

    `grid(bias=[a, b], tau_mem=[c, d, e])` gives 6 sets in C order (the last name varies fastest):
    `result.counts.reshape(2, 3, N)` indexes them as `[bias, tau_mem]`.

    **Returns:** `{name: (B,) array}` with B the product of the list lengths.
    """
    if not values:
        raise ValueError("`grid` needs at least one parameter, e.g. grid(bias=[0.01, 0.02]).")
    names = list(values)
    lists = [_grid_values(k, values[k]) for k in names]
    for name, arr in zip(names, lists, strict=True):
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(f"`{name}` must be a non-empty 1-D list of values; got shape {arr.shape}.")
    combos = list(itertools.product(*[range(len(a)) for a in lists]))
    return {k: a[[c[i] for c in combos]] for i, (k, a) in enumerate(zip(names, lists, strict=True))}


def _grid_values(name, values):
    """One name's values as an array; Brian2 quantities must carry the parameter's unit."""
    if name in _convert.UNITS:
        return np.asarray(_convert.as_float(name, values, _convert.UNITS[name]))
    if hasattr(values, "dim") or any(
        hasattr(item, "dim") for item in np.ravel(np.asarray(values, dtype=object))
    ):
        import brian2  # a parameter of a layer's own equations: keep the unit for `sweep` to check

        return brian2.Quantity(values)
    return np.asarray(values)


def _sweepable(module: FFIAF) -> tuple:
    """`weights`, the declared parameters, the simulation parameters the dynamics read (but the
    integrator: `dt`, and `noise_std` and `refractory` where they apply), and the noise `key` or `seed`."""
    model = module.sim.model
    simulation = (name for name in _named.simulation_names(model) if name != "integrator_name")
    return ("weights", *_named.declared(model).parameter_names, *simulation, "key", "seed")


def _batch_size(module: FFIAF, params: dict) -> int:
    if not isinstance(params, dict):
        raise TypeError(
            "`params` must be a dict {name: (B, ...) values} (e.g. jaxiaf.grid(...)); got "
            f"{type(params).__name__}."
        )
    sweepable = _sweepable(module)
    unknown = sorted(set(params) - set(sweepable))
    if unknown:
        raise ValueError(f"Cannot sweep {unknown}; sweepable names: {list(sweepable)}.")
    if not params:
        raise ValueError("`params` must name at least one parameter with a leading batch axis.")
    shapes = {k: v.shape if hasattr(v, "shape") else np.shape(v) for k, v in params.items()}
    sizes = {k: (shape[0] if len(shape) else None) for k, shape in shapes.items()}
    if None in sizes.values() or len(set(sizes.values())) != 1:
        raise ValueError(f"Every swept value needs the same leading batch axis B; got lengths {sizes}.")
    batch = next(iter(sizes.values()))
    if batch == 0:
        raise ValueError(f"`params` holds no parameter set (B = 0; shapes {shapes}); sweep at least one.")
    return batch


def _per_set(name, value, n, dtype, unit):
    """A swept value as (B, 1) (one per set) or (B, N) (one per neuron and set)."""
    arr = jnp.asarray(_convert.as_float(name, value, unit), dtype)
    if arr.ndim == 1:
        arr = arr[:, None]
    if name == "dt" and arr.shape[1:] != (1,):
        raise ValueError(f"Swept `dt` must have shape (B,) (one time step per set); got {np.shape(value)}.")
    if arr.ndim != 2 or arr.shape[1] not in (1, n):
        raise ValueError(f"Swept `{name}` must have shape (B,) or (B, {n}); got {np.shape(value)}.")
    return _sweep_checks.checked(name, arr)


def _as_keys(name: str, value, shape: tuple):
    """Typed PRNG keys of `shape` from typed keys or raw uint32 keys of `shape + (2,)`."""
    arr = value if isinstance(value, jax.Array) else np.asarray(value)
    if (
        not jnp.issubdtype(arr.dtype, jax.dtypes.prng_key)
        and arr.dtype == np.uint32
        and arr.shape[-1:] == (2,)
    ):
        arr = jax.random.wrap_key_data(arr)
    if not jnp.issubdtype(arr.dtype, jax.dtypes.prng_key) or arr.shape != shape:
        raise ValueError(
            f"`{name}` must be {shape} typed PRNG keys (e.g. jax.random.split(jax.random.key(0), B)) or "
            f"{shape + (2,)} raw uint32 keys; got shape {np.shape(arr)} of dtype {arr.dtype}."
        )
    return arr


def _noise_keys(module: FFIAF, params: dict, batch: int, common_noise: bool):
    """One noise key per set: the swept `key`s or `seed`s; else `fold_in(module key, b)` for set b, or the
    module's key for every set with `common_noise=True`."""
    if "key" in params and "seed" in params:
        raise ValueError("Sweep either `key` or `seed`, not both.")
    if "seed" in params:
        seeds = np.asarray(params["seed"])
        if seeds.shape != (batch,) or not np.issubdtype(seeds.dtype, np.integer):
            raise ValueError(f"Swept `seed` must be ({batch},) integers; got {seeds.shape} of {seeds.dtype}.")
        return jax.vmap(jax.random.key)(jnp.asarray(seeds))
    if "key" in params:
        return _as_keys("key", params["key"], (batch,))
    key = _as_keys("the module's key", module.neuron_state.key, ())
    if common_noise:
        return jnp.broadcast_to(key, (batch,))
    return jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, jnp.arange(batch, dtype=jnp.uint32))


def _batched_inputs(module: FFIAF, params: dict, batch: int, dtype, common_noise: bool):
    """The core's pytrees: swept values with a leading batch axis, shared ones as the module holds them
    (broadcast inside the step); the state is (B, N). Weights are (N_in, N), or (B, N_in, N) if swept."""
    n = module.size_out
    p = {"weights": module.params.weights.astype(dtype)}
    per_set = lambda f: _per_set(f, params[f], n, dtype, _named.unit(module.sim.model, f))
    for f in _named.PAGE_NAMES:  # the fields of `Parameters`
        p[f] = per_set(f) if f in params else getattr(module.params, f).astype(dtype)
    extra = {f: per_set(f) if f in params else a.astype(dtype) for f, a in module.params.extra.items()}
    if "weights" in params:
        w = jnp.asarray(_convert.as_float("weights", params["weights"], "1"), dtype)
        if w.shape[1:] != module.shape:
            raise ValueError(f"Swept `weights` must have shape (B, {module.size_in}, {n}); got {w.shape}.")
        p["weights"] = _sweep_checks.checked("weights", w)
    sim = {f: getattr(module.sim, f).astype(dtype) for f in ("dt", "noise_std", "refractory")}
    for f in sim:
        if f in params:
            sim[f] = per_set(f)
    noisy = module.sim.noisy or ("noise_std" in params and _convert.is_noisy(params["noise_std"]))
    state = State(
        v=jnp.broadcast_to(module.neuron_state.v.astype(dtype), (batch, n)),
        since_spike=jnp.broadcast_to(module.neuron_state.since_spike, (batch, n)),
        key=_noise_keys(module, params, batch, common_noise),
        step=module.neuron_state.step,
        extra={
            k: jnp.broadcast_to(a.astype(dtype), (batch, n)) for k, a in module.neuron_state.extra.items()
        },
    )
    model = module.sim.model
    sim = SimulationParameters(
        **sim, integrator_name=module.sim.integrator_name, noisy=noisy, model=model,
        input_sampling=module.sim.input_sampling,
    )  # fmt: skip
    return Parameters(**p, extra=extra), sim, state


@functools.lru_cache(maxsize=64)
def _reducer(outputs: tuple, user: Reducer | None) -> Reducer:
    """One reducer for all requested outputs: counts and first spikes in the carry (each only when asked
    for: every carried array costs a pass over the (B, N) state per step), rasters stacked."""
    counts = bool({"counts", "rates"} & set(outputs))
    first = "first_spike_times" in outputs

    def init(shape, dtype):
        acc = {}
        if counts:
            acc["counts"] = jnp.zeros(shape, jnp.int32)
        if first:
            acc["first"] = jnp.full(shape, -1, jnp.int32)
        if user is not None:
            acc["user"] = user.init(shape, dtype)
        return acc

    def update(acc, k, spike, v):
        acc = dict(acc)
        if counts:
            acc["counts"] = acc["counts"] + spike
        if first:
            acc["first"] = jnp.where((acc["first"] < 0) & spike, k.astype(jnp.int32), acc["first"])
        ys = {}
        if user is not None:
            acc["user"], ys["user"] = user.update(acc["user"], k, spike, v)
        if "spikes" in outputs:
            ys["spikes"] = spike
        if "v" in outputs:
            ys["v"] = v
        return acc, ys

    return Reducer(init, update)


def _chunk(
    params: Parameters,
    sim: SimulationParameters,
    state: State,
    x,
    constants: StepConstants,
    reducer: Reducer,
    unroll: int = 1,
):
    matmul = functools.partial(jnp.matmul, precision=jax.lax.Precision.HIGHEST)
    if params.weights.ndim == 3 or x.ndim == 3:
        batched = jax.vmap(
            matmul, in_axes=(0 if x.ndim == 3 else None, 0 if params.weights.ndim == 3 else None)
        )
        currents = jnp.moveaxis(batched(x, params.weights), 0, 1)
    else:
        currents = matmul(x, params.weights)
    (acc, ys), new_state, _ = evolve(
        params, sim, state, currents, reducer=reducer, check=False, constants=constants, unroll=unroll
    )
    return acc, jax.tree.map(lambda a: jnp.moveaxis(a, 0, 1), ys), new_state


_traced_chunk = jax.jit(_chunk, static_argnames=("reducer", "unroll"))
_top_chunk = jax.jit(_chunk, static_argnames=("reducer", "unroll"), compiler_options=COMPILER_OPTIONS)


def _run_chunk(*args, **kwargs):
    """One chunk's compiled call: with the library's compiler options when it is the outermost program,
    as JAX requires (under `jax.grad` or `jax.vmap` of a sweep, without)."""
    concrete = all(map(_checks.is_concrete, jax.tree.leaves(args)))
    return (_top_chunk if concrete else _traced_chunk)(*args, **kwargs)


def _batched_mask(tree, swept):
    """Which leaves of `(params, sim, state, x, constants)` carry the batch axis: the swept ones, the state
    (but its step count), a (B, T, N_in) input, and the constants computed from swept values ((B, 1) or
    (B, N); those of the module's own values are (N,) or ())."""
    params, sim, state, x, constants = tree
    return (
        Parameters(
            **{f: f in swept for f in Parameters.__annotations__ if f != "extra"},
            extra={f: f in swept for f in params.extra},
        ),
        eqx.tree_at(
            lambda s: (s.dt, s.noise_std, s.refractory),
            sim,
            tuple(f in swept for f in ("dt", "noise_std", "refractory")),
        ),
        State(v=True, since_spike=True, key=True, step=False, extra=dict.fromkeys(state.extra, True)),
        x.ndim == 3,
        jax.tree.map(lambda a: a.ndim == 2, constants),
    )


def _take(tree, mask, start, size, batch):
    """Rows start..start+size of every batched leaf, padding past the end with the last row (the leaves
    themselves for one chunk of the whole batch)."""
    if start == 0 and size == batch:
        return tree
    idx = np.minimum(np.arange(start, start + size), batch - 1)
    return jax.tree.map(lambda a, b: a[idx] if b else a, tree, mask)


def sweep(
    module: FFIAF,
    params: dict,
    x,
    *,
    outputs=("counts",),
    reducer: Reducer | None = None,
    dtype=None,
    chunk_size: int | None = None,
    shard: bool = True,
    common_noise: bool = False,
    progress: bool | None = None,
    unroll: int = 1,
) -> SweepResult:
    """Evolve B parameter sets of `module` over the same (or a batched) input in one compiled loop.

    The batch is a leading axis of the scan's carry (one (B, N) state updated per step), the input matmul
    happens once outside the loop, and summaries are computed inside the scan, so a counts-only sweep
    never stores a (B, T, N) raster. Row b equals evolving `module.set_attributes(row b)` alone with that
    row's noise key (bit for bit in float64).

    **Arguments:**

    - `module`: the [`jaxiaf.FFIAF`][] (or [`jaxiaf.FFIAFBrian`][], whose `module` is used) whose other
      parameters and state every set shares.
    - `params`: `{name: values}` with a leading batch axis B >= 1: neuron parameters (`bias`, `tau_mem`,
      `v_thresh`, `v_reset`, `v_rest`), `noise_std` and `refractory` as (B,) or (B, N); `dt` as (B,);
      `weights` as (B, N_in, N); noise `seed` (B,) ints or `key` (B,) keys. Brian2 quantities must carry
      the parameter's unit. [`jaxiaf.grid`][] builds a grid.
    - `x`: (T, N_in) input shared by all sets, or (B, T, N_in) (A).
    - `outputs`: any of `"counts"`, `"rates"`, `"first_spike_times"`, `"spikes"`, `"v"`.
    - `reducer`: a [`jaxiaf.Reducer`][] computed inside the scan; its result is `result.reduced`.
    - `dtype`: `jnp.float32` or `jnp.float64` (needs `jax_enable_x64`; Brian2-exact); default: the
      layer's own dtype.
    - `chunk_size`: sets per compiled call (default: all B); bounds memory. The last chunk is padded, so
      every chunk reuses one compilation; each chunk's results are brought to the host as the next runs.
    - `shard`: split each chunk over all devices (`jax.sharding`, 1-D mesh over the batch axis), those of
      every process after `jax.distributed.initialize` (call `sweep` with the same arguments in each; every
      process gets the whole result).
    - `common_noise`: without swept `seed`s or `key`s, set b draws its noise from the key
      `jax.random.fold_in(module_key, b)` (independent noise per set, the default); `True` gives every set
      the module's own key (common random numbers).
    - `progress`: a tqdm bar over chunks (default: when there is more than one chunk, the rule of
      [`jaxiaf.fit`][] too).
    - `unroll`: steps per iteration of the compiled loop (see [`jaxiaf.evolve`][]): 8-32 on a GPU, 1 on
      a CPU.

    **Returns:** a [`jaxiaf.SweepResult`][]. Sets whose state becomes NaN or inf do not stop the sweep:
    `result.diverged` marks them by neuron, a [`jaxiaf.SweepWarning`][] names them, and every other row is
    the same as sweeping its set alone.

    **Raises:** `ValueError` for an unknown or misshapen swept name, a value that breaks its parameter's
    rule (naming the sets; under `jax.grad`, an `EquinoxRuntimeError` at run time), a Brian2 quantity of
    the wrong dimension (also for `x`, in A), a `chunk_size` that is not a positive integer, a batched
    `module`, `common_noise=True` with swept seeds or keys, or `"rates"` of an `x` without steps;
    `TypeError` for `params` that is not a dict, a `reducer` that is not a [`jaxiaf.Reducer`][], or a
    complex or non-numeric `x`.
    """
    module, dtype, batch, x = _checked(module, params, x, outputs, reducer, dtype, common_noise)
    size = _sweep_checks.chunk_size(chunk_size, batch)
    p, sim, state = _batched_inputs(module, params, batch, dtype, bool(common_noise))
    tree = (p, sim, state, x, step_constants(p, sim))
    mask = _batched_mask(tree, set(params))
    mesh = _sharding.mesh() if shard else None
    devices = 1 if mesh is None else mesh.size
    size = min(math.ceil(size / devices) * devices, math.ceil(batch / devices) * devices)
    starts = range(0, batch, size)
    red = _reducer(tuple(sorted(set(outputs))), reducer)
    run = lambda start: _run_chunk(
        *_sharding.place(_take(tree, mask, start, size, batch), mask, mesh), red, unroll
    )
    bar = _progress.bar(len(starts), progress if jax.process_index() == 0 else False, "sweep", "chunk")
    concrete = all(map(_checks.is_concrete, jax.tree.leaves(tree)))
    acc, ys, final = _gather(run, starts, size, batch, bar, jax.random.key_impl(state.key), concrete)
    dt = jnp.broadcast_to(sim.dt, (batch, module.size_out))
    result = _result(params, acc, ys, final, dt, x.shape[-2], tuple(outputs))
    if concrete:
        _sweep_checks.warn_diverged(result)
    return result


def _checked(module, params: dict, x, outputs, reducer, dtype, common_noise):
    """`sweep`'s arguments checked (its **Raises:**): `(module, dtype, batch, x)`, the functional layer,
    the dtype, the number of sets B and `x` as an array of that dtype."""
    module = _functional(module)
    if module.params.weights.ndim != 2:
        raise ValueError(
            f"`module` carries batch axes (weights of shape {module.params.weights.shape}); sweep one module "
            "and give the values per set in `params`."
        )
    if isinstance(outputs, str) or not isinstance(outputs, tuple | list) or not set(outputs) <= set(OUTPUTS):
        raise ValueError(f"`outputs` must be a tuple of names from {list(OUTPUTS)}; got {outputs!r}.")
    check_reducer(reducer)  # the built-in summaries are chosen by `outputs`
    dtype = module.params.tau_mem.dtype if dtype is None else jnp.dtype(dtype)
    if dtype == jnp.float64 and not jax.config.jax_enable_x64:
        raise ValueError("`dtype=float64` needs jax.config.update('jax_enable_x64', True) first.")
    if dtype not in (jnp.dtype(jnp.float32), jnp.dtype(jnp.float64)):
        raise ValueError(f"`dtype` must be float32 or float64; got {dtype}.")
    batch = _batch_size(module, params)
    if common_noise and ({"seed", "key"} & set(params)):
        raise ValueError(
            "`common_noise=True` cannot apply when `seed` or `key` is swept: give one or the other."
        )
    x = _convert.input_array("x", x).astype(dtype)
    if x.ndim not in (2, 3) or x.shape[-1] != module.size_in or (x.ndim == 3 and x.shape[0] != batch):
        raise ValueError(
            f"`x` must have shape (T, {module.size_in}) or ({batch}, T, {module.size_in}); got {x.shape}."
        )
    if x.shape[-2] == 0 and "rates" in outputs:
        raise ValueError("`outputs=('rates',)` needs at least one time step in `x` (a rate over 0 s).")
    if _checks.is_concrete(x):
        _checks.check_input_now(x)
    return module, dtype, batch, x


def _functional(module) -> FFIAF:
    if isinstance(module, FFIAF):
        return module
    inner = getattr(module, "module", None)  # FFIAFBrian: its functional layer
    if isinstance(inner, FFIAF):
        return inner
    raise TypeError(f"`module` must be a jaxiaf.FFIAF or jaxiaf.FFIAFBrian; got {type(module).__name__}.")


def _gather(run, starts, size, batch, bar, key_impl, concrete: bool = True):
    """Run every chunk; several chunks (or processes) are concatenated on the host, chunk i fetched while
    chunk i + 1 runs. (A device-side concatenation compiles one call per chunk count, whose cost grows with
    the count.) One chunk in one process, or a traced sweep (under `jax.grad`), stays on the device."""
    if not concrete:
        parts = [_trim(run(start), min(size, batch - start)) for start in starts]
        return jax.tree.map(lambda *a: jnp.concatenate(a) if a[0].ndim else a[0], *parts)
    fetch = _trim if len(starts) == 1 and jax.process_count() == 1 else _host
    parts, pending = [], None
    for start in starts:
        out = (run(start), min(size, batch - start))
        if pending is not None:
            parts.append(fetch(*pending))
        pending = out
        if bar is not None:
            bar.update()
    parts.append(fetch(*pending))
    if bar is not None:
        bar.close()
    if fetch is _trim:
        return parts[0]
    acc, ys, final = jax.tree.map(lambda *a: jnp.asarray(np.concatenate(a) if a[0].ndim else a[0]), *parts)
    return acc, ys, eqx.tree_at(lambda s: s.key, final, jax.random.wrap_key_data(final.key, impl=key_impl))


def _host(tree, keep: int):
    return jax.tree.map(lambda a: _sharding.to_host(a)[:keep] if a.ndim else _sharding.to_host(a), tree)


def _trim(tree, keep: int):
    """The first `keep` rows of every batched leaf (the rest is padding)."""
    return jax.tree.map(lambda a: a[:keep] if a.ndim and a.shape[0] != keep else a, tree)


def _result(params, acc, ys, final, dt, num_steps, outputs) -> SweepResult:
    """`dt`: (B, N) time steps (s)."""
    counts = acc.get("counts")
    first = None
    if "first_spike_times" in outputs:
        first = jnp.where(acc["first"] >= 0, (acc["first"] + 0.5) * dt, jnp.inf)
    return SweepResult(
        params={k: jnp.asarray(v) if k != "key" else v for k, v in params.items()},
        counts=counts if "counts" in outputs else None,
        rates=counts / (num_steps * dt) if "rates" in outputs else None,
        first_spike_times=first,
        spikes=ys.get("spikes"),
        v=ys.get("v"),
        reduced=acc.get("user"),
        final_state=final,
        diverged=diverged(final),
        num_steps=num_steps,
    )
