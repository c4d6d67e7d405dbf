"""The pure core: per-evolve constants, the noise raster, one step, and `evolve` on one `lax.scan`.

Every wrapper (the functional module, the timed layer, sweeps, fitting) calls [`jaxiaf.evolve`][]; none
re-implements the update, the threshold or the reset.
"""

import functools
import inspect
from collections.abc import Callable
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._equations import affine as _affine
from .._equations import interpret as _generated
from . import checks as _checks
from . import noise as _noise
from . import surrogate as _surrogate
from .integrators import (
    READS_NEXT_ROW,
    STABILITY_LIMITS,
    TIMED_ORDER,
    affine,
    coefficient,
    resolve_integrator,
)
from .pytrees import NEVER, Parameters, SimulationParameters, State, StepConstants


# The host callbacks convert their arguments with `np.asarray`: JAX may hand a callback jax Arrays, whose
# arithmetic would launch XLA computations from inside the callback (a float64 sweep deadlocked that way).
def _host_decay(dt, tau):
    dt, tau = np.asarray(dt), np.asarray(tau)
    return dt, tau, np.exp((-dt) / tau)


def _host_steps(refractory, dt):
    refractory, dt = np.asarray(refractory), np.asarray(dt)
    steps = np.minimum((refractory + 1e-3 * dt) / dt, NEVER)
    return np.asarray(steps, dtype=np.int64).astype(np.int32)


def _refractory_steps(sim: SimulationParameters, dtype):
    """`int((refractory + 1e-3*dt) / dt)` (Brian2's `timestep`), capped at `NEVER`, of the shape of
    `refractory` and `dt`: with NumPy on the host in float64, on the device in float32. Piecewise
    constant: no gradient flows through it."""
    r_dt = jnp.broadcast_shapes(sim.refractory.shape, sim.dt.shape)
    refractory = jax.lax.stop_gradient(jnp.broadcast_to(sim.refractory, r_dt).astype(dtype))
    dt = jax.lax.stop_gradient(jnp.broadcast_to(sim.dt, r_dt).astype(dtype))
    if dtype == jnp.float64:
        like = jax.ShapeDtypeStruct(r_dt, jnp.int32)
        return jax.pure_callback(_host_steps, like, refractory, dt, vmap_method="broadcast_all")
    return jnp.floor(jnp.minimum((refractory + 1e-3 * dt) / dt, NEVER)).astype(jnp.int32)


_NONFINITE = (
    "The membrane potential `v` (or another state variable) became NaN or inf: the initial state is not "
    "finite, the input currents (`x @ weights`) overflow the float dtype, or a layer's own equations are "
    "undefined for its parameters (e.g. Brian2's `exact` solution at a degenerate value, or an unstable "
    "explicit integrator: use a smaller `dt`)."
)


def _step_message(step, num_steps) -> str:
    dtype = jnp.asarray(step).dtype
    return (
        f"The state's `step` + {num_steps} steps would overflow its {dtype} counter (max "
        f"{jnp.iinfo(dtype).max}); with float32 layers (x64 off) evolve at most 2**31 - 1 steps in all, or "
        "reset the layer."
    )


def _unstable(xp, c, name: str):
    """Where an explicit integrator's update grows without bound: `|1 - c| > 1` (or `c` not finite)."""
    if name not in STABILITY_LIMITS:
        return xp.zeros(xp.shape(c), bool)
    return ~(xp.abs(1 - xp.asarray(c)) <= 1)


def _stability_message(name: str) -> str:
    if name not in STABILITY_LIMITS:
        return ""
    return (
        f"`dt / tau_mem` must be <= {STABILITY_LIMITS[name]:.4g} with `integrator_name={name!r}` for every "
        "neuron: beyond it the integrator is numerically unstable (`v` grows without bound to NaN). Use a "
        "smaller `dt`, a larger `tau_mem`, or `integrator_name='exact'`."
    )


