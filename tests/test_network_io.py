"""A functional layer with its `jaxiaf.synapses` (feedforward and recurrent groups, delays, a scale, several
`on_pre` targets) and its spikes in transit: through a file (`jaxiaf.save(layer, path, feedforward=...,
recurrent=..., pending=...)`) and through NIR, continuing bit for bit (float64), and what NIR refuses."""

import equinox as eqx
import jax
import numpy as np
import pytest
from helpers import assert_same_module, require

import jaxiaf
from jaxiaf.synapses import Synapses, run

COND = """dv/dt = (v_rest - v + ge*(E_e - v) - gi*(v - E_i))/tau_m : volt (unless refractory)
dge/dt = -ge/tau_e : 1
dgi/dt = -gi/tau_i : 1
v_rest : volt
E_e : volt
E_i : volt
tau_m : second
tau_e : second
tau_i : second
v_thresh : volt
v_reset : volt"""


def _default(rng, n_in=8, n=6):
    layer = jaxiaf.FFIAF(np.zeros((1, n)), bias=0.0, integrator_name="exact", refractory=5e-4)
    ff = Synapses(
        rng.uniform(0, 6e-3, (n_in, n)) * (rng.random((n_in, n)) < 0.7), rng.integers(0, 4, (n_in, n))
    )
    rec = (
        Synapses(rng.uniform(0, 2e-3, (n, n)), 3, "v += w", scale=0.5),
        Synapses(rng.uniform(0, 1e-3, (n, n))),
    )
    return layer, ff, rec


def _cond(rng, n_in=8, n=6):
    layer = jaxiaf.FFIAF(
        np.zeros((1, n)), neuron_eq=COND, integrator_name="rk4", refractory=2e-3, v_rest=-0.065, E_e=0.0,
        E_i=-0.08, tau_m=0.02, tau_e=5e-3, tau_i=1e-2, v_thresh=-0.052, v_reset=-0.065,
    )  # fmt: skip
    ff = (Synapses(rng.uniform(0, 0.4, (n_in, n)), 2, "ge += w", max_spikes=n_in),)
    rec = Synapses(rng.uniform(0, 0.2, (n, n)), rng.integers(0, 5, (n, n)), "gi += w; ge -= w")
    return layer, ff, rec


def _tree_equal(a, b):
    assert_same_module(eqx.filter(a, eqx.is_array), eqx.filter(b, eqx.is_array))
    assert jax.tree.structure(a) == jax.tree.structure(b)


@pytest.mark.parametrize("build", [_default, _cond])
def test_network_file_continues_bit_for_bit(tmp_path, build):
    rng = np.random.default_rng(3)
    layer, ff, rec = build(rng)
    spikes = rng.random((400, 8)) < 0.08
    whole = run(layer, spikes, feedforward=ff, recurrent=rec)
    first = run(layer, spikes[:250], feedforward=ff, recurrent=rec)
    assert any(np.any(np.asarray(h)) for group in first[3] for h in group)  # spikes in transit
    jaxiaf.save(layer.set_attributes(first[1]), tmp_path / "net.jaxiaf", feedforward=ff, recurrent=rec,
                pending=first[3])  # fmt: skip
    net = jaxiaf.load(tmp_path / "net.jaxiaf")
    assert type(net.feedforward) is type(ff) and type(net.recurrent) is type(rec)
    _tree_equal((net.feedforward, net.recurrent, net.pending), (ff, rec, first[3]))
    assert_same_module(net.layer, layer.set_attributes(first[1]))
    rest = run(
        net.layer, spikes[250:], feedforward=net.feedforward, recurrent=net.recurrent, pending=net.pending
    )
    assert np.asarray(whole[0]).sum() > 20
    assert np.array_equal(np.concatenate([first[0], rest[0]]), whole[0])
    _tree_equal((rest[1], rest[3]), (whole[1], whole[3]))
    jaxiaf.save(net, tmp_path / "again.jaxiaf")  # a loaded network saves as it is
    _tree_equal(jaxiaf.load(tmp_path / "again.jaxiaf"), net)


