"""Brian2 equations in, the statements Brian2 would execute out: the front end of the equation-driven layer.

[`jaxiaf.model`][] hands the equations, threshold, reset, refractory period and integrator to Brian2 2.9
itself: its parser and unit checks, its state updaters and its numpy code generation (a one-neuron
`NeuronGroup` run for zero time). What comes back is the numpy code Brian2 would execute each step, in its
order of operations and with its parenthesisation: the state update, the threshold condition and the
reset. A [`jaxiaf.Model`][] keeps those statements as source text (so it is hashable and a static field
of the layer); `jaxiaf._equations.interpret` runs them on JAX arrays inside the one `lax.scan` of
[`jaxiaf.evolve`][].
Brian2 is the front end only: no Brian2 code runs during a simulation.

The layer's input current, `x @ weights` held constant over each step, enters the equations as `I_inp`:
use the name in the equations (declared `I_inp : amp`, or any other unit the input should have, or left
undeclared for amperes); Rockpool's `I_inp(t, i)` is read as `I_inp`.
"""

import ast
import functools
import re
from dataclasses import dataclass

import numpy as np

INPUT = "I_inp"
"""The name of the layer's input (`x @ weights`) in the equations."""

_TABLE = "jaxiaf_input"
_FUNCTIONS = frozenset(
    "abs arccos arcsin arctan ceil clip cos cosh exp expm1 exprel floor int log log10 log1p sign sin sinh "
    "sqrt tan tanh timestep randn where logical_not".split()

)
"""Functions with a JAX counterpart (see `jaxiaf._equations.interpret`); `rand` and `poisson` have none
here."""

PAGE_NAMES = ("bias", "tau_mem", "v_thresh", "v_reset", "v_rest")
"""Parameters that keep the reference page's fields (and defaults) when the equations declare them."""


@dataclass(frozen=True)
class Model:
    """What Brian2 would execute for one set of equations, as source text (see the module docstring).

    **Fields:**

    - `equations`, `threshold`, `reset`: as given; `refractory`: the period as a Brian2 expression of the
      parameters (None: the layer's numeric `refractory`); `method`: the integrator Brian2 used (its
      automatic choice when none was given).
    - `input_unit`: the unit of `I_inp` (e.g. `"amp"`).
    - `states`: `(name, unit)` of each variable with a differential equation, `v` first; `flags`: the
      names flagged `(unless refractory)`.
    - `parameters`: `(name, unit)` of each declared parameter.
    - `constants`: `(name, value)` of the external constants the code reads (units such as `mV`).
    - `scalar`: the loop-invariant statements (`_lio_1 = ...`); `per_step`: the `(constant over dt)`
      subexpressions; `update`: the state update; `condition`: the threshold condition; `on_spike`: the
      reset statements. Each is Brian2's numpy code, one statement per string.
    - `invariant`: calls of transcendental functions (`exp`, `sqrt`, ...) whose arguments are
      parameters, constants and `dt` only, hoisted out of the update as `_inv_k = ...` (computed once
      per evolve with NumPy, as Brian2 computes them, so that linear models integrated with `linear` or
      `exponential_euler` stay bit-exact).
    - `draws`: the number of unit normal draws (`xi`, `xi_1`, ...) per neuron and step.
    """

    equations: str
    threshold: str
    reset: str
    refractory: str | None
    method: str
    input_unit: str
    states: tuple
    flags: tuple
    parameters: tuple
    constants: tuple
    scalar: tuple
    per_step: tuple
    update: tuple
    condition: str
    on_spike: tuple
    invariant: tuple
    draws: int

    @property
    def state_names(self) -> tuple:
        return tuple(name for name, _ in self.states)

    @property
    def parameter_names(self) -> tuple:
        return tuple(name for name, _ in self.parameters)

    def unit(self, name: str) -> str:
        """The Brian2 unit of a parameter or state variable, e.g. `"siemens"`."""
        return dict(self.parameters + self.states)[name]

    def __repr__(self) -> str:
        return f"Model(states={self.state_names}, parameters={self.parameter_names}, method={self.method!r})"


def _refuse(what: str) -> ValueError:
    return ValueError(f"`neuron_eq`: {what}")


