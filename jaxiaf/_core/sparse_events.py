"""The events of the sources that spiked in one step, visited sparsely: each batch entry's spiking sources
in index order (Brian2's numpy target adds them so, one at a time), as many rounds as the busiest entry
has spikes, with a derivative (`jax.custom_jvp`) that reverse mode can transpose. Called by
`jaxiaf._core.synapses` for each group and delay of a step."""

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np


def visit_spiking(vals: dict, syn, source, d: int, shape, keep) -> dict:
    """`vals` after the events through the synapses of delay `d` of `syn` (a `jaxiaf.synapses.Synapses`)
    from the sources that spiked (`source` (B..., N_src) bool), each batch entry's in index order
    (`_rounds`)."""
    n_src, n = syn.weights.shape[-2:]
    fires = jnp.reshape(source, (-1, n_src))
    batch = fires.shape[0]
    names = [t for t, _ in syn.on_pre]
    if syn.max_spikes is not None:
        count = jnp.max(jnp.sum(fires, axis=1))
        message = f"More than `max_spikes` = {syn.max_spikes} sources spiked in one step; raise `max_spikes`."
        vals = {**vals, names[0]: eqx.error_if(vals[names[0]], count > syn.max_spikes, message)}
    xs = tuple(jnp.reshape(vals[t], (batch, n)) for t in names)
    kept = tuple(
        jnp.reshape(jnp.broadcast_to(keep[t], shape), (batch, n)) if t in keep else None for t in names
    )
    weights = syn.weights if syn.weights.ndim == 2 else jnp.reshape(syn.weights, (batch, n_src, n))
    scale = syn.scale
    if scale is not None:
        scale = jnp.reshape(jnp.broadcast_to(scale, (*shape[:-1], 1)), (batch, 1)).astype(weights.dtype)
    meta = (tuple(sign for _, sign in syn.on_pre), d, syn.max_spikes)
    targets = (
        jnp.broadcast_to(jnp.arange(n, dtype=jnp.int32), (n_src, n)) if syn.targets is None else syn.targets
    )
    xs = _rounds(meta, xs, weights, scale, fires, kept, syn.delays, targets)
    return {**vals, **{t: jnp.reshape(x, shape) for t, x in zip(names, xs, strict=True)}}


@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def _rounds(meta, xs, weights, scale, fires, kept, delays, targets):
    """`xs` (one (B, N) array per `on_pre` target) after the events: round r adds the r-th spiking
    source (in index order) of every batch entry (`fires` (B, N_src)) to its `targets` (N_src, M; N
    pads) where `kept` (None: everywhere), so that each entry adds its sources in Brian2's order; as many
    rounds as the most spikes of an entry (`max_spikes` K: K rounds). Its derivative (`_rounds_jvp`) is
    a sum, which reverse mode can transpose (the loop of a dynamic length cannot be)."""
    signs, d, max_spikes = meta
    batch, n_src = fires.shape
    n = xs[0].shape[1]
    rows = jnp.arange(batch)[:, None]
    following = _next_source(fires)
    # each source's weights to its targets, contiguous (loop-invariant: the compiler computes it once)
    index_table = jnp.minimum(targets, n - 1)
    table = jnp.take_along_axis(
        weights, jnp.broadcast_to(index_table, (*weights.shape[:-1], targets.shape[1])), -1
    )

    def source_row(i):
        """Source `i`'s targets and (scaled) weights to them; computed a round before they are added, so
        that the compiler cannot contract the product and the addition into a fused multiply-add (whose
        single rounding would differ from weights `scale * weights`): a loop's iterations are not fused."""
        at = jnp.minimum(i, n_src - 1)[:, None]
        to = targets[at[:, 0]]
        row = table[at[:, 0]] if table.ndim == 2 else table[rows[:, 0], at[:, 0]]
        return to, row if scale is None else scale * row

    def visit(_, carry):
        i, to, row, xs = carry
        index = jnp.minimum(to, n - 1)
        due = _due(delays, rows, jnp.minimum(i, n_src - 1)[:, None], index)
        act = (i < n_src)[:, None] & (to < n) & (due == d)
        out = []
        for x, sign, keep in zip(xs, signs, kept, strict=True):
            acts = act if keep is None else act & jnp.take_along_axis(keep, index, axis=1)
            now = jnp.take_along_axis(x, index, axis=1)
            new = jnp.where(acts, now + row if sign == "+" else now - row, now)
            out.append(x.at[rows, to].set(new, mode="drop", unique_indices=True))
        following_i = following(i)
        return (following_i, *source_row(following_i), tuple(out))

    rounds = jnp.max(jnp.sum(fires, axis=1)) if max_spikes is None else min(max_spikes, n_src)
    first = following(jnp.full((batch,), -1, jnp.int32))
    return jax.lax.fori_loop(0, rounds, visit, (first, *source_row(first), tuple(xs)))[3]