def step_constants(params: Parameters, sim: SimulationParameters) -> StepConstants:
    """The constants every step reads, computed once per evolve.

    In float64 they are computed on the host with NumPy (`exp(-dt / tau_mem)`, Brian2's
    `timestep(refractory, dt)`), bit for bit as Brian2's runtime computes them; XLA's `exp` differs from
    NumPy's by one ulp on about one value in ten, enough to move a spike where `v` grazes the threshold.
    Passing `dt` and `tau_mem` through the same call also keeps them runtime values, so XLA cannot turn
    `x / tau_mem` into `x * (1 / tau_mem)` when a module is closed over by `jit`. In float32 everything
    stays on the device.

    Called outside `jit` (as [`jaxiaf.sweep`][] does before it shards a batch), the host computation runs
    at once; the result can then be passed to [`jaxiaf.evolve`][] as `constants`.

    **Returns:** a [`jaxiaf.StepConstants`][]; each leaf keeps the shape of the values it depends on
    (`dt`, `tau_mem`, `decay`: their common shape; `refractory_steps`: that of `refractory` and `dt`;
    `noise_scale`: that of `noise_std` and `decay`), so a batch of B sets that sweeps only `tau_mem` as
    (B, 1) stores (B, 1) constants, not (B, N). `evolve` gives them their loop shapes (`_loop_shape`).
    """
    if sim.model is None:
        resolve_integrator(sim.integrator_name)
    constants = _constants(params, sim)
    c = constants.coefficient
    if sim.model is None and _checks.is_concrete(c) and np.any(_unstable(np, c, sim.integrator_name)):
        raise ValueError(_stability_message(sim.integrator_name))
    return constants


@jax.jit
def _constants(params: Parameters, sim: SimulationParameters) -> StepConstants:
    """`step_constants`' computation as one compiled program: called eagerly, it would otherwise run (and
    in a fresh process load from the persistent compilation cache) one small program per operation,
    most of a warm process's first call."""
    dtype = params.tau_mem.dtype
    if sim.model is not None:
        return _model_constants(params, sim, dtype)
    dt_tau = jnp.broadcast_shapes(params.tau_mem.shape, sim.dt.shape)
    tau = jnp.broadcast_to(params.tau_mem, dt_tau)
    dt = jnp.broadcast_to(sim.dt, dt_tau).astype(dtype)
    if dtype == jnp.float64:
        dt, tau, decay = _host_call(dt, tau)
    else:
        decay = jnp.exp((-dt) / tau)
    steps = _refractory_steps(sim, dtype)
    shape = jnp.broadcast_shapes(sim.noise_std.shape, decay.shape)
    # 1 - E as written (Brian2's bits), or -expm1(-dt/tau) where E rounds to 1 (tau_mem >> dt in float32)
    one_minus = jnp.where(decay == 1, -jnp.expm1((-dt) / tau), 1 - decay)
    gain = jnp.broadcast_to(jnp.sqrt((1 + decay) / one_minus), shape)
    noise_scale = jnp.broadcast_to(sim.noise_std, shape) * gain
    return StepConstants(dt, tau, decay, steps, noise_scale, coefficient(sim.integrator_name, dt / tau))


def _model_constants(params: Parameters, sim: SimulationParameters, dtype) -> StepConstants:
    """A model layer's constants: `dt`, the refractory steps (from the model's period expression, or from
    `sim.refractory` as for the default equations) and the model's loop-invariant values."""
    dt, steps, scalars = _generated.constants(params, sim, dtype)
    if _affine.applies(sim.model, dtype):
        values = _generated.parameters(sim.model, params)
        scalars = {**scalars, **_affine.maps(sim.model, values, dt, params.weights.shape[-1], dtype)}
    if steps is None:
        steps = _refractory_steps(sim, dtype)
    return StepConstants(dt, None, None, steps, None, None, scalars)


@jax.custom_jvp
def _host_call(dt, tau):
    like = jax.ShapeDtypeStruct(dt.shape, dt.dtype)
    return jax.pure_callback(_host_decay, (like, like, like), dt, tau, vmap_method="broadcast_all")


@_host_call.defjvp
def _host_call_jvp(primals, tangents):
    """The host constants' derivatives (a callback has none):
    `d decay = decay * (dt dtau / tau - ddt) / tau`."""
    dt, tau, decay = _host_call(*primals)
    ddt, dtau = tangents
    return (dt, tau, decay), (ddt, dtau, decay * ((dt * dtau) / tau - ddt) / tau)


