"""The constants every step reads, computed once per evolve (`step_constants`), and the explicit
integrators' stability limit: in float64 on the host with NumPy, bit for bit as Brian2's runtime."""

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from . import affine as _affine
from . import checks as _checks
from . import interpret as _generated
from .integrators import STABILITY_LIMITS, coefficient, resolve_integrator
from .pytrees import NEVER, Parameters, SimulationParameters, StepConstants


# The host callbacks convert their arguments with `np.asarray`: JAX may hand a callback jax Arrays, whose
# arithmetic would launch XLA computations from inside the callback (a float64 sweep deadlocked that way).
def _host_decay(dt, tau):
    dt, tau = np.asarray(dt), np.asarray(tau)
    return dt, tau, np.exp((-dt) / tau)


def _host_steps(refractory, dt):
    refractory, dt = np.asarray(refractory), np.asarray(dt)
    steps = np.minimum((refractory + 1e-3 * dt) / dt, NEVER)
    return np.asarray(steps, dtype=np.int64).astype(np.int32)


def _refractory_steps(sim: SimulationParameters, dtype, host: bool = True):
    """`int((refractory + 1e-3*dt) / dt)` (Brian2's `timestep`), capped at `NEVER`, of the shape of
    `refractory` and `dt`: with NumPy on the host in float64 (with `host`), else on the device. The
    margin of 1e-3 steps keeps the floor away from rounding. Piecewise constant: no gradient flows
    through it."""
    r_dt = jnp.broadcast_shapes(sim.refractory.shape, sim.dt.shape)
    refractory = jax.lax.stop_gradient(jnp.broadcast_to(sim.refractory, r_dt).astype(dtype))
    dt = jax.lax.stop_gradient(jnp.broadcast_to(sim.dt, r_dt).astype(dtype))
    if dtype == jnp.float64 and host:
        like = jax.ShapeDtypeStruct(r_dt, jnp.int32)
        return jax.pure_callback(_host_steps, like, refractory, dt, vmap_method="broadcast_all")
    return jnp.floor(jnp.minimum((refractory + 1e-3 * dt) / dt, NEVER)).astype(jnp.int32)


def unstable(xp, c, name: str):
    """Where an explicit integrator's update grows without bound: `|1 - c| > 1` (or `c` not finite)."""
    if name not in STABILITY_LIMITS:
        return xp.zeros(xp.shape(c), bool)
    return ~(xp.abs(1 - xp.asarray(c)) <= 1)


def stability_message(name: str) -> str:
    if name not in STABILITY_LIMITS:
        return ""
    return (
        f"`dt / tau_mem` must be <= {STABILITY_LIMITS[name]:.4g} with `integrator_name={name!r}` for every "
        "neuron: beyond it the integrator is numerically unstable (`v` grows without bound to NaN). Use a "
        "smaller `dt`, a larger `tau_mem`, or `integrator_name='exact'`."
    )


def tied_stability(v, constants: StepConstants, sim: SimulationParameters, check: bool):
    """`(v, unstable)`: `unstable` (bool) where the default equations' explicit integrator exceeds its
    stability limit, read from the affine coefficient, and with `check` `v` tied to the error naming it
    (float64 does not read the coefficient, so the check is tied to `v`, which every path reads). A layer's
    own equations have no closed-form limit: `(v, False)`."""
    if sim.model is not None:
        return v, False
    unstable_ = jnp.any(unstable(jnp, constants.coefficient, sim.integrator_name))
    if check:
        v = eqx.error_if(v, unstable_, stability_message(sim.integrator_name))
    return v, unstable_


