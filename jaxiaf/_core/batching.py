"""The layer's call with a batching rule: under `jax.vmap` it runs one scan with the batch in the carry.

`jax.vmap` of a layer's call (`mod(x)`, [`jaxiaf.FFIAF`][]) is caught by a rule
(`jax.custom_batching.custom_vmap`) that calls [`jaxiaf.evolve`][] once on a (B, N) state, as
[`jaxiaf.sweep`][] does: parameters that vary per set become (B, 1, ...) leaves broadcast against the
state, shared leaves stay as they are, and the outputs come back with the batch axis first. The input
matmul runs once when neither `x` nor the weights vary; a batch of modules built outside the map carries
B copies of its weights, which are compared at run time: equal, they are multiplied once. In float32 the
batch is also held as a sweep holds it where its values allow (compared at run time, see `_Compact`):
(B, N) parameters holding one value per set as (B, 1) columns, simulation parameters that all sets
share unbatched. Each case is a branch of the compiled program. Modules evolved together must be at the
same step. Row b is bit-identical to the same call without the map (float64; in float32 where the call
is built the same way, e.g. both inside `jax.jit`).

Differentiation goes around the rule (JAX cannot differentiate `custom_vmap`): the call is a
`jax.custom_jvp` whose tangents are those of the plain call, batched the ordinary way under `jax.vmap`;
its primal comes from the rule, so a differentiated call runs the forward loop twice.
"""

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.custom_batching import custom_vmap

from .pytrees import Parameters, SimulationParameters, State
from .scan import evolve

_STEP_MESSAGE = (
    "Modules evolved together under `jax.vmap` must be at the same time step (their state's `step`); "
    "these differ. Reset their time (`reset_time()`) or evolve them separately."
)


def layer_call(params: Parameters, sim: SimulationParameters, state: State, x, **options):
    """`evolve(params, sim, state, x @ weights, **options)`; under `jax.vmap`, one scan over the whole batch
    (this module's rule).

    **Arguments:** the layer's pytrees, `x` (T, N_in) input (A), and `evolve`'s static options `record`,
    `unroll`, `surrogate`, `checkpoint_every` and `reducer` (values are checked: `check=True`). A reducer
    must work element by element on the state's shape (the batch joins it: (B, N) under `jax.vmap`).

    **Returns:** what [`jaxiaf.evolve`][] returns.
    """
    return _batched_call(tuple(sorted(options.items())))(params, sim, state, x)


def _currents(x, weights, x_batched: bool, w_batched: bool):
    """`x @ weights`: (T, N), or (T, B, N) when `x` (B, T, N_in) or the weights (B, N_in, N) vary."""
    matmul = functools.partial(jnp.matmul, precision=jax.lax.Precision.HIGHEST)
    x = x.astype(weights.dtype)
    if not (x_batched or w_batched):
        return matmul(x, weights)
    per_set = jax.vmap(matmul, in_axes=(0 if x_batched else None, 0 if w_batched else None))
    return jnp.moveaxis(per_set(x, weights), 0, 1)


@functools.lru_cache(maxsize=64)
def _batched_call(options: tuple):
    options = dict(options)

    def plain(params, sim, state, x):
        return evolve(params, sim, state, _currents(x, params.weights, False, False), **options)

    fast = custom_vmap(plain)

    @fast.def_vmap
    def rule(size, in_batched, params, sim, state, x):
        pb, sb, stb, xb = in_batched
        shape = (size, *(state.v.shape[1:] if stb.v else state.v.shape))
        lift = functools.partial(_lift, size=size, ndim=len(shape))
        weights = params.weights
        params = eqx.tree_at(lambda p: p.weights, jax.tree.map(lift, params, pb), weights)
        compact = _compact(params, pb, sim, sb, shape)
        sim = jax.tree.map(lift, sim, sb)
        batch_state = _batch_state(state, stb, shape, lift)

        def run(as_sweep: bool, weights_per_set: bool):
            p, s = compact.apply(params, sim) if as_sweep else (params, sim)
            w = weights if weights_per_set or not pb.weights else weights[0]
            return evolve(p, s, batch_state, _currents(x, w, xb, weights_per_set), **options)

        out, new, rec = _choose(run, compact.holds, jnp.all(weights == weights[:1]) if pb.weights else None)
        first = lambda a: jnp.moveaxis(a, 0, 1)
        if options.get("reducer") is None:
            out = first(out)
        else:  # the accumulator has the state's (B, N) shape; the per-step outputs are (T, B, ...)
            out = (out[0], jax.tree.map(first, out[1]))
        new = eqx.tree_at(lambda s: (s.key, s.step), new, (state.key, state.step + x.shape[-2]))
        new_batched = State(
            v=True, since_spike=True, key=stb.key, step=stb.step, extra=dict.fromkeys(new.extra, True)
        )
        rec = {k: first(a) for k, a in rec.items()}
        out_batched = jax.tree.map(lambda _: True, out)
        return (out, new, rec), (out_batched, new_batched, dict.fromkeys(rec, True))

    @jax.custom_jvp
    def call(params, sim, state, x):
        return fast(params, sim, state, x)

    @call.defjvp
    def _jvp(primals, tangents):
        # the primal from the rule: under `jax.vmap`, JAX takes the batch axes of the outputs from it
        return fast(*primals), jax.jvp(plain, primals, tangents)[1]

    return call


