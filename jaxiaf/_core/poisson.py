"""`Poisson`: input spikes drawn step by step, as Brian2's `PoissonGroup` draws them, without a raster."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np


class Poisson(eqx.Module):
    """`N_in` Poisson sources over T steps, as Brian2's `PoissonGroup(N_in, rates)`: source i spikes in
    step k when a uniform draw is below `rates[i] * dt`. Step k's draws are `jax.random.uniform(
    jax.random.fold_in(key, k), (N_in,))` for each key (k counted from the start of the evolve), so no
    (T, N_in) raster is stored; [`raster`][jaxiaf.synapses.Poisson.raster] gives it.

    **Arguments:**

    - `rates`: (N_in,) or (B..., N_in) float rates (Hz), >= 0; with batch axes, one row per batch entry
      of the layer's state (a sweep's sets).
    - `dt`: the time step (s), > 0.
    - `num_steps`: static int T, the number of steps the source spans.
    - `key`: a typed PRNG key (`jax.random.key(0)`), or (B...) of them, one per batch entry (each
      entry's own draws); one key for batched `rates` gives every entry the same draws.
    """

    probability: jax.Array
    key: jax.Array
    num_steps: int = eqx.field(static=True)

    def __init__(self, rates, dt, num_steps: int, key):
        rates = jnp.asarray(rates)
        if rates.ndim < 1 or not jnp.issubdtype(rates.dtype, jnp.floating):
            raise ValueError(
                f"`rates` must be (N_in,) or (B..., N_in) floats (Hz); got {rates.dtype} {rates.shape}."
            )
        if not isinstance(num_steps, int) or isinstance(num_steps, bool) or num_steps < 0:
            raise ValueError(f"`num_steps` must be a non-negative int; got {num_steps!r}.")
        if not (isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key)):
            raise ValueError(f"`key` must be typed PRNG keys (jax.random.key(0)); got {type(key).__name__}.")
        if key.shape not in ((), rates.shape[:-1]):
            raise ValueError(
                f"`key` must have shape () or {rates.shape[:-1]} (the rates' batch axes); got {key.shape}."
            )
        try:
            concrete = np.asarray(rates), float(dt)
        except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
            concrete = None
        if concrete is not None and (np.any(~(concrete[0] >= 0)) or not concrete[1] > 0):
            raise ValueError(
                f"`rates` must be >= 0 and `dt` > 0; got rates down to {concrete[0].min()}, dt {dt}."
            )
        self.probability = rates * jnp.asarray(dt, rates.dtype)
        self.key = key
        self.num_steps = num_steps

    def row(self, k, shape: tuple):
        """Step k's spikes, (B..., N_in) bool for a state of batch axes `shape` (B...)."""
        n_in = self.probability.shape[-1]
        draw = lambda key: jax.random.uniform(jax.random.fold_in(key, k), (n_in,), self.probability.dtype)
        keys = jnp.reshape(self.key, (-1,))
        uniform = jnp.reshape(jax.vmap(draw)(keys), (*self.key.shape, n_in))
        target = (*shape, n_in)
        return jnp.broadcast_to(uniform, target) < jnp.broadcast_to(self.probability, target)

    def raster(self):
        """The (T, B..., N_in) bool raster of the draws (B... the batch axes of `rates` and `key`)."""
        shape = jnp.broadcast_shapes(self.key.shape, self.probability.shape[:-1])
        return jax.vmap(lambda k: self.row(k, shape))(jnp.arange(self.num_steps))


def input_row(spikes, k, shape: tuple):
    """Step k's input spikes, (B..., N_in) bool for a state of batch axes `shape`: a row of a (T, N_in)
    or (T, B..., N_in) raster, or a [`Poisson`][jaxiaf.synapses.Poisson] source's draws."""
    if isinstance(spikes, Poisson):
        return spikes.row(k, shape)
    row = jax.lax.dynamic_index_in_dim(spikes, k, keepdims=False)
    return jnp.broadcast_to(row, (*shape, row.shape[-1]))
