#!/usr/bin/env python
"""Sweeps and one layer on a GPU, against the same machine's CPU cores in the same run.

Workloads (all `jaxiaf.sweep` counts only unless noted; input (T, N_in) shared by all sets):

- (b) 256 sets x 100 neurons x T=10^4, per-set `bias` and `tau_mem` (as `bench_sweep.py`), counts and
  full raster;
- (L) 10^4 sets x 100 neurons x T=10^4 (the bounded-memory workload of `bench_bounded.py`), counts;
- (a) one layer, N=1000, N_in=100, T=10^4, `mod(x)` with its full raster.

Each runs with `rk4` and `exact`, float32 and float64, on the GPU and on all CPU cores of the same host
(one JAX CPU device per core, batch sharded), and on the GPU again with `unroll=16` (16 steps per
iteration of the compiled loop), each configuration in its own worker process. Spike counts
of every configuration are compared with the CPU float64 run (Brian2-exact, see `tests/test_parity.py`).
Brian2 is not needed (the device machine has none); the Brian2 anchors are in `bench_sweep.py`.

    python benchmarks/bench_gpu.py            # about 3 minutes with a GPU
    python benchmarks/bench_gpu.py --quick    # T = 1000, a smoke test (CPU only if there is no GPU)
"""

import argparse
import functools
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np
from _common import emit, fmt_ratio, fmt_s, run_worker, setup_jax_env, steady, sweep_workload, table

N, N_IN = 100, 100
INTEGRATORS = ("rk4", "exact")


def cases(num_steps):
    """(name, sets, neurons, steps, outputs) of each workload."""
    return [
        ("(b) counts", 256, N, num_steps, "counts"),
        ("(b) raster", 256, N, num_steps, "spikes"),
        ("(L) counts", 10_000, N, num_steps, "counts"),
        ("(a) layer", 1, 1000, num_steps, "layer"),
    ]


def workload(sets, neurons, num_steps):
    return sweep_workload(sets, neurons, N_IN, num_steps)


def worker(platform, precision, num_steps, outdir, unroll):
    if platform == "cpu":
        setup_jax_env(devices=os.cpu_count() or 1, x64=precision == "f64")
    else:
        os.environ["JAX_PLATFORMS"] = f"{platform},cpu"  # float64 constants are computed on the host
        os.environ["JAX_ENABLE_X64"] = "1" if precision == "f64" else "0"
    import jax
    import jax.numpy as jnp

    import jaxiaf

    dtype = jnp.float64 if precision == "f64" else jnp.float32
    res = {"devices": len(jax.devices()), "kind": jax.devices()[0].device_kind, "jax": jax.__version__}
    res["cases"] = {}
    for name, sets, neurons, steps, out in cases(num_steps):
        weights, x, bias, tau = workload(sets, neurons, steps)
        for integ in INTEGRATORS:
            mod = jaxiaf.FFIAF(weights, integrator_name=integ)
            if out == "layer" and unroll == 1:
                xs = jnp.asarray(x, dtype)

                def call():
                    return jax.block_until_ready(mod(xs)[0])

            elif out == "layer":  # the module's call has no `unroll`: the core on the same currents
                mm = functools.partial(jnp.matmul, precision=jax.lax.Precision.HIGHEST)  # as mod(x): no TF32
                run = jax.jit(
                    lambda m, xs: jaxiaf.evolve(
                        m.params, m.sim, m.neuron_state, mm(xs, m.params.weights), unroll=unroll
                    )[0]
                )
                xs = jnp.asarray(x, dtype)

                def call():
                    return jax.block_until_ready(run(mod, xs))

            else:

                def call():
                    batch = {"bias": bias, "tau_mem": tau}
                    r = jaxiaf.sweep(mod, batch, x, outputs=(out,), dtype=dtype, unroll=unroll)
                    return jax.block_until_ready(r.counts if out == "counts" else r.spikes)

            repeats = 1 if sets * neurons * steps > 1e9 and platform == "cpu" else 3
            first, best, median, r = steady(call, repeats=repeats, min_total=0.5)
            counts = np.asarray(r).sum(axis=-2) if r.dtype == bool else np.asarray(r)
            np.save(
                os.path.join(outdir, f"{platform}{unroll}_{precision}_{name[:3]}{out}_{integ}.npy"), counts
            )
            res["cases"][f"{name}/{integ}"] = {"first": first, "steady": best, "median": median}
            print(
                f"  {platform} x{unroll} {precision} {name} {integ}: {best:.4f} s (first {first:.2f} s)",
                flush=True,
            )
            del r
    emit(res)


