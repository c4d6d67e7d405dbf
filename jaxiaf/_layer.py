"""`FFIAF`: the functional feedforward IAF layer, an immutable equinox Module around the core."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._compile.cache import COMPILER_OPTIONS
from ._core import checks as _checks
from ._core import convert as _convert
from ._core import surrogate as _surrogate
from ._core.defaults import DEFAULTS
from ._core.integrators import resolve_integrator
from ._core.pytrees import NEVER, Parameters, SimulationParameters, State
from ._core.scan import _NONFINITE, _step_message, evolve, step_constants
from ._equations import names as _named

PARAMETER_FAMILIES = {
    "weights": "weights",
    "bias": "biases",
    "tau_mem": "taus",
    "v_thresh": "voltages",
    "v_reset": "voltages",
    "v_rest": "voltages",
}
SIMULATION_FAMILIES = {
    "dt": "time",
    "noise_std": "noise",
    "refractory": "time",
    "integrator_name": "integrator",
}
STATE_FAMILIES = {"v": "voltages", "since_spike": "refractory", "key": "random", "step": "time"}


def _select(values: dict, families: dict, family) -> dict:
    if family is None:
        return dict(values)
    wanted = {family} if isinstance(family, str) else set(family)
    known = sorted(set(families.values()) | ({"equations"} if set(values) - set(families) else set()))
    if not wanted <= set(known):
        raise ValueError(f"`family` must be one of {known} (or a list of them); got {family!r}.")
    return {k: v for k, v in values.items() if families.get(k, "equations") in wanted}


class _Alias:
    """Read-only attribute `mod.<name>` for the leaf `<name>` of one of the module's pytrees."""

    def __init__(self, tree: str, doc: str):
        self.tree, self.__doc__ = tree, doc

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        return getattr(getattr(obj, self.tree), self.name)


