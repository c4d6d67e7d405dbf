"""Property-based tests (hypothesis): hostile values through the layer, the core and the metrics.

Every call either returns a correct result (right shapes and dtypes, no NaN) or raises a clear error
(`ValueError`, `TypeError` or `EquinoxRuntimeError`) whose message names the argument at fault; never a
crash from inside JAX and never a silent NaN. Shapes are drawn from a few values so that the compiled loops
are reused; `max_examples` keeps the file near 60 s on 2 busy cores (348 cases).
"""

import contextlib
import re

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jaxiaf
from jaxiaf import metrics

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
CLEAR = (ValueError, TypeError, eqx.EquinoxRuntimeError, jax.errors.JaxRuntimeError)

# Values at and beyond the limits of every argument; NaN and inf everywhere.
EDGES = [0.0, -0.0, 1e-30, -1e-30, 1e30, -1e30, np.nan, np.inf, -np.inf, 5e-324]
TYPICAL = {
    "bias": [0.0, 0.012, -0.01],
    "dt": [1e-4, 3e-5],
    "noise_std": [0.0, 1e-3],
    "tau_mem": [0.02, 1e-3],
    "v_thresh": [-0.055, -0.06],
    "v_reset": [-0.065, -0.07],
    "v_rest": [-0.065],
    "refractory": [0.0, 2e-3, 2.5e-4],
}
INTEGRATORS = ["rk4", "rk2", "euler", "exponential_euler", "exact"]
N_IN, NUM_STEPS = 2, 6


def _value(name, n):
    """A value of the argument `name` for N = n neurons: typical or extreme, scalar or per neuron."""
    scalar = st.sampled_from(TYPICAL[name]) | st.sampled_from(EDGES)
    if name == "dt":
        return scalar
    return scalar | st.lists(scalar, min_size=n, max_size=n).map(np.array)


def _outcome(call, names):
    """`call()`, or None if it raised a clear error naming one of `names`; anything else fails the test."""
    try:
        return call()
    except CLEAR as error:
        message = str(error)
        assert any(f"`{name}`" in message for name in names), (
            f"{type(error).__name__} names none of {names}: {message}"
        )
        return None


def _check_run(out, t, n, dtype):
    spikes, state, rec = out
    assert spikes.shape == (t, n) and spikes.dtype == jnp.bool_
    assert rec["v"].shape == (t, n) and rec["v"].dtype == dtype
    assert np.isfinite(np.asarray(rec["v"])).all() and np.isfinite(np.asarray(state["v"])).all(), "silent NaN"
    np.testing.assert_array_equal(rec["spikes"], spikes)


@st.composite
def layers(draw):
    n = draw(st.sampled_from([1, 3]))
    kwargs = {name: draw(_value(name, n)) for name in TYPICAL}
    kwargs["integrator_name"] = draw(st.sampled_from(INTEGRATORS))
    weights = draw(st.sampled_from([0.01, -0.02, 1e30, np.nan, 0.0]))
    return n, np.full((N_IN, n), weights), kwargs


# Where NaN may come from, so that an error naming one of these is a clear one.
LAYER_NAMES = ["weights", *TYPICAL, "integrator_name", "x", "v", "currents", "dt / tau_mem", "step"]


@settings(max_examples=80, **SETTINGS)
@given(layer=layers(), t=st.sampled_from([0, NUM_STEPS]), x_value=st.sampled_from([1.0, 0.0, np.nan, 1e30]))
def test_layer_returns_a_result_or_a_clear_error(layer, t, x_value):
    n, weights, kwargs = layer
    mod = _outcome(lambda: jaxiaf.FFIAF(weights, **kwargs), LAYER_NAMES)
    if mod is None:
        return
    x = np.full((t, N_IN), x_value)
    out = _outcome(lambda: jax.block_until_ready(mod(x, record=True)), LAYER_NAMES)
    if out is not None:
        _check_run(out, t, n, mod.bias.dtype)
        advanced = mod.set_attributes(out[1])
        assert int(advanced.neuron_state.step) == t


def _with(base, bias, tau, x):
    return base.set_attributes({"bias": bias, "tau_mem": tau})(x, record=True)


_with_jit = eqx.filter_jit(_with)
_with_vmap = eqx.filter_jit(eqx.filter_vmap(_with, in_axes=(None, 0, 0, None)))


