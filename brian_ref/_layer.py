"""`FFIAFBrian2`: one Brian2 `NeuronGroup` per evolve, built from plain arrays."""

import time
from typing import NamedTuple

import brian2 as b2
import numpy as np

_METHODS = {
    "rk4": "rk4",
    "rk2": "rk2",
    "euler": "euler",
    "exponential_euler": "exponential_euler",
    "exact": "linear",
    "linear": "linear",
}

_EQUATIONS = """
dv/dt = (v_rest - v + r_m * (Ib + I_in)) / tau_m : volt (unless refractory)
I_in = I_inp(t, i) : amp (constant over dt)
Ib : amp
tau_m : second
v_thresh : volt
v_reset : volt
v_rest : volt
r_m : ohm
refr : second
"""


class BrianResult(NamedTuple):
    """What one Brian2 evolve returns.

    - `spike_steps`, `spike_neurons`: (S,) int arrays, sorted by step then neuron; Brian2 stamps a spike
      of step n at `n * dt`.
    - `v`: (T, N) membrane potential at the end of each step, after reset (V).
    - `wall_time`: seconds spent in `Network.run`, code generation included.
    """

    spike_steps: np.ndarray
    spike_neurons: np.ndarray
    v: np.ndarray
    wall_time: float

    def raster(self) -> np.ndarray:
        """The (T, N) bool spike raster."""
        out = np.zeros(self.v.shape, bool)
        out[self.spike_steps, self.spike_neurons] = True
        return out


def _per_neuron(name, value, n):
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0 or arr.shape == (1,):
        return np.full(n, arr.reshape(()))
    if arr.shape != (n,):
        raise ValueError(f"`{name}` must be a scalar or have shape ({n},); got shape {arr.shape}.")
    return arr


