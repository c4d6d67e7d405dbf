"""The neuron equations that `FFIAFBrian(neuron_eq=...)` accepts: for now, the default IAF set only.

`DEFAULT_NEURON_EQ` is Rockpool's `eqNeuronIAFFF`, in Brian2 syntax. jaxiaf integrates it with the input
current held constant over each step (see `spec/DYNAMICS.md`), so the same set with `I_total` flagged
`(constant over dt)` is accepted as well. Brian2 is imported only here, only when equations are given,
and only if it is installed; without it, strings are compared line by line.
"""

import importlib.util
import re

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
"""Rockpool's default IAF equations (`eqNeuronIAFFF`), the only set supported so far."""

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


def _text_form(equations: str) -> frozenset:
    """The set of lines of an equation string, without comments, whitespace or the `(constant over dt)`
    flag of `I_total`."""
    lines = set()
    for line in equations.splitlines():
        line = re.sub(r"\s+", "", line.split("#", 1)[0])
        if line.startswith("I_total="):
            line = line.replace("(" + re.sub(r"\s+", "", _HELD_FLAG) + ")", "")
        if line:
            lines.add(line)
    return frozenset(lines)


def check_neuron_eq(neuron_eq) -> None:
    """Accept `None` or the default IAF equations; raise `ValueError` for anything else.

    **Arguments:**

    - `neuron_eq`: `None`, a Brian2 `Equations` object or an equation string. Equations are compared by
      content: with Brian2 installed, by parsing both sets (names, types, units, flags, and expressions
      up to algebraic rearrangement); without it, line by line, ignoring whitespace and comments.

    **Raises:** `ValueError` unless `neuron_eq` is `None` or equal to `DEFAULT_NEURON_EQ` (optionally with
    `I_total` flagged `(constant over dt)`).
    """
    if neuron_eq is None:
        return
    if isinstance(neuron_eq, str) or type(neuron_eq).__name__ == "Equations":
        if importlib.util.find_spec("brian2") is None:
            same = _text_form(neuron_eq) == _text_form(DEFAULT_NEURON_EQ)
        else:
            from brian2.equations.equations import EquationError

            try:
                same = _brian_form(neuron_eq) == _brian_form(DEFAULT_NEURON_EQ)
            except EquationError as error:
                raise ValueError(
                    f"`neuron_eq` is not valid Brian2 equations ({error}); only the default IAF equations "
                    "(`jaxiaf.DEFAULT_NEURON_EQ`) are supported yet."
                ) from None
        if same:
            return
    raise ValueError(
        "`neuron_eq`: only the default IAF equations (`jaxiaf.DEFAULT_NEURON_EQ`, Rockpool's "
        "`eqNeuronIAFFF`) are supported yet; give `neuron_eq=None` or those equations. "
        f"Got {neuron_eq!r}."
    )
