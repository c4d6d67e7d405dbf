"""The float32 fast path (one affine update, one pipelined loop) and the core's edge cases found by fuzzing:
huge refractory periods, unstable integrators, non-finite potentials, the step counter, T = 0."""

import os
import re
import subprocess
import sys
import textwrap

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import as_float32

import jaxiaf
from jaxiaf._core.integrators import STABILITY_LIMITS
from jaxiaf._core.pytrees import NEVER

INTEGRATORS = ["rk4", "rk2", "euler", "exponential_euler", "exact"]


def _layer(integrator="rk4", num=6, **kwargs):
    rng = np.random.default_rng(3)
    kw = dict(bias=rng.uniform(0.005, 0.02, num), tau_mem=rng.uniform(0.005, 0.05, num), refractory=7.5e-4)
    kw.update(kwargs)
    return jaxiaf.FFIAF(rng.normal(0, 0.01, (3, num)), integrator_name=integrator, **kw)


def _parts(mod, dtype):
    parts = (mod.params, mod.sim, mod.neuron_state)
    return as_float32(parts) if dtype == jnp.float32 else parts


def _currents(mod, num_steps, dtype, seed=4):
    x = np.random.default_rng(seed).normal(0.5, 1.0, (num_steps, 3))
    return jnp.asarray(x @ np.asarray(mod.params.weights), dtype)


@pytest.mark.parametrize(
    "integrator, noise_std", [(integ, 0.002) for integ in INTEGRATORS] + [("exact", 0.0), ("rk4", 0.0)]
)
def test_float32_one_step_at_a_time_equals_one_call(integrator, noise_std):
    mod = _layer(integrator, noise_std=noise_std, bias=np.linspace(0.015, 0.03, 6))
    params, sim, state = _parts(mod, jnp.float32)
    currents = _currents(mod, 300, jnp.float32)
    whole, end, rec = jaxiaf.evolve(params, sim, state, currents, record=True)
    assert rec["v"].dtype == jnp.float32 and int(whole.sum()) > 5
    vs, spikes = [], []
    for n in range(currents.shape[0]):
        s, state, r = jaxiaf.evolve(params, sim, state, currents[n : n + 1], record=True)
        spikes.append(s)
        vs.append(r["v"])
    np.testing.assert_array_equal(np.concatenate(spikes), whole)
    np.testing.assert_array_equal(np.concatenate(vs), rec["v"])
    for a, b in ((state.v, end.v), (state.since_spike, end.since_spike), (state.step, end.step)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [jnp.float64, jnp.float32])
@pytest.mark.parametrize("refractory", [2**31 * 1e-4, 1e30])
def test_refractory_beyond_the_counter_lets_the_neuron_fire_once(dtype, refractory):
    # v_reset above threshold and a strong drive: the neuron fires whenever it is allowed to.
    mod = jaxiaf.FFIAF(
        np.zeros((1, 1)), bias=1.0, v_reset=-0.05, v_thresh=-0.055, dt=1e-4, refractory=refractory
    )
    params, sim, state = _parts(mod, dtype)
    spikes, end, _ = jaxiaf.evolve(params, sim, state, jnp.zeros((300, 1), dtype))
    first = np.flatnonzero(np.asarray(spikes[:, 0])).tolist()
    assert len(first) == 1
    assert int(jaxiaf.step_constants(params, sim).refractory_steps[()]) == NEVER
    assert int(end.since_spike[0]) == 300 - first[0]


@pytest.mark.parametrize("integrator, h", [("rk4", 2.8), ("rk2", 2.05), ("euler", 2.5), ("rk4", 1e30)])
def test_unstable_integrator_is_an_error_naming_dt_and_tau_mem(integrator, h):
    dt = 1e-3
    mod = _layer(integrator, num=2, tau_mem=[0.01, dt / h], dt=dt, refractory=0.0)
    message = re.escape(f"`dt / tau_mem` must be <= {STABILITY_LIMITS[integrator]:.4g}")
    with pytest.raises(ValueError, match=message):
        jaxiaf.step_constants(mod.params, mod.sim)
    with pytest.raises(ValueError, match=message):
        jaxiaf.sweep(mod, {"bias": [0.01, 0.02]}, np.zeros((10, 3)), dtype=jnp.float64)
    currents = jnp.zeros((10, 2))
    with pytest.raises(Exception, match=message):
        jax.block_until_ready(jax.jit(jaxiaf.evolve)(mod.params, mod.sim, mod.neuron_state, currents))


@pytest.mark.parametrize("integrator, h", [("rk4", 2.78), ("rk2", 2.0), ("euler", 2.0), ("exact", 50.0)])
def test_stable_up_to_the_limit(integrator, h):
    mod = _layer(integrator, num=2, tau_mem=[0.01, 1e-3 / h], dt=1e-3, refractory=0.0)
    v = jaxiaf.evolve(mod.params, mod.sim, mod.neuron_state, jnp.zeros((500, 2)))[1].v
    assert np.isfinite(np.asarray(v)).all()