def has_gpu() -> bool:
    try:
        import subprocess

        return subprocess.run(["nvidia-smi", "-L"], capture_output=True).returncode == 0
    except FileNotFoundError:
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="T = 1000 instead of 10^4")
    ap.add_argument("--steps", type=int, default=None, help="T (default 10^4, 1000 with --quick)")
    ap.add_argument("--out", default=None, help="also write the report (Markdown) to this file")
    args = ap.parse_args()
    num_steps = args.steps or (1000 if args.quick else 10_000)
    gpu = has_gpu()
    platforms = (["cuda"] if gpu else []) + ["cpu"]
    # (platform, unroll): every platform as the library runs by default, and the GPU with an unrolled loop
    configs = [(p, 1) for p in platforms] + [("cuda" if gpu else "cpu", 16)]
    t0 = time.perf_counter()
    results, counts = {}, {}
    with tempfile.TemporaryDirectory(prefix="jaxiaf_gpu_") as tmp:
        for platform, unroll in configs:
            for precision in ("f32", "f64"):
                print(f"worker {platform} unroll={unroll} {precision} ...", flush=True)
                args_ = [platform, precision, num_steps, tmp, unroll]
                results[(platform, unroll, precision)] = run_worker("bench_gpu.py", args_, timeout=1200)
        for f in os.listdir(tmp):
            counts[f[:-4]] = np.load(os.path.join(tmp, f))
    lines = [f"## GPU vs CPU cores of one host, T={num_steps}\n"]
    for (platform, unroll, precision), r in results.items():
        lines.append(
            f"- {platform} unroll={unroll} {precision}: {r['devices']} x {r['kind']}, jax {r['jax']}"
        )
    lines.append("")
    label = lambda p, u, q: f"{'GPU' if p == 'cuda' else 'CPU'}{f' unroll={u}' if u > 1 else ''} {q}"
    header = ["workload", "integrator", "neuron-steps"]
    for p, u in configs:
        for q in ("f32", "f64"):
            header += [label(p, u, q), "n-steps/s"]
    if gpu:
        header += ["GPU f32 / CPU f32", "GPU unroll=16 f32 / CPU f32"]
    header += ["spike counts = CPU f64"]
    rows = []
    for name, sets, neurons, steps, out in cases(num_steps):
        ns = sets * neurons * steps
        for integ in INTEGRATORS:
            key = f"{name}/{integ}"
            row = [name, integ, f"{ns:.1e}"]
            for p, u in configs:
                for q in ("f32", "f64"):
                    t = results[(p, u, q)]["cases"][key]["steady"]
                    row += [fmt_s(t), f"{ns / t:.2e}"]
            if gpu:
                c = results[("cpu", 1, "f32")]["cases"][key]["steady"]
                row.append(fmt_ratio(c / results[("cuda", 1, "f32")]["cases"][key]["steady"]))
                row.append(fmt_ratio(c / results[("cuda", 16, "f32")]["cases"][key]["steady"]))
            ref = counts[f"cpu1_f64_{name[:3]}{out}_{integ}"]
            same = []
            for p, u in configs:
                for q in ("f32", "f64"):
                    c = counts[f"{p}{u}_{q}_{name[:3]}{out}_{integ}"]
                    same.append(f"{label(p, u, q)} {np.mean(c == ref) * 100:.2f} %")
            row.append("; ".join(same))
            rows.append(row)
    lines.append(table(header, rows))
    lines.append("")
    first = [
        [label(p, u, q), fmt_s(results[(p, u, q)]["cases"]["(b) counts/rk4"]["first"])]
        for p, u in configs
        for q in ("f32", "f64")
    ]
    lines.append(table(["configuration", "(b) counts rk4 first call (trace + compile + run)"], first))
    lines.append(f"\nScript wall time {time.perf_counter() - t0:.0f} s.")
    report = "\n".join(lines)
    print(report)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(report + "\n")
        with open(args.out + ".json", "w") as fh:
            json.dump({f"{p}/{u}/{q}": r for (p, u, q), r in results.items()}, fh)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], int(sys.argv[6]))
    else:
        main()