class FFIAF(eqx.Module):
    """A feedforward layer of integrate-and-fire neurons with current inputs and spiking outputs.

    `dv/dt = (v_rest - v + r_m * (I_in(t) + bias)) / tau_mem`, `r_m` = 1 ohm, `I_in = x @ weights` held
    constant over each step; a spike when `v > v_thresh`, then `v = v_reset` and the neuron is refractory for
    `refractory` seconds. The per-step update of each integrator is Brian2's (see [`jaxiaf.evolve`][]).

    The module is immutable: `mod(x)` returns `(spikes, new_state, record)` and leaves `mod` unchanged;
    `mod.set_attributes(new_state)` returns the advanced module. It is a pytree of arrays, so `jax.jit`,
    `jax.vmap` and `eqx.filter_jit` apply to it directly, and changing only values never recompiles.

    **Precision:** float64 when `jax.config.update("jax_enable_x64", True)` was called before construction
    (spike-for-spike identical to Brian2), float32 otherwise (fast; not spike-exact near the threshold).

    **Arguments** (SI units; per-neuron arguments are a scalar or shape (N,); Brian2 quantities accepted):

    - `weights`: (N_in, N) weight matrix (dimensionless; the input is a current in A).
    - `bias`: bias current (A). Default 10 mA, as documented for Rockpool's layer.
    - `dt`: time step (s). Default 0.1 ms.
    - `noise_std`: stationary standard deviation of `v` due to the noise alone (V). Default 0.
    - `tau_mem`: membrane time constant (s). Default 20 ms.
    - `v_thresh`: threshold (V). Default -55 mV.
    - `v_reset`: reset potential (V). Default -65 mV.
    - `v_rest`: resting potential (V), also the initial `v`. Default -65 mV.
    - `refractory`: refractory period (s), scalar or (N,). Default 0.
    - `integrator_name`: `"rk4"` (default), `"rk2"`, `"euler"`, `"exponential_euler"`, `"exact"` (alias
      `"linear"`).
    - `name`: a name for the layer.
    - `key`: keyword-only PRNG key of the noise: one typed key (`jax.random.key`) or one raw `uint32[2]`
      key. Default `jax.random.key(0)`: two layers built without a key draw the same noise, and a run
      is reproducible; give each layer its own key for independent noise.
    - `surrogate`: keyword-only, static; None (default), or a `jaxiaf.surrogate.Surrogate` (e.g.
      `SuperSpike()`): the spikes then come back as 0/1 floats carrying its gradient, with a
      bit-identical forward (see [`jaxiaf.evolve`][]).

    With every default, `v` relaxes towards `v_rest + bias * 1 ohm` = -55 mV, exactly the threshold; the
    spike condition `v > v_thresh` is strict and `v` settles just under it, so the default layer is silent
    without input and fires with a small one (1 nA in float64). `dt` may change only at `t = 0` (see
    `set_attributes`).

    **Raises:** `ValueError` naming the argument for a wrong shape, a non-finite value, `tau_mem <= 0`,
    `dt <= 0`, `noise_std < 0`, `refractory < 0` or an unknown integrator; `TypeError` for a non-number.
    """

    params: Parameters
    sim: SimulationParameters
    neuron_state: State
    initial_params: Parameters
    name: str = eqx.field(static=True)
    surrogate: "_surrogate.Surrogate | None" = eqx.field(static=True)

    weights = _Alias("params", "(N_in, N) weights.")
    bias = _Alias("params", "(N,) bias current (A).")
    tau_mem = _Alias("params", "(N,) membrane time constants (s).")
    v_thresh = _Alias("params", "(N,) thresholds (V).")
    v_reset = _Alias("params", "(N,) reset potentials (V).")
    v_rest = _Alias("params", "(N,) resting potentials (V).")
    dt = _Alias("sim", "Time step (s).")
    noise_std = _Alias("sim", "Stationary std of v due to noise (V).")
    refractory = _Alias("sim", "Refractory period (s).")
    integrator_name = _Alias("sim", "Name of the integrator.")
    v = _Alias("neuron_state", "(N,) membrane potential (V).")

    def __init__(
        self,
        weights,
        bias=DEFAULTS["bias"],
        dt=DEFAULTS["dt"],
        noise_std=DEFAULTS["noise_std"],
        tau_mem=DEFAULTS["tau_mem"],
        v_thresh=DEFAULTS["v_thresh"],
        v_reset=DEFAULTS["v_reset"],
        v_rest=DEFAULTS["v_rest"],
        refractory=DEFAULTS["refractory"],
        integrator_name: str | None = None,
        name: str = DEFAULTS["name"],
        *,
        key=None,
        surrogate=None,
        neuron_eq=None,
        threshold: str | None = None,
        reset: str | None = None,
        **values,
    ):
        model = _named.resolve(neuron_eq, threshold, reset, refractory, integrator_name)
        if model is None and values:
            raise TypeError(
                f"FFIAF got unexpected arguments {sorted(values)}: the default equations have no such "
                "parameters (give `neuron_eq` to declare them)."
            )
        w = _convert.weights(weights)
        n = w.shape[1]
        vectors = dict(bias=bias, tau_mem=tau_mem, v_thresh=v_thresh, v_reset=v_reset, v_rest=v_rest)
        extra = {} if model is None else _named.extra_parameters(model, values, n)
        self.params = Parameters(
            weights=w,
            **{k: _convert.per_neuron(k, val, _convert.UNITS[k], n) for k, val in vectors.items()},
            extra=extra,
        )
        self.initial_params = self.params
        if model is None:
            method = DEFAULTS["integrator_name"] if integrator_name is None else integrator_name
        else:
            _named.check_names(model, values, "FFIAF")
            if _convert.is_noisy(_convert.as_float("noise_std", noise_std, "V")):
                raise ValueError(
                    "`noise_std` must be 0 with `neuron_eq`: write the noise into the equations as a `xi` "
                    "term (e.g. `+ sigma*sqrt(2/tau_m)*xi`), which Brian2 scales per integrator."
                )
            method, refractory = model.method, 0.0 if isinstance(refractory, str) else refractory
        self.sim = _make_sim(n, dt, noise_std, refractory, method, model)
        key = jax.random.key(0) if key is None else _key(key)
        if model is None:
            self.neuron_state = State(
                self.params.v_rest, jnp.full((n,), NEVER, jnp.int32), key, jnp.asarray(0)
            )
        else:
            self.neuron_state = _named.initial_state(model, self.params, values, n, key)
        self.name = "" if name is None else str(name)
        _surrogate.check_options(surrogate, None)
        self.surrogate = surrogate

    @property
    def shape(self) -> tuple:
        """`(N_in, N)`."""
        return tuple(self.params.weights.shape[-2:])

    @property
    def size_in(self) -> int:
        """N_in, the number of input channels."""
        return self.shape[0]

    @property
    def size_out(self) -> int:
        """N, the number of neurons."""
        return self.shape[1]

    @property
    def t(self):
        """Time evolved so far, `step * dt` (s)."""
        return self.neuron_state.step * self.sim.dt

    def __call__(self, x, record: bool = False, unroll: int = 1, checkpoint_every: int | None = None):
        """Evolve over the T steps of `x`.

        **Arguments:**

        - `x`: (T, N_in) input currents (A), time-major; step k receives `x[k]`, held over the step.
        - `record`: static bool; if True, also return the per-step `v` and spike raster.
        - `unroll`: static int; steps per iteration of the compiled loop, same results (see
          [`jaxiaf.evolve`][]: 8 or more on a GPU, 1 on a CPU).
        - `checkpoint_every`: static; None, or steps per `jax.checkpoint` chunk in reverse mode (with a
          `surrogate`; see [`jaxiaf.evolve`][]).

        **Returns:** `(spikes, new_state, record)`: `spikes` (T, N) bool; `new_state` a dict as
        [`FFIAF.state`][] (give it to `set_attributes`); `record` `{"v": (T, N), "spikes": (T, N)}` or `{}`.

        **Raises:** `ValueError` for a wrong shape or a non-finite `x` (`EquinoxRuntimeError` under jit/vmap),
        for a module that carries a batch axis (built under `jax.vmap`: call it under `jax.vmap` too) or
        a bad `unroll`; `TypeError` for a non-bool `record` or a non-numeric `x`.
        """
        if self.params.weights.ndim != 2:
            raise ValueError(
                f"This module carries batch axes (weights of shape {self.params.weights.shape}): it was "
                "built or changed under `jax.vmap`; call it under `jax.vmap` as well."
            )
        if not isinstance(record, (bool, np.bool_)):
            raise TypeError(f"`record` must be a bool; got {type(record).__name__}.")
        if isinstance(unroll, np.integer):
            unroll = int(unroll)
        x = _convert.input_array("x", x)
        if x.ndim != 2 or x.shape[1] != self.size_in:
            raise ValueError(
                f"`x` must have shape (T, N_in={self.size_in}): time-major, one column per input channel; "
                f"got shape {x.shape}."
            )
        _checks.check_input_now(x)
        run = _run_eager if all(map(_checks.is_concrete, jax.tree.leaves((self, x)))) else _run
        spikes, new_state, rec = run(self, x, bool(record), unroll, checkpoint_every)
        return spikes, _state_dict(new_state), rec

    evolve = __call__

    def parameters(self, family=None) -> dict:
        """The parameters `{name: array}`; `family` (str or list) selects: `"weights"`, `"biases"`, `"taus"`,
        `"voltages"` (`v_thresh`, `v_reset`, `v_rest`), `"equations"` (the other parameters declared by a
        layer's own equations). With `neuron_eq`, exactly the declared parameters and the weights."""
        if self.sim.model is not None:
            return _select(_named.parameters(self.sim.model, self.params), PARAMETER_FAMILIES, family)
        values = {k: getattr(self.params, k) for k in PARAMETER_FAMILIES}
        return _select(values, PARAMETER_FAMILIES, family)

    def simulation_parameters(self, family=None) -> dict:
        """`dt`, `noise_std`, `refractory`, `integrator_name`; families `"time"`, `"noise"`,
        `"integrator"`."""
        values = {k: getattr(self.sim, k) for k in SIMULATION_FAMILIES}
        return _select(values, SIMULATION_FAMILIES, family)

    def state(self, family=None) -> dict:
        """`v` (V), `since_spike` (steps), `key`, `step`, and a layer's other state variables by name;
        families `"voltages"`, `"refractory"`, `"random"`, `"time"`, `"equations"`."""
        return _select(_state_dict(self.neuron_state), STATE_FAMILIES, family)

    def attributes_named(self, name) -> dict:
        """All attributes (parameters, simulation parameters, state) called `name` (str or list of str)."""
        names = {name} if isinstance(name, str) else set(name)
        every = {**self.parameters(), **self.simulation_parameters(), **self.state()}
        return {k: v for k, v in every.items() if k in names}

    def modules(self) -> dict:
        """Sub-modules by name: none."""
        return {}

    def set_attributes(self, new_attributes) -> "FFIAF":
        """A copy of this module with the given attributes replaced.

        **Arguments:** `new_attributes`: a dict with any of the keys of `parameters()`,
        `simulation_parameters()` and `state()` (e.g. the `new_state` of a call), or a
        [`jaxiaf.Parameters`][] / [`jaxiaf.SimulationParameters`][] / [`jaxiaf.State`][].

        `dt` can change only while the state's `step` is 0 (`t = step * dt` would jump otherwise): call
        `reset_time()` first. State values are checked: `v` finite, `since_spike` and `step` non-negative
        integers, `key` one PRNG key.

        **Raises:** `ValueError` for an unknown name, a wrong shape or a bad value (`EquinoxRuntimeError`
        for a traced value, when the module is evolved); `TypeError` for a wrong type.
        """
        new_attributes = as_attributes(new_attributes)
        if not isinstance(new_attributes, dict):
            raise TypeError(f"`new_attributes` must be a dict; got {type(new_attributes).__name__}.")
        model = self.sim.model
        known = {**PARAMETER_FAMILIES, **SIMULATION_FAMILIES, **STATE_FAMILIES}
        if model is not None:
            known = {**{k: f for k, f in known.items() if k not in PARAMETER_FAMILIES}, "weights": "weights"}
            known.update(dict.fromkeys(model.parameter_names + model.state_names, "equations"))
        unknown = sorted(set(new_attributes) - set(known) - {"noisy"})
        if unknown:
            raise ValueError(
                f"Unknown attribute(s) {unknown} for `set_attributes`; allowed: {sorted(known)}."
            )
        p = self.parameters()
        s = {k: getattr(self.sim, k) for k in SIMULATION_FAMILIES}
        st = _state_dict(self.neuron_state)
        for k, value in new_attributes.items():
            for group in (p, s, st):
                if k in group:
                    group[k] = value
        n = self.size_out
        if "weights" in new_attributes:
            p["weights"] = _convert.weights(p["weights"])
            if p["weights"].shape != self.shape:
                raise ValueError(f"`weights` must keep shape {self.shape}; got {p['weights'].shape}.")
        changed = set(new_attributes)
        params = self.params
        if model is None:
            for k in changed & (set(PARAMETER_FAMILIES) - {"weights"}):
                p[k] = _convert.per_neuron(k, p[k], _convert.UNITS[k], n)
            params = Parameters(**p)
        elif changed & set(p):
            params = _named.with_values(
                model,
                eqx.tree_at(lambda q: q.weights, params, p["weights"]),
                {k: p[k] for k in changed & set(p)},
                n,
            )
        sim = self.sim
        state = _make_state(st, n, model) if changed & set(st) else self.neuron_state
        if set(new_attributes) & set(SIMULATION_FAMILIES):
            sim = _make_sim(n, s["dt"], s["noise_std"], s["refractory"], s["integrator_name"], model)
            sim = eqx.tree_at(lambda q: q.dt, sim, _dt_change(self.sim.dt, sim.dt, state.step))
        return eqx.tree_at(lambda m: (m.params, m.sim, m.neuron_state), self, (params, sim, state))

    def reset_state(self) -> "FFIAF":
        """A copy with `v = v_rest` and no neuron refractory (the key and the step count are kept); with
        `neuron_eq`, `v = v_rest` if declared (else 0) and the other state variables 0."""
        if self.sim.model is not None:
            state = self.neuron_state
            fresh = _named.initial_state(
                self.sim.model, self.params, {}, self.size_out, state.key, state.step
            )
            return eqx.tree_at(lambda m: m.neuron_state, self, fresh)
        state = eqx.tree_at(
            lambda s: (s.v, s.since_spike),
            self.neuron_state,
            (self.params.v_rest, jnp.full_like(self.neuron_state.since_spike, NEVER)),
        )
        return eqx.tree_at(lambda m: m.neuron_state, self, state)

    def reset_time(self) -> "FFIAF":
        """A copy with the step count (time) set to 0."""
        return eqx.tree_at(lambda m: m.neuron_state.step, self, jnp.zeros_like(self.neuron_state.step))

    def reset_all(self) -> "FFIAF":
        """A copy with state and time reset: evolving it again repeats the first evolution exactly."""
        return self.reset_state().reset_time()

    def reset_parameters(self) -> "FFIAF":
        """A copy with the parameters given at construction."""
        return eqx.tree_at(lambda m: m.params, self, self.initial_params)


