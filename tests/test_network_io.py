"""A functional layer with its `jaxiaf.synapses` (feedforward and recurrent groups, delays, a scale, several
`on_pre` targets) and its spikes in transit: through a file (`jaxiaf.save(layer, path, feedforward=...,
recurrent=..., pending=...)`) and through NIR, continuing bit for bit (float64), and what NIR refuses."""

import equinox as eqx
import jax
import jax.numpy as jnp
import nir
import numpy as np
import pytest
from helpers import assert_same_module

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
