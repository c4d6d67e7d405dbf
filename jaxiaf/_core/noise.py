"""The noise's unit normal draws: one `fold_in(key, step)` per step (so chunks draw what one evolve
draws), a batch of keys for a batched state, the rows a step reads, and draws given from outside
(`evolve(draws=)`)."""

import jax
import jax.numpy as jnp


def _draw(key, step, num_neurons: int, dtype):
    return jax.random.normal(jax.random.fold_in(key, step.astype(jnp.uint32)), (num_neurons,), dtype)


def _draw_batch(key, step, shape, dtype):
    """Unit normal draws of one step for a state of `shape` (batch dims..., N); one key per batch entry."""
    draw = lambda k: _draw(k, step, shape[-1], dtype)
    for _ in shape[:-1]:
        draw = jax.vmap(draw)
    return draw(key)


def standard_normal_raster(key, first_step, num_steps: int, num_neurons: int, dtype=None):
    """The unit normal draws `xi` of the noise for steps `first_step .. first_step + num_steps - 1`.

    Step n draws `normal(fold_in(key, n), (num_neurons,))`, so any split of an evolution into chunks draws
    the same numbers. The noise current of step n is `noise_scale * xi[n]` (see [`jaxiaf.evolve`][]).

    **Arguments:**

    - `key`: a JAX PRNG key (raw `uint32[2]` or typed).
    - `first_step`: () int, the global index of the first step (the state's `step`).
    - `num_steps`, `num_neurons`: static ints.
    - `dtype`: float dtype of the draws; default: the current default float dtype.

    **Returns:** (num_steps, num_neurons) array of N(0, 1) draws.
    """
    dtype = jnp.result_type(float) if dtype is None else dtype
    steps = jnp.asarray(first_step) + jnp.arange(num_steps)
    return jax.vmap(lambda n: _draw(key, n, num_neurons, dtype))(steps)


def draw_source(state, shape, draws, rows: int):
    """`pick(n, dtype) -> (rows, *shape)`: step n's unit normal draws, from the state's key
    (`normal(fold_in(key, n), (rows * N,))` per batch entry, read as `rows` rows of N), or row
    `n - state.step` of the given `draws` (T, rows, *shape)."""
    if draws is not None:
        return lambda n, dtype: jax.lax.dynamic_index_in_dim(draws, n - state.step, keepdims=False).astype(
            dtype
        )

    def pick(n, dtype):
        raw = _draw_batch(state.key, n, (*shape[:-1], rows * shape[-1]), dtype)
        return jnp.moveaxis(raw.reshape(*shape[:-1], rows, shape[-1]), -2, 0)

    return pick


def rows(model, sim) -> int:
    """Unit normal draws per neuron and step: the default equations' noise (1 if noisy), or a model's
    update terms and the threshold's and reset's `randn()` calls."""
    if model is None:
        return int(sim.noisy)
    settle = (*model.before_condition, model.condition or "", *model.on_spike)
    return model.draws + sum(text.count("randn(") for text in settle)


def checked_draws(draws, num_steps: int, rows: int, shape):
    """`draws` as an array of shape (T, D, *shape); `ValueError` naming it otherwise, or where the layer
    draws nothing."""
    if draws is None:
        return None
    if rows == 0:
        raise ValueError(
            "`draws` given, but the layer draws no normal numbers (no noise, no `xi`, no `randn()`)."
        )
    draws = jnp.asarray(draws)
    if draws.shape != (num_steps, rows, *shape):
        raise ValueError(
            f"`draws` must have shape (T, D, ...state) = {(num_steps, rows, *shape)} (D = {rows} draws per "
            f"neuron and step); got {draws.shape}."
        )
    return draws
