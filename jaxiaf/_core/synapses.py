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
    """Dense connections from `N_src` sources to the layer's `N` neurons, as Brian2's
    `Synapses(source, layer, "w : <unit>", on_pre=on_pre)` connecting the pairs of non-zero weight in the
    order of `i`, then `j` (a zero weight adds nothing), with `S.w = weights` and `S.delay = delays * dt`.

    **Arguments:**

    - `weights`: (N_src, N) float, the `w` of each synapse in the unit of its target variables (SI).
    - `delays`: integer steps, () (one delay for all) or (N_src, N), >= 0 (default 0: the event acts in the
      step of its spike, after the threshold and before the reset).
    - `on_pre`: Brian2 statements `x += w` / `x -= w` on the layer's state variables, e.g. `"v += w"` or
      `"ge += w"`, several separated by `;` or newlines (default `"v += w"`).
    - `max_delay`: static int; the largest delay (default: read from a concrete `delays`; give it when
      `delays` is traced, e.g. swept).
    - `max_spikes`: static; None (default): each step visits every source in turn, `(max_delay + 1) *
      N_src` vector updates. An int K: each step visits only the sources that spiked (at most K per delay
      and step, in any batch entry), `(max_delay + 1) * K` updates: the same results, at a cost that grows
      with the spikes; more than K spiking sources in a step is an error (`EquinoxRuntimeError`).
    """

    weights: jax.Array
    delays: jax.Array
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
    ):
        weights = jnp.asarray(weights)
        if weights.ndim != 2 or not jnp.issubdtype(weights.dtype, jnp.floating):
            raise ValueError(
                f"`weights` must be a (N_src, N) float array; got {weights.dtype} {weights.shape}."
            )
        delays = jnp.asarray(delays)
        if not jnp.issubdtype(delays.dtype, jnp.integer) or delays.shape not in ((), weights.shape):
            raise ValueError(
                f"`delays` must be integer steps of shape () or {weights.shape}; got {delays.dtype} "
                f"{delays.shape}."
            )
        if max_delay is None:
            try:
                concrete = np.asarray(delays)
            except jax.errors.TracerArrayConversionError:
                raise ValueError("`max_delay` must be given when `delays` is traced.") from None
            if np.any(concrete < 0):
                raise ValueError(f"`delays` must be >= 0; got a minimum of {int(concrete.min())}.")
            max_delay = int(concrete.max(initial=0))
        if not isinstance(max_delay, int) or isinstance(max_delay, bool) or max_delay < 0:
            raise ValueError(f"`max_delay` must be a non-negative int; got {max_delay!r}.")
        self.weights = weights
        self.delays = delays.astype(jnp.int32)
        self.on_pre = parse_on_pre(on_pre)
        if max_spikes is not None and (
            not isinstance(max_spikes, int) or isinstance(max_spikes, bool) or max_spikes < 1
        ):
            raise ValueError(f"`max_spikes` must be None or a positive int; got {max_spikes!r}.")
        self.max_delay = max_delay
        self.max_spikes = max_spikes


class Events(eqx.Module):
    """The spikes that act on a layer during an evolve, and those still on their way.

    **Fields:**

    - `spikes`: (T, B..., N_in) bool input raster (a `SpikeGeneratorGroup`), or None without input
      synapses.
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

    spikes: jax.Array | None
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
        jnp.zeros((g.max_delay, *shape[:-1], g.weights.shape[0]), bool) for g in groups(feedforward)
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
        rows = shape[-1] if name == "recurrent" else ff[0].weights.shape[0]
        if syn.weights.shape != (rows, shape[-1]):
            raise ValueError(
                f"`events.{name}.weights` must have shape {(rows, shape[-1])} (sources, the layer's N); got "
                f"{syn.weights.shape}."
            )
        for target, _ in syn.on_pre:
            if target not in state_names:
                raise ValueError(
                    f"`events.{name}.on_pre` writes {target!r}, which is not a state variable of the layer "
                    f"(one of {sorted(state_names)})."
                )
    if ff:
        expected = (num_steps, *shape[:-1], ff[0].weights.shape[0])
        if events.spikes.shape != expected or events.spikes.dtype != bool:
            raise ValueError(
                f"`events.spikes` must be a bool raster of shape {expected} (T, B..., N_in); got "
                f"{events.spikes.dtype} {events.spikes.shape}."
            )
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
    n_src = syn.weights.shape[0]
    for d in range(syn.max_delay, -1, -1):
        source = current if d == 0 else history[d - 1]
        if syn.max_spikes is None:
            vals = jax.lax.fori_loop(
                0, n_src, lambda i, v, s=source, d=d: _add(v, syn, s, i, d, shape, keep), vals
            )
            continue
        spiking = jnp.any(jnp.reshape(source, (-1, n_src)), axis=0)
        order = jnp.nonzero(spiking, size=syn.max_spikes, fill_value=n_src)[0]  # ascending, as Brian2's
        first = next(iter(vals))
        message = f"More than `max_spikes` = {syn.max_spikes} sources spiked in one step; raise `max_spikes`."
        vals = {**vals, first: eqx.error_if(vals[first], jnp.sum(spiking) > syn.max_spikes, message)}
        vals = jax.lax.fori_loop(
            0,
            syn.max_spikes,
            lambda j, v, s=source, d=d, o=order: _add(v, syn, s, o[j], d, shape, keep),
            vals,
        )
    return vals


def _add(vals: dict, syn: Synapses, source, i, d: int, shape, keep) -> dict:
    """The events of source `i` (an index past the last one: none) through its synapses of delay `d`."""
    n_src = syn.weights.shape[0]
    index = jnp.minimum(i, n_src - 1)
    spike = jax.lax.dynamic_index_in_dim(source, index, axis=-1, keepdims=True)
    fires = (spike if spike.dtype == bool else spike != 0) & (i < n_src)
    delay = (
        syn.delays
        if syn.delays.ndim == 0
        else jax.lax.dynamic_index_in_dim(syn.delays, index, keepdims=False)
    )
    due = jnp.broadcast_to(delay == d, shape) & (i < n_src)
    acts = jnp.broadcast_to(fires, shape) & due
    row = jnp.broadcast_to(jax.lax.dynamic_index_in_dim(syn.weights, index, keepdims=False), shape)
    out = dict(vals)
    for target, sign in syn.on_pre:
        act = acts & keep[target] if target in keep else acts
        x = vals[target]
        out[target] = jnp.where(act, x + row if sign == "+" else x - row, x)
        if spike.dtype != bool:  # + (s - stop_gradient(s)) * w: zero, with the surrogate's derivative
            chain = jnp.broadcast_to(spike - jax.lax.stop_gradient(spike), shape) * row
            where = due & keep[target] if target in keep else due
            out[target] = jnp.where(where, out[target] + (chain if sign == "+" else -chain), out[target])
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
        row = jax.lax.dynamic_index_in_dim(events.spikes, k, keepdims=False)
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