def _unit_name(dim) -> str:
    import brian2

    return "1" if dim is brian2.units.fundamentalunits.DIMENSIONLESS else repr(brian2.get_unit(dim))


def _prepare(neuron_eq):
    """The equations as Brian2 `Equations`, with `I_inp` replaced by the input table; the input's unit."""
    import brian2
    from brian2.equations.equations import DIFFERENTIAL_EQUATION, PARAMETER, SUBEXPRESSION, EquationError

    text = neuron_eq
    if not isinstance(text, str):
        raise TypeError(f"`neuron_eq` must be a Brian2 `Equations` object or a string; got {neuron_eq!r}.")
    text = re.sub(rf"\b{INPUT}\s*\(\s*t\s*,\s*i\s*\)", INPUT, text)
    try:
        equations = brian2.Equations(text)
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
    if "v" not in equations or equations["v"].type != DIFFERENTIAL_EQUATION:
        raise _refuse("the equations must give the membrane potential a differential equation `dv/dt = ...`.")
    held = brian2.Equations(f"{INPUT} = {_TABLE}(t, i) : {_unit_name(dim)} (constant over dt)")
    return brian2.Equations(kept) + held, dim, text


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


def _vector_block(code: str) -> list:
    """The statements of a numpy code object's vector block, as AST nodes."""
    body = code[code.index("# vector code") :].split("\n", 1)[1]
    return ast.parse(_dedent(body)).body


def _scalar_block(code: str) -> list:
    start = code.index("# scalar code")
    body = code[start : code.index("# vector code")].split("\n", 1)[1]
    return ast.parse(_dedent(body)).body


def _dedent(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    indent = min(len(line) - len(line.lstrip()) for line in lines)
    return "\n".join(line[indent:] for line in lines)


def _is_load(node) -> bool:
    """`x = _array_group_x`, `.copy()`, `[_idx]` or `[0]` loads, `_vectorisation_idx` and `_idx` lines."""
    if not isinstance(node, ast.Assign) or len(node.targets) != 1:
        return False
    target = node.targets[0]
    if isinstance(target, ast.Name) and target.id in ("_vectorisation_idx", "_idx"):
        return True
    source = ast.unparse(node.value)
    return isinstance(target, ast.Name) and source.startswith("_array_")


def _is_store(node) -> bool:
    targets = node.targets if isinstance(node, ast.Assign) else []
    return any(ast.unparse(t).startswith("_array_") for t in targets)


class _Unmask(ast.NodeTransformer):
    """`y[m]` -> `y` for one mask name `m`."""

    def __init__(self, mask: str):
        self.mask = mask

    def visit_Subscript(self, node):
        node = self.generic_visit(node)
        return node.value if ast.unparse(node.slice) == self.mask else node


def _statements(nodes) -> tuple:
    """Brian2's vector statements without its loads and stores; `x[nr] = _x[nr]` as a `where`."""
    out = []
    for node in nodes:
        if _is_load(node) or _is_store(node) or isinstance(node, ast.If):
            continue
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Subscript):
            # `x[m] = value` with `y[m]` inside: elementwise, `x = where(m, value without [m], x)`
            target = node.targets[0]
            name, mask = ast.unparse(target.value), ast.unparse(target.slice)
            value = ast.unparse(_Unmask(mask).visit(node.value))
            out.append(f"{name} = where({mask}, {value}, {name})")
            continue
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "not_refractory":
            continue  # the layer's own counter supplies `not_refractory` (Brian2's rule, see `evolve`)
        out.append(ast.unparse(node))
    return tuple(out)


def _calls(statements) -> set:
    names = set()
    for text in statements:
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Call):
                func = node.func
                names.add(func.attr if isinstance(func, ast.Attribute) else ast.unparse(func))
    return names


class _Hoist(ast.NodeTransformer):
    """Replace each call whose names are all loop-invariant by `_inv_k` (one per distinct expression)."""

    def __init__(self, invariant_names):
        self.invariant_names, self.found = invariant_names, {}

    def visit_Call(self, node):
        func = node.func.attr if isinstance(node.func, ast.Attribute) else ast.unparse(node.func)
        names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} - _FUNCTIONS - {"_numpy"}
        if (
            func in _FUNCTIONS - {"randn", "where", "timestep", "logical_not"}
            and names <= self.invariant_names
        ):
            text = ast.unparse(node)
            name = self.found.setdefault(text, f"_inv_{len(self.found) + 1}")
            return ast.Name(id=name, ctx=ast.Load())
        return self.generic_visit(node)


