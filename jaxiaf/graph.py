"""The computational graph of a layer, as [`jaxiaf.FFIAFBrian.as_graph`][] returns it."""

from ._rockpool.graph import EquationNeurons as EquationNeurons
from ._rockpool.graph import GraphHolder as GraphHolder
from ._rockpool.graph import GraphModule as GraphModule
from ._rockpool.graph import GraphNode as GraphNode
from ._rockpool.graph import IAFNeurons as IAFNeurons
from ._rockpool.graph import LinearWeights as LinearWeights
