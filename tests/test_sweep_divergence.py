"""Sweeps that survive divergence, and the sweep's argument checks (issue 20 item 5 for sweeps; the sweep
items of the round-3 robustness report: E3, E14, E18, E27, S12, S13, C6, U12)."""

import brian2 as b2
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import ADAPTIVE_LIF as ADAPTIVE_EQ

import jaxiaf


def _adaptive(**kwargs):
    values = dict(v_rest=-0.065, R=1.0, tau_m=0.02, tau_w=0.15, v_thresh=-0.05, v_reset=-0.065, v=-0.065)
    values.update(w=0.0, a=0.02, b=0.002)
    values.update(kwargs)
    reset = "v = v_reset; w += b"
    return jaxiaf.FFIAF(np.eye(2), neuron_eq=ADAPTIVE_EQ, threshold="v > v_thresh", reset=reset, **values)


def _rows_equal(result, alone, rows):
    for name in ("counts", "first_spike_times", "v"):
        np.testing.assert_array_equal(np.asarray(getattr(result, name))[rows], getattr(alone, name))


def test_default_equations_set_that_overflows_is_marked_and_the_rest_kept():
    """float32: in set 1 the input current of neuron 0 overflows (3e38 * 10 - 3e38 * 10 = inf - inf = NaN);
    only that neuron of that set is marked."""
    rng = np.random.default_rng(0)
    weights = rng.normal(0, 0.02, (4, 2, 3)).astype(np.float32)
    weights[1, :, 0] = [3e38, -3e38]
    mod = jaxiaf.FFIAF(weights[0])
    x = jnp.asarray(np.full((400, 2), 10.0, np.float32))
    outputs = ("counts", "first_spike_times", "v")
    with pytest.warns(jaxiaf.SweepWarning, match=r"1 of 4 parameter sets diverged.*sets 1 \(weights="):
        res = jaxiaf.sweep(mod, {"weights": weights}, x, outputs=outputs, chunk_size=2, dtype=jnp.float32)
    expected = np.zeros((4, 3), bool)
    expected[1, 0] = True
    np.testing.assert_array_equal(res.diverged, expected)
    kept = [0, 2, 3]
    alone = jaxiaf.sweep(mod, {"weights": weights[kept]}, x, outputs=outputs, dtype=jnp.float32)
    _rows_equal(res, alone, kept)


def test_equations_whose_exact_solution_is_singular_are_marked():
    """The adaptive LIF's `exact` closed form divides 0 by 0 at `tau_w == tau_m` (float64): that set is
    marked, the others equal sweeping them alone (E3: model sweeps were never checked)."""
    mod = _adaptive()
    x = jnp.full((300, 2), 0.02)
    tau_w = np.array([0.15, 0.02, 0.3])
    outputs = ("counts", "first_spike_times", "v")
    with pytest.warns(jaxiaf.SweepWarning, match=r"sets 1 \(tau_w=0\.02\)"):
        res = jaxiaf.sweep(mod, {"tau_w": tau_w}, x, outputs=outputs, shard=False)
    np.testing.assert_array_equal(res.diverged.any(axis=1), [False, True, False])
    _rows_equal(res, jaxiaf.sweep(mod, {"tau_w": tau_w[[0, 2]]}, x, outputs=outputs, shard=False), [0, 2])


def test_gradients_through_sweeps_check_values_and_allow_chunks():
    """E14: under `jax.grad` a NaN value is refused at run time; a chunked sweep is differentiable and
    gives the unchunked gradient."""
    mod = jaxiaf.FFIAF(np.full((1, 1), 0.001), surrogate=jaxiaf.surrogate.SuperSpike())
    x = jnp.asarray(np.random.default_rng(1).uniform(0, 1, (200, 1)))
    loss = lambda b, chunk: jnp.sum(
        jaxiaf.sweep(mod, {"bias": b}, x, outputs=("v",), chunk_size=chunk, progress=False).v
    )
    with pytest.raises(Exception, match="`bias` must be finite"):
        jax.grad(loss)(jnp.array([0.001, jnp.nan]), None)
    bias = jnp.array([0.012, 0.02, 0.03])
    np.testing.assert_array_equal(jax.grad(loss)(bias, 2), jax.grad(loss)(bias, None))


def test_units_of_declared_parameters_and_of_x_are_checked():
    """E18: a quantity array for a declared parameter keeps its unit through `grid`, and `sweep` refuses
    the wrong dimension; `x` in volts is refused as `mod(x)` refuses it."""
    mod = _adaptive()
    x = np.full((20, 2), 0.02)
    with pytest.raises(ValueError, match="`tau_w` must be in"):
        jaxiaf.sweep(mod, jaxiaf.grid(tau_w=[50, 100] * b2.mV), x)
    ok = jaxiaf.sweep(mod, jaxiaf.grid(tau_w=[50, 100] * b2.ms), x)
    np.testing.assert_allclose(ok.params["tau_w"], [0.05, 0.1])
    with pytest.raises(ValueError, match="`x` must be in"):
        jaxiaf.sweep(jaxiaf.FFIAF(np.ones((1, 1))), {"bias": [0.0]}, np.ones((5, 1)) * b2.volt)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(chunk_size=2.5), ValueError, "`chunk_size` must be a positive integer"),
        (dict(chunk_size="2"), ValueError, "`chunk_size` must be a positive integer"),
        (dict(chunk_size=[2]), ValueError, "`chunk_size` must be a positive integer"),
        (dict(chunk_size=0), ValueError, "`chunk_size` must be a positive integer"),
        (dict(outputs=None), ValueError, "`outputs` must be a tuple"),
        (dict(reducer="counts"), TypeError, "`reducer` must be a jaxiaf.Reducer"),
        (dict(reducer=lambda a: a), TypeError, "`reducer` must be a jaxiaf.Reducer"),
        (dict(params=[0.01, 0.02]), TypeError, "`params` must be a dict"),
        (dict(params={"seed": [1, 2]}, common_noise=True), ValueError, "`common_noise=True` cannot apply"),
        (dict(params={"tau_mem": [0.02, -1.0, 0.03]}), ValueError, r"parameter set\(s\) \[1\]"),
        (dict(x=np.ones((5, 1)) + 1j), TypeError, "`x` must be real"),
        (dict(x=np.ones((0, 1)), outputs=("rates",)), ValueError, "needs at least one time step"),
    ],
)
def test_bad_arguments_get_clear_errors(kwargs, error, match):
    """E27, U12, C6, S12, S13."""
    args = dict(params={"bias": [0.01, 0.02]}, x=np.ones((5, 1)))
    args.update(kwargs)
    with pytest.raises(error, match=match):
        jaxiaf.sweep(jaxiaf.FFIAF(np.ones((1, 1))), args.pop("params"), args.pop("x"), **args)


def test_a_batched_module_is_refused():
    mods = jax.vmap(lambda b: jaxiaf.FFIAF(np.ones((1, 1)), bias=b))(jnp.array([0.01, 0.02]))
    with pytest.raises(ValueError, match="`module` carries batch axes"):
        jaxiaf.sweep(mods, {"bias": [0.01]}, np.ones((5, 1)))
