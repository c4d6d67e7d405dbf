#!/usr/bin/env python
"""Workload (a): one layer, N = 1000 neurons, N_in = 100 inputs, T = 10^4 steps, rk4 and exact; the
output is the full (T, N) spike raster.

jaxiaf, float32 and (in a separate process) float64:
- `mod(x)`: the module's call on one CPU device (what a user writes; `mod` is an `FFIAF`);
- `sweep` split: the same layer as 2 halves of 500 neurons (`weights` swept, shape (2, N_in, 500)), so
  `jaxiaf.sweep` shards them over the 2 CPU devices (one per core); the raster is reassembled.
Anchors in the same run: Brian2 numpy, cython, cpp_standalone (1 thread; and OpenMP on all cores) with a
recording SpikeMonitor (the layer of `brian_ref.FFIAFBrian2` without its v StateMonitor).

Like for like: Brian2's run starts from currents that `brian_ref` computes with NumPy (`x @ weights`)
before it, while `mod(x)` includes that matmul. So `mod(x)` is compared with Brian2's run plus the NumPy
matmul (the "+ NumPy `x @ weights`" rows, the matmul timed alone in the same run, best of 5), and the core
alone, `evolve(currents)`, with Brian2's run alone.

    .venv/bin/python benchmarks/bench_layer.py            # about 2-3 minutes
    .venv/bin/python benchmarks/bench_layer.py --quick    # T = 1000
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
    fmt_ratio,
    machine_header,
    quiet_summary,
    results_table,
    run_worker,
    setup_jax_env,
    steady,
    table,
    wait_for_quiet,
)

N, N_IN = 1000, 100
INTEGRATORS = ("rk4", "exact")


def workload(num_steps):
    rng = np.random.default_rng(1)
    weights = rng.normal(0.0, 0.01, (N_IN, N))
    x = rng.normal(0.5, 1.0, (num_steps, N_IN))
    return weights, x


def worker(precision, num_steps, outdir):
    setup_jax_env(devices=os.cpu_count() or 1, x64=precision == "f64")
    import jax
    import jax.numpy as jnp

    import jaxiaf
    from jaxiaf._sweep.sweep import sweep

    weights, x = workload(num_steps)
    dtype = jnp.float64 if precision == "f64" else jnp.float32
    res = {"devices": len(jax.devices()), "cases": {}}
    halves = np.stack([weights[:, : N // 2], weights[:, N // 2 :]])  # (2, N_in, N/2)
    for integ in INTEGRATORS:
        mod = jaxiaf.FFIAF(weights, integrator_name=integ)

        def call():
            return jax.block_until_ready(mod(x)[0])

        first, best, median, spikes = steady(call, repeats=5, min_total=2.0)
        np.save(os.path.join(outdir, f"jax_{precision}_{integ}.npy"), np.asarray(spikes))
        res["cases"][f"{integ}/call"] = {"first": first, "steady": best, "median": median}

        # The pure core on precomputed currents: the work Brian2's `Network.run` does (brian_ref computes
        # `x @ weights` with NumPy before the run).
        currents = jnp.asarray(x @ weights, dtype)

        def core():
            return jax.block_until_ready(jaxiaf.evolve(mod.params, mod.sim, mod.neuron_state, currents)[0])

        wait_for_quiet(log=lambda *a: None)
        first, best, median, spikes3 = steady(core, repeats=5, min_total=2.0)
        np.save(os.path.join(outdir, f"jax_{precision}_{integ}_core.npy"), np.asarray(spikes3))
        res["cases"][f"{integ}/core"] = {"first": first, "steady": best, "median": median}

        half = jaxiaf.FFIAF(halves[0], integrator_name=integ)

        def split():
            r = sweep(half, {"weights": halves}, x, outputs=("spikes",), dtype=dtype)
            return jax.block_until_ready(jnp.concatenate([r.spikes[0], r.spikes[1]], axis=1))

        wait_for_quiet(log=lambda *a: None)
        first, best, median, spikes2 = steady(split, repeats=5, min_total=2.0)
        np.save(os.path.join(outdir, f"jax_{precision}_{integ}_split.npy"), np.asarray(spikes2))
        res["cases"][f"{integ}/split"] = {"first": first, "steady": best, "median": median}
    emit(res)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="T = 1000 instead of 10^4")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--targets", default="numpy,cython,cpp_standalone,cpp_standalone_mt")
    args = ap.parse_args()
    num_steps = args.steps or (1000 if args.quick else 10_000)
    ns = N * num_steps
    t_script = time.perf_counter()
    print(f"## (a) one layer: N={N}, N_in={N_IN}, T={num_steps}, full raster\n")
    print(machine_header())
    print(f"Load average at start: {open('/proc/loadavg').read().split()[:3]}\n", flush=True)
    rows = {integ: [] for integ in INTEGRATORS}
    with tempfile.TemporaryDirectory(prefix="jaxiaf_bench_") as tmp:
        for precision in ("f32", "f64"):
            wait_for_quiet()
            print(f"  jaxiaf {precision} worker ...", flush=True)
            res = run_worker("bench_layer.py", [precision, num_steps, tmp])
            name = "float32" if precision == "f32" else "float64"
            for integ in INTEGRATORS:
                labels = {
                    "call": f"jaxiaf {name}, `mod(x)` (1 device)",
                    "split": f"jaxiaf {name}, `mod(x)` as 2 halves via `sweep` ({res['devices']} devices)",
                    "core": f"jaxiaf {name}, `evolve(currents)` (1 device)",
                }
                suffix = {"call": "", "split": "_split", "core": "_core"}
                for kind in ("call", "split", "core"):
                    c = res["cases"][f"{integ}/{kind}"]
                    c["raster"] = np.load(os.path.join(tmp, f"jax_{precision}_{integ}{suffix[kind]}.npy"))
                    rows[integ].append((labels[kind], c))
                    print(
                        f"  jaxiaf {precision} {integ} {kind}: steady {c['steady']:.4f} s "
                        f"(median {c['median']:.4f} s), first call {c['first']:.2f} s",
                        flush=True,
                    )
        weights, x = workload(num_steps)
        currents = x @ weights
        matmul = min(_timed(lambda: x @ weights) for _ in range(5))
        print(f"  NumPy x @ weights: {matmul * 1e3:.1f} ms", flush=True)
        channel = np.arange(N)
        from _anchors import brian_case

        for name in [t.strip() for t in args.targets.split(",") if t.strip()]:
            target, threads = ("cpp_standalone", os.cpu_count()) if name == "cpp_standalone_mt" else (name, 0)
            label = f"Brian2 {target}" + (f" (OpenMP, {threads} threads)" if threads else "")
            for integ in INTEGRATORS:
                wait_for_quiet()
                r = brian_case(
                    label,
                    target,
                    threads,
                    currents,
                    channel,
                    bias=0.01,
                    tau_mem=0.02,
                    integrator=integ,
                    raster=True,
                )
                raster = np.zeros((num_steps, N), bool)
                raster[r["spikes"][0], r["spikes"][1]] = True
                r["raster"] = raster
                rows[integ].append((label, r))
                if target == "cpp_standalone" and not threads:
                    both = {"steady": r["steady"] + matmul, "first": None, "raster": None}
                    rows[integ].append((f"{label} + NumPy `x @ weights`", both))
    print(
        f"\nLoad average at end: {open('/proc/loadavg').read().split()[:3]}; "
        f"script wall time {time.perf_counter() - t_script:.0f} s"
    )
    print(quiet_summary() + "\n")
    report(rows, ns, num_steps)


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def report(rows, ns, num_steps):
    summary = []
    for integ, items in rows.items():
        by = dict(items)
        ref = by["jaxiaf float64, `mod(x)` (1 device)"]["raster"]

        def same(r):
            if r.get("raster") is None:
                return "-"
            return f"{np.mean((r['raster'] == ref).all(axis=0)) * 100:.1f} %"

        print(f"### (a) {integ}: N={N}, N_in={N_IN}, T={num_steps}, raster\n")
        print(results_table(items, ns, compare=same, compare_name="spike trains = jaxiaf f64"))
        print()
        cpp = by.get("Brian2 cpp_standalone")
        if cpp is not None:
            cells = [integ]
            for label in (
                "jaxiaf float32, `mod(x)` (1 device)",
                "jaxiaf float32, `evolve(currents)` (1 device)",
                next(k for k in by if k.startswith("jaxiaf float32, `mod(x)` as 2 halves")),
                "jaxiaf float64, `mod(x)` (1 device)",
            ):
                cells.append(fmt_ratio(cpp["steady"] / by[label]["steady"]))
            best = max(
                cpp["steady"] / by[label]["steady"] for label in by if label.startswith("jaxiaf float32")
            )
            cells.append(("met" if best >= 3 else "missed") + f" (best {fmt_ratio(best)})")
            both = by["Brian2 cpp_standalone + NumPy `x @ weights`"]["steady"]
            cells.insert(2, fmt_ratio(both / by["jaxiaf float32, `mod(x)` (1 device)"]["steady"]))
            summary.append(cells)
    if summary:
        print("### Target (a): >= 3x Brian2 cpp_standalone (1 thread), same run\n")
        print(
            table(
                [
                    "integrator",
                    "f32 `mod(x)` / Brian2 run",
                    "f32 `mod(x)` / (Brian2 run + NumPy matmul): like for like",
                    "f32 `evolve(currents)` / Brian2 run: like for like",
                    "f32 2 halves, 2 devices",
                    "f64 `mod(x)`",
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
