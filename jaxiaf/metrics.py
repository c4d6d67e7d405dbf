"""Spike-train and trace metrics (JAX, jit- and vmap-able), and the losses [`jaxiaf.fit`][] combines."""

from ._metrics import GammaFactor as GammaFactor
from ._metrics import Metric as Metric
from ._metrics import SpikeCount as SpikeCount
from ._metrics import TraceMSE as TraceMSE
from ._metrics import VanRossum as VanRossum
from ._metrics import coincidences as coincidences
from ._metrics import gamma_factor as gamma_factor
from ._metrics import spike_count_error as spike_count_error
from ._metrics import trace_mse as trace_mse
from ._metrics import van_rossum as van_rossum
