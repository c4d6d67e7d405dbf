"""The exactness and speed tricks that a JAX or XLA upgrade could silently undo, each checked where it
lives: a test fails if the trick stops working, and a canary says when XLA no longer needs it.

- FMA guard (`jaxiaf._core.integrators._mul`): a product followed by an addition, masked by a runtime
  select, is not contracted into a fused multiply-add by XLA:CPU (LLVM), so `a*b + c` rounds twice, as
  NumPy (and Brian2) compute it.
- Host `exp` (`jaxiaf._core.scan.step_constants` in float64): `exp(-dt / tau_mem)` is NumPy's, bit for bit.
- Divisors at the state's full shape (`jaxiaf._core.scan._loop_shape`, float64): XLA:CPU divides by them,
  where it multiplies by the reciprocal of a scalar or broadcast divisor.
- The compiler option (`jaxiaf._compile.cache.COMPILER_OPTIONS`) is one XLA:CPU still accepts.
- `PersistentJit`'s private call (`jax._src.lax.linalg.initialize_lapack`) still exists.
"""

import jax
import jax.numpy as jnp
import numpy as np

import jaxiaf
from jaxiaf._compile.cache import COMPILER_OPTIONS
from jaxiaf._core.integrators import _mul

_SIZE = 4096


def _operands(seed=0):
    rng = np.random.default_rng(seed)
    return tuple(rng.uniform(-1.0, 1.0, _SIZE) for _ in range(3))


def test_fma_guard_keeps_numpys_two_roundings():
    a, b, c = _operands()
    mask = jnp.ones(_SIZE, bool)
    guarded = jax.jit(lambda a, b, c, m: _mul(a, b, m) + c)(a, b, c, mask)
    np.testing.assert_array_equal(guarded, a * b + c)
    # canary: without the guard XLA:CPU contracts (if this fails, the guard is no longer needed)
    plain = np.asarray(jax.jit(lambda a, b, c: a * b + c)(a, b, c))
    assert np.any(plain != a * b + c)


def test_host_exp_is_numpys():
    rng = np.random.default_rng(1)
    tau = rng.uniform(0.001, 0.1, _SIZE)
    mod = jaxiaf.FFIAF(np.ones((1, _SIZE)), tau_mem=tau, integrator_name="exact")
    decay = np.asarray(jaxiaf.step_constants(mod.params, mod.sim).decay)
    np.testing.assert_array_equal(decay, np.exp(-1e-4 / tau))
    assert np.any(np.asarray(jax.jit(lambda t: jnp.exp(-1e-4 / t))(tau)) != np.exp(-1e-4 / tau))  # canary


def test_division_by_a_full_shape_divisor():
    """float64 `_loop_shape`: a divisor at the state's full shape is divided by; a scalar (or broadcast)
    runtime divisor is turned into a multiplication by its reciprocal (canary), even behind an
    `optimization_barrier`."""
    x = _operands(2)[0]
    full = jax.jit(lambda x, d: x / d)(x, np.full(_SIZE, 3.0))
    np.testing.assert_array_equal(full, x / 3.0)
    for scalar in (
        jax.jit(lambda x, d: x / d)(x, 3.0),
        jax.jit(lambda x: x / jax.lax.optimization_barrier(jnp.asarray(3.0)))(x),
    ):
        assert np.any(np.asarray(scalar) != x / 3.0)


def test_the_compiler_option_is_accepted():
    jitted = jax.jit(lambda x: x + 1, compiler_options=COMPILER_OPTIONS)
    np.testing.assert_array_equal(jitted(jnp.arange(3.0)), [1.0, 2.0, 3.0])


def test_the_private_lapack_set_up_exists():
    from jax._src.lax import linalg

    assert callable(linalg.initialize_lapack)


def test_a_literal_divisor_of_the_statements_is_divided_by():
    """The statements' `x / 3.0` (float64) divides as NumPy does: the divisor at the quotient's full shape."""
    from jaxiaf._core import interpret

    x = np.random.default_rng(0).uniform(size=(64, 64))
    dt = jnp.asarray(1e-4)
    ctx = interpret.Context(None, None, dt)
    run = jax.jit(lambda x: interpret.run(("y = x / 3.0",), {"x": x, "dt": dt}, ctx))
    np.testing.assert_array_equal(run(x)["y"], x / 3.0)
