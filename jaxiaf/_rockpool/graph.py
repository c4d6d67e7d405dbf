"""A small computational graph of a layer, as `FFIAFBrian.as_graph()` returns it.

A graph is made of modules joined by nodes: a module's `output_nodes` are the very objects that the next
module holds as `input_nodes` (one node per channel). The layer's graph is a `GraphHolder` around two
modules, `LinearWeights` (the `(N_in, N)` weights) feeding `IAFNeurons` (every neuron parameter of the
default equations; `EquationNeurons` for a layer's own equations, with their text and declared
parameters), which is what an exporter (e.g. to NIR: `Affine` then `LIF`) walks. Values are NumPy
copies in SI units.
"""

import dataclasses

import numpy as np

from .._equations import names as _named


@dataclasses.dataclass(eq=False)
class GraphNode:
    """A connection point between graph modules: one channel.

    **Fields:** `channel`: the channel's index in the layer it belongs to.
    """

    channel: int


@dataclasses.dataclass(eq=False)
class GraphModule:
    """A module of a graph.

    **Fields:**

    - `name`: a name for the module.
    - `input_nodes`: the `GraphNode`s it reads, one per input channel.
    - `output_nodes`: the `GraphNode`s it writes, one per output channel.
    """

    name: str
    input_nodes: tuple[GraphNode, ...]
    output_nodes: tuple[GraphNode, ...]

    @property
    def shape(self) -> tuple[int, int]:
        """`(number of inputs, number of outputs)`."""
        return len(self.input_nodes), len(self.output_nodes)


@dataclasses.dataclass(eq=False)
class LinearWeights(GraphModule):
    """A weight matrix: output channel j receives `sum_i x_i * weights[i, j]`.

    **Fields:** as [`jaxiaf.graph.GraphModule`][], and `weights`: `(N_in, N)` array (dimensionless; the inputs
    are currents in A).
    """

    weights: np.ndarray


@dataclasses.dataclass(eq=False)
class IAFNeurons(GraphModule):
    """`N` integrate-and-fire neurons with current inputs and spiking outputs.

    `dv/dt = (v_rest - v + r_m * (I + bias)) / tau_mem`; a spike when `v > v_thresh`, then `v = v_reset`
    and the neuron is refractory for `refractory` s; simulated with `integrator_name` at step `dt`, the
    input held constant over each step.

    **Fields:** as [`jaxiaf.graph.GraphModule`][], and `(N,)` arrays `bias` (A), `tau_mem` (s), `v_thresh`,
    `v_reset`, `v_rest` (V), `noise_std` (V, the stationary std of `v` due to the noise alone); `refractory`
    (s, scalar or `(N,)`); `r_m` (ohm, always 1); `dt` (s); `integrator_name`.
    """

    bias: np.ndarray
    tau_mem: np.ndarray
    v_thresh: np.ndarray
    v_reset: np.ndarray
    v_rest: np.ndarray
    noise_std: np.ndarray
    refractory: np.ndarray
    r_m: float
    dt: float
    integrator_name: str


@dataclasses.dataclass(eq=False)
class EquationNeurons(GraphModule):
    """`N` neurons of a layer's own Brian2 equations ([`jaxiaf.Model`][]), with current inputs (`I_inp`)
    and spiking outputs.

    **Fields:** as [`jaxiaf.graph.GraphModule`][], and `equations`, `threshold`, `reset` (Brian2 code
    strings), `integrator_name` (the method Brian2 integrated them with), `parameters` (`{name: (N,)
    array}` of every declared parameter, SI units), `refractory` (s, scalar or `(N,)`, or the equations'
    own period expression as a string) and `dt` (s).
    """

    equations: str
    threshold: str
    reset: str
    integrator_name: str
    parameters: dict
    refractory: "np.ndarray | str"
    dt: float


@dataclasses.dataclass(eq=False)
class GraphHolder(GraphModule):
    """A graph of modules, seen from outside as one module.

    **Fields:** as [`jaxiaf.graph.GraphModule`][] (the inputs of the first module and the outputs of the
    last), and `modules`: the modules in the order data flows through them.
    """

    modules: tuple[GraphModule, ...]


def layer_graph(name: str, module) -> GraphHolder:
    """The graph of a feedforward layer: `LinearWeights` feeding its neurons, an `IAFNeurons` node for the
    default equations and an `EquationNeurons` node for a layer's own.

    **Arguments:**

    - `name`: the layer's name; the modules are called `"<name>_weights"` and `"<name>_neurons"`.
    - `module`: the layer's functional [`jaxiaf.FFIAF`][]; its declared names fill the neuron node.

    **Returns:** a [`jaxiaf.graph.GraphHolder`][] with `modules == (weights, neurons)`, where
    `weights.output_nodes is neurons.input_nodes`.
    """
    parameters = {k: np.array(v) for k, v in module.parameters().items()}
    sim = module.simulation_parameters()
    weights = parameters.pop("weights")
    num_in, num_out = weights.shape
    inputs = tuple(GraphNode(i) for i in range(num_in))
    currents = tuple(GraphNode(j) for j in range(num_out))
    spikes = tuple(GraphNode(j) for j in range(num_out))
    linear = LinearWeights(f"{name}_weights", inputs, currents, weights)
    names = _named.declared(module.sim.model)
    nodes = (f"{name}_neurons", currents, spikes)
    common = dict(dt=float(sim["dt"]), integrator_name=sim["integrator_name"])
    refractory = np.array(sim["refractory"]) if "refractory" in sim else names.refractory
    if names is _named.PAGE:
        noise = np.array(sim["noise_std"])
        neurons = IAFNeurons(*nodes, **parameters, noise_std=noise, refractory=refractory, r_m=1.0, **common)
    else:
        source = dict(equations=names.equations, threshold=names.threshold, reset=names.reset)
        neurons = EquationNeurons(*nodes, **source, parameters=parameters, refractory=refractory, **common)
    return GraphHolder(name, inputs, spikes, (linear, neurons))
