#!/usr/bin/env python
"""Workload (b): 256 parameter sets x 100 neurons x T = 10^4 steps, each set with its own `bias` and
`tau_mem`, input (T, 100) shared by all sets (100 input channels); counts only, and the full raster.

jaxiaf: `jaxiaf.sweep(..., dtype=float32)` on all cores (one JAX CPU device per core) and, in a separate
process, `dtype=float64`. Anchors in the same run: Brian2 numpy, cython and cpp_standalone (one thread,
Brian2's default, and OpenMP over all cores): the same 25600 neurons in one NeuronGroup, with a counting
(`record=False`) or a recording `SpikeMonitor`; and the hand-written C loop `c_loop.c` (counts only).

    .venv/bin/python benchmarks/bench_sweep.py            # about 3-4 minutes
    .venv/bin/python benchmarks/bench_sweep.py --quick    # T = 1000, a smoke test
"""

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np
from _common import (
    emit,
    fmt_rate,
    fmt_ratio,
    machine_header,
    quiet_summary,
    results_table,
    run_worker,
    setup_jax_env,
    steady,
    sweep_workload,
    table,
    wait_for_quiet,
)

B, N, N_IN = 256, 100, 100
INTEGRATORS = ("rk4", "exact")
OUTPUTS = ("counts", "raster")


def workload(num_steps):
    """Deterministic: weights (N_in, N), input (T, N_in), per-set bias (B,) and tau_mem (B,)."""
    return sweep_workload(B, N, N_IN, num_steps)


# ------------------------------------------------------------------------------------------- JAX worker
def worker(precision, num_steps, outdir):
    setup_jax_env(devices=os.cpu_count() or 1, x64=precision == "f64")
    import jax
    import jax.numpy as jnp

    import jaxiaf
    from jaxiaf._sweep.sweep import sweep

    dtype = jnp.float64 if precision == "f64" else jnp.float32
    weights, x, bias, tau = workload(num_steps)
    res = {"devices": len(jax.devices()), "jax": jax.__version__, "cases": {}}
    for integ in INTEGRATORS:
        mod = jaxiaf.FFIAF(weights, integrator_name=integ)
        for out in OUTPUTS:
            outputs = ("counts",) if out == "counts" else ("spikes",)

            def call():
                r = sweep(mod, {"bias": bias, "tau_mem": tau}, x, outputs=outputs, dtype=dtype)
                return jax.block_until_ready(r)

            wait_for_quiet(log=lambda *a: None)
            first, best, median, r = steady(call, repeats=3, min_total=2.0)
            counts = np.asarray(r.counts if out == "counts" else r.spikes.sum(axis=1))
            np.save(os.path.join(outdir, f"jax_{precision}_{integ}_{out}.npy"), counts)
            res["cases"][f"{integ}/{out}"] = {"first": first, "steady": best, "median": median}
            del r
    emit(res)


# ------------------------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="T = 1000 instead of 10^4")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument(
        "--targets",
        default="numpy,cython,cpp_standalone,cpp_standalone_mt",
        help="Brian2 anchors to run (comma-separated; cpp_standalone_mt = OpenMP on all cores)",
    )
    ap.add_argument(
        "--numpy-steps",
        type=int,
        default=None,
        help="run Brian2 numpy for fewer steps and scale linearly (default: all steps)",
    )
    ap.add_argument("--no-c", action="store_true", help="skip the hand-written C loop")
    args = ap.parse_args()
    num_steps = args.steps or (1000 if args.quick else 10_000)
    ns = B * N * num_steps
    t_script = time.perf_counter()
    print(f"## (b) sweep: {B} sets x {N} neurons x T={num_steps}, N_in={N_IN}\n")
    print(machine_header())
    print(f"Load average at start: {open('/proc/loadavg').read().split()[:3]}\n", flush=True)

    with tempfile.TemporaryDirectory(prefix="jaxiaf_bench_") as tmp:
        rows, ref = _jax_rows(num_steps, tmp)
        _brian_rows(rows, args, num_steps)
        if not args.no_c:
            _c_rows(rows, num_steps, tmp)

    print(
        f"\nLoad average at end: {open('/proc/loadavg').read().split()[:3]}; "
        f"script wall time {time.perf_counter() - t_script:.0f} s"
    )
    print(quiet_summary() + "\n")
    report(rows, ref, ns, num_steps)


