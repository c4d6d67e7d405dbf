"""Fitting problems with Brian2 ground truth: random neurons, their inputs, and Brian2's spikes and traces.

Each problem is one IAF neuron (the default equations, rk4, dt = 0.1 ms, `v_rest = v_reset = -65 mV`)
whose `tau_mem`, `bias`, `v_thresh` and `refractory` are drawn at random inside the fitting boxes
`BOUNDS`, driven by K trials of Ornstein-Uhlenbeck current with a drawn mean and std, and simulated by
Brian2 (`FFIAFBrian2`, numpy target). A draw is kept only if every trial fires at least `min_spikes`
times and no trial fires above `max_rate`: a neuron that never fires cannot be identified from its
spikes. `noise_std > 0` adds intrinsic membrane noise to the truth (the model that is fitted has none);
trace targets then also carry additive measurement noise of `trace_noise` V.

Used by `benchmarks/bench_fit_suite.py` and `tests/test_fit_suite.py`; never imports `jaxiaf`.
"""

from typing import NamedTuple

import numpy as np

from ._layer import FFIAFBrian2

DT = 1e-4
BOUNDS = {
    "tau_mem": (5e-3, 50e-3),
    "bias": (0.0, 0.02),
    "v_thresh": (-0.06, -0.045),
    "refractory": (0.0, 8e-3),
}
"""The fitting boxes (SI units); the truths are drawn inside them."""


class Problem(NamedTuple):
    """One fitting problem.

    - `truth`: `{name: value}` the true parameters (SI units).
    - `x`: (K, T, 1) input currents of K trials (A).
    - `spikes`: (K, T, 1) bool Brian2 spike rasters.
    - `v`: (K, T, 1) Brian2 membrane potentials, plus measurement noise if `noise_std > 0` (V).
    - `noise_std`: the truth's intrinsic noise (V, stationary std of `v`); 0 for noise-free problems.
    """

    truth: dict
    x: np.ndarray
    spikes: np.ndarray
    v: np.ndarray
    noise_std: float


def ou_currents(rng, num_trials, num_steps, mean, std, tau=5e-3, dt=DT):
    """(K, T) Ornstein-Uhlenbeck currents (A) of stationary `mean`, `std` and correlation time `tau`."""
    a = np.exp(-dt / tau)
    x = np.zeros((num_trials, num_steps))
    x[:, 0] = rng.standard_normal(num_trials)
    noise = rng.standard_normal((num_trials, num_steps)) * np.sqrt(1 - a * a)
    for k in range(1, num_steps):
        x[:, k] = a * x[:, k - 1] + noise[:, k]
    return mean + std * x


def _draw(rng):
    inner = lambda lo, hi: lo + (hi - lo) * rng.uniform(0.05, 0.95)
    truth = {
        "tau_mem": float(np.exp(inner(np.log(5e-3), np.log(50e-3)))),
        "bias": inner(*BOUNDS["bias"]),
        "v_thresh": inner(*BOUNDS["v_thresh"]),
        "refractory": float(rng.uniform(0.0, 8e-3)),
    }
    gap = truth["v_thresh"] + 0.065 - truth["bias"]  # the mean drive the input must add to reach threshold
    mean = gap + rng.uniform(-0.004, 0.006)
    std = rng.uniform(0.003, 0.012)
    return truth, mean, std


def draw_problems(
    num_problems,
    seed=0,
    *,
    num_steps=10000,
    max_trials=5,
    noise_std=0.0,
    trace_noise=1e-3,
    min_spikes=5,
    max_rate=150.0,
):
    """`num_problems` [`Problem`][]s drawn from `seed`; all kept draws run in one Brian2 network.

    Each problem has 1 to `max_trials` trials of `num_steps` steps; its OU input's mean is drawn around
    the current that brings `v_rest` to the threshold (from 4 mA below to 6 mA above) and its std from
    3 to 12 mA, so that problems range from noise-driven to regular firing.
    """
    rng = np.random.default_rng(seed)
    problems = []
    while len(problems) < num_problems:
        batch = []
        for _ in range(2 * (num_problems - len(problems))):
            truth, mean, std = _draw(rng)
            trials = int(rng.integers(1, max_trials + 1))
            batch.append((truth, ou_currents(rng, trials, num_steps, mean, std)))
        counts = [len(x) for _, x in batch]
        truths = {name: np.repeat([t[name] for t, _ in batch], counts) for name in BOUNDS}
        currents = np.concatenate([x for _, x in batch]).T
        xi = rng.standard_normal(currents.shape) if noise_std > 0 else None
        ref = FFIAFBrian2(
            np.ones((1, currents.shape[1])),
            **truths,
            noise_std=noise_std,
        ).evolve(currents=currents, xi=xi)
        raster, v = ref.raster().T, ref.v.T
        if noise_std > 0:
            v = v + trace_noise * rng.standard_normal(v.shape)
        start = 0
        for (truth, x), k in zip(batch, counts, strict=True):
            rows = slice(start, start + k)
            start += k
            per_trial = raster[rows].sum(axis=1)
            if per_trial.min() < min_spikes or per_trial.max() > max_rate * num_steps * DT:
                continue
            if len(problems) < num_problems:
                problems.append(
                    Problem(truth, x[:, :, None], raster[rows, :, None], v[rows, :, None], noise_std)
                )
    return problems


def recovered(best: dict, truth: dict, rel=0.05, refractory_steps=2):
    """True if every fitted value is within `rel` of the truth, and the refractory period (if fitted)
    within `refractory_steps` steps of `DT`."""
    for name, value in best.items():
        if name == "refractory":
            if abs(value - truth[name]) > refractory_steps * DT + 1e-12:
                return False
        elif abs(value / truth[name] - 1) > rel:
            return False
    return True
