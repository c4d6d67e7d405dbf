"""`EquationLayer`: a feedforward layer of any Brian2 neuron model, run by Brian2 from plain arrays.

The same equations, threshold, reset, refractory period and method that `jaxiaf.FFIAF(neuron_eq=...)`
takes. The input current `x @ weights` enters as `I_inp`, read from a `TimedArray` through a subexpression
flagged `(constant over dt)` (Rockpool's `I_inp(t, i)` is read as `I_inp`); noise terms (`xi`) can be fed
given unit normal draws, so that a noisy run can be replayed exactly.
"""

import contextlib
import re
import time
from typing import NamedTuple

import brian2 as b2
import numpy as np

INPUT = "I_inp"


class EquationResult(NamedTuple):
    """`spike_steps`, `spike_neurons` (sorted by step then neuron), `traces` {name: (T, N) SI values at
    the end of each step, after reset} and the wall time of `Network.run`."""

    spike_steps: np.ndarray
    spike_neurons: np.ndarray
    traces: dict
    wall_time: float

    def raster(self) -> np.ndarray:
        out = np.zeros(next(iter(self.traces.values())).shape, bool)
        out[self.spike_steps, self.spike_neurons] = True
        return out


def _equations(text: str, timed: bool = False):
    """`timed`: `I_inp(t, i)` stays a call of the input's `TimedArray`, else it reads the held `I_inp`."""
    text = re.sub(rf"\b{INPUT}\s*\(\s*t\s*,\s*i\s*\)", "jaxiaf_input(t, i)" if timed else INPUT, text)
    equations = b2.Equations(text)
    dim = b2.amp.dim
    if INPUT in equations:
        dim = equations[INPUT].dim
    kept = [eq for name, eq in equations.items() if name != INPUT]
    unit = "1" if dim is b2.units.fundamentalunits.DIMENSIONLESS else repr(b2.get_unit(dim))
    return b2.Equations(kept) + b2.Equations(f"{INPUT} = jaxiaf_input(t, i) : {unit} (constant over dt)"), dim


class EquationLayer:
    """A layer of `N` neurons of a Brian2 model.

    **Arguments:** `neuron_eq` (string), `threshold`, `reset` (Brian2 code; None for none), `refractory`
    (seconds as a float or (N,) array, or a Brian2 expression string), `method` (Brian2's name; None: its
    choice), `parameters` {name: scalar or (N,) SI value}, `dt` (s), `target` (`numpy` or `cython`),
    `namespace` {name: constant} as Brian2's `NeuronGroup(namespace=...)`, `input_sampling` (`"held"`, or
    `"timed"`: `I_inp(t, i)` read from the `TimedArray` at each stage time).
    """

    def __init__(
        self,
        neuron_eq,
        *,
        threshold="v > v_thresh",
        reset="v = v_reset",
        refractory=0.0,
        method=None,
        parameters=None,
        dt=1e-4,
        target="numpy",
        namespace=None,
        input_sampling="held",
    ):
        self.neuron_eq, self.threshold, self.reset = str(neuron_eq), threshold, reset
        self.refractory, self.method = refractory, {"exact": "linear"}.get(method, method)
        self.parameters = dict(parameters or {})
        self.dt, self.target = float(dt), target
        self.namespace = dict(namespace or {})
        self.timed = input_sampling == "timed"

    def evolve(self, currents, *, xi=None, init=None) -> EquationResult:
        """Run Brian2 over the T steps of `currents` (T, N) in the input's SI unit.

        - `xi`: (T, D, N) unit normal draws, D per neuron and step (one per `randn` call of the state
          update, in Brian2's order); required when the equations have noise terms.
        - `init`: {state variable: (N,) SI initial value}; unset variables start at 0.
        """
        currents = np.asarray(currents, np.float64)
        num_steps, n = currents.shape
        b2.set_device("runtime")
        b2.prefs.codegen.target = self.target
        b2.start_scope()
        dt = self.dt * b2.second
        equations, dim = _equations(self.neuron_eq, self.timed)
        table = b2.TimedArray(b2.Quantity(currents, dim=dim), dt=dt)
        refractory = self.refractory
        per_neuron = not isinstance(refractory, str)
        kwargs = {} if self.method is None else {"method": self.method}
        if per_neuron:
            equations = equations + b2.Equations("jaxiaf_refractory : second")
        group = b2.NeuronGroup(
            n,
            equations,
            threshold=self.threshold,
            reset=self.reset,
            refractory="jaxiaf_refractory" if per_neuron else refractory,
            namespace={**self.namespace, "jaxiaf_input": table},
            dt=dt,
            **kwargs,
        )
        if per_neuron:
            group.jaxiaf_refractory_ = np.broadcast_to(np.asarray(refractory, np.float64), (n,))
        for name, value in self.parameters.items():
            setattr(group, name + "_", np.broadcast_to(np.asarray(value, np.float64), (n,)))
        for name, value in (init or {}).items():
            setattr(group, name + "_", np.broadcast_to(np.asarray(value, np.float64), (n,)))
        states = [name for name, eq in group.equations.items() if eq.type == "differential equation"]
        spikes = b2.SpikeMonitor(group) if self.threshold else None
        trace = b2.StateMonitor(group, states, record=True, when="end")
        net = b2.Network(*(o for o in (group, spikes, trace) if o is not None))
        start = time.perf_counter()
        with _replayed(xi, n):
            net.run(num_steps * dt, namespace={})
        wall = time.perf_counter() - start
        steps = np.round(np.asarray(spikes.t / dt)).astype(np.int64) if spikes else np.zeros(0, np.int64)
        neurons = np.asarray(spikes.i, dtype=np.int64) if spikes else np.zeros(0, np.int64)
        order = np.lexsort((neurons, steps))
        traces = {name: np.asarray(getattr(trace, name + "_")).T.copy() for name in states}
        return EquationResult(steps[order], neurons[order], traces, wall)


@contextlib.contextmanager
def _replayed(xi, n):
    """Brian2's numpy `randn` replaced by the given (T, D, N) draws, consumed in order (D calls a step)."""
    from brian2.codegen.generators.numpy_generator import NumpyCodeGenerator, randn_func
    from brian2.core.functions import DEFAULT_FUNCTIONS

    if xi is None:
        yield
        return
    draws = iter(np.asarray(xi, np.float64).reshape(-1, n))
    implementations = DEFAULT_FUNCTIONS["randn"].implementations
    implementations.add_implementation(NumpyCodeGenerator, code=lambda vectorisation_idx: next(draws))
    try:
        yield
    finally:
        implementations.add_implementation(NumpyCodeGenerator, code=randn_func)
