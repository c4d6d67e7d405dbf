"""Rockpool's timed IAF layers with exponential synaptic currents: spiking input
([`jaxiaf.FFIAFSpkInBrian`][]), recurrent weights ([`jaxiaf.RecIAFBrian`][]) and both
([`jaxiaf.RecIAFSpkInBrian`][]).

Each is a thin shell, as [`jaxiaf.FFIAFBrian`][], over a functional [`jaxiaf.FFIAF`][] with Rockpool's
equations (`jaxiaf._rockpool.synaptic_equations`) and the weight matrices of its synapses; `evolve` calls
[`jaxiaf.synapses.run`][], which runs the one `lax.scan` of the core with Brian2's synaptic events. Nothing
here updates, thresholds or resets a neuron.
"""

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike

from .._core import convert as _convert
from .._core.defaults import DEFAULTS
from .._core.synapses import Synapses
from .._layer import FFIAF, as_attributes, family
from .._spiking import run
from . import synaptic_equations as _eqs
from . import timebase as _timebase
from .surface import Registered
from .timed import FFIAFBrian

_FAMILIES = {"tau_syn": "taus", "tau_syn_r": "taus", "tau_syn_inp": "taus", "tau_syn_rec": "taus"}
"""The family of the synaptic time constants; the weight matrices are `"weights"` (`_Synaptic._family`)."""
_HIDDEN = ("weights", "r_m")
"""The functional module's names these layers do not show: its current weights (none, or the identity of
`RecIAFBrian`'s direct input) and `r_m`, 1 ohm as in Rockpool's layers."""


