"""The pure core: per-evolve constants, the noise raster, one step, and `evolve` on one `lax.scan`.

Every wrapper (the functional module, the timed layer, sweeps, fitting) calls [`jaxiaf.evolve`][]; none
re-implements the update, the threshold or the reset.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from . import _checks
from ._integrators import resolve_integrator
from ._pytrees import NEVER, Parameters, SimulationParameters, State, StepConstants


def _host_constants(dt, tau, refractory):
    dt, tau, refractory = np.broadcast_arrays(dt, tau, refractory)
    decay = np.exp((-dt) / tau)
    steps = np.asarray((refractory + 1e-3 * dt) / dt, dtype=np.int64).astype(np.int32)
    return dt.copy(), tau.copy(), decay, steps


def step_constants(params: Parameters, sim: SimulationParameters) -> StepConstants:
    """The constants every step reads, computed once per evolve.

    In float64 they are computed on the host with NumPy (`exp(-dt / tau_mem)`, Brian2's
    `timestep(refractory, dt)`), bit for bit as Brian2's runtime computes them; XLA's `exp` differs from
    NumPy's by one ulp on about one value in ten, enough to move a spike where `v` grazes the threshold.
    Passing `dt` and `tau_mem` through the same call also keeps them runtime values, so XLA cannot turn
    `x / tau_mem` into `x * (1 / tau_mem)` when a module is closed over by `jit`. In float32 everything
    stays on the device.

    **Returns:** a [`jaxiaf.StepConstants`][] with every leaf broadcast to the shape of `tau_mem`.
    """
    tau = params.tau_mem
    dt = jnp.broadcast_to(sim.dt, tau.shape).astype(tau.dtype)
    refractory = jnp.broadcast_to(sim.refractory, tau.shape).astype(tau.dtype)
    if tau.dtype == jnp.float64:
        shapes = (
            jax.ShapeDtypeStruct(tau.shape, tau.dtype),
            jax.ShapeDtypeStruct(tau.shape, tau.dtype),
            jax.ShapeDtypeStruct(tau.shape, tau.dtype),
            jax.ShapeDtypeStruct(tau.shape, jnp.int32),
        )
        dt, tau, decay, steps = jax.pure_callback(
            _host_constants, shapes, dt, tau, refractory, vmap_method="expand_dims"
        )
    else:
        decay = jnp.exp((-dt) / tau)
        steps = jnp.floor((refractory + 1e-3 * dt) / dt).astype(jnp.int32)
    noise_scale = sim.noise_std * jnp.sqrt((1 + decay) / (1 - decay))
    return StepConstants(dt, tau, decay, steps, noise_scale)


def standard_normal_raster(key, first_step, num_steps: int, num_neurons: int, dtype=None):
    """The unit normal draws `xi` of the noise for steps `first_step .. first_step + num_steps - 1`.

    Step n draws `normal(fold_in(key, n), (num_neurons,))`, so any split of an evolution into chunks draws
    the same numbers. The noise current of step n is `noise_scale * xi[n]` (see [`jaxiaf.evolve`][]).

    **Arguments:**

    - `key`: a JAX PRNG key (raw `uint32[2]` or typed).
    - `first_step`: () int, the global index of the first step (the state's `step`).
    - `num_steps`, `num_neurons`: static ints.
    - `dtype`: float dtype of the draws; default: the current default float dtype.

    **Returns:** (num_steps, num_neurons) array of N(0, 1) draws.
    """
    dtype = jnp.result_type(float) if dtype is None else dtype
    steps = (jnp.asarray(first_step) + jnp.arange(num_steps)).astype(jnp.uint32)
    draw = lambda n: jax.random.normal(jax.random.fold_in(key, n), (num_neurons,), dtype)
    return jax.vmap(draw)(steps)


def _checked(params: Parameters, sim: SimulationParameters, currents):
    params = Parameters(**{f: _checks.traced(f, getattr(params, f)) for f in Parameters.__annotations__})
    sim = SimulationParameters(
        dt=_checks.traced("dt", sim.dt),
        noise_std=_checks.traced("noise_std", sim.noise_std),
        refractory=_checks.traced("refractory", sim.refractory),
        integrator_name=sim.integrator_name,
        noisy=sim.noisy,
    )
    return params, sim, _checks.traced_input(currents, "currents")


@functools.partial(jax.jit, static_argnames="record")
def evolve(params: Parameters, sim: SimulationParameters, state: State, currents, *, record: bool = False):
    """Evolve the layer over the T steps of `currents`: the pure core every wrapper calls.

    Per step n (Brian2's schedule: state update, threshold, reset), per neuron:

    ```
    nr    = since_spike >= R                      # R = int((refractory + 1e-3*dt) / dt)
    u     = currents[n] + noise_scale * xi[n]     # xi ~ N(0, 1), only if sim.noisy
    v     = where(nr, UPDATE(v, u), v)            # v held bit-exactly while refractory
    spike = (v > v_thresh) & nr                   # strict threshold, none while refractory
    v     = where(spike, v_reset, v)
    since_spike = where(spike, 1, min(since_spike + 1, 2**30))
    ```

    `UPDATE` is the integrator's update (see `jaxiaf._integrators`), with the input held constant over the
    step. `noise_scale = noise_std * sqrt((1 + E) / (1 - E))`, `E = exp(-dt / tau_mem)`, makes `noise_std`
    the stationary standard deviation of `v` under the noise alone. A refractory period of R*dt freezes the
    R-1 steps after a spike: the shortest inter-spike interval is max(R, 1) steps.

    **Arguments:**

    - `params`: [`jaxiaf.Parameters`][] (only `bias`, `tau_mem`, `v_thresh`, `v_reset`, `v_rest` are read).
    - `sim`: [`jaxiaf.SimulationParameters`][].
    - `state`: [`jaxiaf.State`][] at the start.
    - `currents`: (T, N) input current of each step, `x @ weights` (A).
    - `record`: static; if True, also return the per-step `v` (after reset) and the spike raster.

    **Returns:** `(spikes, new_state, record)`: `spikes` (T, N) bool; `new_state` with `step` advanced by T;
    `record` `{"v": (T, N) V, "spikes": (T, N) bool}` if `record` else `{}`.

    **Raises:** `EquinoxRuntimeError` naming the parameter if a value is non-finite or out of range
    (`tau_mem <= 0`, `dt <= 0`, `noise_std < 0`, `refractory < 0`), or if `currents` is not finite.
    """
    params, sim, currents = _checked(params, sim, currents)
    update = resolve_integrator(sim.integrator_name)
    consts = step_constants(params, sim)
    num_steps, num_neurons = currents.shape
    xi = None
    if sim.noisy:
        xi = standard_normal_raster(state.key, state.step, num_steps, num_neurons, currents.dtype)

    def body(carry, inputs):
        v, since = carry
        u, noise = inputs
        nr = since >= consts.refractory_steps
        if noise is not None:
            u = u + jnp.where(nr, consts.noise_scale * noise, 0.0)
        v = jnp.where(nr, update(v, u, params, consts, nr), v)
        spike = (v > params.v_thresh) & nr
        v = jnp.where(spike, params.v_reset, v)
        since = jnp.where(spike, 1, jnp.minimum(since + 1, NEVER))
        return (v, since), ((spike, v) if record else spike)

    (v, since), out = jax.lax.scan(body, (state.v, state.since_spike), (currents, xi))
    new_state = State(v=v, since_spike=since, key=state.key, step=state.step + num_steps)
    if record:
        spikes, v_trace = out
        return spikes, new_state, {"v": v_trace, "spikes": spikes}
    return out, new_state, {}
