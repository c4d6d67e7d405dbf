"""float64 against float32 on the simulated problem of `bench_fit_defaults.py` (4 parameters, five 1-s
trials), and where the difference comes from.

Each row runs in its own process: `fits` times the warm fit of seeds 0-4 (each fitted once to compile,
then timed) in float32 and float64; the `loss:*` rows time the fit's loss of 64 parameter sets as one
compiled program (median of 21 calls), in float32, in float64 (the fit's loss runs the affine update,
`evolve(bit_exact=False)`), and in float64 with Brian2's expressions (`bit_exact`: the loss's evolve
called with `bit_exact=True`, for the measurement only; the loss before issue 21).

    .venv/bin/python benchmarks/bench_fit_float64.py     # prints one JSON line per row and the load
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
ROWS = ("fits", "loss:float32", "loss:float64", "loss:float64_bit_exact")


def _problem(path: Path):
    import bench_fit_defaults

    if not path.exists():
        bench_fit_defaults._problem(path)
    return np.load(path), bench_fit_defaults.BOUNDS


def _fits(data, bounds) -> dict:
    import jax
    import jax.numpy as jnp

    import jaxiaf

    out = {}
    for dtype in (jnp.float32, jnp.float64):
        rows = []
        for seed in range(5):
            fit = lambda: jaxiaf.fit(  # noqa: E731
                jaxiaf.FFIAF(np.ones((1, 1))), data["x"], spikes=data["raster"], bounds=bounds,
                key=jax.random.key(seed), progress=False, dtype=dtype,
            )  # fmt: skip
            fit()
            start = time.perf_counter()
            result = fit()
            rows.append((time.perf_counter() - start, result.generations, float(result.elapsed[-1])))
        out[jnp.dtype(dtype).name] = {
            "warm_fit_s": float(np.median([r[0] for r in rows])),
            "search_s_per_generation": float(np.median([r[2] / r[1] for r in rows])),
            "generations": [r[1] for r in rows],
        }
    return out


def _loss(data, bounds, variant: str) -> dict:
    import jax
    import jax.numpy as jnp

    import jaxiaf
    from jaxiaf._core import scan
    from jaxiaf._fit import arguments, loss

    if variant == "float64_bit_exact":
        loss.evolve = lambda *args, **kwargs: scan.evolve(*args, **{**kwargs, "bit_exact": True})
    dtype = jnp.float32 if variant == "float32" else jnp.float64
    options = arguments.settings("cma_es", 16, 4, 100_000, np.inf, None, None, 2, None, 25, 1.0, 1)
    module = jaxiaf.FFIAF(np.ones((1, 1)))
    problem = arguments.problem(
        module, data["x"], bounds, data["raster"], None, None, options, jnp.dtype(dtype)
    )
    static, arrays = loss.split_metrics(problem.metrics)
    population_loss = jax.jit(loss.PopulationLoss(problem.names, problem.dt, static, False))
    sim = loss.simulation_data(problem.module, problem.x, problem.target_spikes, None, arrays, problem.dtype)
    unit = np.random.default_rng(0).uniform(size=(64, len(problem.names)))
    values = jax.device_put((problem.lo + (problem.hi - problem.lo) * unit).astype(dtype))
    jax.block_until_ready(population_loss(values, sim))
    times = []
    for _ in range(21):
        start = time.perf_counter()
        jax.block_until_ready(population_loss(values, sim))
        times.append(time.perf_counter() - start)
    return {"loss_ms_median": 1e3 * float(np.median(times)), "loss_ms_min": 1e3 * min(times)}


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:
        import jax

        jax.config.update("jax_enable_x64", True)
        row = sys.argv[2]
        data, bounds = _problem(Path(sys.argv[3]))
        out = _fits(data, bounds) if row == "fits" else _loss(data, bounds, row.split(":")[1])
        print(json.dumps({"row": row, **out, "load": os.getloadavg()}))
        return
    path = HERE / "results" / "fit_float64_problem.npz"
    try:
        for row in ROWS:
            done = subprocess.run(
                [sys.executable, __file__, "--worker", row, str(path)], capture_output=True, text=True
            )
            if done.returncode:
                raise RuntimeError(done.stderr[-3000:])
            print(done.stdout.strip().splitlines()[-1], flush=True)
    finally:
        path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
