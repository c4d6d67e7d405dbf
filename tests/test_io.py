"""Saving and loading layers and fit results (bit-exact, every bad file refused with its reason) and recorded
data from Neo objects and from an NWB file written by Neo's own writer, fitted exactly as the same arrays."""

import dataclasses
import datetime
import json

import jax
import numpy as np
import pytest
from helpers import assert_same_module, require
from helpers import random_layer as _layer

import jaxiaf

DT = 1e-4


def _advanced(layer, steps=300, seed=0):
    """`layer` after evolving `steps` steps of random input: a state mid-run."""
    x = np.random.default_rng(seed).normal(0.0, 0.5, (steps, layer.size_in))
    _, state, _ = layer(x)
    return layer.set_attributes(state), x


def test_ffiaf_round_trip_continues_bit_identically(tmp_path):
    layer = _layer(
        "exact", refractory=np.linspace(0, 2e-3, 5), noise_std=1e-3, bias=0.02, key=jax.random.key(11)
    )
    layer = layer.set_attributes({"tau_mem": 0.015})  # differs from the initial parameters
    layer, x = _advanced(layer)
    jaxiaf.save(layer, tmp_path / "layer.jaxiaf")
    loaded = jaxiaf.load(tmp_path / "layer.jaxiaf")
    assert_same_module(layer, loaded)
    s1, s2 = layer(x)[0], loaded(x)[0]
    assert np.array_equal(s1, s2) and s1.sum() > 10


def test_raw_key_and_timed_layer(tmp_path):
    raw = _layer(key=jax.random.PRNGKey(4))
    jaxiaf.save(raw, tmp_path / "raw")
    assert_same_module(raw, jaxiaf.load(tmp_path / "raw"))
    timed = jaxiaf.FFIAFBrian(np.full((2, 3), 0.02), dt=DT, refractory=1e-3, name="timed", record=True)
    timed.set_attributes({"bias": 0.015, "integrator_name": "euler"})
    timed.set_attributes(_advanced(timed.module)[0].state())
    jaxiaf.save(timed, tmp_path / "timed")
    loaded = jaxiaf.load(tmp_path / "timed")
    assert isinstance(loaded, jaxiaf.FFIAFBrian) and loaded._record and loaded.t == timed.t
    assert_same_module(timed.module, loaded.module)
    assert loaded.reset_parameters().bias.tolist() == [0.01] * 3
    assert loaded._initial["integrator_name"] == "rk4"


def _flip_a_data_byte(path):
    data = bytearray(path.read_bytes())
    data[data.index(b"\x93NUMPY") + 200] ^= 0xFF  # past the first entry's 128-byte .npy header
    path.write_bytes(bytes(data))


def _rewrite(path, header=None, drop=()):
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files if k not in drop}
    if header is not None:
        arrays["header"] = np.array(json.dumps(header))
    with open(path, "wb") as f:
        np.savez(f, **arrays)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda p: p.write_bytes(p.read_bytes()[:200]), r"is not a readable jaxiaf layer file \("),
        (_flip_a_data_byte, r"is not a readable jaxiaf layer file \(Bad CRC-32"),
        (lambda p: p.write_text("weights,bias\n1,2\n"), r"is not a readable jaxiaf layer file \("),
        (lambda p: _rewrite(p, drop=("header",)), r"is not a jaxiaf layer file: it has no `header` entry"),
        (lambda p: _rewrite(p, header={"format": "other"}), r"is not a jaxiaf layer file \(its header names"),
        (
            lambda p: _rewrite(p, header={"format": "jaxiaf-layer", "version": 2}),
            r"has jaxiaf layer format version 2; this jaxiaf reads version 1 only",
        ),
        (lambda p: _rewrite(p, drop=("v",)), r"invalid jaxiaf layer file \('v'\)"),
    ],
    ids=["truncated", "corrupted", "foreign", "no-header", "other-format", "version", "missing-entry"],
)
def test_bad_files_name_the_file_and_the_problem(tmp_path, damage, message):
    path = tmp_path / "layer.npz"
    jaxiaf.save(_layer(), path)
    damage(path)
    with pytest.raises(ValueError, match=message) as err:
        jaxiaf.load(path)
    assert str(path) in str(err.value)


