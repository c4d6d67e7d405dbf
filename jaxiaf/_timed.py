"""`FFIAFBrian`: Rockpool's timed layer (TimeSeries in, TimeSeries out) over the functional `FFIAF`.

The layer is a thin mutable shell around an immutable [`jaxiaf.FFIAF`][]: `evolve` samples the input
series onto the dt grid, calls the functional module (which calls the core), and wraps the spikes as a
`TSEvent`. It never re-implements the update, the threshold, the reset or the noise.
"""

import operator
import warnings
from typing import Any, NamedTuple

import numpy as np

from . import _convert
from ._equations import check_neuron_eq
from ._graph import GraphHolder, layer_graph
from ._module import FFIAF, PARAMETER_FAMILIES, SIMULATION_FAMILIES, STATE_FAMILIES
from ._pytrees import Parameters, SimulationParameters, State
from ._timeseries import TSContinuous, TSEvent

_STEP_TOL = 1e-6
"""Tolerance, in steps of dt, when a time or a duration is turned into a whole number of steps."""

_FAMILIES = {
    "Parameter": PARAMETER_FAMILIES,
    "SimulationParameter": SIMULATION_FAMILIES,
    "State": STATE_FAMILIES,
}
_GETTERS = {"Parameter": "parameters", "SimulationParameter": "simulation_parameters", "State": "state"}
_REGISTERED = {**PARAMETER_FAMILIES, **SIMULATION_FAMILIES, **STATE_FAMILIES}
_SUBMODULE_METHODS = (
    "parameters",
    "simulation_parameters",
    "state",
    "attributes_named",
    "set_attributes",
    "reset_state",
    "reset_time",
    "reset_parameters",
)


def _seconds(name: str, value) -> float:
    """`value` (s, or a Brian2 quantity of time) as a finite Python float; `ValueError`/`TypeError` naming
    `name` otherwise."""
    value = _convert._strip_unit(name, value, "s")
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a number of seconds; got {value!r}.") from None
    if array.shape not in ((), (1,)) or not np.isfinite(array).all():
        raise ValueError(f"`{name}` must be a finite scalar number of seconds; got {value!r}.")
    return float(array.reshape(()))


