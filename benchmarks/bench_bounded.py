#!/usr/bin/env python
"""The full-size bounded-memory case of the tests: B = 10^4 parameter sets x N = 100 neurons x T = 10^4
steps (10^10 neuron-steps), counts only, with `jaxiaf.sweep(..., chunk_size=...)`. Its raster would take
10 GB (bool); the counts take 4 MB. Reports time, neuron-steps/s and the peak RSS of the process that ran
it. Anchor: Brian2 cpp_standalone (one NeuronGroup of 10^6 neurons, counting SpikeMonitor), its simulation
time and the peak RSS of its binary.

    .venv/bin/python benchmarks/bench_bounded.py                    # about 5 minutes
    .venv/bin/python benchmarks/bench_bounded.py --no-brian --no-f64  # jaxiaf float32 only, about 30 s
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
    fmt_s,
    machine_header,
    peak_rss_mb,
    quiet_summary,
    run_worker,
    setup_jax_env,
    sweep_workload,
    table,
    vm_hwm_mb,
    wait_for_quiet,
)

B, N, N_IN, T = 10_000, 100, 10, 10_000


def workload(num_sets, num_steps):
    return sweep_workload(num_sets, N, N_IN, num_steps, seed=3)


def worker(precision, integrator, num_sets, num_steps, chunk):
    setup_jax_env(devices=os.cpu_count() or 1, x64=precision == "f64")
    import jax
    import jax.numpy as jnp

    import jaxiaf

    weights, x, bias, tau = workload(num_sets, num_steps)
    mod = jaxiaf.FFIAF(weights, integrator_name=integrator)
    dtype = jnp.float64 if precision == "f64" else jnp.float32
    rss0 = peak_rss_mb()
    t0 = time.perf_counter()
    res = jaxiaf.sweep(mod, {"bias": bias, "tau_mem": tau}, x, dtype=dtype, chunk_size=chunk, progress=False)
    counts = np.asarray(jax.block_until_ready(res.counts))
    elapsed = time.perf_counter() - t0
    emit(
        {
            "time": elapsed,
            "rss": peak_rss_mb(),
            "rss_before": rss0,
            "spikes": int(counts.sum()),
            "devices": len(jax.devices()),
            "shape": list(counts.shape),
        }
    )


def _child_peak_rss(stop, peak):
    """Poll the peak RSS (VmHWM) of this process's children named `main` (the cpp_standalone binary)."""
    me = os.getpid()
    while not stop.is_set():
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                stat = open(f"/proc/{pid}/stat").read()
                comm, ppid = stat.split("(", 1)[1].split(")")[0], int(stat.rsplit(")", 1)[1].split()[1])
                if ppid == me and comm == "main":
                    peak[0] = max(peak[0], vm_hwm_mb(pid))
            except (OSError, ValueError, IndexError, StopIteration):
                continue
        stop.wait(0.05)


def brian_worker(integrator, num_sets, num_steps):
    """Brian2 cpp_standalone, built and run once; the binary's peak RSS is polled while it runs."""
    import threading

    from _common import brian_run

    weights, x, bias, tau = workload(num_sets, num_steps)
    stop, peak = threading.Event(), [0.0]
    poll = threading.Thread(target=_child_peak_rss, args=(stop, peak), daemon=True)
    poll.start()
    with tempfile.TemporaryDirectory(prefix="jaxiaf_bench_cpp_") as work:
        r = brian_run(
            x @ weights,
            np.tile(np.arange(N), num_sets),
            bias=np.repeat(bias, N),
            tau_mem=np.repeat(tau, N),
            integrator=integrator,
            target="cpp_standalone",
            raster=False,
            workdir=work,
        )
    stop.set()
    poll.join()
    emit(
        {
            "time": r["sim"],
            "first": r["total"],
            "make": r["make"],
            "binary": r["binary"],
            "rss": peak[0],
            "spikes": int(r["counts"].sum()),
        }
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", type=int, default=B)
    ap.add_argument("--steps", type=int, default=T)
    ap.add_argument("--chunk", type=int, default=512, help="sets per compiled call (chunk_size)")
    ap.add_argument("--no-brian", action="store_true")
    ap.add_argument("--no-f64", action="store_true")
    args = ap.parse_args()
    ns = args.sets * N * args.steps
    t_script = time.perf_counter()
    print(
        f"## Bounded memory: {args.sets} sets x {N} neurons x T={args.steps} (N_in={N_IN}), counts only, "
        f"chunk_size={args.chunk}\n"
    )
    print(machine_header())
    print(f"Load average at start: {open('/proc/loadavg').read().split()[:3]}\n", flush=True)
    rows = {}
    for integ in ("rk4", "exact"):
        items = []
        for precision in ("f32",) + (() if args.no_f64 else ("f64",)):
            wait_for_quiet()
            r = run_worker(
                "bench_bounded.py", ["jax", precision, integ, args.sets, args.steps, args.chunk], timeout=1200
            )
            name = "float32" if precision == "f32" else "float64"
            items.append((f"jaxiaf {name} ({r['devices']} CPU device{'s' if r['devices'] > 1 else ''})", r))
            print(f"  jaxiaf {precision} {integ}: {r}", flush=True)
        if not args.no_brian:
            wait_for_quiet()
            r = run_worker("bench_bounded.py", ["brian", integ, args.sets, args.steps], timeout=1200)
            items.append(("Brian2 cpp_standalone", r))
            print(f"  Brian2 cpp_standalone {integ}: {r}", flush=True)
        rows[integ] = items
    print(
        f"\nLoad average at end: {open('/proc/loadavg').read().split()[:3]}; "
        f"script wall time {time.perf_counter() - t_script:.0f} s"
    )
    print(quiet_summary() + "\n")
    print(f"### {args.sets} x {N} x T={args.steps} = {ns:.1e} neuron-steps, counts only\n")
    body = []
    for integ, items in rows.items():
        cpp = dict(items).get("Brian2 cpp_standalone")
        for label, r in items:
            note = ""
            if label.startswith("Brian2"):
                note = (
                    f"simulation only; whole call {fmt_s(r['first'])} (g++ {fmt_s(r['make'])}); "
                    "RSS of its binary"
                )
            body.append(
                [
                    integ,
                    label,
                    fmt_s(r["time"]),
                    fmt_rate(ns / r["time"]),
                    fmt_ratio(cpp["time"] / r["time"]) if cpp else "-",
                    (f"{r['rss']:.0f} MB" if r["rss"] > 0 else "- (run too short to poll)"),
                    f"{r['spikes']:,}",
                    note,
                ]
            )
    print(
        table(
            [
                "integrator",
                "implementation",
                "time",
                "neuron-steps/s",
                "speed-up vs cpp_standalone",
                "peak RSS",
                "total spikes",
                "note",
            ],
            body,
        )
    )
    print(
        "\njaxiaf time: the whole `sweep` call (first chunk's compilation included); peak RSS of its Python "
        "process (JAX runtime included).\n"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        if sys.argv[2] == "jax":
            worker(sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]))
        else:
            brian_worker(sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        main()
