"""Time to a fit with `jaxiaf.fit`'s defaults on the simulated problem of tests/test_fit.py: 4 parameters
(tau_mem, bias, v_thresh, refractory), five 1-s training trials of OU current, Brian2's spikes as targets;
only the data, the bounds and a seed are given. Float32 and float64, each in a fresh process (compile and
caches as a user's second session finds them: the persistent caches filled by an earlier process) and warm
(the same fit again in that process). Recovery: tau_mem, bias, v_thresh within 1 %, refractory within a step.

    .venv/bin/python benchmarks/bench_fit_defaults.py        # writes benchmarks/results/fit_defaults.json
    .venv/bin/python benchmarks/bench_fit_defaults.py --out other.json

The workers' persistent caches live in a fresh temporary directory (`JAXIAF_CACHE_DIR`), filled by the
first float32/float64 pair: the second pair is a user's second session.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
DT = 1e-4
TRUTH = {"tau_mem": 0.02, "bias": 0.008, "v_thresh": -0.052, "refractory": 3e-3}
BOUNDS = {
    "tau_mem": (5e-3, 50e-3),
    "bias": (0.0, 0.02),
    "v_thresh": (-0.06, -0.045),
    "refractory": (0.0, 6e-3),
}


def _problem(path: Path) -> None:
    """Brian2's spikes of the truth on the OU currents of tests/test_fit.py (seed 0), saved to `path`."""
    from brian_ref import FFIAFBrian2

    rng = np.random.default_rng(0)
    a = np.exp(-DT / 5e-3)
    x = np.zeros((6, 10000))
    noise = rng.standard_normal((6, 10000)) * np.sqrt(1 - a * a)
    for k in range(1, 10000):
        x[:, k] = a * x[:, k - 1] + noise[:, k]
    x = 0.006 + 0.008 * x
    raster = FFIAFBrian2(np.ones((1, 6)), **TRUTH).evolve(currents=x.T).raster().T
    np.savez(path, x=x[:5, :, None], raster=raster[:5, :, None])


def _worker(path: str, x64: bool) -> dict:
    start = time.perf_counter()
    import jax

    jax.config.update("jax_enable_x64", x64)
    import jaxiaf

    data = np.load(path)
    times, results, first_done = [], [], None
    for _ in range(3):  # a fresh process's first fit, then the same fit warm, twice
        t0 = time.perf_counter()
        result = jaxiaf.fit(
            jaxiaf.FFIAF(np.ones((1, 1))),
            data["x"],
            spikes=data["raster"],
            bounds=BOUNDS,
            key=jax.random.key(0),
            progress=False,
        )
        times.append(time.perf_counter() - t0)
        first_done = first_done or time.perf_counter()
        results.append(result)
    best = results[-1].best_params
    recovered = all(abs(best[k] / TRUTH[k] - 1) < 0.01 for k in ("tau_mem", "bias", "v_thresh"))
    recovered &= abs(best["refractory"] - TRUTH["refractory"]) <= DT + 1e-12
    return {
        "dtype": "float64" if x64 else "float32",
        "first_fit_s": times[0],
        "warm_fit_s": min(times[1:]),
        "import_and_first_fit_s": first_done - start,
        "generations": results[-1].generations,
        "evaluations": results[-1].evaluations,
        "stop_reason": results[-1].stop_reason,
        "flags": list(results[-1].flags),
        "recovered": bool(recovered),
        "best_params": best,
    }


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:
        print(json.dumps(_worker(sys.argv[2], sys.argv[3] == "x64")))
        return
    out_path = Path(sys.argv[sys.argv.index("--out") + 1]) if "--out" in sys.argv else None
    path = HERE / "results" / "fit_defaults_problem.npz"
    _problem(path)
    rows = []
    load_before = os.getloadavg()
    env = {**os.environ, "JAXIAF_CACHE_DIR": tempfile.mkdtemp(prefix="jaxiaf_bench_cache_")}
    for precision in ("x32", "x64", "x32", "x64"):  # the first pair fills the persistent caches
        out = subprocess.run(
            [sys.executable, __file__, "--worker", str(path), precision],
            capture_output=True,
            text=True,
            env=env,
        )
        if out.returncode:
            raise RuntimeError(out.stderr[-3000:])
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    path.unlink()
    sha = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=HERE
    ).stdout.strip()
    report = {
        "sha": sha,
        "load_before": load_before,
        "load": os.getloadavg(),
        "nproc": os.cpu_count(),
        "rows": rows,
    }
    (out_path or HERE / "results" / "fit_defaults.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
