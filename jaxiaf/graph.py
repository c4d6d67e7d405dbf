"""The computational graph of a layer, as [`jaxiaf.FFIAFBrian.as_graph`][] returns it."""

from ._graph import GraphHolder as GraphHolder
from ._graph import GraphModule as GraphModule
from ._graph import GraphNode as GraphNode
from ._graph import IAFNeurons as IAFNeurons
from ._graph import LinearWeights as LinearWeights
