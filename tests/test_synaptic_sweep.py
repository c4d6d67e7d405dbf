"""`jaxiaf.synapses.sweep` and `Poisson`: many sets of a network driven by spikes in one call, each row
equal to its set run alone (bit for bit, float64); Poisson input drawn step by step as its raster."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxiaf
from brian_ref import CUBA_EQUATIONS, CUBA_VALUES
from jaxiaf.synapses import Poisson, Synapses, run, sweep

CUBA, VALUES = CUBA_EQUATIONS, CUBA_VALUES
DT, NUM_STEPS, N, N_EXC, N_IN = 1e-4, 400, 40, 32, 20


def network(seed=0):
    """A small CUBA network with Poisson input onto `ge`: `(layer, exc, inh, ext)`."""
    rng = np.random.default_rng(seed)
    connected = rng.random((N, N)) < 0.2
    exc = np.where(connected & (np.arange(N) < N_EXC)[:, None], 1.62e-3, 0.0)
    inh = np.where(connected & (np.arange(N) >= N_EXC)[:, None], -9e-3, 0.0)
    ext = np.where(rng.random((N_IN, N)) < 0.3, 1.62e-3, 0.0)
    layer = jaxiaf.FFIAF(
        np.zeros((1, N)), dt=DT, neuron_eq=CUBA, integrator_name="exact", refractory=5e-3, **VALUES
    )
    return layer.set_attributes({"v": jnp.asarray(-0.06 + 0.01 * rng.random(N))}), exc, inh, ext


@pytest.mark.parametrize(("max_spikes", "chunk_size"), [(None, 1), (8, None), (None, 3)])
def test_each_row_equals_its_set_run_alone(max_spikes, chunk_size):
    """Swept `v_thresh`, a per-set scale of the shared excitatory weights (recurrent and input, delays of
    0-2 steps), per-set Poisson rates and keys: row b is the set run alone, spikes and every state
    variable bit for bit, one set at a time (the default), all four together, or in chunks of 3 (the
    last padded)."""
    layer, exc, inh, ext = network()
    batch = 4
    thresholds = np.array([-0.05, -0.051, -0.05, -0.0505])
    scales = np.array([[1.0], [1.5], [0.5], [2.0]])
    rates = np.array([50.0, 200.0, 400.0, 100.0])[:, None] * np.ones(N_IN)
    keys = jax.random.split(jax.random.key(3), batch)
    delays = np.random.default_rng(1).integers(0, 3, (N, N))
    poisson = Poisson(rates, DT, NUM_STEPS, keys)
    groups = lambda s: (
        Synapses(exc, delays, "ge += w", max_spikes=max_spikes, scale=s),
        Synapses(inh, 0, "gi += w", max_spikes=max_spikes),
    )
    inputs = lambda s: Synapses(ext, 1, "ge += w", max_spikes=max_spikes, scale=s)
    result = sweep(
        layer, {"v_thresh": thresholds}, poisson, feedforward=inputs(scales), recurrent=groups(scales),
        outputs=("spikes", "v", "counts"), chunk_size=chunk_size,
    )  # fmt: skip
    assert result.spikes.shape == (batch, NUM_STEPS, N) and int(result.final_state.step) == NUM_STEPS
    totals = set()
    for b in range(batch):
        alone = layer.set_attributes({"v_thresh": thresholds[b]})
        source = Poisson(rates[b], DT, NUM_STEPS, keys[b])
        raster, state, record, _ = run(
            alone, source, feedforward=inputs(scales[b, 0]), recurrent=groups(scales[b, 0]), record=True
        )
        np.testing.assert_array_equal(result.spikes[b], raster)
        np.testing.assert_array_equal(result.v[b], record["v"])
        np.testing.assert_array_equal(result.final_state.v[b], state.v)
        for name in ("ge", "gi"):
            np.testing.assert_array_equal(result.final_state.extra[name][b], state.extra[name])
        totals.add(int(raster.sum()))
    assert len(totals) == batch


def test_a_scale_adds_the_same_floats_as_the_scaled_weights():
    """`Synapses(w, scale=s)` gives the same run as `Synapses(s * w)` (one product per event)."""
    layer, exc, inh, ext = network(1)
    spikes = np.random.default_rng(2).random((NUM_STEPS, N_IN)) < 0.03
    scaled = run(
        layer,
        spikes,
        feedforward=Synapses(ext, 0, "ge += w", scale=1.7),
        recurrent=Synapses(exc, 0, "ge += w", scale=1.7),
        record=True,
    )
    plain = run(
        layer,
        spikes,
        feedforward=Synapses(1.7 * ext, 0, "ge += w"),
        recurrent=Synapses(1.7 * exc, 0, "ge += w"),
        record=True,
    )
    np.testing.assert_array_equal(scaled[0], plain[0])
    np.testing.assert_array_equal(scaled[2]["ge"], plain[2]["ge"])
    assert int(np.asarray(plain[0]).sum()) > 0


def test_per_set_weights_and_a_shared_raster():
    """Weights (B, N_src, N) per set and a (T, N_in) raster shared by every set."""
    layer, exc, inh, ext = network(2)
    rng = np.random.default_rng(4)
    spikes = rng.random((NUM_STEPS, N_IN)) < 0.05
    weights = np.stack([ext * f for f in (0.5, 1.0, 3.0)])
    weights[2, 0, :] = 2e-3  # a synapse that the other sets lack
    result = sweep(
        layer, {}, spikes, feedforward=Synapses(weights, 0, "ge += w"),
        recurrent=(Synapses(exc, 0, "ge += w"), Synapses(inh, 0, "gi += w")), outputs=("spikes",),
    )  # fmt: skip
    for b in range(3):
        alone = run(
            layer, spikes, feedforward=Synapses(weights[b], 0, "ge += w"),
            recurrent=(Synapses(exc, 0, "ge += w"), Synapses(inh, 0, "gi += w")),
        )  # fmt: skip
        np.testing.assert_array_equal(result.spikes[b], alone[0])
    assert result.params == {}


def test_per_set_rasters_and_currents_in_chunks():
    """A (T, B, N_in) raster and (B, T, N_in) currents, one per set, in chunks of 2 of 3 sets (the last
    padded): row b is the set's raster and current run alone, bit for bit."""
    layer, exc, inh, ext = network(8)
    rng = np.random.default_rng(9)
    spikes = rng.random((NUM_STEPS, 3, N_IN)) < 0.04
    x = rng.uniform(0.0, 2e-3, (3, NUM_STEPS, 1))
    result = sweep(
        layer, {}, spikes, feedforward=Synapses(ext, 1, "ge += w"), recurrent=Synapses(exc, 0, "ge += w"),
        x=x, outputs=("spikes", "v"), chunk_size=2,
    )  # fmt: skip
    for b in range(3):
        alone = run(
            layer, spikes[:, b], feedforward=Synapses(ext, 1, "ge += w"),
            recurrent=Synapses(exc, 0, "ge += w"), x=x[b], record=True,
        )  # fmt: skip
        np.testing.assert_array_equal(result.spikes[b], alone[0])
        np.testing.assert_array_equal(result.v[b], alone[2]["v"])
    assert len({np.asarray(result.spikes[b]).tobytes() for b in range(3)}) == 3  # three different runs


