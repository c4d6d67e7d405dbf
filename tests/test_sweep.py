"""`jaxiaf.sweep`: equal to a loop of single evolves, chunked, sharded, reduced in the scan, no recompiles."""

import os
import re
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxiaf
from jaxiaf._core import Reducer
from jaxiaf._sweep import _run_chunk, grid, sweep

RNG = np.random.default_rng(8)
W = RNG.normal(0, 0.01, (3, 5))
X = RNG.normal(0.5, 1.0, (600, 3))


def _module(**kwargs):
    return jaxiaf.FFIAF(W, refractory=1e-3, **kwargs)


def test_grid_is_the_cartesian_product_in_c_order():
    g = grid(bias=[1, 2], tau_mem=[3, 4, 5])
    np.testing.assert_array_equal(g["bias"], [1, 1, 1, 2, 2, 2])
    np.testing.assert_array_equal(g["tau_mem"], [3, 4, 5, 3, 4, 5])


@pytest.mark.parametrize("integrator", ["rk4", "exact"])
def test_sweep_equals_a_loop_of_single_evolves_bit_for_bit(integrator):
    mod = _module(noise_std=0.001, integrator_name=integrator)
    batch = grid(bias=np.linspace(0.005, 0.03, 3), tau_mem=[0.01, 0.03], seed=[0, 1])
    batch["refractory"] = np.linspace(0, 3e-3, 12)
    res = sweep(mod, batch, X, outputs=("counts", "first_spike_times", "spikes", "v"), dtype=jnp.float64)
    for b in range(12):
        row = {k: v[b] for k, v in batch.items() if k != "seed"}
        single = mod.set_attributes({**row, "key": jax.random.key(int(batch["seed"][b]))})
        spikes, state, rec = single(X, record=True)
        np.testing.assert_array_equal(res.spikes[b], spikes)
        np.testing.assert_array_equal(res.v[b], rec["v"])
        np.testing.assert_array_equal(res.final_state.v[b], state["v"])
    assert len(np.unique(np.asarray(res.counts).sum(1))) > 3


@pytest.mark.parametrize("integrator", ["rk4", "exact", "euler"])
def test_an_unrolled_loop_gives_the_same_bits(integrator):
    mod = _module(noise_std=0.001, integrator_name=integrator)
    batch = grid(bias=np.linspace(0.005, 0.03, 3), tau_mem=[0.01, 0.03])
    run = lambda unroll: sweep(mod, batch, X[:301], outputs=("counts", "v"), dtype=jnp.float64, unroll=unroll)
    one, eight = run(1), run(8)  # 301 steps: 37 unrolled iterations and a remainder
    np.testing.assert_array_equal(one.v, eight.v)
    np.testing.assert_array_equal(one.counts, eight.counts)
    assert one.counts.sum() > 0


def test_swept_weights_and_batched_input_equal_a_loop():
    mod = _module(bias=0.012)
    weights = RNG.normal(0, 0.01, (4, 3, 5))
    xs = RNG.normal(0.5, 1.0, (4, 300, 3))
    res = sweep(mod, {"weights": weights}, xs, outputs=("spikes", "v"), dtype=jnp.float64)
    for b in range(4):
        spikes, _, rec = mod.set_attributes({"weights": weights[b]})(xs[b], record=True)
        np.testing.assert_array_equal(res.spikes[b], spikes)
        np.testing.assert_allclose(res.v[b], rec["v"], rtol=0, atol=1e-15)


def test_summaries_equal_those_of_the_full_raster():
    mod = _module()
    batch = grid(bias=np.linspace(0.0, 0.03, 7), v_thresh=[-0.06, -0.05])
    res = sweep(mod, batch, X, outputs=("counts", "rates", "first_spike_times", "spikes"), dtype=jnp.float64)
    raster = np.asarray(res.spikes)
    np.testing.assert_array_equal(res.counts, raster.sum(axis=1))
    np.testing.assert_allclose(res.rates, raster.sum(axis=1) / (600 * 1e-4))
    fired = raster.any(axis=1)
    expected = np.where(fired, (raster.argmax(axis=1) + 0.5) * 1e-4, np.inf)
    np.testing.assert_allclose(res.first_spike_times, expected, rtol=1e-12)
    assert fired.any() and not fired.all()
    assert res.spikes.dtype == jnp.bool_ and res.v is None


