"""`jax.vmap` of a layer's call runs one scan with the batch in the carry (`jaxiaf._core.batching`), and
`jaxiaf.summarize` reduces it inside the scan: rows bit-identical to the sets run one by one, gradients
equal to the unbatched ones, counts equal to `jaxiaf.sweep`'s."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import ADAPTIVE_LIF as ADAPTIVE_EQ

import jaxiaf


def _layer(kind: str, seed: int, dtype, n_in=3, n=5, num_steps=120):
    """A random layer (default equations with noise and a refractory period, or the adaptive LIF with
    `xi`-free equations) in `dtype`, its input, and B random values of the swept parameter."""
    rng = np.random.default_rng(seed)
    w = rng.normal(0.0, 0.02, (n_in, n)).astype(dtype)
    x = jnp.asarray(rng.uniform(0.0, 1.0, (num_steps, n_in)).astype(dtype))
    if kind == "default":
        integrator = ["rk4", "exact", "euler", "rk2", "exponential_euler"][seed % 5]
        mod = jaxiaf.FFIAF(w, noise_std=0.002, refractory=0.0004, integrator_name=integrator)
        name, values = "tau_mem", rng.uniform(0.005, 0.04, 4)
    else:
        mod = jaxiaf.FFIAF(
            w, neuron_eq=ADAPTIVE_EQ, threshold="v > v_thresh", reset="v = v_reset; w += b",
            v_rest=-0.065, R=1.0, tau_m=0.02, tau_w=0.2, v_thresh=-0.05, v_reset=-0.065, v=-0.065, w=0.0,
            a=0.01, b=0.002, refractory=0.0004,
        )  # fmt: skip
        name, values = "a", rng.uniform(0.0, 0.05, 4)
    return mod, x, name, jnp.asarray(values.astype(dtype))


def _data(a):
    return jax.random.key_data(a) if jnp.issubdtype(a.dtype, jax.dtypes.prng_key) else a


def _assert_rows_equal(batched, singles):
    for b, single in enumerate(singles):
        same = lambda a, s: np.testing.assert_array_equal(np.asarray(_data(a)[b]), np.asarray(_data(s)))  # noqa: B023
        jax.tree.map(same, batched, single)


def _strip_step_and_key(out):
    spikes, state, rec = out
    state = state.named() if isinstance(state, jaxiaf.State) else state
    return spikes, {k: v for k, v in state.items() if k not in ("step", "key")}, rec


@pytest.mark.parametrize("kind, seed", [("default", 0), ("default", 1), ("default", 2), ("equations", 0)])
def test_vmap_over_values_equals_each_set_alone(kind, seed):
    """Built inside the map (`set_attributes` of the mapped values): float64 and float32 rows equal the
    same function called per value, bit for bit (spikes, `v` per step, the new state)."""
    for dtype in (np.float64, np.float32):
        mod, x, name, values = _layer(kind, seed, dtype)
        f = lambda value: mod.set_attributes({name: value})(x.astype(dtype), record=True)  # noqa: B023
        batched = jax.jit(jax.vmap(f))(values)
        singles = [jax.jit(f)(value) for value in values]
        _assert_rows_equal(batched, singles)
        assert batched[0].shape == (values.shape[0], x.shape[0], mod.size_out)


@pytest.mark.parametrize("kind", ["default"])
def test_vmap_over_modules_equals_each_module_eagerly(kind):
    """A batch of modules built outside the map (B copies of the weights) gives, in float64, the rows of
    each module called eagerly; the weights are detected equal and multiplied once."""
    mod, x, name, values = _layer(kind, 3, np.float64)
    batch = jax.vmap(lambda value: mod.set_attributes({name: value}))(values)
    assert batch.params.weights.shape == (values.shape[0], *mod.shape)
    out = eqx.filter_jit(jax.vmap(lambda m: m(x, record=True)))(batch)
    singles = [_strip_step_and_key(mod.set_attributes({name: v})(x, record=True)) for v in values]
    _assert_rows_equal(_strip_step_and_key(out), singles)
    step = out[1].step if isinstance(out[1], jaxiaf.State) else out[1]["step"]
    np.testing.assert_array_equal(step, np.full(values.shape[0], x.shape[0]))


def test_vmap_with_weights_and_inputs_per_set():
    """Different weights and inputs per set (the per-set matmul branch) give each set's own result, bit
    for bit (float64)."""
    rng = np.random.default_rng(5)
    weights = rng.normal(0.0, 0.03, (3, 4, 6))
    xs = jnp.asarray(rng.uniform(0.0, 1.0, (3, 150, 4)))
    mods = jax.vmap(lambda w: jaxiaf.FFIAF(w, refractory=0.0003))(jnp.asarray(weights))
    out = eqx.filter_jit(jax.vmap(lambda m, x: m(x, record=True)))(mods, xs)
    alone = lambda b: jaxiaf.FFIAF(weights[b], refractory=0.0003)(xs[b], record=True)
    singles = [_strip_step_and_key(alone(b)) for b in range(3)]
    _assert_rows_equal(_strip_step_and_key(out), singles)


def test_gradients_through_the_batched_call():
    """`jax.vmap(jax.grad(...))`, `jax.grad` of a `jax.vmap` and forward mode give the per-set gradients
    (float64, SuperSpike surrogate on the spikes, noise on)."""
    rng = np.random.default_rng(2)
    mod = jaxiaf.FFIAF(rng.normal(0, 0.02, (3, 4)), noise_std=0.002, surrogate=jaxiaf.surrogate.SuperSpike())
    x = jnp.asarray(rng.uniform(0, 1, (80, 3)))
    taus = jnp.asarray(rng.uniform(0.01, 0.03, 2))

    def loss(tau):
        spikes, _, rec = mod.set_attributes({"tau_mem": tau})(x, record=True)
        return rec["v"].sum() + spikes.sum()

    alone = np.stack([jax.grad(loss)(t) for t in taus])
    # reverse mode through a batch accumulates the cotangents in another order: equal to ~1 ulp per step
    close = lambda a: np.testing.assert_allclose(a, alone, rtol=1e-12, atol=0)
    close(jax.vmap(jax.grad(loss))(taus))
    close(jax.jit(jax.grad(lambda t: jax.vmap(loss)(t).sum()))(taus))
    close(jnp.diagonal(jax.jacfwd(jax.vmap(loss))(taus)))


def test_float32_gradients_through_a_batch_held_as_a_sweep():
    """float32 (x64 off): `jax.vmap(jax.grad(...))` over one value per set (the batch held as a sweep holds
    it) gives each set's gradient (rtol 1e-5: the batch sums its cotangents in another order)."""
    with jax.enable_x64(False):
        rng = np.random.default_rng(4)
        mod = jaxiaf.FFIAF(
            rng.normal(0, 0.02, (3, 4)).astype(np.float32), surrogate=jaxiaf.surrogate.SuperSpike()
        )
        x = jnp.asarray(rng.uniform(0, 1, (60, 3)), jnp.float32)

        def loss(tau):
            spikes, _, rec = mod.set_attributes({"tau_mem": tau})(x, record=True)
            return rec["v"].sum() + spikes.sum()

        taus = jnp.asarray([0.01, 0.02, 0.03], jnp.float32)
        alone = np.stack([jax.jit(jax.grad(loss))(t) for t in taus])
        np.testing.assert_allclose(jax.jit(jax.vmap(jax.grad(loss)))(taus), alone, rtol=1e-5)


