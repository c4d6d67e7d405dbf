"""Turning user values (floats, arrays, Brian2 quantities) into validated float arrays of the layer."""

import jax
import jax.numpy as jnp
import numpy as np

from . import _checks
from ._pytrees import float_dtype

UNITS = {
    "bias": "A",
    "tau_mem": "s",
    "v_thresh": "V",
    "v_reset": "V",
    "v_rest": "V",
    "noise_std": "V",
    "refractory": "s",
    "dt": "s",
}
"""The SI unit of each scalar or per-neuron parameter."""

_UNIT_DIMS = {"s": "s", "V": "m^2 kg s^-3 A^-1", "A": "A", "1": "1"}
_UNIT_NAMES = {"s": "seconds (s)", "V": "volts (V)", "A": "amperes (A)", "1": "dimensionless"}


def _strip_unit(name: str, value, unit: str):
    dim = getattr(value, "dim", None)
    if dim is None:
        return value
    if str(dim) != _UNIT_DIMS[unit]:
        raise ValueError(f"`{name}` must be in {_UNIT_NAMES[unit]}; got a quantity of dimension {dim}.")
    return np.asarray(value)


def as_float(name: str, value, unit: str):
    """`value` as an array of the layer's float dtype; a Brian2 quantity must carry `unit`."""
    value = _strip_unit(name, value, unit)
    if not isinstance(value, jax.Array):
        value = np.asarray(value)
    if not (np.issubdtype(value.dtype, np.number) or np.issubdtype(value.dtype, np.bool_)):
        raise TypeError(f"`{name}` must be a number or an array of numbers (in {_UNIT_NAMES[unit]}).")
    return jnp.asarray(value, dtype=float_dtype())


def per_neuron(name: str, value, unit: str, num_neurons: int):
    """A per-neuron parameter: a scalar or shape (1,) is broadcast to (N,); (N,) is kept; else ValueError."""
    arr = as_float(name, value, unit)
    if arr.shape in ((), (1,)):
        arr = jnp.broadcast_to(arr.reshape(()), (num_neurons,))
    elif arr.shape != (num_neurons,):
        raise ValueError(
            f"`{name}` must be a scalar or have shape (1,) or ({num_neurons},) (one value per neuron); "
            f"got shape {arr.shape}."
        )
    _checks.check_now(name, arr)
    return arr


def scalar(name: str, value, unit: str):
    """A scalar simulation parameter; ValueError for any other shape."""
    arr = as_float(name, value, unit)
    if arr.shape not in ((), (1,)):
        raise ValueError(f"`{name}` must be a scalar; got shape {arr.shape}.")
    arr = arr.reshape(())
    _checks.check_now(name, arr)
    return arr


def weights(value):
    """The (N_in, N) weight matrix; ValueError unless 2-D with N_in, N >= 1."""
    arr = as_float("weights", value, "1")
    if arr.ndim != 2 or 0 in arr.shape:
        raise ValueError(f"`weights` must be a 2-D array [N_in, N] with N_in, N >= 1; got shape {arr.shape}.")
    _checks.check_now("weights", arr)
    return arr


def is_noisy(noise_std) -> bool:
    """Whether a layer must draw noise: always for traced values, else if any `noise_std` is non-zero."""
    return not _checks.is_concrete(noise_std) or bool(np.any(np.asarray(noise_std) != 0))
