"""`FFIAFBrian` against itself in chunks, the functional `FFIAF` and Brian2 (`brian_ref`) on one input.

Chunked and one-call evolutions run the same compiled arithmetic on the same sample times, so they are
compared bit for bit (spike times included). Brian2 parity is asserted as in `test_parity.py`: identical
spike steps and bit-identical `v`.
"""

import jax
import numpy as np
import pytest

import jaxiaf
from jaxiaf._core.noise import standard_normal_raster

INTEGRATORS = ["rk4", "rk2", "euler", "exponential_euler", "exact"]
DT = 1e-4
NUM_STEPS = 600
W = np.array([[0.02, 0.01, 0.0], [0.0, 0.01, 0.03]])
KWARGS = dict(
    bias=[0.008, 0.011, 0.0095],
    dt=DT,
    noise_std=2e-3,
    tau_mem=[0.01, 0.02, 0.03],
    v_thresh=-0.055,
    v_reset=[-0.07, -0.065, -0.06],
    v_rest=-0.065,
    refractory=[0.0, 2e-3, 5.5e-4],
)
KEY = jax.random.key(5)


def _input():
    """A linearly interpolated 2-channel current, samples off the dt grid, ending at 0.06 s (600 steps)."""
    rng = np.random.default_rng(3)
    times = np.concatenate([[0.0], np.sort(rng.uniform(0.0, 0.06, 38)), [0.06]])
    return jaxiaf.TSContinuous(times, rng.uniform(0.0, 2.5, (40, 2)), interp_kind="linear")


def _layer(integrator):
    # the held read of jaxiaf.FFIAF and FFIAFBrian2 (the timed default: tests/test_timed_sampling.py)
    return jaxiaf.FFIAFBrian(W, **KWARGS, integrator_name=integrator, key=KEY, input_sampling="held")


def _raster(events):
    return events.raster(DT, t_start=0.0, num_timesteps=NUM_STEPS)


@pytest.mark.parametrize("integrator", INTEGRATORS)
def test_chunked_evolution_equals_one_call(integrator):
    ts = _input()
    whole, whole_state, _ = _layer(integrator)(ts, record=True)
    assert whole.t_stop == NUM_STEPS * DT and whole.times.size > 20

    mod = _layer(integrator)
    first, state, _ = mod(ts, num_timesteps=200, record=True)
    mod = mod.set_attributes(state)
    second, _, _ = mod._evolve_wrapper(ts, duration=0.02, record=True)
    third, state, _ = mod(ts, record=True)
    mod = mod.set_attributes(state)
    parts = (first, second, third)
    assert [p.t_start for p in parts] == [0.0, first.t_stop, second.t_stop]
    assert [p.t_stop for p in parts] == [200 * DT, 400 * DT, 600 * DT] and mod.t == whole.t_stop
    np.testing.assert_array_equal(np.concatenate([p.times for p in parts]), whole.times)
    np.testing.assert_array_equal(np.concatenate([p.channels for p in parts]), whole.channels)
    for name in ("v", "since_spike", "step"):
        np.testing.assert_array_equal(mod.state()[name], whole_state[name])


@pytest.mark.parametrize("integrator", INTEGRATORS)
def test_equals_the_functional_module(integrator):
    ts = _input()
    out, state, record = _layer(integrator)(ts, record=True)
    x = ts(np.arange(NUM_STEPS) * DT)
    functional = jaxiaf.FFIAF(W, **KWARGS, integrator_name=integrator, key=KEY)
    spikes, functional_state, functional_record = functional(x, record=True)
    np.testing.assert_array_equal(_raster(out), spikes)
    np.testing.assert_array_equal(record["v"].samples, functional_record["v"])
    np.testing.assert_array_equal(state["v"], functional_state["v"])


@pytest.mark.brian
@pytest.mark.parametrize("integrator", INTEGRATORS)
def test_matches_brian_ref(integrator):
    from brian_ref import FFIAFBrian2

    ts = _input()
    out, _, record = _layer(integrator)(ts, record=True)
    x = ts(np.arange(NUM_STEPS) * DT)
    xi = np.asarray(standard_normal_raster(KEY, 0, NUM_STEPS, 3))
    ref = FFIAFBrian2(W, **KWARGS, integrator_name=integrator).evolve(x=x, xi=xi)
    np.testing.assert_array_equal(_raster(out), ref.raster())
    np.testing.assert_array_equal(record["v"].samples, ref.v)
    assert ref.raster().sum() > 20