class _Synaptic(FFIAFBrian):
    """The shared shell. A subclass sets `_EQUATIONS`, `_ALIASES` (Rockpool's attribute name: the
    equations' name), `_SYNAPSES` (`(weight name, pathway, on_pre)` per synapse group, pathway
    `"feedforward"` or `"recurrent"`) and `_spiking_input`."""

    _EQUATIONS: str
    _ALIASES: dict
    _SYNAPSES: tuple

    def _build(self, weights: dict, page: dict, dt, noise_std, refractory, neuron_eq, integrator_name, name,
               record, key) -> None:  # fmt: skip
        if neuron_eq is not None:
            raise ValueError(
                f"{type(self).__name__}: `neuron_eq` must be None (Rockpool's equations); for other "
                "equations use `jaxiaf.FFIAF(neuron_eq=...)` with `jaxiaf.synapses.run`."
            )
        if np.any(np.asarray(_convert.as_float("noise_std", noise_std, "V")) != 0):
            raise ValueError(
                f"{type(self).__name__}: `noise_std` must be 0; noise is not supported on the synaptic "
                "layers yet (Rockpool's own noise there is an undocumented current)."
            )
        synaptic = {k: _matrix(k, w) for k, w in weights.items()}
        n = next(iter(synaptic.values())).shape[1]
        for k, w in synaptic.items():
            rows = n if self._pathway(k) == "recurrent" else w.shape[0]
            if w.shape != (rows, n):
                raise ValueError(f"`{k}` must have shape {(rows, n)}; got {w.shape}.")
        current = np.eye(n) if not self._spiking_input else np.zeros((1, n))
        values = {self._ALIASES.get(k, k): v for k, v in page.items()}
        self._module = FFIAF(
            current, dt=dt, refractory=refractory, integrator_name=integrator_name or "rk4", name=name,
            key=key, neuron_eq=self._EQUATIONS, input_sampling="timed", r_m=1.0, **values,
        )  # fmt: skip
        self._synaptic = synaptic
        self._dt = _timebase.seconds("dt", dt)
        self._record = bool(record)
        self._submodules = {}
        self._initial = {
            **self._own_attributes("Parameter"),
            **self._own_attributes("SimulationParameter"),
            "dt": self._dt,
        }

    @classmethod
    def _pathway(cls, weight_name: str) -> str:
        return next(p for k, p, _ in cls._SYNAPSES if k == weight_name)

    # ------------------------------------------------------------------------------------- names, shape
    @property
    def shape(self) -> tuple:
        """`(N_in, N)`: N_in input channels (spikes or currents), N neurons."""
        return (self._synaptic[self._SYNAPSES[0][0]].shape[0], self._module.size_out)

    _shape = shape

    def _own_attributes(self, type_name: str, family_=None) -> dict:
        values = super()._own_attributes(type_name)
        if type_name == "Parameter":
            page = {eq: name for name, eq in self._ALIASES.items()}
            values = {**self._synaptic, **{page.get(k, k): v for k, v in values.items() if k not in _HIDDEN}}
        return _select(values, lambda name: self._family(type_name, name), family_)

    def _family(self, type_name: str, name: str) -> str:
        if type_name == "Parameter" and name in self._synaptic:
            return "weights"
        return _FAMILIES.get(name, family(type_name, name))

    def synapses(self) -> tuple:
        """`(feedforward, recurrent)`: the [`jaxiaf.synapses.Synapses`][] this layer evolves with (a tuple
        of one or none each), built from its current weights: `on_pre` Rockpool's `I_syn... += w`, every
        pair connected, no delay."""
        groups = {"feedforward": (), "recurrent": ()}
        for name, pathway, on_pre in self._SYNAPSES:
            groups[pathway] += (Synapses(self._synaptic[name], 0, on_pre),)
        return groups["feedforward"], groups["recurrent"]

    def as_graph(self):
        """Not for these layers: their synapses are not the weights-then-neurons graph of
        [`jaxiaf.FFIAFBrian.as_graph`][]; [`jaxiaf.to_nir`][] gives their graph (NIR's `CubaLIF`).

        **Raises:** `NotImplementedError`, naming [`jaxiaf.to_nir`][].
        """
        raise NotImplementedError(
            f"{self.full_name}: `as_graph` describes a weights-then-neurons layer; use "
            "`jaxiaf.to_nir(layer)` for this layer's graph (Input -> Linear -> CubaLIF -> Output)."
        )

    # ---------------------------------------------------------------------------------------------- evolve
    def _prepare_input(self, ts_input=None, duration=None, num_timesteps=None):
        """Check the input and put it on the layer's time base, as Rockpool's `TimedModule` does: a
        spiking-input layer's by `_prepare_input_events` (a (T, N_in) bool raster of the event bins),
        `RecIAFBrian`'s currents as [`jaxiaf.FFIAFBrian`][]'s.

        **Returns:** `(time_base, input_raster, num_timesteps)`. **Raises:** `TypeError` for a series of
        the other kind; otherwise as `_prepare_input_events` or `_prepare_input_continuous`.
        """
        if not self._spiking_input:
            return super()._prepare_input(ts_input, duration, num_timesteps)
        return self._prepare_input_events(self._events_input(ts_input), duration, num_timesteps)

    def _events_input(self, ts_input):
        """`ts_input` if it is a `TSEvent` or None; else `TypeError` naming `ts_input`."""
        if ts_input is not None and not isinstance(ts_input, self.input_type):
            raise TypeError(
                f"{self.full_name}: `ts_input` must be a TSEvent of input spikes or None; got "
                f"{type(ts_input).__name__}."
            )
        return ts_input

    def evolve(self, ts_input=None, duration=None, num_timesteps=None, kwargs_timeseries=None, record=False):
        """Evolve the layer over an input series; pure: the layer itself is unchanged.

        The number of steps T is `num_timesteps`, else `duration` (floored, see `_determine_timesteps`),
        else up to the end of `ts_input`. A spiking-input layer puts each input event in the step of its
        bin (`_prepare_input_events`: bin k is `[t + k*dt, t + (k+1)*dt)`), emitted at that step as by
        Brian2's `SpikeGeneratorGroup`: it adds its weight to the synaptic current after the step's
        threshold, acting from the next step on. `RecIAFBrian` samples its currents as
        [`jaxiaf.FFIAFBrian`][] does. The layer's own spikes act through the recurrent weights likewise.

        **Arguments:** as [`jaxiaf.FFIAFBrian.evolve`][]; `ts_input` a [`jaxiaf.TSEvent`][] with N_in
        channels for the spiking-input layers, a [`jaxiaf.TSContinuous`][] of N currents (A) for
        `RecIAFBrian`, or None.

        **Returns:** `(output, new_state, record)` as [`jaxiaf.FFIAFBrian.evolve`][]; the state and
        the record also hold the synaptic currents (`I_syn`, or `I_syn_inp` and `I_syn_rec`, in A).

        **Raises:** as [`jaxiaf.FFIAFBrian.evolve`][]; `ValueError` for two events of one channel in one
        step (Brian2's `SpikeGeneratorGroup` refuses them too).
        """
        if kwargs_timeseries is not None and not isinstance(kwargs_timeseries, dict):
            raise TypeError(
                f"`kwargs_timeseries` must be a dict or None; got {type(kwargs_timeseries).__name__}."
            )
        spikes = x = None
        if self._spiking_input:
            events = self._events_input(ts_input)
            _, counts, _ = self._prepare_input_events(events, duration, num_timesteps, add_events=True)
            if np.any(counts > 1):
                step, channel = np.argwhere(counts > 1)[0]
                raise ValueError(
                    f"{self.full_name}: channel {channel} of `ts_input` has {counts[step, channel]} "
                    f"events in the step at t = {self._times(None, None, step)} s; at most one per step and "
                    "channel (as in Brian2's SpikeGeneratorGroup)."
                )
            spikes = jnp.asarray(counts > 0)
        else:
            _, x, _ = self._prepare_input(ts_input, duration, num_timesteps)
        feedforward, recurrent = self.synapses()
        raster, new_state, recorded, _ = run(
            self._module, spikes, feedforward=feedforward or None, recurrent=recurrent or None, x=x,
            record=bool(record) or self._record,
        )  # fmt: skip
        output = self._gen_timeseries(np.asarray(raster), **(kwargs_timeseries or {}))
        return output, new_state.named(), self._wrap_recorded_state(recorded, self.t)

    __call__ = evolve

    def set_attributes(self, new_attributes) -> "_Synaptic":
        """Set attributes in place, by the names of `parameters()`, `simulation_parameters()` and
        `state()`; all are checked before any is set.

        **Returns:** this layer. **Raises:** `ValueError` for an unknown name, a weight matrix of another
        shape or a bad value; otherwise as [`jaxiaf.FFIAFBrian.set_attributes`][].
        """
        new_attributes = as_attributes(new_attributes, self._module.sim.model)
        if not isinstance(new_attributes, dict):
            raise TypeError(f"`new_attributes` must be a dict; got {type(new_attributes).__name__}.")
        unknown = sorted(set(new_attributes) - set(self._values()) - set(self._submodules))
        if unknown:
            raise ValueError(f"Unknown attribute(s) {unknown} for `set_attributes`; {self._declared()}.")
        synaptic = dict(self._synaptic)
        for name in set(new_attributes) & set(synaptic):
            value = _matrix(name, new_attributes[name])
            if value.shape != synaptic[name].shape:
                raise ValueError(f"`{name}` must keep shape {synaptic[name].shape}; got {value.shape}.")
            synaptic[name] = value
        rest = {self._ALIASES.get(k, k): v for k, v in new_attributes.items() if k not in synaptic}
        super().set_attributes(rest)
        self._synaptic = synaptic
        return self


