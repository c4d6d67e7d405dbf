"""The exactness and speed tricks that a JAX, XLA or Brian2 upgrade could silently undo, each checked where
it lives (the list, with the reasons, is in `docs/guides/layout.md`): a test fails if the trick stops
working, and a canary says when XLA no longer needs it.

- FMA guard (`jaxiaf._core.integrators._mul`): a product followed by an addition, masked by a runtime
  select, is not contracted into a fused multiply-add by XLA:CPU (LLVM), so `a*b + c` rounds twice, as
  NumPy (and Brian2) compute it; the statements' guard (`jaxiaf._core.interpret.Context.guard`)
  alternates two masks, since LLVM merges two selects on one mask.
- Host `exp` (`jaxiaf._core.constants.step_constants` in float64): `exp(-dt / tau_mem)` is NumPy's, bit
  for bit.
- Divisors at the state's full shape (`jaxiaf._core.scan._loop_shape`, float64; a literal divisor of the
  statements, `jaxiaf._core.interpret`): XLA:CPU divides by them, where it multiplies by the reciprocal
  of a scalar or broadcast divisor.
- NumPy's power shortcuts (`jaxiaf._core.interpret._power`).
- Brian2's generated code read as text (`jaxiaf._equations.statements`).
- Eager and traced layer calls (`jaxiaf._layer._run_eager`, `_run`) give the same bits.
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


def test_the_statements_fma_guard_alternates_two_masks():
    """The statements' products that are added (`jaxiaf._core.interpret`: `Context.guard`) round as NumPy
    does: each is a select on a runtime mask with a runtime filler, alternating between two masks; the
    same sum without the guard is contracted (canary)."""
    from jaxiaf._core import interpret

    a, b, c = _operands(3)
    d = _operands(4)[0]
    dt = jnp.asarray(1e-4)
    env = {"a": a, "b": b, "c": c, "d": d, "dt": dt}

    def run(env, guarded):
        first = env["a"] == env["a"]
        masks = (first, first & (env["b"] == env["b"])) if guarded else None
        ctx = interpret.Context(masks, None, env["dt"], env["c"])
        return interpret.run(("y = a * b + c * d",), env, ctx)["y"]

    np.testing.assert_array_equal(jax.jit(lambda e: run(e, True))(env), a * b + c * d)
    assert np.any(np.asarray(jax.jit(lambda e: run(e, False))(env)) != a * b + c * d)  # canary


def test_numpys_power_shortcuts():
    """`x ** c` in the statements takes NumPy's shortcuts (`x * x` for 2, `sqrt` for 0.5, `1 / x` for -1),
    bit for bit; other exponents use XLA's `pow`, which differs from NumPy's in the last bits of some
    values (as `exp` does: within 2 ulp here)."""
    from jaxiaf._core import interpret

    x = np.random.default_rng(5).uniform(0.1, 3.0, _SIZE)
    dt = jnp.asarray(1e-4)
    exponents = (2, 0.5, -1, 3, 1.7)
    statements = tuple(f"y{k} = x ** {c}" for k, c in enumerate(exponents))
    ctx = interpret.Context(None, None, dt)
    out = jax.jit(lambda x: interpret.run(statements, {"x": x, "dt": dt}, ctx))(x)
    for k, c in enumerate(exponents):
        if c in (2, 0.5, -1):
            np.testing.assert_array_equal(out[f"y{k}"], x**c)
        else:
            np.testing.assert_allclose(out[f"y{k}"], x**c, rtol=4.5e-16, atol=0)


def test_brian2s_generated_code_is_read_as_before():
    """`jaxiaf._equations.statements` reads Brian2's numpy code objects as text (the `# scalar code` and
    `# vector code` blocks, `_array_` loads and stores, masked assignments): a Brian2 upgrade that changes
    that text fails here first. Brian2 2.9's euler update of a LIF, read into statements:"""
    from jaxiaf._equations.model import model

    lif = (
        "dv/dt = (v_rest - v + R*I_inp)/tau : volt (unless refractory)\nv_rest : volt\nR : ohm\ntau : second"
    )
    m = model(lif, integrator_name="euler")
    assert m.update == (
        "_v = _numpy.where(not_refractory, dt * (I_inp * R + v_rest - v) / tau + v, v)",
        "v = where(not_refractory, _v, v)",
    )


def test_an_eager_call_and_a_jitted_call_are_the_same_program():
    """A concrete call checks on the host and runs a program without callbacks (`_layer._run_eager`); a
    traced one checks with `eqx.error_if` (`_layer._run`): both give the same bits (float64, own equations
    with hoisted `exp` and the default equations' host `exp`)."""
    from helpers import ADAPTIVE_LIF, ADAPTIVE_LIF_VALUES

    x = np.random.default_rng(6).uniform(0.0, 0.05, (300, 2))
    for mod in (
        jaxiaf.FFIAF(np.eye(2), tau_mem=[0.01, 0.03], integrator_name="exact"),
        jaxiaf.FFIAF(np.eye(2), neuron_eq=ADAPTIVE_LIF, reset="v = v_reset; w += b", **ADAPTIVE_LIF_VALUES),
    ):
        eager = mod(x, record=True)
        jitted = jax.jit(lambda m, x: m(x, record=True))(mod, x)
        for a, b in zip(jax.tree.leaves(eager), jax.tree.leaves(jitted), strict=True):
            if not jnp.issubdtype(a.dtype, jax.dtypes.prng_key):
                np.testing.assert_array_equal(a, b)
