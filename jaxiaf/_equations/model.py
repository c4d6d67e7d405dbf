"""Brian2 equations in, the statements Brian2 would execute out: the front end of the equation-driven layer.

[`jaxiaf.model`][] hands the equations, threshold, reset, refractory period and integrator to Brian2 2.9
itself: its parser and unit checks, its state updaters and its numpy code generation (a one-neuron
`NeuronGroup` run for zero time). What comes back is the numpy code Brian2 would execute each step, in its
order of operations and with its parenthesisation: the state update, the threshold condition and the
reset. A [`jaxiaf.Model`][] keeps those statements as source text (so it is hashable and a static field
of the layer); `jaxiaf._core.interpret` runs them on JAX arrays inside the one `lax.scan` of
[`jaxiaf.evolve`][].
Brian2 is the front end only: no Brian2 code runs during a simulation.

The layer's input current, `x @ weights`, enters the equations as `I_inp` (declared `I_inp : amp`, or any
other unit the input should have, or left undeclared for amperes), held over each step; `I_inp(t, i)`
reads the same, or with `input_sampling="timed"` follows Brian2's `TimedArray` rule at each stage time.
Constants come from a namespace (`jaxiaf._equations.namespace`); Brian2's generated code is read into
statements by `jaxiaf._equations.statements`.
"""

import ast
import dataclasses
import functools
import re
from dataclasses import dataclass

from .._core.defaults import INPUT
from . import namespace as _namespace
from .group import _constants, _prepare, _run_group, _text, _unit_name
from .statements import (
    _TABLE,
    _check_functions,
    _check_reset,
    _closure,
    _hoist,
    _names_in,
    _refractoriness,
    _scalars,
    _statements,
    _target_of,
    _threshold_block,
    _timed,
    _vector_block,
)


@dataclass(frozen=True)
class Model:
    """What Brian2 would execute for one set of equations, as source text (see the module docstring).

    **Fields:**

    - `equations`, `threshold`, `reset`: as given (with the promoted constants declared, and the default
      threshold and reset resolved: `""` for none); `refractory`: the period as a Brian2 expression of the
      parameters, or the refractoriness as given where it is evaluated every step (`refractory_rule`);
      None: the layer's numeric `refractory`; `method`: the integrator Brian2 used (its automatic choice
      when none was given).
    - `input_unit`: the unit of `I_inp` (e.g. `"amp"`).
    - `states`: `(name, unit)` of each variable with a differential equation, `v` first (else the first
      declared: the layer's primary variable, `State.v`); `flags`: the
      names flagged `(unless refractory)`.
    - `parameters`: `(name, unit)` of each declared parameter; `integers`, `booleans`: the names of
      those declared `integer` or `boolean` (their values are truncated, or tested for non-zero, as
      Brian2 stores them).
    - `constants`: `(name, value)` of the external constants the code reads (units such as `mV`).
    - `scalar`: the loop-invariant statements (`_lio_1 = ...`); `per_step`: the `(constant over dt)`
      subexpressions; `update`: the state update; `before_condition`: the statements the thresholder runs
      before its condition (subexpressions, values of `t`); `condition`: the threshold condition (None:
      no threshold, the model never spikes); `on_spike`: the reset statements. Each is Brian2's numpy
      code, one statement per string.
    - `refractory_rule`: None, or Brian2's `not_refractory` expression evaluated every step, where the
      refractoriness is a condition (`"v > -40*mV"`: then `not_refractory` in it is the previous step's
      flag) or a period that depends on the state or `t` (then `_since` stands for
      `timestep(t - lastspike, dt)`, the steps since the last spike); `refractory_condition`: whether it
      is a condition.
    - `carried`: the names the threshold or the reset read from the step's update (`I_inp`, the
      `(constant over dt)` subexpressions, `not_refractory` under a `refractory_rule`).
    - `namespace`: `(name, SI value, unit)` of the constants resolved from the namespace (also in
      `constants`); `namespace_values()` gives them back as Brian2 quantities.
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
    before_condition: tuple
    condition: str | None
    on_spike: tuple
    invariant: tuple
    draws: int
    refractory_rule: str | None = None
    refractory_condition: bool = False
    carried: tuple = ()
    namespace: tuple = ()
    integers: tuple = ()
    booleans: tuple = ()
    input_sampling: str = "held"

    @property
    def next_row(self) -> bool:
        """Whether a step reads the input's next row (a stage at `t + dt` under `input_sampling="timed"`)."""
        texts = (*self.update, *self.per_step, *self.before_condition, self.condition or "", *self.on_spike)
        return any(f"{_TABLE}(" in text for text in texts)

    @property
    def state_names(self) -> tuple:
        return tuple(name for name, _ in self.states)

    @property
    def parameter_names(self) -> tuple:
        return tuple(name for name, _ in self.parameters)

    def unit(self, name: str) -> str:
        """The Brian2 unit of a parameter or state variable, e.g. `"siemens"`."""
        return dict(self.parameters + self.states)[name]

    def namespace_values(self) -> dict:
        """The constants resolved from the namespace, `{name: Brian2 quantity or float}` (give them as
        `namespace=` to rebuild the model from its `equations`)."""
        return {name: _namespace.quantity(value, unit) for name, value, unit in self.namespace}

    def __repr__(self) -> str:
        return f"Model(states={self.state_names}, parameters={self.parameter_names}, method={self.method!r})"


