#!/usr/bin/env python
"""Sweeps and one layer on a GPU, against the same machine's CPU cores in the same run.

Workloads (all `jaxiaf.sweep` counts only unless noted; input (T, N_in) shared by all sets):

- (b) 256 sets x 100 neurons x T=10^4, per-set `bias` and `tau_mem` (as `bench_sweep.py`), counts and
  full raster;
- (L) 10^4 sets x 100 neurons x T=10^4 (the bounded-memory workload of `bench_bounded.py`), counts;
- (a) one layer, N=1000, N_in=100, T=10^4, `mod(x)` with its full raster.

Each runs with `rk4` and `exact`, float32 and float64, on the GPU and on all CPU cores of the same host
(one JAX CPU device per core, batch sharded), each configuration in its own worker process. Spike counts
of every configuration are compared with the CPU float64 run (Brian2-exact, see `tests/test_parity.py`).
Brian2 is not needed (the device machine has none); the Brian2 anchors are in `bench_sweep.py`.

    python benchmarks/bench_gpu.py            # about 3 minutes with a GPU
    python benchmarks/bench_gpu.py --quick    # T = 1000, a smoke test (CPU only if there is no GPU)
"""

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np
from _common import emit, fmt_ratio, fmt_s, run_worker, setup_jax_env, steady, table

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
    rng = np.random.default_rng(0)
    weights = rng.normal(0.0, 0.01, (N_IN, neurons))
    x = rng.normal(0.5, 1.0, (num_steps, N_IN))
    bias = rng.uniform(0.005, 0.03, sets)
    tau = np.exp(rng.uniform(np.log(0.005), np.log(0.05), sets))
    return weights, x, bias, tau


def worker(platform, precision, num_steps, outdir):
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
            if out == "layer":
                xs = jnp.asarray(x, dtype)

                def call():
                    return jax.block_until_ready(mod(xs)[0])

            else:

                def call():
                    r = jaxiaf.sweep(mod, {"bias": bias, "tau_mem": tau}, x, outputs=(out,), dtype=dtype)
                    return jax.block_until_ready(r.counts if out == "counts" else r.spikes)

            repeats = 1 if sets * neurons * steps > 1e9 and platform == "cpu" else 3
            first, best, median, r = steady(call, repeats=repeats, min_total=0.5)
            counts = np.asarray(r).sum(axis=-2) if r.dtype == bool else np.asarray(r)
            np.save(os.path.join(outdir, f"{platform}_{precision}_{name[:3]}{out}_{integ}.npy"), counts)
            res["cases"][f"{name}/{integ}"] = {"first": first, "steady": best, "median": median}
            print(f"  {platform} {precision} {name} {integ}: {best:.4f} s (first {first:.2f} s)", flush=True)
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
    ap.add_argument("--out", default=None, help="also write the report (Markdown) to this file")
    args = ap.parse_args()
    num_steps = 1000 if args.quick else 10_000
    platforms = (["cuda"] if has_gpu() else []) + ["cpu"]
    t0 = time.perf_counter()
    results, counts = {}, {}
    with tempfile.TemporaryDirectory(prefix="jaxiaf_gpu_") as tmp:
        for platform in platforms:
            for precision in ("f32", "f64"):
                print(f"worker {platform} {precision} ...", flush=True)
                r = run_worker("bench_gpu.py", [platform, precision, num_steps, tmp], timeout=1200)
                results[(platform, precision)] = r
        for f in os.listdir(tmp):
            counts[f[:-4]] = np.load(os.path.join(tmp, f))
    lines = [f"## GPU vs CPU cores of one host, T={num_steps}\n"]
    for (platform, precision), r in results.items():
        lines.append(f"- {platform} {precision}: {r['devices']} x {r['kind']}, jax {r['jax']}")
    lines.append("")
    header = ["workload", "integrator", "neuron-steps"]
    for platform in platforms:
        for precision in ("f32", "f64"):
            header += [f"{platform} {precision}", f"{platform} {precision} n-steps/s"]
    if "cuda" in platforms:
        header += ["GPU f32 / CPU f32", "GPU f64 / CPU f64"]
    header += ["counts = CPU f64"]
    rows = []
    for name, sets, neurons, steps, out in cases(num_steps):
        ns = sets * neurons * steps
        for integ in INTEGRATORS:
            key = f"{name}/{integ}"
            row = [name, integ, f"{ns:.1e}"]
            for platform in platforms:
                for precision in ("f32", "f64"):
                    t = results[(platform, precision)]["cases"][key]["steady"]
                    row += [fmt_s(t), f"{ns / t:.2e}"]
            if "cuda" in platforms:
                for precision in ("f32", "f64"):
                    c = results[("cpu", precision)]["cases"][key]["steady"]
                    g = results[("cuda", precision)]["cases"][key]["steady"]
                    row.append(fmt_ratio(c / g))
            ref = counts[f"cpu_f64_{name[:3]}{out}_{integ}"]
            same = []
            for platform in platforms:
                for precision in ("f32", "f64"):
                    c = counts[f"{platform}_{precision}_{name[:3]}{out}_{integ}"]
                    same.append(f"{platform} {precision} {np.mean(c == ref) * 100:.2f} %")
            row.append("; ".join(same))
            rows.append(row)
    lines.append(table(header, rows))
    lines.append("")
    first = [
        [f"{p} {q}", fmt_s(results[(p, q)]["cases"]["(b) counts/rk4"]["first"])]
        for p in platforms
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
            json.dump({f"{p}/{q}": r for (p, q), r in results.items()}, fh)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    else:
        main()
