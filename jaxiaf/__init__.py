"""jaxiaf: a pure, Brian2-exact, fast feedforward integrate-and-fire layer in JAX."""

from . import graph, metrics, surrogate, synapses
from ._compile.cache import enable_from_environment as _enable_from_environment
from ._compile.cache import set_compilation_cache as set_compilation_cache
from ._core.divergence import diverged as diverged
from ._core.pytrees import Parameters as Parameters
from ._core.pytrees import SimulationParameters as SimulationParameters
from ._core.pytrees import State as State
from ._core.scan import Reducer as Reducer
from ._core.scan import evolve as evolve
from ._core.scan import step_constants as step_constants
from ._equations.default import DEFAULT_NEURON_EQ as DEFAULT_NEURON_EQ
from ._equations.model import Model as Model
from ._equations.model import model as model
from ._fit.crossval import cross_validate as cross_validate
from ._fit.driver import fit as fit
from ._fit.models import NeuronModel as NeuronModel
from ._fit.models import neuron_models as neuron_models
from ._fit.recordings import detect_spikes as detect_spikes
from ._fit.result import FitResult as FitResult
from ._fit.result import FitWarning as FitWarning
from ._interop import files as _files
from ._interop.files import load as load
from ._interop.files import save as save
from ._interop.neo import spikes_from_neo as spikes_from_neo
from ._interop.neo import traces_from_neo as traces_from_neo
from ._interop.nir import from_nir as from_nir
from ._interop.nir import to_nir as to_nir
from ._layer import FFIAF as FFIAF
from ._rockpool.synaptic import FFIAFSpkInBrian as FFIAFSpkInBrian
from ._rockpool.synaptic import RecIAFBrian as RecIAFBrian
from ._rockpool.synaptic import RecIAFSpkInBrian as RecIAFSpkInBrian
from ._rockpool.timebase import spikes_to_raster as spikes_to_raster
from ._rockpool.timed import FFIAFBrian as FFIAFBrian
from ._rockpool.timeseries import TSContinuous as TSContinuous
from ._rockpool.timeseries import TSEvent as TSEvent
from ._sweep.checks import SweepWarning as SweepWarning
from ._sweep.summary import summarize as summarize
from ._sweep.sweep import SweepResult as SweepResult
from ._sweep.sweep import grid as grid
from ._sweep.sweep import sweep as sweep

_files.register(FitResult)  # save/load keep fit results (`_interop` does not import `_fit`)

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_NEURON_EQ",
    "FFIAF",
    "FFIAFBrian",
    "FFIAFSpkInBrian",
    "FitResult",
    "FitWarning",
    "Model",
    "NeuronModel",
    "Parameters",
    "RecIAFBrian",
    "RecIAFSpkInBrian",
    "Reducer",
    "SimulationParameters",
    "State",
    "SweepResult",
    "SweepWarning",
    "TSContinuous",
    "TSEvent",
    "cross_validate",
    "detect_spikes",
    "diverged",
    "evolve",
    "fit",
    "from_nir",
    "graph",
    "grid",
    "load",
    "metrics",
    "model",
    "neuron_models",
    "save",
    "set_compilation_cache",
    "spikes_from_neo",
    "spikes_to_raster",
    "step_constants",
    "summarize",
    "surrogate",
    "sweep",
    "synapses",
    "to_nir",
    "traces_from_neo",
]

_MOVED = {
    "NEVER": ("._core.pytrees", "NEVER"),
    "StepConstants": ("._core.pytrees", "StepConstants"),
    "float_dtype": ("._core.pytrees", "float_dtype"),
    "INTEGRATORS": ("._core.integrators", "INTEGRATORS"),
    "standard_normal_raster": ("._core.noise", "standard_normal_raster"),
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


_enable_from_environment()