def _default_rules(threshold, reset, states: list, resolvable: set):
    """Brian2's group has no threshold and no reset unless given; the layer's defaults `v > v_thresh` and
    `v = v_reset` apply where the equations have `v` and the level (`v_thresh`, `v_reset`) resolves."""
    has_v = "v" in states
    if threshold is None:
        threshold = "v > v_thresh" if has_v and "v_thresh" in resolvable else ""
    if reset is None:
        reset = "v = v_reset" if has_v and threshold and "v_reset" in resolvable else ""
    return threshold, reset


@functools.lru_cache(maxsize=64)
def _build(
    neuron_eq: str,
    threshold: str | None,
    reset: str | None,
    refractory: str | None,
    method: str | None,
    namespace: tuple = (),
    promoted: tuple = (),
    input_sampling: str = "held",
) -> Model:
    from brian2.equations.equations import DIFFERENTIAL_EQUATION

    if method is not None and method.startswith("gsl"):
        raise ValueError(
            f"`integrator_name`: GSL methods ({method!r}) are not supported; use one of Brian2's "
            "own: linear (exact), exponential_euler, euler, rk2, rk4, heun, milstein, independent."
        )
    entries = {name: (value, unit) for name, value, unit in namespace}
    timed = input_sampling == "timed"
    equations, dim, text = _prepare(neuron_eq, {n: entries[n][1] for n in promoted}, timed)
    entries = {n: e for n, e in entries.items() if n not in promoted}
    declared = set(equations) - {INPUT}
    states = [n for n, eq in equations.items() if eq.type == DIFFERENTIAL_EQUATION]
    threshold, reset = _default_rules(threshold, reset, states, declared | set(entries))
    used = _namespace.identifiers(
        [str(eq.expr) for eq in equations.values() if eq.expr is not None and eq.varname != INPUT]
        + [threshold, reset]
        + ([refractory] if refractory else [])
    )
    missing = _namespace.unresolved(used, declared | {INPUT, _TABLE}, set(entries))
    if missing:
        raise ValueError(_namespace.unresolved_message(missing, {}))
    brian_namespace = {n: _namespace.quantity(v, u) for n, (v, u) in entries.items()}
    group, method = _run_group(equations, threshold, reset, refractory, method, brian_namespace, dim)
    model = _assemble(group, equations, text, dim, method, threshold, reset, refractory, entries)
    return dataclasses.replace(model, input_sampling=input_sampling)


_TAGS = {"StateUpdater": "", "Thresholder": "t", "Resetter": "r", "SubexpressionUpdater": "s"}
"""Brian2's code objects, in the order they run, and the tag of their loop invariants (`_lio_t1`, ...)."""


def _code_objects(group) -> dict:
    """`{kind: numpy code}` of the group's code objects. Each numbers its loop invariants from 1: they are
    tagged apart (`_lio_1` -> `_lio_t1`, ...)."""
    return {
        kind: re.sub(r"\b_lio_(\d+)\b", rf"_lio_{_TAGS[kind]}\1", obj.codeobj.code.run)
        for obj in group.contained_objects
        if (kind := type(obj).__name__) in _TAGS
    }