@settings(max_examples=40, **SETTINGS)
@given(
    n=st.just(3),
    bias=st.sampled_from([0.012, np.nan, 1e30, -np.inf]),
    tau=st.sampled_from([0.02, 1e-6, 0.0, -1.0, np.inf, 5e-324]),
    t=st.sampled_from([0, NUM_STEPS]),
)
def test_layer_under_jit_and_vmap_agrees_or_names_the_argument(n, bias, tau, t):
    base, x = jaxiaf.FFIAF(np.full((N_IN, n), 0.01)), jnp.ones((t, N_IN))
    b, tau = jnp.full((n,), bias), jnp.full((n,), tau)
    eager = _outcome(lambda: _with(base, np.asarray(b), np.asarray(tau), x), LAYER_NAMES)
    jitted = _outcome(lambda: jax.block_until_ready(_with_jit(base, b, tau, x)), LAYER_NAMES)
    batched = _outcome(lambda: jax.block_until_ready(_with_vmap(base, b[None], tau[None], x)), LAYER_NAMES)
    if t:  # with no step, a compiled call never reads the values: it returns the unchanged state
        assert (eager is None) == (jitted is None) == (batched is None)
    if eager is not None:
        _check_run(eager, t, n, jnp.float64)
        np.testing.assert_array_equal(jitted[2]["v"], eager[2]["v"])
        np.testing.assert_array_equal(batched[2]["v"][0], eager[2]["v"])


STATE_VALUES = {
    "v": st.sampled_from([-0.06, 0.0, np.nan, np.inf, 1e30]).map(lambda v: np.full(3, v)),
    "since_spike": st.sampled_from([0, 1, 5, -1, 2**30, 2**31 - 1]).map(lambda k: np.full(3, k, np.int64)),
    "step": st.sampled_from([0, 7, -1, 2**31 - 10, 2**40, 2.5, np.nan]),
    "key": st.sampled_from(["typed", "raw", "split", "int", "float"]),
}
KEYS = {
    "typed": jax.random.key(3),
    "raw": jax.random.PRNGKey(3),
    "split": jax.random.split(jax.random.key(3), 2),
    "int": 3,
    "float": np.zeros(2),
}


@settings(max_examples=60, **SETTINGS)
@given(values=st.fixed_dictionaries({}, optional=STATE_VALUES), noisy=st.booleans())
def test_state_values_are_used_or_refused(values, noisy):
    if "key" in values:
        values["key"] = KEYS[values["key"]]
    mod = jaxiaf.FFIAF(np.full((N_IN, 3), 0.01), noise_std=1e-3 if noisy else 0.0)
    names = list(STATE_VALUES) + ["currents"]
    changed = _outcome(lambda: mod.set_attributes(values), names)
    if changed is None:
        return
    out = _outcome(lambda: jax.block_until_ready(changed(np.ones((NUM_STEPS, N_IN)), record=True)), names)
    if out is not None:
        _check_run(out, NUM_STEPS, 3, jnp.float64)
        assert int(out[1]["step"]) == int(changed.neuron_state.step) + NUM_STEPS


INPUTS = {
    "nan": np.full((NUM_STEPS, N_IN), np.nan),
    "inf": np.full((NUM_STEPS, N_IN), -np.inf),
    "int64 2**40": np.full((NUM_STEPS, N_IN), 2**40, np.int64),
    "bool": np.ones((NUM_STEPS, N_IN), bool),
    "complex": np.ones((NUM_STEPS, N_IN), complex),
    "strings": np.full((NUM_STEPS, N_IN), "a"),
    "empty": np.zeros((0, N_IN)),
    "1-D": np.ones(NUM_STEPS),
    "wrong channels": np.ones((NUM_STEPS, N_IN + 1)),
    "object": np.array([[None] * N_IN] * NUM_STEPS),
}


@settings(max_examples=30, **SETTINGS)
@given(kind=st.sampled_from(sorted(INPUTS)), x64=st.booleans())
def test_hostile_inputs(kind, x64):
    x = INPUTS[kind]
    with contextlib.nullcontext() if x64 else jax.enable_x64(False):
        mod = jaxiaf.FFIAF(np.full((N_IN, 3), 1e-14), bias=0.0)
        out = _outcome(lambda: mod(x, record=True), ["x"])
        if out is not None:
            _check_run(out, x.shape[0], 3, mod.bias.dtype)
            expected = mod(np.asarray(x, float), record=True)[2]["v"]
            np.testing.assert_array_equal(out[2]["v"], expected)  # no wrapping of big integers
    assert (out is None) == (kind in {"nan", "inf", "complex", "strings", "1-D", "wrong channels", "object"})


RASTER_DTYPES = [bool, np.int32, np.float32]
METRIC_NAMES = ["model", "target", "v", "dt", "delta", "tau", "dt / tau", "t_start", "weights", "trace_mse"]


@st.composite
def raster_pairs(draw):
    t = draw(st.sampled_from([0, 40]))
    cols = draw(st.sampled_from([(), (3,)]))
    dtype = draw(st.sampled_from(RASTER_DTYPES))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    model, target = (rng.random((t, *cols)) < 0.2 for _ in range(2))
    model, target = model.astype(dtype), target.astype(dtype)
    poison = draw(st.sampled_from([None, np.nan, np.inf]))
    if poison is not None and t and np.issubdtype(dtype, np.floating):
        model.reshape(-1)[0] = poison
    return model, target


POSITIVE = st.sampled_from([1e-4, 2e-3, 1.0]) | st.sampled_from(EDGES)