class Reducer(NamedTuple):
    """A summary computed inside the scan, so that the (T, ..., N) raster is never stored.

    - `init(shape, dtype) -> acc`: the initial accumulator (a pytree) for a state `v` of `shape`.
    - `update(acc, k, spike, v) -> (acc, y)`: fold in step `k` (int, from 0 in this evolve) with its
      `spike` (bool, `shape`) and `v` after reset (`shape`, V); `y` (a pytree, or None) is stacked over
      the steps, for the per-step outputs one does want to keep.

    Pass the same `Reducer` object again to reuse the compiled loop (it is a static argument).
    """

    init: Callable
    update: Callable


def check_reducer(reducer) -> None:
    """`TypeError` naming the argument: `reducer` not a [`Reducer`][] (or None), or its `init` / `update`
    not callable with `(shape, dtype)` / `(acc, k, spike, v)`."""
    if reducer is None:
        return
    if not isinstance(reducer, Reducer):
        raise TypeError(
            f"`reducer` must be a jaxiaf.Reducer(init, update) or None; got {type(reducer).__name__}."
        )
    for field, arguments in (("init", "shape, dtype"), ("update", "acc, k, spike, v")):
        function = getattr(reducer, field)
        try:
            inspect.signature(function).bind(*arguments.split(", "))
        except TypeError:
            raise TypeError(f"`reducer.{field}` must be callable as {field}({arguments}).") from None
        except ValueError:  # a builtin without a signature: called as it is
            pass


def _broadcast(params: Parameters, consts: StepConstants, shape):
    """Per-neuron values broadcast to the state's shape; done inside the step, where XLA fuses it away
    instead of storing (B, N) copies of values that are shared by the batch."""
    cast = lambda a: jnp.broadcast_to(a, shape)
    fields = ("bias", "tau_mem", "v_thresh", "v_reset", "v_rest")
    return Parameters(params.weights, *(cast(getattr(params, f)) for f in fields)), jax.tree.map(cast, consts)


def _loop_shape(constant, shape):
    """A constant at the shape it enters the loop with.

    float64: the state's full shape. Broadcast inside the step, XLA turns a division by a broadcast
    `tau_mem` into a multiplication by its reciprocal, one ulp away from Brian2's `x / tau_mem`.
    float32: full along the neuron axis only. XLA:CPU recomputes broadcast indices along the minor axis in
    every fused loop, which slows float32 sweeps, while a broadcast along a leading axis (a fit's trials)
    is cheap and lets XLA multiply by `1 / tau_mem`.
    """
    if constant.dtype == jnp.float64:
        return jnp.broadcast_to(constant, shape)
    return jnp.broadcast_to(constant, jnp.broadcast_shapes(constant.shape, shape[-1:]))


def _default_step(params, sim, state, constants, shape, surrogate, pick, timed: bool):
    """`advance` and `settle` of the default equations (`jaxiaf._core.integrators`), see
    [`jaxiaf.evolve`][]. `timed`: Brian2's `TimedArray` rule; with rk4 each step's `u` then holds its row
    and the next (`u_next`; float32 then runs rk4's expressions, not the affine update, which assumes one
    input over the step), with `exact` Brian2's order of its terms for that rule (`TIMED_ORDER`)."""
    name = sim.integrator_name
    next_row = timed and name in READS_NEXT_ROW
    update = resolve_integrator(name)
    update = TIMED_ORDER.get(name, update) if timed else update
    update = update if state.v.dtype == jnp.float64 or next_row else affine

    def advance(v, since, u, n, active):
        """`v` after the update of global step `n` (before threshold and reset); held while refractory."""
        p, consts = _broadcast(params, constants, shape)
        nr = (since >= consts.refractory_steps) & active
        u, rows = (u[0], {"u_next": jnp.broadcast_to(u[1], shape)}) if next_row else (u, {})
        u = jnp.broadcast_to(u, shape)
        if sim.noisy:  # the layer's noise is held over the step under either sampling
            noise = jnp.where(nr, consts.noise_scale * pick(n, v.dtype)[0], 0.0)
            u, rows = u + noise, {k: x + noise for k, x in rows.items()}
        return jnp.where(nr, update(v, u, p, consts, nr, **rows), v)

    def settle(w, since, n):
        """Threshold and reset of step `n`, which took `v` to `w`, `since` being the counter before it."""
        p, consts = _broadcast(params, constants, shape)
        nr = since >= consts.refractory_steps
        fired, spike = _surrogate.threshold(surrogate, w, p.v_thresh, p.v_reset, nr)
        v = _surrogate.reset(surrogate, fired, spike, w, p.v_reset)
        return spike, v, jnp.where(fired, 1, jnp.minimum(since + 1, NEVER))

    return advance, settle


