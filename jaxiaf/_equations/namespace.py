"""A script's constants, as Brian2 resolves them: the identifiers of the equations, threshold, reset and
refractoriness that the equations do not declare are looked up in a namespace.

The namespace of a layer is `namespace=` (a mapping, as Brian2's `NeuronGroup(namespace=...)`) together
with the constructor's keywords that the equations do not declare. Values are Brian2 quantities (`10*ms`)
or plain numbers, which are dimensionless, exactly as in Brian2. Brian2's own constants (`pi`, `e`,
`inf`), its units and functions, and `t`, `dt`, `i`, `N`, `xi`, `I_inp` need no entry.

A constant becomes a per-neuron parameter (swept, fitted, set by name) when it is named in `per_neuron=`:
the equations then declare it with the unit of its value, and its value is the parameter's initial
value. The equations themselves are not rewritten by the user.
"""

import numbers
import re

import numpy as np

SPECIAL = frozenset(("t", "dt", "i", "N", "xi", "lastspike", "not_refractory", "True", "False"))
"""Identifiers Brian2 provides to every group."""


def _brian_names() -> frozenset:
    from brian2.core.functions import DEFAULT_FUNCTIONS
    from brian2.core.namespace import DEFAULT_CONSTANTS, DEFAULT_UNITS

    return frozenset(DEFAULT_FUNCTIONS) | frozenset(DEFAULT_CONSTANTS) | frozenset(DEFAULT_UNITS)


def brian_constants() -> dict:
    """Brian2's named constants (`pi`, `e`, `inf`) as floats."""
    from brian2.core.namespace import DEFAULT_CONSTANTS

    return {k: float(v.value) for k, v in DEFAULT_CONSTANTS.items() if k.isidentifier()}


def _is_quantity(value) -> bool:
    return type(value).__name__ in ("Quantity", "Unit")


def entry(name: str, value, where: str) -> tuple:
    """`(name, SI float, dimension string)` of one scalar namespace value; `TypeError` naming it
    otherwise."""
    import brian2

    if isinstance(value, (bool, np.bool_, numbers.Real)) and np.ndim(value) == 0:
        return name, float(value), "1"
    if _is_quantity(value) and np.ndim(value) == 0:
        return name, float(np.asarray(value)), _dim_text(brian2.get_dimensions(value))
    raise TypeError(
        f"{where} `{name}` must be a scalar constant (a number, or a Brian2 quantity such as `10*ms`); got "
        f"{type(value).__name__}{'' if np.ndim(value) == 0 else f' of shape {np.shape(value)}'}. For "
        f"per-neuron values, name it in `per_neuron=({name!r},)` or declare it in the equations."
    )


_BASE = ("metre", "kilogram", "second", "amp", "kelvin", "mole", "candela")


def _dim_text(dim) -> str:
    """A unit string Brian2's equation parser reads back (`amp * metre ** -2`), `"1"` if dimensionless."""
    import brian2

    if dim is brian2.units.fundamentalunits.DIMENSIONLESS:
        return "1"
    name = repr(brian2.get_unit(dim))
    if re.fullmatch(r"[A-Za-z_]\w*", name) and _parses(name):
        return name
    parts = [f"{u} ** {float(p):g}" if p != 1 else u for u, p in zip(_BASE, dim._dims, strict=True) if p]
    return " * ".join(parts)


def _parses(unit: str) -> bool:
    """Whether Brian2's equation parser reads `unit` (`metre2`, which `get_unit` may name, it does not)."""
    import brian2

    try:
        brian2.Equations(f"x : {unit}")
    except Exception:  # Brian2's parse and unit errors
        return False
    return True


def quantity(value: float, dim_text: str):
    """A Brian2 quantity from `entry`'s float and unit string."""
    import brian2

    if dim_text == "1":
        return value
    return value * brian2.Unit(1, dim=brian2.Equations(f"x : {dim_text}")["x"].dim)


def identifiers(texts) -> set:
    """The identifiers of Brian2 expressions and statements (`get_identifiers` on each)."""
    from brian2.utils.stringtools import get_identifiers

    found = set()
    for text in texts:
        found |= get_identifiers(text)
    return found


def unresolved(used: set, declared: set, given: set) -> list:
    """The identifiers that nothing provides, sorted."""
    known = SPECIAL | _brian_names() | declared | given
    return sorted(n for n in used if n not in known and not re.fullmatch(r"xi_\w+", n))


def unresolved_message(missing: list, units: dict) -> str:
    example = ", ".join(f"{n!r}: {units.get(n, '...')}" for n in missing[:2])
    names = ", ".join(f"`{n}`" for n in missing)
    return (
        f"`neuron_eq`: {names} {'is' if len(missing) == 1 else 'are'} used but neither declared by the "
        f"equations nor given. Either give the constant{'s' if len(missing) > 1 else ''} as in Brian2, in "
        f"`namespace={{{example}}}` or as keywords (`FFIAF(..., {missing[0]}=...)`; Brian2 quantities, plain "
        f"numbers are dimensionless), or declare {'it' if len(missing) == 1 else 'them'} as per-neuron "
        f"parameters in the equations (`{missing[0]} : <unit>`) and give the values by name."
    )


def declared_names(neuron_eq) -> set:
    """The names an equation string (or Brian2 `Equations`) declares."""
    import brian2

    text = neuron_eq if isinstance(neuron_eq, str) else str(neuron_eq)
    try:
        return set(brian2.Equations(text) if isinstance(neuron_eq, str) else neuron_eq)
    except Exception:  # invalid equations: the model's own parse reports them
        return set(re.findall(r"^\s*(?:d)?(\w+)", text, re.M))


def split(neuron_eq, keywords: dict, namespace) -> tuple:
    """`(declared values, namespace, keyword constants)`: a layer's keywords that its equations do not
    declare join `namespace` (a keyword wins over an entry of the same name); with the default equations
    (`neuron_eq` None) nothing moves."""
    if namespace is not None and not isinstance(namespace, dict):
        raise TypeError(f"`namespace` must be a dict of names to constants; got {type(namespace).__name__}.")
    if neuron_eq is None:
        return keywords, namespace, ()
    declared = declared_names(neuron_eq)
    moved = {k: v for k, v in keywords.items() if k not in declared}
    kept = {k: v for k, v in keywords.items() if k in declared}
    return kept, ({**(namespace or {}), **moved} or None), tuple(sorted(moved))


def check_keywords(model, keywords: tuple, per_neuron) -> None:
    """`ValueError` for keywords that are neither declared nor read by the model (a typo, say)."""
    read = {name for name, _, _ in model.namespace} | set(per_neuron)
    unused = sorted(set(keywords) - read)
    if unused:
        raise ValueError(
            f"FFIAF: {unused} not declared by the layer's equations; its parameters are "
            f"{list(model.parameter_names)} and its state variables {list(model.state_names)}, and no "
            "identifier of the equations, threshold, reset or refractoriness reads such a constant."
        )