def test_save_refuses_other_objects(tmp_path):
    with pytest.raises(TypeError, match="`layer` must be an FFIAF or an FFIAFBrian; got list"):
        jaxiaf.save([], tmp_path / "x")
    with pytest.raises(FileNotFoundError):
        jaxiaf.load(tmp_path / "missing")


# ------------------------------------------------------------------------------------------------- Neo
def _neo():
    return require("neo"), require("quantities")


def test_spikes_from_neo_units_and_trials():
    neo, pq = _neo()
    a = neo.SpikeTrain([0.25, 1.0, 3.05], units="ms", t_start=0.0, t_stop=5.0)
    b = neo.SpikeTrain([0.0001, 0.004], units="s", t_start=0.0, t_stop=0.005)
    raster = jaxiaf.spikes_from_neo([a, b], DT)
    assert raster.shape == (1, 50, 2) and raster.dtype == bool
    assert np.flatnonzero(raster[0, :, 0]).tolist() == [2, 10, 30]
    assert np.flatnonzero(raster[0, :, 1]).tolist() == [1, 40]
    segments = [neo.Segment(), neo.Segment()]
    for seg, train in zip(segments, (a, b), strict=True):
        seg.spiketrains.append(train)
    block = neo.Block()
    block.segments.extend(segments)
    assert np.array_equal(jaxiaf.spikes_from_neo(block, DT)[:, :, 0], raster[0].T)
    assert np.array_equal(jaxiaf.spikes_from_neo(segments, DT), jaxiaf.spikes_from_neo([[a], [b]], DT))


def test_spikes_from_neo_errors():
    neo, pq = _neo()
    a = neo.SpikeTrain([1.0], units="ms", t_start=0.0, t_stop=5.0)
    with pytest.raises(ValueError, match=r"`spiketrains`: t_stop differ: \[0.005\] \(expected 0.006\) s"):
        jaxiaf.spikes_from_neo(a, DT, t_stop=6 * pq.ms)
    with pytest.raises(ValueError, match=r"`spiketrains`: t_start differ"):
        jaxiaf.spikes_from_neo([a, neo.SpikeTrain([2.0], units="ms", t_start=1.0, t_stop=5.0)], DT)
    with pytest.raises(ValueError, match=r"duration 0.005 s is not a whole number of steps of dt=0.0003 s"):
        jaxiaf.spikes_from_neo(a, 3e-4)
    with pytest.raises(ValueError, match=r"two spikes of one train fall in one step of dt=0.001 s"):
        jaxiaf.spikes_from_neo(neo.SpikeTrain([1.0, 1.5], units="ms", t_stop=5.0), 1e-3)
    with pytest.raises(ValueError, match=r"the same number \(>= 1\) of trains; got \[1, 2\]"):
        jaxiaf.spikes_from_neo([[a], [a, a]], DT)
    with pytest.raises(TypeError, match=r"`spiketrains` must be a neo.SpikeTrain, a neo.Segment"):
        jaxiaf.spikes_from_neo(np.zeros(3), DT)


def test_traces_from_neo():
    neo, pq = _neo()
    v = neo.AnalogSignal(np.arange(6.0).reshape(3, 2), units="mV", sampling_period=0.1 * pq.ms, name="v")
    assert np.array_equal(jaxiaf.traces_from_neo(v, DT), np.arange(6.0).reshape(1, 3, 2) * 1e-3)
    current = neo.AnalogSignal(np.ones((3, 1)), units="nA", sampling_rate=10 * pq.kHz, name="current")
    seg = neo.Segment()
    seg.analogsignals.extend([v, current])
    assert np.array_equal(jaxiaf.traces_from_neo(seg, DT, "A", name="current"), np.full((1, 3, 1), 1e-9))
    with pytest.raises(ValueError, match=r"`signals` must be in units convertible to A"):
        jaxiaf.traces_from_neo(v, DT, "A")
    with pytest.raises(ValueError, match=r"\[0.0001\] s, not every dt=0.0002 s; jaxiaf does not resample"):
        jaxiaf.traces_from_neo(v, 2e-4)
    with pytest.raises(ValueError, match=r"per trial \(pick with `name`\); got \[\['v', 'current'\]\]"):
        jaxiaf.traces_from_neo(seg, DT)
    with pytest.raises(ValueError, match=r"`unit` must be 'V' or 'A'; got 's'"):
        jaxiaf.traces_from_neo(v, DT, "s")