def test_steps_must_agree():
    """Modules at different time steps cannot share one scan: a clear error."""
    mod = jaxiaf.FFIAF(np.eye(2) * 0.02)
    x = jnp.ones((10, 2))
    later = mod.set_attributes(mod(x)[1])
    batch = jax.tree.map(lambda a, b: jnp.stack([a, b]), mod, later)
    with pytest.raises(Exception, match="same time step"):
        eqx.filter_jit(jax.vmap(lambda m: m(x)[0]))(batch)


def test_summarize_equals_the_raster_and_sweep():
    """`summarize` (alone and under `jax.vmap`) gives the counts of `mod(x)[0].sum(0)` and of
    `jaxiaf.sweep`, rates `counts / (T dt)` and first spike times `(k + 0.5) dt` (float64)."""
    rng = np.random.default_rng(9)
    mod = jaxiaf.FFIAF(rng.normal(0, 0.02, (3, 6)), refractory=0.0003)
    x = jnp.asarray(rng.uniform(0, 1, (300, 3)))
    taus = jnp.asarray(rng.uniform(0.005, 0.04, 5))
    names = ("counts", "rates", "first_spike_times")
    got = jax.jit(jax.vmap(lambda t: jaxiaf.summarize(mod.set_attributes({"tau_mem": t}), x, names)))(taus)
    ref = jaxiaf.sweep(mod, {"tau_mem": taus}, x, outputs=names, shard=False)
    np.testing.assert_array_equal(got["counts"], ref.counts)
    np.testing.assert_array_equal(got["first_spike_times"], ref.first_spike_times)
    # inside a jit, XLA may divide by T dt as a multiplication by its reciprocal: one rounding apart
    np.testing.assert_allclose(got["rates"], ref.rates, rtol=4e-16, atol=0)
    one = mod.set_attributes({"tau_mem": taus[1]})
    spikes = np.asarray(one(x)[0])
    np.testing.assert_array_equal(jaxiaf.summarize(one, x)["counts"], spikes.sum(0))
    k = np.where(spikes.any(0), spikes.argmax(0), -1)
    expected = np.where(k >= 0, (k + 0.5) * 1e-4, np.inf)
    np.testing.assert_array_equal(got["first_spike_times"][1], expected)
    assert got["counts"].sum() > 0