def _model_step(model, params, state, constants, shape, surrogate, pick):
    """`advance` and `settle` of a layer's own equations: Brian2's generated statements
    (`jaxiaf._equations.interpret`) on a dict of the state variables (the primary one, `State.v`, first).

    Noise: `pick(n, dtype)` gives step n's D rows of N draws (`jaxiaf._core.noise.draw_source`): the
    first `model.draws` rows are the update's `xi`/`randn()` terms in Brian2's order, the others the
    threshold's and then the reset's `randn()` calls."""
    env = _generated.loop_env(model, params, constants, shape)
    steps = jnp.broadcast_to(constants.refractory_steps, shape)
    linear = _affine.applies(model, state.v.dtype)
    later = _noise.rows(model, None) - model.draws

    def advance(vals, since, u, n, active):
        nr = _generated.not_refractory_before(model, since, steps)
        u, u_next = (u[0], jnp.broadcast_to(u[1], shape)) if model.next_row else (u, None)
        if linear:
            return _affine.advance(model, env, vals, nr, jnp.broadcast_to(u, shape), active)
        primary = vals[model.state_names[0]]
        draws = pick(n, primary.dtype)[: model.draws] if model.draws else None
        u = jnp.broadcast_to(u, shape)
        return _generated.advance(model, env, vals, since, nr, u, n, draws, active, u_next)

    def settle(vals, since, n):
        nr = _generated.not_refractory_before(model, since, steps)
        draws = pick(n, vals[model.state_names[0]].dtype)[model.draws :] if later else None
        fired, spike, vals, since = _generated.settle(model, env, vals, since, nr, n, draws, surrogate)
        return spike, vals, since

    return advance, settle


def _sampling(sim: SimulationParameters, input_sampling: str | None) -> tuple:
    """`(timed, next_row)`: whether the input follows Brian2's `TimedArray` rule and whether each step
    reads its next row; `ValueError` naming `input_sampling` if it is neither None, `"held"` nor
    `"timed"`, or differs from a layer's own equations' sampling."""
    if input_sampling not in (None, "held", "timed"):
        raise ValueError(f"`input_sampling` must be None, 'held' or 'timed'; got {input_sampling!r}.")
    model = sim.model
    if model is not None:
        if input_sampling not in (None, model.input_sampling):
            raise ValueError(
                f"`input_sampling={input_sampling!r}`: the layer's own equations were built with "
                f"`input_sampling={model.input_sampling!r}`; pass None or that value."
            )
        return model.input_sampling == "timed", model.next_row
    timed = (sim.input_sampling if input_sampling is None else input_sampling) == "timed"
    return timed, timed and sim.integrator_name in READS_NEXT_ROW


def checked(params: Parameters, sim: SimulationParameters):
    """`params` and `sim` tied to runtime checks of every value (see `jaxiaf._core.checks`)."""
    fields = {f: _checks.traced(f, getattr(params, f)) for f in Parameters.__annotations__ if f != "extra"}
    extra = {n: _checks.ensure(n, value, "finite", "SI units") for n, value in params.extra.items()}
    params = Parameters(**fields, extra=extra)
    sim = SimulationParameters(
        dt=_checks.traced("dt", sim.dt),
        noise_std=_checks.traced("noise_std", sim.noise_std),
        refractory=_checks.traced("refractory", sim.refractory),
        integrator_name=sim.integrator_name,
        noisy=sim.noisy,
        model=sim.model,
    )
    return params, sim


