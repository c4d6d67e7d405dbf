#!/usr/bin/env python
"""The fitting problem suite: `jaxiaf.fit` with its defaults on random Brian2 ground truths.

Problems come from `brian_ref.problems.draw_problems` (one IAF neuron each, `tau_mem`, `bias`, `v_thresh`,
`refractory` drawn inside the boxes, 1-5 trials of 1 s of OU current with a drawn mean and std, Brian2's
spikes and traces). Every fit is called as a new user would: the module, the data, the bounds and a seed,
nothing else, in float32 (JAX's default) on one CPU device. A fit counts as *recovered* when `tau_mem`,
`bias` and `v_thresh` are within 5 % and `refractory` within 2 steps; as *flagged* when its
`FitResult.flags` is not empty. Compilation is timed apart: each trial count compiles once, in a warm-up
fit of one generation, before the timed fits.

Sets: `spikes` and `traces` (noise-free truth), `spikes+noise` and `traces+noise` (the truth has 1 mV
of intrinsic membrane noise; the traces also 1 mV of measurement noise; the fitted model is noise-free).

    .venv/bin/python benchmarks/bench_fit_suite.py                  # 20 problems x 5 seeds (spikes), 2 seeds
                                                                     # for the other sets; ~15 min on 2 cores
    .venv/bin/python benchmarks/bench_fit_suite.py --quick          # 6 problems x 2 seeds, spikes only
    .venv/bin/python benchmarks/bench_fit_suite.py --b2mf 5         # + brian2modelfitting on 5 problems
                                                                     # (needs `pip install -e ".[bench]"`)

Prints Markdown tables and writes the raw results (with the git SHA) to `--json`.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import warnings

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=1")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np
from _common import ROOT, machine_header, table

sys.path.insert(0, str(ROOT))

from brian_ref.problems import BOUNDS, DT, draw_problems, recovered  # noqa: E402

SETS = {  # name: (target, intrinsic noise of the truth (V))
    "spikes": ("spikes", 0.0),
    "traces": ("v", 0.0),
    "spikes+noise": ("spikes", 1e-3),
    "traces+noise": ("v", 1e-3),
}


def errors(best, truth):
    """Relative errors, and the refractory error in steps."""
    return {k: (best[k] - truth[k]) / DT if k == "refractory" else best[k] / truth[k] - 1 for k in best}


BEFORE = dict(
    parallel=1, population_size=32, generations=100, max_evaluations=3200, run_patience=100, confirm=10**6
)
"""`fit` as its defaults were before restarts (one CMA-ES of 32 candidates for 100 generations, no early
stop), for the `--before` column."""


def run_jaxiaf(problems, target, seeds, options=None):
    import jax

    import jaxiaf

    options = options or {}
    rows, compiled = [], {}
    for index, problem in enumerate(problems):
        data = {target: getattr(problem, target)}
        shape = problem.x.shape
        if shape not in compiled:
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                jaxiaf.fit(
                    jaxiaf.FFIAF(np.ones((1, 1))),
                    problem.x,
                    bounds=BOUNDS,
                    progress=False,
                    **{"max_evaluations": 64, **options, "generations": 1},
                    **data,
                )
            compiled[shape] = time.perf_counter() - start
        for seed in seeds:
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = jaxiaf.fit(
                    jaxiaf.FFIAF(np.ones((1, 1))),
                    problem.x,
                    bounds=BOUNDS,
                    key=jax.random.key(seed),
                    progress=False,
                    **options,
                    **data,
                )
            wall = time.perf_counter() - start
            rows.append(
                {
                    "problem": index,
                    "seed": seed,
                    "trials": shape[0],
                    "target_spikes": int(problem.spikes.sum()),
                    "truth": problem.truth,
                    "best": result.best_params,
                    "errors": errors(result.best_params, problem.truth),
                    "recovered": recovered(result.best_params, problem.truth),
                    "flags": list(result.flags),
                    "stop_reason": result.stop_reason,
                    "best_loss": result.best_loss,
                    "relative_loss": result.relative_loss,
                    "evaluations": result.evaluations,
                    "generations": result.generations,
                    "runs": len(result.runs),
                    "wall_s": wall,
                }
            )
            print(
                json.dumps({k: rows[-1][k] for k in ("problem", "seed", "recovered", "flags", "wall_s")}),
                file=sys.stderr,
                flush=True,
            )
    return rows, compiled


def run_b2mf(problems, seed, rounds):
    """brian2modelfitting (GammaFactor, Nevergrad CMA, 30 samples per round) on each problem's spikes."""
    from bench_fit import _import_b2mf, b2mf_fit

    _import_b2mf()  # brian2modelfitting 0.4 under NumPy 2
    rows = []
    for index, problem in enumerate(problems):
        x, raster = problem.x[:, :, 0], problem.spikes[:, :, 0]
        rec = b2mf_fit(x, raster, seed, rounds, max_seconds=600, bounds=BOUNDS, num_train=len(x))
        best = rec["improved_params"][-1]
        rows.append(
            {
                "problem": index,
                "best": best,
                "errors": errors(best, problem.truth),
                "recovered": recovered(best, problem.truth),
                "wall_s": rec["total"],
            }
        )
        print(json.dumps({k: rows[-1][k] for k in ("problem", "recovered", "wall_s")}), file=sys.stderr)
    return rows


