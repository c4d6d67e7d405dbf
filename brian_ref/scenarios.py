"""Random scenarios of the default equations' layer (the parity and precision checks' inputs), and a
per-neuron fitting problem with Brian2's spikes. Used by the tests and the benchmarks; never imports
`jaxiaf`."""

import dataclasses

import numpy as np

from ._layer import FFIAFBrian2


@dataclasses.dataclass
class Scenarios:
    """S scenarios of M neurons and N_in inputs, stacked: `x` (S, T, N_in), `weights` (S, N_in, M), per-neuron
    parameters (S, M)."""

    x: np.ndarray
    weights: np.ndarray
    bias: np.ndarray
    tau_mem: np.ndarray
    v_thresh: np.ndarray
    v_reset: np.ndarray
    v_rest: np.ndarray
    refractory: np.ndarray
    dt: float

    @property
    def shape(self):
        return self.weights.shape[0], self.weights.shape[2]

    def flat(self, name):
        return getattr(self, name).reshape(-1)

    def currents(self):
        """(T, S*M) input currents, `x_s @ W_s` per scenario, computed by NumPy."""
        return np.concatenate([self.x[s] @ self.weights[s] for s in range(self.x.shape[0])], axis=1)

    def with_thresholds(self, v_thresh):
        return dataclasses.replace(self, v_thresh=v_thresh)


def random_scenarios(rng, num, num_steps, dt, num_in=3, num_neurons=4) -> Scenarios:
    """Random scenarios: tau 1-100 ms (log-uniform), step / sine / white-noise inputs, mixed-sign weights,
    v_reset above and below v_rest, refractory 0-30 steps including non-multiples of dt."""
    t = np.arange(num_steps) * dt
    xs = []
    for s in range(num):
        kind = s % 3
        if kind == 0:
            onset = rng.uniform(0, t[-1], num_in)
            x = rng.uniform(0.5, 2.0, num_in) * (t[:, None] > onset)
        elif kind == 1:
            freq = rng.uniform(2, 50, num_in)
            x = rng.uniform(0.5, 2.0, num_in) * np.sin(
                2 * np.pi * freq * t[:, None] + rng.uniform(0, 6, num_in)
            )
        else:
            x = rng.normal(0, 1.0, (num_steps, num_in))
        xs.append(x)
    size = (num, num_neurons)
    refr_steps = rng.integers(0, 31, size)
    fraction = np.where(rng.random(size) < 0.5, 0.0, rng.uniform(0.0, 0.99, size))
    v_rest = rng.uniform(-0.07, -0.06, size)
    return Scenarios(
        x=np.stack(xs),
        weights=rng.normal(0, 0.01, (num, num_in, num_neurons)),
        bias=rng.uniform(0.0, 0.03, size),
        tau_mem=np.exp(rng.uniform(np.log(1e-3), np.log(0.1), size)),
        v_thresh=rng.uniform(-0.058, -0.045, size),
        v_reset=v_rest + rng.uniform(-0.01, 0.01, size),
        v_rest=v_rest,
        refractory=(refr_steps + fraction) * dt,
        dt=dt,
    )


def neurons_problem(num: int, seed: int):
    """`(truth, weights, x, spikes)`: `num` neurons, each with its own `tau_mem` (10-40 ms) and `bias`
    (4-12 mA), driven by one input through their own weights (0.5-1.5); 3 trials of 0.5 s of white-noise
    current (x: (3, 5000, 1)); Brian2's spike rasters (3, 5000, num)."""
    rng = np.random.default_rng(seed)
    truth = {"tau_mem": rng.uniform(0.01, 0.04, num), "bias": rng.uniform(0.004, 0.012, num)}
    weights = rng.uniform(0.5, 1.5, (1, num))
    x = 0.01 + 0.03 * rng.standard_normal((3, 5000, 1))
    layer = FFIAFBrian2(weights, **truth)
    spikes = np.stack([layer.evolve(trial).raster() for trial in x])
    return truth, weights, x, spikes
