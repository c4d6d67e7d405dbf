"""Spiking input and recurrent connections (`evolve(events=...)`) against Brian2's `Synapses(on_pre=...)`
(`brian_ref.SynapticLayer`, numpy target, float64): identical spike trains and bit-identical state on
seeded random scenarios of four kinds, five each: feedforward spike input, input with per-synapse delays,
recurrent connections with delays, and a conductance-based model with an exponential synapse."""

import jax.numpy as jnp
import numpy as np
import pytest

import jaxiaf
import jaxiaf.synapses
from jaxiaf import evolve
from jaxiaf._equations.default import DEFAULT_NEURON_EQ
from jaxiaf.synapses import Events, Synapses, empty_pending

CONDUCTANCE = """dv/dt = (v_rest - v + R*I_inp + ge*(E_e - v) - gi*(v - E_i))/tau_m : volt (unless refractory)
dge/dt = -ge/tau_e : 1
dgi/dt = -gi/tau_i : 1
v_rest : volt
R : ohm
E_e : volt
E_i : volt
tau_m : second
tau_e : second
tau_i : second
v_thresh : volt
v_reset : volt"""
"""A conductance-based LIF with exponential excitatory and inhibitory synapses (`ge`, `gi` unitless)."""

KINDS = ("feedforward", "delays", "recurrent", "conductance")
INTEGRATORS = ("rk4", "euler", "exact", "rk2", "exponential_euler")
NUM_STEPS, DT, MAX_DELAY = 300, 1e-4, 3


def scenario(kind: str, seed: int) -> dict:
    """A random layer of one `kind` (`KINDS`) with its input raster; the same statics for every seed of a
    kind except the integrator of `feedforward`, so that a kind compiles once or twice."""
    rng = np.random.default_rng([23, KINDS.index(kind), seed])
    n_in, n = 6, 8
    spikes = rng.random((NUM_STEPS, n_in)) < rng.uniform(0.03, 0.15)
    delays_in = rng.integers(0, MAX_DELAY + 1, (n_in, n)) if kind in ("delays", "recurrent") else 0
    if kind == "conductance":
        values = dict(
            v_rest=-0.065, R=1.0, E_e=0.0, E_i=-0.08, tau_m=rng.uniform(0.01, 0.03, n),
            tau_e=rng.uniform(2e-3, 6e-3), tau_i=8e-3, v_thresh=-0.052, v_reset=rng.uniform(-0.07, -0.06, n),
        )  # fmt: skip
        ff = (rng.uniform(0, 0.4, (n_in, n)), delays_in, "ge += w")
        rec = (rng.uniform(0, 0.3, (n, n)), rng.integers(0, MAX_DELAY + 1, (n, n)), "gi += w")
        return dict(kind=kind, spikes=spikes, values=values, ff=ff, rec=rec, method="rk4", refractory=2e-4)
    values = dict(
        bias=rng.uniform(0.0, 0.011, n), tau_mem=rng.uniform(0.01, 0.03, n), v_thresh=-0.055,
        v_reset=rng.uniform(-0.07, -0.06, n), v_rest=-0.065,
    )  # fmt: skip
    ff = (rng.uniform(0, 6e-3, (n_in, n)), delays_in, "v += w")
    rec = None
    if kind == "recurrent":
        rec = (rng.uniform(-4e-3, 5e-3, (n, n)), rng.integers(0, MAX_DELAY + 1, (n, n)), "v += w")
    method = (
        INTEGRATORS[seed % 5] if kind == "feedforward" else {"delays": "exact", "recurrent": "euler"}[kind]
    )
    refractory = float(rng.choice([0.0, 1e-4, 3e-4, 5e-4]))
    return dict(kind=kind, spikes=spikes, values=values, ff=ff, rec=rec, method=method, refractory=refractory)


def _synapses(spec, max_spikes=None):
    if spec is None:
        return None
    return Synapses(spec[0], np.asarray(spec[1]), spec[2], max_delay=MAX_DELAY, max_spikes=max_spikes)