def test_user_reducer_runs_inside_the_scan():
    peak = Reducer(
        init=lambda shape, dtype: jnp.full(shape, -jnp.inf, dtype),
        update=lambda acc, k, spike, v: (jnp.maximum(acc, v), None),
    )
    res = sweep(_module(), {"bias": [0.0, 0.005, 0.009]}, X, outputs=("v",), reducer=peak, dtype=jnp.float64)
    np.testing.assert_array_equal(res.reduced, np.asarray(res.v).max(axis=1))


def test_chunks_reuse_one_compilation_and_equal_one_call():
    mod = _module()
    batch = {"bias": np.linspace(0.0, 0.03, 11), "tau_mem": np.linspace(0.005, 0.05, 11)}
    whole = sweep(mod, batch, X, dtype=jnp.float64)
    before = _run_chunk._cache_size()
    chunked = sweep(mod, batch, X, chunk_size=4, dtype=jnp.float64, progress=False)
    np.testing.assert_array_equal(whole.counts, chunked.counts)
    after_chunks = _run_chunk._cache_size()
    for scale in (0.5, 2.0, 3.0):
        sweep(
            mod, {k: v * scale for k, v in batch.items()}, X, chunk_size=4, dtype=jnp.float64, progress=False
        )
        sweep(
            mod.set_attributes({"v_thresh": -0.05 * scale}),
            batch,
            X,
            chunk_size=4,
            dtype=jnp.float64,
            progress=False,
        )
    assert after_chunks == before + 1  # the chunk shape is new once
    assert _run_chunk._cache_size() == after_chunks  # new values never recompile


def test_float32_is_the_default():
    res = sweep(_module(), {"bias": [0.01, 0.02]}, X, outputs=("v",))
    assert res.v.dtype == jnp.float32


def test_sharded_equals_single_device(tmp_path):
    script = textwrap.dedent(
        """
        import sys, numpy as np, jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp, jaxiaf
        from jaxiaf._sweep import sweep, grid
        assert len(jax.devices()) == int(sys.argv[2]), jax.devices()
        rng = np.random.default_rng(0)
        mod = jaxiaf.FFIAF(rng.normal(0, 0.01, (3, 5)), noise_std=0.001, refractory=1e-3)
        x = rng.normal(0.5, 1.0, (500, 3))
        batch = grid(bias=np.linspace(0.005, 0.03, 5), tau_mem=[0.01, 0.02, 0.04], seed=[0, 1])
        res = sweep(mod, batch, x, outputs=("counts", "v"), dtype=jnp.float64, chunk_size=8, progress=False)
        np.savez(sys.argv[1], counts=res.counts, v=res.v)
        """
    )
    out = {}
    for devices in (1, 4):
        path = tmp_path / f"d{devices}.npz"
        env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
        subprocess.run([sys.executable, "-c", script, str(path), str(devices)], check=True, env=env)
        out[devices] = np.load(path)
    np.testing.assert_array_equal(out[1]["counts"], out[4]["counts"])
    np.testing.assert_array_equal(out[1]["v"], out[4]["v"])
    assert out[1]["counts"].shape == (30, 5)


