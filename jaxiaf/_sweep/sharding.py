"""Placing a sweep's chunks on the devices of one or several processes, and bringing results to the host.

One process: `jax.device_put` onto a `NamedSharding`. Several processes (`jax.distributed.initialize`):
every process holds the same host arrays and builds each global array from them with
`jax.make_array_from_callback` (each process fills the shards of its own devices); results are gathered
to every process with `process_allgather`.
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P


def mesh():
    """A 1-D mesh `("batch",)` over all devices of all processes, or None for a single device."""
    devices = jax.devices()
    if len(devices) == 1:
        return None
    return jax.make_mesh(
        (len(devices),), ("batch",), devices=devices, axis_types=(jax.sharding.AxisType.Auto,)
    )


def _is_key(a) -> bool:
    return jnp.issubdtype(a.dtype, jax.dtypes.prng_key)


def _global(a, sharding):
    """One leaf as a global array of several processes."""
    if _is_key(a):
        data = _global(jax.random.key_data(a), sharding)
        return jax.random.wrap_key_data(data, impl=jax.random.key_impl(a))
    host = np.asarray(a)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def place(tree, mask, device_mesh):
    """Every leaf of `tree` on `device_mesh`: split along its first axis where `mask` is True, else
    replicated. Unchanged without a mesh."""
    if device_mesh is None:
        return tree
    row, rep = NamedSharding(device_mesh, P("batch")), NamedSharding(device_mesh, P())
    if jax.process_count() == 1:  # one batched transfer of every leaf
        return jax.device_put(tree, jax.tree.map(lambda b: row if b else rep, mask))
    return jax.tree.map(lambda a, b: _global(a, row if b else rep), tree, mask)


def to_host(a):
    """A (possibly multi-process) array as a NumPy array held by this process; keys as their key data."""
    if _is_key(a):
        return to_host(jax.random.key_data(a))
    if a.is_fully_addressable:
        return np.asarray(a)
    if a.sharding.is_fully_replicated:
        return np.asarray(a.addressable_data(0))
    return np.asarray(multihost_utils.process_allgather(a, tiled=True))
