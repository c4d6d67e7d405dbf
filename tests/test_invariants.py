"""Invariants of the pure core: chunking, jit, vmap, keys, reset. All asserted bit for bit."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxiaf

INTEGRATORS = ["rk4", "rk2", "euler", "exponential_euler", "exact"]


def _layer(integrator="rk4", noise_std=0.002, **kwargs):
    rng = np.random.default_rng(3)
    kw = dict(
        bias=rng.uniform(0.005, 0.02, 6),
        tau_mem=rng.uniform(0.005, 0.05, 6),
        refractory=7.5e-4,
        v_reset=rng.uniform(-0.07, -0.06, 6),
    )
    kw.update(kwargs)
    return jaxiaf.FFIAF(rng.normal(0, 0.01, (3, 6)), noise_std=noise_std, integrator_name=integrator, **kw)


def _input(num_steps=900, seed=4):
    return np.random.default_rng(seed).normal(0.5, 1.0, (num_steps, 3))


def _assert_same(a, b):
    for leaf_a, leaf_b in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        if jnp.issubdtype(jnp.asarray(leaf_a).dtype, jax.dtypes.prng_key):
            leaf_a, leaf_b = jax.random.key_data(leaf_a), jax.random.key_data(leaf_b)
        np.testing.assert_array_equal(np.asarray(leaf_a), np.asarray(leaf_b))


@pytest.mark.parametrize("integrator", INTEGRATORS)
def test_chunked_evolution_equals_one_evolution(integrator):
    mod, x = _layer(integrator), _input()
    whole = mod(x, record=True)
    s1, st1, r1 = mod(x[:317], record=True)
    s2, st2, r2 = mod.set_attributes(st1)(x[317:], record=True)
    assert whole[0].sum() > 10
    _assert_same(whole[0], jnp.concatenate([s1, s2]))
    _assert_same(whole[2]["v"], jnp.concatenate([r1["v"], r2["v"]]))
    _assert_same(whole[1], st2)


@pytest.mark.parametrize("integrator", INTEGRATORS)
def test_jit_equals_eager(integrator):
    mod, x = _layer(integrator), _input(120)
    eager = mod(x, record=True)
    _assert_same(eqx.filter_jit(lambda m, x: m(x, record=True))(mod, x), eager)
    # The module closed over as a constant: XLA must not fold it into different arithmetic.
    _assert_same(jax.jit(lambda x: mod(x, record=True))(x), eager)
    with jax.disable_jit():
        _assert_same(mod(x, record=True), eager)


def test_vmap_equals_loop():
    mod, x = _layer(), _input(500)
    taus = jnp.linspace(0.005, 0.05, 5)
    biases = jnp.linspace(0.01, 0.03, 5)
    build = lambda tau, b: mod.set_attributes({"tau_mem": tau, "bias": b, "key": jax.random.key(7)})
    batched = jax.vmap(build)(taus, biases)
    spikes, states, _ = jax.vmap(lambda m: m(x))(batched)
    for i in range(5):
        s, st, _ = build(taus[i], biases[i])(x)
        _assert_same(spikes[i], s)
        _assert_same(states["v"][i], st["v"])
    assert len({int(s) for s in spikes.sum(axis=(1, 2))}) > 1


def test_same_key_same_output_different_keys_differ():
    x = _input(600)
    a = _layer(key=jax.random.key(1))(x)[0]
    b = _layer(key=jax.random.key(1))(x)[0]
    c = _layer(key=jax.random.key(2))(x)[0]
    _assert_same(a, b)
    assert (np.asarray(a) != np.asarray(c)).any()


def test_reset_all_repeats_the_first_evolution():
    mod, x = _layer(), _input(400)
    first = mod(x, record=True)
    advanced = mod.set_attributes(first[1])
    assert int(advanced.neuron_state.step) == 400
    _assert_same(advanced.reset_all()(x, record=True), first)


def test_changing_values_does_not_recompile():
    traces = []

    @eqx.filter_jit
    def run(m, x):
        traces.append(1)
        return m(x)[0].sum()

    mod, x = _layer(), _input(100)
    run(mod, x)
    for tau in (0.01, 0.02, 0.03):
        run(mod.set_attributes({"tau_mem": tau, "bias": 0.02, "noise_std": 0.001, "dt": 2e-4}), x)
    run(mod.set_attributes(mod(x)[1]), x)
    assert len(traces) == 1
    run(mod.set_attributes({"integrator_name": "euler"}), x)
    assert len(traces) == 2


# Share of the 400 random neurons whose float32 spike train equals float64's (benchmarks/bench_precision.py).
FLOAT32_AGREEMENT = {"rk4": 1.0, "rk2": 1.0, "euler": 0.995, "exponential_euler": 1.0, "exact": 1.0}


def test_float32_mode_runs_in_float32_and_agrees_with_float64(tmp_path):
    """float32 runs every integrator as one affine update; its spike trains match float64's."""
    import os
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        """
        import sys, numpy as np, jax
        from brian_ref.parity import run_jax
        from brian_ref.scenarios import random_scenarios
        sc = random_scenarios(np.random.default_rng(11), 100, 2000, 1e-4)
        for integ in sys.argv[2:]:
            spikes, v = run_jax(sc, integ)
            assert v.dtype == np.float32, v.dtype
            np.save(f"{sys.argv[1]}/{integ}.npy", spikes)
        """
    )
    subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), *FLOAT32_AGREEMENT],
        check=True,
        env={**os.environ, "JAX_ENABLE_X64": "0"},
    )
    from brian_ref.parity import run_jax
    from brian_ref.scenarios import random_scenarios

    sc = random_scenarios(np.random.default_rng(11), 100, 2000, 1e-4)
    for integ, share in FLOAT32_AGREEMENT.items():
        s64, v64 = run_jax(sc, integ)
        s32 = np.load(tmp_path / f"{integ}.npy")
        assert v64.dtype == np.float64
        same_neurons = (s32 == s64).all(axis=0).mean()
        assert same_neurons >= share, (integ, same_neurons)
        assert (s32.sum(axis=0) == s64.sum(axis=0)).all(), integ