def as_attributes(new_attributes):
    """A [`jaxiaf.Parameters`][], [`jaxiaf.SimulationParameters`][] or [`jaxiaf.State`][] as the dict
    `set_attributes` takes (its `extra` entries by name); anything else unchanged."""
    if not isinstance(new_attributes, (Parameters, SimulationParameters, State)):
        return new_attributes
    fields = [k for k in type(new_attributes).__annotations__ if k not in ("extra", "model")]
    return {**{k: getattr(new_attributes, k) for k in fields}, **getattr(new_attributes, "extra", {})}


def _make_sim(n, dt, noise_std, refractory, integrator_name, model=None) -> SimulationParameters:
    if model is None:
        resolve_integrator(integrator_name)
    noise = _convert.per_neuron("noise_std", noise_std, "V", n)
    refr = _convert.as_float("refractory", refractory, "s")
    if refr.ndim != 0:
        refr = _convert.per_neuron("refractory", refr, "s", n)
    _checks.check_now("refractory", refr)
    return SimulationParameters(
        dt=_convert.scalar("dt", dt, "s"),
        noise_std=noise,
        refractory=refr,
        integrator_name=integrator_name,
        noisy=_convert.is_noisy(noise),
        model=model,
    )


def _key(key):
    """One PRNG key (typed, shape (), or raw `uint32[2]`); `ValueError`/`TypeError` naming `key` otherwise."""
    if not isinstance(key, jax.Array | np.ndarray):
        raise TypeError(f"`key` must be a JAX PRNG key (`jax.random.key(seed)`); got {type(key).__name__}.")
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.shape != ():
            raise ValueError(
                f"`key` must be one PRNG key (shape ()); got a key array of shape {key.shape}, e.g. from "
                "`jax.random.split`: give one of its keys, or build the layers under `jax.vmap`."
            )
        return key
    if key.dtype != jnp.uint32 or key.shape != (2,):
        raise ValueError(
            f"`key` must be one PRNG key: `jax.random.key(seed)`, or a raw uint32 key of shape (2,); "
            f"got dtype {key.dtype} and shape {key.shape}."
        )
    return jnp.asarray(key)


