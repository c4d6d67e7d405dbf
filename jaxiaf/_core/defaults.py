"""The one table of the layer's arguments: default value, SI unit and valid range.

[`jaxiaf.FFIAF`][] and [`jaxiaf.FFIAFBrian`][] take their constructor defaults from `DEFAULTS`; the
conversions (`jaxiaf._core.convert`) read the units and the checks (`jaxiaf._core.checks`) the rules, so
a value's
unit, range and default are written once. (`brian_ref` keeps its own literals: it must not import jaxiaf.)
"""

from typing import NamedTuple


class Default(float):
    """A constructor default: a float equal to the documented value that also tells the layer the
    argument was not given (an argument that a layer's own equations do not declare may be left out, not
    given)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return float.__repr__(self)


def given(value) -> bool:
    """Whether a constructor argument was given by the caller (it is not a `Default`)."""
    return not isinstance(value, Default)


class Spec(NamedTuple):
    """One argument: its `default` (None: required), SI `unit` (`"s"`, `"V"`, `"A"` or `"1"`) and `rule`."""

    default: object
    unit: str
    rule: str


SPECS = {
    "weights": Spec(None, "1", "finite"),
    "bias": Spec(0.01, "A", "finite"),
    "dt": Spec(1e-4, "s", "finite and > 0"),
    "noise_std": Spec(0.0, "V", "finite and >= 0"),
    "tau_mem": Spec(0.02, "s", "finite and > 0"),
    "v_thresh": Spec(-0.055, "V", "finite"),
    "v_reset": Spec(-0.065, "V", "finite"),
    "v_rest": Spec(-0.065, "V", "finite"),
    "refractory": Spec(0.0, "s", "finite and >= 0"),
}
"""Every numeric argument of a layer, in the constructor's order."""

DEFAULTS = {
    **{name: Default(spec.default) for name, spec in SPECS.items() if spec.default is not None},
    "integrator_name": "rk4",
    "name": "unnamed",
}
"""The constructor defaults: bias 10 mA (Rockpool's reference page), dt 0.1 ms, noise_std 0, tau_mem 20 ms,
v_thresh -55 mV, v_reset -65 mV, v_rest -65 mV, refractory 0, rk4. With these, the potential that the
bias alone drives `v` towards, `v_rest + bias * 1 ohm` = -55 mV, is exactly the threshold: `v` approaches
it from below and settles just under it, so the default layer is silent without input and fires with a
small one (see `docs/guides/layer.md` and `tests/test_module.py`)."""

PAGE_NAMES = ("bias", "tau_mem", "v_thresh", "v_reset", "v_rest")
"""Parameters that keep the reference page's fields (and defaults) when a layer's equations declare them."""
INPUT = "I_inp"
"""The name of the layer's input (`x @ weights`) in the equations."""
TABLE = "jaxiaf_input"
"""The input table's name in the equations Brian2 compiles (`I_inp(t, i)` under timed sampling)."""

UNITS = {name: spec.unit for name, spec in SPECS.items()}
"""The SI unit of each argument."""

UNIT_NAMES = {"s": "seconds (s)", "V": "volts (V)", "A": "amperes (A)", "1": "dimensionless"}
UNIT_DIMS = {"s": "s", "V": "m^2 kg s^-3 A^-1", "A": "A", "1": "1"}
"""How Brian2 writes the dimension of each unit (`str(quantity.dim)`)."""
