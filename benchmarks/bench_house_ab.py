#!/usr/bin/env python
"""The default path's speed at two revisions (A/B): before/after the package's restructuring into
subpackages (the default `--base-rev`), and before/after the one-representation loop
(`benchmarks/README.md` gives the revisions of each table).

Two git worktrees of this repository, the baseline (`--base-rev`, default 38300df, the last commit
before the move into `_core/`, `_equations/`, ...) and the head (`--head-rev`, default `HEAD`), each
timed by this script's worker in fresh processes with `PYTHONPATH` pointing at the tree (the worker
checks `jaxiaf.__file__`), same venv, same input. Processes alternate between the trees, the order
swapped every round (ABBA...), for `--rounds` rounds; tables give medians over the rounds and the
head/base ratio. Each worker runs one precision (float32 = x64 off, or float64), one device per core:

- (c) cold: the first `mod(x)` of workload (a), rk4, in the fresh process (trace + compile + run),
  persistent compilation cache off on both sides (`JAXIAF_CACHE_DIR=0`, no JAX cache directory);
  "exact first" is the first `exact` call after rk4's (so JAX itself is already warm);
- (a) eager `mod(x)`: `jaxiaf.FFIAF`, 1000 neurons, 100 inputs, T = 10^4 steps, full raster, warm:
  the median of calls 2-5;
- (b) `jaxiaf.sweep`: 256 sets (`bias`, `tau_mem`) x 100 neurons x T = 10^4, counts only, both devices,
  median of calls 2-5.

The busy fraction of the CPUs used by other processes (from /proc/stat) and the load average are
recorded before each worker. Every call is timed by the wall clock and by the process's CPU time (all
threads): on a machine shared with other processes the wall time also measures the wait for a CPU, the
CPU time much less so; the script prints a table of each.

    .venv/bin/python benchmarks/bench_house_ab.py             # 5 rounds: about 4 minutes on 2 loaded cores
    .venv/bin/python benchmarks/bench_house_ab.py --rounds 1 --steps 1000   # a smoke test

Writes the raw results (both SHAs, threads, devices, machine, every measurement) to `--json` (default
`benchmarks/results/house_ab.json`) and prints a Markdown table.
"""

import argparse
import faulthandler
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np
from _common import ROOT, cpu_busy, emit, machine_header, setup_jax_env, sweep_workload, table, versions

N_A, N_IN, B, N_B = 1000, 100, 256, 100
INTEGRATORS = ("rk4", "exact")
WARM_CALLS = 4  # calls 2-5
HANG_S = 240.0


def layer_workload(num_steps: int):
    """Workload (a): weights (N_in, N), input (T, N_in), as bench_layer.py."""
    rng = np.random.default_rng(1)
    return rng.normal(0.0, 0.01, (N_IN, N_A)), rng.normal(0.5, 1.0, (num_steps, N_IN))


def _clocks():
    """(wall, CPU) seconds: the CPU time is the process's, all threads (XLA's included)."""
    return np.array([time.perf_counter(), time.process_time()])


def timed_calls(call):
    """`(first, warm, out)`: the first call's `{"first", "first_cpu"}` seconds (wall and CPU), calls
    2..WARM_CALLS+1's `{"warm", "warm_cpu"}` lists, and the last result."""
    faulthandler.dump_traceback_later(HANG_S, exit=True)
    try:
        t0 = _clocks()
        out = call()
        first = _clocks() - t0
        warm = []
        for _ in range(WARM_CALLS):
            t0 = _clocks()
            out = call()
            warm.append(_clocks() - t0)
    finally:
        faulthandler.cancel_dump_traceback_later()
    times = {"first": first[0], "first_cpu": first[1]}
    return times, {"warm": [w[0] for w in warm], "warm_cpu": [w[1] for w in warm]}, out


def worker(precision: str, num_steps: int, expect_root: str) -> None:
    setup_jax_env(devices=os.cpu_count() or 1, x64=precision == "f64")
    import jax
    import jax.numpy as jnp

    import jaxiaf

    assert os.path.realpath(jaxiaf.__file__).startswith(os.path.realpath(expect_root)), jaxiaf.__file__
    dtype = jnp.float64 if precision == "f64" else jnp.float32
    res = {"jaxiaf": jaxiaf.__file__, "devices": [str(d) for d in jax.devices()], "cases": {}}
    weights, x = layer_workload(num_steps)
    for integ in INTEGRATORS:
        mod = jaxiaf.FFIAF(weights, integrator_name=integ)
        assert mod.neuron_state.v.dtype == dtype, (mod.neuron_state.v.dtype, dtype)
        first, warm, out = timed_calls(lambda mod=mod: jax.block_until_ready(mod(x)[0]))
        res["cases"][f"a/{integ}"] = {**first, **warm, "spikes": int(np.asarray(out).sum())}
    weights, x, bias, tau = sweep_workload(B, N_B, N_IN, num_steps)
    for integ in INTEGRATORS:
        mod = jaxiaf.FFIAF(weights, integrator_name=integ)

        def call(mod=mod):
            r = jaxiaf.sweep(mod, {"bias": bias, "tau_mem": tau}, x, outputs=("counts",), dtype=dtype)
            return jax.block_until_ready(r.counts)

        first, warm, out = timed_calls(call)
        res["cases"][f"b/{integ}"] = {**first, **warm, "spikes": int(np.asarray(out).sum())}
    emit(res)