def _integers(name: str, value, shape: tuple):
    """Non-negative integers of `shape` (steps), checked now or, for a tracer, at run time."""
    arr = jnp.asarray(value)
    if arr.shape != shape:
        raise ValueError(f"`{name}` must have shape {shape}; got {arr.shape}.")
    if not jnp.issubdtype(arr.dtype, jnp.integer):
        raise TypeError(f"`{name}` must hold integers (steps); got dtype {arr.dtype}.")
    return _checks.ensure(name, arr, "finite and >= 0", "steps")


def _state_vector(name: str, value, unit: str, n: int):
    arr = _convert.as_float(name, value, unit)
    if arr.shape != (n,):
        raise ValueError(f"`{name}` must have shape ({n},); got {arr.shape}.")
    return _checks.ensure(name, arr, "finite", unit)


def _make_state(values: dict, n: int, model=None) -> State:
    since = _integers("since_spike", values["since_spike"], (n,)).astype(jnp.int32)
    step = _integers("step", values["step"], ())
    units = {} if model is None else dict(model.states)
    extra = {k: _state_vector(k, values[k], units[k], n) for k in units if k != "v"}
    v = _state_vector("v", values["v"], "V" if model is None else units["v"], n)
    return State(v=v, since_spike=since, key=_key(values["key"]), step=step, extra=extra)


