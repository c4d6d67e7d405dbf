"""The feedforward IAF layer, and layers driven by spikes through synapses, in Brian2: the ground truth
that `jaxiaf` is tested against.

Plain floats and arrays in (SI units), spike steps and voltage traces out; Brian2 units only inside.
`jaxiaf` never imports this package and this package never imports `jaxiaf`.
"""

from ._cuba import CUBA_EQUATIONS as CUBA_EQUATIONS
from ._cuba import CUBA_VALUES as CUBA_VALUES
from ._cuba import cuba_input as cuba_input
from ._cuba import cuba_network as cuba_network
from ._equations import EquationLayer as EquationLayer
from ._equations import EquationResult as EquationResult
from ._layer import BrianResult as BrianResult
from ._layer import FFIAFBrian2 as FFIAFBrian2
from ._rockpool import RockpoolSynapticLayer as RockpoolSynapticLayer
from ._synapses import SynapticLayer as SynapticLayer