def _check_shapes(params: Parameters, sim: SimulationParameters, state: State) -> None:
    """`ValueError` naming the leaf whose shape does not broadcast to the state's `(B..., N)` (a parameter
    of another layer size), or a noise key without the state's batch shape (one key per batch entry)."""
    shape = state.v.shape
    leaves = {k: v for k, v in params.named().items() if k != "weights"}
    leaves.update(dt=sim.dt, noise_std=sim.noise_std, refractory=sim.refractory)
    leaves.update({k: v for k, v in state.named().items() if k not in ("key", "step")})
    for name, value in leaves.items():
        try:
            fits = jnp.broadcast_shapes(jnp.shape(value), shape) == shape
        except ValueError:
            fits = False
        fits = fits or (len(shape) > 1 and jnp.shape(value) == shape[:-1])  # one value per set (a sweep's dt)
        if not fits:
            raise ValueError(
                f"`{name}` has shape {jnp.shape(value)}, which does not broadcast to the state's {shape} "
                "(per neuron: () or (N,); in a batch, (B..., N), (B..., 1) or (B...,))."
            )
    key_shape = jnp.shape(state.key)
    if jnp.issubdtype(state.key.dtype, jax.dtypes.prng_key) and sim.noisy and key_shape != shape[:-1]:
        raise ValueError(
            f"`state.key` has shape {key_shape}; a noisy state of shape {shape} needs one key per batch "
            f"entry, shape {shape[:-1]} (e.g. `jax.random.split(key, {shape[0] if shape[:-1] else 1})`)."
        )


