"""Divergence reported per neuron: which neurons' state became NaN or inf, when, in which variable, and
with which parameters, read on the host from what the one core returned (no second simulation).

[`diverged`][] is the per-neuron mask that sweeps and fits use to keep the other neurons and sets;
[`message`][] is the error a layer call raises.
"""

import jax.numpy as jnp
import numpy as np

from .checks import is_concrete
from .pytrees import State

_CAUSES = (
    "Causes: an initial state that is not finite, input currents (`x @ weights`) that overflow the float "
    "dtype, equations that are undefined for these parameters, or an explicit integrator that is unstable "
    "at this `dt` (use a smaller `dt` or another integrator)."
)


def diverged(state: State):
    """`(..., N)` bool: where any state variable (`v` and the equations' others) is NaN or inf.

    **Arguments:** `state`: a [`jaxiaf.State`][] (e.g. the `new_state` of [`jaxiaf.evolve`][] with
    `check=False`), with any leading batch axes.

    **Returns:** a bool array of `state.v`'s shape (NumPy for concrete values, JAX under a transform);
    `~diverged(state)` selects the neurons (and, with a batch axis, the sets) whose results are valid.
    """
    leaves = (state.v, *state.extra.values())
    # NumPy on concrete values: an eager call (every layer call checks) compiles nothing
    xp = np if all(map(is_concrete, leaves)) else jnp
    bad = ~xp.isfinite(xp.asarray(leaves[0]))
    for value in leaves[1:]:
        bad = bad | ~xp.isfinite(xp.asarray(value))
    return bad


def first_steps(record: dict, names) -> dict:
    """`{name: (N,) int}`: the first step at which each recorded variable is not finite (-1: never)."""
    out = {}
    for name in names:
        bad = ~np.isfinite(np.asarray(record[name]))
        out[name] = np.where(bad.any(axis=0), bad.argmax(axis=0), -1)
    return out


def message(names: dict, state: State, record: dict | None, dt: float, shown: int = 5) -> str:
    """The error of a layer call whose state diverged: the first `shown` neurons, each with the variable
    and step where it first became non-finite (from `record`, the per-step trace of every state variable,
    if given) and its parameter values (`names`: `{name: (N,) value}`)."""
    bad = np.flatnonzero(np.asarray(diverged(state)))
    variables = (
        {"v": state.v, **state.extra} if record is None else {k: record[k] for k in record if k != "spikes"}
    )
    steps = first_steps(record, variables) if record is not None else None
    lines = []
    for neuron in bad[:shown]:
        if steps is not None:
            hit = [(int(s[neuron]), k) for k, s in steps.items() if s[neuron] >= 0]
            step, variable = min(hit)
            when = f"`{variable}` first NaN or inf at step {step} (t = {step * dt:.6g} s)"
        else:
            variable = next(k for k, x in variables.items() if not np.isfinite(np.asarray(x)[neuron]))
            when = f"`{variable}` NaN or inf"
        values = ", ".join(
            f"{k}={float(np.broadcast_to(np.asarray(x), np.shape(state.v))[neuron]):.6g}"
            for k, x in names.items()
        )
        lines.append(f"neuron {neuron}: {when}; {values}")
    more = f" (and {len(bad) - shown} more)" if len(bad) > shown else ""
    return (
        f"The state became NaN or inf for {len(bad)} of {np.size(state.v)} neurons{more}: "
        + "; ".join(f"[{line}]" for line in lines)
        + f". {_CAUSES} The other neurons are valid: `jaxiaf.evolve(..., check=False)` returns every "
        "neuron, and `jaxiaf.diverged(new_state)` marks these."
    )