def test_nonfinite_potential_is_an_error():
    mod = _layer()
    state = eqx.tree_at(lambda s: s.v, mod.neuron_state, jnp.full((6,), jnp.nan))
    with pytest.raises(
        Exception, match=re.escape("The membrane potential `v` (or another state variable) became NaN or inf")
    ):
        jax.block_until_ready(jaxiaf.evolve(mod.params, mod.sim, state, jnp.zeros((5, 6))))


def test_float32_step_counter_overflow_is_an_error():
    params, sim, state = _parts(_layer(), jnp.float32)
    state = eqx.tree_at(lambda s: s.step, state, jnp.int32(2**31 - 10))
    currents = jnp.zeros((5, 6), jnp.float32)
    assert int(jaxiaf.evolve(params, sim, state, currents)[1].step) == 2**31 - 5
    with pytest.raises(Exception, match=re.escape("would overflow its int32 counter")):
        jax.block_until_ready(jaxiaf.evolve(params, sim, state, jnp.zeros((10, 6), jnp.float32))[1].step)


@pytest.mark.parametrize("dtype", [jnp.float64, jnp.float32])
def test_zero_steps_return_the_state_unchanged(dtype):
    params, sim, state = _parts(_layer(noise_std=0.002), dtype)
    spikes, end, rec = jaxiaf.evolve(params, sim, state, jnp.zeros((0, 6), dtype), record=True)
    assert spikes.shape == (0, 6) and rec["v"].shape == (0, 6)
    np.testing.assert_array_equal(end.v, state.v)
    np.testing.assert_array_equal(end.since_spike, state.since_spike)


_CACHE_SCRIPT = """
import jax, numpy as np
hits = []
jax.monitoring.register_event_listener(lambda e, **kw: hits.append(e) if e.endswith("cache_hits") else None)
import jaxiaf
print(jax.config.jax_compilation_cache_dir)
mod = jaxiaf.FFIAF(np.ones((2, 3)))
params, sim, state = mod.params, mod.sim, mod.neuron_state
run = jax.jit(jaxiaf.evolve, static_argnames="check")
jax.block_until_ready(run(params, sim, state, np.ones((50, 3)), check=False))
print(len(hits))
"""


def test_compilation_cache_is_on_by_default_and_reused_by_the_next_process(tmp_path):
    env = {**os.environ, "JAX_ENABLE_X64": "0", "JAXIAF_CACHE_DIR": str(tmp_path / "xla")}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    run = lambda e: subprocess.run(
        [sys.executable, "-c", _CACHE_SCRIPT], env=e, capture_output=True, text=True
    )
    first, second = run(env), run(env)
    assert first.stdout.split()[0] == str(tmp_path / "xla"), first.stderr
    assert second.stdout.split()[0] == str(tmp_path / "xla")
    assert int(second.stdout.split()[1]) > int(first.stdout.split()[1])
    assert any((tmp_path / "xla").iterdir())
    assert run({**env, "JAXIAF_CACHE_DIR": "0"}).stdout.split() == ["None", "0"]
    # A cache the user configured in JAX is left alone.
    mine = str(tmp_path / "mine")
    assert run({**env, "JAX_COMPILATION_CACHE_DIR": mine}).stdout.split()[0] == mine


def test_set_compilation_cache_changes_and_disables_it(tmp_path):
    script = textwrap.dedent(
        f"""
        import jax, jaxiaf
        jaxiaf.set_compilation_cache({str(tmp_path / "other")!r})
        print(jax.config.jax_compilation_cache_dir, jax.config.jax_enable_compilation_cache)
        jaxiaf.set_compilation_cache(None)
        print(jax.config.jax_enable_compilation_cache)
        try:
            jaxiaf.set_compilation_cache(3)
        except TypeError as e:
            print(e)
        """
    )
    env = {**os.environ, "JAXIAF_CACHE_DIR": str(tmp_path / "xla")}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    assert lines[:2] == [f"{tmp_path / 'other'} True", "False"]
    assert lines[2] == "`path` must be a directory path or None; got int."
    assert (tmp_path / "other").is_dir()


_AFFINE_C = {  # the affine update's coefficient c(h), h = dt / tau_mem (jaxiaf._core.integrators)
    "rk4": lambda h: h - h**2 / 2 + h**3 / 6 - h**4 / 24,
    "rk2": lambda h: h - h**2 / 2,
    "euler": lambda h: h,
    "exponential_euler": lambda h: -np.expm1(-h),
    "exact": lambda h: -np.expm1(-h),
}


