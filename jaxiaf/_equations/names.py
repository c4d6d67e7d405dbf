"""Names from the equations: a layer's parameters, state variables and simulation parameters, given,
listed and changed by the names its equations declare (see [`jaxiaf.Model`][]).

Every table of a layer (its parameters, families, registries, graph nodes and files) is built from
`declared` (`jaxiaf._core.page`, where the core reads them too): the [`jaxiaf.Model`][] of a layer's own
equations, or `PAGE` for the default equations (Rockpool's `eqNeuronIAFFF`, whose parameters the
reference page names `bias`, `tau_mem`, `v_thresh`, `v_reset`, `v_rest`). The page's names keep their
fields (and defaults) where a model declares them; every other declared parameter lives in
`Parameters.extra` and must be given. State variables other than `v` live in `State.extra`.
"""

import jax.numpy as jnp

from .._core import convert as _convert
from .._core.defaults import DEFAULTS, PAGE_NAMES
from .._core.integrators import resolve_integrator
from .._core.page import PAGE, declared
from .._core.pytrees import NEVER, Parameters, State
from . import default as _equations
from . import model as _model
from . import namespace as _namespace

RESERVED = (
    "weights", "dt", "noise_std", "refractory", "integrator_name", "name", "key", "surrogate", "neuron_eq",
    "threshold", "reset", "record", "since_spike", "step", "noisy", "model", "extra", "namespace",
)  # fmt: skip
"""The layer's own names: equations may not declare a parameter or state variable called so."""


def primary(model) -> str:
    """The state variable the core carries as `State.v`: `v`, else the equations' first declared one."""
    return declared(model).state_names[0]


def state_by_name(model, state: State) -> dict:
    """A [`jaxiaf.State`][]'s entries under the equations' names (`State.v` under [`primary`][]'s name)."""
    named, name = state.named(), primary(model)
    return named if name == "v" else {name if k == "v" else k: x for k, x in named.items()}


def simulation_names(model) -> tuple:
    """The simulation parameters the dynamics read: `dt`, `noise_std` (default equations only: a model's
    noise is its `xi` terms), `refractory` (unless a model's own expression gives the period) and
    `integrator_name`."""
    names = declared(model)
    noise = ("noise_std",) if names is PAGE else ()
    refractory = ("refractory",) if names.refractory is None else ()
    return ("dt", *noise, *refractory, "integrator_name")


def integrator(model, name: str | None) -> str:
    """The integrator a layer runs: for the default equations `name` (checked; None: rk4); for a model
    its own method (Brian2 generated its statements for it), which `name` may only repeat.

    **Raises:** `ValueError` for an unknown name, or another method than a model's.
    """
    method = declared(model).method
    if method is None:
        name = DEFAULTS["integrator_name"] if name is None else name
        resolve_integrator(name)
        return name
    same = {"exact": "linear"}
    if name is not None and same.get(name, name) != same.get(method, method):
        raise ValueError(
            f"`integrator_name`: this layer's equations were compiled for {method!r} (Brian2 generated "
            f"its statements for that method); build a new layer with `integrator_name={name!r}` instead "
            "of changing it."
        )
    return method


def missing_hint(model, names) -> str:
    """Why a layer does not have some of `names` (a sentence per reason, each with a leading space)."""
    hints = []
    if "noisy" in names:
        hints.append("`noisy` is not set: it follows from `noise_std`.")
    if "noise_std" in names and "noise_std" not in simulation_names(model):
        hints.append(
            "A layer with its own equations has no `noise_std`: write the noise into the equations as a "
            "`xi` term (e.g. `+ sigma*sqrt(2/tau_m)*xi`), which Brian2 scales per integrator."
        )
    if "refractory" in names and declared(model).refractory is not None:
        hints.append(
            f"The equations' refractory period is the expression {declared(model).refractory!r}; build a "
            "new layer to change it."
        )
    page = sorted(set(names) & set(PAGE_NAMES))
    if page:
        hints.append(f"{page}: {_names(model)}; give the equations' own names (or declare these).")
    return "".join(" " + h for h in hints)


def source(model) -> "dict | None":
    """The text of a layer's own equations, as a file keeps it (`equations`, `threshold`, `reset`,
    `refractory`, the `namespace` constants as `[name, SI value, unit]` and `input_sampling`); None for the
    default equations."""
    names = declared(model)
    if names is PAGE:
        return None
    text = {f: getattr(names, f) for f in ("equations", "threshold", "reset", "refractory")}
    namespace = [[name, float(value), unit_] for name, value, unit_ in names.namespace]
    return {**text, "namespace": namespace, "input_sampling": names.input_sampling}


