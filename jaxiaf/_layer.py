"""`FFIAF`: the functional feedforward IAF layer, an immutable equinox Module around the core."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Shaped

from ._compile.cache import COMPILER_OPTIONS
from ._core import checks as _checks
from ._core import convert as _convert
from ._core import divergence as _divergence
from ._core import interpret as _generated
from ._core import surrogate as _surrogate
from ._core.batching import layer_call
from ._core.defaults import DEFAULTS, given
from ._core.pytrees import Parameters, SimulationParameters, State
from ._core.scan import _step_message, evolve, step_constants
from ._equations import names as _named
from ._equations import namespace as _namespace

PARAMETER_FAMILIES = {
    "weights": "weights",
    "bias": "biases",
    "tau_mem": "taus",
    "v_thresh": "voltages",
    "v_reset": "voltages",
    "v_rest": "voltages",
}
"""The reference page's families of its parameter names; a layer's other declared names are `"equations"`."""
SIMULATION_FAMILIES = {
    "dt": "time",
    "noise_std": "noise",
    "refractory": "time",
    "integrator_name": "integrator",
}
STATE_FAMILIES = {"v": "voltages", "since_spike": "refractory", "key": "random", "step": "time"}
FAMILIES = {
    "Parameter": PARAMETER_FAMILIES,
    "SimulationParameter": SIMULATION_FAMILIES,
    "State": STATE_FAMILIES,
}
"""The families of each kind of attribute (`"Parameter"`, `"SimulationParameter"`, `"State"`)."""


def family(kind: str, name: str) -> str:
    """The family of the attribute `name` of `kind` (a key of `FAMILIES`): the page's, else `"equations"`."""
    return FAMILIES[kind].get(name, "equations")


def _select(values: dict, kind: str, family_) -> dict:
    if family_ is None:
        return dict(values)
    if isinstance(family_, str):
        wanted = {family_}
    elif isinstance(family_, (list, tuple, set, frozenset)) and all(isinstance(f, str) for f in family_):
        wanted = set(family_)
    else:
        raise TypeError(f"`family` must be a family name or a list of them; got {family_!r}.")
    known = sorted({family(kind, k) for k in values} | set(FAMILIES[kind].values()))
    if not wanted <= set(known):
        raise ValueError(f"`family` must be one of {known} (or a list of them); got {family_!r}.")
    return {k: v for k, v in values.items() if family(kind, k) in wanted}


