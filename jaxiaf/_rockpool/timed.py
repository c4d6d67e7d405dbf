"""`FFIAFBrian`: Rockpool's timed layer (TimeSeries in, TimeSeries out) over the functional `FFIAF`.

The layer is a thin mutable shell around an immutable [`jaxiaf.FFIAF`][]: `evolve` samples the input
series onto the dt grid, calls the functional module (which calls the core), and wraps the spikes as a
`TSEvent`. It never re-implements the update, the threshold, the reset or the noise. Times, step counts
and the sampling rule come from `jaxiaf._rockpool.timebase`; the Rockpool-compatibility surface (class
flags, names,
registries, output wrappers) from `jaxiaf._rockpool.surface`.
"""

import jax
import numpy as np
from jaxtyping import ArrayLike

from .._core.defaults import DEFAULTS
from .._core.pytrees import Parameters, SimulationParameters, State
from .._layer import FFIAF, as_attributes
from . import timebase as _timebase
from .surface import Registered, RockpoolSurface
from .timeseries import TSContinuous, TSEvent


class FFIAFBrian(RockpoolSurface):
    """A spiking feedforward layer of IAF neurons: continuous currents in (`TSContinuous`), spikes out
    (`TSEvent`). The interface of Rockpool's `nn.layers.FFIAFBrian`, computed by [`jaxiaf.FFIAF`][].

    `dv/dt = (v_rest - v + r_m * (I_in(t) + bias)) / tau_mem`, `r_m` = 1 ohm; row k of the input is the
    input series sampled at `t + k*dt`, read as Rockpool's layer reads it (`input_sampling="timed"`, by
    default): through Brian2's `TimedArray` rule, so rk4's last stage (at `t + k*dt + dt`) reads row
    k + 1 (the last row repeats); a spike when `v > v_thresh`, then
    `v = v_reset`, refractory for `refractory` s. Every integrator follows Brian2's update exactly (see
    [`jaxiaf.evolve`][]).

    **Time lives in the state.** `t` is the state's step count times `dt`. `evolve` (and `mod(...)`) is
    pure: it returns `(output, new_state, record)` and leaves the layer as it was;
    `mod = mod.set_attributes(new_state)` advances it. `set_attributes`, `reset_state`, `reset_time`,
    `reset_all`, `reset_parameters` and `_reset_attribute` change the layer in place and return it (the
    same object), so both `mod.reset_state()` and `mod = mod.reset_state()` work. The functional module
    underneath (`mod.module`) is immutable and can be `jit`ted and `vmap`ped.

    **Precision:** as [`jaxiaf.FFIAF`][]: float64 (spike-exact with Brian2) if `jax_enable_x64` is on when
    the layer is built, float32 otherwise. Times (`t`, sample and spike times) are always float64.

    **Arguments** (SI units; per-neuron arguments are a scalar or shape (N,); Brian2 quantities accepted):

    - `weights`: (N_in, N) weight matrix (dimensionless; the input is a current in A).
    - `bias`: bias current (A). Default 10 mA.
    - `dt`: time step (s). Default 0.1 ms.
    - `noise_std`: stationary standard deviation of `v` due to the noise alone (V). Default 0.
    - `tau_mem`: membrane time constant (s). Default 20 ms.
    - `v_thresh`, `v_reset`, `v_rest`: threshold, reset and resting potentials (V). Defaults -55, -65,
      -65 mV; `v` starts at `v_rest`.
    - `refractory`: refractory period (s), scalar or (N,). Default 0.
    - `neuron_eq`: `None` (Rockpool's `eqNeuronIAFFF`, `jaxiaf.DEFAULT_NEURON_EQ`) or any Brian2 neuron
      equations, as a Brian2 `Equations` or a string, with `threshold`, `reset` (keyword-only) and the
      values of their parameters and initial states by name (`**values`); see [`jaxiaf.FFIAF`][].
    - `integrator_name`: `"rk4"` (default for the default equations), `"rk2"`, `"euler"`,
      `"exponential_euler"` or `"exact"` (alias `"linear"`); with `neuron_eq`, any of Brian2's non-GSL
      methods, default Brian2's own choice.
    - `name`: a name for the layer. Default `"unnamed"`.
    - `record`: if True, every evolution returns the record (as if called with `record=True`).
    - `key`: keyword-only PRNG key of the noise (default `jax.random.key(0)`).
    - `input_sampling`: keyword-only; `"timed"` (default, Rockpool's read: each integrator stage reads
      the input at its own time by Brian2's `TimedArray` rule) or `"held"` (row k held over step k, the
      default of [`jaxiaf.FFIAF`][]). Only rk4 has a stage at `t + dt`: the other integrators of the
      default equations read row k under both (`exact` then rounds as Brian2 does for a `TimedArray`
      call, which can differ from the held input in the last bit). The noise is held over the step
      under either. A call does not see the next call's input: under rk4 its last step reads its own
      last row again, so evolving in chunks differs from one call in that read (as in Rockpool's
      layer); `"held"` does not.

    **Raises:** `ValueError` for an unsupported `neuron_eq`, and as [`jaxiaf.FFIAF`][] for a bad value,
    shape or integrator; `TypeError` for a non-number.
    """

    weights = Registered("(N_in, N) input weights (dimensionless).")
    bias = Registered("(N,) bias current (A).")
    tau_mem = Registered("(N,) membrane time constants (s).")
    v_thresh = Registered("(N,) thresholds (V).")
    v_reset = Registered("(N,) reset potentials (V).")
    v_rest = Registered("(N,) resting potentials (V).")
    noise_std = Registered("(N,) stationary std of v due to the noise alone (V).")
    refractory = Registered("Refractory period (s), () or (N,).")
    integrator_name = Registered("Name of the integrator.")
    v = Registered("(N,) membrane potential (V).")
    since_spike = Registered("(N,) steps since each neuron's last spike (int).")
    key = Registered("PRNG key of the noise.")
    step = Registered("() number of steps evolved so far (int); `t = step * dt`.")

    def __init__(
        self,
        weights: ArrayLike,
        bias: ArrayLike = DEFAULTS["bias"],
        dt: ArrayLike = DEFAULTS["dt"],
        noise_std: ArrayLike = DEFAULTS["noise_std"],
        tau_mem: ArrayLike = DEFAULTS["tau_mem"],
        v_thresh: ArrayLike = DEFAULTS["v_thresh"],
        v_reset: ArrayLike = DEFAULTS["v_reset"],
        v_rest: ArrayLike = DEFAULTS["v_rest"],
        refractory: ArrayLike | str = DEFAULTS["refractory"],
        neuron_eq: "str | object | None" = None,
        integrator_name: str | None = None,
        name: str | None = DEFAULTS["name"],
        record: bool = False,
        *,
        key: "jax.Array | None" = None,
        threshold: str | None = None,
        reset: str | None = None,
        input_sampling: str = "timed",
        **values,
    ):
        self._module = FFIAF(
            weights,
            bias=bias,
            dt=dt,
            noise_std=noise_std,
            tau_mem=tau_mem,
            v_thresh=v_thresh,
            v_reset=v_reset,
            v_rest=v_rest,
            refractory=refractory,
            integrator_name=integrator_name,
            name=name,
            key=key,
            neuron_eq=neuron_eq,
            threshold=threshold,
            reset=reset,
            input_sampling=input_sampling,
            **values,
        )
        self._dt = _timebase.seconds("dt", dt)
        self._record = bool(record)
        self._initial = {**self._module.parameters(), **self._module.simulation_parameters(), "dt": self._dt}
        self._submodules: dict = {}

    @property
    def module(self) -> FFIAF:
        """The functional [`jaxiaf.FFIAF`][] that computes this layer, in its current state (immutable)."""
        return self._module

    # ------------------------------------------------------------------------------------------------- time
    @property
    def dt(self) -> float:
        """The simulation and input sampling time step (s). Assigning calls `set_attributes({"dt": ...})`,
        which allows a new `dt` only at `t = 0`."""
        return self._dt

    @dt.setter
    def dt(self, value):
        self.set_attributes({"dt": value})

    @property
    def t(self) -> float:
        """The current evolution time (s): `step * dt`, from the state's integer step count."""
        return self._step * self._dt

    @property
    def _step(self) -> int:
        return int(self._module.neuron_state.step)

    def _times(self, t_start, dt, k):
        """Times `t_start + k * dt` (s) of the step offsets `k`, on the dt grid when `t_start` is on it
        (`jaxiaf._rockpool.timebase.grid_times`); `t_start` and `dt` default to the layer's `t` and `dt`."""
        dt = self._dt if dt is None else _timebase.seconds("dt", dt, positive=True)
        t_start = self.t if t_start is None else _timebase.seconds("t_start", t_start)
        return _timebase.grid_times(t_start, dt, k)

    def _gen_time_trace(self, t_start: float, num_timesteps: int) -> np.ndarray:
        """The time base of an evolution: `num_timesteps` times from `t_start`, `dt` apart.

        **Arguments:** `t_start` (s); `num_timesteps`: an integer >= 0.

        **Returns:** `(num_timesteps,)` float64 times (s): `(k0 + k) * dt` when `t_start = k0 * dt` is on
        the dt grid (as the layer's `t` always is), else `t_start + k * dt`.
        """
        count = _timebase.count("num_timesteps", num_timesteps)
        return self._times(t_start, None, np.arange(count))

    def _determine_timesteps(self, ts_input=None, duration=None, num_timesteps=None) -> int:
        """How many steps an evolution takes.

        `num_timesteps` if given; else `floor(duration / dt + 1e-6)` (so 0.1 s at 0.1 ms is 1000 steps and
        0.1234 s at 0.5 ms is 246); else, for a periodic `ts_input`, one period; else until the input ends,
        `ts_input.t_stop - t`.

        **Arguments:**

        - `ts_input`: a [`jaxiaf.TSContinuous`][] or [`jaxiaf.TSEvent`][], or None.
        - `duration`: duration of the evolution (s), >= 0.
        - `num_timesteps`: number of steps, an integer >= 0.

        **Returns:** the number of steps (int).

        **Raises:** `TypeError` if none of the three is given, or for a non-integer `num_timesteps`;
        `ValueError` for a negative `num_timesteps` or `duration`, or an input that ends at or before `t`.
        """
        if duration is not None:
            duration = _timebase.seconds("duration", duration)
            if duration < 0:
                raise ValueError(f"{self.full_name}: `duration` must be >= 0 (s); got {duration}.")
        if num_timesteps is not None:
            return _timebase.checked_steps(_timebase.count("num_timesteps", num_timesteps), "`num_timesteps`")
        if duration is None:
            if ts_input is None:
                raise TypeError(
                    f"{self.full_name}: give `ts_input`, `duration` or `num_timesteps`: without an input "
                    "the evolution has no length."
                )
            if not isinstance(ts_input, (TSContinuous, TSEvent)):
                raise TypeError(
                    f"{self.full_name}: `ts_input` must be a TSContinuous, a TSEvent or None; "
                    f"got {type(ts_input).__name__}."
                )
            if ts_input.periodic:
                duration = ts_input.duration
            else:
                duration = ts_input.t_stop - self.t
                if duration <= 0:
                    raise ValueError(
                        f"{self.full_name}: `ts_input` ends at t = {ts_input.t_stop} s, at or before the "
                        f"layer's time t = {self.t} s; give `duration` with a periodic series, or call "
                        "`reset_time()`."
                    )
        return _timebase.num_steps(duration, self._dt)

    # ------------------------------------------------------------------------------------------------ input
    def _prepare_input(self, ts_input=None, duration=None, num_timesteps=None):
        """Check the input and sample it on the layer's time base.

        **Arguments:** `ts_input`: a `(T, N_in)` [`jaxiaf.TSContinuous`][] of input currents (A), or None
        for zero input; `duration` (s) and `num_timesteps` as `_determine_timesteps`.

        **Returns:** `(time_base, input_raster, num_timesteps)`: the `(T,)` sample times (s), the `(T, N_in)`
        input sampled there, and `T`.

        **Raises:** `TypeError` for an input that is not a `TSContinuous` (a `TSEvent`, say); otherwise as
        `_prepare_input_continuous`.
        """
        if ts_input is not None and not isinstance(ts_input, self.input_type):
            raise TypeError(
                f"{self.full_name}: `ts_input` must be a {self.input_type.__name__} of input currents (A) "
                f"or None; got {type(ts_input).__name__}. This layer takes continuous input "
                "(`spiking_input` is False)."
            )
        return self._prepare_input_continuous(ts_input, duration, num_timesteps)

    def _prepare_input_continuous(self, ts_input=None, duration=None, num_timesteps=None):
        """Sample a continuous input series at `t + k*dt`, k = 0..T-1, with its own interpolation.

        A `"previous"` series is read 1e-6 dt after each step time (but not after its `t_stop`): a sample
        whose time was meant to fall on the step time but rounds to just after it (as in a clocked series
        that starts at -0.01 s, or in a periodic series wrapped into its period) is then the one in force
        for that step, not its predecessor. A `"linear"` series is read at the step times exactly.

        **Arguments:** `ts_input`: a [`jaxiaf.TSContinuous`][] with N_in channels, or None for zero input;
        `duration` (s) and `num_timesteps` as `_determine_timesteps`.

        **Returns:** `(time_base, input_raster, num_timesteps)`: `(T,)` times (s), `(T, N_in)` samples, `T`.

        **Raises:** `TypeError` if `ts_input` is not a `TSContinuous`; `ValueError` if its channel count is
        not N_in (a 1-channel series is not broadcast: repeat its samples to N_in channels), if it does not
        cover every sample time (unless periodic), or if a sample is NaN or infinite.
        """
        if ts_input is not None and not isinstance(ts_input, TSContinuous):
            raise TypeError(
                f"{self.full_name}: `ts_input` must be a TSContinuous or None; got {type(ts_input).__name__}."
            )
        num_timesteps = self._determine_timesteps(ts_input, duration, num_timesteps)
        time_base = self._gen_time_trace(self.t, num_timesteps)
        if ts_input is None:
            return time_base, np.zeros((num_timesteps, self.size_in)), num_timesteps
        if ts_input.num_channels != self.size_in:
            raise ValueError(
                f"{self.full_name}: `ts_input` has {ts_input.num_channels} channel(s) but the layer has "
                f"N_in = {self.size_in} inputs (weights {self.shape}); a 1-channel series is not broadcast."
            )
        if num_timesteps and not ts_input.contains(time_base):
            raise ValueError(
                f"{self.full_name}: `ts_input` covers t = [{ts_input.t_start}, {ts_input.t_stop}] s, but the "
                f"evolution samples it at t = {time_base[0]} .. {time_base[-1]} s: the input ends before the "
                "evolution does (or starts after it). Give a shorter `duration` or a periodic series."
            )
        sample_times = time_base
        if ts_input.interp_kind == "previous":
            sample_times = _timebase.previous_sample_times(
                time_base, self._dt, ts_input.t_stop, ts_input.periodic
            )
        input_raster = ts_input(sample_times)
        if np.iscomplexobj(input_raster):
            raise TypeError(f"{self.full_name}: `ts_input` must hold real currents (A); got complex samples.")
        largest = float(np.finfo(self._module.params.weights.dtype).max)
        too_large = np.isfinite(input_raster) & (np.abs(input_raster) > largest)
        if too_large.any():
            raise ValueError(
                f"{self.full_name}: `ts_input` gives {float(input_raster[too_large].ravel()[0])!r} at "
                f"t = {time_base[too_large.any(axis=1)][0]} s, beyond the layer's float dtype "
                f"({self._module.params.weights.dtype}, max {largest:.3g}); switch on `jax_enable_x64` "
                "before building the layer for float64, or scale the input."
            )
        finite = np.isfinite(input_raster).all(axis=1)
        if not finite.all():
            raise ValueError(
                f"{self.full_name}: `ts_input` gives NaN or inf at t = {time_base[~finite][0]} s; the input "
                "must be finite at every sample time."
            )
        return time_base, input_raster, num_timesteps

    def _prepare_input_events(
        self, ts_input=None, duration=None, num_timesteps=None, add_events: bool = False
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """Sample a `TSEvent` onto the layer's time base as a raster (the page's spiking-input path; this
        layer's own `evolve` takes currents, so only a caller that wants a raster uses it).

        Bin k covers `[t + k*dt, t + (k+1)*dt)` from the layer's time `t`; an event goes to the bin
        `floor((time - t) / dt + 1e-6)` (see [`jaxiaf.TSEvent.raster`][]); events outside the T bins are
        left out; a periodic series repeats.

        **Arguments:** `ts_input`: a [`jaxiaf.TSEvent`][] with N_in channels, or None for no events;
        `duration` (s) and `num_timesteps` as `_determine_timesteps`; `add_events`: count the events per
        bin (int) instead of flagging them (bool).

        **Returns:** `(time_base, spike_raster, num_timesteps)`: `(T,)` bin start times (s), the
        `(T, N_in)` bool (or int) raster, and `T`.

        **Raises:** `TypeError` if `ts_input` is not a `TSEvent` or None; `ValueError` if its channel count
        is not N_in; otherwise as `_determine_timesteps`.
        """
        if ts_input is not None and not isinstance(ts_input, TSEvent):
            raise TypeError(
                f"{self.full_name}: `ts_input` must be a TSEvent or None; got {type(ts_input).__name__}."
            )
        num_timesteps = self._determine_timesteps(ts_input, duration, num_timesteps)
        time_base = self._gen_time_trace(self.t, num_timesteps)
        if ts_input is None:
            dtype = np.int64 if add_events else bool
            return time_base, np.zeros((num_timesteps, self.size_in), dtype), num_timesteps
        if ts_input.num_channels != self.size_in:
            raise ValueError(
                f"{self.full_name}: `ts_input` has {ts_input.num_channels} channel(s) but the layer has "
                f"N_in = {self.size_in} inputs (weights {self.shape})."
            )
        raster = ts_input.raster(self._dt, t_start=self.t, num_timesteps=num_timesteps, add_events=add_events)
        return time_base, raster, num_timesteps

    # --------------------------------------------------------------------------------------------- evolve
    def evolve(
        self,
        ts_input: TSContinuous | None = None,
        duration: float | None = None,
        num_timesteps: int | None = None,
        kwargs_timeseries: dict | None = None,
        record: bool = False,
    ) -> tuple[TSEvent, dict, dict]:
        """Evolve the layer over an input series; pure: the layer itself is unchanged.

        The number of steps T is `num_timesteps`, else `duration` (floored, see `_determine_timesteps`),
        else up to the end of `ts_input` (one period if it is periodic). Step k receives the input
        sampled at `t + k*dt` (from the integer step count) with the series' own interpolation (see
        `_prepare_input_continuous`), held over the step; `weights` map it to currents and the functional
        module evolves.

        **Arguments:**

        - `ts_input`: `(T, N_in)` [`jaxiaf.TSContinuous`][] of input currents (A), or None for zero input.
        - `duration`: duration (s), >= 0.
        - `num_timesteps`: number of steps, an integer >= 0.
        - `kwargs_timeseries`: dict of keyword arguments for the output series (see `_gen_tsevent`).
        - `record`: also return the membrane potential and spikes (always, if the layer was built with
          `record=True`).

        **Returns:** `(output, new_state, record)`: `output` a [`jaxiaf.TSEvent`][] with N channels, spikes
        at mid-bin `t0 + (k + 0.5) * dt`, `t_start = t0` (the layer's `t`) and `t_stop = t0 + T*dt`;
        `new_state` the state dict (`v`, `since_spike`, `key`, `step`) to give to `set_attributes`;
        `record` `{"v": TSContinuous (T, N) in V, "spikes": TSEvent}` or `{}`.

        **Raises:** `TypeError` if no input, duration or step count is given, for a `TSEvent` input or a
        non-integer `num_timesteps`; `ValueError` for a negative `duration` or `num_timesteps`, a wrong
        channel count, an input that ends before the evolution does (unless periodic), or NaN/inf samples.
        """
        if kwargs_timeseries is not None and not isinstance(kwargs_timeseries, dict):
            raise TypeError(
                f"`kwargs_timeseries` must be a dict or None; got {type(kwargs_timeseries).__name__}."
            )
        _, input_raster, _ = self._prepare_input(ts_input, duration, num_timesteps)
        spikes, new_state, recorded = self._module(input_raster, record=bool(record) or self._record)
        output = self._gen_timeseries(np.asarray(spikes), **(kwargs_timeseries or {}))
        return output, new_state.named(), self._wrap_recorded_state(recorded, self.t)

    __call__ = evolve

    def set_attributes(
        self, new_attributes: "dict | Parameters | SimulationParameters | State"
    ) -> "FFIAFBrian":
        """Set attributes of this layer (and of registered sub-modules), in place.

        `mod = mod.set_attributes(new_state)` after `_, new_state, _ = mod(ts)` advances the layer (its
        `t`); `mod.set_attributes(mod.parameters())` and `mod.set_attributes(mod.simulation_parameters())`
        are no-ops. All values are checked before any is set.

        **Arguments:** `new_attributes`: a dict with any of the keys of `parameters()`,
        `simulation_parameters()` and `state()` (and a nested dict per registered sub-module), or a
        [`jaxiaf.Parameters`][] / [`jaxiaf.SimulationParameters`][] / [`jaxiaf.State`][].

        **Returns:** this layer (the same object, updated).

        **Raises:** `TypeError` for a non-dict; `ValueError` for an unknown name, a bad shape or value, or
        a new `dt` while `t != 0` (call `reset_time()` first: `t = step * dt` would jump).
        """
        new_attributes = as_attributes(new_attributes, self._module.sim.model)
        if not isinstance(new_attributes, dict):
            raise TypeError(f"`new_attributes` must be a dict; got {type(new_attributes).__name__}.")
        own = {k: v for k, v in new_attributes.items() if k not in self._submodules}
        module = self._module.set_attributes(own)  # `dt` changes only at t = 0 (the rule of FFIAF)
        dt = _timebase.seconds("dt", own["dt"]) if "dt" in own else self._dt
        submodules = dict(self._submodules)
        for name in set(new_attributes) & set(submodules):
            if not isinstance(new_attributes[name], dict):
                raise TypeError(f"The attributes of sub-module {name!r} must be a dict.")
            updated = submodules[name].set_attributes(new_attributes[name])
            submodules[name] = submodules[name] if updated is None else updated
        self._module, self._dt, self._submodules = module, dt, submodules
        return self

    # ----------------------------------------------------------------------------------------------- resets
    def reset_state(self) -> "FFIAFBrian":
        """Reset the state in place: `v = v_rest`, no neuron refractory (`t` and the noise key are kept).

        **Returns:** this layer.
        """
        self._module = self._module.reset_state()
        self._reset_submodules("reset_state")
        return self

    def reset_time(self) -> "FFIAFBrian":
        """Reset the clock in place: `t = 0` (the step count is 0; `v` is kept).

        **Returns:** this layer.
        """
        self._module = self._module.reset_time()
        self._reset_submodules("reset_time")
        return self

    def reset_all(self) -> "FFIAFBrian":
        """Reset state and time in place: evolving again repeats the first evolution exactly.

        **Returns:** this layer.
        """
        return self.reset_state().reset_time()

    def reset_parameters(self) -> "FFIAFBrian":
        """Restore the parameters given at construction (or to `_register_attribute`), in place: those
        of `parameters()`, e.g. `weights`, `bias`, `tau_mem`, `v_thresh`, `v_reset`, `v_rest` for the
        default equations (simulation parameters and state are kept).

        **Returns:** this layer.
        """
        self.set_attributes({name: self._initial[name] for name in self._own_attributes("Parameter")})
        self._reset_submodules("reset_parameters")
        return self

    def __repr__(self) -> str:
        return f"{self.full_name} with shape {self.shape}, t = {self.t} s"
