"""jaxiaf: a pure, Brian2-exact, fast feedforward integrate-and-fire layer in JAX."""

from . import metrics as metrics
from ._cache import enable_default_cache as _enable_default_cache
from ._cache import set_compilation_cache as set_compilation_cache
from ._core import Reducer as Reducer
from ._core import evolve as evolve
from ._core import standard_normal_raster as standard_normal_raster
from ._core import step_constants as step_constants
from ._equations import DEFAULT_NEURON_EQ as DEFAULT_NEURON_EQ
from ._fit import FitResult as FitResult
from ._fit import FitWarning as FitWarning
from ._fit import fit as fit
from ._fit import spikes_to_raster as spikes_to_raster
from ._graph import GraphHolder as GraphHolder
from ._graph import GraphModule as GraphModule
from ._graph import GraphNode as GraphNode
from ._graph import IAFNeurons as IAFNeurons
from ._graph import LinearWeights as LinearWeights
from ._integrators import INTEGRATORS as INTEGRATORS
from ._io import load as load
from ._io import save as save
from ._io import spikes_from_neo as spikes_from_neo
from ._io import traces_from_neo as traces_from_neo
from ._module import FFIAF as FFIAF
from ._nir import from_nir as from_nir
from ._nir import to_nir as to_nir
from ._pytrees import NEVER as NEVER
from ._pytrees import Parameters as Parameters
from ._pytrees import SimulationParameters as SimulationParameters
from ._pytrees import State as State
from ._pytrees import StepConstants as StepConstants
from ._pytrees import float_dtype as float_dtype
from ._sweep import SweepResult as SweepResult
from ._sweep import grid as grid
from ._sweep import sweep as sweep
from ._timed import FFIAFBrian as FFIAFBrian
from ._timeseries import TSContinuous as TSContinuous
from ._timeseries import TSEvent as TSEvent

__version__ = "0.1.0"

_enable_default_cache()