def _matrix(name: str, value):
    """A weight matrix (A per spike): 2-D, finite, of the layer's float dtype."""
    arr = _convert.as_float(name, value, "A")
    if arr.ndim != 2 or 0 in arr.shape:
        raise ValueError(f"`{name}` must be a 2-D array with both sizes >= 1; got shape {arr.shape}.")
    if not bool(jnp.all(jnp.isfinite(arr))):
        raise ValueError(f"`{name}` must be finite; got NaN or inf.")
    return arr


def _select(values: dict, family_of, family_) -> dict:
    """The entries of `values` whose family (`family_of(name)`) is `family_` (a name or a list), or all."""
    if family_ is None:
        return dict(values)
    wanted = {family_} if isinstance(family_, str) else family_
    if not isinstance(wanted, (list, tuple, set, frozenset)) or not all(isinstance(f, str) for f in wanted):
        raise TypeError(f"`family` must be a family name or a list of them; got {family_!r}.")
    known = sorted({family_of(k) for k in values})
    if not set(wanted) <= set(known):
        raise ValueError(f"`family` must be one of {known} (or a list of them); got {family_!r}.")
    return {k: v for k, v in values.items() if family_of(k) in set(wanted)}


class FFIAFSpkInBrian(_Synaptic):
    """A feedforward layer of IAF neurons with spiking input and output: Rockpool's
    `nn.layers.FFIAFSpkInBrian`, computed by [`jaxiaf.synapses.run`][].

    `dv/dt = (v_rest - v + r_m * (I_syn + bias)) / tau_mem` (`v` held while refractory), `dI_syn/dt =
    -I_syn / tau_syn`, `r_m` = 1 ohm; an input spike of channel i in step k adds `weights[i, j]` (A) to
    neuron j's `I_syn` after the step's threshold (Brian2's `on_pre="I_syn_post += w*amp"`); a spike when
    `v > v_thresh`, then `v = v_reset`, refractory for `refractory` s. In float64, the same spikes as
    Rockpool's Brian2 network and the same state bit for bit (`tests/test_spiking_timed.py`).

    **Arguments** (SI units; per-neuron arguments a scalar or (N,)):

    - `weights`: (N_in, N) input weights, the jump of `I_syn` per input spike (A).
    - `bias`: bias current (A). Default 10 mA, as Rockpool's.
    - `dt`: time step (s). Default 0.1 ms.
    - `noise_std`: must be 0 (default): no noise on these layers yet.
    - `tau_mem`, `tau_syn`: membrane and synaptic time constants (s). Default 20 ms each.
    - `v_thresh`, `v_reset`, `v_rest`: threshold, reset and resting potentials (V). Defaults -55, -65,
      -65 mV; `v` starts at `v_rest`, `I_syn` at 0.
    - `refractory`: refractory period (s). Default 0.
    - `neuron_eq`: None (Rockpool's `eqNeuronIAFSpkInFF`); other equations: [`jaxiaf.FFIAF`][] with
      [`jaxiaf.synapses.run`][].
    - `integrator_name`: any of Brian2's non-stochastic methods (`"rk4"` default, `"euler"`, `"exact"`...).
    - `name`, `record`, `key`: as [`jaxiaf.FFIAFBrian`][].

    Output spikes are stamped mid-bin, `t0 + (k + 0.5) * dt`, as [`jaxiaf.FFIAFBrian`][]'s (Rockpool's
    Brian2 layer stamps them `k * dt`: `kwargs_timeseries={"spikes_at_bin_start": True}` gives those).
    """

    _EQUATIONS = _eqs.IAF_SPIKING_INPUT_FF
    _ALIASES = {"bias": "I_bias", "tau_mem": "tau_m", "tau_syn": "tau_s"}
    _SYNAPSES = (("weights", "feedforward", "I_syn += w"),)
    _spiking_input = True
    tau_syn = Registered("(N,) synaptic time constants (s).")
    I_syn = Registered("(N,) synaptic current (A).")

    def __init__(
        self,
        weights: ArrayLike,
        bias: ArrayLike = 0.01,
        dt: ArrayLike = DEFAULTS["dt"],
        noise_std: ArrayLike = 0.0,
        tau_mem: ArrayLike = 0.02,
        tau_syn: ArrayLike = 0.02,
        v_thresh: ArrayLike = DEFAULTS["v_thresh"],
        v_reset: ArrayLike = DEFAULTS["v_reset"],
        v_rest: ArrayLike = DEFAULTS["v_rest"],
        refractory: ArrayLike = 0.0,
        neuron_eq=None,
        integrator_name: str = "rk4",
        name: str = "unnamed",
        record: bool = False,
        *,
        key: "jax.Array | None" = None,
    ):
        page = dict(bias=bias, tau_mem=tau_mem, tau_syn=tau_syn, v_thresh=v_thresh, v_reset=v_reset,
                    v_rest=v_rest)  # fmt: skip
        self._build({"weights": weights}, page, dt, noise_std, refractory, neuron_eq, integrator_name, name,
                    record, key)  # fmt: skip


