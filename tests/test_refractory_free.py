"""The loop without a refractory counter (`jaxiaf._core.scan._refractory_free`): where refractoriness cannot
act, `evolve` runs a loop that keeps the loop index of each neuron's last spike instead of the counter and
rebuilds the counter after it. It gives the same bits as the loop with the counter."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxiaf
from jaxiaf._core.pytrees import NEVER
from jaxiaf._core.scan import _offers_free, _refractory_free
from jaxiaf._sweep.sweep import _reducer

RNG = np.random.default_rng(22)
B, N, T = 4, 6, 300
X = RNG.normal(0.5, 1.0, (T, 3))
SINCE = np.array([0, 1, 2, 7, NEVER - 250, NEVER - 3, NEVER, NEVER] * 3, np.int32)[: B * N].reshape(B, N)


def _evolve(mod, since, extra_set: bool):
    """`evolve` of a (B, N) batch with per-set biases and the counter `since`; with `extra_set`, one more
    set whose counter is `NEVER + 1` (which no step can reach): the loop with the counter then runs for
    the whole batch, and the first B sets are returned."""
    sets = B + extra_set
    since = np.concatenate([since, np.full((1, N), NEVER + 1, np.int32)]) if extra_set else since
    p = mod.params
    params = jaxiaf.Parameters(
        p.weights, (0.01 + 0.005 * jnp.arange(sets, dtype=p.bias.dtype))[:, None], p.tau_mem, p.v_thresh,
        p.v_reset, p.v_rest,
    )  # fmt: skip
    st = mod.neuron_state
    state = jaxiaf.State(
        v=jnp.broadcast_to(st.v, (sets, N)), since_spike=jnp.asarray(since), key=jnp.stack([st.key] * sets),
        step=st.step,
    )  # fmt: skip
    currents = jnp.asarray(X @ np.asarray(p.weights), p.weights.dtype)
    reducer = _reducer(("counts", "first_spike_times", "spikes", "v"), None)
    (acc, ys), end, _ = jaxiaf.evolve(params, mod.sim, state, currents, reducer=reducer)
    free = _refractory_free(jaxiaf.step_constants(params, mod.sim).refractory_steps, state.since_spike)
    out = {**acc, **ys, "v_end": end.v, "since": end.since_spike}
    return {k: np.asarray(a)[..., :B, :] for k, a in out.items()}, bool(free)


@pytest.mark.parametrize("integrator", ["rk4", "rk2", "euler", "exponential_euler", "exact"])
@pytest.mark.parametrize("refractory", [0.0, 1e-4])
def test_the_loop_without_the_counter_gives_the_same_bits(integrator, refractory):
    """`refractory` = 0 or one step (R = 0 or 1): the counters 0 (R = 0 only), 1, ..., `NEVER` let no
    refractory period act; float32, where every integrator runs the affine update."""
    with jax.enable_x64(False):
        mod = jaxiaf.FFIAF(RNG.normal(0, 0.02, (3, N)), integrator_name=integrator, refractory=refractory)
        since = np.maximum(SINCE, 1) if refractory else SINCE
        free, took_free = _evolve(mod, since, extra_set=False)
        kept, took_kept = _evolve(mod, since, extra_set=True)
    assert took_free and not took_kept
    assert free.keys() == kept.keys()
    for name in free:
        np.testing.assert_array_equal(free[name], kept[name], err_msg=name)
    assert free["counts"].min() == 0 and free["counts"].max() >= 2  # silent and spiking neurons
    assert (free["since"] == NEVER).any() and (free["since"] < NEVER).any()


def test_refractoriness_that_can_act_keeps_the_counter():
    steps = jnp.asarray
    since = jnp.asarray([[1, 5], [NEVER, 2]], jnp.int32)
    assert bool(_refractory_free(steps(0), since))
    assert bool(_refractory_free(steps([[1], [1]]), since))
    assert not bool(_refractory_free(steps(2), since))  # a refractory period of two steps
    assert not bool(_refractory_free(steps([[0], [2]]), since))  # in one set
    assert not bool(_refractory_free(steps(1), since.at[0, 0].set(0)))  # a neuron still refractory
    assert not bool(_refractory_free(steps(0), since.at[1, 1].set(NEVER + 1)))  # past the counter's cap


def test_only_a_batch_in_the_carry_compiles_the_second_loop():
    with jax.enable_x64(False):
        mod = jaxiaf.FFIAF(RNG.normal(0, 0.02, (3, N)))
        noisy = jaxiaf.FFIAF(RNG.normal(0, 0.02, (3, N)), noise_std=0.001)
    one, batch = mod.neuron_state, jax.tree.map(lambda a: jnp.stack([a, a]), mod.neuron_state)
    offers = lambda m, state: _offers_free(m.sim, state, False, True, None, None, None)
    assert offers(mod, batch) and not offers(mod, one) and not offers(noisy, batch)