def run_jaxiaf(sc: dict, split: int | None = None, max_spikes: int | None = None):
    """`(raster, traces)` of the scenario in `jaxiaf` (two evolves, the first of `split` steps, if given;
    visiting only the spiking sources, at most `max_spikes` a step, if given)."""
    n = sc["ff"][0].shape[1]
    kwargs = dict(dt=DT, refractory=sc["refractory"], integrator_name=sc["method"])
    if sc["kind"] == "conductance":
        kwargs.update(neuron_eq=CONDUCTANCE, **sc["values"])
    else:
        kwargs.update(sc["values"])
    layer = jaxiaf.FFIAF(np.zeros((1, n)), **kwargs)
    ff, rec = _synapses(sc["ff"], max_spikes), _synapses(sc["rec"], max_spikes)
    state, pending = layer.neuron_state, empty_pending((n,), ff, rec)
    rasters, traces = [], []
    for rows in np.split(np.arange(NUM_STEPS), [split] if split else []):
        events = Events(jnp.asarray(sc["spikes"][rows]), ff, rec, pending)
        currents = jnp.zeros((len(rows), n))
        out, state, record, pending = evolve(
            layer.params, layer.sim, state, currents, events=events, record=True
        )
        rasters.append(np.asarray(out))
        traces.append({k: np.asarray(x) for k, x in record.items() if k != "spikes"})
    return np.concatenate(rasters), {k: np.concatenate([t[k] for t in traces]) for k in traces[0]}


def run_brian(sc: dict):
    """`(raster, traces)` of the scenario in Brian2 (`brian_ref.SynapticLayer`)."""
    brian_ref = pytest.importorskip("brian_ref")
    n = sc["ff"][0].shape[1]
    if sc["kind"] == "conductance":
        equations, parameters = CONDUCTANCE, sc["values"]
    else:
        v = sc["values"]
        equations = DEFAULT_NEURON_EQ
        parameters = dict(
            I_bias=v["bias"], tau_m=v["tau_mem"], v_thresh=v["v_thresh"], v_reset=v["v_reset"],
            v_rest=v["v_rest"], r_m=1.0,
        )  # fmt: skip
    layer = brian_ref.SynapticLayer(
        equations,
        refractory=sc["refractory"],
        method=sc["method"],
        parameters=parameters,
        dt=DT,
        feedforward=sc["ff"],
        recurrent=sc["rec"],
    )
    result = layer.evolve(sc["spikes"], n, init={"v": np.full(n, -0.065)})
    return result.raster(), result.traces


@pytest.mark.brian
@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("kind", KINDS)
def test_identical_to_brian2_synapses(kind, seed):
    """Float64: the same spikes at the same steps and every state variable bit-identical at every step."""
    sc = scenario(kind, seed)
    raster, traces = run_jaxiaf(sc)
    expected, expected_traces = run_brian(sc)
    assert raster.sum() > 5, "the scenario should make the layer spike"
    np.testing.assert_array_equal(raster, expected)
    assert set(traces) == set(expected_traces)
    for name, trace in traces.items():
        np.testing.assert_array_equal(trace, expected_traces[name], err_msg=name)


@pytest.mark.slow
@pytest.mark.brian
@pytest.mark.parametrize("kind", KINDS)
def test_identical_to_brian2_synapses_100_scenarios(kind):
    """As `test_identical_to_brian2_synapses` on the next 95 seeds of each kind (100 in all with it)."""
    for seed in range(5, 100):
        test_identical_to_brian2_synapses(kind, seed)


@pytest.mark.parametrize("kind", KINDS)
def test_visiting_only_the_spiking_sources_gives_the_same(kind):
    """`max_spikes`: the same spikes and bit-identical state as visiting every source (Brian2's, above),
    at a cost that grows with the spikes; more spiking sources in a step than `max_spikes` is an error."""
    sc = scenario(kind, 2)
    raster, traces = run_jaxiaf(sc)
    most = max(sc["spikes"].sum(axis=1).max(), raster.sum(axis=1).max() if sc["rec"] else 0)
    assert most < sc["spikes"].shape[1]  # fewer than the sources: the loop is shorter
    sparse_raster, sparse_traces = run_jaxiaf(sc, max_spikes=int(most))
    np.testing.assert_array_equal(sparse_raster, raster)
    for name, trace in traces.items():
        np.testing.assert_array_equal(sparse_traces[name], trace, err_msg=name)
    if kind == "feedforward":
        with pytest.raises(Exception, match="More than `max_spikes` = 1 sources spiked"):
            run_jaxiaf({**sc, "spikes": np.ones_like(sc["spikes"])}, max_spikes=1)