METRICS = {
    "gamma_factor": lambda m, t, dt, w: metrics.gamma_factor(m, t, dt, w),
    "coincidences": lambda m, t, dt, w: metrics.coincidences(m, t, dt, w),
    "van_rossum": lambda m, t, dt, w: metrics.van_rossum(m, t, dt, w),
    "trace_mse": lambda m, t, dt, w: metrics.trace_mse(m, t, dt, t_start=w),
    "spike_count_error": lambda m, t, dt, w: metrics.spike_count_error(m, t),
}
JITTED_METRICS = {name: eqx.filter_jit(f) for name, f in METRICS.items()}


@settings(max_examples=80, **SETTINGS)
@given(
    pair=raster_pairs(),
    which=st.sampled_from(sorted(METRICS)),
    dt=POSITIVE,
    width=POSITIVE,
    traced=st.booleans(),
)
def test_metrics_return_a_result_or_a_clear_error(pair, which, dt, width, traced):
    model, target = pair
    if traced:
        call = lambda: JITTED_METRICS[which](model, target, jnp.asarray(dt), jnp.asarray(width))
    else:
        call = lambda: METRICS[which](model, target, dt, width)
    out = _outcome(lambda: jax.block_until_ready(call()), METRIC_NAMES)
    if out is not None:
        assert out.shape == model.shape[1:]
        assert np.isfinite(np.asarray(out)).all(), f"silent NaN/inf from {which}: {out}"


@settings(max_examples=40, **SETTINGS)
@given(
    dt=st.sampled_from([1e-4, 0.0, np.nan]),
    first=st.sampled_from([0, 3, 2**31 - 2]),
    num_steps=st.sampled_from([0, 4]),
    currents=st.sampled_from([0.02, np.nan, 1e30]),
)
def test_core_evolve_returns_a_result_or_a_clear_error(dt, first, num_steps, currents):
    mod = jaxiaf.FFIAF(np.full((N_IN, 3), 0.01))
    state = eqx.tree_at(lambda s: s.step, mod.neuron_state, jnp.asarray(first))
    sim = eqx.tree_at(lambda s: s.dt, mod.sim, jnp.asarray(dt))
    names = ["dt", "currents", "v", "step", "dt / tau_mem"]
    run = lambda: jax.block_until_ready(
        jaxiaf.evolve(mod.params, sim, state, jnp.full((num_steps, 3), currents), record=True)
    )
    out = _outcome(run, names)
    if out is not None:
        _check_run((out[0], {"v": out[1].v}, out[2]), num_steps, 3, jnp.float64)


@settings(max_examples=20, **SETTINGS)
@given(value=st.sampled_from([0.01, np.nan, np.inf, -1.0, 1e30]), name=st.sampled_from(["bias", "tau_mem"]))
def test_sweep_values_give_a_result_or_a_clear_error(value, name):
    mod = jaxiaf.FFIAF(np.full((N_IN, 3), 0.01))
    batch = {name: np.array([TYPICAL[name][0], value])}
    out = _outcome(lambda: jaxiaf.sweep(mod, batch, np.ones((NUM_STEPS, N_IN)), progress=False), [name])
    if out is not None:
        assert np.asarray(out.counts).shape == (2, 3)


@pytest.mark.parametrize("duration", [0.0, 1e-5, 5e-4, -1e-3, np.nan, np.inf])
def test_timed_layer_durations(duration):
    layer = jaxiaf.FFIAFBrian(np.full((N_IN, 3), 0.01))
    ts = jaxiaf.TSContinuous.from_clocked(np.ones((10, N_IN)), dt=layer.dt)
    out = _outcome(lambda: layer(ts, duration=duration), ["duration"])
    if out is not None:
        assert re.search("TSEvent", type(out[0]).__name__)
        assert out[1]["step"] == int(np.floor(duration / layer.dt + 1e-6))


SAMPLES = {
    "finite": np.linspace(0.0, 2.0, 11)[:, None],
    "nan": np.r_[np.ones(5), np.nan, np.ones(5)][:, None],
    "inf": np.r_[np.ones(5), -np.inf, np.ones(5)][:, None],
    "complex": np.ones((11, 1)) * 1j,
    "int64 2**40": np.full((11, 1), 2**40, np.int64),
    "bool": np.ones((11, 1), bool),
}


@settings(max_examples=24, **SETTINGS)
@given(kind=st.sampled_from(sorted(SAMPLES)), interp=st.sampled_from(["previous", "linear"]))
def test_time_series_samples_through_the_timed_layer(kind, interp):
    layer = jaxiaf.FFIAFBrian(np.full((1, 3), 0.01), bias=0.0)
    names = ["samples", "times", "ts_input", "x"]
    ts = _outcome(lambda: jaxiaf.TSContinuous(np.arange(11) * 1e-4, SAMPLES[kind], interp_kind=interp), names)
    out = None if ts is None else _outcome(lambda: layer(ts, record=True), names)
    assert (out is None) == (kind in {"nan", "inf", "complex"})
    if out is not None:
        v = np.asarray(out[2]["v"].samples)
        assert v.shape == (10, 3) and np.isfinite(v).all()
