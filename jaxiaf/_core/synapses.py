"""Spikes acting on the layer's state through weights, as Brian2's `Synapses(on_pre=...)` does.

Brian2's default schedule runs, in each step, the state update (`groups`), the thresholds (`thresholds`:
the layer's own and a `SpikeGeneratorGroup`'s), the synaptic events due this step (`synapses`) and then
the resets (`resets`). A spike emitted at step k through a synapse of delay d steps acts in step k + d,
after that step's threshold and before its reset: an event on a variable that the reset assigns is lost
for a neuron that spiked in that step, and acts on the next step's threshold otherwise. Brian2 also
writes a variable flagged `(unless refractory)` only where `not_refractory` (its conditional write), which
the thresholder has just cleared for the neurons that spiked: such events are lost while refractory too.
`evolve` adds the events after the reset, where they are not lost (`acting`); a reset that reads a
variable the events write is refused (`lost_on_reset`).

Brian2's numpy target applies each `on_pre` statement `x += w` as `numpy.add.at(x, post, w[events])`: one
addition at a time, in the order of the spike queue's slot (events pushed at earlier steps first, then by
source index, then by synapse index). `deliver` folds the events in that order, one source at a time, so
that the sums are Brian2's bit for bit.
"""

import ast
import re

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .poisson import Poisson, input_row
from .sparse_events import visit_spiking

_STATEMENT = re.compile(r"^\s*([A-Za-z_]\w*?)(?:_post)?\s*([+-])=\s*w\s*$")


def parse_on_pre(on_pre: str) -> tuple:
    """`((target, sign), ...)` of Brian2 `on_pre` statements `x += w` or `x -= w` (`x_post` also read as
    `x`), separated by newlines or `;`; `ValueError` naming `on_pre` for anything else."""
    if not isinstance(on_pre, str):
        raise TypeError(f"`on_pre` must be a string of Brian2 statements; got {type(on_pre).__name__}.")
    parts = [p for p in re.split(r"[;\n]", on_pre) if p.strip() and not p.strip().startswith("#")]
    parsed = []
    for part in parts:
        match = _STATEMENT.match(part.split("#", 1)[0])
        if match is None:
            raise ValueError(
                f"`on_pre`: each statement must be `x += w` or `x -= w` on a state variable `x` of the layer "
                f"(several separated by `;` or newlines); got {part.strip()!r}."
            )
        parsed.append((match.group(1), match.group(2)))
    if not parsed:
        raise ValueError(f"`on_pre` has no statement; got {on_pre!r} (e.g. 'v += w').")
    targets = [t for t, _ in parsed]
    if len(set(targets)) != len(targets):
        raise ValueError(f"`on_pre` writes a variable twice; got {on_pre!r} (one statement per variable).")
    return tuple(parsed)