def _ground_truth():
    """A neuron, 2 trials of 2000 steps of input current (K, T, 1) and its spikes (K, T, 1)."""
    truth = jaxiaf.FFIAF(np.ones((1, 1)), bias=0.0, tau_mem=0.02, dt=DT, integrator_name="exact")
    x = 0.02 + 0.004 * np.random.default_rng(3).standard_normal((2, 2000, 1))
    return truth, x, np.stack([np.asarray(truth(trial)[0]) for trial in x])


def _short_fit(truth, x, spikes):
    kwargs = dict(bounds={"tau_mem": (5e-3, 50e-3)}, population_size=8, generations=4, progress=False)
    return jaxiaf.fit(truth.set_attributes({"tau_mem": 0.01}), x, spikes=spikes, **kwargs)


@pytest.mark.filterwarnings("ignore:Only one")  # a short fit warns that nothing confirms its minimum
def test_fit_result_round_trip(tmp_path):
    result = _short_fit(*_ground_truth())
    jaxiaf.save(result, tmp_path / "fit.jaxiaf")
    loaded = jaxiaf.load(tmp_path / "fit.jaxiaf")
    assert isinstance(loaded, jaxiaf.FitResult)
    for field in dataclasses.fields(result):
        a, b = getattr(result, field.name), getattr(loaded, field.name)
        if field.name == "module":
            assert_same_module(a, b)
        elif isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and np.array_equal(a, b)
        elif isinstance(a, dict) and a and isinstance(next(iter(a.values())), np.ndarray):
            assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
        else:
            assert a == b and type(a) is type(b), field.name


@pytest.mark.filterwarnings("ignore:validate. Using positional arguments:FutureWarning")  # neo's NWBIO
@pytest.mark.filterwarnings("ignore:Only one")  # a short fit warns that nothing confirms its minimum
def test_fit_from_an_nwb_file_equals_fit_from_arrays(tmp_path):
    """A ground truth's input currents and spikes, written to NWB by Neo's writer and read back, give the
    same arrays and so the same fit."""
    neo, pq = _neo()
    require("pynwb")
    truth, x, spikes = _ground_truth()
    block = neo.Block(session_start_time=datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC))
    for k in range(2):
        seg = neo.Segment(name=f"trial{k}")
        seg.analogsignals.append(neo.AnalogSignal(x[k], units="A", sampling_period=DT * pq.s, name="current"))
        times = np.flatnonzero(spikes[k, :, 0]) * DT
        seg.spiketrains.append(neo.SpikeTrain(times, units="s", t_start=0.0, t_stop=2000 * DT))
        block.segments.append(seg)
    neo.io.NWBIO(str(tmp_path / "trials.nwb"), mode="w").write_all_blocks([block])
    (read,) = neo.io.NWBIO(str(tmp_path / "trials.nwb"), mode="r").read_all_blocks()
    x_nwb = jaxiaf.traces_from_neo(read, DT, "A", name="current", t_start=0.0)
    spikes_nwb = jaxiaf.spikes_from_neo(read, DT, t_start=0.0, t_stop=0.2)
    assert np.array_equal(x_nwb, x) and np.array_equal(spikes_nwb, spikes) and spikes.sum() > 10
    from_nwb = _short_fit(truth, x_nwb, spikes_nwb)
    assert from_nwb.best_params == _short_fit(truth, x, spikes).best_params
    # fit takes the Neo objects themselves: the NWB file's segments, one per trial
    direct = _short_fit(truth, x_nwb, read.segments)
    assert direct.best_params == from_nwb.best_params