@pytest.mark.parametrize("kind", ["delays", "recurrent", "conductance"])
def test_two_evolves_equal_one(kind):
    """The spikes in transit at the end of an evolve (`pending`) are delivered by the next one: evolving
    in two calls gives the same spikes and bit-identical state as one."""
    sc = scenario(kind, 0)
    raster, traces = run_jaxiaf(sc)
    raster2, traces2 = run_jaxiaf(sc, split=137)
    np.testing.assert_array_equal(raster2, raster)
    for name, trace in traces.items():
        np.testing.assert_array_equal(traces2[name], trace, err_msg=name)


def _one_neuron(spikes, on_pre="v += w", refractory=0.0, weight=2e-3, **values):
    layer = jaxiaf.FFIAF(np.zeros((1, 1)), dt=DT, refractory=refractory, integrator_name="exact", **values)
    ff = Synapses(np.full((1, 1), weight), 0, on_pre)
    events = Events(jnp.asarray(spikes)[:, None], ff, None, empty_pending((1,), ff, None))
    currents = jnp.zeros((len(spikes), 1))
    out, _, record, _ = evolve(
        layer.params, layer.sim, layer.neuron_state, currents, events=events, record=True
    )
    return np.asarray(out)[:, 0], np.asarray(record["v"])[:, 0]


@pytest.mark.brian
def test_a_jump_in_the_step_of_a_spike_or_while_refractory_is_lost():
    """An input spike in every step: where the neuron spikes, the reset overwrites the jump (`v` ends the
    step at `v_reset` exactly); in the refractory steps after it (Brian2 writes an `(unless refractory)`
    variable only where not refractory) `v` stays there; elsewhere each step adds the weight. As Brian2."""
    num_steps, refractory = 60, 3e-4  # R = 3 steps: the 2 steps after a spike are refractory
    spikes = np.ones(num_steps, bool)
    raster, v = _one_neuron(spikes, refractory=refractory, bias=0.012)
    fired = np.flatnonzero(raster)
    assert len(fired) >= 3
    held = np.concatenate([fired + 1, fired + 2])
    held = held[held < num_steps]
    assert np.all(v[fired] == -0.065) and np.all(v[held] == -0.065)
    brian_ref = pytest.importorskip("brian_ref")
    layer = brian_ref.SynapticLayer(
        DEFAULT_NEURON_EQ,
        refractory=refractory,
        method="exact",
        parameters=dict(I_bias=0.012, tau_m=0.02, v_thresh=-0.055, v_reset=-0.065, v_rest=-0.065, r_m=1.0),
        dt=DT,
        feedforward=(np.full((1, 1), 2e-3), 0, "v += w"),
    )
    result = layer.evolve(spikes[:, None], 1, init={"v": np.full(1, -0.065)})
    np.testing.assert_array_equal(raster, result.raster()[:, 0])
    np.testing.assert_array_equal(v, result.traces["v"][:, 0])


def test_weights_batch_under_vmap():
    """`jax.vmap` over the input weights: each set gives what it gives alone, bit for bit (with `exact`:
    under `jax.vmap` the core's explicit integrators may differ from a single run by an ulp, events or
    not)."""
    import jax

    sc = scenario("recurrent", 1)
    n = sc["ff"][0].shape[1]
    layer = jaxiaf.FFIAF(
        np.zeros((1, n)), dt=DT, refractory=sc["refractory"], integrator_name="exact", **sc["values"]
    )
    rec = _synapses(sc["rec"])
    weights = jnp.stack([sc["ff"][0] * s for s in (0.5, 1.0, 1.5)])
    delays = np.asarray(sc["ff"][1])
    currents = jnp.zeros((NUM_STEPS, n))

    def run(w):
        ff = Synapses(w, delays, "v += w", max_delay=MAX_DELAY)
        events = Events(jnp.asarray(sc["spikes"]), ff, rec, empty_pending((n,), ff, rec))
        return evolve(layer.params, layer.sim, layer.neuron_state, currents, events=events, record=True)

    batched = jax.vmap(run)(weights)
    for b in range(3):
        out, _, record, _ = run(weights[b])
        np.testing.assert_array_equal(np.asarray(batched[0][b]), np.asarray(out))
        np.testing.assert_array_equal(np.asarray(batched[2]["v"][b]), np.asarray(record["v"]))
    assert len({int(np.asarray(batched[0][b]).sum()) for b in range(3)}) == 3