def _nir_network(rng, n_in=8, n=6):
    layer = jaxiaf.FFIAF(rng.uniform(0, 1, (2, n)), bias=2e-3, integrator_name="exact", refractory=5e-4)
    ff = Synapses(rng.uniform(0, 6e-3, (n_in, n)) * (rng.random((n_in, n)) < 0.7))
    rec = (
        Synapses(rng.uniform(0, 2e-3, (n, n)), scale=0.5),
        Synapses(rng.uniform(0, 1e-3, (n, n)), on_pre="v -= w"),
    )
    return layer, ff, rec


def test_network_through_a_nir_file_continues_bit_for_bit(tmp_path):
    """`spikes -> feedforward_0 -> lif` and `lif -> recurrent_g -> lif` beside the layer's own
    `input -> affine -> lif -> output`; each Linear's weight is the jump of `v` per spike (`±scale * weights.T
    * tau_mem`), and through `nir.write` / `nir.read` and `from_nir` the network continues bit for bit."""
    nir = require("nir")
    rng = np.random.default_rng(5)
    layer, ff, rec = _nir_network(rng)
    spikes, x = rng.random((400, 8)) < 0.08, rng.normal(0, 5e-3, (400, 2))
    first = run(layer, spikes[:250], feedforward=ff, recurrent=rec, x=x[:250])
    layer = layer.set_attributes(first[1])
    with pytest.warns(UserWarning, match="refractory"):
        graph = jaxiaf.to_nir(layer, feedforward=ff, recurrent=rec)
    tau = np.asarray(layer.params.tau_mem)[:, None]
    assert set(graph.edges) == {
        ("input", "affine"), ("affine", "lif"), ("lif", "output"), ("spikes", "feedforward_0"),
        ("feedforward_0", "lif"), ("lif", "recurrent_0"), ("recurrent_0", "lif"), ("lif", "recurrent_1"),
        ("recurrent_1", "lif"),
    }  # fmt: skip
    assert np.array_equal(graph.nodes["feedforward_0"].weight, np.asarray(ff.weights).T * tau)
    assert np.array_equal(graph.nodes["recurrent_0"].weight, 0.5 * np.asarray(rec[0].weights).T * tau)
    assert np.array_equal(graph.nodes["recurrent_1"].weight, -np.asarray(rec[1].weights).T * tau)
    assert np.array_equal(graph.nodes["spikes"].input_type["input"], [8])
    nir.write(tmp_path / "net.nir", graph)
    net = jaxiaf.from_nir(nir.read(tmp_path / "net.nir"))
    assert_same_module(net.layer, layer)
    _tree_equal((net.feedforward, net.recurrent, net.pending), (ff, rec, first[3]))
    whole = run(layer, spikes[250:], feedforward=ff, recurrent=rec, x=x[250:])
    rest = run(net.layer, spikes[250:], feedforward=net.feedforward, recurrent=net.recurrent, x=x[250:])
    assert np.asarray(whole[0]).sum() > 20 and np.array_equal(rest[0], whole[0])
    _tree_equal(rest[1], whole[1])


def test_what_nir_cannot_express_is_refused_by_name():
    rng = np.random.default_rng(1)
    layer, ff, rec = _default(rng)
    with pytest.raises(ValueError, match="`feedforward` has synaptic delays; NIR edges have no delay"):
        jaxiaf.to_nir(layer, feedforward=ff)
    with pytest.raises(ValueError, match="`recurrent` has synaptic delays"):
        jaxiaf.to_nir(layer, recurrent=rec)
    cond, ff, rec = _cond(rng)
    with pytest.raises(ValueError, match=r"`feedforward.on_pre` writes \['ge'\]; NIR's LIF node has a place"):
        jaxiaf.to_nir(cond, feedforward=ff)
    with pytest.raises(ValueError, match="its own `neuron_eq` has no NIR counterpart"):
        jaxiaf.to_nir(cond, recurrent=Synapses(np.ones((6, 6)), on_pre="v += w"))
    with pytest.raises(ValueError, match="`for_norse` maps a layer of current input only"):
        jaxiaf.to_nir(layer, recurrent=Synapses(np.ones((6, 6))), for_norse=True)
    with pytest.raises(ValueError, match="`events.recurrent.weights` must have shape"):
        jaxiaf.to_nir(layer, recurrent=Synapses(np.ones((5, 6))))


