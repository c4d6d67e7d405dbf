"""Validation of values, shared by construction (eager `ValueError`) and evolution (`eqx.error_if`).

One table of rules gives both tiers the same message, so a bad `tau_mem` reads the same whether it is
caught at construction, in an eager call, or inside `jit`/`vmap` (where equinox raises
`EquinoxRuntimeError` carrying the message).
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .defaults import SPECS

_UNIT_TEXT = {"1": "dimensionless units: the input `x` is a current in A"}


def _bad(xp, value, rule):
    finite = xp.isfinite(value)
    if rule == "finite and > 0":
        return ~(finite & (value > 0))
    if rule == "finite and >= 0":
        return ~(finite & (value >= 0))
    return ~finite


def _rule(name: str) -> str:
    """The rule of a page argument; a parameter of a layer's own equations must be finite."""
    return SPECS[name].rule if name in SPECS else "finite"


def message(name: str) -> str:
    """The error message for a bad value of the parameter `name`."""
    if name not in SPECS:
        return f"`{name}` must be finite for every neuron."
    rule, unit = SPECS[name].rule, SPECS[name].unit
    return f"`{name}` must be {rule} (in {_UNIT_TEXT.get(unit, unit)}) for every neuron."


def is_concrete(value) -> bool:
    """True for values that can be inspected now (not tracers inside jit/vmap)."""
    return not isinstance(value, jax.core.Tracer)


def check_now(name: str, value) -> None:
    """Raise `ValueError` if a concrete `value` breaks the rule for `name`; tracers are left to `traced`."""
    if not is_concrete(value):
        return
    arr = np.asarray(value)
    bad = _bad(np, arr, _rule(name))
    if np.any(bad):
        raise ValueError(f"{message(name)} Got {arr[bad].ravel()[:5].tolist()}.")


def traced(name: str, value):
    """`value`, tied to a runtime check of the rule for `name` (works under jit and vmap)."""
    return eqx.error_if(value, jnp.any(_bad(jnp, value, _rule(name))), message(name))


def tie_input_check(carrier, value, name: str = "x"):
    """`carrier`, tied to a runtime check that every entry of the input `value` is finite.

    The check rides on a small array that the computation uses (a state vector), not on the (T, ...)
    input itself: `eqx.error_if` copies the array it returns, which cost 20 ms on a (10^4, 1000) input
    against 1.6 ms for the test. `sum(value * 0)` is NaN exactly when an entry is NaN or inf, and cannot
    overflow.
    """
    return eqx.error_if(carrier, ~jnp.isfinite(jnp.sum(value * 0)), input_message(name))


def input_message(name: str = "x") -> str:
    """The error message for a non-finite input array."""
    return f"`{name}` (the input) must be finite; it contains NaN or inf."


def check_input_now(value, name: str = "x") -> None:
    """Raise `ValueError` if a concrete input holds NaN or inf."""
    if is_concrete(value) and not np.all(np.isfinite(np.asarray(value))):
        raise ValueError(input_message(name))


def ensure(name: str, value, rule: str, unit: str):
    """`value`, checked against `rule` (`"finite"`, `"finite and > 0"`, `"finite and >= 0"`): a concrete
    value now (`ValueError`), a tracer at run time (`eqx.error_if`)."""
    text = f"`{name}` must be {rule} (in {unit})."
    if is_concrete(value):
        arr = np.asarray(value)
        bad = _bad(np, arr, rule)
        if np.any(bad):
            raise ValueError(f"{text} Got {arr[bad].ravel()[:5].tolist()}.")
        return value
    return eqx.error_if(value, jnp.any(_bad(jnp, value, rule)), text)
