"""A small computational graph of a layer, as `FFIAFBrian.as_graph()` returns it.

A graph is made of modules joined by nodes: a module's `output_nodes` are the very objects that the next
module holds as `input_nodes` (one node per channel). The layer's graph is a `GraphHolder` around two
modules, `LinearWeights` (the `(N_in, N)` weights) feeding `IAFNeurons` (every neuron parameter), which is
what an exporter (e.g. to NIR: `Affine` then `LIF`) walks. Values are NumPy copies in SI units.
"""

import dataclasses

import numpy as np


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
class GraphHolder(GraphModule):
    """A graph of modules, seen from outside as one module.

    **Fields:** as [`jaxiaf.graph.GraphModule`][] (the inputs of the first module and the outputs of the
    last), and `modules`: the modules in the order data flows through them.
    """

    modules: tuple[GraphModule, ...]


def layer_graph(name: str, parameters: dict, simulation_parameters: dict) -> GraphHolder:
    """The graph of a feedforward IAF layer: `LinearWeights` feeding `IAFNeurons`.

    **Arguments:**

    - `name`: the layer's name; the modules are called `"<name>_weights"` and `"<name>_neurons"`.
    - `parameters`: the layer's `parameters()` (`weights`, `bias`, `tau_mem`, `v_thresh`, `v_reset`,
      `v_rest`).
    - `simulation_parameters`: the layer's `simulation_parameters()` (`dt`, `noise_std`, `refractory`,
      `integrator_name`).

    **Returns:** a [`jaxiaf.graph.GraphHolder`][] with `modules == (weights, neurons)`, where
    `weights.output_nodes is neurons.input_nodes`.
    """
    weights = np.array(parameters["weights"])
    num_in, num_out = weights.shape
    inputs = tuple(GraphNode(i) for i in range(num_in))
    currents = tuple(GraphNode(j) for j in range(num_out))
    spikes = tuple(GraphNode(j) for j in range(num_out))
    linear = LinearWeights(f"{name}_weights", inputs, currents, weights)
    neurons = IAFNeurons(
        f"{name}_neurons",
        currents,
        spikes,
        **{k: np.array(v) for k, v in parameters.items() if k != "weights"},
        noise_std=np.array(simulation_parameters["noise_std"]),
        refractory=np.array(simulation_parameters["refractory"]),
        r_m=1.0,
        dt=float(simulation_parameters["dt"]),
        integrator_name=simulation_parameters["integrator_name"],
    )
    return GraphHolder(name, inputs, spikes, (linear, neurons))