def test_gradient_of_the_voltage_with_respect_to_the_weights():
    """`v` is differentiable in the weights (no surrogate needed: the spikes' timing is held): the
    derivative of the summed trace of a layer that does not spike equals a central difference, in
    reverse and forward mode, with and without a bound `max_spikes`."""
    import jax

    spikes = np.zeros(50, bool)
    spikes[[5, 20, 21]] = True

    def total(w, max_spikes=None):
        layer = jaxiaf.FFIAF(np.zeros((1, 1)), dt=DT, integrator_name="exact", bias=0.0)
        ff = Synapses(jnp.reshape(w, (1, 1)), 0, "v += w", max_spikes=max_spikes)
        events = Events(jnp.asarray(spikes)[:, None], ff, None, empty_pending((1,), ff, None))
        currents = jnp.zeros((50, 1))
        _, _, record, _ = evolve(
            layer.params, layer.sim, layer.neuron_state, currents, events=events, record=True
        )
        return jnp.sum(record["v"])

    w, h = 1e-3, 1e-6
    grad = jax.grad(total)(w)
    assert grad > 0
    np.testing.assert_allclose(grad, (total(w + h) - total(w - h)) / (2 * h), rtol=1e-6)
    np.testing.assert_allclose(jax.jacfwd(total)(w), grad, rtol=1e-12)
    np.testing.assert_allclose(jax.grad(lambda w: total(w, 1))(w), grad, rtol=1e-12)


def test_refusals_name_the_argument():
    """Statements other than `x += w` / `x -= w`, bad weights or delays, a target that is not a state
    variable, a reset that reads a target, and a raster or pending spikes of the wrong shape."""
    with pytest.raises(ValueError, match="`on_pre`: each statement"):
        Synapses(np.ones((2, 3)), 0, "v = w")
    with pytest.raises(ValueError, match="writes a variable twice"):
        Synapses(np.ones((2, 3)), 0, "v += w; v -= w")
    with pytest.raises(ValueError, match="`weights` must be a"):
        Synapses(np.ones(3))
    with pytest.raises(ValueError, match="`delays` must be >= 0"):
        Synapses(np.ones((2, 3)), -1)
    with pytest.raises(ValueError, match="`delays` must be integer steps"):
        Synapses(np.ones((2, 3)), np.zeros((3, 2), int))
    layer = jaxiaf.FFIAF(np.zeros((1, 3)), dt=DT)
    currents = jnp.zeros((10, 3))

    def run(ff, spikes=None, pending=None, lay=layer):
        spikes = jnp.zeros((10, 2), bool) if spikes is None else spikes
        pending = empty_pending((3,), ff, None) if pending is None else pending
        return evolve(
            lay.params, lay.sim, lay.neuron_state, currents, events=Events(spikes, ff, None, pending)
        )

    with pytest.raises(ValueError, match="writes 'ge', which is not a state variable"):
        run(Synapses(np.ones((2, 3)), 0, "ge += w"))
    with pytest.raises(ValueError, match="`events.spikes` must be a bool raster of shape \\(10, 2\\)"):
        run(Synapses(np.ones((2, 3))), spikes=jnp.zeros((10, 3), bool))
    with pytest.raises(ValueError, match="`events.pending` must be"):
        run(Synapses(np.ones((2, 3)), 2), pending=(jnp.zeros((1, 2), bool), None))
    values = dict(v_rest=-0.065, R=1.0, E_e=0.0, E_i=-0.08, tau_m=0.02, tau_e=5e-3, tau_i=8e-3)
    reads = jaxiaf.FFIAF(
        np.zeros((1, 3)), dt=DT, neuron_eq=CONDUCTANCE, reset="v = v_reset; ge = 0.5*ge",
        v_thresh=-0.05, v_reset=-0.065, **values,
    )  # fmt: skip
    with pytest.raises(ValueError, match="which the reset statement"):
        run(Synapses(np.ones((2, 3)), 0, "ge += w"), lay=reads)