def _due(delays, rows, source, index):
    """The delays of each batch entry's synapses from `source` (B, 1) to `index` (B, M): `delays` (),
    (N_src, N), (B,) per entry or (B, N_src, N) per entry."""
    if delays.ndim == 0:
        return delays
    if delays.ndim == 1:
        return delays[:, None]
    return delays[source, index] if delays.ndim == 2 else delays[rows, source, index]


@_rounds.defjvp
def _rounds_jvp(meta, primals, tangents):
    """d(x + w) = dx + dw where the event acts: the tangents of the weights (and of `scale`) of the
    synapses summed over the spiking sources, one (B, N_src) x (N_src, N) product."""
    xs, weights, scale, fires, kept, delays, targets = primals
    dxs, dweights, dscale = tangents[:3]
    signs, d = meta[:2]
    n_src, n = weights.shape[-2:]
    synapse = jnp.zeros((n_src, n + 1), bool).at[jnp.arange(n_src)[:, None], targets].set(True)[:, :n]
    per_set = delays[:, None, None] if delays.ndim == 1 else delays  # (B,) delays: (B, 1, 1)
    due = ((per_set == d) & (synapse if per_set.ndim < 3 else synapse[None])).astype(weights.dtype)
    spiking = fires.astype(weights.dtype)
    three = lambda a: a if a.ndim == 3 else a[None]  # a batch axis, explicit (no rank promotion)

    def spread(w):
        if w.ndim == due.ndim == 2:
            return spiking @ (w * due)
        return jnp.einsum("bs,bsn->bn", spiking, three(w) * three(due))

    change = spread(dweights)
    if scale is not None:
        change = scale * change + dscale * spread(weights)
    out = []
    for dx, sign, keep in zip(dxs, signs, kept, strict=True):
        step = change if keep is None else jnp.where(keep, change, 0.0)
        out.append(dx + step if sign == "+" else dx - step)
    return _rounds(meta, xs, weights, scale, fires, kept, delays, targets), tuple(out)


def _next_source(fires):
    """`following(previous)`: for each batch entry (row of `fires` (B, N_src) bool) the first spiking
    source after index `previous` (B,), or N_src. The sources are read in blocks of about sqrt(N_src):
    a search reads the rest of the block of `previous + 1`, which later blocks hold a spike (found once)
    and the first of those, not every source."""
    batch, n_src = fires.shape
    width = int(np.ceil(np.sqrt(n_src)))
    count = -(-n_src // width)
    blocks = jnp.reshape(jnp.pad(fires, ((0, 0), (0, count * width - n_src))), (batch, count, width))
    busy = jnp.any(blocks, axis=2)
    within, ahead = jnp.arange(width, dtype=jnp.int32), jnp.arange(count, dtype=jnp.int32)
    rows = jnp.arange(batch)
    first_in = lambda block, after: jnp.min(
        jnp.where(blocks[rows, block] & (within[None] >= after[:, None]), within[None], width), axis=1
    )

    def following(previous):
        start = previous + 1
        block = jnp.minimum(start // width, count - 1)
        here = first_in(block, start - block * width)
        later = jnp.min(jnp.where(busy & (ahead[None] > block[:, None]), ahead[None], count), axis=1)
        there = first_in(jnp.minimum(later, count - 1), jnp.zeros_like(later))
        found = jnp.where(
            here < width, block * width + here, jnp.where(later < count, later * width + there, n_src)
        )
        return jnp.minimum(found, n_src).astype(jnp.int32)

    return following