def test_poisson_draws_are_its_raster_and_have_its_rates():
    """A Poisson source acts as its own raster (bit for bit), draws `uniform(fold_in(key, k)) < rate * dt`,
    and its mean rate is within 5 % of the rate (400 sources x 4000 steps at 100 Hz: 16000 spikes
    expected, sd 1 %)."""
    layer, exc, inh, ext = network(3)
    source = Poisson(np.full(N_IN, 300.0), DT, NUM_STEPS, jax.random.key(5))
    raster = source.raster()
    assert raster.shape == (NUM_STEPS, N_IN)
    k = 17
    expected = jax.random.uniform(jax.random.fold_in(jax.random.key(5), k), (N_IN,)) < 300.0 * DT
    np.testing.assert_array_equal(raster[k], expected)
    drawn = run(layer, source, feedforward=Synapses(ext, 0, "ge += w"), record=True)
    given = run(layer, raster, feedforward=Synapses(ext, 0, "ge += w"), record=True)
    np.testing.assert_array_equal(drawn[0], given[0])
    np.testing.assert_array_equal(drawn[2]["ge"], given[2]["ge"])
    many = Poisson(np.full(400, 100.0), DT, 4000, jax.random.key(6)).raster()
    assert abs(float(many.mean()) / (100.0 * DT) - 1) < 0.05