class Synapses(eqx.Module):
    """Connections from `N_src` sources to the layer's `N` neurons, as Brian2's
    `Synapses(source, layer, "w : <unit>", on_pre=on_pre)` connecting the pairs of non-zero weight in the
    order of `i`, then `j`, with `S.w = scale * weights` and `S.delay = delays * dt`.

    **Arguments:**

    - `weights`: (N_src, N) float, the `w` of each synapse in the unit of its target variables (SI); or
      (B..., N_src, N), one matrix per batch entry of the layer's state (a sweep's sets).
    - `delays`: integer steps, () (one delay for all) or (N_src, N), >= 0 (default 0: the event acts in the
      step of its spike, after the threshold and before the reset); or (B,) or (B, N_src, N), one per
      entry of a state with one batch axis of B (a sweep's sets; refused for an unbatched state).
    - `on_pre`: Brian2 statements `x += w` / `x -= w` on the layer's state variables, e.g. `"v += w"` or
      `"ge += w"`, several separated by `;` or newlines (default `"v += w"`).
    - `max_delay`: static int; the largest delay (default: read from a concrete `delays`; give it when
      `delays` is traced, e.g. swept; below a concrete `delays`' largest it is refused).
    - `max_spikes`: static; None (default) or a bound K on the sources that spike in one step and batch
      entry (more is an error, `EquinoxRuntimeError`). Each step visits only the sources that spiked, in
      index order, at a cost that grows with the spikes; with K, a loop of K visits that reverse-mode
      `jax.grad` can differentiate (without K, the loop's length is the step's spike count, which only
      forward mode can). With a surrogate, every source is visited (the surrogate's derivative reaches
      the events of sources that did not spike too).
    - `scale`: None (default), or () or (B..., 1) floats multiplying every weight (per batch entry of
      the state): a sweep's per-set scale of shared weights without a copy of the matrix per set. An
      event adds `scale * w`, the same float as a layer given the weights `scale * weights` (tested;
      with a surrogate the compiler may fuse the product into the addition, a last-bit difference).

    The synapses are the pairs of non-zero weight (in any batch entry) of a concrete `weights` at
    construction, as Brian2's `connect` fixes them: an event updates only its source's synapses. Weights
    replaced later (`eqx.tree_at`) change the values of those synapses, not which pairs are connected;
    weights traced at construction (computed inside `jax.vmap` or `jax.jit`, e.g. from their arguments;
    host arrays are read as they are) connect every pair (a zero weight then adds 0).
    """

    weights: jax.Array
    delays: jax.Array
    targets: jax.Array | None
    scale: jax.Array | None
    on_pre: tuple = eqx.field(static=True)
    max_delay: int = eqx.field(static=True)
    max_spikes: int | None = eqx.field(static=True)

    def __init__(
        self,
        weights,
        delays=0,
        on_pre: str = "v += w",
        max_delay: int | None = None,
        max_spikes: int | None = None,
        scale=None,
    ):
        given_weights, given_delays = weights, delays  # read on the host where concrete (also under jit)
        weights = jnp.asarray(weights)
        if weights.ndim < 2 or not jnp.issubdtype(weights.dtype, jnp.floating):
            raise ValueError(
                f"`weights` must be a (N_src, N) float array; got {weights.dtype} {weights.shape}."
            )
        delays = jnp.asarray(delays)
        per_set = delays.ndim == 1 or (delays.ndim == 3 and delays.shape[1:] == weights.shape[-2:])
        if not jnp.issubdtype(delays.dtype, jnp.integer) or not (
            per_set or delays.shape in ((), weights.shape[-2:])
        ):
            raise ValueError(
                f"`delays` must be integer steps of shape () or {weights.shape[-2:]}, or (B,) or "
                f"(B, *{weights.shape[-2:]}) per batch entry; got {delays.dtype} {delays.shape}."
            )
        largest = _concrete_max(given_delays)
        if max_delay is None and largest is None:
            raise ValueError("`max_delay` must be given when `delays` is traced.")
        max_delay = largest if max_delay is None else max_delay
        if not isinstance(max_delay, int) or isinstance(max_delay, bool) or max_delay < 0:
            raise ValueError(f"`max_delay` must be a non-negative int; got {max_delay!r}.")
        if largest is not None and largest > max_delay:
            raise ValueError(f"`max_delay` = {max_delay} is below the largest of `delays`, {largest}.")
        if max_spikes is not None and (
            not isinstance(max_spikes, int) or isinstance(max_spikes, bool) or max_spikes < 1
        ):
            raise ValueError(f"`max_spikes` must be None or a positive int; got {max_spikes!r}.")
        if scale is not None:
            scale = jnp.asarray(scale)
            if not jnp.issubdtype(scale.dtype, jnp.floating) or (scale.ndim and scale.shape[-1] != 1):
                raise ValueError(
                    f"`scale` must be None, () or (B..., 1) floats; got {scale.dtype} {scale.shape}."
                )
        self.weights = weights
        self.delays = delays.astype(jnp.int32)
        self.targets = _targets(given_weights)
        self.scale = scale
        self.on_pre = parse_on_pre(on_pre)
        self.max_delay = max_delay
        self.max_spikes = max_spikes


def _targets(weights):
    """(N_src, M) int32: each source's targets of non-zero weight (in any batch entry), ascending, padded
    with N (M the most of one source); None for weights traced at construction (every pair)."""
    try:
        weights = np.asarray(weights)
    except jax.errors.TracerArrayConversionError:
        return None
    connected = np.any(weights != 0, axis=tuple(range(weights.ndim - 2)))
    n_src, n = connected.shape
    sources, targets = np.nonzero(connected)  # by source, targets ascending
    per_source = connected.sum(axis=1)
    slot = np.arange(len(sources)) - np.repeat(np.cumsum(per_source) - per_source, per_source)
    table = np.full((n_src, max(int(per_source.max(initial=0)), 1)), n, np.int32)
    table[sources, slot] = targets
    return jnp.asarray(table)


