"""jaxiaf: a pure, Brian2-exact, fast feedforward integrate-and-fire layer in JAX."""

from . import graph as graph
from . import metrics as metrics
from . import surrogate as surrogate
from ._cache import enable_default_cache as _enable_default_cache
from ._cache import set_compilation_cache as set_compilation_cache
from ._core import Reducer as Reducer
from ._core import evolve as evolve
from ._core import step_constants as step_constants
from ._equations import DEFAULT_NEURON_EQ as DEFAULT_NEURON_EQ
from ._fit import fit as fit
from ._fit import spikes_to_raster as spikes_to_raster
from ._fit_result import FitResult as FitResult
from ._fit_result import FitWarning as FitWarning
from ._io import load as load
from ._io import save as save
from ._model import Model as Model
from ._model import model as model
from ._module import FFIAF as FFIAF
from ._neo import spikes_from_neo as spikes_from_neo
from ._neo import traces_from_neo as traces_from_neo
from ._nir import from_nir as from_nir
from ._nir import to_nir as to_nir
from ._pytrees import Parameters as Parameters
from ._pytrees import SimulationParameters as SimulationParameters
from ._pytrees import State as State
from ._sweep import SweepResult as SweepResult
from ._sweep import grid as grid
from ._sweep import sweep as sweep
from ._timed import FFIAFBrian as FFIAFBrian
from ._timeseries import TSContinuous as TSContinuous
from ._timeseries import TSEvent as TSEvent

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_NEURON_EQ",
    "FFIAF",
    "FFIAFBrian",
    "FitResult",
    "FitWarning",
    "Model",
    "Parameters",
    "Reducer",
    "SimulationParameters",
    "State",
    "SweepResult",
    "TSContinuous",
    "TSEvent",
    "evolve",
    "fit",
    "from_nir",
    "graph",
    "grid",
    "load",
    "metrics",
    "model",
    "save",
    "set_compilation_cache",
    "spikes_from_neo",
    "spikes_to_raster",
    "step_constants",
    "surrogate",
    "sweep",
    "to_nir",
    "traces_from_neo",
]

_MOVED = {
    "NEVER": ("._pytrees", "NEVER"),
    "StepConstants": ("._pytrees", "StepConstants"),
    "float_dtype": ("._pytrees", "float_dtype"),
    "INTEGRATORS": ("._integrators", "INTEGRATORS"),
    "standard_normal_raster": ("._core", "standard_normal_raster"),
    **{
        name: (".graph", name)
        for name in ("GraphHolder", "GraphModule", "GraphNode", "IAFNeurons", "LinearWeights")
    },
}
"""Names that left the top level: still readable (the integrator table read-only), with a warning."""


def __getattr__(name):
    if name not in _MOVED:
        raise AttributeError(f"module 'jaxiaf' has no attribute {name!r}")
    import importlib
    import types
    import warnings

    module, attribute = _MOVED[name]
    where = f"jaxiaf{module}.{attribute}"
    warnings.warn(f"`jaxiaf.{name}` is not public any more; use `{where}`.", DeprecationWarning, stacklevel=2)
    value = getattr(importlib.import_module(module, __name__), attribute)
    return types.MappingProxyType(value) if isinstance(value, dict) else value


_enable_default_cache()