def summary(rows):
    walls = np.array([r["wall_s"] for r in rows])
    rec = [r["recovered"] for r in rows]
    flagged = [bool(r.get("flags")) for r in rows]
    failures = [f for r, f in zip(rec, flagged, strict=True) if not r]
    false_alarms = [f for r, f in zip(rec, flagged, strict=True) if r]
    return [
        f"{sum(rec)}/{len(rec)} ({100 * np.mean(rec):.0f} %)",
        f"{sum(failures)}/{len(failures)}" if "flags" in rows[0] else "-",
        f"{sum(false_alarms)}/{len(false_alarms)}" if "flags" in rows[0] else "-",
        f"{np.median(walls):.2f} s",
        f"{np.percentile(walls, 90):.2f} s",
        f"{walls.max():.2f} s",
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=5, help="seeds per problem for the `spikes` set")
    parser.add_argument("--other-seeds", type=int, default=2, help="seeds per problem for the other sets")
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--b2mf", type=int, default=0, help="problems (of the `spikes` set) for brian2modelfitting"
    )
    parser.add_argument("--b2mf-rounds", type=int, default=200)
    parser.add_argument("--json", default="benchmarks/results/fit_suite.json")
    parser.add_argument("--no-before", action="store_true", help="skip the fits with the former defaults")
    parser.add_argument(
        "--before-only", action="store_true", help="of the spikes set, only the former defaults"
    )
    args = parser.parse_args()
    if args.quick:
        args.problems, args.seeds, args.sets = 6, 2, "spikes"
    sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    report = {"sha": sha.stdout.strip(), "machine": machine_header(), "sets": {}}
    lines = [f"git {report['sha']}; {report['machine']}", ""]
    header = [
        "set",
        "(problem, seed) recovered",
        "failures flagged",
        "successes flagged",
        "median wall",
        "90th pct",
        "max",
    ]
    rows = []
    for name in args.sets.split(","):
        target, noise = SETS[name]
        start = time.perf_counter()
        problems = draw_problems(args.problems, seed=0, noise_std=noise)
        made = time.perf_counter() - start
        seeds = range(args.seeds if name == "spikes" else args.other_seeds)
        results, compiled = ([], {}) if args.before_only else run_jaxiaf(problems, target, seeds)
        report["sets"][name] = {
            "fits": results,
            "compile_s": {str(k): v for k, v in compiled.items()},
            "brian2_data_s": made,
        }
        if results:
            rows.append([name, *summary(results)])
        with open(args.json, "w") as f:  # after every set: a crash later keeps what was measured
            json.dump(report, f, indent=1, default=float)
        if name == "spikes" and not args.no_before:
            before, _ = run_jaxiaf(problems, target, seeds, BEFORE)
            report["sets"]["spikes/before"] = {"fits": before}
            rows.append(["spikes, former defaults (pop 32 x 100 gen.)", *summary(before)])
            solved = [(b["problem"], b["seed"]) for b in before if b["recovered"]]
            pick = lambda rs: [r["wall_s"] for r in rs if (r["problem"], r["seed"]) in solved]
            if results:
                lines.append(
                    f"On the {len(solved)} (problem, seed) pairs the former defaults solve: median wall "
                    f"{np.median(pick(results)):.2f} s now vs {np.median(pick(before)):.2f} s before."
                )
            with open(args.json, "w") as f:
                json.dump(report, f, indent=1, default=float)
        if name == "spikes" and args.b2mf:
            b2 = run_b2mf(problems[: args.b2mf], 0, args.b2mf_rounds)
            report["sets"]["spikes/brian2modelfitting"] = {"fits": b2}
            mine = [r for r in results if r["problem"] < args.b2mf and r["seed"] == 0]
            rows.append([f"spikes, problems 0-{args.b2mf - 1}, seed 0: jaxiaf", *summary(mine)])
            rows.append([f"same: brian2modelfitting ({args.b2mf_rounds} rounds x 30)", *summary(b2)])
    lines.insert(1, table(header, rows))
    compile_times = [v for s in report["sets"].values() for v in s.get("compile_s", {}).values()]
    lines.append("")
    lines.append(
        f"compile (first fit of each trial count, apart): median {np.median(compile_times):.2f} s, "
        f"max {max(compile_times):.2f} s"
    )
    with open(args.json, "w") as f:
        json.dump(report, f, indent=1, default=float)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