def step_constants(params: Parameters, sim: SimulationParameters, bit_exact: bool = True) -> StepConstants:
    """The constants every step reads, computed once per evolve.

    In float64 they are computed on the host with NumPy (`exp(-dt / tau_mem)`, Brian2's
    `timestep(refractory, dt)`), bit for bit as Brian2's runtime computes them; XLA's `exp` differs from
    NumPy's by one ulp on about one value in ten, enough to move a spike where `v` grazes the threshold.
    Passing `dt` and `tau_mem` through the same call also keeps them runtime values, so XLA cannot turn
    `x / tau_mem` into `x * (1 / tau_mem)` when a module is closed over by `jit`. In float32 everything
    stays on the device, and so does float64 with `bit_exact=False` (the default equations' affine
    update, [`jaxiaf.evolve`][]'s `bit_exact=False`: one ulp of `decay` is within that update's own
    rounding), so that the program holds no host callback and JAX's persistent compilation cache can
    store it (a fit's float64 loss in a fresh process). A layer's own equations ignore `bit_exact`: their
    constants are always Brian2's (and `evolve` refuses `bit_exact=False` for them).

    Called outside `jit` (as [`jaxiaf.sweep`][] does before it shards a batch), the host computation runs
    at once; the result can then be passed to [`jaxiaf.evolve`][] as `constants`.

    **Returns:** a [`jaxiaf.StepConstants`][]; each leaf keeps the shape of the values it depends on
    (`dt`, `tau_mem`, `decay`: their common shape; `refractory_steps`: that of `refractory` and `dt`;
    `noise_scale`: that of `noise_std` and `decay`), so a batch of B sets that sweeps only `tau_mem` as
    (B, 1) stores (B, 1) constants, not (B, N). `evolve` gives them their loop shapes (`_loop_shape`).
    """
    if sim.model is None:
        resolve_integrator(sim.integrator_name)
    if not isinstance(bit_exact, bool):
        raise TypeError(f"`bit_exact` must be True or False; got {bit_exact!r}.")
    constants = _constants(params, sim, bit_exact)
    c = constants.coefficient
    if sim.model is None and _checks.is_concrete(c) and np.any(unstable(np, c, sim.integrator_name)):
        raise ValueError(stability_message(sim.integrator_name))
    return constants


@functools.partial(jax.jit, static_argnums=2)
def _constants(params: Parameters, sim: SimulationParameters, host: bool) -> StepConstants:
    """`step_constants`' computation as one compiled program: called eagerly, it would otherwise run (and
    in a fresh process load from the persistent compilation cache) one small program per operation,
    most of a warm process's first call. `host`: float64's values from NumPy on the host."""
    dtype = params.tau_mem.dtype
    if sim.model is not None:
        return _model_constants(params, sim, dtype)
    dt_tau = jnp.broadcast_shapes(params.tau_mem.shape, sim.dt.shape)
    tau = jnp.broadcast_to(params.tau_mem, dt_tau)
    dt = jnp.broadcast_to(sim.dt, dt_tau).astype(dtype)
    if dtype == jnp.float64 and host:
        dt, tau, decay = _host_call(dt, tau)
    else:
        decay = jnp.exp((-dt) / tau)
    steps = _refractory_steps(sim, dtype, host)
    shape = jnp.broadcast_shapes(sim.noise_std.shape, decay.shape)
    # 1 - E as written (Brian2's bits), or -expm1(-dt/tau) where E rounds to 1 (tau_mem >> dt in float32)
    one_minus = jnp.where(decay == 1, -jnp.expm1((-dt) / tau), 1 - decay)
    gain = jnp.broadcast_to(jnp.sqrt((1 + decay) / one_minus), shape)
    noise_scale = jnp.broadcast_to(sim.noise_std, shape) * gain
    return StepConstants(dt, tau, decay, steps, noise_scale, coefficient(sim.integrator_name, dt / tau))


def _model_constants(params: Parameters, sim: SimulationParameters, dtype) -> StepConstants:
    """A model layer's constants: `dt`, the refractory steps (from the model's period expression, or from
    `sim.refractory` as for the default equations) and the model's loop-invariant values."""
    dt, steps, scalars = _generated.constants(params, sim, dtype)
    if _affine.applies(sim.model, dtype):
        values = _generated.parameters(sim.model, params)
        scalars = {**scalars, **_affine.maps(sim.model, values, dt, params.weights.shape[-1], dtype)}
    if steps is None:
        steps = _refractory_steps(sim, dtype)
    return StepConstants(dt, None, None, steps, None, None, scalars)


@jax.custom_jvp
def _host_call(dt, tau):
    like = jax.ShapeDtypeStruct(dt.shape, dt.dtype)
    return jax.pure_callback(_host_decay, (like, like, like), dt, tau, vmap_method="broadcast_all")


@_host_call.defjvp
def _host_call_jvp(primals, tangents):
    """The host constants' derivatives (a callback has none):
    `d decay = decay * (dt dtau / tau - ddt) / tau`."""
    dt, tau, decay = _host_call(*primals)
    ddt, dtau = tangents
    return (dt, tau, decay), (ddt, dtau, decay * ((dt * dtau) / tau - ddt) / tau)