class _Alias:
    """Read-only attribute `mod.<name>` for the leaf `<name>` of one of the module's pytrees; an
    `AttributeError` where the layer's equations do not declare the name (`hasattr` is then False)."""

    def __init__(self, kind: str, doc: str):
        self.kind, self.__doc__ = kind, doc

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        values = obj._named_values(self.kind)
        if self.name not in values:
            raise AttributeError(f"This layer's equations do not declare {self.name!r}.")
        return values[self.name]


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
    - `namespace`, `per_neuron`: keyword-only, with `neuron_eq`: the script's constants
      (`{name: Brian2 quantity}`; undeclared keywords join them) and the constants to make per-neuron
      parameters; see [`jaxiaf.model`][] and `docs/guides/brian2-scripts.md`.
    - `input_sampling`: keyword-only, static; `"held"` (default: the step's row held over the step) or
      `"timed"` (`I_inp(t, i)` by Brian2's `TimedArray` rule at each stage time: rk4's last stage reads
      the next row, as Rockpool's `FFIAFBrian` does). The default equations keep their page names and
      fast path under either.

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
    name: str = eqx.field(static=True)
    surrogate: "_surrogate.Surrogate | None" = eqx.field(static=True)

    weights = _Alias("Parameter", "(N_in, N) weights.")
    bias = _Alias("Parameter", "(N,) bias current (A).")
    tau_mem = _Alias("Parameter", "(N,) membrane time constants (s).")
    v_thresh = _Alias("Parameter", "(N,) thresholds (V).")
    v_reset = _Alias("Parameter", "(N,) reset potentials (V).")
    v_rest = _Alias("Parameter", "(N,) resting potentials (V).")
    dt = _Alias("SimulationParameter", "Time step (s).")
    noise_std = _Alias("SimulationParameter", "Stationary std of v due to noise (V).")
    refractory = _Alias("SimulationParameter", "Refractory period (s).")
    integrator_name = _Alias("SimulationParameter", "Name of the integrator.")
    v = _Alias("State", "(N,) membrane potential (V).")

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
        integrator_name: str | None = None,
        name: str | None = DEFAULTS["name"],
        *,
        key: jax.Array | None = None,
        surrogate: "_surrogate.Surrogate | None" = None,
        neuron_eq: "str | object | None" = None,
        threshold: str | None = None,
        reset: str | None = None,
        namespace: dict | None = None,
        per_neuron: tuple = (),
        input_sampling: str = "held",
        **values,
    ):
        values, namespace, constants = _namespace.split(neuron_eq, values, namespace)
        rules = (threshold, reset, refractory, integrator_name, namespace, per_neuron, input_sampling)
        model = _named.resolve(neuron_eq, *rules)
        _namespace.check_keywords(_named.declared(model), constants, per_neuron)
        values = {**{k: namespace[k] for k in per_neuron}, **values}
        _named.check_reserved(model)
        _named.check_names(model, values, "FFIAF")
        page = dict(bias=bias, tau_mem=tau_mem, v_thresh=v_thresh, v_reset=v_reset, v_rest=v_rest)
        _check_given(model, {**page, "noise_std": noise_std})
        w = _convert.weights(weights)
        n = w.shape[1]
        self.params = Parameters(
            weights=w,
            **{k: _convert.per_neuron(k, val, _convert.UNITS[k], n) for k, val in page.items()},
            extra=_named.extra_parameters(model, values, n),
        )
        method = _named.integrator(model, integrator_name)
        refractory = 0.0 if isinstance(refractory, str) else refractory
        noisy = given(noise_std)
        self.sim = _make_sim(n, dt, noise_std, refractory, method, model, noisy, input_sampling)
        key = jax.random.key(0) if key is None else _convert.prng_key(key)
        self.neuron_state = _named.initial_state(model, self.params, values, n, key)
        self.name = "" if name is None else str(name)
        _surrogate.check_options(surrogate, None)
        self.surrogate = surrogate

    @property
    def input_sampling(self) -> str:
        """`"held"` or `"timed"`: how a step reads its input row (`sim.input_sampling`)."""
        return self.sim.input_sampling

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

    def __call__(
        self, x: ArrayLike, record: bool = False, unroll: int = 1, checkpoint_every: int | None = None
    ) -> tuple[Shaped[Array, "T N"], State, dict]:  # noqa: F722
        """Evolve over the T steps of `x`.

        **Arguments:**

        - `x`: (T, N_in) input currents (A), time-major; step k receives `x[k]`, held over the step.
        - `record`: static bool; if True, also return the per-step `v` and spike raster.
        - `unroll`: static int; steps per iteration of the compiled loop, same results (see
          [`jaxiaf.evolve`][]: 8 or more on a GPU, 1 on a CPU).
        - `checkpoint_every`: static; None, or steps per `jax.checkpoint` chunk in reverse mode (with a
          `surrogate`; see [`jaxiaf.evolve`][]).

        **Returns:** `(spikes, new_state, record)`: `spikes` (T, N) bool; `new_state` the
        [`jaxiaf.State`][] after the last step (give it to `set_attributes`; `new_state["v"]` reads an
        entry by name, as in [`FFIAF.state`][]); `record` `{"v": (T, N), "spikes": (T, N)}` or `{}`.

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
        if not isinstance(unroll, int) or isinstance(unroll, bool):
            raise TypeError(
                f"`unroll` must be a positive Python int (it shapes the compiled loop: not a traced value); "
                f"got {type(unroll).__name__}."
            )
        x = _convert.input_array("x", x, _named.declared(self.sim.model).input_unit)
        if x.ndim != 2 or x.shape[1] != self.size_in:
            raise ValueError(
                f"`x` must have shape (T, N_in={self.size_in}): time-major, one column per input channel; "
                f"got shape {x.shape}."
            )
        _checks.check_input_now(x)
        run = _run_eager if all(map(_checks.is_concrete, jax.tree.leaves((self, x)))) else _run
        spikes, new_state, rec = run(self, x, bool(record), unroll, checkpoint_every)
        return spikes, new_state, rec

    evolve = __call__

    def _named_values(self, kind: str) -> dict:
        """The attributes of one kind (`"Parameter"`, `"SimulationParameter"`, `"State"`) by name."""
        if kind == "Parameter":
            return _named.parameters(self.sim.model, self.params)
        if kind == "SimulationParameter":
            return {k: getattr(self.sim, k) for k in _named.simulation_names(self.sim.model)}
        return _named.state_by_name(self.sim.model, self.neuron_state)

    def parameters(self, family: str | list | None = None) -> dict:
        """The parameters `{name: array}`: the weights and every parameter the equations declare (for the
        default equations `bias` (A), `tau_mem` (s), `v_thresh`, `v_reset`, `v_rest` (V)); `family` (str
        or list) selects: `"weights"`, `"biases"`, `"taus"`, `"voltages"` (`v_thresh`, `v_reset`,
        `v_rest`), `"equations"` (the other parameters declared by a layer's own equations)."""
        return _select(self._named_values("Parameter"), "Parameter", family)

    def simulation_parameters(self, family: str | list | None = None) -> dict:
        """`dt` (s), `noise_std` (V; default equations only), `refractory` (s; unless the equations give
        their own period expression), `integrator_name`; families `"time"`, `"noise"`, `"integrator"`."""
        return _select(self._named_values("SimulationParameter"), "SimulationParameter", family)

    def state(self, family: str | list | None = None) -> dict:
        """`v` (V), `since_spike` (steps), `key`, `step`, and a layer's other state variables by name;
        families `"voltages"`, `"refractory"`, `"random"`, `"time"`, `"equations"`."""
        return _select(self._named_values("State"), "State", family)

    def set_attributes(self, new_attributes: "dict | Parameters | SimulationParameters | State") -> "FFIAF":
        """A copy of this module with the given attributes replaced.

        **Arguments:** `new_attributes`: a dict with any of the keys of `parameters()`,
        `simulation_parameters()` and `state()` (e.g. the `new_state` of a call), or a
        [`jaxiaf.Parameters`][] / [`jaxiaf.SimulationParameters`][] / [`jaxiaf.State`][]. Per-neuron
        values (parameters and the state's `v` and other variables) may be scalars, broadcast to (N,).

        `dt` can change only while the state's `step` is 0 (`t = step * dt` would jump otherwise): call
        `reset_time()` first. State values are checked: `v` finite, `since_spike` and `step` non-negative
        integers, `key` one PRNG key. A layer with its own equations keeps the integrator it was built
        with (its statements are generated for it) and takes its noise from its `xi` terms: it has no
        `noise_std`.

        **Raises:** `ValueError` for an unknown name, a wrong shape or a bad value (`EquinoxRuntimeError`
        for a traced value, when the module is evolved); `TypeError` for a wrong type.
        """
        new_attributes = as_attributes(new_attributes, self.sim.model)
        if not isinstance(new_attributes, dict):
            raise TypeError(f"`new_attributes` must be a dict; got {type(new_attributes).__name__}.")
        model = self.sim.model
        p, s, st = (self._named_values(kind) for kind in FAMILIES)
        unknown = sorted(set(new_attributes) - set(p) - set(s) - set(st))
        if unknown:
            raise ValueError(
                f"Unknown attribute(s) {unknown} for `set_attributes`; allowed: {sorted({*p, *s, *st})}."
                + _named.missing_hint(model, unknown)
            )
        for group in (p, s, st):
            group.update({k: v for k, v in new_attributes.items() if k in group})
        n = self.size_out
        changed = set(new_attributes)
        params = self.params
        if changed & set(p):
            weights = _convert.weights(p["weights"])
            if weights.shape != self.shape:
                raise ValueError(f"`weights` must keep shape {self.shape}; got {weights.shape}.")
            params = eqx.tree_at(lambda q: q.weights, params, weights)
            params = _named.with_values(model, params, {k: p[k] for k in changed & set(p)}, n)
        state = _make_state(st, n, model) if changed & set(st) else self.neuron_state
        sim = self.sim
        if changed & set(s):
            noise = s.get("noise_std", sim.noise_std)
            refractory = s.get("refractory", sim.refractory)
            method = _named.integrator(model, s["integrator_name"])
            sim = _make_sim(n, s["dt"], noise, refractory, method, model, True, sim.input_sampling)
            sim = eqx.tree_at(lambda q: q.dt, sim, _dt_change(self.sim.dt, sim.dt, state.step))
        return eqx.tree_at(lambda m: (m.params, m.sim, m.neuron_state), self, (params, sim, state))

    def reset_state(self) -> "FFIAF":
        """A copy with the initial state: `v = v_rest` (with own equations: if declared, else 0; their
        other state variables 0) and no neuron refractory; the key and the step count are kept."""
        state = self.neuron_state
        fresh = _named.initial_state(self.sim.model, self.params, {}, self.size_out, state.key, state.step)
        return eqx.tree_at(lambda m: m.neuron_state, self, fresh)

    def reset_time(self) -> "FFIAF":
        """A copy with the step count (time) set to 0."""
        return eqx.tree_at(lambda m: m.neuron_state.step, self, jnp.zeros_like(self.neuron_state.step))

    def reset_all(self) -> "FFIAF":
        """A copy with state and time reset: evolving it again repeats the first evolution exactly."""
        return self.reset_state().reset_time()


def as_attributes(new_attributes, model=None):
    """A [`jaxiaf.Parameters`][], [`jaxiaf.SimulationParameters`][] or [`jaxiaf.State`][] (of a layer
    whose `sim.model` is `model`) as the dict `set_attributes` takes (entries by the equations' names; of
    simulation parameters, those the dynamics read); anything else unchanged."""
    if isinstance(new_attributes, SimulationParameters):
        return {k: getattr(new_attributes, k) for k in _named.simulation_names(new_attributes.model)}
    if isinstance(new_attributes, State):
        return _named.state_by_name(model, new_attributes)
    if isinstance(new_attributes, Parameters):
        return new_attributes.named()
    return new_attributes


def _check_given(model, page: dict) -> None:
    """`ValueError` for a page argument given to a layer whose equations do not use it (E11): a parameter
    they do not declare, or a `noise_std` (own equations take their noise from `xi` terms)."""
    used = set(_named.declared(model).parameter_names) | set(_named.simulation_names(model))
    ignored = sorted(k for k, v in page.items() if given(v) and k not in used)
    if ignored:
        raise ValueError(
            f"FFIAF: {ignored} given, but the layer's equations do not use them; "
            + _named.missing_hint(model, ignored).strip()
        )


def _make_sim(
    n, dt, noise_std, refractory, integrator_name, model=None, noisy=True, input_sampling="held"
) -> SimulationParameters:
    """The simulation parameters; `noisy=False` where `noise_std` is the constructor's default 0 (not a
    value to draw noise for, also under `jit`, where it would be a tracer)."""
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
        noisy=noisy and "noise_std" in _named.simulation_names(model) and _convert.is_noisy(noise),
        model=model,
        input_sampling=input_sampling,
    )


def _make_state(values: dict, n: int, model=None) -> State:
    since = _convert.steps("since_spike", values["since_spike"], (n,)).astype(jnp.int32)
    step = _convert.steps("step", values["step"], ())
    units, primary = dict(_named.declared(model).states), _named.primary(model)
    extra = {k: _convert.state_vector(k, values[k], units[k], n) for k in units if k != primary}
    v = _convert.state_vector(primary, values[primary], units[primary], n)
    return State(v=v, since_spike=since, key=_convert.prng_key(values["key"]), step=step, extra=extra)


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


@eqx.filter_jit
def _run(mod: FFIAF, x, record: bool, unroll: int, checkpoint_every):
    """The module's evolve: `x` is checked here, by name; `evolve` checks the rest (values, stability,
    singular updates, and `currents` = `x @ weights`, which can overflow)."""
    state = mod.neuron_state
    state = eqx.tree_at(lambda s: s.v, state, _checks.tie_input_check(state.v, x, "x"))
    params = eqx.tree_at(lambda p: p.weights, mod.params, _checks.traced("weights", mod.params.weights))
    options = dict(record=record, unroll=unroll, surrogate=mod.surrogate, checkpoint_every=checkpoint_every)
    return layer_call(params, mod.sim, state, x, **options)


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
    _generated.refuse_singular(mod.params, mod.sim, constants)
    spikes, new_state, rec, finite = _run_unchecked(mod, x, record, unroll, checkpoint_every, constants)
    if not bool(finite):
        raise ValueError(_checks.input_message("x @ weights"))
    if bool(np.asarray(_divergence.diverged(new_state)).any()):
        rec = rec if record else _run_unchecked(mod, x, True, unroll, checkpoint_every, constants)[2]
        named = {k: v for k, v in mod.parameters().items() if k != "weights"}
        raise ValueError(_divergence.message(named, new_state, rec, float(mod.sim.dt)))
    return spikes, new_state, rec


@eqx.filter_jit(compiler_options=COMPILER_OPTIONS)
def _run_unchecked(mod: FFIAF, x, record: bool, unroll: int, checkpoint_every, constants):
    params = mod.params
    currents = jnp.matmul(x.astype(params.weights.dtype), params.weights, precision=jax.lax.Precision.HIGHEST)
    finite = jnp.isfinite(jnp.sum(currents * 0))
    unchecked = dict(record=record, check=False, constants=constants, unroll=unroll)
    unchecked.update(surrogate=mod.surrogate, checkpoint_every=checkpoint_every)
    return (*evolve(params, mod.sim, mod.neuron_state, currents, **unchecked), finite)