def _hoist(statements, invariant_names):
    hoist = _Hoist(invariant_names)
    out = tuple(ast.unparse(hoist.visit(ast.parse(text))) for text in statements)
    return out, tuple(f"{name} = {text}" for text, name in hoist.found.items())


def _check_functions(statements, what: str):
    unknown = sorted(_calls(statements) - _FUNCTIONS)
    if unknown:
        raise _refuse(
            f"the {what} calls {', '.join(unknown)}, which has no JAX counterpart here; allowed functions: "
            f"{', '.join(sorted(_FUNCTIONS - {'where', 'logical_not', 'timestep'}))} and `xi` noise terms."
        )


def _refractory_expression(nodes, scalar, refractory: str) -> str:
    """EXPR of Brian2's `not_refractory = timestep(t - lastspike, dt) >= timestep(EXPR, dt)`, where
    `timestep(EXPR, dt)` may have been hoisted into the scalar code as `_lio_k`."""
    hoisted = {ast.unparse(n.targets[0]): n.value for n in scalar if isinstance(n, ast.Assign)}
    for node in nodes:
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "not_refractory":
            if isinstance(node.value, ast.Compare):
                period = node.value.comparators[0]
                period = hoisted.get(ast.unparse(period), period)
                if isinstance(period, ast.Call) and ast.unparse(period.func) == "timestep":
                    return ast.unparse(period.args[0])
    raise ValueError(
        f"`refractory`: {refractory!r} must be a duration (a Brian2 expression of the parameters in "
        "seconds); refractoriness given as a condition is not supported."
    )


