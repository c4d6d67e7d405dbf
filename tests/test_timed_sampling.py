"""The default equations under `input_sampling="timed"` (Brian2's `TimedArray` rule, Rockpool's read) on
the fast path: bit-identical with the generated statements and with Brian2 for every integrator, and
`FFIAFBrian` (timed by default) reproducing a Brian2 replay of Rockpool's layer spike for spike."""

import equinox as eqx
import jax.numpy as jnp
import numpy as np
import pytest

import brian_ref
import jaxiaf
from jaxiaf._core.pytrees import SimulationParameters

pytestmark = pytest.mark.brian
INTEGRATORS = ["rk4", "rk2", "euler", "exponential_euler", "exact"]
DT = 1e-4


def _grazing(seed: int, n: int, t: int):
    """Random per-neuron values and a (t, n) input that keeps `v` near the threshold: `v_rest + bias`
    within 1 mV of `v_thresh`, inputs of a few mA (mV), so that many spikes are decided by a small margin."""
    rng = np.random.default_rng(seed)
    v_rest = rng.uniform(-0.07, -0.06, n)
    v_thresh = rng.uniform(-0.056, -0.05, n)
    values = dict(
        bias=v_thresh - v_rest + rng.uniform(-5e-4, 1.5e-3, n),
        tau_mem=rng.uniform(0.003, 0.05, n),
        v_thresh=v_thresh,
        v_reset=rng.uniform(-0.07, -0.06, n),
        v_rest=v_rest,
        refractory=rng.integers(0, 20, n) * DT,
        dt=DT,
    )
    return values, rng.normal(0.0, 1e-2, (t, n)) * rng.uniform(0.2, 1.0, n)


def _generated(mod: jaxiaf.FFIAF, method: str):
    """`mod`'s pytrees with the default equations run through the generated statements, `I_inp(t, i)`
    not held (`brian_ref`'s equations without `(constant over dt)`, as the kernels were derived from)."""
    text = brian_ref._layer._EQUATIONS.replace(" (constant over dt)", "")
    model = jaxiaf.model(text, integrator_name=method, input_sampling="timed")
    p = mod.params
    extra = {"Ib": p.bias, "tau_m": p.tau_mem, "r_m": jnp.ones_like(p.bias), "refr": jnp.zeros_like(p.bias)}
    params = eqx.tree_at(lambda q: q.extra, p, extra)
    sim = SimulationParameters(mod.sim.dt, mod.sim.noise_std, mod.sim.refractory, model.method, False, model)
    return params, sim


@pytest.mark.parametrize("method", INTEGRATORS)
def test_timed_kernels_equal_the_generated_statements(method):
    """Fast path (page names, no model) and generated statements, both timed: spikes and the refractory
    counters identical, `v` bit-identical in float64 on random grazing inputs. Except `exact`'s `v`,
    within 1e-15 V: its generated statement computes `exp(-dt*int(not_refractory)/tau_m)` every step
    with XLA's `exp` (an ulp from NumPy's on some values), where the fast path, like Brian2, uses NumPy's
    (`test_timed_layer_matches_brian2_timed_array` holds the fast path to Brian2 bit for bit)."""
    values, currents = _grazing(INTEGRATORS.index(method), 120, 1500)
    values.pop("refractory")  # the generated model's `refr` is 0: compare without a refractory period
    mod = jaxiaf.FFIAF(np.eye(120), integrator_name=method, input_sampling="timed", **values)
    assert mod.sim.model is None and mod.input_sampling == "timed" and mod.bias.shape == (120,)
    currents = jnp.asarray(currents)
    fast, state, rec = jaxiaf.evolve(
        mod.params, mod.sim, mod.neuron_state, currents, record=True, input_sampling="timed"
    )
    params, sim = _generated(mod, method)
    gen, state2, rec2 = jaxiaf.evolve(params, sim, mod.neuron_state, currents, record=True)
    assert np.asarray(fast).sum() > 100
    np.testing.assert_array_equal(np.asarray(fast), np.asarray(gen))
    if method == "exact":
        np.testing.assert_allclose(np.asarray(rec["v"]), np.asarray(rec2["v"]), rtol=0, atol=1e-15)
    else:
        np.testing.assert_array_equal(np.asarray(rec["v"]), np.asarray(rec2["v"]))
    np.testing.assert_array_equal(np.asarray(state.since_spike), np.asarray(state2.since_spike))


