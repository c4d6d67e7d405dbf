#!/usr/bin/env python
"""float32 vs float64 spike agreement: the share of neurons whose spike trains are identical in float32
and float64, on the random scenarios of the tests (`brian_ref/scenarios.py`:
`random_scenarios(default_rng(11), 100, 2000, 1e-4)`, 100 scenarios x 4 neurons = 400 neurons, 2000
steps: taus 1-100 ms, step / sine / white-noise inputs, refractory periods 0-30 steps), evolved with
`run_jax` (`brian_ref/parity.py`, a vmapped module). Each precision runs in its own process
(`JAX_ENABLE_X64=0` / `1`).

    .venv/bin/python benchmarks/bench_precision.py        # about 1 minute
"""

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np
from _common import emit, machine_header, record, run_worker, table

INTEGRATORS = ("rk4", "exact", "rk2", "euler", "exponential_euler")


def worker(precision, outdir):
    os.environ["JAX_ENABLE_X64"] = "1" if precision == "f64" else "0"
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    os.environ.setdefault("JAXIAF_CACHE_DIR", "0")
    from brian_ref.parity import run_jax
    from brian_ref.scenarios import random_scenarios

    sc = random_scenarios(np.random.default_rng(11), 100, 2000, 1e-4)
    dtypes = {}
    for integ in INTEGRATORS:
        spikes, v = run_jax(sc, integ)
        dtypes[integ] = str(v.dtype)
        np.save(os.path.join(outdir, f"{precision}_{integ}.npy"), spikes)
    emit({"dtypes": dtypes})


def main():
    print("## float32 vs float64 spike agreement (400 random neurons x 2000 steps)\n")
    print(machine_header() + "\n")
    rows = []
    with tempfile.TemporaryDirectory(prefix="jaxiaf_bench_") as tmp:
        info = {p: run_worker("bench_precision.py", [p, tmp]) for p in ("f32", "f64")}
        assert set(info["f32"]["dtypes"].values()) == {"float32"}, info
        assert set(info["f64"]["dtypes"].values()) == {"float64"}, info
        for integ in INTEGRATORS:
            s32 = np.load(os.path.join(tmp, f"f32_{integ}.npy"))
            s64 = np.load(os.path.join(tmp, f"f64_{integ}.npy"))
            same_train = (s32 == s64).all(axis=0)
            same_count = s32.sum(axis=0) == s64.sum(axis=0)
            active = s64.sum(axis=0) > 0
            rows.append(
                [
                    integ,
                    f"{same_train.mean() * 100:.2f} % ({same_train.sum()}/{same_train.size})",
                    f"{same_train[active].mean() * 100:.2f} % ({same_train[active].sum()}/{active.sum()})",
                    f"{same_count.mean() * 100:.2f} %",
                    f"{int(s64.sum()):,}",
                    f"{int(s32.sum()):,}",
                    f"{int((s32 != s64).sum()):,}",
                ]
            )
    record("precision", {"rows": rows})
    print(
        table(
            [
                "integrator",
                "identical spike trains",
                "... among neurons that spike (f64)",
                "identical spike counts",
                "spikes f64",
                "spikes f32",
                "differing (step, neuron) cells",
            ],
            rows,
        )
    )
    print()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3])
    else:
        main()