class RecIAFBrian(_Synaptic):
    """A recurrent layer of IAF neurons with current input and spiking output: Rockpool's
    `nn.layers.RecIAFBrian`, computed by [`jaxiaf.synapses.run`][].

    `dv/dt = (v_rest - v + r_m * (I_in(t) + I_syn + bias)) / tau_mem`, `dI_syn/dt = -I_syn / tau_syn_r`;
    the input current of neuron j is channel j of the input (N channels, no input weights: Rockpool's
    `I_inp(t, i)`, read as [`jaxiaf.FFIAFBrian`][] reads its input); a spike of neuron i in step k adds
    `weights[i, j]` (A) to neuron j's `I_syn` after the step's threshold (Brian2's `on_pre="I_syn_post +=
    w*amp"`, every pair connected, no delay), acting from step k + 1.

    **Arguments:** `weights` (N, N) recurrent weights (A per spike); `bias` default 10.5 mA;
    `tau_syn_r` (s) default 50 ms; the others as [`jaxiaf.FFIAFSpkInBrian`][] (`neuron_eq` None:
    Rockpool's `eqNeuronIAFRec + eqSynapseExp`).
    """

    _EQUATIONS = _eqs.IAF_RECURRENT
    _ALIASES = {"bias": "I_bias", "tau_mem": "tau_m", "tau_syn_r": "tau_s"}
    _SYNAPSES = (("weights", "recurrent", "I_syn += w"),)
    tau_syn_r = Registered("(N,) synaptic time constants of the recurrent synapses (s).")
    I_syn = Registered("(N,) synaptic current (A).")

    def __init__(
        self,
        weights: ArrayLike,
        bias: ArrayLike = 0.0105,
        dt: ArrayLike = DEFAULTS["dt"],
        noise_std: ArrayLike = 0.0,
        tau_mem: ArrayLike = 0.02,
        tau_syn_r: ArrayLike = 0.05,
        v_thresh: ArrayLike = DEFAULTS["v_thresh"],
        v_reset: ArrayLike = DEFAULTS["v_reset"],
        v_rest: ArrayLike = DEFAULTS["v_rest"],
        refractory: ArrayLike = 0.0,
        neuron_eq=None,
        integrator_name: str = "rk4",
        name: str = "unnamed",
        record: bool = False,
        *,
        key: "jax.Array | None" = None,
    ):
        page = dict(bias=bias, tau_mem=tau_mem, tau_syn_r=tau_syn_r, v_thresh=v_thresh, v_reset=v_reset,
                    v_rest=v_rest)  # fmt: skip
        self._build({"weights": weights}, page, dt, noise_std, refractory, neuron_eq, integrator_name, name,
                    record, key)  # fmt: skip


