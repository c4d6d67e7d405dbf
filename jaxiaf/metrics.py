"""Spike-train and trace metrics (JAX, jit- and vmap-able), and the losses [`jaxiaf.fit`][] combines."""

from ._fit.metrics import GammaFactor as GammaFactor
from ._fit.metrics import Metric as Metric
from ._fit.metrics import SpikeCount as SpikeCount
from ._fit.metrics import SubthresholdMSE as SubthresholdMSE
from ._fit.metrics import TraceMSE as TraceMSE
from ._fit.metrics import VanRossum as VanRossum
from ._fit.metrics import coincidences as coincidences
from ._fit.metrics import gamma_factor as gamma_factor
from ._fit.metrics import intrinsic_reliability as intrinsic_reliability
from ._fit.metrics import normalised_gamma as normalised_gamma
from ._fit.metrics import spike_count_error as spike_count_error
from ._fit.metrics import subthreshold_mse as subthreshold_mse
from ._fit.metrics import trace_mse as trace_mse
from ._fit.metrics import van_rossum as van_rossum
