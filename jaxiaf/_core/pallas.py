"""A Pallas kernel of the default equations' float32 loop, for GPUs: each neuron's state stays in registers
over a block of steps, and only spike counts, first spike steps and the final state are written.

The kernel calls the core's own step (`jaxiaf._core.steps._default_step`: the affine update, threshold,
reset and refractory counter), so it cannot drift from [`jaxiaf.evolve`][]; a test runs it in Pallas'
interpret mode on the CPU and checks it bit for bit against the XLA loop. The grid is (batch blocks,
neuron blocks, step blocks); the step axis is sequential, the state carried across it in the outputs.
"""

import functools

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl

from .constants import step_constants
from .pytrees import Parameters, SimulationParameters, State, StepConstants
from .steps import _V, _default_step


def counts(
    params: Parameters,
    sim: SimulationParameters,
    state: State,
    currents,
    *,
    block_batch: int = 8,
    block_neurons: int = 128,
    block_steps: int = 256,
    interpret: bool = False,
):
    """Spike counts and first spike steps of the default equations in float32, without noise.

    **Arguments:**

    - `params`, `sim`, `state`: the layer's pytrees, float32, default equations (`sim.model` None) and no
      noise; `state.v` of shape (B, N) (a (N,) state is one set).
    - `currents`: (T, N) input currents (A), shared by the B sets.
    - `block_batch`, `block_neurons`, `block_steps`: the kernel's block sizes (each reduced to the largest
      divisor of B, N and T that is not larger).
    - `interpret`: run in Pallas' interpret mode (any backend, for tests).

    **Returns:** `(counts, first, v, since_spike)`, each (B, N): int32 spike counts, int32 step of the
    first spike (-1: none), the final `v` (V) and refractory counter, as [`jaxiaf.evolve`][] computes them.

    **Raises:** `ValueError` for a float64 or noisy layer, a layer's own equations, or mismatched shapes.
    """
    if sim.model is not None or sim.noisy or state.v.dtype != jnp.float32:
        raise ValueError("The Pallas kernel runs the default equations in float32 without noise.")
    v0 = state.v if state.v.ndim == 2 else state.v[None]
    batch, n = v0.shape
    if currents.ndim != 2 or currents.shape[1] != n:
        raise ValueError(f"`currents` must have shape (T, {n}); got {currents.shape}.")
    num_steps = currents.shape[0]
    constants = step_constants(params, sim)
    full = lambda a: jnp.broadcast_to(a, (batch, n))
    per_neuron = [
        full(a)
        for a in (
            params.bias,
            params.v_rest,
            params.v_thresh,
            params.v_reset,
            constants.coefficient,
            constants.refractory_steps,
            v0,
            state.since_spike,
        )
    ]
    blocks = (_divisor(batch, block_batch), _divisor(n, block_neurons), _divisor(num_steps, block_steps))
    run = _call(batch, n, num_steps, blocks, sim.integrator_name, interpret)
    return run(currents.astype(jnp.float32), *per_neuron)


def _divisor(size: int, want: int) -> int:
    return max(d for d in range(1, min(size, want) + 1) if size % d == 0)


@functools.lru_cache(maxsize=32)
def _call(batch: int, n: int, num_steps: int, blocks: tuple, integrator: str, interpret: bool):
    bb, bn, bt = blocks
    grid = (batch // bb, n // bn, num_steps // bt)
    neuron = pl.BlockSpec((bb, bn), lambda i, j, t: (i, j))
    outputs = [jax.ShapeDtypeStruct((batch, n), d) for d in (jnp.int32, jnp.int32, jnp.float32, jnp.int32)]
    kernel = functools.partial(_kernel, block_steps=bt, integrator=integrator)
    return pl.pallas_call(
        kernel,
        out_shape=outputs,
        grid=grid,
        in_specs=[pl.BlockSpec((bt, bn), lambda i, j, t: (t, j))] + [neuron] * 8,
        out_specs=[neuron] * 4,
        interpret=interpret,
    )


def _kernel(cur, bias, v_rest, v_thresh, v_reset, coef, steps, v0, since0, counts_out, first_out, v_out,
            since_out, *, block_steps: int, integrator: str):  # fmt: skip
    t = pl.program_id(2)

    @pl.when(t == 0)
    def _start():
        v_out[...] = v0[...]
        since_out[...] = since0[...]
        counts_out[...] = jnp.zeros(counts_out.shape, jnp.int32)
        first_out[...] = jnp.full(first_out.shape, -1, jnp.int32)

    shape = v_out.shape
    zero = jnp.zeros((), jnp.float32)
    params = Parameters(zero, bias[...], zero, v_thresh[...], v_reset[...], v_rest[...])
    consts = StepConstants(zero, zero, zero, steps[...], zero, coef[...])
    sim = SimulationParameters(zero, zero, zero, integrator_name=integrator, noisy=False)
    state = State(v_out[...], since_out[...], zero, jnp.zeros((), jnp.int32))
    advance, settle, _ = _default_step(params, sim, state, consts, shape, None, None, timed=False)  # held

    def step(k, carry):
        vals, since, count, first = carry
        n = t * block_steps + k
        w = advance(vals, since, cur[k], n, True)
        spike, vals, since = settle(w, since, n)
        first = jnp.where((first < 0) & spike, n, first)
        return vals, since, count + spike, first

    carry = ({_V: v_out[...]}, since_out[...], counts_out[...], first_out[...])
    vals, since, count, first = jax.lax.fori_loop(0, block_steps, step, carry)
    v_out[...] = vals[_V]
    since_out[...] = since
    counts_out[...] = count
    first_out[...] = first