class FFIAFBrian2:
    """A feedforward layer of IAF neurons simulated by Brian2, with the constructor of `FFIAFBrian`.

    The input current of each neuron, `(x @ weights)[n] + noise_scale * xi[n]`, enters Brian2 through a
    `TimedArray` as a subexpression flagged `(constant over dt)`, so every integrator holds it over the step;
    with `input_sampling="timed"` the flag is dropped, so that each stage reads `I_inp(t, i)` at its own
    time (rk4's last stage at `t + dt`: the next row), as Rockpool's `FFIAFBrian` does (no noise then).

    **Arguments:** as Rockpool's `FFIAFBrian`, in SI units: `weights` (N_in, N); `bias` (A), `tau_mem` (s),
    `v_thresh`, `v_reset`, `v_rest` (V): scalars or (N,); `dt` (s); `noise_std` (V, stationary std of v
    under the noise alone); `refractory` (s, scalar or (N,)); `integrator_name` (`rk4`, `rk2`, `euler`,
    `exponential_euler`, `exact`/`linear`); `name`; `target`: Brian2 code-generation target (`numpy`,
    `cython`, or `cpp_standalone`, which writes a project into `standalone_dir`); `input_sampling`:
    `"held"` (default) or `"timed"`.
    """

    def __init__(
        self,
        weights,
        bias=0.01,
        dt=1e-4,
        noise_std=0.0,
        tau_mem=0.02,
        v_thresh=-0.055,
        v_reset=-0.065,
        v_rest=-0.065,
        refractory=0.0,
        integrator_name="rk4",
        name="unnamed",
        target="numpy",
        standalone_dir=None,
        input_sampling="held",
    ):
        self.weights = np.asarray(weights, dtype=np.float64)
        if self.weights.ndim != 2:
            raise ValueError(f"`weights` must be 2-D [N_in, N]; got shape {self.weights.shape}.")
        if integrator_name not in _METHODS:
            raise ValueError(f"`integrator_name` must be one of {sorted(_METHODS)}; got {integrator_name!r}.")
        if input_sampling not in ("held", "timed"):
            raise ValueError(f"`input_sampling` must be 'held' or 'timed'; got {input_sampling!r}.")
        n = self.weights.shape[1]
        self.bias = _per_neuron("bias", bias, n)
        self.tau_mem = _per_neuron("tau_mem", tau_mem, n)
        self.v_thresh = _per_neuron("v_thresh", v_thresh, n)
        self.v_reset = _per_neuron("v_reset", v_reset, n)
        self.v_rest = _per_neuron("v_rest", v_rest, n)
        self.refractory = _per_neuron("refractory", refractory, n)
        self.dt = float(dt)
        self.noise_std = _per_neuron("noise_std", noise_std, n)
        self.integrator_name = integrator_name
        self.name = name
        self.target = target
        self.standalone_dir = standalone_dir
        self.input_sampling = input_sampling
        if input_sampling == "timed" and np.any(self.noise_std > 0):
            raise ValueError("`input_sampling='timed'` replays a noiseless layer: give `noise_std=0`.")

    @property
    def size(self) -> int:
        """N, the number of neurons."""
        return self.weights.shape[1]

    def noise_scale(self) -> np.ndarray:
        """(N,) A per unit normal draw: `noise_std * sqrt((1 + E) / (1 - E))`, `E = exp(-dt / tau_mem)`."""
        decay = np.exp((-self.dt) / self.tau_mem)
        return self.noise_std * np.sqrt((1 + decay) / (1 - decay))

    def evolve(self, x=None, *, currents=None, xi=None, v0=None) -> BrianResult:
        """Run Brian2 over T steps from `v0` (default `v_rest`), no neuron refractory at the start.

        **Arguments:**

        - `x`: (T, N_in) input; the current is `x @ weights` (A). Or give `currents` (T, N) directly.
        - `xi`: optional (T, N) unit normal draws; the noise current is `noise_scale() * xi`.
          Required when `noise_std > 0`, so that noisy runs can be replayed exactly.
        - `v0`: optional (N,) initial potential (V).
        """
        if (x is None) == (currents is None):
            raise TypeError("Give exactly one of `x` (T, N_in) or `currents` (T, N).")
        if currents is None:
            x = np.asarray(x, dtype=np.float64)
            if x.ndim != 2 or x.shape[1] != self.weights.shape[0]:
                raise ValueError(f"`x` must have shape (T, {self.weights.shape[0]}); got {x.shape}.")
            currents = x @ self.weights
        currents = np.asarray(currents, dtype=np.float64)
        if currents.ndim != 2 or currents.shape[1] != self.size:
            raise ValueError(f"`currents` must have shape (T, {self.size}); got {currents.shape}.")
        if np.any(self.noise_std > 0):
            if xi is None:
                raise ValueError("`xi` (T, N) unit normal draws are required when `noise_std` > 0.")
            currents = currents + self.noise_scale() * np.asarray(xi, dtype=np.float64)
        return self._run(currents, v0)

    def _run(self, currents, v0) -> BrianResult:
        num_steps, n = currents.shape
        dt = self.dt * b2.second
        if self.target == "cpp_standalone":
            b2.set_device("cpp_standalone", directory=self.standalone_dir, build_on_run=True)
            b2.device.reinit()
            b2.set_device("cpp_standalone", directory=self.standalone_dir, build_on_run=True)
        else:
            b2.set_device("runtime")
            b2.prefs.codegen.target = self.target
        b2.start_scope()
        b2.defaultclock.dt = dt
        current_table = b2.TimedArray(currents * b2.amp, dt=dt)
        group = b2.NeuronGroup(
            n,
            _EQUATIONS if self.input_sampling == "held" else _EQUATIONS.replace(" (constant over dt)", ""),
            threshold="v > v_thresh",
            reset="v = v_reset",
            refractory="refr",
            method=_METHODS[self.integrator_name],
            namespace={"I_inp": current_table},
            name=f"ffiaf_{self.name}",
        )
        group.Ib = self.bias * b2.amp
        group.tau_m = self.tau_mem * b2.second
        group.v_thresh = self.v_thresh * b2.volt
        group.v_reset = self.v_reset * b2.volt
        group.v_rest = self.v_rest * b2.volt
        group.r_m = 1 * b2.ohm
        group.refr = self.refractory * b2.second
        group.v = (self.v_rest if v0 is None else _per_neuron("v0", v0, n)) * b2.volt
        spikes = b2.SpikeMonitor(group)
        trace = b2.StateMonitor(group, "v", record=True, when="end")
        net = b2.Network(group, spikes, trace)
        start = time.perf_counter()
        net.run(num_steps * dt, namespace={})
        wall = time.perf_counter() - start
        steps = np.round(np.asarray(spikes.t / dt)).astype(np.int64)
        neurons = np.asarray(spikes.i, dtype=np.int64)
        order = np.lexsort((neurons, steps))
        v = np.asarray(trace.v / b2.volt).T.copy()
        if self.target == "cpp_standalone":
            b2.device.reinit()
            b2.set_device("runtime")
        return BrianResult(steps[order], neurons[order], v, wall)