def test_sharded_float64_sweep_runs_no_host_callback_on_the_devices(tmp_path):
    """128 sets per device in float64 once made the host callback of the constants run inside the sharded
    loop, where its all-reduce never completed on 2 devices (XLA aborted after 40 s)."""
    script = textwrap.dedent(
        """
        import sys, numpy as np, jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp, jaxiaf
        rng = np.random.default_rng(0)
        x = rng.normal(0.5, 1.0, (100, 100))
        batch = {"bias": rng.uniform(0.005, 0.03, 256), "tau_mem": rng.uniform(0.005, 0.05, 256)}
        counts = []
        for integrator in ("exact", "rk4"):
            mod = jaxiaf.FFIAF(rng.normal(0, 0.01, (100, 100)), integrator_name=integrator, refractory=1e-3)
            counts.append(jaxiaf.sweep(mod, batch, x, dtype=jnp.float64, progress=False).counts)
        np.save(sys.argv[1], np.stack(counts))
        """
    )
    out = {}
    for devices in (1, 2):
        path = tmp_path / f"d{devices}.npy"
        env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
        done = subprocess.run(
            [sys.executable, "-c", script, str(path)], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert "rematerialization" not in done.stderr
        out[devices] = np.load(path)
    np.testing.assert_array_equal(out[1], out[2])
    assert out[1].sum() > 1000


@pytest.mark.slow
def test_counts_only_sweep_runs_in_bounded_memory():
    # A reduced stand-in for B=1e4 x N=100 x T=1e4: its raster would take 1.0 GB; counts take 1.6 MB.
    script = textwrap.dedent(
        """
        import re, numpy as np, jax.numpy as jnp, jaxiaf
        from jaxiaf._sweep import sweep
        rng = np.random.default_rng(0)
        mod = jaxiaf.FFIAF(rng.normal(0, 0.01, (10, 100)), integrator_name="exact")
        B, T = 4000, 2500
        res = sweep(mod, {"bias": np.linspace(0.0, 0.03, B)}, rng.normal(0.5, 1, (T, 10)), chunk_size=500,
                    progress=False)
        assert res.counts.shape == (B, 100) and int(res.counts.sum()) > 0
        # VmHWM: this process's own peak (ru_maxrss would include the forking parent's, kept across exec)
        print(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
    peak_mb = int(done.stdout.split()[-1]) / 1024
    assert peak_mb < 900, f"peak RSS {peak_mb:.0f} MB"


@pytest.mark.parametrize(
    "batch, kwargs, message",
    [
        ({"tau": [0.01]}, {}, "Cannot sweep ['tau']"),
        (
            {"bias": [0.01, 0.02], "tau_mem": [0.01]},
            {},
            "Every swept value needs the same leading batch axis B",
        ),
        ({}, {}, "`params` must name at least one parameter"),
        ({"bias": [0.01]}, {"outputs": ("raster",)}, "`outputs` must be a tuple of names from"),
        ({"bias": [0.01]}, {"outputs": "counts"}, "`outputs` must be a tuple of names from"),
        ({"bias": [0.01]}, {"chunk_size": 0}, "`chunk_size` must be a positive integer"),
        ({"bias": [0.01]}, {"unroll": 0}, "`unroll` must be a positive integer; got 0"),
        ({"tau_mem": [0.01, -0.01]}, {}, "`tau_mem` must be finite and > 0 (in s)"),
        ({"bias": np.zeros((2, 3))}, {}, "Swept `bias` must have shape (B,) or (B, 5)"),
        ({"weights": np.zeros((2, 5, 3))}, {}, "Swept `weights` must have shape (B, 3, 5)"),
        (
            {"seed": [1], "key": jax.random.split(jax.random.key(0), 1)},
            {},
            "Sweep either `key` or `seed`, not both.",
        ),
    ],
)
def test_sweep_errors(batch, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        sweep(_module(), batch, X, **kwargs)


def test_sweep_input_errors():
    with pytest.raises(ValueError, match=re.escape("`x` must have shape (T, 3) or (2, T, 3)")):
        sweep(_module(), {"bias": [0.01, 0.02]}, np.ones((10, 4)))
    bad = X.copy()
    bad[3, 0] = np.nan
    with pytest.raises(ValueError, match=re.escape("`x` (the input) must be finite")):
        sweep(_module(), {"bias": [0.01]}, bad)
