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
from jaxiaf._core.scan import Reducer
from jaxiaf._sweep.sweep import _top_chunk, grid, sweep

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


@pytest.mark.parametrize("integrator", ["rk4", "exact"])
def test_an_unrolled_loop_gives_the_same_bits(integrator):
    mod = _module(noise_std=0.001, integrator_name=integrator)
    batch = grid(bias=np.linspace(0.005, 0.03, 3), tau_mem=[0.01, 0.03])
    run = lambda unroll: sweep(mod, batch, X[:101], outputs=("counts", "v"), dtype=jnp.float64, unroll=unroll)
    one, three = run(1), run(3)  # 101 steps: 33 unrolled iterations and a remainder of 2
    np.testing.assert_array_equal(one.v, three.v)
    np.testing.assert_array_equal(one.counts, three.counts)
    assert one.counts.sum() > 0


def test_swept_weights_and_batched_input_equal_a_loop():
    mod = _module(bias=0.012)
    weights = RNG.normal(0, 0.01, (4, 3, 5))
    xs = RNG.normal(0.5, 1.0, (4, 300, 3))
    res = sweep(mod, {"weights": weights}, xs, outputs=("spikes", "v"), dtype=jnp.float64)
    for b in range(4):
        spikes, _, rec = mod.set_attributes({"weights": weights[b]})(xs[b], record=True)
        np.testing.assert_array_equal(res.spikes[b], spikes)
        np.testing.assert_array_equal(res.v[b], rec["v"])


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
    before = _top_chunk._cache_size()
    chunked = sweep(mod, batch, X, chunk_size=4, dtype=jnp.float64, progress=False)
    np.testing.assert_array_equal(whole.counts, chunked.counts)
    after_chunks = _top_chunk._cache_size()
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
    assert _top_chunk._cache_size() == after_chunks  # new values never recompile


def test_dtype_follows_the_layer_unless_given():
    mod = _module()
    assert mod.params.tau_mem.dtype == jnp.float64  # x64 is on in the tests
    batch = {"bias": [0.01, 0.02]}
    assert sweep(mod, batch, X[:50], outputs=("v",)).v.dtype == jnp.float64
    assert sweep(mod, batch, X[:50], outputs=("v",), dtype=jnp.float32).v.dtype == jnp.float32


def _row_keys(mod, batch_size):
    return [jax.random.fold_in(mod.neuron_state.key, b) for b in range(batch_size)]


@pytest.mark.parametrize(
    "name, values",
    [
        ("dt", [5e-5, 1e-4, 2e-4]),
        ("noise_std", [0.0, 0.001, 0.004]),
        ("v_reset", [-0.07, -0.065, -0.06]),
        ("v_rest", [-0.07, -0.062, -0.058]),
        ("bias", RNG.uniform(0.0, 0.03, (3, 5))),  # (B, N): one value per neuron and set
        ("refractory", RNG.uniform(0.0, 3e-3, (3, 5))),
    ],
)
def test_each_swept_name_equals_a_loop_bit_for_bit(name, values):
    mod = _module(noise_std=0.001, bias=0.015)
    res = sweep(mod, {name: values}, X[:200], outputs=("spikes", "v"))
    keys = _row_keys(mod, 3)
    for b in range(3):
        spikes, _, rec = mod.set_attributes({name: values[b], "key": keys[b]})(X[:200], record=True)
        np.testing.assert_array_equal(res.spikes[b], spikes)
        np.testing.assert_array_equal(res.v[b], rec["v"])
    assert len({np.asarray(res.v[b]).tobytes() for b in range(3)}) == 3


def test_noise_is_independent_per_set_unless_common_noise():
    mod = _module(noise_std=0.002, bias=0.012)
    batch = {"bias": [0.012, 0.012]}
    own = sweep(mod, batch, X[:200], outputs=("v",))
    assert not np.array_equal(own.v[0], own.v[1])
    for b, key in enumerate(_row_keys(mod, 2)):
        np.testing.assert_array_equal(
            own.v[b], mod.set_attributes({"key": key})(X[:200], record=True)[2]["v"]
        )
    common = sweep(mod, batch, X[:200], outputs=("v",), common_noise=True)
    np.testing.assert_array_equal(common.v[0], common.v[1])
    np.testing.assert_array_equal(common.v[0], mod(X[:200], record=True)[2]["v"])