def test_more_spiking_sources_than_max_spikes_in_one_entry_is_an_error():
    layer, exc, inh, ext = network(4)
    spikes = np.zeros((NUM_STEPS, 2, N_IN), bool)
    spikes[10, 1, :3] = True  # entry 1 only: 3 sources in one step
    with pytest.raises(Exception, match="More than `max_spikes` = 2 sources spiked"):
        sweep(layer, {}, spikes, feedforward=Synapses(ext, 0, "ge += w", max_spikes=2))


def test_refusals_name_the_argument():
    layer, exc, inh, ext = network(5)
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="`rates`"):
        Poisson(np.full(N_IN, -1.0), DT, 10, key)
    with pytest.raises(ValueError, match="`key`"):
        Poisson(np.ones((3, N_IN)), DT, 10, jax.random.split(key, 2))
    with pytest.raises(ValueError, match="`num_steps`"):
        Poisson(np.ones(N_IN), DT, -1, key)
    with pytest.raises(ValueError, match="`scale`"):
        Synapses(ext, scale=np.ones((3, 2)))
    with pytest.raises(ValueError, match="`events.recurrent.scale`"):
        sweep(
            layer,
            {"tau_m": np.full(3, 0.02)},
            x=np.zeros((10, 1)),
            recurrent=Synapses(exc, scale=np.ones((2, 1))),
        )
    with pytest.raises(ValueError, match="`events.spikes`: a Poisson source"):
        run(layer, Poisson(np.ones(N_IN), DT, 10, key), feedforward=Synapses(ext), x=np.zeros((11, 1)))
    with pytest.raises(ValueError, match="`chunk_size`"):
        sweep(layer, {}, x=np.zeros((10, 1)), recurrent=Synapses(exc, scale=np.ones((2, 1))), chunk_size=0)
    with pytest.raises(ValueError, match="nothing to sweep"):
        sweep(layer, {}, x=np.zeros((10, 1)), recurrent=Synapses(exc))


def test_synapses_built_inside_jit_from_host_arrays_are_the_same():
    """Host weights and delays are read at construction also under `jax.jit` (their synapses and the
    largest delay are known): the same run as synapses built outside."""
    layer, exc, inh, ext = network(6)
    spikes = np.random.default_rng(7).random((NUM_STEPS, N_IN)) < 0.05
    outside = run(
        layer, spikes, feedforward=Synapses(ext, 0, "ge += w"), recurrent=Synapses(exc, 1, "ge += w")
    )
    inside = jax.jit(
        lambda layer, spikes: run(
            layer, spikes, feedforward=Synapses(ext, 0, "ge += w"), recurrent=Synapses(exc, 1, "ge += w")
        )[0]
    )(layer, spikes)
    np.testing.assert_array_equal(inside, outside[0])
    assert int(np.asarray(inside).sum()) > 0


def test_per_set_delays_each_row_equals_its_set_run_alone():
    """Delays swept per set, (B,) on the input group and (B, N, N) on the recurrent one (set 0 all 0, set 3
    all the largest, 3 steps), B read from them: row b is the set run alone with its own delays (with
    the sweep's `max_delay`, one compilation; set 0 also with its own, 0), spikes, `v` and the final state
    bit for bit; all sets together (`chunk_size=None`) give the same as the default."""
    layer, exc, inh, ext = network(10)
    rng = np.random.default_rng(11)
    batch = 4
    spikes = rng.random((NUM_STEPS, N_IN)) < 0.05
    inputs = np.array([0, 2, 3, 1])
    own = rng.integers(0, 4, (batch, N, N))
    own[0], own[3] = 0, 3
    groups = lambda d_in, d_own, most=None: (
        Synapses(ext, d_in, "ge += w", max_delay=most),
        (Synapses(exc, d_own, "ge += w", max_delay=most), Synapses(inh, 1, "gi += w")),
    )
    ff, rec = groups(inputs, own)
    assert ff.max_delay == rec[0].max_delay == 3
    results = [
        sweep(
            layer, {}, spikes, feedforward=ff, recurrent=rec, outputs=("spikes", "v", "counts"), chunk_size=c
        )
        for c in (1, None)
    ]
    default, together = results
    for name in ("spikes", "v", "counts"):
        np.testing.assert_array_equal(getattr(together, name), getattr(default, name))
    np.testing.assert_array_equal(together.final_state.v, default.final_state.v)
    for b in range(batch):
        ff_b, rec_b = groups(int(inputs[b]), own[b], 3)
        raster, state, record, _ = run(layer, spikes, feedforward=ff_b, recurrent=rec_b, record=True)
        np.testing.assert_array_equal(default.spikes[b], raster)
        np.testing.assert_array_equal(default.counts[b], raster.sum(axis=0))
        np.testing.assert_array_equal(default.v[b], record["v"])
        np.testing.assert_array_equal(default.final_state.v[b], state.v)
        np.testing.assert_array_equal(default.final_state.extra["ge"][b], state.extra["ge"])
    assert len({np.asarray(default.spikes[b]).tobytes() for b in range(batch)}) == batch
    ff_0, rec_0 = groups(0, own[0])
    assert ff_0.max_delay == rec_0[0].max_delay == 0
    np.testing.assert_array_equal(default.spikes[0], run(layer, spikes, feedforward=ff_0, recurrent=rec_0)[0])