def test_the_synapses_guide_runs():
    """docs/guides/synapses.md: its blocks, run in order as one script."""
    import pathlib
    import re

    guide = pathlib.Path(__file__).parents[1] / "docs" / "guides" / "synapses.md"
    blocks = re.findall(r"```python\n(.*?)```", guide.read_text(), flags=re.S)
    assert len(blocks) == 5
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(guide), "exec"), namespace)


@pytest.mark.brian
@pytest.mark.parametrize("refractory", [5e-4, "ge > 0.02"])
def test_events_on_an_unless_refractory_variable_of_own_equations(refractory):
    """Recurrent `v -= w` on the conductance model's `(unless refractory)` `v`, with a refractory period
    and with a refractory condition: Brian2's conditional write, step for step."""
    sc = scenario("conductance", 7)
    sc["rec"] = (sc["rec"][0] * 0.02, sc["rec"][1], "v -= w")
    sc["refractory"] = refractory
    raster, traces = run_jaxiaf(sc)
    expected, expected_traces = run_brian(sc)
    assert raster.sum() > 5
    np.testing.assert_array_equal(raster, expected)
    for name, trace in traces.items():
        np.testing.assert_array_equal(trace, expected_traces[name], err_msg=name)


def test_a_batched_state_gives_each_entry_what_it_gives_alone():
    """A state with a leading batch axis (B, N) and a raster (T, B, N_in): each entry is its own run."""
    import jax

    sc = scenario("recurrent", 3)
    n = sc["ff"][0].shape[1]
    layer = jaxiaf.FFIAF(
        np.zeros((1, n)), dt=DT, refractory=sc["refractory"], integrator_name="exact", **sc["values"]
    )
    ff, rec = _synapses(sc["ff"]), _synapses(sc["rec"])
    rasters = np.stack([sc["spikes"], sc["spikes"][::-1]], axis=1)
    one = layer.neuron_state
    batched = jax.tree.map(lambda a: jnp.stack([a, a]), one)
    batched = type(one)(batched.v, batched.since_spike, batched.key, one.step, batched.extra)
    currents = jnp.zeros((NUM_STEPS, n))
    events = Events(jnp.asarray(rasters), ff, rec, empty_pending((2, n), ff, rec))
    out, state, record, pending = evolve(
        layer.params, layer.sim, batched, currents, events=events, record=True
    )
    for b in range(2):
        events = Events(jnp.asarray(rasters[:, b]), ff, rec, empty_pending((n,), ff, rec))
        alone = evolve(layer.params, layer.sim, one, currents, events=events, record=True)
        np.testing.assert_array_equal(np.asarray(out[:, b]), np.asarray(alone[0]))
        np.testing.assert_array_equal(np.asarray(record["v"][:, b]), np.asarray(alone[2]["v"]))
        np.testing.assert_array_equal(np.asarray(pending[1][0][:, b]), np.asarray(alone[3][1][0]))


@pytest.mark.brian
def test_an_excitatory_inhibitory_network_as_brian2_cuba():
    """Brian2's CUBA network at a small size (200 neurons, 160 excitatory, connection probability 0.1,
    1000 steps, `exact`): two recurrent groups, `ge += w` from the excitatory neurons and `gi += w` from
    the inhibitory ones, as in Brian2: the same spikes and bit-identical `v`, `ge`, `gi` at every step."""
    import equinox as eqx

    brian_ref = pytest.importorskip("brian_ref")
    n, num_steps = 200, 1000
    exc, inh, v0 = brian_ref.cuba_network(n, 160, 0.1, seed=2005)
    layer = jaxiaf.FFIAF(
        np.zeros((1, n)),
        dt=DT,
        neuron_eq=brian_ref.CUBA_EQUATIONS,
        integrator_name="exact",
        refractory=5e-3,
        **brian_ref.CUBA_VALUES,
    )
    groups = (Synapses(exc, 0, "ge += w"), Synapses(inh, 0, "gi += w"))
    state = eqx.tree_at(lambda s: s.v, layer.neuron_state, jnp.asarray(v0))
    events = Events(None, None, groups, empty_pending((n,), None, groups))
    out, _, record, _ = evolve(
        layer.params, layer.sim, state, jnp.zeros((num_steps, n)), events=events, record=True
    )
    reference = brian_ref.SynapticLayer(
        brian_ref.CUBA_EQUATIONS,
        method="exact",
        refractory=5e-3,
        parameters=brian_ref.CUBA_VALUES,
        dt=DT,
        recurrent=[(exc, 0, "ge += w"), (inh, 0, "gi += w")],
    )
    result = reference.evolve(None, n, currents=np.zeros((num_steps, n)), init={"v": v0})
    assert int(np.asarray(out).sum()) > 100
    np.testing.assert_array_equal(np.asarray(out), result.raster())
    for name in ("v", "ge", "gi"):
        np.testing.assert_array_equal(np.asarray(record[name]), result.traces[name], err_msg=name)