def _jax_rows(num_steps, tmp):
    """jaxiaf's float32 and float64 workers: `(rows, ref)`, the table rows per (integrator, output) and
    the float64 counts every other row is compared with."""
    jax_res, rows, ref = {}, {}, {}  # rows: (integ, out) -> list of (label, dict)
    for precision in ("f32", "f64"):
        wait_for_quiet()
        print(f"  jaxiaf {precision} worker ...", flush=True)
        jax_res[precision] = run_worker("bench_sweep.py", [precision, num_steps, tmp])
        for key, c in jax_res[precision]["cases"].items():
            print(
                f"  jaxiaf {precision} {key}: steady {c['steady']:.3f} s (median {c['median']:.3f} s), "
                f"first call {c['first']:.2f} s",
                flush=True,
            )
    for integ in INTEGRATORS:
        for out in OUTPUTS:
            rows[(integ, out)] = []
            for precision in ("f32", "f64"):
                c = jax_res[precision]["cases"][f"{integ}/{out}"]
                c["counts"] = np.load(os.path.join(tmp, f"jax_{precision}_{integ}_{out}.npy")).reshape(-1)
                d = jax_res[precision]["devices"]
                name = "float32" if precision == "f32" else "float64"
                rows[(integ, out)].append((f"jaxiaf {name} ({d} CPU device{'s' if d > 1 else ''})", c))
            ref[(integ, out)] = rows[(integ, out)][1][1]["counts"]
    return rows, ref


def _brian_rows(rows, args, num_steps):
    """Brian2's anchors (`--targets`) on the same currents, appended to `rows`."""
    from _anchors import brian_case

    weights, x, bias, tau = workload(num_steps)
    currents = x @ weights
    channel = np.tile(np.arange(N), B)
    bias_n, tau_n = np.repeat(bias, N), np.repeat(tau, N)
    for name in [t.strip() for t in args.targets.split(",") if t.strip()]:
        target, threads = ("cpp_standalone", os.cpu_count()) if name == "cpp_standalone_mt" else (name, 0)
        label = f"Brian2 {target}" + (f" (OpenMP, {threads} threads)" if threads else "")
        for integ in INTEGRATORS:
            for out in OUTPUTS:
                steps = num_steps
                if target == "numpy" and args.numpy_steps:
                    steps = min(args.numpy_steps, num_steps)
                wait_for_quiet()
                r = brian_case(
                    label, target, threads, currents[:steps], channel, bias=bias_n, tau_mem=tau_n,
                    integrator=integ, raster=out == "raster",
                )  # fmt: skip
                if steps != num_steps:
                    r["steady"] *= num_steps / steps
                    r["first"] = None
                    r["label"] = label + f" (T={steps}, scaled)"
                    r["counts"] = None
                rows[(integ, out)].append((r["label"], r))


def _c_rows(rows, num_steps, tmp):
    """The hand-written C loop (`c_loop.c`) on 1 thread and on every core, appended to the counts rows."""
    from _anchors import build_c_loop, c_loop

    exe = build_c_loop(tmp)
    if exe is None:
        return
    for integ in INTEGRATORS:
        for threads in sorted({1, os.cpu_count() or 1}):
            wait_for_quiet()
            t = c_loop(exe, integ, B, N, num_steps, threads)
            label = f"hand-written C loop ({threads} thread{'s' if threads > 1 else ''})"
            rows[(integ, "counts")].append((label, {"steady": t, "first": None, "counts": None}))
            print(f"  C loop {integ} {threads} threads: {t:.3f} s", flush=True)


def report(rows, ref, ns, num_steps):
    summary = []
    for (integ, out), items in rows.items():

        def same(r):
            if r.get("counts") is None or ref.get((integ, out)) is None:
                return "-"
            return f"{np.mean(r['counts'] == ref[(integ, out)]) * 100:.2f} %"

        what = "counts only" if out == "counts" else "full raster"
        print(f"### (b) {integ}, {what}: {B} sets x {N} neurons x T={num_steps}\n")
        print(results_table(items, ns, compare=same, compare_name="spike counts = jaxiaf f64"))
        print()
        by = dict(items)
        cpp = by.get("Brian2 cpp_standalone")
        f32 = next(r for label, r in items if label.startswith("jaxiaf float32"))
        f64 = next(r for label, r in items if label.startswith("jaxiaf float64"))
        if cpp is not None:
            ratio = cpp["steady"] / f32["steady"]
            ok = ratio >= 10 and (out != "counts" or ns / f32["steady"] >= 1.5e9)
            summary.append(
                [
                    f"{integ}, {what}",
                    fmt_ratio(ratio),
                    fmt_ratio(cpp["steady"] / f64["steady"]),
                    fmt_rate(ns / f32["steady"]),
                    "met" if ok else "missed",
                ]
            )
    if summary:
        print("### Target (b): >= 10x Brian2 cpp_standalone (1 thread), >= 1.5e9 neuron-steps/s (counts)\n")
        print(
            table(
                [
                    "case",
                    "jaxiaf f32 / cpp_standalone",
                    "jaxiaf f64 / cpp_standalone",
                    "jaxiaf f32 neuron-steps/s",
                    "target",
                ],
                summary,
            )
        )
        print()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        main()