def _affine_reference(sc, integrator, v0):
    """`(spikes, v)` (T, S*M) of the float32 path's formula, `v + ((v_rest + (u + bias)) - v) * c`, in
    float64 NumPy, with the schedule of `jaxiaf.evolve`'s docstring (no noise)."""
    p = {k: sc.flat(k) for k in ("bias", "tau_mem", "v_thresh", "v_reset", "v_rest")}
    c = _AFFINE_C[integrator](sc.dt / p["tau_mem"])
    steps = np.floor((sc.flat("refractory") + 1e-3 * sc.dt) / sc.dt)
    v, since, spikes, vs = np.asarray(v0, np.float64), np.full(v0.shape, NEVER), [], []
    for u in sc.currents():
        nr = since >= steps
        v = np.where(nr, v + ((p["v_rest"] + (u + p["bias"])) - v) * c, v)
        spike = (v > p["v_thresh"]) & nr
        v = np.where(spike, p["v_reset"], v)
        since = np.where(spike, 1, np.minimum(since + 1, NEVER))
        spikes.append(spike)
        vs.append(v)
    return np.array(spikes), np.array(vs)


@pytest.mark.parametrize("integrator", INTEGRATORS)
def test_float64_without_bit_exact_runs_the_affine_update_and_keeps_the_spikes(integrator):
    """`bit_exact=False` in float64: the float32 path's formula within 1e-12 relative, and the same
    spikes as Brian2's expressions (`bit_exact=True`) on 60 random scenarios."""
    from brian_ref.scenarios import random_scenarios

    sc = random_scenarios(np.random.default_rng([5, INTEGRATORS.index(integrator)]), 60, 1000, 1e-4)
    mod = jaxiaf.FFIAF(
        np.zeros((1, sc.flat("bias").size)), dt=sc.dt, integrator_name=integrator,
        **{k: sc.flat(k) for k in ("bias", "tau_mem", "v_thresh", "v_reset", "v_rest", "refractory")},
    )  # fmt: skip
    currents = jnp.asarray(sc.currents())
    args = (mod.params, mod.sim, mod.neuron_state, currents)
    fast, _, rec = jaxiaf.evolve(*args, record=True, bit_exact=False)
    exact, _, rec_exact = jaxiaf.evolve(*args, record=True)
    spikes, v = _affine_reference(sc, integrator, np.asarray(mod.neuron_state.v))
    assert rec["v"].dtype == jnp.float64 and int(spikes.sum()) > 100
    np.testing.assert_array_equal(fast, spikes)
    np.testing.assert_allclose(rec["v"], v, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(fast, exact)
    assert not np.array_equal(rec["v"], rec_exact["v"])  # other rounding: not Brian2's bits


def test_bit_exact_false_changes_nothing_in_float32_nor_timed_rk4():
    mod = _layer("rk4", noise_std=0.002, bias=np.linspace(0.015, 0.03, 6))
    params, sim, state = _parts(mod, jnp.float32)
    currents = _currents(mod, 300, jnp.float32)
    for kwargs, parts in (
        ({}, (params, sim, state)),
        ({"input_sampling": "timed"}, _parts(mod, jnp.float64)),
    ):
        cur = currents.astype(parts[2].v.dtype)
        a = jaxiaf.evolve(*parts, cur, record=True, bit_exact=False, **kwargs)
        b = jaxiaf.evolve(*parts, cur, record=True, **kwargs)
        np.testing.assert_array_equal(a[2]["v"], b[2]["v"])
        np.testing.assert_array_equal(a[0], b[0])


def test_bit_exact_is_refused_for_own_equations_and_must_be_a_bool():
    eq = "dv/dt = (v_rest - v + I_inp * ohm) / tau_m : volt\nv_rest : volt\ntau_m : second"
    mod = jaxiaf.FFIAF(np.ones((1, 2)), neuron_eq=eq, v_rest=-0.065, tau_m=0.02)
    args = (mod.params, mod.sim, mod.neuron_state, jnp.zeros((5, 2)))
    with pytest.raises(ValueError, match=re.escape("`bit_exact=False` applies to the default equations")):
        jaxiaf.evolve(*args, bit_exact=False)
    with pytest.raises(TypeError, match=re.escape("`bit_exact` must be True or False; got 0")):
        jaxiaf.evolve(*args, bit_exact=0)


def test_float64_without_bit_exact_holds_no_host_callback():
    """`bit_exact=False` computes float64's constants on the device: no host callback in the program, so
    JAX's persistent cache can store it (a fit's float64 loss in a fresh process); Brian2's bits
    (`bit_exact=True`) compute them on the host."""
    mod = _layer("exact", refractory=2e-3, bias=np.linspace(0.015, 0.03, 6))
    params, sim, state = _parts(mod, jnp.float64)
    currents = _currents(mod, 20, jnp.float64)
    program = lambda exact: str(
        jax.make_jaxpr(lambda p: jaxiaf.evolve(p, sim, state, currents, check=False, bit_exact=exact))(params)
    )
    assert "callback" not in program(False)
    assert "callback" in program(True)
    fast, exact = (jaxiaf.step_constants(params, sim, bit_exact=b) for b in (False, True))
    np.testing.assert_array_equal(fast.refractory_steps, exact.refractory_steps)
    np.testing.assert_allclose(fast.decay, exact.decay, rtol=1e-15, atol=0)
    with pytest.raises(TypeError, match=re.escape("`bit_exact` must be True or False; got 1")):
        jaxiaf.step_constants(params, sim, bit_exact=1)
