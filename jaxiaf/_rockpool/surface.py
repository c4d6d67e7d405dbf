"""The Rockpool-compatibility surface of [`jaxiaf.FFIAFBrian`][]: class flags, names and shapes, the
attribute and module registries, and the private methods of Rockpool's layer page (the TimeSeries wrappers
of outputs: `jaxiaf._rockpool.outputs`). The layer itself (`jaxiaf._rockpool.timed`) holds the time
base, the input sampling and `evolve`.
"""

import abc
import warnings
from typing import Any, NamedTuple

import numpy as np

from .._layer import family
from .graph import GraphHolder, layer_graph
from .outputs import TimeSeriesOutputs
from .timeseries import TSContinuous, TSEvent

_GETTERS = {"Parameter": "parameters", "SimulationParameter": "simulation_parameters", "State": "state"}
_SUBMODULE_METHODS = (
    "parameters",
    "simulation_parameters",
    "state",
    "set_attributes",
    "reset_state",
    "reset_time",
)


class RegisteredAttribute(NamedTuple):
    """One entry of [`jaxiaf.FFIAFBrian._get_attribute_registry`][].

    - `value`: the current value.
    - `type_name`: `"Parameter"`, `"SimulationParameter"` or `"State"`.
    - `family`: its family (`"weights"`, `"biases"`, `"taus"`, `"voltages"`, `"time"`, ...).
    - `initial`: the value `_reset_attribute` restores.
    - `shape`: the shape of `value`.
    """

    value: Any
    type_name: str
    family: str
    initial: Any
    shape: tuple


class Registered:
    """`mod.<name>` reads the registered attribute `<name>`; assigning to it calls `set_attributes`."""

    def __init__(self, doc: str):
        self.__doc__ = doc

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        values = obj._values()
        if self.name not in values:
            raise AttributeError(f"{obj.full_name} has no attribute {self.name!r}: {obj._declared()}.")
        return values[self.name]

    def __set__(self, obj, value):
        if self.name not in obj._values():
            raise AttributeError(f"{obj.full_name} has no attribute {self.name!r}: {obj._declared()}.")
        obj.set_attributes({self.name: value})


