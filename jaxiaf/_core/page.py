"""The default equations' declared names (`PAGE`), and `declared`: the one object the core and every
table of a layer read its names from, `PAGE` or a layer's own [`jaxiaf.Model`][].

The default equations are Rockpool's `eqNeuronIAFFF`, whose parameters the reference page names `bias`,
`tau_mem`, `v_thresh`, `v_reset`, `v_rest`; their one state variable `v` is held while refractory and
reset to `v_reset` on a spike.
"""

from dataclasses import dataclass

from .defaults import PAGE_NAMES, UNITS


@dataclass(frozen=True)
class Names:
    """The declared names of the default equations, as the reference page calls them (`PAGE`); a
    [`jaxiaf.Model`][] offers the same fields for its own equations.

    **Fields:** `parameters`, `states`: `(name, unit)` pairs (units `"A"`, `"s"`, `"V"` or Brian2's);
    `flags`: the state variables held while refractory; `on_spike`: the reset statements; `refractory`
    (no period expression: the numeric `refractory` applies) and `method` (the integrator is the layer's
    choice) are None, and so is `input_sampling` (the layer's choice, `SimulationParameters.input_sampling`
    or [`jaxiaf.evolve`][]'s argument); no refractory condition (`refractory_condition` False); the input
    `x @ weights` is a current (`input_unit` `"A"`); no constant is read from a namespace (`namespace`
    empty).
    """

    parameters: tuple
    states: tuple
    flags: tuple
    on_spike: tuple
    refractory: None = None
    method: None = None
    input_sampling: None = None
    refractory_condition: bool = False
    input_unit: str = "A"
    namespace: tuple = ()

    @property
    def parameter_names(self) -> tuple:
        return tuple(name for name, _ in self.parameters)

    @property
    def state_names(self) -> tuple:
        return tuple(name for name, _ in self.states)

    def unit(self, name: str) -> str:
        return dict(self.parameters + self.states)[name]


PAGE = Names(
    parameters=tuple((name, UNITS[name]) for name in PAGE_NAMES),
    states=(("v", "V"),),
    flags=("v",),
    on_spike=("v = v_reset",),
)
"""The default equations' declared names: the page's parameters and `v`."""


def declared(model) -> "Names":
    """The declared names of a layer whose `sim.model` is `model`: the [`jaxiaf.Model`][] itself, or `PAGE`
    where the core runs the default equations (`sim.model` None: the core's hand-kernel fast path)."""
    return PAGE if model is None else model