def git(*args, cwd=ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def ensure_worktree(path: str, rev: str) -> str:
    sha = git("rev-parse", rev)
    if not os.path.isdir(path):
        git("worktree", "add", "--detach", path, sha)
    elif git("rev-parse", "HEAD", cwd=path) != sha:
        git("checkout", "--detach", sha, cwd=path)  # a worktree left by an earlier run
    assert git("rev-parse", "HEAD", cwd=path) == sha, (path, sha)
    return sha


def run_worker(tree: str, precision: str, num_steps: int) -> dict:
    env = {**os.environ, "PYTHONPATH": tree, "JAXIAF_CACHE_DIR": "0"}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", precision, str(num_steps), tree]
    for attempt in range(2):
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=tree, env=env, timeout=900)
        if done.returncode == 0:
            return json.loads([ln for ln in done.stdout.splitlines() if ln.startswith("{")][-1])
        sys.stderr.write(f"worker {cmd} failed (attempt {attempt + 1}):\n{done.stderr[-3000:]}\n")
    raise RuntimeError(f"worker {cmd} failed twice")


def summarize(runs: list, clock: str = "") -> list:
    """Rows: (precision, case, base median, head median, head/base, per-round ratios) of wall times, or
    with `clock="_cpu"` of the processes' CPU times."""
    rows = []
    for precision in ("f32", "f64"):
        for case in ("c/rk4", "c/exact", "a/rk4", "a/exact", "b/rk4", "b/exact"):
            kind, integ = case.split("/")
            src, metric = (f"a/{integ}", "first") if kind == "c" else (case, "warm")
            per = {"base": [], "head": []}
            for r in runs:
                if r["precision"] == precision:
                    times = r["result"]["cases"][src][metric + clock]
                    per[r["tree"]].append(times if metric == "first" else float(np.median(times)))
            b, h = float(np.median(per["base"])), float(np.median(per["head"]))
            ratios = [hh / bb for hh, bb in zip(per["head"], per["base"], strict=True)]
            rows.append((precision, case, b, h, h / b, ratios))
    return rows


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--worker", nargs=3)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=10_000)
    p.add_argument("--base-rev", default="38300df")
    p.add_argument("--head-rev", default="HEAD")
    p.add_argument("--base", default="/tmp/base")
    p.add_argument("--head", default="/tmp/head")
    p.add_argument("--json", default=str(ROOT / "benchmarks/results/house_ab.json"))
    args = p.parse_args()
    if args.worker:
        precision, steps, root = args.worker
        return worker(precision, int(steps), root)
    shas = {
        "base": ensure_worktree(args.base, args.base_rev),
        "head": ensure_worktree(args.head, args.head_rev),
    }
    trees = {"base": args.base, "head": args.head}
    report = {"shas": shas, "versions": versions(), "machine": machine_header(), "nproc": os.cpu_count(),
              "steps": args.steps, "cache": "off on both sides (JAXIAF_CACHE_DIR=0)", "runs": []}  # fmt: skip
    t_start = time.perf_counter()
    for rnd in range(args.rounds):
        order = ("base", "head") if rnd % 2 == 0 else ("head", "base")
        for precision in ("f32", "f64"):
            for tree in order:
                busy, load = cpu_busy(0.5), os.getloadavg()[0]
                result = run_worker(trees[tree], precision, args.steps)
                run = {"round": rnd, "tree": tree, "precision": precision, "cpu_busy_before": busy}
                report["runs"].append({**run, "loadavg1_before": load, "result": result})
                a = result["cases"]["a/rk4"]
                print(f"round {rnd} {precision} {tree}: busy {busy:.0%} load {load:.1f}; a/rk4 first "
                      f"{a['first']:.2f} s warm {np.median(a['warm']):.3f} s; b/rk4 warm "
                      f"{np.median(result['cases']['b/rk4']['warm']):.3f} s "
                      f"[{time.perf_counter() - t_start:.0f} s]", flush=True)  # fmt: skip
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    keys = ("precision", "case", "base", "head", "ratio", "ratios")
    summaries = {"wall": summarize(report["runs"]), "cpu": summarize(report["runs"], "_cpu")}
    report["summary"] = [dict(zip(keys, r, strict=True)) for r in summaries["wall"]]
    report["summary_cpu"] = [dict(zip(keys, r, strict=True)) for r in summaries["cpu"]]
    with open(args.json, "w") as f:
        json.dump(report, f, indent=1)
    busy = [r["cpu_busy_before"] for r in report["runs"]]
    print(f"base {shas['base'][:7]}  head {shas['head'][:7]}  {args.rounds} rounds; other processes' CPU "
          f"before each worker: median {np.median(busy):.0%}, max {max(busy):.0%}")  # fmt: skip
    header = ["precision", "row", "base (median)", "head (median)", "head/base", "per-round head/base"]
    for clock, rows in summaries.items():
        print(f"\n{clock} time")
        print(table(header, [(pr, c, f"{b:.3f} s", f"{h:.3f} s", f"{q:.3f}", " ".join(f"{x:.2f}" for x in rs))
                             for pr, c, b, h, q, rs in rows]))  # fmt: skip


if __name__ == "__main__":
    main()
