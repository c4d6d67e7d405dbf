"""Turning user values (floats, arrays, Brian2 quantities) into validated float arrays of the layer.

[`strip_unit`][] is the one place where a Brian2 quantity's dimension is checked; every value that enters
the library in SI units (constructor arguments, state, sweep values, fit bounds, time series times) goes
through it, directly or through [`as_float`][].
"""

import jax
import jax.numpy as jnp
import numpy as np

from . import checks as _checks
from .defaults import UNIT_DIMS, UNIT_NAMES
from .defaults import UNITS as UNITS
from .pytrees import float_dtype


def strip_unit(name: str, value, unit: str):
    """`value` without its Brian2 unit; `ValueError` naming `name` if a quantity's dimension is not `unit`'s.

    **Arguments:** `name`: the argument, for the message; `value`: a number, an array, a Brian2 quantity or
    a list of them; `unit`: `"s"`, `"V"`, `"A"` or `"1"` (dimensionless).

    **Returns:** `value` unchanged if it carries no unit, else its SI value as a NumPy array.
    """
    if isinstance(value, (list, tuple)) and any(hasattr(item, "dim") for item in value):
        return np.asarray([strip_unit(name, item, unit) for item in value])
    dim = getattr(value, "dim", None)
    if dim is None:
        return value
    if str(dim) != _dimension(unit):
        raise ValueError(f"`{name}` must be in {unit_name(unit)}; got a quantity of dimension {dim}.")
    return np.asarray(value)


def _dimension(unit: str) -> str:
    """How Brian2 writes the dimension of `unit`: one of the layer's (`"s"`, `"V"`, `"A"`, `"1"`) or a
    Brian2 unit expression from a layer's own equations (e.g. `"siemens"`, see `jaxiaf.Model`)."""
    if unit in UNIT_DIMS:
        return UNIT_DIMS[unit]
    import brian2

    return str(eval(unit, vars(brian2)).dim)  # a unit expression written by Brian2 itself (`repr`)


def unit_name(unit: str) -> str:
    return UNIT_NAMES.get(unit, unit)


def _numeric(name: str, value, what: str):
    """`value` as a NumPy or JAX array of real numbers; `TypeError` naming `name` otherwise."""
    if not isinstance(value, jax.Array):
        try:
            value = np.asarray(value)
        except (ValueError, TypeError):
            message = f"`{name}` must be a rectangular array of numbers; got a ragged sequence."
            raise ValueError(message) from None
    if np.issubdtype(value.dtype, np.complexfloating):
        raise TypeError(f"`{name}` must be real; got complex values (dtype {value.dtype}).")
    if not (np.issubdtype(value.dtype, np.number) or np.issubdtype(value.dtype, np.bool_)):
        raise TypeError(f"`{name}` must be a number or an array of numbers ({what}); got {value.dtype}.")
    if isinstance(value, np.ndarray) and not np.issubdtype(value.dtype, np.floating):
        value = value.astype(np.float64)  # integers above 2**31 would wrap through JAX's int32
    return value


def as_float(name: str, value, unit: str):
    """`value` as an array of the layer's float dtype; a Brian2 quantity must carry `unit`."""
    value = _numeric(name, strip_unit(name, value, unit), f"in {unit_name(unit)}")
    return jnp.asarray(value, dtype=float_dtype())


def input_array(name: str, value, unit: str = "A"):
    """An input array (in `unit`: amperes, or the unit of a layer's own `I_inp`) as a JAX array: real
    numbers, integers and bools converted to the layer's float dtype without wrapping; a Brian2 quantity
    must carry `unit`; `TypeError` naming `name` otherwise."""
    value = _numeric(name, strip_unit(name, value, unit), f"in {unit_name(unit)}")
    if not jnp.issubdtype(value.dtype, jnp.floating):
        return jnp.asarray(value, dtype=float_dtype())
    return jnp.asarray(value)


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


def prng_key(key):
    """One PRNG key (typed, shape (), or raw `uint32[2]`); `ValueError`/`TypeError` naming `key` otherwise."""
    if not isinstance(key, jax.Array | np.ndarray):
        raise TypeError(f"`key` must be a JAX PRNG key (`jax.random.key(seed)`); got {type(key).__name__}.")
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.shape != ():
            raise ValueError(
                f"`key` must be one PRNG key (shape ()); got a key array of shape {key.shape}, e.g. from "
                "`jax.random.split`: give one of its keys, or build the layers under `jax.vmap`."
            )
        return key
    if key.dtype != jnp.uint32 or key.shape != (2,):
        raise ValueError(
            f"`key` must be one PRNG key: `jax.random.key(seed)`, or a raw uint32 key of shape (2,); "
            f"got dtype {key.dtype} and shape {key.shape}."
        )
    return jnp.asarray(key)


def steps(name: str, value, shape: tuple):
    """Non-negative integers of `shape` (steps), checked now or, for a tracer, at run time."""
    if not isinstance(value, jax.Array):
        value = np.asarray(value)
        if np.issubdtype(value.dtype, np.integer) and value.size:
            limit = jnp.iinfo(jnp.result_type(int)).max
            if int(value.max()) > limit:
                raise ValueError(
                    f"`{name}` must be at most {limit} (the integer dtype of this session; switch on "
                    f"`jax_enable_x64` for more steps); got {int(value.max())}."
                )
    arr = jnp.asarray(value)
    if arr.shape != shape:
        raise ValueError(f"`{name}` must have shape {shape}; got {arr.shape}.")
    if not jnp.issubdtype(arr.dtype, jnp.integer):
        raise TypeError(f"`{name}` must hold integers (steps); got dtype {arr.dtype}.")
    return _checks.ensure(name, arr, "finite and >= 0", "steps")


def state_vector(name: str, value, unit: str, n: int):
    """A per-neuron state variable: a scalar or (1,) is broadcast to (N,), as parameters are."""
    arr = as_float(name, value, unit)
    if arr.shape in ((), (1,)):
        arr = jnp.broadcast_to(arr.reshape(()), (n,))
    if arr.shape != (n,):
        raise ValueError(f"`{name}` must be a scalar or have shape ({n},); got {arr.shape}.")
    return _checks.ensure(name, arr, "finite", unit)
