"""The three pytrees of a layer (parameters, simulation parameters, state) and the per-evolve constants.

All float leaves are SI (V, A, s) arrays of the layer's float dtype: float64 when `jax_enable_x64` is on,
float32 otherwise. Per-neuron leaves have shape (N,); they may be batched with a leading axis by
`jax.vmap`. Only the integrator name and the noise switch are static (changing them recompiles).
"""

import equinox as eqx
import jax
import jax.numpy as jnp

NEVER = 2**30
"""`since_spike` value meaning "no spike yet"; the counter saturates here, so it never overflows."""


class Parameters(eqx.Module):
    """Trainable parameters of a feedforward IAF layer.

    **Fields:**

    - `weights`: (N_in, N) input weights; a unit input on channel i injects `weights[i]` amperes.
    - `bias`: (N,) constant bias current (A).
    - `tau_mem`: (N,) membrane time constant (s), > 0.
    - `v_thresh`: (N,) spike threshold (V); a neuron spikes when `v > v_thresh` (strict).
    - `v_reset`: (N,) potential after a spike (V).
    - `v_rest`: (N,) resting potential (V); `v` relaxes towards `v_rest + r_m * (I + bias)`, `r_m` = 1 ohm.
    - `extra`: the parameters of a layer's own equations ([`jaxiaf.Model`][]) other than the five above,
      by name, in SI units (e.g. `{"a": ..., "tau_w": ...}`); empty for the default equations. With
      equations, the five fields above are read only where the equations declare those names.
    """

    weights: jax.Array
    bias: jax.Array
    tau_mem: jax.Array
    v_thresh: jax.Array
    v_reset: jax.Array
    v_rest: jax.Array
    extra: dict = eqx.field(default_factory=dict)

    def named(self) -> dict:
        """Every leaf by name: the fields, then the `extra` entries."""
        fields = {f: getattr(self, f) for f in type(self).__annotations__ if f != "extra"}
        return {**fields, **self.extra}


class SimulationParameters(eqx.Module):
    """How the layer is simulated.

    **Fields:**

    - `dt`: () time step (s), > 0.
    - `noise_std`: () or (N,) stationary standard deviation of `v` produced by the noise alone (V), >= 0.
    - `refractory`: () or (N,) refractory period (s), >= 0; Brian2's rule, see [`jaxiaf.evolve`][].
    - `integrator_name`: static; one of `rk4`, `rk2`, `euler`, `exponential_euler`, `exact` (`linear`).
    - `noisy`: static; whether noise is drawn at all. Set from `noise_std` at construction: a layer built
      with `noise_std=0` compiles a loop without random numbers.
    - `model`: static; None for the default equations, or the [`jaxiaf.Model`][] compiled from a layer's
      own equations (`integrator_name` is then the model's method; noise comes from its `xi` terms).
    - `input_sampling`: static; `"held"` (the step's input row held over the step) or `"timed"` (Brian2's
      `TimedArray` rule: rk4's last stage reads the next row); a layer's own equations keep theirs in
      `model.input_sampling`, and this field equals it.
    """

    dt: jax.Array
    noise_std: jax.Array
    refractory: jax.Array
    integrator_name: str = eqx.field(static=True)
    noisy: bool = eqx.field(static=True)
    model: object = eqx.field(static=True, default=None)
    input_sampling: str = eqx.field(static=True, default="held")


class State(eqx.Module):
    """The evolving state of a layer.

    **Fields:**

    - `v`: (N,) membrane potential (V).
    - `since_spike`: (N,) int32, steps since the neuron's last spike (`NEVER` = 2**30 before the first).
    - `key`: the PRNG key of the noise; it never changes: the noise of global step n is drawn from
      `fold_in(key, n)`, so evolving in chunks draws exactly what one long evolve draws.
    - `step`: () int, the number of steps evolved so far (time `t = step * dt`).
    - `extra`: the other state variables of a layer's own equations (e.g. `{"w": ...}`), shaped as `v`.
    """

    v: jax.Array
    since_spike: jax.Array
    key: jax.Array
    step: jax.Array
    extra: dict = eqx.field(default_factory=dict)

    def named(self) -> dict:
        """Every leaf by name: the fields, then the `extra` entries."""
        fields = {f: getattr(self, f) for f in type(self).__annotations__ if f != "extra"}
        return {**fields, **self.extra}

    def __getitem__(self, name: str) -> jax.Array:
        """The entry `name` (`"v"`, `"since_spike"`, `"key"`, `"step"` or an `extra` name), as
        `FFIAF.state()[name]`; `KeyError` for another name."""
        return self.named()[name]


class StepConstants(eqx.Module):
    """Values computed once per evolve by [`jaxiaf.step_constants`][] and read by every step.

    **Fields:** `dt` (s), `tau_mem` (s), `decay` = `exp(-dt / tau_mem)`, `refractory_steps`
    = `int((refractory + 1e-3*dt) / dt)` (Brian2's `timestep`; capped at `NEVER`), `noise_scale` (A per unit
    normal draw), `coefficient` = `c(dt / tau_mem)` of the integrator's affine update (float32 path, and the
    stability check; see `jaxiaf._core.integrators`). With a layer's own equations, `tau_mem`, `decay`,
    `noise_scale` and `coefficient` are None and `extra` holds the model's loop-invariant values.
    """

    dt: jax.Array
    tau_mem: jax.Array | None
    decay: jax.Array | None
    refractory_steps: jax.Array
    noise_scale: jax.Array | None
    coefficient: jax.Array | None
    extra: dict = eqx.field(default_factory=dict)

    def named(self) -> dict:
        """Every leaf by name: the fields, then the `extra` entries."""
        fields = {f: getattr(self, f) for f in type(self).__annotations__ if f != "extra"}
        return {**fields, **self.extra}


def float_dtype():
    """The float dtype of new layers: float64 when `jax_enable_x64` is on, else float32."""
    return jnp.result_type(float)


def cast_floating(tree, dtype):
    """`tree` with its floating leaves in `dtype` (integer, bool and key leaves as they are)."""
    return jax.tree.map(lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a, tree)
