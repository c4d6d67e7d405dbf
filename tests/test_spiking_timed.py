"""Rockpool's timed synaptic layers (`FFIAFSpkInBrian`, `RecIAFBrian`, `RecIAFSpkInBrian`) against Rockpool's
own Brian2 networks (`brian_ref.RockpoolSynapticLayer`: Brian2 2.x, numpy target, float64): identical spike
trains and bit-identical state (`v` and the synaptic currents at every step) on seeded random scenarios, 4
per class by default and 100 per class under `-m slow`; and the layers' Rockpool surface."""

import numpy as np
import pytest

from jaxiaf import FFIAFSpkInBrian, RecIAFBrian, RecIAFSpkInBrian, TSContinuous, TSEvent

CLASSES = {
    "FFIAFSpkInBrian": FFIAFSpkInBrian,
    "RecIAFBrian": RecIAFBrian,
    "RecIAFSpkInBrian": RecIAFSpkInBrian,
}
NUM_STEPS, DT = 300, 1e-4
METHODS = ("rk4", "euler", "exact", "rk2")


def scenario(kind: str, seed: int, timed_within_step: bool = False) -> dict:
    """A random layer of class `kind` with its input: event times (inside their bins, at most one per
    channel and step; the events of one step at one time, unless `timed_within_step`) or currents
    sampled at the step times."""
    rng = np.random.default_rng([23, 7, list(CLASSES).index(kind), seed])
    n_in, n = 5, 6
    params = dict(
        bias=rng.uniform(0.004, 0.0105, n), tau_mem=rng.uniform(0.01, 0.03, n), v_thresh=-0.055,
        v_reset=rng.uniform(-0.07, -0.06, n), v_rest=-0.065,
    )  # fmt: skip
    weights_in = rng.uniform(0, 0.004, (n_in, n))
    weights_rec = rng.uniform(-0.003, 0.004, (n, n))
    if kind == "FFIAFSpkInBrian":
        weights, params["tau_syn"] = {"weights": weights_in}, rng.uniform(2e-3, 2e-2, n)
    elif kind == "RecIAFBrian":
        weights, params["tau_syn_r"] = {"weights": weights_rec}, rng.uniform(2e-3, 2e-2, n)
    else:
        weights = {"weights_in": weights_in, "weights_rec": weights_rec}
        params.update(tau_syn_inp=rng.uniform(2e-3, 2e-2, n), tau_syn_rec=rng.uniform(2e-3, 2e-2, n))
    raster = rng.random((NUM_STEPS, n_in)) < rng.uniform(0.02, 0.1)
    steps, channels = np.nonzero(raster)
    offsets = rng.uniform(0.05, 0.95, (len(steps) if timed_within_step else NUM_STEPS))
    times = (steps + (offsets if timed_within_step else offsets[steps])) * DT
    currents = rng.uniform(0.002, 0.016, (NUM_STEPS, n))
    return dict(
        kind=kind, n=n, weights=weights, params=params, times=times, channels=channels, currents=currents,
        refractory=float(rng.choice([0.0, 1e-4, 3e-4])), method=METHODS[seed % len(METHODS)],
    )  # fmt: skip


def build(sc: dict):
    return CLASSES[sc["kind"]](
        **sc["weights"], **sc["params"], dt=DT, refractory=sc["refractory"], integrator_name=sc["method"]
    )


def series(sc: dict, t_start: float = 0.0, t_stop: float = NUM_STEPS * DT):
    """The input series of a scenario between two times."""
    if sc["kind"] == "RecIAFBrian":
        times = np.arange(NUM_STEPS + 1) * DT
        samples = np.concatenate([sc["currents"], sc["currents"][-1:]])
        return TSContinuous(times, samples, interp_kind="previous")
    n_in = next(iter(sc["weights"].values())).shape[0]
    keep = (sc["times"] >= t_start) & (sc["times"] < t_stop)
    return TSEvent(sc["times"][keep], sc["channels"][keep], t_start=t_start, t_stop=t_stop, num_channels=n_in)


def run_jaxiaf(sc: dict):
    """`(raster (T, N), traces {name: (T, N)}, new_state)` of the scenario in `jaxiaf`."""
    layer = build(sc)
    output, state, record = layer.evolve(series(sc), num_timesteps=NUM_STEPS, record=True)
    raster = np.zeros((NUM_STEPS, sc["n"]), bool)
    raster[np.floor(output.times / DT).astype(int), output.channels] = True
    traces = {k: np.asarray(ts.samples) for k, ts in record.items() if k != "spikes"}
    return raster, traces, state


def run_brian(sc: dict):
    brian_ref = pytest.importorskip("brian_ref")
    layer = brian_ref.RockpoolSynapticLayer(
        sc["kind"], sc["weights"], sc["params"], refractory=sc["refractory"], method=sc["method"], dt=DT
    )
    if sc["kind"] == "RecIAFBrian":
        result = layer.evolve(NUM_STEPS, sc["n"], currents=sc["currents"])
    else:
        result = layer.evolve(NUM_STEPS, sc["n"], event_times=sc["times"], event_channels=sc["channels"])
    return result.raster(), result.traces


@pytest.mark.brian
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("kind", list(CLASSES))
def test_identical_to_rockpools_brian2_layer(kind, seed):
    """Float64: the same spikes at the same steps and `v` and every synaptic current bit-identical at
    every step, against the network Rockpool's layer builds in Brian2 (the integrator cycles through rk4,
    euler, exact and rk2 with the seed)."""
    sc = scenario(kind, seed)
    raster, traces, _ = run_jaxiaf(sc)
    expected, expected_traces = run_brian(sc)
    assert raster.sum() > 5, "the scenario should make the layer spike"
    np.testing.assert_array_equal(raster, expected)
    assert set(traces) == set(expected_traces)
    for name, trace in traces.items():
        np.testing.assert_array_equal(trace, expected_traces[name], err_msg=name)


@pytest.mark.slow
@pytest.mark.brian
@pytest.mark.parametrize("kind", list(CLASSES))
def test_identical_to_rockpools_brian2_layer_100_scenarios(kind):
    """As `test_identical_to_rockpools_brian2_layer` on the next 96 seeds of each class (100 in all)."""
    for seed in range(4, 100):
        test_identical_to_rockpools_brian2_layer(kind, seed)