@functools.partial(
    jax.jit,
    static_argnames=(
        "record",
        "reducer",
        "check",
        "unroll",
        "surrogate",
        "checkpoint_every",
        "input_sampling",
    ),
)
def evolve(
    params: Parameters,
    sim: SimulationParameters,
    state: State,
    currents,
    *,
    record: bool = False,
    reducer: Reducer | None = None,
    check: bool = True,
    constants: StepConstants | None = None,
    unroll: int = 1,
    surrogate: "_surrogate.Surrogate | None" = None,
    checkpoint_every: int | None = None,
    draws=None,
    input_sampling: str | None = None,
):
    """Evolve the layer over the T steps of `currents`: the pure core every wrapper calls.

    Per step n (Brian2's schedule: state update, threshold, reset), per neuron:

    ```
    nr    = since_spike >= R                      # R = int((refractory + 1e-3*dt) / dt)
    u     = currents[n] + noise_scale * xi[n]     # xi ~ N(0, 1) from fold_in(key, step + n), if sim.noisy
    v     = where(nr, UPDATE(v, u), v)            # v held bit-exactly while refractory
    spike = (v > v_thresh) & nr                   # strict threshold, none while refractory
    v     = where(spike, v_reset, v)
    since_spike = where(spike, 1, min(since_spike + 1, 2**30))
    ```

    `UPDATE` is the integrator's update (see `jaxiaf._core.integrators`: Brian2's expressions in float64, one
    affine update `v + (v_inf - v) * c` in float32), with the input held constant over the step, or
    under `input_sampling="timed"` by Brian2's `TimedArray` rule: rk4's last stage (at `t + dt`) reads
    `currents[n + 1]` (the last row repeats, so evolving in chunks differs from one call in the last
    step of each chunk), every other stage reads `currents[n]`; the noise current is held over the step
    under either rule. The
    compiled loop is pipelined (each iteration thresholds and resets the previous update, then updates the
    next step) so that only one of its loops computes the update; the results are the same. `R` is capped
    at `NEVER` = 2**30. `noise_scale = noise_std * sqrt((1 + E) / (1 - E))`, `E = exp(-dt / tau_mem)`,
    makes `noise_std` the stationary standard deviation of `v` under the noise alone. A refractory period
    of R*dt freezes the R-1 steps after a spike: the shortest inter-spike interval is max(R, 1) steps.

    A layer's own equations (`sim.model`) run Brian2's generated statements in its order instead: the
    `(constant over dt)` subexpressions and the state update (`I_inp` the step's row, or by Brian2's
    `TimedArray` rule under `input_sampling="timed"`), then the threshold's statements and condition and
    the reset, reading `t`, `I_inp`, `lastspike` and the subexpressions as Brian2 does. A refractoriness
    of the state or a refractory condition is evaluated every step; under a condition `since_spike` is
    0 from a spike until the condition stops holding. A model without a threshold never spikes.

    The state may carry leading batch axes (`v` of shape (B..., N), one key per batch entry): the batch is
    then part of the scan carry and every step updates all of it at once. Parameters and `currents` are
    broadcast to it.

    **Arguments:**

    - `params`: [`jaxiaf.Parameters`][] (`bias`, `tau_mem`, `v_thresh`, `v_reset`, `v_rest` are read;
      each broadcastable to the state's shape).
    - `sim`: [`jaxiaf.SimulationParameters`][].
    - `state`: [`jaxiaf.State`][] at the start.
    - `currents`: (T, N), or (T, ..., N) with trailing batch axes of the state, input current of each
      step, `x @ weights` (A); broadcast over the state's leading axes.
    - `record`: static; if True, also return the per-step `v` (after reset) and the spike raster.
    - `reducer`: static; a [`jaxiaf.Reducer`][] to fold each step into a summary instead of returning
      the spike raster.
    - `check`: static; runtime checks of the values (below). A caller that has checked them eagerly
      (as [`jaxiaf.sweep`][] does) may switch them off.
    - `constants`: the [`jaxiaf.StepConstants`][] of `params` and `sim`, if already computed by
      [`jaxiaf.step_constants`][] (default: computed here). [`jaxiaf.sweep`][] computes them before it
      shards a batch, so that no host callback runs inside a sharded computation.
    - `unroll`: static; steps per iteration of the compiled loop (`lax.scan(unroll=...)`), same results.
      On a GPU each loop iteration costs a few microseconds of launch and synchronisation, which
      dominates small layers: `unroll=8` or more amortises it. On a CPU keep 1 (XLA:CPU then duplicates
      the update into every fusion and runs slower; see `benchmarks/README.md`).
    - `surrogate`: static; None (default): the spikes are bool and carry no gradient. A
      `jaxiaf.surrogate.Surrogate` (e.g. `SuperSpike()`): the spikes (raster, record, reducer) are 0/1
      floats of `v`'s dtype whose derivative is the surrogate's; `v` and the spikes are bit-identical
      (see `jaxiaf._core.surrogate`).
    - `draws`: None (default: the noise is drawn from the state's key), or (T, D, B..., N) unit normal
      draws to use instead, D per neuron and step: 1 for the default equations' noise; for a layer's own
      equations its update's `xi` terms in Brian2's order (`Model.draws`), then the threshold's and the
      reset's `randn()` calls. From the key, step n's draws are `normal(fold_in(key, step + n), (D * N,))`
      read as D rows of N (one key per batch entry), so the layer's own draws can be read back.
    - `input_sampling`: static; None (default): `"held"` for the default equations, a layer's own
      equations' `Model.input_sampling` for them; `"held"` or `"timed"` (see above) to choose for the
      default equations (for a layer's own equations it must equal the model's).
    - `checkpoint_every`: static; None, or C steps per `jax.checkpoint` chunk: reverse mode then stores
      the carry once per C steps and recomputes each chunk (memory `O(T / C + C)` instead of `O(T)`;
      a C that divides T saves a copy of `currents`).

    **Returns:** `(output, new_state, record)`: `output` is the (T, B..., N) spike raster (bool; 0/1
    floats with a `surrogate`), or with a
    reducer `(acc, ys)`, its final accumulator and its stacked per-step outputs; `new_state` has `step`
    advanced by T; `record` is
    `{"v": (T, B..., N) V, "spikes": (T, B..., N) bool}` if `record` else `{}`.

    **Raises:** `ValueError` if `currents` does not match the state's shape; with `check`,
    `EquinoxRuntimeError` naming the parameter if a value is non-finite or out of range (`tau_mem <= 0`,
    `dt <= 0`, `noise_std < 0`, `refractory < 0`), if `currents` is not finite, if `dt / tau_mem` is beyond
    an explicit integrator's stability limit (2 for euler and rk2, 2.785 for rk4), if the final `v` is NaN
    or inf, or if `state.step + T` overflows its integer type (int32 with x64 off).
    """
    shape = state.v.shape
    tail = currents.shape[1:]
    if currents.ndim < 2 or len(tail) > len(shape) or shape[len(shape) - len(tail) :] != tail:
        raise ValueError(
            f"`currents` must have shape (T, ...) with trailing axes of the state's {shape}, e.g. "
            f"(T, {shape[-1]}); got {currents.shape}."
        )
    if not isinstance(unroll, int) or isinstance(unroll, bool) or unroll < 1:
        raise ValueError(f"`unroll` must be a positive integer; got {unroll!r}.")
    _check_shapes(params, sim, state)
    timed, next_row = _sampling(sim, input_sampling)
    _surrogate.check_options(surrogate, checkpoint_every)
    check_reducer(reducer)
    if check:
        params, sim = checked(params, sim)
        v = _checks.tie_input_check(state.v, currents, "currents")
        state = State(v, state.since_spike, state.key, state.step, state.extra)
    model = sim.model
    if model is not None and surrogate is not None:
        _generated.crossing(model)  # `ValueError` for a threshold without a level
        if not surrogate.detach_reset:
            raise ValueError(
                "`surrogate`: with a layer's own equations the reset is detached (`detach_reset=True`)."
            )
    if constants is None:
        constants = step_constants(params, sim)
    if model is None:
        unstable = jnp.any(_unstable(jnp, constants.coefficient, sim.integrator_name))
        if check:  # tied to `v`, which every path reads (float64 does not read the coefficient)
            state = eqx.tree_at(
                lambda s: s.v, state, eqx.error_if(state.v, unstable, _stability_message(sim.integrator_name))
            )
    else:
        unstable = False
    constants = jax.tree.map(functools.partial(_loop_shape, shape=shape), constants)
    num_steps = currents.shape[0]
    if next_row and num_steps:
        # each step reads its row and the next (the last row repeats, as past the end of a TimedArray)
        currents = jnp.stack([currents, jnp.concatenate([currents[1:], currents[-1:]])], axis=1)
        tail = currents.shape[1:]
    rows = _noise.rows(model, sim)
    pick = _noise.draw_source(state, shape, _noise.checked_draws(draws, num_steps, rows, shape), rows)
    if model is None:
        advance, settle = _default_step(params, sim, state, constants, shape, surrogate, pick, timed)
    else:
        advance, settle = _model_step(model, params, state, constants, shape, surrogate, pick)

    def body(carry, k, u):
        # Step k settles (threshold, reset) the update computed by the previous iteration, then updates
        # step k + 1. The carry holds the un-reset `w`, so the counter, the reducer and the outputs read
        # stored values: XLA:CPU's one loop per carried array recomputes the update only in `w`'s loop.
        w, since_before, acc = carry
        spike, v, since = settle(w, since_before, state.step + k)
        y = None
        if reducer is not None:
            acc, y = reducer.update(acc, k, spike, v if model is None else v[primary])
        w = advance(v, since, u, state.step + k + 1, active=k + 1 < num_steps)
        kept = (spike, v) if record else None
        return (w, since, acc), (kept, y, spike if reducer is None and not record else None)

    acc0 = None if reducer is None else reducer.init(shape, state.v.dtype)
    source = currents if num_steps else jnp.zeros((1, *tail), currents.dtype)
    primary = "v" if model is None else model.state_names[0]
    v0 = state.v if model is None else {primary: state.v, **state.extra}
    w0 = advance(v0, state.since_spike, source[0], state.step, active=num_steps > 0)
    carry0 = (w0, state.since_spike, acc0)
    (v, since, acc), (kept, ys, raster) = _surrogate.scan(
        body, carry0, source, num_steps, unroll, checkpoint_every
    )
    step = state.step
    values = {"v": v} if model is None else {k: x for k, x in v.items() if k[0] != _generated.CARRIED}
    if check:
        finite = jnp.all(jnp.asarray([jnp.all(jnp.isfinite(x)) for x in values.values()]))
        values[primary] = eqx.error_if(values[primary], ~finite & ~unstable, _NONFINITE)
        last = jnp.iinfo(jnp.asarray(step).dtype).max - num_steps
        step = eqx.error_if(step, step > last, _step_message(step, num_steps))
    extra = {k: x for k, x in values.items() if k != primary}
    new_state = State(v=values[primary], since_spike=since, key=state.key, step=step + num_steps, extra=extra)
    if record:
        rec = {"v": kept[1], "spikes": kept[0]} if model is None else {**kept[1], "spikes": kept[0]}
    else:
        rec = {}
    if reducer is not None:
        return (acc, ys), new_state, rec
    return (kept[0] if record else raster), new_state, rec
