"""The default neuron equations, and how a user's `neuron_eq` is recognised as them.

`DEFAULT_NEURON_EQ` is Rockpool's `eqNeuronIAFFF`, in Brian2 syntax. Given these equations (by content,
with or without `I_total` flagged `(constant over dt)`) and the default threshold and reset, a layer
runs the hand-tuned kernels of `jaxiaf._core.integrators`; `tests/test_equations.py` proves them equal,
bit for
bit, to the statements generated from these equations (`jaxiaf._core.interpret`). Any other equations go
through [`jaxiaf.model`][].
"""

DEFAULT_NEURON_EQ = """
dv/dt = (v_rest - v + r_m * I_total) / tau_m    : volt (unless refractory)  # Neuron membrane voltage
I_total = I_inp(t, i) + I_bias                  : amp                       # Total input current
I_bias                                          : amp                       # Per-neuron bias current
v_rest                                          : volt                      # Rest potential
tau_m                                           : second                    # Membrane time constant
r_m                                             : ohm                       # Membrane resistance
v_thresh                                        : volt                      # Firing threshold potential
v_reset                                         : volt                      # Reset potential
"""
"""Rockpool's default IAF equations (`eqNeuronIAFFF`): the page layer's own model."""

_HELD_FLAG = "constant over dt"


def _brian_form(equations) -> dict:
    """`{name: (type, dimension, flags, sympy expression)}` of Brian2 `Equations` or an equation string."""
    import brian2
    import sympy
    from brian2.parsing.sympytools import str_to_sympy

    if not isinstance(equations, brian2.Equations):
        equations = brian2.Equations(equations)
    form = {}
    for name, eq in equations.items():
        flags = set(eq.flags) - ({_HELD_FLAG} if name == "I_total" else set())
        expr = None if eq.expr is None else sympy.simplify(str_to_sympy(eq.expr.code))
        form[name] = (eq.type, str(eq.dim), frozenset(flags), expr)
    return form


def is_default(neuron_eq) -> bool:
    """Whether `neuron_eq` is None or the default equations: same names, types, units, flags, and
    expressions up to algebraic rearrangement. Invalid equations are left to [`jaxiaf.model`][]."""
    if neuron_eq is None:
        return True
    if not isinstance(neuron_eq, str) and type(neuron_eq).__name__ != "Equations":
        raise TypeError(f"`neuron_eq` must be a Brian2 `Equations` object or a string; got {neuron_eq!r}.")
    from brian2.equations.equations import EquationError

    try:
        return _brian_form(neuron_eq) == _brian_form(DEFAULT_NEURON_EQ)
    except (EquationError, SyntaxError, ValueError, KeyError):
        return False