def _blocks(codes: dict, state_names: set, subexpressions: set, threshold, reset, refractory) -> dict:
    """The statements of each stage, each code object's `t`-dependent scalars moved into its block:
    `update` (with `not_refractory = <rule>` first under a refractory rule), `per_step`, `before`,
    `condition`, `on_spike`; the refractory `period`, `rule` and `is_condition`; `every` scalar statement
    and the `timed` ones (which depend on `t`)."""
    scalars = _scalars(codes)
    every = [s for kind in _TAGS if kind in scalars for s in scalars[kind]]
    timed = _timed(every)
    hoisted = {_target_of(s): ast.parse(s).body[0].value for s in every}
    update_nodes = _vector_block(codes["StateUpdater"])
    per_step = ()
    if "SubexpressionUpdater" in codes:
        per_step = _statements(_vector_block(codes["SubexpressionUpdater"]))
        per_step = tuple(s for s in per_step if not s.startswith(f"{INPUT} = "))
    dynamic = state_names | timed | {"t", INPUT} | {_target_of(s) for s in per_step} | subexpressions
    period, rule, is_condition = _refractoriness(update_nodes, hoisted, refractory, dynamic)
    update = _statements(update_nodes)
    if rule is not None:
        update = (f"not_refractory = {rule}", *update)
    before, condition = _threshold_block(codes.get("Thresholder") if threshold else None)
    on_spike = _statements(_vector_block(codes["Resetter"])) if "Resetter" in codes else ()
    _check_reset(on_spike, state_names, subexpressions, reset)
    own = lambda kind: tuple(s for s in scalars.get(kind, ()) if _target_of(s) in timed)
    return dict(
        update=own("StateUpdater") + update,
        per_step=own("SubexpressionUpdater") + per_step,
        before=own("Thresholder") + before,
        condition=condition,
        on_spike=own("Resetter") + on_spike,
        period=period,
        rule=rule,
        is_condition=is_condition,
        every=every,
        timed=timed,
    )


def _carried(blocks: dict) -> tuple:
    """The names the threshold or the reset read from the step's update (`Model.carried`)."""
    settle = blocks["before"] + ((blocks["condition"],) if blocks["condition"] else ()) + blocks["on_spike"]
    reads = {INPUT} if any(_TABLE in s for s in settle) else set()
    reads |= set().union(*(_names_in(s) for s in settle))
    names = (INPUT, *(_target_of(s) for s in blocks["per_step"]))
    return tuple(n for n in names if n in reads) + (("not_refractory",) if blocks["rule"] else ())


def _assemble(group, equations, text, dim, method, threshold, reset, refractory, entries) -> Model:
    """The [`jaxiaf.Model`][] of a group that ran: its code objects' statements, sorted by when they run."""
    from brian2.equations.equations import BOOLEAN, DIFFERENTIAL_EQUATION, INTEGER, PARAMETER, SUBEXPRESSION

    kinds = {n: eq.type for n, eq in equations.items()}
    states = [(n, _unit_name(eq.dim)) for n, eq in equations.items() if eq.type == DIFFERENTIAL_EQUATION]
    states.sort(key=lambda s: s[0] != "v")
    parameters = tuple((n, _unit_name(eq.dim)) for n, eq in equations.items() if eq.type == PARAMETER)
    subexpressions = {n for n, kind in kinds.items() if kind == SUBEXPRESSION}
    b = _blocks(_code_objects(group), {n for n, _ in states}, subexpressions, threshold, reset, refractory)
    update, per_step, period = b["update"], b["per_step"], b["period"]
    settle = b["before"] + ((b["condition"],) if b["condition"] else ())
    runs = update + per_step + settle + b["on_spike"] + ((period,) if period else ())
    read = set().union(*(_names_in(s) for s in runs))
    scalar = _closure([s for s in b["every"] if _target_of(s) not in b["timed"]], read)
    _check_functions(update + scalar + per_step, "state update")
    _check_functions(settle, "threshold")
    _check_functions(b["on_spike"], "reset")
    used = read | set().union(*(_names_in(s) for s in scalar))
    if b["is_condition"] and "lastspike" in used:
        raise ValueError(
            f"`refractory`: with a refractory condition ({refractory!r}) the layer does not keep the time of "
            "the last spike; `lastspike` can be read with a refractory period (a duration) only."
        )
    constants = _constants(group, used, entries)
    fixed = {n for n, _ in parameters} | {n for n, _ in constants} | {"dt"} | {_target_of(s) for s in scalar}
    hoisted_update, invariant = _hoist(update, fixed)
    typed = lambda var_type: tuple(
        n for n, eq in equations.items() if eq.type == PARAMETER and eq.var_type == var_type
    )
    return Model(
        equations=text,
        threshold=threshold,
        reset=reset,
        refractory=period if b["rule"] is None else refractory,
        method=method,
        input_unit=_unit_name(dim),
        states=tuple(states),
        flags=tuple(n for n, eq in equations.items() if "unless refractory" in eq.flags),
        parameters=parameters,
        constants=constants,
        scalar=scalar,
        per_step=per_step,
        update=hoisted_update,
        before_condition=b["before"],
        condition=b["condition"],
        on_spike=b["on_spike"],
        invariant=invariant,
        draws=sum(s.count("randn(") for s in update + per_step),
        refractory_rule=b["rule"],
        refractory_condition=b["is_condition"],
        carried=_carried(b),
        namespace=tuple((n, *entries[n]) for n in sorted(entries) if n in used),
        integers=typed(INTEGER),
        booleans=typed(BOOLEAN),
    )