def _dt_change(old, new, step):
    """`new` dt, refused (now, or at run time if traced) if it differs from `old` while `step` != 0."""
    message = (
        "`dt` can change only at t = 0 (else `t = step * dt` would jump): call `reset_time()` first, "
        "or set `step` to 0 together with `dt`."
    )
    if all(map(_checks.is_concrete, (old, new, step))):
        if bool(np.any(np.asarray(old) != np.asarray(new))) and int(step) != 0:
            raise ValueError(f"{message} The state's step is {int(step)}.")
        return new
    return eqx.error_if(new, jnp.any(old != new) & (step != 0), message)


def _state_dict(state: State) -> dict:
    return {**{k: getattr(state, k) for k in STATE_FAMILIES}, **state.extra}


@eqx.filter_jit
def _run(mod: FFIAF, x, record: bool, unroll: int, checkpoint_every):
    """The module's evolve: `x` is checked here, by name; `evolve` checks the rest (values, stability,
    and `currents` = `x @ weights`, which can overflow)."""
    state = mod.neuron_state
    state = eqx.tree_at(lambda s: s.v, state, _checks.tie_input_check(state.v, x, "x"))
    params, sim = mod.params, mod.sim
    currents = jnp.matmul(x.astype(params.weights.dtype), params.weights, precision=jax.lax.Precision.HIGHEST)
    options = dict(unroll=unroll, surrogate=mod.surrogate, checkpoint_every=checkpoint_every)
    return evolve(params, sim, state, currents, record=record, **options)