@pytest.mark.parametrize("method", INTEGRATORS)
def test_timed_layer_matches_brian2_timed_array(method):
    """`FFIAF(..., input_sampling="timed")` against Brian2 reading `I_inp(t, i)` at each stage time
    (`brian_ref`, `input_sampling="timed"`): 100 % identical trains, bit-identical `v`, with refractory
    periods, on random grazing inputs; under rk4 the held read gives other trains on the same input."""
    seed = 10 + INTEGRATORS.index(method)
    values, currents = _grazing(seed, 60, 1500)
    mod = jaxiaf.FFIAF(np.eye(60), integrator_name=method, input_sampling="timed", **values)
    spikes, _, rec = mod(currents, record=True)
    ref = brian_ref.FFIAFBrian2(np.eye(60), integrator_name=method, input_sampling="timed", **values)
    out = ref.evolve(currents=currents)
    assert out.raster().sum() > 100
    np.testing.assert_array_equal(np.asarray(spikes), out.raster())
    np.testing.assert_array_equal(np.asarray(rec["v"]), out.v)
    held = jaxiaf.FFIAF(np.eye(60), integrator_name=method, **values)(currents)[0]
    assert (method == "rk4") == (not np.array_equal(np.asarray(held), out.raster()))


def _rockpool_replay(weights, x, values, method="rk4"):
    """Rockpool's `FFIAFBrian` as Brian2 runs it: its equations (`eqNeuronIAFFF`, `I_inp(t, i)` a
    `TimedArray` of `x @ weights`), threshold, reset and refractoriness; the (T, N) raster and `v`."""
    import brian2 as b2

    b2.set_device("runtime")
    b2.prefs.codegen.target = "numpy"
    b2.start_scope()
    b2.defaultclock.dt = DT * b2.second
    table = b2.TimedArray((x @ weights) * b2.amp, dt=DT * b2.second)
    group = b2.NeuronGroup(
        weights.shape[1], jaxiaf.DEFAULT_NEURON_EQ, threshold="v > v_thresh", reset="v = v_reset",
        refractory=values["refractory"] * b2.second, method=method, namespace={"I_inp": table},
    )  # fmt: skip
    group.I_bias, group.tau_m = values["bias"] * b2.amp, values["tau_mem"] * b2.second
    group.v_thresh, group.v_reset = values["v_thresh"] * b2.volt, values["v_reset"] * b2.volt
    group.v_rest, group.r_m = values["v_rest"] * b2.volt, 1 * b2.ohm
    group.v = values["v_rest"] * b2.volt
    spikes, trace = b2.SpikeMonitor(group), b2.StateMonitor(group, "v", record=True, when="end")
    b2.Network(group, spikes, trace).run(x.shape[0] * DT * b2.second, namespace={})
    raster = np.zeros((x.shape[0], weights.shape[1]), bool)
    raster[np.round(np.asarray(spikes.t / b2.second) / DT).astype(int), np.asarray(spikes.i)] = True
    return raster, np.asarray(trace.v / b2.volt).T


@pytest.mark.parametrize("seed", [0, 1])
def test_ffiafbrian_reproduces_rockpools_layer(seed):
    """`FFIAFBrian` (rk4 and `input_sampling="timed"` by default) against a Brian2 replay of Rockpool's
    layer, a `TSContinuous` input sampled on the dt grid: spike for spike and `v` bit for bit; the held
    read (`FFIAF`'s default) moves spikes on the same input, so the comparison can fail."""
    rng = np.random.default_rng(100 + seed)
    values, _ = _grazing(200 + seed, 30, 1)
    values["refractory"] = float(rng.integers(0, 10)) * DT  # Rockpool's layer takes one period
    values["bias"] = values["bias"] + 2e-3
    weights = rng.normal(0.0, 1.0, (3, 30)) * 1.5e-2
    num_steps = 1000
    times = np.arange(num_steps + 1) * DT  # the layer evolves over the series' duration: num_steps steps
    ts = jaxiaf.TSContinuous(times, rng.normal(0.0, 1.0, (num_steps + 1, 3)), interp_kind="linear")
    x = ts(times[:-1])
    layer = jaxiaf.FFIAFBrian(weights, **values)
    assert layer.integrator_name == "rk4"
    events, _, rec = layer(ts, record=True)
    raster, v = _rockpool_replay(weights, x, values)
    assert raster.sum() > 50
    np.testing.assert_array_equal(events.raster(DT, t_start=0.0, num_timesteps=num_steps), raster)
    np.testing.assert_array_equal(rec["v"].samples, v)
    held = jaxiaf.FFIAFBrian(weights, input_sampling="held", **values)(ts)[0]
    assert not np.array_equal(held.raster(DT, t_start=0.0, num_timesteps=num_steps), raster)