class RockpoolSurface(TimeSeriesOutputs, abc.ABC):
    """What Rockpool's `FFIAFBrian` exposes beyond evolving: flags, names, registries, output wrappers.

    **The contract.** A layer that inherits it (only [`jaxiaf.FFIAFBrian`][] does) holds `_module` (the
    functional [`jaxiaf.FFIAF`][] it evolves), `_submodules` (`{name: module}`) and `_initial` (the
    parameters and simulation parameters that `_reset_attribute` and `reset_parameters` restore), and
    implements the abstract methods below: `t`, `_times`, `evolve`, `set_attributes`, `reset_state`,
    `reset_time`, `reset_parameters`. Everything else here is built on those.

    **Attributes by name.** The registered attributes are the functional module's parameters, simulation
    parameters and state, by the names its equations declare: `layer.<name>` reads one (an
    `AttributeError`, so `hasattr` is False, for a name the equations do not declare) and
    `layer.<name> = value` calls `set_attributes({name: value})`.
    """

    _module: Any
    _submodules: dict
    _initial: dict

    @property
    @abc.abstractmethod
    def t(self) -> float:
        """The current evolution time (s)."""

    @abc.abstractmethod
    def _times(self, t_start, dt, k):
        """Times `t_start + k * dt` (s); `t_start` and `dt` default to the layer's `t` and `dt`."""

    @abc.abstractmethod
    def evolve(self, ts_input=None, duration=None, num_timesteps=None, kwargs_timeseries=None, record=False):
        """`(output, new_state, record)` of an evolution; the layer is unchanged."""

    @abc.abstractmethod
    def set_attributes(self, new_attributes) -> "RockpoolSurface":
        """Set attributes in place; returns the layer."""

    @abc.abstractmethod
    def reset_state(self) -> "RockpoolSurface":
        """Reset the state in place; returns the layer."""

    @abc.abstractmethod
    def reset_time(self) -> "RockpoolSurface":
        """Reset the clock in place; returns the layer."""

    @abc.abstractmethod
    def reset_parameters(self) -> "RockpoolSurface":
        """Restore the initial parameters in place; returns the layer."""

    def __getattr__(self, name: str):
        """A declared parameter, simulation parameter or state entry by name (e.g. `layer.tau_w`)."""
        if name.startswith("_") or "_module" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        values = self._values()
        if name not in values:
            raise AttributeError(f"{self.full_name} has no attribute {name!r}: {self._declared()}.")
        return values[name]

    def __setattr__(self, name: str, value) -> None:
        """`layer.<declared name> = value` is `set_attributes({name: value})`; a public name that is
        neither declared nor the class's raises `AttributeError` (an assignment that would change
        nothing); private names as usual."""
        if name.startswith("_") or "_module" not in self.__dict__ or hasattr(type(self), name):
            object.__setattr__(self, name, value)
        elif name in self._values():
            self.set_attributes({name: value})
        else:
            raise AttributeError(f"{self.full_name} has no attribute {name!r}: {self._declared()}.")

    def _declared(self) -> str:
        return f"its attributes are {sorted(self._values())}"

    _spiking_input: bool = False
    """Whether this module receives spiking input: False, it takes currents."""
    _spiking_output: bool = True
    """Whether this module produces spiking output: True."""
    _is_child: bool = False
    """Whether this module is a sub-module of another: a layer is built on its own, so False."""
    _parent_dt_factor: float = 1.0
    """`dt` of this layer over `dt` of its parent: 1.0 (it has no parent)."""
    _in_Module_init: bool = False
    """True while `__init__` runs; always False on a built layer."""
    _force_set_attributes: bool = False
    """Rockpool's switch to skip checks in `set_attributes`: False, values are always checked here."""
    _TimedModule__in_TimedModule_init: bool = False
    """Rockpool's `__in_TimedModule_init` (name-mangled as there): True while a TimedModule tree is being
    built; always False on a built layer."""

    # ----------------------------------------------------------------------------------------- names, shape
    @property
    def class_name(self) -> str:
        """Class name of `self`: `"FFIAFBrian"`."""
        return type(self).__name__

    @property
    def name(self) -> str:
        """The name of this layer, or an empty string if it has none."""
        return self._module.name

    _name = name

    @property
    def full_name(self) -> str:
        """The class name and the quoted layer name, e.g. `"FFIAFBrian 'unnamed'"`."""
        return f"{self.class_name} '{self.name}'" if self.name else self.class_name

    @property
    def shape(self) -> tuple:
        """`(N_in, N)`."""
        return self._module.shape

    _shape = shape

    @property
    def size(self) -> int:
        """(DEPRECATED: use `size_out`) N, the number of neurons. Warns `DeprecationWarning`."""
        warnings.warn(
            "The `size` property is deprecated. Please use `size_out` instead.", DeprecationWarning, 2
        )
        return self.size_out

    @property
    def size_in(self) -> int:
        """N_in, the number of input channels."""
        return self.shape[0]

    @property
    def size_out(self) -> int:
        """N, the number of neurons (output channels)."""
        return self.shape[1]

    @property
    def spiking_input(self) -> bool:
        """False: this layer takes continuous currents."""
        return self._spiking_input

    @property
    def spiking_output(self) -> bool:
        """True: this layer sends spikes."""
        return self._spiking_output

    @property
    def input_type(self) -> type:
        """The TimeSeries class accepted: [`jaxiaf.TSContinuous`][]."""
        return TSEvent if self.spiking_input else TSContinuous

    @property
    def output_type(self) -> type:
        """The TimeSeries class returned: [`jaxiaf.TSEvent`][]."""
        return TSEvent if self.spiking_output else TSContinuous

    # ------------------------------------------------------------------------------------- stateful evolve
    def _evolve_wrapper(
        self, ts_input=None, duration=None, num_timesteps=None, kwargs_timeseries=None, record=False
    ):
        """Rockpool's stateful evolution: `evolve`, then `set_attributes(new_state)` on this layer.

        **Arguments** and **Returns:** as `evolve`; afterwards the layer's state and `t` have advanced.
        """
        output, new_state, recorded = self.evolve(
            ts_input, duration, num_timesteps, kwargs_timeseries, record
        )
        self.set_attributes(new_state)
        return output, new_state, recorded

    # ------------------------------------------------------------------------------------------- attributes
    def _values(self) -> dict:
        return {k: v for kind in _GETTERS for k, v in self._own_attributes(kind).items()}

    def _own_attributes(self, type_name: str, family: str | list | None = None) -> dict:
        """This layer's own attributes of one type (and families), without its sub-modules': those of
        the functional module."""
        return getattr(self._module, _GETTERS[type_name])(family)

    def _family(self, type_name: str, name: str) -> str:
        """The family of this layer's attribute `name` of one type."""
        return family(type_name, name)

    def _get_attribute_family(self, type_name: str, family: str | list | None = None) -> dict:
        """The attributes of one type, optionally of some families, of this layer and its sub-modules.

        **Arguments:** `type_name`: `"Parameter"`, `"SimulationParameter"` or `"State"`; `family`: a
        family name or a list/tuple of them (`"weights"`, `"biases"`, `"taus"`, `"voltages"` for
        parameters; `"time"`, `"noise"`, `"integrator"` for simulation parameters; `"voltages"`,
        `"refractory"`, `"random"`, `"time"` for the state), or None for all.

        **Returns:** `{name: value}`, with a nested dict per registered sub-module (left out when a family
        is given and it has no match).

        **Raises:** `ValueError` for an unknown `type_name`.
        """
        if type_name not in _GETTERS:
            raise ValueError(f"`type_name` must be one of {list(_GETTERS)}; got {type_name!r}.")
        found = self._own_attributes(type_name, family)
        for name, submodule in self._submodules.items():
            values = getattr(submodule, _GETTERS[type_name])(family)
            if values or family is None:
                found[name] = values
        return found

    def parameters(self, family: str | list | None = None) -> dict:
        """The parameters `weights`, `bias` (A), `tau_mem` (s), `v_thresh`, `v_reset`, `v_rest` (V), as
        `{name: array}`; `family`: `"weights"`, `"biases"`, `"taus"`, `"voltages"` or a list of them."""
        return self._get_attribute_family("Parameter", family)

    def simulation_parameters(self, family: str | list | None = None) -> dict:
        """The simulation parameters `dt` (s), `noise_std` (V), `refractory` (s), `integrator_name`;
        `family`: `"time"`, `"noise"`, `"integrator"` or a list of them."""
        return self._get_attribute_family("SimulationParameter", family)

    def state(self, family: str | list | None = None) -> dict:
        """The state `v` (V), `since_spike` (steps), `key`, `step` (`t = step * dt`); `family`:
        `"voltages"`, `"refractory"`, `"random"`, `"time"` or a list of them."""
        return self._get_attribute_family("State", family)

    def attributes_named(self, name: str | list | tuple) -> dict:
        """Attributes of this layer and its sub-modules called `name` (a string or a list/tuple of them).

        **Returns:** `{name: value}`, with a nested dict for each sub-module that has a match.
        """
        if isinstance(name, str):
            names = {name}
        elif isinstance(name, (list, tuple)) and all(isinstance(n, str) for n in name):
            names = set(name)
        else:
            raise TypeError(f"`name` must be a string or a list/tuple of strings; got {name!r}.")
        found = {k: v for k, v in self._values().items() if k in names}
        for key, submodule in self._submodules.items():
            values = _values_of(submodule)
            if names & set(values):
                found[key] = {k: v for k, v in values.items() if k in names}
        return found

    def modules(self) -> dict:
        """The sub-modules registered with `_register_module`, by name (none unless registered)."""
        return dict(self._submodules)

    @property
    def _submodulenames(self) -> list:
        """The names of the registered sub-modules."""
        return list(self._submodules)

    def _get_attribute_registry(self) -> tuple:
        """The attribute and module registries.

        **Returns:** `(registered_attributes, registered_modules)`: `{name: RegisteredAttribute(value,
        type_name, family, initial, shape)}` for every parameter, simulation parameter and state entry (a
        snapshot), and `{name: module}` for the registered sub-modules.
        """
        initial = self._initial_values()
        attributes = {}
        for type_name in _GETTERS:
            for name, value in self._own_attributes(type_name).items():
                attributes[name] = RegisteredAttribute(
                    value, type_name, self._family(type_name, name), initial[name], np.shape(value)
                )
        return attributes, dict(self._submodules)

    def _has_registered_attribute(self, name: str) -> bool:
        """Whether `name` is a registered attribute (a parameter, simulation parameter or state entry)."""
        return isinstance(name, str) and name in self._values()

    def _initial_values(self) -> dict:
        """The values `_reset_attribute` restores: the state as `reset_all` leaves it, and the
        parameters and simulation parameters given at construction (or to `_register_attribute`)."""
        return {**self._module.reset_all().state(), **self._initial}

    def _register_attribute(self, name: str, val) -> None:
        """Set a registered attribute and make `val` its initial value.

        The attributes are fixed by the functional module's pytrees; this sets one of them. For a
        parameter or simulation parameter, `val` also becomes the value that `_reset_attribute` and
        `reset_parameters` restore; a state entry's reset value is always the one `reset_state` /
        `reset_time` give.

        **Arguments:** `name`: one of the names in `_get_attribute_registry()[0]`; `val`: its new value.

        **Raises:** `ValueError` for another name, or as `set_attributes` for a bad value.
        """
        if not self._has_registered_attribute(name):
            raise ValueError(
                f"{self.full_name}: cannot register {name!r}: the attributes of this layer are those of its "
                f"functional FFIAF, {sorted(self._values())}."
            )
        self.set_attributes({name: val})
        if name in self._initial:
            self._initial[name] = getattr(self, name)  # `dt`: the time base's exact step

    def _register_module(self, name: str, mod) -> None:
        """Register a sub-module: it then appears in `modules()`, in `parameters()` / `state()` / ... as a
        nested dict, and `set_attributes` and the `reset_*` methods reach it. It does not take part in
        `evolve`: this layer's data path is its own weights and neurons.

        **Arguments:** `name`: an identifier, not one of the layer's attribute names; `mod`: a module
        with the methods `parameters`, `simulation_parameters`, `state`, `attributes_named`,
        `set_attributes`, `reset_state` and `reset_time` (an `FFIAF`, an `FFIAFBrian`). This layer's
        `reset_parameters` calls the submodule's own (an `FFIAFBrian`'s), or restores the parameters it
        had when registered (a functional `FFIAF` keeps no initial copy).

        **Raises:** `ValueError` for a bad name, `TypeError` for an object that is not a module.
        """
        if not isinstance(name, str) or not name.isidentifier() or name in self._values():
            raise ValueError(
                f"`name` must be an identifier other than the layer's attribute names; got {name!r}."
            )
        missing = [m for m in _SUBMODULE_METHODS if not callable(getattr(mod, m, None))]
        if missing:
            raise TypeError(f"`mod` must be a module; a {type(mod).__name__} has no {missing}.")
        self._submodules[name] = mod
        self._registered = {**self.__dict__.get("_registered", {}), name: mod.parameters()}

    def _reset_attribute(self, name: str) -> "RockpoolSurface":
        """Reset one attribute to its initial value, in place: a parameter or simulation parameter to its
        constructor value (or the value given to `_register_attribute`); `v` to `v_rest`, `since_spike`
        to "never spiked", `step` to 0; `key` keeps its value.

        **Returns:** this layer.

        **Raises:** `KeyError` if `name` is not a registered attribute.
        """
        if not self._has_registered_attribute(name):
            raise KeyError(f"{name!r} is not a registered attribute of {self.full_name}.")
        return self.set_attributes({name: self._initial_values()[name]})

    def _reset_submodules(self, method: str) -> None:
        for name, submodule in self._submodules.items():
            if method == "reset_parameters" and not hasattr(submodule, method):
                updated = submodule.set_attributes(self._registered[name])
            else:
                updated = getattr(submodule, method)()
            self._submodules[name] = submodule if updated is None else updated

    # -------------------------------------------------------------------------------------- graph, clock
    def _set_dt(self, max_factor: float = 100) -> None:
        """Set the network time step to the least common multiple of the modules' `dt`s, at most
        `max_factor` times the largest. This layer has one clock, evolved by itself, so its `dt` is that
        multiple and is left as it is.

        **Raises:** `ValueError` if `max_factor < 1` (no common step could then be found).
        """
        if not max_factor >= 1:
            raise ValueError(f"`max_factor` must be >= 1; got {max_factor!r}.")

    def as_graph(self) -> GraphHolder:
        """The layer as a computational graph: a [`jaxiaf.graph.LinearWeights`][] node (the weights)
        feeding an [`jaxiaf.graph.IAFNeurons`][] node that carries every neuron parameter.

        **Returns:** a [`jaxiaf.graph.GraphHolder`][] named after the layer, with `modules == (weights,
        neurons)`, N_in input nodes and N output nodes; values are NumPy copies in SI units.
        For a graph other tools read, use [`jaxiaf.to_nir`][] (NIR).
        """
        return layer_graph(self.name or self.class_name, self._module)


def _values_of(module) -> dict:
    """Every attribute of a (sub-)module by name: its parameters, simulation parameters and state."""
    return {**module.parameters(), **module.simulation_parameters(), **module.state()}
