"""Spiking input and recurrent connections (`evolve(events=...)`) against Brian2's `Synapses(on_pre=...)`
(`brian_ref.SynapticLayer`, numpy target, float64): identical spike trains and bit-identical state on
seeded random scenarios of four kinds, five each: feedforward spike input, input with per-synapse delays,
recurrent connections with delays, and a conductance-based model with an exponential synapse."""

import jax.numpy as jnp
import numpy as np
import pytest

import jaxiaf
from jaxiaf._core.scan import evolve
from jaxiaf._core.synapses import Events, Synapses, empty_pending
from jaxiaf._equations.default import DEFAULT_NEURON_EQ

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


def _synapses(spec):
    return None if spec is None else Synapses(spec[0], np.asarray(spec[1]), spec[2], max_delay=MAX_DELAY)


def run_jaxiaf(sc: dict, split: int | None = None):
    """`(raster, traces)` of the scenario in `jaxiaf` (two evolves, the first of `split` steps, if given)."""
    n = sc["ff"][0].shape[1]
    kwargs = dict(dt=DT, refractory=sc["refractory"], integrator_name=sc["method"])
    if sc["kind"] == "conductance":
        kwargs.update(neuron_eq=CONDUCTANCE, **sc["values"])
    else:
        kwargs.update(sc["values"])
    layer = jaxiaf.FFIAF(np.zeros((1, n)), **kwargs)
    ff, rec = _synapses(sc["ff"]), _synapses(sc["rec"])
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