@functools.lru_cache(maxsize=64)
def _build(neuron_eq: str, threshold: str, reset: str, refractory: str | None, method: str | None) -> Model:
    import brian2
    from brian2.codegen.runtime.numpy_rt import NumpyCodeObject
    from brian2.equations.equations import DIFFERENTIAL_EQUATION, PARAMETER
    from brian2.stateupdaters.base import UnsupportedEquationsException

    if method is not None and method.startswith("gsl"):
        raise ValueError(
            f"`integrator_name`: GSL methods ({method!r}) are not supported; use one of Brian2's "
            "own: linear (exact), exponential_euler, euler, rk2, rk4, heun, milstein, independent."
        )
    equations, dim, text = _prepare(neuron_eq)
    table = brian2.TimedArray(brian2.Quantity(np.zeros((1, 1)), dim=dim), dt=1e-4 * brian2.second)
    group_kwargs = dict(
        threshold=threshold,
        reset=reset,
        refractory=refractory if refractory is not None else 0 * brian2.second,
        namespace={_TABLE: table},
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
        method = candidate
        break
    # Each code object numbers its loop invariants from 1: tag them apart (`_lio_1` -> `_lio_t1`, ...)
    tags = {"StateUpdater": "", "Thresholder": "t", "Resetter": "r", "SubexpressionUpdater": "s"}
    codes = {
        kind: re.sub(r"\b_lio_(\d+)\b", rf"_lio_{tags[kind]}\1", obj.codeobj.code.run)
        for obj in group.contained_objects
        if (kind := type(obj).__name__) in tags
    }
    update_nodes = _vector_block(codes["StateUpdater"])
    states = [(n, _unit_name(eq.dim)) for n, eq in equations.items() if eq.type == DIFFERENTIAL_EQUATION]
    states.sort(key=lambda s: s[0] != "v")
    parameters = tuple((n, _unit_name(eq.dim)) for n, eq in equations.items() if eq.type == PARAMETER)
    update = _statements(update_nodes)
    per_step = ()
    if "SubexpressionUpdater" in codes:
        per_step = _statements(_vector_block(codes["SubexpressionUpdater"]))
        per_step = tuple(s for s in per_step if not s.startswith(f"{INPUT} = "))
    condition = next(
        ast.unparse(n.value)
        for n in _vector_block(codes["Thresholder"])
        if isinstance(n, ast.Assign) and ast.unparse(n.targets[0]) == "_cond"
    )
    on_spike = _statements(_vector_block(codes["Resetter"])) if "Resetter" in codes else ()
    scalar = tuple(ast.unparse(n) for code in codes.values() for n in _scalar_block(code) if not _is_load(n))
    read = " ".join(update + per_step + on_spike + (condition,))
    scalar = tuple(s for s in scalar if re.search(rf"\b{s.split(' = ', 1)[0]}\b", read))
    timed = tuple(s for s in scalar if re.search(r"\bt\b", s.split(" = ", 1)[1]))
    scalar = tuple(s for s in scalar if s not in timed)
    update = timed + update  # Brian2 recomputes its scalar code every step: those that read `t` run per step
    state_names = {n for n, _ in states}
    for text_ in on_spike:
        target = ast.parse(text_).body[0]
        target = target.targets[0] if isinstance(target, ast.Assign) else target.target
        if ast.unparse(target) not in state_names:
            raise ValueError(
                f"`reset`: only variables with a differential equation may be reset; "
                f"`{ast.unparse(target)}` is not one ({reset!r})."
            )
    _check_functions(update + scalar + per_step, "state update")
    _check_functions((condition,), "threshold")
    _check_functions(on_spike, "reset")
    period = None
    if refractory is not None:
        period = _refractory_expression(update_nodes, _scalar_block(codes["StateUpdater"]), refractory)
    used = set()
    for text_ in update + scalar + per_step + (condition,) + on_spike + ((period,) if period else ()):
        used |= {n.id for n in ast.walk(ast.parse(text_)) if isinstance(n, ast.Name)}
    constants = []
    for obj in group.contained_objects:
        for name, var in obj.codeobj.variables.items():
            if type(var).__name__ == "Constant" and name in used and name != "N":
                constants.append((name, float(var.value)))
    draws = sum(s.count("randn(") for s in update + per_step)
    fixed = {n for n, _ in parameters} | {n for n, _ in constants} | {"dt"}
    fixed |= {s.split(" = ", 1)[0] for s in scalar}
    update, invariant = _hoist(update, fixed)
    return Model(
        equations=text,
        threshold=threshold,
        reset=reset,
        refractory=period,
        method=method,
        input_unit=_unit_name(dim),
        states=tuple(states),
        flags=tuple(n for n, eq in equations.items() if "unless refractory" in eq.flags),
        parameters=parameters,
        constants=tuple(sorted(set(constants))),
        scalar=scalar,
        per_step=per_step,
        update=update,
        condition=condition,
        on_spike=on_spike,
        invariant=invariant,
        draws=draws,
    )


def model(neuron_eq, threshold="v > v_thresh", reset="v = v_reset", refractory=None, integrator_name=None):
    """Compile Brian2 equations into a [`jaxiaf.Model`][] (cached per process).

    **Arguments:**

    - `neuron_eq`: Brian2 `Equations` or an equation string; the input current is `I_inp` (module
      docstring). The equations must define `dv/dt`.
    - `threshold`, `reset`: Brian2 code strings (`reset` may update several variables, `"v = v_reset;
      w += b"`).
    - `refractory`: None (the layer's numeric `refractory` applies) or a Brian2 expression of the
      parameters giving the period (e.g. `"ref"` or `"2*ms"`); `(unless refractory)` is honoured per
      variable as in Brian2.
    - `integrator_name`: any of Brian2's non-GSL methods (`"exact"` is Brian2's `"linear"`); None lets
      Brian2 choose (the choice is `Model.method`).

    **Raises:** `ValueError` naming the line and what is allowed, for what the layer does not support.
    """
    if not isinstance(threshold, str) or not isinstance(reset, str):
        raise TypeError(f"`threshold` and `reset` must be Brian2 code strings; got {threshold!r}, {reset!r}.")
    if refractory is not None and not isinstance(refractory, str):
        raise TypeError(
            f"`refractory` of `jaxiaf.model` must be None or an expression string; got {refractory!r}."
        )
    method = {"exact": "linear"}.get(integrator_name, integrator_name)
    text = _text(neuron_eq) if type(neuron_eq).__name__ == "Equations" else neuron_eq
    return _build(text, threshold, reset, refractory, method)


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