def test_bad_networks_and_files_are_refused_by_name(tmp_path):
    rng = np.random.default_rng(2)
    layer, ff, rec = _default(rng)
    timed = jaxiaf.FFIAFBrian(np.ones((1, 6)))
    with pytest.raises(TypeError, match="`layer`: synapses go with a functional jaxiaf.FFIAF"):
        jaxiaf.save(timed, tmp_path / "x", recurrent=rec)
    with pytest.raises(TypeError, match="`layer`: synapses go with a functional jaxiaf.FFIAF"):
        jaxiaf.to_nir(timed, recurrent=rec)
    with pytest.raises(ValueError, match="`events.recurrent.weights` must have shape"):
        jaxiaf.save(layer, tmp_path / "x", recurrent=Synapses(np.ones((5, 6))))
    with pytest.raises(ValueError, match="`events.pending` must be"):
        jaxiaf.save(layer, tmp_path / "x", feedforward=ff, pending=((), ()))
    jaxiaf.save(layer, tmp_path / "net.jaxiaf", feedforward=ff, recurrent=rec)
    with np.load(tmp_path / "net.jaxiaf") as archive:
        entries = {k: archive[k] for k in archive.files if k != "synapses.1.weights"}
    np.savez(tmp_path / "bad.npz", **entries)
    with pytest.raises(ValueError, match="bad.npz'?: invalid jaxiaf layer file .*synapses.1.weights"):
        jaxiaf.load(tmp_path / "bad.npz")


def test_foreign_recurrent_lif_graph():
    """A graph without jaxiaf metadata whose LIF feeds itself through a Linear: recurrent `Synapses` with
    `on_pre="v += w"` and `weights = weight.T * r / tau` (the jump of `v` per spike); exported again (with
    `r = 1`), the Linear's weight is `weight * r` to within rounding, the same jumps; a biased Affine on
    that edge is refused by name."""
    nir = require("nir")
    rng = np.random.default_rng(4)
    tau, r, loop = np.array([0.01, 0.02, 0.04]), np.array([1.0, 1.0, 2.0]), rng.normal(0, 1e-4, (3, 3))
    lif = nir.LIF(tau=tau, r=r, v_leak=np.zeros(3), v_threshold=np.full(3, 0.01), v_reset=np.zeros(3))
    nodes = {"in": nir.Input(input_type=np.array([2])), "w": nir.Linear(weight=np.ones((3, 2))), "lif": lif}
    nodes.update({"out": nir.Output(output_type=np.array([3])), "loop": nir.Linear(weight=loop)})
    edges = [("in", "w"), ("w", "lif"), ("lif", "out"), ("lif", "loop"), ("loop", "lif")]
    net = jaxiaf.from_nir(nir.NIRGraph(nodes=nodes, edges=edges), dt=1e-4)
    assert net.feedforward is None and net.recurrent.on_pre == (("v", "+"),)
    np.testing.assert_allclose(net.recurrent.weights, loop.T * r / tau, rtol=1e-15)
    back = jaxiaf.to_nir(net.layer, recurrent=net.recurrent).nodes["recurrent_0"].weight
    np.testing.assert_allclose(back, loop * r[:, None], rtol=1e-15)  # the same jumps with r = 1
    biased = {**nodes, "loop": nir.Affine(weight=loop, bias=np.ones(3))}
    with pytest.raises(ValueError, match="the Affine node 'loop' on a recurrent edge of the LIF has a bias"):
        jaxiaf.from_nir(nir.NIRGraph(nodes=biased, edges=edges), dt=1e-4)