@pytest.mark.slow
@pytest.mark.brian
def test_brian2_cuba_benchmark_network_for_1000_steps():
    """Brian2's CUBA benchmark at full size (4000 neurons, connection probability 0.02, as
    `benchmarks/bench_cuba.py` runs it) for 1000 steps, visiting only the spiking sources (the default):
    Brian2's raster."""
    brian_ref = pytest.importorskip("brian_ref")
    exc, inh, v0 = brian_ref.cuba_network()
    n, num_steps = len(v0), 1000
    layer = jaxiaf.FFIAF(
        np.zeros((1, n)), dt=DT, neuron_eq=brian_ref.CUBA_EQUATIONS, integrator_name="exact", refractory=5e-3,
        **brian_ref.CUBA_VALUES,
    )  # fmt: skip
    layer = layer.set_attributes({"v": jnp.asarray(v0)})
    groups = (Synapses(exc, 0, "ge += w"), Synapses(inh, 0, "gi += w"))
    raster = np.asarray(jaxiaf.synapses.run(layer, recurrent=groups, x=np.zeros((num_steps, 1)))[0])
    reference = brian_ref.SynapticLayer(
        brian_ref.CUBA_EQUATIONS,
        method="exact",
        refractory=5e-3,
        parameters=brian_ref.CUBA_VALUES,
        dt=DT,
        recurrent=[(exc, 0, "ge += w"), (inh, 0, "gi += w")],
    )
    expected = reference.evolve(None, n, currents=np.zeros((num_steps, n)), init={"v": v0}).raster()
    assert raster.sum() > 1000
    np.testing.assert_array_equal(raster, expected)


def test_a_surrogate_carries_gradients_through_the_recurrent_spikes():
    """With a surrogate, the layer's spikes reach the events they cause with the surrogate's derivative:
    neuron 1 hears neuron 0 only through a recurrent synapse (delay 2), so the derivative of neuron 1's
    voltage with respect to neuron 0's bias is zero without a surrogate and not with one; the forward
    pass is the same spikes and voltages either way."""
    import equinox as eqx
    import jax

    weights = np.array([[0.0, 2e-3], [0.0, 0.0]])

    def run(bias0, surrogate):
        layer = jaxiaf.FFIAF(np.zeros((1, 2)), dt=DT, bias=np.array([0.03, 0.0]), surrogate=surrogate)
        layer = eqx.tree_at(lambda m: m.params.bias, layer, layer.params.bias.at[0].set(bias0))
        rec = Synapses(weights, 2, "v += w")
        return jaxiaf.synapses.run(layer, recurrent=rec, x=np.zeros((400, 1)), record=True)

    plain, smooth = run(0.03, None), run(0.03, jaxiaf.surrogate.SuperSpike())
    np.testing.assert_array_equal(np.asarray(smooth[0]), np.asarray(plain[0]))
    np.testing.assert_array_equal(np.asarray(smooth[2]["v"]), np.asarray(plain[2]["v"]))
    assert np.asarray(plain[0])[:, 0].sum() >= 3
    listen = lambda surrogate: jax.grad(lambda b: jnp.sum(run(b, surrogate)[2]["v"][:, 1]))(0.03)
    assert listen(None) == 0.0
    assert np.isfinite(listen(jaxiaf.surrogate.SuperSpike())) and listen(jaxiaf.surrogate.SuperSpike()) != 0.0
