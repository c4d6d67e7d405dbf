"""The TimeSeries wrappers of a timed layer's outputs: rasters as `TSEvent`, clocked arrays as `TSContinuous`,
and the record of an evolution, on the layer's time base."""

import numpy as np

from .timeseries import TSContinuous, TSEvent


class TimeSeriesOutputs:
    """The page's `_gen_*` wrappers and `_wrap_recorded_state`, for a layer that has `name`, `size_out`,
    `spiking_output` and `_times(t_start, dt, k)` (the times `t_start + k * dt` on its time base)."""

    def _gen_timeseries(self, output: np.ndarray, **kwargs):
        """Wrap a `(T, N)` raster as this layer's output type: `_gen_tsevent(output, **kwargs)`."""
        if self.spiking_output:
            return self._gen_tsevent(output, **kwargs)
        return self._gen_tscontinuous(output, **kwargs)

    def _gen_tsevent(
        self,
        output: np.ndarray,
        dt: float | None = None,
        t_start: float | None = None,
        name: str | None = None,
        periodic: bool = False,
        num_channels: int | None = None,
        spikes_at_bin_start: bool = False,
    ) -> TSEvent:
        """Wrap a raster as a [`jaxiaf.TSEvent`][].

        An event in bin k is placed at `t_start + (k + 0.5) * dt` (mid-bin), or at `t_start + k * dt` with
        `spikes_at_bin_start=True`; the series spans `[t_start, t_start + T*dt)`. With the defaults, these
        are the layer's time before the call and after it (see `_gen_time_trace` for how times are formed).

        **Arguments:**

        - `output`: `(T, N)` raster: bool, or int counts (one event per count).
        - `dt`: bin width (s); default the layer's `dt`.
        - `t_start`: start of bin 0 (s); default the layer's `t`.
        - `name`: name of the series; default `"Output events '<layer name>'"`.
        - `periodic`: whether the series repeats.
        - `num_channels`: number of channels (>= N); default `size_out`.
        - `spikes_at_bin_start`: place events at bin starts instead of bin centres.

        **Returns:** the `TSEvent`, sorted by time then channel.
        """
        if name is None:
            name = f"Output events '{self.name}'" if self.name else "Output events"
        # Bin starts with dt = 1 from 0 are exactly the bin indices, mapped to times below.
        bins = TSEvent.from_raster(
            output,
            1.0,
            num_channels=self.size_out if num_channels is None else num_channels,
            spikes_at_bin_start=True,
        )
        offset = 0.0 if spikes_at_bin_start else 0.5
        return TSEvent(
            self._times(t_start, dt, bins.times + offset),
            bins.channels,
            periodic=periodic,
            t_start=float(self._times(t_start, dt, 0)),
            t_stop=float(self._times(t_start, dt, bins.t_stop)),
            name=name,
            num_channels=bins.num_channels,
        )

    def _gen_tscontinuous(
        self,
        output: np.ndarray,
        dt: float | None = None,
        t_start: float | None = None,
        name: str | None = None,
        periodic: bool = False,
        interp_kind: str = "previous",
    ) -> TSContinuous:
        """Wrap a clocked array as a [`jaxiaf.TSContinuous`][]: sample k at `t_start + k * dt`,
        `t_stop = t_start + T * dt`.

        **Arguments:** `output`: `(T, N)` (or `(T,)`) samples; `dt` (s), default the layer's `dt`;
        `t_start` (s), default the layer's `t`; `name`, default `"Output samples '<layer name>'"`;
        `periodic`; `interp_kind`: `"previous"` or `"linear"`.

        **Returns:** the `TSContinuous`.
        """
        if name is None:
            name = f"Output samples '{self.name}'" if self.name else "Output samples"
        samples = np.asarray(output)
        num_samples = samples.shape[0] if samples.ndim else 0
        return TSContinuous(
            self._times(t_start, dt, np.arange(num_samples)),
            samples,
            periodic=periodic,
            t_start=float(self._times(t_start, dt, 0)),
            t_stop=float(self._times(t_start, dt, num_samples)),
            name=name,
            interp_kind=interp_kind,
        )

    def _wrap_recorded_state(self, recorded_dict: dict, t_start: float) -> dict:
        """Wrap the record of an evolution as TimeSeries.

        **Arguments:** `recorded_dict`: the functional module's record, `{"v": (T, N), "spikes": (T, N)}`
        (or `{}`); `t_start`: the time of the evolution's first step (s).

        **Returns:** `{"v": TSContinuous, "spikes": TSEvent}`: `v` (V) sample k is the potential at the end
        of step k (after any reset), placed at the bin start `t_start + k*dt` and held over the bin
        (`interp_kind="previous"`); the spikes as `_gen_tsevent` places them. Every other state variable
        of a layer's own equations (`neuron_eq`) is a `TSContinuous` like `v`, in its SI unit.
        """
        wrapped = dict(recorded_dict)
        for var in set(wrapped) - {"spikes"}:
            label = "Membrane potential" if var == "v" else f"State variable {var}"
            name = f"{label} '{self.name}'" if self.name else label
            wrapped[var] = self._gen_tscontinuous(np.asarray(wrapped[var]), t_start=t_start, name=name)
        if "spikes" in wrapped:
            wrapped["spikes"] = self._gen_tsevent(np.asarray(wrapped["spikes"]), t_start=t_start)
        return wrapped