def _lift(a, batched: bool, size: int, ndim: int):
    """A per-set leaf (B, *s) as (B, 1, ..., *s) of `ndim` axes, broadcastable to the (B, N) state."""
    if not batched:
        return a
    return a.reshape(size, *(1,) * (ndim - a.ndim), *a.shape[1:])


def _batch_state(state: State, stb: State, shape: tuple, lift) -> State:
    """The state at the batch's (B, N) shape: one noise key per set, the sets' common step (`ValueError`
    at run time, tied to `v`, if they differ)."""
    full = lambda a, b: jnp.broadcast_to(lift(a, b), shape)
    v, step = full(state.v, stb.v), state.step
    if stb.step:  # tied to `v`, which every path reads
        v, step = eqx.error_if(v, jnp.any(step != step[0]), _STEP_MESSAGE), step[0]
    return State(
        v=v,
        since_spike=full(state.since_spike, stb.since_spike),
        key=state.key if stb.key else jnp.broadcast_to(state.key, (shape[0], *state.key.shape)),
        step=step,
        extra={k: full(a, stb.extra[k]) for k, a in state.extra.items()},
    )


class _Compact(eqx.Module):
    """The batch as [`jaxiaf.sweep`][] holds it, where its values allow: each (B, N) parameter that holds
    one value per set (`set_attributes` of a scalar gives (N,) copies) as a (B, 1) column, and the
    simulation parameters that every set shares (`dt`, `noise_std`, `refractory` of a batch of modules)
    unbatched. `holds` (a traced bool; None where nothing can be compacted) says the values allow it.

    A float32 loop reads every batched leaf at every step, and per-set `dt` or `refractory` tip XLA:CPU
    into splitting each step's update over threads, which costs more than it gains. Not in float64,
    where XLA may then turn a division by `tau_mem` into a multiplication by its reciprocal."""

    holds: jax.Array | None
    columns: Parameters
    shared: SimulationParameters
    rows: SimulationParameters

    def apply(self, params: Parameters, sim: SimulationParameters):
        """`(params, sim)`, lifted as the rule lifts them, as a sweep holds them."""
        column = lambda a, wide: a[..., :1] if wide else a
        row = lambda a, first, shared: first if shared else a
        return jax.tree.map(column, params, self.columns), jax.tree.map(row, sim, self.rows, self.shared)


def _compact(params: Parameters, pb, sim: SimulationParameters, sb, shape: tuple) -> _Compact:
    """`params` lifted to the state's (B, N) `shape`; `sim` as the rule receives it ((B, ...) leaves)."""
    floating = lambda a, batched: bool(batched) and jnp.issubdtype(a.dtype, jnp.floating)
    wide = lambda a, batched: floating(a, batched) and a.shape == shape and shape[-1] > 1
    columns = eqx.tree_at(lambda p: p.weights, jax.tree.map(wide, params, pb), False)
    shared = jax.tree.map(floating, sim, sb)
    rows = jax.tree.map(lambda a, first: a[0] if first else a, sim, shared)
    tests = [
        jnp.all(a == a[..., :1]) for a, m in zip(*map(jax.tree.leaves, (params, columns)), strict=True) if m
    ]
    tests += [jnp.all(a == a[:1]) for a, m in zip(*map(jax.tree.leaves, (sim, shared)), strict=True) if m]
    if not tests or params.tau_mem.dtype == jnp.float64:
        return _Compact(None, columns, shared, rows)
    return _Compact(functools.reduce(jnp.logical_and, tests), columns, shared, rows)


def _choose(run, compact, weights_equal):
    """`run(as_sweep, weights_per_set)` in the first case that holds, each case a compiled branch: the
    batch held as a sweep holds it (`compact`, see `_Compact`) with the input multiplied once
    (`weights_equal`: a batch of modules' B copies of its weights are equal; None when the weights are
    not batched); the values as given with the input multiplied once; the input multiplied per set."""
    shared = jnp.bool_(True) if weights_equal is None else weights_equal
    cases = [((False, False), shared)]
    if compact is not None:
        cases.insert(0, ((True, False), compact & shared))
    if weights_equal is not None:
        cases.append(((False, True), jnp.bool_(True)))
    if len(cases) == 1:
        return run(*cases[0][0])
    index = jnp.argmax(jnp.stack([holds for _, holds in cases]))
    return jax.lax.switch(index, [functools.partial(run, *case) for case, _ in cases])
