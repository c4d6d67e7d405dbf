"""Brian2 run for zero time: the one-neuron `NeuronGroup` whose code objects hold the statements of a
[`jaxiaf.Model`][] (`jaxiaf._equations.model`), and the conversions between equation text and Brian2's
`Equations`."""

import re

import numpy as np

from .._core.defaults import INPUT
from . import namespace as _namespace
from .statements import _TABLE, _refuse


def _unit_name(dim) -> str:
    return _namespace._dim_text(dim)


def _prepare(neuron_eq, promoted: dict, timed: bool):
    """The equations as Brian2 `Equations`, with `I_inp` replaced by the input table and the promoted
    constants declared (`name: unit`); the input's unit; the text. `timed`: `I_inp(t, i)` stays a call of
    the table (Brian2's `TimedArray` rule at each stage time), else it reads the held `I_inp`."""
    import brian2
    from brian2.equations.equations import DIFFERENTIAL_EQUATION, PARAMETER, SUBEXPRESSION, EquationError

    text = neuron_eq
    if not isinstance(text, str):
        raise TypeError(f"`neuron_eq` must be a Brian2 `Equations` object or a string; got {neuron_eq!r}.")
    text += "".join(f"\n{name} : {unit}" for name, unit in promoted.items())
    try:
        equations = brian2.Equations(_calls_of_input(text, timed))
    except (EquationError, SyntaxError, ValueError, KeyError) as error:
        raise _refuse(f"not valid Brian2 equations: {error}") from None
    dim = brian2.amp.dim
    kept = []
    for name, eq in equations.items():
        line = f"`{name}` ({eq})"
        if "shared" in eq.flags:
            raise _refuse(f"shared variables are not supported: {line}; declare it per neuron.")
        if "linked" in eq.flags:
            raise _refuse(f"linked variables are not supported: {line} (a layer has no other group).")
        if name == INPUT:
            if eq.type != PARAMETER:
                raise _refuse(
                    f"`{INPUT}` is the layer's input (`x @ weights`); declare it as a parameter "
                    f"(`{INPUT} : amp`) or leave it undeclared, do not define it: {line}."
                )
            dim = eq.dim
            continue
        if eq.type == PARAMETER and set(eq.flags) - {"constant"}:
            raise _refuse(f"unsupported flags {sorted(eq.flags)} on {line}; a parameter may be `(constant)`.")
        if eq.type == SUBEXPRESSION and set(eq.flags) - {"constant over dt"}:
            raise _refuse(f"unsupported flags {sorted(eq.flags)} on {line}.")
        if eq.type == DIFFERENTIAL_EQUATION and set(eq.flags) - {"unless refractory"}:
            raise _refuse(f"unsupported flags {sorted(eq.flags)} on {line}.")
        kept.append(eq)
    if not any(eq.type == DIFFERENTIAL_EQUATION for eq in kept):
        raise _refuse(
            "the equations must give at least one variable a differential equation (`dv/dt = ...`)."
        )
    held = brian2.Equations(f"{INPUT} = {_TABLE}(t, i) : {_unit_name(dim)} (constant over dt)")
    return brian2.Equations(kept) + held, dim, text


def _calls_of_input(text: str, timed: bool) -> str:
    """`I_inp(t, i)` as the input table's call (`timed`) or as the held `I_inp`."""
    return re.sub(rf"\b{INPUT}\s*\(\s*t\s*,\s*i\s*\)", f"{_TABLE}(t, i)" if timed else INPUT, text)


def _discard(group, error) -> None:
    """Free a group that was never run (and any half-built one in `error`'s frames) now, without Brian2's
    "never included in a network" warning, which would otherwise appear at some later collection."""
    import gc
    import traceback

    from brian2.utils.logger import catch_logs

    if group is not None:
        group._network = "not run"
    with catch_logs():
        traceback.clear_frames(error.__traceback__)
        gc.collect()


def _automatic_methods() -> tuple:
    """The methods Brian2 tries, in order, when a `NeuronGroup` is given none."""
    import inspect

    import brian2

    return inspect.signature(brian2.NeuronGroup).parameters["method"].default


def _run_group(equations, threshold, reset, refractory, method, namespace: dict, dim):
    """A one-neuron `NeuronGroup` run for zero time: `(group, method)`, Brian2's automatic choice of
    method where none was given."""
    import brian2
    from brian2.codegen.runtime.numpy_rt import NumpyCodeObject
    from brian2.stateupdaters.base import UnsupportedEquationsException

    table = brian2.TimedArray(brian2.Quantity(np.zeros((1, 1)), dim=dim), dt=1e-4 * brian2.second)
    group_kwargs = dict(
        threshold=threshold or None,
        reset=reset or None,
        refractory=refractory if refractory is not None else 0 * brian2.second,
        namespace={**namespace, _TABLE: table},
        dt=1e-4 * brian2.second,
        codeobj_class=NumpyCodeObject,
    )
    candidates = [method] if method is not None else _automatic_methods()
    for candidate in candidates:  # Brian2's own automatic choice: the first method that applies
        group = None
        try:
            group = brian2.NeuronGroup(1, equations, method=candidate, **group_kwargs)
            brian2.Network(group).run(0 * brian2.second, namespace={})
        except Exception as error:  # Brian2 wraps its parser, unit and state-updater errors
            cause = getattr(error, "__cause__", None) or error
            _discard(group, error)
            if isinstance(cause, UnsupportedEquationsException) and candidate != candidates[-1]:
                continue
            raise ValueError(
                f"Brian2 refused the layer's equations, threshold, reset or integrator: {cause}"
            ) from None
        return group, candidate
    raise AssertionError("Brian2 offers no automatic method")  # its default list ends in one that raises


def _constants(group, used: set, namespace: dict) -> tuple:
    """`(name, value)` of the external constants the code reads: the namespace's, Brian2's (`pi`, `e`,
    `inf`) and the units'; `N` is the layer's size (supplied at run time)."""
    found = {n: float(v) for n, v in _namespace.brian_constants().items() if n in used}
    for obj in group.contained_objects:
        for name, var in obj.codeobj.variables.items():
            if type(var).__name__ == "Constant" and name in used and name != "N":
                found[name] = float(var.value)
    found.update({n: v for n, (v, _) in namespace.items() if n in used})
    return tuple(sorted(found.items()))


def _text(equations) -> str:
    """Brian2 `Equations` as an equation string that Brian2 parses back (its `str` writes `A` for amp)."""
    from brian2.equations.equations import BOOLEAN, DIFFERENTIAL_EQUATION, INTEGER, SUBEXPRESSION

    lines = []
    for name, eq in equations.items():
        unit = {BOOLEAN: "boolean", INTEGER: "integer"}.get(eq.var_type) or _unit_name(eq.dim)
        flags = f" ({', '.join(eq.flags)})" if eq.flags else ""
        head = {DIFFERENTIAL_EQUATION: f"d{name}/dt = {eq.expr}", SUBEXPRESSION: f"{name} = {eq.expr}"}
        lines.append(f"{head.get(eq.type, name)} : {unit}{flags}")
    return "\n".join(lines)