class RecIAFSpkInBrian(_Synaptic):
    """A recurrent layer of IAF neurons with spiking input and output: Rockpool's
    `nn.layers.RecIAFSpkInBrian`, computed by [`jaxiaf.synapses.run`][].

    `dv/dt = (v_rest - v + r_m * (I_syn_inp + I_syn_rec + bias)) / tau_mem`, `dI_syn_inp/dt = -I_syn_inp /
    tau_syn_inp`, `dI_syn_rec/dt = -I_syn_rec / tau_syn_rec`; input spikes add `weights_in` (A) to
    `I_syn_inp`, the layer's own spikes add `weights_rec` (A) to `I_syn_rec`, after the step's threshold
    (the input synapses first, as Brian2 orders Rockpool's `receiver_synapses` before its
    `recurrent_synapses`).

    **Arguments:** `weights_in` (N_in, N) and `weights_rec` (N, N) (A per spike); `bias` default 10.5 mA;
    `tau_syn_inp`, `tau_syn_rec` (s) default 50 ms each; the others as [`jaxiaf.FFIAFSpkInBrian`][]
    (`neuron_eq` None: Rockpool's `eqNeuronIAFSpkInRec + eqSynapseExpSpkInRec`). `weights` reads and
    sets `weights_rec`, as in Rockpool.
    """

    _EQUATIONS = _eqs.IAF_SPIKING_INPUT_RECURRENT
    _ALIASES = {"bias": "I_bias", "tau_mem": "tau_m"}
    _SYNAPSES = (
        ("weights_in", "feedforward", "I_syn_inp += w"),
        ("weights_rec", "recurrent", "I_syn_rec += w"),
    )
    _spiking_input = True
    weights_in = Registered("(N_in, N) input weights (A per spike).")
    weights_rec = Registered("(N, N) recurrent weights (A per spike).")
    tau_syn_inp = Registered("(N,) synaptic time constants of the input synapses (s).")
    tau_syn_rec = Registered("(N,) synaptic time constants of the recurrent synapses (s).")
    I_syn_inp = Registered("(N,) input synaptic current (A).")
    I_syn_rec = Registered("(N,) recurrent synaptic current (A).")

    def __init__(
        self,
        weights_in: ArrayLike,
        weights_rec: ArrayLike,
        bias: ArrayLike = 0.0105,
        dt: ArrayLike = DEFAULTS["dt"],
        noise_std: ArrayLike = 0.0,
        tau_mem: ArrayLike = 0.02,
        tau_syn_inp: ArrayLike = 0.05,
        tau_syn_rec: ArrayLike = 0.05,
        v_thresh: ArrayLike = DEFAULTS["v_thresh"],
        v_reset: ArrayLike = DEFAULTS["v_reset"],
        v_rest: ArrayLike = DEFAULTS["v_rest"],
        refractory: ArrayLike = 0.0,
        neuron_eq=None,
        integrator_name: str = "rk4",
        name: str = "unnamed",
        record: bool = False,
        *,
        key: "jax.Array | None" = None,
    ):
        page = dict(bias=bias, tau_mem=tau_mem, tau_syn_inp=tau_syn_inp, tau_syn_rec=tau_syn_rec,
                    v_thresh=v_thresh, v_reset=v_reset, v_rest=v_rest)  # fmt: skip
        weights = {"weights_in": weights_in, "weights_rec": weights_rec}
        self._build(weights, page, dt, noise_std, refractory, neuron_eq, integrator_name, name, record, key)

    @property
    def weights(self):
        """(N, N) recurrent weights (A per spike): `weights_rec`, as in Rockpool's layer."""
        return self.weights_rec

    @weights.setter
    def weights(self, value):
        self.set_attributes({"weights_rec": value})