def _steps(name: str, value) -> int:
    """`value` as a Python int >= 0; `TypeError` if it is not an integer, `ValueError` if negative."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be an integer >= 0 (a number of steps of dt); got {value!r}.")
    try:
        count = operator.index(value)
    except TypeError:
        raise TypeError(
            f"`{name}` must be an integer >= 0 (a number of steps of dt); got {value!r} "
            f"({type(value).__name__})."
        ) from None
    if count < 0:
        raise ValueError(f"`{name}` must be an integer >= 0 (a number of steps of dt); got {count}.")
    return count


class RegisteredAttribute(NamedTuple):
    """One entry of [`jaxiaf.FFIAFBrian._get_attribute_registry`][].

    - `value`: the current value.
    - `type_name`: `"Parameter"`, `"SimulationParameter"` or `"State"`.
    - `family`: its family (`"weights"`, `"biases"`, `"taus"`, `"voltages"`, `"time"`, ...).
    - `initial`: the value `_reset_attribute` restores.
    - `shape`: the shape of `value`.
    """

    value: Any
    type_name: str
    family: str
    initial: Any
    shape: tuple


class _Registered:
    """`mod.<name>` reads the registered attribute `<name>`; assigning to it calls `set_attributes`."""

    def __init__(self, doc: str):
        self.__doc__ = doc

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        return obj._values()[self.name]

    def __set__(self, obj, value):
        obj.set_attributes({self.name: value})


class FFIAFBrian:
    """A spiking feedforward layer of IAF neurons: continuous currents in (`TSContinuous`), spikes out
    (`TSEvent`). The interface of Rockpool's `nn.layers.FFIAFBrian`, computed by [`jaxiaf.FFIAF`][].

    `dv/dt = (v_rest - v + r_m * (I_in(t) + bias)) / tau_mem`, `r_m` = 1 ohm; the input of step k is the
    input series sampled at `t + k*dt`, held over the step; a spike when `v > v_thresh`, then
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
    - `neuron_eq`: `None` or the default IAF equations (`jaxiaf.DEFAULT_NEURON_EQ`, Rockpool's
      `eqNeuronIAFFF`), as a Brian2 `Equations` or a string. Others are not supported yet.
    - `integrator_name`: `"rk4"` (default), `"rk2"`, `"euler"`, `"exponential_euler"` or `"exact"` (alias
      `"linear"`).
    - `name`: a name for the layer. Default `"unnamed"`.
    - `record`: if True, every evolution returns the record (as if called with `record=True`).
    - `key`: keyword-only PRNG key of the noise (default `jax.random.key(0)`).

    **Raises:** `ValueError` for an unsupported `neuron_eq`, and as [`jaxiaf.FFIAF`][] for a bad value,
    shape or integrator; `TypeError` for a non-number.
    """

    _spiking_input: bool = False
    """Whether this module receives spiking input: False, it takes currents."""
    _spiking_output: bool = True
    """Whether this module produces spiking output: True."""
    _is_child: bool = False
    """Whether this module is a sub-module of another: a layer is built on its own, so False."""
    _parent_dt_factor: float = 1.0
    """`dt` of this layer over `dt` of its parent: 1.0 (it has no parent)."""
    _in_Module_init: bool = False
    """True while `__init__` runs; always False on a built layer."""
    _force_set_attributes: bool = False
    """Rockpool's switch to skip checks in `set_attributes`: False, values are always checked here."""
    _TimedModule__in_TimedModule_init: bool = False
    """Rockpool's `__in_TimedModule_init` (name-mangled as there): True while a TimedModule tree is being
    built; always False on a built layer."""

    weights = _Registered("(N_in, N) input weights (dimensionless).")
    bias = _Registered("(N,) bias current (A).")
    tau_mem = _Registered("(N,) membrane time constants (s).")
    v_thresh = _Registered("(N,) thresholds (V).")
    v_reset = _Registered("(N,) reset potentials (V).")
    v_rest = _Registered("(N,) resting potentials (V).")
    noise_std = _Registered("(N,) stationary std of v due to the noise alone (V).")
    refractory = _Registered("Refractory period (s), () or (N,).")
    integrator_name = _Registered("Name of the integrator.")
    v = _Registered("(N,) membrane potential (V).")
    since_spike = _Registered("(N,) steps since each neuron's last spike (int).")
    key = _Registered("PRNG key of the noise.")
    step = _Registered("() number of steps evolved so far (int); `t = step * dt`.")

    def __init__(
        self,
        weights,
        bias=10e-3,
        dt=0.1e-3,
        noise_std=0,
        tau_mem=20e-3,
        v_thresh=-55e-3,
        v_reset=-65e-3,
        v_rest=-65e-3,
        refractory=0,
        neuron_eq=None,
        integrator_name: str = "rk4",
        name: str = "unnamed",
        record: bool = False,
        *,
        key=None,
    ):
        check_neuron_eq(neuron_eq)
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
        )
        self._dt = _seconds("dt", dt)
        self._record = bool(record)
        self._initial = {**self._module.parameters(), **self._module.simulation_parameters()}
        self._submodules: dict = {}

    # ----------------------------------------------------------------------------------------- names, shape
    @property
    def class_name(self) -> str:
        """Class name of `self`: `"FFIAFBrian"`."""
        return type(self).__name__

    @property
    def name(self) -> str:
        """The name of this layer, or an empty string if it has none."""
        return self._module.name

    _name = name

    @property
    def full_name(self) -> str:
        """The class name and the quoted layer name, e.g. `"FFIAFBrian 'unnamed'"`."""
        return f"{self.class_name} '{self.name}'" if self.name else self.class_name

    @property
    def shape(self) -> tuple:
        """`(N_in, N)`."""
        return self._module.shape

    _shape = shape

    @property
    def size(self) -> int:
        """(DEPRECATED: use `size_out`) N, the number of neurons. Warns `DeprecationWarning`."""
        warnings.warn(
            "The `size` property is deprecated. Please use `size_out` instead.", DeprecationWarning, 2
        )
        return self.size_out

    @property
    def size_in(self) -> int:
        """N_in, the number of input channels."""
        return self.shape[0]

    @property
    def size_out(self) -> int:
        """N, the number of neurons (output channels)."""
        return self.shape[1]

    @property
    def spiking_input(self) -> bool:
        """False: this layer takes continuous currents."""
        return self._spiking_input

    @property
    def spiking_output(self) -> bool:
        """True: this layer sends spikes."""
        return self._spiking_output

    @property
    def input_type(self) -> type:
        """The TimeSeries class accepted: [`jaxiaf.TSContinuous`][]."""
        return TSEvent if self.spiking_input else TSContinuous

    @property
    def output_type(self) -> type:
        """The TimeSeries class returned: [`jaxiaf.TSEvent`][]."""
        return TSEvent if self.spiking_output else TSContinuous

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
        """Times `t_start + k * dt` (s) of the (float) step offsets `k`.

        A start on the dt grid (a whole number `k0` of steps, within 1e-6 step), such as the layer's own
        `t`, gives `(k0 + k) * dt`: every time then follows from an integer step count, so evolving in
        chunks samples the input and stamps the spikes at exactly the times of one long evolution.
        """
        dt = self._dt if dt is None else _seconds("dt", dt)
        if dt <= 0:
            raise ValueError(f"`dt` must be > 0 (s); got {dt}.")
        t_start = self.t if t_start is None else _seconds("t_start", t_start)
        first = round(t_start / dt)
        if abs(t_start / dt - first) <= _STEP_TOL:
            return (first + np.asarray(k, dtype=np.float64)) * dt
        return t_start + np.asarray(k, dtype=np.float64) * dt

    def _gen_time_trace(self, t_start: float, num_timesteps: int) -> np.ndarray:
        """The time base of an evolution: `num_timesteps` times from `t_start`, `dt` apart.

        **Arguments:** `t_start` (s); `num_timesteps`: an integer >= 0.

        **Returns:** `(num_timesteps,)` float64 times (s): `(k0 + k) * dt` when `t_start = k0 * dt` is on
        the dt grid (as the layer's `t` always is), else `t_start + k * dt`.
        """
        count = _steps("num_timesteps", num_timesteps)
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
            duration = _seconds("duration", duration)
            if duration < 0:
                raise ValueError(f"{self.full_name}: `duration` must be >= 0 (s); got {duration}.")
        if num_timesteps is not None:
            return _steps("num_timesteps", num_timesteps)
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
        return int(np.floor(duration / self._dt + _STEP_TOL))

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
            sample_times = time_base + _STEP_TOL * self._dt
            if not ts_input.periodic:
                sample_times = np.minimum(sample_times, ts_input.t_stop)
        input_raster = ts_input(sample_times)
        finite = np.isfinite(input_raster).all(axis=1)
        if not finite.all():
            raise ValueError(
                f"{self.full_name}: `ts_input` gives NaN or inf at t = {time_base[~finite][0]} s; the input "
                "must be finite at every sample time."
            )
        return time_base, input_raster, num_timesteps

    def _prepare_input_events(self, ts_input=None, duration=None, num_timesteps=None, add_events=False):
        """Rasterise an event series on the layer's time base (for spiking inputs; this layer's own input
        is continuous, see `_prepare_input`).

        **Arguments:** `ts_input`: a [`jaxiaf.TSEvent`][] with at most N_in channels, or None;
        `duration` (s) and `num_timesteps` as `_determine_timesteps`; `add_events`: count the events per
        bin instead of flagging them.

        **Returns:** `(time_base, spike_raster, num_timesteps)`: `(T,)` times (s), `(T, N_in)` raster (bool,
        or int counts with `add_events`), `T`. Bin k holds the events in `[t + k*dt, t + (k+1)*dt)`.

        **Raises:** `TypeError` if `ts_input` is not a `TSEvent`; `ValueError` if it has more than N_in
        channels.
        """
        if ts_input is not None and not isinstance(ts_input, TSEvent):
            raise TypeError(
                f"{self.full_name}: `ts_input` must be a TSEvent or None; got {type(ts_input).__name__}."
            )
        num_timesteps = self._determine_timesteps(ts_input, duration, num_timesteps)
        time_base = self._gen_time_trace(self.t, num_timesteps)
        dtype = np.int64 if add_events else bool
        if ts_input is None:
            return time_base, np.zeros((num_timesteps, self.size_in), dtype), num_timesteps
        if ts_input.num_channels > self.size_in:
            raise ValueError(
                f"{self.full_name}: `ts_input` has {ts_input.num_channels} channels; the layer has "
                f"N_in = {self.size_in} inputs."
            )
        raster = ts_input.raster(self._dt, t_start=self.t, num_timesteps=num_timesteps, add_events=add_events)
        raster = np.pad(raster, ((0, 0), (0, self.size_in - raster.shape[1])))
        return time_base, raster.astype(dtype), num_timesteps

    # ----------------------------------------------------------------------------------------------- output
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
        (`interp_kind="previous"`); the spikes as `_gen_tsevent` places them. Other entries pass unchanged.
        """
        wrapped = dict(recorded_dict)
        if "v" in wrapped:
            name = f"Membrane potential '{self.name}'" if self.name else "Membrane potential"
            wrapped["v"] = self._gen_tscontinuous(np.asarray(wrapped["v"]), t_start=t_start, name=name)
        if "spikes" in wrapped:
            wrapped["spikes"] = self._gen_tsevent(np.asarray(wrapped["spikes"]), t_start=t_start)
        return wrapped

    # --------------------------------------------------------------------------------------------- evolve
    def evolve(self, ts_input=None, duration=None, num_timesteps=None, kwargs_timeseries=None, record=False):
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
        return output, new_state, self._wrap_recorded_state(recorded, self.t)

    __call__ = evolve

    def _evolve_wrapper(
        self, ts_input=None, duration=None, num_timesteps=None, kwargs_timeseries=None, record=False
    ):
        """Rockpool's stateful evolution: `evolve`, then `set_attributes(new_state)` on this layer.

        **Arguments** and **Returns:** as `evolve`; afterwards the layer's state and `t` have advanced.
        """
        output, new_state, recorded = self.evolve(
            ts_input, duration, num_timesteps, kwargs_timeseries, record
        )
        self.set_attributes(new_state)
        return output, new_state, recorded

    # ------------------------------------------------------------------------------------------- attributes
    def _values(self) -> dict:
        module = self._module
        return {**module.parameters(), **module.simulation_parameters(), **module.state()}

    def _get_attribute_family(self, type_name: str, family=None) -> dict:
        """The attributes of one type, optionally of some families, of this layer and its sub-modules.

        **Arguments:** `type_name`: `"Parameter"`, `"SimulationParameter"` or `"State"`; `family`: a
        family name or a list/tuple of them (`"weights"`, `"biases"`, `"taus"`, `"voltages"` for
        parameters; `"time"`, `"noise"`, `"integrator"` for simulation parameters; `"voltages"`,
        `"refractory"`, `"random"`, `"time"` for the state), or None for all.

        **Returns:** `{name: value}`, with a nested dict per registered sub-module (left out when a family
        is given and it has no match).

        **Raises:** `ValueError` for an unknown `type_name`.
        """
        if type_name not in _GETTERS:
            raise ValueError(f"`type_name` must be one of {list(_GETTERS)}; got {type_name!r}.")
        found = getattr(self._module, _GETTERS[type_name])(family)
        for name, submodule in self._submodules.items():
            values = getattr(submodule, _GETTERS[type_name])(family)
            if values or family is None:
                found[name] = values
        return found

    def parameters(self, family=None) -> dict:
        """The parameters `weights`, `bias` (A), `tau_mem` (s), `v_thresh`, `v_reset`, `v_rest` (V), as
        `{name: array}`; `family`: `"weights"`, `"biases"`, `"taus"`, `"voltages"` or a list of them."""
        return self._get_attribute_family("Parameter", family)

    def simulation_parameters(self, family=None) -> dict:
        """The simulation parameters `dt` (s), `noise_std` (V), `refractory` (s), `integrator_name`;
        `family`: `"time"`, `"noise"`, `"integrator"` or a list of them."""
        return self._get_attribute_family("SimulationParameter", family)

    def state(self, family=None) -> dict:
        """The state `v` (V), `since_spike` (steps), `key`, `step` (`t = step * dt`); `family`:
        `"voltages"`, `"refractory"`, `"random"`, `"time"` or a list of them."""
        return self._get_attribute_family("State", family)

    def attributes_named(self, name) -> dict:
        """Attributes of this layer and its sub-modules called `name` (a string or a list/tuple of them).

        **Returns:** `{name: value}`, with a nested dict for each sub-module that has a match.
        """
        names = [name] if isinstance(name, str) else list(name)
        found = self._module.attributes_named(names)
        for key, submodule in self._submodules.items():
            values = submodule.attributes_named(names)
            if values:
                found[key] = values
        return found

    def modules(self) -> dict:
        """The sub-modules registered with `_register_module`, by name (none unless registered)."""
        return dict(self._submodules)

    @property
    def _submodulenames(self) -> list:
        """The names of the registered sub-modules."""
        return list(self._submodules)

    def _get_attribute_registry(self) -> tuple:
        """The attribute and module registries.

        **Returns:** `(registered_attributes, registered_modules)`: `{name: RegisteredAttribute(value,
        type_name, family, initial, shape)}` for every parameter, simulation parameter and state entry (a
        snapshot), and `{name: module}` for the registered sub-modules.
        """
        initial = self._initial_values()
        attributes = {}
        for type_name, families in _FAMILIES.items():
            for name, value in getattr(self._module, _GETTERS[type_name])().items():
                attributes[name] = RegisteredAttribute(
                    value, type_name, families[name], initial[name], np.shape(value)
                )
        return attributes, dict(self._submodules)

    def _has_registered_attribute(self, name: str) -> bool:
        """Whether `name` is a registered attribute (a parameter, simulation parameter or state entry)."""
        return name in _REGISTERED

    def _initial_values(self) -> dict:
        """The values `_reset_attribute` restores: the state as `reset_all` leaves it, and the
        parameters and simulation parameters given at construction (or to `_register_attribute`)."""
        return {**self._module.reset_all().state(), **self._initial}

    def _register_attribute(self, name: str, val) -> None:
        """Set a registered attribute and make `val` its initial value.

        The attributes are fixed by the functional module's pytrees; this sets one of them. For a
        parameter or simulation parameter, `val` also becomes the value that `_reset_attribute` and
        `reset_parameters` restore; a state entry's reset value is always the one `reset_state` /
        `reset_time` give.

        **Arguments:** `name`: one of the names in `_get_attribute_registry()[0]`; `val`: its new value.

        **Raises:** `ValueError` for another name, or as `set_attributes` for a bad value.
        """
        if not self._has_registered_attribute(name):
            raise ValueError(
                f"{self.full_name}: cannot register {name!r}: the attributes of this layer are those of its "
                f"functional FFIAF, {sorted(_REGISTERED)}."
            )
        self.set_attributes({name: val})
        if name in self._initial:
            self._initial[name] = self._values()[name]

    def _register_module(self, name: str, mod) -> None:
        """Register a sub-module: it then appears in `modules()`, in `parameters()` / `state()` / ... as a
        nested dict, and `set_attributes` and the `reset_*` methods reach it. It does not take part in
        `evolve`: this layer's data path is its own weights and neurons.

        **Arguments:** `name`: an identifier, not one of the layer's attribute names; `mod`: a module
        with the methods `parameters`, `simulation_parameters`, `state`, `attributes_named`,
        `set_attributes`, `reset_state`, `reset_time` and `reset_parameters` (an `FFIAF`, an `FFIAFBrian`).

        **Raises:** `ValueError` for a bad name, `TypeError` for an object that is not a module.
        """
        if not isinstance(name, str) or not name.isidentifier() or name in _REGISTERED:
            raise ValueError(
                f"`name` must be an identifier other than the layer's attribute names; got {name!r}."
            )
        missing = [m for m in _SUBMODULE_METHODS if not callable(getattr(mod, m, None))]
        if missing:
            raise TypeError(f"`mod` must be a module; a {type(mod).__name__} has no {missing}.")
        self._submodules[name] = mod

    def _reset_attribute(self, name: str) -> "FFIAFBrian":
        """Reset one attribute to its initial value, in place: a parameter or simulation parameter to its
        constructor value (or the value given to `_register_attribute`); `v` to `v_rest`, `since_spike`
        to "never spiked", `step` to 0; `key` keeps its value.

        **Returns:** this layer.

        **Raises:** `KeyError` if `name` is not a registered attribute.
        """
        if not self._has_registered_attribute(name):
            raise KeyError(f"{name!r} is not a registered attribute of {self.full_name}.")
        return self.set_attributes({name: self._initial_values()[name]})

    def set_attributes(self, new_attributes) -> "FFIAFBrian":
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
        if isinstance(new_attributes, (Parameters, SimulationParameters, State)):
            new_attributes = {k: getattr(new_attributes, k) for k in type(new_attributes).__annotations__}
        if not isinstance(new_attributes, dict):
            raise TypeError(f"`new_attributes` must be a dict; got {type(new_attributes).__name__}.")
        own = {k: v for k, v in new_attributes.items() if k not in self._submodules}
        module = self._module.set_attributes(own)
        dt = self._dt
        if "dt" in own and bool(module.dt != self._module.dt):
            if int(module.neuron_state.step) != 0:
                raise ValueError(
                    f"{self.full_name}: `dt` can change only at t = 0 (t = step * dt would jump); "
                    "call `reset_time()` first."
                )
            dt = _seconds("dt", own["dt"])
        submodules = dict(self._submodules)
        for name in set(new_attributes) & set(submodules):
            if not isinstance(new_attributes[name], dict):
                raise TypeError(f"The attributes of sub-module {name!r} must be a dict.")
            updated = submodules[name].set_attributes(new_attributes[name])
            submodules[name] = submodules[name] if updated is None else updated
        self._module, self._dt, self._submodules = module, dt, submodules
        return self

    # ----------------------------------------------------------------------------------------------- resets
    def _reset_submodules(self, method: str) -> None:
        for name, submodule in self._submodules.items():
            updated = getattr(submodule, method)()
            self._submodules[name] = submodule if updated is None else updated

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
        """Restore the parameters (`weights`, `bias`, `tau_mem`, `v_thresh`, `v_reset`, `v_rest`) given at
        construction, in place (simulation parameters and state are kept).

        **Returns:** this layer.
        """
        self.set_attributes({name: self._initial[name] for name in PARAMETER_FAMILIES})
        self._reset_submodules("reset_parameters")
        return self

    # -------------------------------------------------------------------------------------- graph, clock
    def _set_dt(self, max_factor: float = 100) -> None:
        """Set the network time step to the least common multiple of the modules' `dt`s, at most
        `max_factor` times the largest. This layer has one clock, evolved by itself, so its `dt` is that
        multiple and is left as it is.

        **Raises:** `ValueError` if `max_factor < 1` (no common step could then be found).
        """
        if not max_factor >= 1:
            raise ValueError(f"`max_factor` must be >= 1; got {max_factor!r}.")

    def as_graph(self) -> GraphHolder:
        """The layer as a computational graph: a [`jaxiaf.LinearWeights`][] node (the weights) feeding an
        [`jaxiaf.IAFNeurons`][] node that carries every neuron parameter.

        **Returns:** a [`jaxiaf.GraphHolder`][] named after the layer, with `modules == (weights,
        neurons)`, N_in input nodes and N output nodes; values are NumPy copies in SI units.
        """
        return layer_graph(self.name or self.class_name, self.parameters(), self.simulation_parameters())

    def __repr__(self) -> str:
        return f"{self.full_name} with shape {self.shape}, t = {self.t} s"
