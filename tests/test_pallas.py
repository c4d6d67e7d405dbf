"""The Pallas kernel of the default float32 loop (`jaxiaf._core.pallas`) in interpret mode on the CPU:
counts, first spikes, `v` and the refractory counter bit-identical to the XLA loop of `jaxiaf.evolve`,
for every integrator of the default path, refractory on and off, on random layers; and
`benchmarks/gpu_check.py --smoke` runs on the CPU in under a minute."""

import json
import os
import pathlib
import subprocess
import sys
import time

import equinox as eqx
import jax.numpy as jnp
import numpy as np
import pytest

import jaxiaf
from jaxiaf._core import pallas
from jaxiaf._core.pytrees import State
from jaxiaf._sweep.sweep import _reducer

ROOT = pathlib.Path(__file__).parents[1]


def _case(integrator, refractory, seed, sets=4, n=6, n_in=3, num_steps=240):
    rng = np.random.default_rng(seed)
    weights = rng.normal(0.0, 0.03, (n_in, n)).astype(np.float32)
    mod = jaxiaf.FFIAF(weights, integrator_name=integrator, refractory=refractory)
    f32 = lambda a: jnp.asarray(a, jnp.float32)
    params = jaxiaf.Parameters(
        f32(weights), f32(rng.uniform(0.005, 0.03, (sets, 1))), f32(rng.uniform(0.005, 0.05, (sets, n))),
        f32(mod.params.v_thresh), f32(mod.params.v_reset), f32(mod.params.v_rest),
    )  # fmt: skip
    values = tuple(map(f32, (1e-4, 0.0, refractory)))
    sim = eqx.tree_at(lambda s: (s.dt, s.noise_std, s.refractory), mod.sim, values)
    state = State(
        f32(rng.uniform(-0.07, -0.05, (sets, n))), jnp.full((sets, n), 2**30, jnp.int32),
        jnp.broadcast_to(mod.neuron_state.key, (sets,)), jnp.asarray(0, jnp.int32),
    )  # fmt: skip
    currents = f32(rng.uniform(0.0, 1.0, (num_steps, n_in))) @ params.weights
    return params, sim, state, currents


@pytest.mark.parametrize("integrator", ["rk4", "rk2", "euler", "exponential_euler", "exact"])
@pytest.mark.parametrize("refractory", [0.0, 4e-4])
def test_kernel_equals_the_xla_loop_bit_for_bit(integrator, refractory):
    for seed in (len(integrator) + int(refractory > 0),):  # a different random layer per case
        params, sim, state, currents = _case(integrator, refractory, seed)
        blocks = dict(block_batch=2, block_neurons=3, block_steps=48)
        got = pallas.counts(params, sim, state, currents, interpret=True, **blocks)
        red = _reducer(("counts", "first_spike_times"), None)
        (acc, _), new, _ = jaxiaf.evolve(params, sim, state, currents, reducer=red, check=False)
        for a, b in zip(got, (acc["counts"], acc["first"], new.v, new.since_spike), strict=True):
            np.testing.assert_array_equal(a, b)
        assert int(acc["counts"].sum()) > 0


def test_kernel_refuses_what_it_does_not_run():
    params, sim, state, currents = _case("rk4", 0.0, 0)
    with pytest.raises(ValueError, match="float32 without noise"):
        noisy = jaxiaf.SimulationParameters(sim.dt, sim.noise_std, sim.refractory, sim.integrator_name, True)
        pallas.counts(params, noisy, state, currents, interpret=True)
    with pytest.raises(ValueError, match=r"`currents` must have shape \(T, 6\)"):
        pallas.counts(params, sim, state, currents[:, :5], interpret=True)


def test_gpu_check_smoke_runs_on_the_cpu(tmp_path):
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "JAX_ENABLE_X64": "0"}
    out = tmp_path / "gpu.json"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--smoke", "--out", str(out)]
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=300)
    assert time.perf_counter() - start < 60  # gpu_check.py's docstring: a smoke test under a minute
    result = json.loads(out.read_text())
    assert result["platform"] == "cpu"
    for integrator in ("rk4", "exact"):
        assert result[f"pallas/{integrator}"]["bit_identical"] is True
        assert result[f"pallas/{integrator}"]["interpret"] is True
        assert result[f"vmap/{integrator}"]["counts_equal_to_sweep"] >= 0.99
    assert result["fit"]["warm"] > 0