def test_summarize_refuses_bad_arguments():
    mod = jaxiaf.FFIAF(np.eye(2) * 0.02)
    with pytest.raises(ValueError, match="`outputs`"):
        jaxiaf.summarize(mod, jnp.ones((5, 2)), "counts")
    with pytest.raises(ValueError, match="`outputs`"):
        jaxiaf.summarize(mod, jnp.ones((5, 2)), ("spikes",))
    with pytest.raises(ValueError, match=r"`x` must have shape \(T, N_in=2\)"):
        jaxiaf.summarize(mod, jnp.ones((5, 3)))
    with pytest.raises(ValueError, match="not finite|NaN"):
        jaxiaf.summarize(mod, jnp.full((5, 2), jnp.nan))
    with pytest.raises(TypeError, match="`module`"):
        jaxiaf.summarize(object(), jnp.ones((5, 2)))


def test_the_batching_guide_runs():
    """docs/guides/batching.md: its blocks, run in order as one script (float64 here, as in the tests)."""
    import pathlib
    import re

    guide = pathlib.Path(__file__).parents[1] / "docs" / "guides" / "batching.md"
    blocks = re.findall(r"```python\n(.*?)```", guide.read_text(), flags=re.S)
    assert len(blocks) == 7
    namespace: dict = {}
    exec(compile("\n".join(blocks), str(guide), "exec"), namespace)


@pytest.mark.parametrize("per_neuron", [False, True])
def test_float32_batches_equal_each_set_alone(per_neuron):
    """float32 (x64 off), a batch of modules and a map over values, with one value per set (held as a
    sweep holds it, see `test_one_value_per_set_is_held_as_a_sweep_holds_it`) or one per neuron (held as
    given): the rows equal each set alone, bit for bit (both inside `jax.jit`)."""
    with jax.enable_x64(False):
        mod, x, name, values = _layer("default", 1, np.float32)
        if per_neuron:
            values = jnp.outer(values, jnp.linspace(0.8, 1.2, mod.size_out, dtype=jnp.float32))
        one = lambda value: mod.set_attributes({name: value})
        singles = [eqx.filter_jit(lambda m: m(x, record=True))(one(v)) for v in values]
        over_values = jax.jit(jax.vmap(lambda v: one(v)(x, record=True)))(values)
        modules = eqx.filter_jit(jax.vmap(lambda m: m(x, record=True)))(jax.vmap(one)(values))
        assert modules[2]["v"].dtype == jnp.float32
        for batched in (over_values, modules):
            _assert_rows_equal(_strip_step_and_key(batched), [_strip_step_and_key(s) for s in singles])


def test_one_value_per_set_is_held_as_a_sweep_holds_it():
    """The rule's run-time check (`_compact`): a float32 batch of modules whose parameters hold one value
    per set gives them as (B, 1) columns and its shared `dt` unbatched; a per-neuron value, a `dt` per set
    or float64 keep the batch as given."""
    from jaxiaf._core import batching

    def compact(batch):
        """The check on a batch of modules, its leaves lifted as the rule lifts them ((B,) to (B, 1))."""
        lift = lambda tree: jax.tree.map(lambda a: a if a.ndim > 1 else a[:, None], tree)
        params, every = lift(batch.params), lambda tree: jax.tree.map(lambda _: True, tree)
        held = batching._compact(
            params, every(params), batch.sim, every(batch.sim), batch.neuron_state.v.shape
        )
        return held, held.apply(params, lift(batch.sim))

    taus = jnp.asarray([0.01, 0.02], jnp.float32)
    with jax.enable_x64(False):
        mod = jaxiaf.FFIAF(np.full((3, 4), 0.01, np.float32))
        held, (params, sim) = compact(jax.vmap(lambda t: mod.set_attributes({"tau_mem": t}))(taus))
        assert bool(held.holds)
        assert params.tau_mem.shape == (2, 1) and params.weights.shape == (2, 3, 4) and sim.dt.shape == ()
        per_neuron = jax.vmap(lambda t: mod.set_attributes({"tau_mem": t * jnp.arange(1.0, 5.0)}))(taus)
        assert not bool(compact(per_neuron)[0].holds)
        dts = jnp.asarray([1e-4, 2e-4], jnp.float32)
        assert not bool(compact(jax.vmap(lambda d: mod.set_attributes({"dt": d}))(dts))[0].holds)
    wide = jaxiaf.FFIAF(np.full((3, 4), 0.01))
    assert (
        compact(jax.vmap(lambda t: wide.set_attributes({"tau_mem": t}))(taus.astype(np.float64)))[0].holds
        is None
    )