def _run_eager(mod: FFIAF, x, record: bool, unroll: int, checkpoint_every):
    """An eager call, checked on the host: the compiled program then holds no host callback (every
    `eqx.error_if` is one, and so is float64's `step_constants`), so JAX's persistent compilation cache can
    keep it across processes. The checks and messages are `_run`'s."""
    for name, value in mod.params.named().items():
        _checks.check_now(name, value)
    for name in ("dt", "noise_std", "refractory"):
        _checks.check_now(name, getattr(mod.sim, name))
    step = int(mod.neuron_state.step)
    if step > jnp.iinfo(mod.neuron_state.step.dtype).max - x.shape[0]:
        raise ValueError(_step_message(mod.neuron_state.step, x.shape[0]))
    constants = step_constants(mod.params, mod.sim)  # ValueError for an unstable integrator
    spikes, new_state, rec, finite = _run_unchecked(mod, x, record, unroll, checkpoint_every, constants)
    if not bool(finite):
        raise ValueError(_checks.input_message("x @ weights"))
    if not all(np.isfinite(np.asarray(v)).all() for v in (new_state.v, *new_state.extra.values())):
        raise ValueError(_NONFINITE)
    return spikes, new_state, rec


@eqx.filter_jit(compiler_options=COMPILER_OPTIONS)
def _run_unchecked(mod: FFIAF, x, record: bool, unroll: int, checkpoint_every, constants):
    params = mod.params
    currents = jnp.matmul(x.astype(params.weights.dtype), params.weights, precision=jax.lax.Precision.HIGHEST)
    finite = jnp.isfinite(jnp.sum(currents * 0))
    unchecked = dict(record=record, check=False, constants=constants, unroll=unroll)
    unchecked.update(surrogate=mod.surrogate, checkpoint_every=checkpoint_every)
    return (*evolve(params, mod.sim, mod.neuron_state, currents, **unchecked), finite)