def test_swept_keys_typed_raw_and_seeds_agree():
    mod = _module(noise_std=0.002, bias=0.012)
    seeds = np.array([4, 5, 6])
    typed = jax.vmap(jax.random.key)(jnp.asarray(seeds))
    runs = [
        sweep(mod, {"seed": seeds}, X[:200], outputs=("v",)),
        sweep(mod, {"key": typed}, X[:200], outputs=("v",)),
        sweep(mod, {"key": jax.random.key_data(typed)}, X[:200], outputs=("v",)),  # raw (B, 2) uint32
    ]
    for other in runs[1:]:
        np.testing.assert_array_equal(runs[0].v, other.v)
    single = mod.set_attributes({"key": jax.random.key(5)})(X[:200], record=True)[2]["v"]
    np.testing.assert_array_equal(runs[0].v[1], single)


def test_an_ffiafbrian_layer_sweeps_its_functional_module():
    layer = jaxiaf.FFIAFBrian(W, refractory=1e-3)
    batch = {"bias": [0.01, 0.02]}
    np.testing.assert_array_equal(sweep(layer, batch, X).counts, sweep(layer.module, batch, X).counts)
    with pytest.raises(TypeError, match="`module` must be a jaxiaf.FFIAF or jaxiaf.FFIAFBrian; got dict"):
        sweep({}, batch, X)


def test_progress_bar_rule(capsys):
    batch = {"bias": np.linspace(0.0, 0.03, 4)}
    for chunk_size, progress, shown in [
        (4, None, False),
        (2, None, True),
        (2, False, False),
        (4, True, True),
    ]:
        sweep(_module(), batch, X[:50], chunk_size=chunk_size, progress=progress)
        err = capsys.readouterr().err
        assert ("sweep" in err) == shown, (chunk_size, progress, err)
        if shown:
            assert f"{-(-4 // chunk_size)}/{-(-4 // chunk_size)}" in err


def test_many_chunks_compile_no_concatenation(caplog):
    """Chunks are gathered on the host: 4000 chunks once took 91 s, 29 s of it compiling a concatenation of
    4000 parts (a new compilation for every chunk count)."""
    mod, x = _module(), X[:20]
    sweep(mod, {"bias": np.linspace(0.0, 0.03, 3)}, x, chunk_size=1, progress=False)  # compiles the chunk
    with jax.log_compiles(True), caplog.at_level("WARNING"):
        res = sweep(mod, {"bias": np.linspace(0.0, 0.03, 7)}, x, chunk_size=1, progress=False)
    compiled = [r.getMessage() for r in caplog.records if "Compiling" in r.getMessage()]
    assert not [m for m in compiled if "concatenate" in m], compiled
    np.testing.assert_array_equal(
        res.counts, sweep(mod, {"bias": np.linspace(0.0, 0.03, 7)}, x, progress=False).counts
    )


