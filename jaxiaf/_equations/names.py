"""Names from the equations: a model layer's parameters and state variables, given, listed and changed
by the names its equations declare (see [`jaxiaf.Model`][]).

The reference page's parameters (`bias`, `tau_mem`, `v_thresh`, `v_reset`, `v_rest`) keep their fields
and defaults where the equations declare those names; every other declared parameter lives in
`Parameters.extra` and must be given. State variables other than `v` live in `State.extra`.
"""

import jax.numpy as jnp

from .._core import convert as _convert
from .._core.pytrees import NEVER, Parameters, State
from . import default as _equations
from . import interpret as _generated
from . import model as _model

PAGE_NAMES = _model.PAGE_NAMES


def resolve(neuron_eq, threshold, reset, refractory, integrator_name):
    """The [`jaxiaf.Model`][] of a layer, or None for the default equations (the page's layer)."""
    custom_rule = threshold not in (None, "v > v_thresh") or reset not in (None, "v = v_reset")
    if not custom_rule and not isinstance(refractory, str) and _equations.is_default(neuron_eq):
        return None
    if neuron_eq is None:
        neuron_eq = _equations.DEFAULT_NEURON_EQ
    return _model.model(
        neuron_eq,
        threshold="v > v_thresh" if threshold is None else threshold,
        reset="v = v_reset" if reset is None else reset,
        refractory=refractory if isinstance(refractory, str) else None,
        integrator_name=integrator_name,
    )


def _names(model) -> str:
    return (
        f"its parameters are {list(model.parameter_names)} and its state variables {list(model.state_names)}"
    )


def check_names(model, names, what: str) -> None:
    """`ValueError` for a name that is not a parameter (or state variable) of the equations."""
    unknown = sorted(set(names) - set(model.parameter_names) - set(model.state_names) - {"weights"})
    if unknown:
        raise ValueError(f"{what}: {unknown} not declared by the layer's equations; {_names(model)}.")


def extra_parameters(model, values: dict, n: int) -> dict:
    """The declared parameters that are not page fields, from `values` (SI or Brian2 quantities)."""
    out = {}
    for name, unit in model.parameters:
        if name in PAGE_NAMES:
            continue
        if name not in values:
            raise ValueError(
                f"`neuron_eq` declares the parameter `{name} : {unit}`; give its value "
                f"(`FFIAF(..., {name}=...)`, in SI units or as a Brian2 quantity)."
            )
        out[name] = _convert.per_neuron(name, values[name], unit, n)
    return out


def initial_state(model, params: Parameters, values: dict, n: int, key, step=None) -> State:
    """The state at construction: `v` (default `v_rest` if declared, else 0) and the other variables
    (default 0), or the values given by name."""
    states = {}
    for name, unit in model.states:
        if name in values:
            states[name] = _convert.per_neuron(name, values[name], unit, n)
        elif name == "v" and "v_rest" in model.parameter_names:
            states[name] = params.v_rest
        else:
            states[name] = jnp.zeros((n,), params.v_rest.dtype)
    return State(
        v=states.pop("v"),
        since_spike=jnp.full((n,), NEVER, jnp.int32),
        key=key,
        step=jnp.asarray(0) if step is None else step,
        extra=states,
    )


def parameters(model, params: Parameters) -> dict:
    """`{name: value}` of the weights and every declared parameter."""
    return {"weights": params.weights, **_generated.parameters(model, params)}


def unit(model, name: str) -> str:
    """The unit of a name: the one the equations declare for it, else the page's (`model` may be None)."""
    declared = () if model is None else model.parameter_names + model.state_names
    return model.unit(name) if name in declared else _convert.UNITS[name]


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