@pytest.mark.parametrize("sampling", ["held", "timed"])
def test_chunks_differ_from_one_call_only_where_rk4_reads_the_next_row(sampling):
    """A subthreshold layer evolved in two calls: under `"timed"` rk4's last step of the first call reads
    its own row again (the next call's first row is not known), so `v` differs from one call from
    that step on; under `"held"` the two are bit-identical."""
    values, currents = _grazing(7, 20, 300)
    values.update(bias=0.0, refractory=0.0)
    mod = jaxiaf.FFIAF(np.eye(20), integrator_name="rk4", input_sampling=sampling, **values)
    _, _, whole = mod(currents, record=True)
    _, state, first = mod(currents[:150], record=True)
    _, _, second = mod.set_attributes(state)(currents[150:], record=True)
    parts = np.concatenate([first["v"], second["v"]])
    np.testing.assert_array_equal(parts[:149], np.asarray(whole["v"])[:149])
    assert np.array_equal(parts, np.asarray(whole["v"])) == (sampling == "held")


def test_input_sampling_refusals():
    """A bad `input_sampling` is refused by name; `evolve` refuses one that contradicts a layer's own
    equations."""
    with pytest.raises(ValueError, match="`input_sampling` must be 'held' or 'timed'"):
        jaxiaf.FFIAF(np.eye(2), input_sampling="next")
    with pytest.raises(ValueError, match="`input_sampling` must be 'held' or 'timed'"):
        jaxiaf.FFIAFBrian(np.eye(2), input_sampling=None)
    mod = jaxiaf.FFIAF(np.eye(2), integrator_name="rk4")
    x = jnp.zeros((3, 2))
    with pytest.raises(ValueError, match="`input_sampling` must be None, 'held' or 'timed'"):
        jaxiaf.evolve(mod.params, mod.sim, mod.neuron_state, x, input_sampling="Timed")
    eqs = "dv/dt = (-v + I_inp(t, i)*ohm)/(10*ms) : volt"
    own = jaxiaf.FFIAF(
        np.eye(2), neuron_eq=eqs, threshold="v > 1*mV", reset="v = 0*mV", input_sampling="timed"
    )
    with pytest.raises(ValueError, match="built with `input_sampling='timed'`"):
        jaxiaf.evolve(own.params, own.sim, own.neuron_state, x, input_sampling="held")


def test_sweeps_fits_and_files_keep_the_layers_input_sampling(tmp_path):
    """The read is a static field of the simulation parameters: a sweep's rows, a fit's evaluations and a
    saved layer read the input as the layer does."""
    rng = np.random.default_rng(1)
    x = rng.uniform(0.0, 0.02, (2000, 3))
    timed = jaxiaf.FFIAF(rng.uniform(0.5, 1.5, (3, 20)), bias=0.0, input_sampling="timed")
    spikes = np.asarray(timed(x)[0])
    held = jaxiaf.FFIAF(timed.params.weights, bias=0.0)
    assert np.any(spikes != np.asarray(held(x)[0]))  # the two reads differ on this input
    swept = jaxiaf.sweep(timed, {"bias": [0.0, 0.001]}, x, outputs=("counts",))
    np.testing.assert_array_equal(swept.counts[0], spikes.sum(0))
    jaxiaf.save(timed, tmp_path / "timed.npz")
    loaded = jaxiaf.load(tmp_path / "timed.npz")
    assert loaded.input_sampling == "timed"
    np.testing.assert_array_equal(loaded(x)[0], spikes)
    layer = jaxiaf.FFIAFBrian(np.eye(2))
    jaxiaf.save(layer, tmp_path / "brian.npz")
    assert layer.module.input_sampling == jaxiaf.load(tmp_path / "brian.npz").module.input_sampling == "timed"
