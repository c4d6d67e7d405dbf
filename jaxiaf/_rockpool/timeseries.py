"""Time series containers: sampled continuous signals (`TSContinuous`) and events (`TSEvent`).

Plain NumPy containers modelled on the interface of `rockpool.timeseries`. Sampling and
rasterisation follow exact, documented rules:

- `TSContinuous` with `interp_kind="previous"` returns the last sample at a time `<= t`, found with
  `np.searchsorted(times, t, side="right") - 1`; no tolerance is applied.
- `TSEvent.raster` puts an event at time `t` into bin `floor((t - t_start) / dt + 1e-6)`, so events
  placed at bin starts `t_start + k * dt` or bin centres `t_start + (k + 0.5) * dt` (computed in
  floating point) land in bin `k`.

matplotlib is imported only inside the `plot` methods.
"""

from .ts_continuous import TSContinuous
from .ts_event import TSEvent

__all__ = ["TSContinuous", "TSEvent"]
