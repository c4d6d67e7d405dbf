"""The pure core: per-evolve constants, the noise raster, one step, and `evolve` on one `lax.scan`.

Every wrapper (the functional module, the timed layer, sweeps, fitting) calls [`jaxiaf.evolve`][]; none
re-implements the update, the threshold or the reset.
"""

import functools

import equinox as eqx
import jax
import jax.numpy as jnp

from . import checks as _checks
from . import constants as _constants
from . import interpret as _generated
from . import noise as _noise
from . import surrogate as _surrogate
from . import synapses as _synapses
from .constants import step_constants
from .integrators import affine
from .page import declared
from .pytrees import NEVER, Parameters, SimulationParameters, State, StepConstants
from .reducer import Reducer, check_reducer
from .steps import _default_step, _model_step, default_update

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


def _sampling(sim: SimulationParameters, input_sampling: str | None) -> bool:
    """Whether the input follows Brian2's `TimedArray` rule: the equations' own sampling, or where they
    leave it to the layer (the default equations), `input_sampling` or else `sim.input_sampling`.
    `ValueError` naming `input_sampling` if it is neither None, `"held"` nor `"timed"`, or differs from
    the equations' own."""
    if input_sampling not in (None, "held", "timed"):
        raise ValueError(f"`input_sampling` must be None, 'held' or 'timed'; got {input_sampling!r}.")
    own = declared(sim.model).input_sampling
    if own is not None and input_sampling not in (None, own):
        raise ValueError(
            f"`input_sampling={input_sampling!r}`: the layer's own equations were built with "
            f"`input_sampling={own!r}`; pass None or that value."
        )
    return (own or (sim.input_sampling if input_sampling is None else input_sampling)) == "timed"


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
        "bit_exact",
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
    events: "_synapses.Events | None" = None,
    bit_exact: bool = True,
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
    next step) so that only one of its loops computes the update; the results are the same. Where
    refractoriness cannot act (`R <= 1` and `R <= since_spike <= NEVER` for every neuron at the start, e.g.
    the default `refractory = 0`), a batch in the carry ((B..., N) state) with the affine update and
    without noise, events, surrogate or checkpointing runs a second compiled loop, chosen at run time
    (`jax.lax.cond`), that keeps each neuron's last spike step instead of the counter and rebuilds
    `since_spike` after it: the same bits, faster (`benchmarks/README.md`). `R` is capped
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
    - `events`: None, or a [`jaxiaf.synapses.Events`][]: spikes (input spikes and the layer's own) that
      act on the state through weights as Brian2's `Synapses(on_pre=...)`, with the spikes still in
      transit from an earlier evolve. Step n's events are added after its threshold and reset, except
      where Brian2 loses them (it adds them between the two): on a variable that the reset assigns (`v`)
      where the neuron spiked in step n, and on an `(unless refractory)` variable where it is refractory
      or spiked; see `jaxiaf._core.synapses`. The record, the reducer and the raster see the state after
      the events.
    - `bit_exact`: static; float64 only (float32 always runs the affine update). True (default): the
      default equations' update is Brian2's expressions, bit for bit. False: the float32 path's one
      affine update per step, `v + (v_inf - v) * c` in float64 (same update, other rounding: not
      bit-equal to Brian2, and a spike may move where `v` lands within rounding of `v_thresh`); rk4
      reading the next row (`input_sampling="timed"`) keeps its own update. A fit's loss uses it
      (several times faster in float64); the module it returns still replays the exact step. A layer's
      own equations refuse False (`ValueError`). With False the constants are computed on the device
      too (`step_constants(..., bit_exact=False)`): the program holds no host callback.

    **Returns:** `(output, new_state, record)`: `output` is the (T, B..., N) spike raster (bool; 0/1
    floats with a `surrogate`), or with a
    reducer `(acc, ys)`, its final accumulator and its stacked per-step outputs; `new_state` has `step`
    advanced by T; `record` is
    `{"v": (T, B..., N) V, "spikes": (T, B..., N) bool}` if `record` else `{}`. With `events`, a fourth
    item: the `pending` spikes at the end (give them to the next evolve's [`jaxiaf.synapses.Events`][]).

    **Raises:** `ValueError` if `currents` does not match the state's shape, or for `bit_exact=False`
    with a layer's own equations; with `check`,
    `EquinoxRuntimeError` naming the parameter if a value is non-finite or out of range (`tau_mem <= 0`,
    `dt <= 0`, `noise_std < 0`, `refractory < 0`), if `currents` is not finite, if `dt / tau_mem` is beyond
    an explicit integrator's stability limit (2 for euler and rk2, 2.785 for rk4), if a layer's own
    equations' update is singular for some neurons' parameters (Brian2's `exact` solution at a degenerate
    value; the message names the parameters), if the final `v` is NaN or inf, or if `state.step + T`
    overflows its integer type (int32 with x64 off).
    """
    timed = _check_arguments(
        params, sim, state, currents, unroll, surrogate, checkpoint_every, reducer, input_sampling, bit_exact
    )
    params, sim, state, constants, unstable = _checked_values(
        params, sim, state, currents, constants, check, bit_exact
    )
    shape = state.v.shape
    constants = jax.tree.map(functools.partial(_loop_shape, shape=shape), constants)
    num_steps = currents.shape[0]
    rows = _noise.rows(sim.model, sim)
    pick = _noise.draw_source(state, shape, _noise.checked_draws(draws, num_steps, rows, shape), rows)
    names = declared(sim.model)
    primary = names.state_names[0]

    def run(free: bool):
        """The loop's `(final, stacked)`; `free`: refractoriness cannot act (`_refractory_free`)."""
        if sim.model is None:  # the default equations: the hand kernels (the fast path)
            step = _default_step(
                params, sim, state, constants, shape, surrogate, pick, timed, bit_exact, free
            )
        else:
            step = _model_step(sim.model, params, state, constants, shape, surrogate, pick)
        advance, settle, next_row = step
        if events is not None:
            steps = jnp.broadcast_to(constants.refractory_steps, shape)
            settle = _with_events(settle, events, names, state, steps, num_steps, surrogate is not None)
        last = jnp.full_like(state.since_spike, -1)  # the loop index of the last spike
        start = eqx.tree_at(lambda s: s.since_spike, state, last) if free else state
        carry0 = None if events is None else events.pending
        final, stacked = _loop(
            advance, settle, start, _source(currents, next_row), num_steps, primary,
            record, reducer, unroll, checkpoint_every, carry0,
        )  # fmt: skip
        if free:
            final = (final[0], _since_after(final[1], state.since_spike, num_steps), *final[2:])
        return final, stacked

    if _offers_free(sim, state, timed, bit_exact, surrogate, checkpoint_every, events):
        free = _refractory_free(constants.refractory_steps, state.since_spike)
        final, stacked = jax.lax.cond(free, lambda: run(True), lambda: run(False))
    else:
        final, stacked = run(False)
    out = _outputs(final, stacked, state, num_steps, primary, record, reducer, check, unstable)
    return out if events is None else (*out, final[3])


def _offers_free(sim, state, timed, bit_exact, surrogate, checkpoint_every, events) -> bool:
    """Whether [`jaxiaf.evolve`][] compiles a second loop for evolves in which refractoriness cannot act
    (chosen at run time, `_refractory_free`): a batch in the carry (a (B..., N) state: a sweep, the
    layer's call under `jax.vmap`, a fit's population; one layer's loop gains little and would compile
    twice) with the default equations' affine update (float32, or `bit_exact=False`) and without noise,
    events, a surrogate or checkpointing. That loop keeps no refractory counter (fewer operations per
    step); its results are the same bits, the counter rebuilt after it (`_since_after`)."""
    if sim.model is not None or sim.noisy or events is not None or surrogate is not None:
        return False
    if state.v.ndim < 2:
        return False
    return checkpoint_every is None and default_update(sim, state.v.dtype, timed, bit_exact)[0] is affine


def _refractory_free(refractory_steps, since_spike):
    """True where refractoriness cannot act in any step: `R <= 1` and `R <= since_spike <= NEVER` for
    every neuron. Then `since_spike >= R` before the first step, a spike sets the counter to 1 >= R, and
    `min(since + 1, NEVER)` neither overflows nor falls below R."""
    shape = jnp.broadcast_shapes(jnp.shape(refractory_steps), jnp.shape(since_spike))
    steps, since = (jnp.broadcast_to(a, shape) for a in (refractory_steps, since_spike))
    return jnp.all((steps <= 1) & (steps <= since) & (since <= NEVER))


def _since_after(last, since_spike, num_steps: int):
    """The refractory counter after `num_steps` steps in which refractoriness could not act, from the loop
    index of each neuron's last spike (`last`, -1 if none) and the counter before them: `num_steps -
    last` since the last spike, else the counter advanced `num_steps` times; both saturate at `NEVER`."""
    advanced = jnp.where(since_spike >= NEVER - num_steps, NEVER, since_spike + num_steps)
    return jnp.where(last >= 0, jnp.minimum(num_steps - last, NEVER), advanced)


def _with_events(settle, events, names, state, steps, num_steps: int, surrogate: bool):
    """`settle` followed by the synaptic events of the step (`jaxiaf._core.synapses.deliver`), threading
    the spikes in transit; `names`: the layer's declared names (`jaxiaf._core.page.declared`); `steps`:
    the refractory steps at the state's shape; with a `surrogate`, the layer's own spikes reach the events
    they cause as 0/1 floats with the surrogate's derivative. `ValueError` naming the field for events
    that do not fit the layer."""
    own = state.v.dtype if surrogate else bool
    _synapses.check_events(events, names.state_names, steps.shape, num_steps, own)
    lost = _synapses.lost_on_reset(names.on_spike, events)
    flagged = frozenset(names.flags)
    first = state.step

    def settle_events(w, since_before, n, pending):
        spike, vals, since = settle(w, since_before, n)
        fired = spike if spike.dtype == bool else spike != 0
        # Brian2's `not_refractory` of the step: under a refractory condition, the counter after it
        not_refractory = since != 0 if names.refractory_condition else since_before >= steps
        acts = _synapses.acting(fired, not_refractory, lost, flagged)
        vals, pending = _synapses.deliver(events, vals, spike, n - first, pending, acts)
        return spike, vals, since, pending

    return settle_events


def _check_arguments(
    params, sim, state, currents, unroll, surrogate, checkpoint_every, reducer, input_sampling, bit_exact
):
    """The structural checks of [`jaxiaf.evolve`][]'s arguments (`ValueError` / `TypeError` naming the
    argument); returns whether the input follows Brian2's `TimedArray` rule (`_sampling`)."""
    if not isinstance(bit_exact, bool):
        raise TypeError(f"`bit_exact` must be True or False; got {bit_exact!r}.")
    if not bit_exact and sim.model is not None:
        raise ValueError(
            "`bit_exact=False` applies to the default equations only; a layer's own equations always run "
            "Brian2's generated statements (pass True)."
        )
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
    sampling = _sampling(sim, input_sampling)
    _surrogate.check_options(surrogate, checkpoint_every)
    check_reducer(reducer)
    return sampling


def _checked_values(params, sim, state, currents, constants, check: bool, bit_exact: bool):
    """`(params, sim, state, constants, unstable)`: with `check`, the values tied to their runtime checks
    (`checked`, the input's finiteness, a layer's own equations' singular updates (by the parameters'
    names, `jaxiaf._core.interpret.check_singular`) and, for the default equations, the integrator's
    stability, tied to `v`, which every path reads); the constants computed if not given; `unstable`
    (bool) where the integrator's stability limit is exceeded (`jaxiaf._core.constants.tied_stability`)."""
    if check:
        params, sim = checked(params, sim)
        v = _checks.tie_input_check(state.v, currents, "currents")
        v = _generated.check_singular(params, sim, v)  # names the parameters of a singular update
        state = State(v, state.since_spike, state.key, state.step, state.extra)
    if constants is None:
        constants = step_constants(params, sim, bit_exact)
    v, unstable = _constants.tied_stability(state.v, constants, sim, check)
    return params, sim, eqx.tree_at(lambda s: s.v, state, v), constants, unstable


def _source(currents, next_row: bool):
    """The rows the loop reads: `currents`, with each step's next row beside it where the input follows
    Brian2's `TimedArray` rule with rk4 (the last row repeats, as past the end of a TimedArray); one row
    of zeros for an evolve of no steps."""
    if not currents.shape[0]:
        return jnp.zeros((1, *currents.shape[1:]), currents.dtype)
    if next_row:
        return jnp.stack([currents, jnp.concatenate([currents[1:], currents[-1:]])], axis=1)
    return currents


def _loop(
    advance,
    settle,
    state,
    source,
    num_steps: int,
    primary: str,
    record: bool,
    reducer,
    unroll,
    checkpoint_every,
    pending,
):
    """The `lax.scan` over the steps: `((values, since, acc, pending), (kept, ys, raster))`; `pending`: None,
    or the spikes in transit (`settle` then takes and returns them). The values are `{name: array}` by the
    declared state names, `primary` (`State.v`) first.

    The loop is pipelined: iteration k settles (threshold, reset) the update computed by the previous
    iteration, then updates step k + 1. The carry holds the un-reset values, so the counter, the reducer
    and the outputs read stored values: XLA:CPU's one loop per carried array recomputes the update only in
    the loop of the updated values."""

    def body(carry, k, u):
        w, since_before, acc, pending = carry
        if pending is None:
            spike, v, since = settle(w, since_before, state.step + k)
        else:
            spike, v, since, pending = settle(w, since_before, state.step + k, pending)
        y = None
        if reducer is not None:
            acc, y = reducer.update(acc, k, spike, v[primary])
        w = advance(v, since, u, state.step + k + 1, active=k + 1 < num_steps)
        kept = (spike, v) if record else None
        return (w, since, acc, pending), (kept, y, spike if reducer is None and not record else None)

    acc0 = None if reducer is None else reducer.init(state.v.shape, state.v.dtype)
    v0 = {primary: state.v, **state.extra}
    w0 = advance(v0, state.since_spike, source[0], state.step, active=num_steps > 0)
    carry0 = (w0, state.since_spike, acc0, pending)
    return _surrogate.scan(body, carry0, source, num_steps, unroll, checkpoint_every)


def _outputs(
    final, stacked, state, num_steps: int, primary: str, record: bool, reducer, check: bool, unstable
):
    """[`jaxiaf.evolve`][]'s `(output, new_state, record)` from the loop's final carry and stacked outputs;
    with `check`, the final state tied to the finiteness check and `step` to the overflow check."""
    (v, since, acc, _), (kept, ys, raster) = final, stacked
    step = state.step
    values = {k: x for k, x in v.items() if k[0] != _generated.CARRIED}
    if check:
        finite = jnp.all(jnp.asarray([jnp.all(jnp.isfinite(x)) for x in values.values()]))
        values[primary] = eqx.error_if(values[primary], ~finite & ~unstable, _NONFINITE)
        last = jnp.iinfo(jnp.asarray(step).dtype).max - num_steps
        step = eqx.error_if(step, step > last, _step_message(step, num_steps))
    extra = {k: x for k, x in values.items() if k != primary}
    new_state = State(v=values[primary], since_spike=since, key=state.key, step=step + num_steps, extra=extra)
    rec = {**kept[1], "spikes": kept[0]} if record else {}
    if reducer is not None:
        return (acc, ys), new_state, rec
    return (kept[0] if record else raster), new_state, rec