def source_arguments(source_: "dict | None", method: str) -> dict:
    """The constructor arguments that rebuild a layer's equations from [`source`][] and the integrator
    `method` it ran (`Model.method`: `"exact"` only as Brian2's automatic choice, which is made again)."""
    if source_ is None:
        return {"integrator_name": method}
    arguments = dict(neuron_eq=source_["equations"], threshold=source_["threshold"], reset=source_["reset"])
    constants = source_.get("namespace", ())
    namespace = {name: _namespace.quantity(value, unit_) for name, value, unit_ in constants}
    arguments.update(namespace=namespace, input_sampling=source_.get("input_sampling", "held"))
    arguments["integrator_name"] = None if method == "exact" else method
    return {**arguments, **({} if source_["refractory"] is None else {"refractory": source_["refractory"]})}


def check_reserved(model) -> None:
    """`ValueError` for a declared name that is one of the layer's own (`RESERVED`)."""
    names = declared(model)
    clash = sorted(set(names.parameter_names + names.state_names) & set(RESERVED))
    if clash:
        raise ValueError(
            f"`neuron_eq` declares {clash}, which the layer uses for its own arguments or state "
            f"({list(RESERVED)}); rename them in the equations."
        )


def resolve(
    neuron_eq, threshold, reset, refractory, integrator_name, namespace=None, per_neuron=(),
    input_sampling="held",
):  # fmt: skip
    """The [`jaxiaf.Model`][] of a layer, or None for the default equations (the page's layer).
    `threshold`/`reset` None: Brian2's rule with the layer's defaults (see [`jaxiaf.model`][])."""
    custom_rule = threshold not in (None, "v > v_thresh") or reset not in (None, "v = v_reset")
    custom_rule = custom_rule or bool(namespace) or bool(per_neuron)
    if input_sampling not in ("held", "timed"):  # the default equations take either on the fast path
        raise ValueError(f"`input_sampling` must be 'held' or 'timed'; got {input_sampling!r}.")
    if not custom_rule and not isinstance(refractory, str) and _equations.is_default(neuron_eq):
        return None
    if neuron_eq is None:
        neuron_eq = _equations.DEFAULT_NEURON_EQ
    return _model.model(
        neuron_eq,
        threshold=threshold,
        reset=reset,
        refractory=refractory if isinstance(refractory, str) else None,
        integrator_name=integrator_name,
        namespace=namespace,
        per_neuron=tuple(per_neuron),
        input_sampling=input_sampling,
    )


def _names(model) -> str:
    names = declared(model)
    parameters, states = list(names.parameter_names), list(names.state_names)
    return f"its parameters are {parameters} and its state variables {states}"


def check_names(model, names, what: str) -> None:
    """`ValueError` for a name that is not a parameter (or state variable) of the equations."""
    known = declared(model)
    unknown = sorted(set(names) - set(known.parameter_names) - set(known.state_names) - {"weights"})
    if unknown:
        raise ValueError(f"{what}: {unknown} not declared by the layer's equations; {_names(model)}.")


def extra_parameters(model, values: dict, n: int) -> dict:
    """The declared parameters that are not page fields, from `values` (SI or Brian2 quantities)."""
    out = {}
    for name, unit_ in declared(model).parameters:
        if name in PAGE_NAMES:
            continue
        if name not in values:
            raise ValueError(
                f"`neuron_eq` declares the parameter `{name} : {unit_}`; give its value "
                f"(`FFIAF(..., {name}=...)`, in SI units or as a Brian2 quantity)."
            )
        out[name] = _convert.per_neuron(name, values[name], unit_, n)
    return out


def initial_state(model, params: Parameters, values: dict, n: int, key, step=None) -> State:
    """The state at construction: `v` (default `v_rest` if declared, else 0) and the other variables
    (default 0), or the values given by name."""
    names = declared(model)
    states = {}
    for name, unit_ in names.states:
        if name in values:
            states[name] = _convert.per_neuron(name, values[name], unit_, n)
        elif name == "v" and "v_rest" in names.parameter_names:
            states[name] = params.v_rest
        else:
            states[name] = jnp.zeros((n,), params.v_rest.dtype)
    return State(
        v=states.pop(primary(model)),
        since_spike=jnp.full((n,), NEVER, jnp.int32),
        key=key,
        step=jnp.asarray(0) if step is None else step,
        extra=states,
    )


def parameters(model, params: Parameters) -> dict:
    """`{name: value}` of the weights and every declared parameter."""
    names = declared(model).parameter_names
    values = {n: getattr(params, n) if n in PAGE_NAMES else params.extra[n] for n in names}
    return {"weights": params.weights, **values}


def unit(model, name: str) -> str:
    """The unit of a name: the one the equations declare for it, else the page's (`model` may be None)."""
    names = declared(model)
    return names.unit(name) if name in names.parameter_names + names.state_names else _convert.UNITS[name]


def with_values(model, params: Parameters, values: dict, n: int) -> Parameters:
    """`params` with declared parameters replaced by name (checked and converted)."""
    fields = {f: getattr(params, f) for f in Parameters.__annotations__ if f != "extra"}
    extra = dict(params.extra)
    for name, value in values.items():
        if name == "weights":
            continue
        converted = _convert.per_neuron(name, value, unit(model, name), n)
        if name in PAGE_NAMES:
            fields[name] = converted
        else:
            extra[name] = converted
    return Parameters(**fields, extra=extra)