def test_fit_takes_neo_spike_trains_and_signals():
    neo, pq = _neo()
    truth, x, spikes = _ground_truth()
    trains = [
        [neo.SpikeTrain(np.flatnonzero(spikes[k, :, 0]) * DT, units="s", t_stop=2000 * DT)] for k in range(2)
    ]
    assert _short_fit(truth, x, trains).best_params == _short_fit(truth, x, spikes).best_params
    v = np.stack([np.asarray(truth(trial, record=True)[2]["v"]) for trial in x])
    signals = [neo.AnalogSignal(v[k] * 1e3, units="mV", sampling_period=DT * pq.s) for k in range(2)]
    kwargs = dict(
        bounds={"tau_mem": (5e-3, 50e-3)}, max_evaluations=64, progress=False, key=jax.random.key(1)
    )
    module = truth.set_attributes({"tau_mem": 0.01})
    from_neo = jaxiaf.fit(module, x, v=signals, **kwargs)
    assert from_neo.best_params == jaxiaf.fit(module, x, v=v, **kwargs).best_params


def test_time_series_to_neo_and_back():
    neo, pq = _neo()
    events = jaxiaf.TSEvent([0.001, 0.0025, 0.004], [0, 1, 0], t_start=0.0, t_stop=0.005, num_channels=3)
    trains = events.to_neo()
    assert len(trains) == 3 and all(isinstance(t, neo.SpikeTrain) for t in trains)
    assert trains[0].times.rescale("s").magnitude.tolist() == [0.001, 0.004] and trains[2].size == 0
    back = jaxiaf.TSEvent.from_neo(trains, name="back")
    assert np.array_equal(back.times, events.times) and np.array_equal(back.channels, events.channels)
    assert (back.t_start, back.t_stop, back.num_channels) == (0.0, 0.005, 3)
    series = jaxiaf.TSContinuous.from_clocked(np.arange(8.0).reshape(4, 2), dt=DT)
    signal = series.to_neo("nA")
    assert isinstance(signal, neo.AnalogSignal) and float(signal.sampling_period.rescale("s")) == DT
    again = jaxiaf.TSContinuous.from_neo(signal, unit="A")
    np.testing.assert_allclose(again.samples, series.samples * 1e-9, rtol=1e-12)
    np.testing.assert_allclose(again.times, series.times, rtol=0, atol=1e-18)
    irregular = jaxiaf.TSContinuous([0.0, 0.1, 0.3], [1.0, 2.0, 3.0]).to_neo()
    assert isinstance(irregular, neo.IrregularlySampledSignal)
    assert np.array_equal(jaxiaf.TSContinuous.from_neo(irregular).samples[:, 0], [1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="`signal` must be a neo.AnalogSignal"):
        jaxiaf.TSContinuous.from_neo(trains[0])


@pytest.mark.parametrize("kind", ["FFIAFSpkInBrian", "RecIAFBrian", "RecIAFSpkInBrian"])
def test_synaptic_timed_layers_round_trip(tmp_path, kind):
    """Rockpool's synaptic layers: saved mid-run with a changed parameter, loaded equal
    (parameters, initial parameters, state with the synaptic currents, `t`), and the next evolution gives
    the same spikes and state bit for bit."""
    from helpers import CLASSES, build, scenario, series

    sc = scenario(kind, 1)
    layer = build(sc).set_attributes({"tau_mem": 0.025})
    half = series(sc, 0.0, 0.015)
    layer.set_attributes(layer.evolve(half, num_timesteps=150)[1])
    jaxiaf.save(layer, tmp_path / "layer")
    loaded = jaxiaf.load(tmp_path / "layer")
    assert type(loaded) is CLASSES[kind] and loaded.t == layer.t and loaded.name == layer.name
    assert_same_module(layer.module, loaded.module)
    for name, value in {**layer.parameters(), **layer._initial}.items():
        assert np.array_equal(np.asarray(value), np.asarray({**loaded.parameters(), **loaded._initial}[name]))
    rest = series(sc, 0.015, 0.03)
    out, state, _ = layer.evolve(rest, num_timesteps=150)
    out2, state2, _ = loaded.evolve(rest, num_timesteps=150)
    assert np.array_equal(out.times, out2.times) and np.array_equal(out.channels, out2.channels)
    assert len(out.times) > 0
    for name in set(state) - {"key"}:
        assert np.array_equal(np.asarray(state[name]), np.asarray(state2[name])), name
    assert loaded.reset_parameters().tau_mem.tolist() == sc["params"]["tau_mem"].tolist()
