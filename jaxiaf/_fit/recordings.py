"""What recordings need before a fit: spike times read from a voltage trace, and the recordings of the
2007 single-neuron modelling competition that the tests and benchmarks use."""

import os
from pathlib import Path

import numpy as np

from .._rockpool import timebase as _timebase

REALDATA_ENV = "JAXIAF_REALDATA"
"""The environment variable that overrides where the real recordings are (default: `../shared/realdata`
next to the repository)."""


def detect_spikes(v, dt: float, threshold: float = 0.0, dead_time: float = 0.5e-3) -> list:
    """Spike times of recorded voltage traces: the upward threshold crossings, at most one per dead time.

    A spike is stamped at step `k` (time `k * dt`), the first sample above `threshold` after one at or
    below it; a crossing within `dead_time` after a spike's step is part of that spike (ringing, a
    doublet of the action potential's peak) and is dropped. The times go to [`jaxiaf.fit`][]'s `spikes`
    (or [`jaxiaf.spikes_to_raster`][]) on the grid of the same `dt`: spike `k * dt` falls in step `k`.

    **Arguments:**

    - `v`: (T,) one trace or (K, T) K traces (V), sampled every `dt`.
    - `dt`: the sampling period (s).
    - `threshold`: the crossing level (V); default 0 V, above any subthreshold potential.
    - `dead_time`: (s) >= 0; default 0.5 ms: noise around the threshold on one action potential's rise
      is one spike, while two action potentials 1 ms apart (a cortical cell's burst) are two.

    **Returns:** a list of K (1 for a (T,) trace) float64 arrays of spike times (s), ascending.

    **Raises:** `ValueError` naming the argument for a trace that is not (T,) or (K, T) finite values,
    `dt` not finite and > 0, `threshold` or `dead_time` not finite (`dead_time` < 0).
    """
    dt = _timebase.seconds("dt", dt, positive=True)
    dead_time = _timebase.seconds("dead_time", dead_time)
    if dead_time < 0:
        raise ValueError(f"`dead_time` must be >= 0 s; got {dead_time!r}.")
    threshold = float(np.asarray(threshold))
    if not np.isfinite(threshold):
        raise ValueError(f"`threshold` must be a finite voltage (V); got {threshold!r}.")
    traces = np.asarray(v, float)
    if traces.ndim not in (1, 2) or not np.all(np.isfinite(traces)):
        raise ValueError(
            f"`v` must be a (T,) or (K, T) array of finite voltages (V); got shape {traces.shape}."
        )
    gap = int(np.floor(dead_time / dt + _timebase.STEP_TOL))
    out = []
    for trace in np.atleast_2d(traces):
        above = trace > threshold
        crossings = np.flatnonzero(above[1:] & ~above[:-1]) + 1
        kept, last = [], -np.inf
        for k in crossings:
            if k - last > gap:
                kept.append(k)
                last = k
        out.append(np.asarray(kept, float) * dt)
    return out


def realdata_path() -> Path:
    """Where the real recordings are: `$JAXIAF_REALDATA`, else `../shared/realdata` beside the repository."""
    default = Path(__file__).resolve().parents[3] / "shared" / "realdata"
    return Path(os.environ.get(REALDATA_ENV, default))


def challenge_a(path=None) -> dict:
    """Challenge A of the 2007 Quantitative Single-Neuron Modeling Competition (Jolivet et al., J Neurosci
    Methods 169:417, 2008; recordings of Rauch et al., J Neurophysiol 90:1598, 2003), in SI units.

    **Returns:** `{"dt": 2e-4, "sets": (8,) labels, "current": (8, 4, T) A, "v": (8, 4, T) V,
    "spikes": [[times (s) per repetition] per set]}` (the organisers' spike samples, times `k * dt`).

    **Raises:** `FileNotFoundError` naming the path when the data are absent.
    """
    file = Path(path or realdata_path()) / "qsnmc2007_challengeA" / "qsnmc2007_challengeA.npz"
    if not file.exists():
        raise FileNotFoundError(
            f"Challenge A not found at {file} (set ${REALDATA_ENV} to the realdata folder)."
        )
    data = np.load(file)
    dt, index, ptr = float(data["dt_s"]), data["train_spk_idx"], data["train_spk_ptr"]
    num_sets, num_reps = data["train_I_pA"].shape[:2]
    spikes = [
        [index[ptr[s * num_reps + r] : ptr[s * num_reps + r + 1]] * dt for r in range(num_reps)]
        for s in range(num_sets)
    ]
    return {
        "dt": dt,
        "sets": [str(s) for s in data["train_sets"]],
        "current": data["train_I_pA"] * 1e-12,
        "v": data["train_V_mV"] * 1e-3,
        "spikes": spikes,
    }


def noise_floor(metrics, target_spikes, target_v, trials, dt: float) -> float:
    """The fit's loss of the data against themselves: each recorded repetition of an input taken as the
    model's output and scored (the weighted `metrics`) against every other repetition of that input,
    averaged over the ordered pairs. 0 when no input repeats (`trials` None or all distinct) or when
    the repetitions are identical. A deterministic model cannot be expected to predict one repetition
    much better than another repetition does.

    `target_spikes`, `target_v`: (T, K, N) or None; `trials`: the index of each trial's input (a
    K-tuple) or None."""
    if trials is None:
        return 0.0
    groups = {}
    for k, u in enumerate(trials):
        groups.setdefault(u, []).append(k)
    pairs = [(i, j) for group in groups.values() for i in group for j in group if i != j]
    if not pairs:
        return 0.0
    first, second = (np.array([pair[n] for pair in pairs]) for n in (0, 1))
    pick = lambda a, index: None if a is None else a[:, index]
    total = 0.0
    for weight, metric in metrics:
        losses = metric.loss(
            pick(target_spikes, first),
            pick(target_v, first),
            pick(target_spikes, second),
            pick(target_v, second),
            dt,
        )
        total += weight * float(np.mean(np.asarray(losses)))
    return total
