"""One step of the layer, as two functions the loop calls: `advance` (the state update of a step) and
`settle` (its threshold and reset), for the default equations' kernels and for a layer's own equations.
Both carry the state variables as one dict `{name: array}` by their declared names
(`jaxiaf._core.page.declared`)."""

import jax
import jax.numpy as jnp

from . import affine as _affine
from . import interpret as _generated
from . import noise as _noise
from . import surrogate as _surrogate
from .integrators import READS_NEXT_ROW, TIMED_ORDER, affine, resolve_integrator
from .page import PAGE
from .pytrees import NEVER, Parameters, StepConstants

(_V,) = PAGE.state_names  # the default equations' one state variable, `v`


def _broadcast(params: Parameters, consts: StepConstants, shape):
    """Per-neuron values broadcast to the state's shape; done inside the step, where XLA fuses it away
    instead of storing (B, N) copies of values that are shared by the batch."""
    cast = lambda a: jnp.broadcast_to(a, shape)
    fields = ("bias", "tau_mem", "v_thresh", "v_reset", "v_rest")
    return Parameters(params.weights, *(cast(getattr(params, f)) for f in fields)), jax.tree.map(cast, consts)


def default_update(sim, dtype, timed: bool, bit_exact: bool = True):
    """`(update, next_row)`: the default equations' update of one step (`jaxiaf._core.integrators`) and
    whether it reads the input's next row. `timed`: Brian2's `TimedArray` rule; with rk4 each step's `u`
    then holds its row and the next (`u_next`, `next_row` True; float32 then runs rk4's expressions, not
    the affine update, which assumes one input over the step), with `exact` Brian2's order of its terms
    for that rule (`TIMED_ORDER`). `bit_exact`: in float64, Brian2's expressions (True, default) or the
    float32 path's affine update (False; rk4 reading the next row keeps its own update)."""
    name = sim.integrator_name
    next_row = timed and name in READS_NEXT_ROW
    update = resolve_integrator(name)
    update = TIMED_ORDER.get(name, update) if timed else update
    return (update if (dtype == jnp.float64 and bit_exact) or next_row else affine), next_row


def _default_step(
    params, sim, state, constants, shape, surrogate, pick, timed: bool, bit_exact: bool = True, free=False
):
    """`(advance, settle, next_row)` of the default equations (`default_update`), see
    [`jaxiaf.evolve`][].

    `free`: the caller has checked that refractoriness cannot act in this evolve (`R <= 1` and
    `R <= since_spike <= NEVER` for every neuron at the start, so `since_spike >= R` at every step; see
    `jaxiaf._core.scan`): the steps then skip the refractory test, and the counter's slot holds the
    loop index of each neuron's last spike instead (-1 before the first), from which the counter is
    rebuilt after the loop. Only for the affine update without noise, whose arithmetic does not read the
    refractory mask."""
    update, next_row = default_update(sim, state.v.dtype, timed, bit_exact)
    first = state.step

    def advance(vals, since, u, n, active):
        """`v` after the update of global step `n` (before threshold and reset); held while refractory."""
        v = vals[_V]
        p, consts = _broadcast(params, constants, shape)
        nr = active if free else (since >= consts.refractory_steps) & active
        u, rows = (u[0], {"u_next": jnp.broadcast_to(u[1], shape)}) if next_row else (u, {})
        u = jnp.broadcast_to(u, shape)
        if sim.noisy:  # the layer's noise is held over the step under either sampling
            noise = jnp.where(nr, consts.noise_scale * pick(n, v.dtype)[0], 0.0)
            u, rows = u + noise, {k: x + noise for k, x in rows.items()}
        return {_V: jnp.where(nr, update(v, u, p, consts, nr, **rows), v)}

    def settle(vals, since, n):
        """Threshold and reset of step `n`, which took `v` to `vals["v"]`, `since` being the counter
        before it."""
        w = vals[_V]
        p, consts = _broadcast(params, constants, shape)
        nr = True if free else since >= consts.refractory_steps
        fired, spike = _surrogate.threshold(surrogate, w, p.v_thresh, p.v_reset, nr)
        v = _surrogate.reset(surrogate, fired, spike, w, p.v_reset)
        if free:  # the loop index of the last spike
            return spike, {_V: v}, jnp.where(fired, (n - first).astype(since.dtype), since)
        return spike, {_V: v}, jnp.where(fired, 1, jnp.minimum(since + 1, NEVER))

    return advance, settle, next_row


def _model_step(model, params, state, constants, shape, surrogate, pick):
    """`(advance, settle, next_row)` of a layer's own equations: Brian2's generated statements
    (`jaxiaf._core.interpret`) on a dict of the state variables (the primary one, `State.v`, first);
    `next_row`: whether a step reads the input's next row (`Model.next_row`). With a `surrogate`,
    `ValueError` for a threshold without a level or a reset that is not detached.

    Noise: `pick(n, dtype)` gives step n's D rows of N draws (`jaxiaf._core.noise.draw_source`): the
    first `model.draws` rows are the update's `xi`/`randn()` terms in Brian2's order, the others the
    threshold's and then the reset's `randn()` calls."""
    if surrogate is not None:
        _generated.crossing(model)  # `ValueError` for a threshold without a level
        if not surrogate.detach_reset:
            raise ValueError(
                "`surrogate`: with a layer's own equations the reset is detached (`detach_reset=True`)."
            )
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

    return advance, settle, model.next_row
