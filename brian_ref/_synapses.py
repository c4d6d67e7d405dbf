"""`SynapticLayer`: a layer of any Brian2 neuron model driven by spikes through `Synapses(on_pre=...)`.

Input spikes come from a `SpikeGeneratorGroup` of `N_in` neurons (a (T, N_in) bool raster: a spike in row k
is emitted at `k * dt`); recurrent spikes from the layer itself. A synapse connects each pair of non-zero
weight (a zero weight would add nothing), in the order of `i`, then `j`, with `w` and `delay` (whole
steps) per synapse. Brian2 runs the pathways in the order of their names: the input groups
(`synapses_input_000_pre`, ...) before the recurrent ones (`synapses_recurrent_000_pre`, ...), each in the
order given.
"""

import time

import brian2 as b2
import numpy as np

from ._equations import EquationResult, _equations


def _specs(groups) -> list:
    """One `(weights, delays, on_pre)` or a list of them, as a list (empty for None)."""
    if groups is None:
        return []
    return [groups] if isinstance(groups[-1], str) else list(groups)


def _connect(source, group, weights, delays, on_pre, name, dt):
    weights = np.asarray(weights, np.float64)
    targets = [
        s.split("+=")[0].split("-=")[0].strip().removesuffix("_post")
        for s in on_pre.replace(";", "\n").split("\n")
        if s.strip()
    ]
    dims = {group.variables[t].dim for t in targets}
    if len(dims) != 1:
        raise ValueError(f"`on_pre` targets of different units: {targets}")
    unit = dims.pop()
    unit = "1" if unit is b2.units.fundamentalunits.DIMENSIONLESS else repr(b2.get_unit(unit))
    synapses = b2.Synapses(source, group, f"w : {unit}", on_pre=on_pre, name=name, dt=dt)
    sources, targets = np.nonzero(weights)  # row-major: synapse order i, then j
    synapses.connect(i=sources, j=targets)
    synapses.w_ = weights[sources, targets]
    synapses.delay = np.broadcast_to(np.asarray(delays, np.float64), weights.shape)[sources, targets] * dt
    return synapses


class SynapticLayer:
    """A layer of `N` neurons of a Brian2 model with input and recurrent synapses.

    **Arguments:** as `EquationLayer` (`neuron_eq`, `threshold`, `reset`, `refractory` in seconds or a
    Brian2 condition string, `method`, `parameters`, `dt`, `namespace`), plus `feedforward` = `(weights
    (N_in, N), delays (steps, () or (N_in, N)), on_pre)` and `recurrent` = `(weights (N, N), delays,
    on_pre)`, each None for none, or a list of such triples for several groups.
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
        namespace=None,
        feedforward=None,
        recurrent=None,
    ):
        self.neuron_eq, self.threshold, self.reset = str(neuron_eq), threshold, reset
        self.refractory = refractory if isinstance(refractory, str) else float(refractory) * b2.second
        self.method = {"exact": "linear"}.get(method, method)
        self.parameters, self.namespace = dict(parameters or {}), dict(namespace or {})
        self.dt, self.feedforward, self.recurrent = float(dt), feedforward, recurrent

    def evolve(self, spikes, n, *, currents=None, init=None) -> EquationResult:
        """Run Brian2 over the T steps of the input raster `spikes` (T, N_in) bool (None without input
        synapses: then `currents` gives T) for `n` neurons; `currents` (T, N) the `I_inp` of each step (A;
        default 0); `init` {state variable: (N,) SI initial value}."""
        num_steps = len(spikes if spikes is not None else currents)
        currents = np.zeros((num_steps, n)) if currents is None else np.asarray(currents, np.float64)
        b2.set_device("runtime")
        b2.prefs.codegen.target = "numpy"
        b2.start_scope()
        dt = self.dt * b2.second
        equations, dim = _equations(self.neuron_eq)
        table = b2.TimedArray(b2.Quantity(currents, dim=dim), dt=dt)
        kwargs = {} if self.method is None else {"method": self.method}
        group = b2.NeuronGroup(
            n,
            equations,
            threshold=self.threshold,
            reset=self.reset,
            refractory=self.refractory,
            namespace={**self.namespace, "jaxiaf_input": table},
            dt=dt,
            **kwargs,
        )
        for name, value in {**self.parameters, **(init or {})}.items():
            setattr(group, name + "_", np.broadcast_to(np.asarray(value, np.float64), (n,)))
        objects = [group]
        if self.feedforward is not None:
            steps, neurons = np.nonzero(np.asarray(spikes, bool))
            specs = _specs(self.feedforward)
            source = b2.SpikeGeneratorGroup(np.shape(specs[0][0])[0], neurons, steps * dt, dt=dt)
            objects.append(source)
            objects += [
                _connect(source, group, *spec, f"synapses_input_{k:03d}", dt) for k, spec in enumerate(specs)
            ]
        for k, spec in enumerate(_specs(self.recurrent)):
            objects.append(_connect(group, group, *spec, f"synapses_recurrent_{k:03d}", dt))
        states = [name for name, eq in group.equations.items() if eq.type == "differential equation"]
        monitor = b2.SpikeMonitor(group)
        trace = b2.StateMonitor(group, states, record=True, when="end")
        net = b2.Network(*objects, monitor, trace)
        start = time.perf_counter()
        net.run(num_steps * dt, namespace={})
        wall = time.perf_counter() - start
        steps = np.round(np.asarray(monitor.t / dt)).astype(np.int64)
        neurons = np.asarray(monitor.i, dtype=np.int64)
        order = np.lexsort((neurons, steps))
        traces = {name: np.asarray(getattr(trace, name + "_")).T.copy() for name in states}
        return EquationResult(steps[order], neurons[order], traces, wall)