def model(
    neuron_eq,
    threshold: str | None = None,
    reset: str | None = None,
    refractory: str | None = None,
    integrator_name: str | None = None,
    namespace: dict | None = None,
    per_neuron: tuple = (),
    input_sampling: str = "held",
) -> Model:
    """Compile Brian2 equations into a [`jaxiaf.Model`][] (cached per process).

    **Arguments:**

    - `neuron_eq`: Brian2 `Equations` or an equation string; the input current is `I_inp` (module
      docstring). Any variable names.
    - `threshold`, `reset`: Brian2 code strings (`reset` may update several variables, `"v = v_reset;
      w += b"`); `""` for none. None: `"v > v_thresh"` and `"v = v_reset"` where the equations have `v`
      and those levels are declared or in the namespace, else none (Brian2's default: a model without a
      threshold never spikes).
    - `refractory`: None (the layer's numeric `refractory` applies), or a Brian2 expression: a duration
      of the parameters (`"ref"`, `"2*ms"`, evaluated once per evolve), of the state (evaluated every
      step), or a condition (`"v > -40*mV"`: refractory while it holds after a spike), as in Brian2;
      `(unless refractory)` is honoured per variable as in Brian2.
    - `integrator_name`: any of Brian2's non-GSL methods (`"exact"` is Brian2's `"linear"`); None lets
      Brian2 choose (the choice is `Model.method`).
    - `namespace`: `{name: value}`, the script's constants (see `jaxiaf._equations.namespace`).
    - `per_neuron`: names of the namespace to declare as per-neuron parameters instead.
    - `input_sampling`: `"held"` (default): `I_inp` and `I_inp(t, i)` are the step's row of the input,
      held over the step (Brian2's `(constant over dt)`); `"timed"`: `I_inp(t, i)` follows Brian2's
      `TimedArray` rule at each stage time `t'` (row `int(round(t' / (dt/8)) / 8)`: rk4's last stage,
      at `t + dt`, reads the next row, and the last row repeats past the end of the input), while a plain
      `I_inp` stays held.

    **Raises:** `ValueError` naming the line and what is allowed, for what the layer does not support,
    and one message listing every identifier nothing provides.
    """
    for name, rule in (("threshold", threshold), ("reset", reset)):
        if rule is not None and not isinstance(rule, str):
            raise TypeError(f"`{name}` must be a Brian2 code string (or None); got {rule!r}.")
    if refractory is not None and not isinstance(refractory, str):
        raise TypeError(
            f"`refractory` of `jaxiaf.model` must be None or an expression string; got {refractory!r}."
        )
    if input_sampling not in ("held", "timed"):
        raise ValueError(f"`input_sampling` must be 'held' or 'timed'; got {input_sampling!r}.")
    entries, promoted = _entries(namespace, per_neuron)
    method = {"exact": "linear"}.get(integrator_name, integrator_name)
    text = _text(neuron_eq) if type(neuron_eq).__name__ == "Equations" else neuron_eq
    return _build(text, threshold, reset, refractory, method, entries, promoted, input_sampling)


def _entries(namespace, per_neuron) -> tuple:
    """The namespace as hashable `(name, SI value, unit)` entries, and the promoted names."""
    if namespace is None:
        namespace = {}
    if not isinstance(namespace, dict) or not all(isinstance(k, str) for k in namespace):
        raise TypeError(f"`namespace` must be a dict of names to constants; got {type(namespace).__name__}.")
    if isinstance(per_neuron, str) or not all(isinstance(n, str) for n in per_neuron):
        raise TypeError(f"`per_neuron` must be a tuple of names; got {per_neuron!r}.")
    absent = sorted(set(per_neuron) - set(namespace))
    if absent:
        raise ValueError(f"`per_neuron`: {absent} have no value (give it in `namespace=` or as a keyword).")
    entries = []
    for name, value in sorted(namespace.items()):
        if name in per_neuron:
            entries.append(_promoted_entry(name, value))
        else:
            entries.append(_namespace.entry(name, value, "`namespace`:"))
    return tuple(entries), tuple(sorted(per_neuron))


def _promoted_entry(name: str, value) -> tuple:
    """A promoted name's entry: its unit from the value (a per-neuron array may be given)."""
    import brian2

    if isinstance(value, (list, tuple)):
        value = brian2.Quantity(value)
    dim = brian2.get_dimensions(value) if _namespace._is_quantity(value) else None
    unit = "1" if dim is None else _namespace._dim_text(dim)
    return name, 0.0, unit