def _concrete_max(delays) -> int | None:
    """The largest of concrete `delays` (None if traced); `ValueError` naming `delays` for a negative one."""
    try:
        concrete = np.asarray(delays)
    except jax.errors.TracerArrayConversionError:
        return None
    if np.any(concrete < 0):
        raise ValueError(f"`delays` must be >= 0; got a minimum of {int(concrete.min())}.")
    return int(concrete.max(initial=0))


class Events(eqx.Module):
    """The spikes that act on a layer during an evolve, and those still on their way.

    **Fields:**

    - `spikes`: (T, B..., N_in) bool input raster (a `SpikeGeneratorGroup`), (T, N_in) shared by every
      batch entry, a [`Poisson`][jaxiaf.synapses.Poisson] source drawn step by step (a `PoissonGroup`),
      or None without input synapses.
    - `feedforward`: the [`Synapses`][jaxiaf.synapses.Synapses] from the `N_in` inputs, a tuple of them
      (e.g. excitatory and inhibitory inputs onto different variables), or None.
    - `recurrent`: the [`Synapses`][jaxiaf.synapses.Synapses] from the layer's own `N` neurons to
      themselves, a tuple of them, or None.
    - `pending`: the spikes of the last `max_delay` steps of each group still to be delivered, as
      [`empty_pending`][jaxiaf.synapses.empty_pending] gives them for a fresh layer; an evolve returns
      them, so that evolving in chunks equals one evolve.

    Brian2 runs the pathways of one step in the order of their names; here the feedforward groups act
    first, in their order, then the recurrent ones (`brian_ref.SynapticLayer` names them so).
    """

    spikes: jax.Array | Poisson | None
    feedforward: Synapses | tuple | None
    recurrent: Synapses | tuple | None
    pending: tuple


def groups(synapses) -> tuple:
    """`synapses` (None, a `Synapses` or a tuple of them) as a tuple."""
    if synapses is None:
        return ()
    return tuple(synapses) if isinstance(synapses, (tuple, list)) else (synapses,)


def empty_pending(shape, feedforward=None, recurrent=None, spikes_dtype=bool) -> tuple:
    """`Events.pending` of a layer with state shape (B..., N) that has not spiked yet and no input yet:
    `(inputs, own)`, a tuple of (D, B..., N_src) histories per group, row d - 1 the spikes of d steps ago;
    the input ones bool, the layer's own of `spikes_dtype` (bool, or with a surrogate the float dtype of
    `v`: the spikes then carry the surrogate's derivative to the events they cause)."""
    inputs = tuple(
        jnp.zeros((g.max_delay, *shape[:-1], g.weights.shape[-2]), bool) for g in groups(feedforward)
    )
    own = tuple(jnp.zeros((g.max_delay, *shape), spikes_dtype) for g in groups(recurrent))
    return inputs, own


