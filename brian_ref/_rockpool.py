"""Rockpool's Brian2 layers with synaptic currents (`rockpool.nn.layers.iaf_brian`), built as Rockpool builds
them: `FFIAFSpkInBrian`, `RecIAFBrian` and `RecIAFSpkInBrian`.

A `NeuronGroup` with Rockpool's equations (written out here, independently of `jaxiaf`), threshold
`v > v_thresh`, reset `v = v_reset`, `v` starting at `v_rest` and `r_m` = 1 ohm; a `SpikeGeneratorGroup`
fed the input event times as they are; `Synapses(model="w : 1", on_pre="<I>_post += w*amp")` connecting
every pair (`connect()`), named as Rockpool names them (`receiver_synapses`, `recurrent_synapses`, ...),
with `w` the flattened weight matrix; `I_inp` a `TimedArray` (Rockpool's noise, here zero, or
`RecIAFBrian`'s input currents). Noise is left out (zero).
"""

import time

import brian2 as b2
import numpy as np

from ._equations import EquationResult

_IAF_SPKIN_FF = """
dv/dt = (v_rest - v + r_m * I_total) / tau_m    : volt (unless refractory)
I_total = I_syn + I_bias + I_inp(t, i)          : amp
dI_syn/dt = -I_syn / tau_s                      : amp
I_bias                                          : amp
v_rest                                          : volt
tau_m                                           : second
tau_s                                           : second
r_m                                             : ohm
v_thresh                                        : volt
v_reset                                         : volt
"""
_IAF_REC = """
dv/dt = (v_rest - v + r_m * I_total) / tau_m    : volt (unless refractory)
I_total = I_inp(t, i) + I_syn + I_bias          : amp
I_bias                                          : amp
v_rest                                          : volt
tau_m                                           : second
r_m                                             : ohm
v_thresh                                        : volt
v_reset                                         : volt
"""
_IAF_SPKIN_REC = """
dv/dt = (v_rest - v + r_m * I_total) / tau_m    : volt (unless refractory)
I_total = I_inp(t, i) + I_syn + I_bias          : amp
I_syn = I_syn_inp + I_syn_rec                   : amp
I_bias                                          : amp
v_rest                                          : volt
tau_m                                           : second
r_m                                             : ohm
v_thresh                                        : volt
v_reset                                         : volt
"""
_SYNAPSE_EXP = """
dI_syn/dt = -I_syn / tau_s                      : amp
tau_s                                           : second
"""
_SYNAPSE_EXP_SPKIN_REC = """
dI_syn_inp/dt = -I_syn_inp / tau_syn_inp        : amp
dI_syn_rec/dt = -I_syn_rec / tau_syn_rec        : amp
tau_syn_inp                                     : second
tau_syn_rec                                     : second
"""

KINDS = {
    "FFIAFSpkInBrian": (
        [_IAF_SPKIN_FF],
        {"bias": "I_bias", "tau_mem": "tau_m", "tau_syn": "tau_s"},
        [("weights", "input", "I_syn_post += w*amp", "receiver_synapses")],
    ),
    "RecIAFBrian": (
        [_IAF_REC, _SYNAPSE_EXP],
        {"bias": "I_bias", "tau_mem": "tau_m", "tau_syn_r": "tau_s"},
        [("weights", "recurrent", "I_syn_post += w*amp", "reservoir_recurrent_synapses")],
    ),
    "RecIAFSpkInBrian": (
        [_IAF_SPKIN_REC, _SYNAPSE_EXP_SPKIN_REC],
        {"bias": "I_bias", "tau_mem": "tau_m"},
        [
            ("weights_in", "input", "I_syn_inp_post += w*amp", "receiver_synapses"),
            ("weights_rec", "recurrent", "I_syn_rec_post += w*amp", "recurrent_synapses"),
        ],
    ),
}
"""Per layer: its equations (added up as Rockpool does), Rockpool's argument names of the equations'
parameters, and its synapses `(weights argument, source, on_pre, name)`."""


class RockpoolSynapticLayer:
    """One of Rockpool's Brian2 layers `kind` (a key of `KINDS`) from plain SI values.

    **Arguments:** `kind`; the weight matrices by Rockpool's names (`weights`, or `weights_in` and
    `weights_rec`; A per spike); `parameters` {Rockpool's name (`bias`, `tau_mem`, `tau_syn`, `v_thresh`,
    ...): scalar or (N,) SI value}; `refractory` (s), `method` (Brian2's name), `dt` (s).
    """

    def __init__(self, kind, weights: dict, parameters: dict, *, refractory=0.0, method="rk4", dt=1e-4):
        self.kind, self.weights = kind, {k: np.asarray(w, np.float64) for k, w in weights.items()}
        self.parameters, self.refractory = dict(parameters), float(refractory)
        self.method, self.dt = {"exact": "linear"}.get(method, method), float(dt)

    def evolve(self, num_steps, n, *, event_times=None, event_channels=None, currents=None) -> EquationResult:
        """Run Brian2 for `num_steps` steps of `n` neurons from the start: input events at `event_times` (s,
        as given to the `SpikeGeneratorGroup`) on `event_channels`; `currents` (T, N) the `I_inp` table (A;
        default 0). Traces at the end of each step."""
        b2.set_device("runtime")
        b2.prefs.codegen.target = "numpy"
        b2.start_scope()
        dt = self.dt * b2.second
        texts, aliases, synapses = KINDS[self.kind]
        equations = b2.Equations(texts[0])
        for text in texts[1:]:
            equations = equations + b2.Equations(text)
        currents = np.zeros((num_steps, n)) if currents is None else np.asarray(currents, np.float64)
        table = b2.TimedArray(currents * b2.amp, dt=dt)
        refractory = self.refractory * b2.second
        group = b2.NeuronGroup(
            n, equations, threshold="v > v_thresh", reset="v = v_reset", refractory=refractory,
            method=self.method, dt=dt, name="spiking_neurons",
        )  # fmt: skip
        for name, value in self.parameters.items():
            setattr(
                group, aliases.get(name, name) + "_", np.broadcast_to(np.asarray(value, np.float64), (n,))
            )
        group.v_ = np.asarray(group.v_rest_)
        group.r_m = 1 * b2.ohm
        objects = [group]
        if event_times is not None:
            n_in = self.weights[synapses[0][0]].shape[0]
            source = b2.SpikeGeneratorGroup(
                n_in, np.asarray(event_channels), np.asarray(event_times) * b2.second, dt=dt, sorted=False
            )
            objects.append(source)
        for weights, pre, on_pre, name in synapses:
            pathway = b2.Synapses(
                source if pre == "input" else group, group, model="w : 1", on_pre=on_pre, method=self.method,
                dt=dt, name=name,
            )  # fmt: skip
            pathway.connect()
            pathway.w = self.weights[weights].flatten()
            objects.append(pathway)
        states = [name for name, eq in group.equations.items() if eq.type == "differential equation"]
        monitor = b2.SpikeMonitor(group)
        trace = b2.StateMonitor(group, states, record=True, when="end")
        net = b2.Network(*objects, monitor, trace)
        start = time.perf_counter()
        net.run(num_steps * dt, namespace={"I_inp": table})
        wall = time.perf_counter() - start
        steps = np.round(np.asarray(monitor.t / dt)).astype(np.int64)
        neurons = np.asarray(monitor.i, dtype=np.int64)
        order = np.lexsort((neurons, steps))
        traces = {name: np.asarray(getattr(trace, name + "_")).T.copy() for name in states}
        return EquationResult(steps[order], neurons[order], traces, wall)