def test_per_set_delays_of_a_bad_shape_are_refused_by_name():
    layer, exc, inh, ext = network(12)
    spikes = np.zeros((10, N_IN), bool)
    with pytest.raises(ValueError, match="`delays` must be integer steps"):
        Synapses(ext, np.zeros((3, 2), int))
    with pytest.raises(ValueError, match="`delays` must be integer steps"):
        Synapses(ext, np.zeros((3, N, N_IN), int))
    with pytest.raises(ValueError, match="`max_delay` = 2 is below the largest of `delays`, 3"):
        Synapses(ext, np.array([0, 3, 1]), max_delay=2)
    with pytest.raises(ValueError, match="`delays` must be >= 0"):
        Synapses(ext, -1, max_delay=2)
    with pytest.raises(ValueError, match="`events.feedforward.delays`"):
        run(layer, spikes, feedforward=Synapses(ext, np.array([0, 1, 2])))
    with pytest.raises(ValueError, match="`events.recurrent.delays`"):
        run(layer, spikes, feedforward=Synapses(ext), recurrent=Synapses(exc, np.zeros((2, N, N), int)))
    with pytest.raises(ValueError, match="`events.recurrent.delays`"):
        sweep(
            layer, {"tau_m": np.full(3, 0.02)}, x=np.zeros((10, 1)), recurrent=Synapses(exc, np.ones(2, int))
        )


def test_per_set_delays_with_a_surrogate_and_under_jvp():
    """Two neurons, neuron 1 hearing neuron 0 through one synapse of delay 0, 3 or 1 per set: with a
    surrogate (every source visited; delays (B, N, N)) row b is the set run alone bit for bit, and the
    tangent of `v` with respect to the weights (the sparse visit's derivative; delays (B,)) is the set's
    alone to 1e-12."""
    weights, tangent = jnp.asarray([[0.0, 2e-3], [0.0, 0.0]]), jnp.asarray([[0.0, 1.0], [0.0, 0.0]])
    delays, x = np.array([0, 3, 1]), np.zeros((300, 1))
    full = np.broadcast_to(delays[:, None, None], (3, 2, 2))
    layer = lambda s: jaxiaf.FFIAF(np.zeros((1, 2)), dt=DT, bias=np.array([0.03, 0.0]), surrogate=s)
    smooth = layer(jaxiaf.surrogate.SuperSpike())
    result = sweep(smooth, {}, x=x, recurrent=Synapses(weights, full), outputs=("spikes", "v"))
    swept = lambda w: sweep(layer(None), {}, x=x, recurrent=Synapses(w, delays), outputs=("v",)).v
    tangents = jax.jvp(swept, (weights,), (tangent,))[1]
    alone_v = lambda w, delay: run(layer(None), recurrent=Synapses(w, delay, max_delay=3), x=x, record=True)[
        2
    ]["v"]
    for b in range(3):
        alone = run(smooth, recurrent=Synapses(weights, full[b], max_delay=3), x=x, record=True)
        np.testing.assert_array_equal(result.spikes[b], alone[0])
        np.testing.assert_array_equal(result.v[b], alone[2]["v"])
        own = jax.jvp(lambda w, d=int(delays[b]): alone_v(w, d), (weights,), (tangent,))[1]
        np.testing.assert_allclose(tangents[b], own, rtol=1e-12)
    assert np.asarray(result.spikes)[:, :, 0].sum() >= 3 and float(jnp.abs(tangents).max()) > 0