def check_events(events: Events, state_names, shape, num_steps: int, spikes_dtype=bool) -> None:
    """`ValueError` naming the field: a raster that is not (T, B..., N_in) bool, weights that do not end
    in the layer's N, recurrent weights that are not (N, N), input groups of different N_in, an `on_pre`
    target that is not a state variable, or pending spikes of another structure than
    [`empty_pending`][jaxiaf.synapses.empty_pending]'s."""
    if not isinstance(events, Events):
        raise TypeError(f"`events` must be a jaxiaf Events or None; got {type(events).__name__}.")
    ff, rec = groups(events.feedforward), groups(events.recurrent)
    if bool(ff) != (events.spikes is not None):
        raise ValueError("`events.spikes` and `events.feedforward` must be given together.")
    for name, syn in [("feedforward", g) for g in ff] + [("recurrent", g) for g in rec]:
        if not isinstance(syn, Synapses):
            raise TypeError(f"`events.{name}` must hold jaxiaf Synapses; got {type(syn).__name__}.")
        rows = shape[-1] if name == "recurrent" else ff[0].weights.shape[-2]
        if syn.weights.shape not in ((rows, shape[-1]), (*shape[:-1], rows, shape[-1])):
            raise ValueError(
                f"`events.{name}.weights` must have shape {(rows, shape[-1])} (sources, the layer's N), or "
                f"{(*shape[:-1], rows, shape[-1])} with the state's batch axes; got {syn.weights.shape}."
            )
        delay_shapes = ((), (rows, shape[-1])) + (
            (shape[:-1], (*shape[:-1], rows, shape[-1])) if len(shape) == 2 else ()
        )
        if syn.delays.shape not in delay_shapes:
            raise ValueError(
                f"`events.{name}.delays` must have shape one of {delay_shapes} (per batch entry only for a "
                f"state of one batch axis); got {syn.delays.shape}."
            )
        if syn.scale is not None and syn.scale.shape not in ((), (*shape[:-1], 1)):
            raise ValueError(
                f"`events.{name}.scale` must have shape () or {(*shape[:-1], 1)} (the state's batch axes, "
                f"then 1); got {syn.scale.shape}."
            )
        for target, _ in syn.on_pre:
            if target not in state_names:
                raise ValueError(
                    f"`events.{name}.on_pre` writes {target!r}, which is not a state variable of the layer "
                    f"(one of {sorted(state_names)})."
                )
    if ff:
        _check_input(events.spikes, shape, num_steps, ff[0].weights.shape[-2])
    wanted = empty_pending(shape, ff, rec, spikes_dtype)
    like = lambda x: jax.tree.map(lambda a: (jnp.shape(a), jnp.asarray(a).dtype), x)
    try:
        same = jax.tree.structure(events.pending) == jax.tree.structure(wanted)
        same = same and like(events.pending) == like(wanted)
    except (TypeError, ValueError):
        same = False
    if not same:
        raise ValueError(
            f"`events.pending` must be {like(wanted)} ((shape, dtype) per group; see empty_pending)."
        )


def _check_input(spikes, shape, num_steps: int, n_in: int) -> None:
    """`ValueError` naming `events.spikes` for a raster that is not (T, N_in) or (T, B..., N_in) bool, or
    a `Poisson` source of other steps, sources or batch axes."""
    batch = shape[:-1]
    if isinstance(spikes, Poisson):
        size = spikes.probability.shape
        if (
            spikes.num_steps != num_steps
            or size not in ((n_in,), (*batch, n_in))
            or spikes.key.shape not in ((), batch)
        ):
            raise ValueError(
                f"`events.spikes`: a Poisson source must span T = {num_steps} steps with rates of shape "
                f"{(n_in,)} or {(*batch, n_in)} and keys of shape () or {batch}; got {spikes.num_steps} "
                f"steps, rates {size}, keys {spikes.key.shape}."
            )
        return
    shapes = ((num_steps, n_in), (num_steps, *batch, n_in))
    if jnp.shape(spikes) not in shapes or jnp.asarray(spikes).dtype != bool:
        raise ValueError(
            f"`events.spikes` must be a bool raster of shape {shapes[1]} (T, B..., N_in) or {shapes[0]} "
            f"(shared by the batch), or a Poisson source; got {jnp.asarray(spikes).dtype} "
            f"{jnp.shape(spikes)}."
        )