def test_sharded_equals_single_device(tmp_path):
    script = textwrap.dedent(
        """
        import sys, numpy as np, jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp, jaxiaf
        from jaxiaf._sweep.sweep import sweep, grid
        assert len(jax.devices()) == int(sys.argv[2]), jax.devices()
        rng = np.random.default_rng(0)
        mod = jaxiaf.FFIAF(rng.normal(0, 0.01, (3, 5)), noise_std=0.001, refractory=1e-3)
        x = rng.normal(0.5, 1.0, (500, 3))
        batch = grid(bias=np.linspace(0.005, 0.03, 5), tau_mem=[0.01, 0.02, 0.04], seed=[0, 1])
        res = sweep(mod, batch, x, outputs=("counts", "v"), dtype=jnp.float64, chunk_size=8, progress=False)
        unsharded = sweep(mod, batch, x, outputs=("v",), chunk_size=8, shard=False)
        np.savez(sys.argv[1], counts=res.counts, v=res.v, unsharded=unsharded.v)
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
    np.testing.assert_array_equal(out[4]["unsharded"], out[4]["v"])  # shard=False: one device of four
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
        from jaxiaf._sweep.sweep import sweep
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
        ({"bias": []}, {"chunk_size": 4}, "`params` holds no parameter set (B = 0"),
        ({"weights": np.full((2, 3, 5), np.nan)}, {}, "`weights` must be finite"),
        ({"weights": np.full((2, 3, 5), np.inf)}, {}, "`weights` must be finite"),
        ({"dt": np.full((2, 5), 1e-4)}, {}, "Swept `dt` must have shape (B,) (one time step per set)"),
        ({"key": jax.random.split(jax.random.key(0), (2, 2))}, {}, "`key` must be (2,) typed PRNG keys"),
        ({"key": np.zeros((2, 3), np.uint32)}, {}, "`key` must be (2,) typed PRNG keys"),
        ({"seed": [0.5, 1.5]}, {}, "Swept `seed` must be (2,) integers"),
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


@pytest.mark.brian
def test_brian2_quantities_in_grid_and_sweep_must_carry_the_unit():
    import brian2 as b2

    mod = _module()
    good = sweep(mod, grid(tau_mem=[10, 20] * b2.ms), X[:100], outputs=("v",))
    np.testing.assert_array_equal(good.v, sweep(mod, {"tau_mem": [0.01, 0.02]}, X[:100], outputs=("v",)).v)
    with pytest.raises(ValueError, match=re.escape("`tau_mem` must be in seconds (s)")):
        grid(tau_mem=[10, 20] * b2.mV)
    with pytest.raises(ValueError, match=re.escape("`v_rest` must be in volts (V)")):
        sweep(mod, {"v_rest": [10, 20] * b2.ms}, X[:100])


def test_sweep_input_errors():
    with pytest.raises(ValueError, match=re.escape("`x` must have shape (T, 3) or (2, T, 3)")):
        sweep(_module(), {"bias": [0.01, 0.02]}, np.ones((10, 4)))
    bad = X.copy()
    bad[3, 0] = np.nan
    with pytest.raises(ValueError, match=re.escape("`x` (the input) must be finite")):
        sweep(_module(), {"bias": [0.01]}, bad)


@pytest.mark.parametrize("common_noise", [False, True])
def test_a_chunked_sweep_equals_one_call_in_every_output(common_noise):
    """Three chunks of 2 (the last padded), gathered on the host: every output, the final state and the
    per-set noise keys equal those of one call."""
    outputs = ("counts", "first_spike_times", "spikes", "v")
    mod = _module(noise_std=0.002, bias=0.02)
    params = {"tau_mem": np.linspace(0.01, 0.03, 5)}
    x = X[:150]
    run = lambda size: sweep(mod, params, x, outputs=outputs, chunk_size=size, common_noise=common_noise)
    one, chunked = run(None), run(2)
    for name in outputs:
        np.testing.assert_array_equal(getattr(chunked, name), getattr(one, name))
    np.testing.assert_array_equal(chunked.final_state.v, one.final_state.v)
    np.testing.assert_array_equal(
        jax.random.key_data(chunked.final_state.key), jax.random.key_data(one.final_state.key)
    )
    assert int(one.counts.sum()) > 0


def test_a_float32_sweep_of_own_equations_equals_each_set_alone():
    from helpers import ADAPTIVE_LIF

    with jax.enable_x64(False):
        mod = jaxiaf.FFIAF(
            RNG.normal(0.0, 0.02, (3, 5)).astype(np.float32), neuron_eq=ADAPTIVE_LIF,
            threshold="v > v_thresh", reset="v = v_reset; w += b", v_rest=-0.065, R=1.0, tau_m=0.02,
            tau_w=0.2, v_thresh=-0.05, v_reset=-0.065, v=-0.065, w=0.0, a=0.01, b=0.002,
        )  # fmt: skip
        x = jnp.asarray(X[:200], jnp.float32)
        values = np.asarray([0.005, 0.02], np.float32)
        res = sweep(mod, {"a": values}, x, outputs=("spikes",), shard=False)
        for b, a in enumerate(values):
            np.testing.assert_array_equal(res.spikes[b], mod.set_attributes({"a": a})(x)[0])