def lost_on_reset(reset: tuple, events: Events) -> frozenset:
    """The `on_pre` targets whose events a spiking neuron loses: those its reset statements (`reset`, Brian2
    statements such as `v = v_reset`) assign. `ValueError` naming `on_pre` where a reset statement reads
    a target (e.g. `w += b` with `on_pre="w += w"`): its result would depend on whether the events came
    before it, and `evolve` adds the events after the reset."""
    every = groups(events.feedforward) + groups(events.recurrent)
    targets = {t for syn in every for t, _ in syn.on_pre}
    assigned = set()
    for statement in reset:
        node = ast.parse(statement).body[0]
        reads = {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
        target = node.target if isinstance(node, ast.AugAssign) else node.targets[0]
        name = ast.unparse(target)
        if isinstance(node, ast.AugAssign):
            reads.add(name)
        clash = reads & targets
        if clash:
            raise ValueError(
                f"`on_pre` writes {sorted(clash)}, which the reset statement {statement!r} reads; synaptic "
                "events on a variable that the reset reads are not supported."
            )
        assigned.add(name)
    return frozenset(assigned & targets)


def _fold(vals: dict, syn: Synapses, current, history, keep):
    """The events of `syn` due this step, added to `vals` in Brian2's order: delays from the longest
    (spikes pushed earliest) to 0, each over the sources in index order. `current` (B..., N_src): this
    step's source spikes; `history` (D, B..., N_src): those of 1..D steps ago; `keep` {target: (B..., N)
    bool}: where the events on a target act (`acting`; everywhere for a target not in it)."""
    shape = next(iter(vals.values())).shape
    for d in range(syn.max_delay, -1, -1):
        source = current if d == 0 else history[d - 1]
        if source.dtype == bool:
            vals = visit_spiking(vals, syn, source, d, shape, keep)
        else:
            vals = jax.lax.fori_loop(
                0, syn.weights.shape[-2], lambda i, v, s=source, d=d: _add(v, syn, s, i, d, shape, keep), vals
            )
    return vals


def _add(vals: dict, syn: Synapses, source, i, d: int, shape, keep) -> dict:
    """The events of source `i` through its synapses of delay `d`, for spikes that are 0/1 floats with a
    surrogate's derivative: `+ (s - stop_gradient(s)) * w` is zero, and carries the derivative."""
    spike = jax.lax.dynamic_index_in_dim(source, i, axis=-1, keepdims=True)
    delays = syn.delays[:, None] if syn.delays.ndim == 1 else syn.delays  # (B,) delays: (B, 1)
    delay = delays if delays.ndim < 2 else jax.lax.dynamic_index_in_dim(delays, i, axis=-2, keepdims=False)
    due = jnp.broadcast_to(delay == d, shape)
    acts = jnp.broadcast_to(spike != 0, shape) & due
    row = jnp.broadcast_to(jax.lax.dynamic_index_in_dim(syn.weights, i, axis=-2, keepdims=False), shape)
    row = row if syn.scale is None else syn.scale * row
    chain = jnp.broadcast_to(spike - jax.lax.stop_gradient(spike), shape) * row
    out = dict(vals)
    for target, sign in syn.on_pre:
        x = vals[target]
        act, where = (acts & keep[target], due & keep[target]) if target in keep else (acts, due)
        x = jnp.where(act, x + row if sign == "+" else x - row, x)
        out[target] = jnp.where(where, x + chain if sign == "+" else x - chain, x)
    return out


def acting(fired, not_refractory, lost: frozenset, flagged: frozenset) -> dict:
    """`{target: (B..., N) bool}`: where events on each variable act, for the variables where some do not.
    A neuron that spiked this step loses those on a variable its reset assigns (`lost`); on a variable
    flagged `(unless refractory)` (`flagged`), Brian2 writes only where `not_refractory`, which its
    thresholder has just set False for the neurons that spiked (Brian2's conditional write), so a neuron
    refractory in this step's update, or spiking in it, loses them too."""
    quiet = ~fired
    acts = {t: quiet for t in lost}
    acts.update({t: quiet & not_refractory for t in flagged})
    return acts


def deliver(events: Events, vals: dict, fired, k, pending, acts: dict):
    """Step k's synaptic events (after its threshold and reset): `(vals, pending)` with the events of the
    input groups, then those of the recurrent groups, added to `vals` where `acts` (see `acting`) allows,
    and `pending` advanced by one step. `fired` (B..., N): the layer's spikes of step k, bool, or 0/1
    floats with a surrogate derivative (`_add`)."""
    inputs, own = pending
    if inputs:
        row = input_row(events.spikes, k, fired.shape[:-1])
        for syn, history in zip(groups(events.feedforward), inputs, strict=True):
            vals = _fold(vals, syn, row, history, acts)
        inputs = tuple(_push(history, row) for history in inputs)
    for syn, history in zip(groups(events.recurrent), own, strict=True):
        vals = _fold(vals, syn, fired, history, acts)
    own = tuple(_push(history, fired) for history in own)
    return vals, (inputs, own)


def _push(history, current):
    """The history one step later: this step's spikes become row 0 (one step ago)."""
    if history.shape[0] == 0:
        return history
    return jnp.concatenate([current[None], history[:-1]])
