#!/usr/bin/env python
"""Workload (b) through `jax.vmap`, as a user batches a layer by hand, against `jaxiaf.sweep` on the same
single CPU device and Brian2 cpp_standalone (1 thread) in the same run: 256 sets x 100 neurons x T = 10^4
steps, float32, per-set `bias` and `tau_mem`, counts only.

jaxiaf rows (one JAX CPU device, one worker process; after each call's first run, 7 rounds run every call once
in turn: steady = the best round, median = the median round; the log also gives the least CPU time of the
rounds, the worker process's, all threads, which on a shared machine waits for a CPU less than wall time):

- `sweep`: `jaxiaf.sweep(mod, {"bias": b, "tau_mem": t}, x, shard=False)`;
- `vmap + summarize`: `jax.jit(jax.vmap(lambda b, t: jaxiaf.summarize(mod.set_attributes(...), x)))` (the
  batch built inside the map: the weights stay shared; counts reduced inside the scan);
- `vmap, batch of modules + summarize`: the batch of modules built first with `jax.vmap(set_attributes)`
  (B copies of the weights), then `eqx.filter_jit(jax.vmap(lambda m: jaxiaf.summarize(m, x)))`;
- `vmap, batch of modules + raster sum`: the same batch of modules, then
  `eqx.filter_jit(jax.vmap(lambda m: m(x)[0].sum(axis=0)))` (the idiom `docs/guides/layer.md` showed): the
  (T, B, N) raster stored, then summed.

Every idiom's counts are compared with `sweep`'s (the share of neurons with the same count). Anchors in the
same run: Brian2 cpp_standalone (1 thread) and the hand-written C loop (`c_loop.c`, 1 thread, as `sweep`
runs on one device; its input is synthetic).

    .venv/bin/python benchmarks/bench_vmap.py            # about 2 minutes
    .venv/bin/python benchmarks/bench_vmap.py --quick    # T = 1000, a smoke test
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
    sweep_workload,
    table,
    wait_for_quiet,
)

B, N, N_IN = 256, 100, 100
INTEGRATORS = ("rk4", "exact")
ROUNDS = 7
"""Rounds of the interleaved steady-state measurement (`_interleaved`)."""
CASES = (
    "sweep",
    "vmap + summarize",
    "vmap, batch of modules + summarize",
    "vmap, batch of modules + raster sum",
)


def worker(num_steps, outdir):
    setup_jax_env(devices=1, x64=False)
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    import jaxiaf

    weights, x, bias, tau = sweep_workload(B, N, N_IN, num_steps)
    x, bias, tau = (jnp.asarray(a, jnp.float32) for a in (x, bias, tau))
    res = {"devices": len(jax.devices()), "cases": {}}
    for integ in INTEGRATORS:
        mod = jaxiaf.FFIAF(weights.astype(np.float32), integrator_name=integ)
        vary = lambda b, t, mod=mod: mod.set_attributes({"bias": b, "tau_mem": t})
        batch = jax.vmap(vary)(bias, tau)
        inside = jax.jit(jax.vmap(lambda b, t, vary=vary: jaxiaf.summarize(vary(b, t), x)["counts"]))
        modules = eqx.filter_jit(jax.vmap(lambda m: jaxiaf.summarize(m, x)["counts"]))
        raster = eqx.filter_jit(jax.vmap(lambda m: m(x)[0].sum(axis=0)))
        calls = {
            "sweep": lambda mod=mod: jaxiaf.sweep(mod, {"bias": bias, "tau_mem": tau}, x, shard=False).counts,
            "vmap + summarize": lambda inside=inside: inside(bias, tau),
            "vmap, batch of modules + summarize": lambda modules=modules, batch=batch: modules(batch),
            "vmap, batch of modules + raster sum": lambda raster=raster, batch=batch: raster(batch),
        }
        wait_for_quiet(log=lambda *a: None)
        res["cases"].update(_interleaved(integ, calls, outdir, jax.block_until_ready))
    emit(res)


def _interleaved(integ, calls, outdir, block, rounds=ROUNDS):
    """Each call's first run (trace, compile, run), then `rounds` rounds that run every call once in turn,
    so that a change of the machine's load between cases falls on all of them: steady = best round,
    median = median round, cpu = the least CPU time of the process (all threads) in a round."""
    first, times, cpu = {}, {name: [] for name in calls}, {name: [] for name in calls}
    for name, call in calls.items():
        t0 = time.perf_counter()
        counts = block(call())
        first[name] = time.perf_counter() - t0
        np.save(os.path.join(outdir, f"{integ}_{CASES.index(name)}.npy"), np.asarray(counts).reshape(-1))
    for _ in range(rounds):
        for name, call in calls.items():
            t0, c0 = time.perf_counter(), time.process_time()
            block(call())
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    return {
        f"{integ}/{name}": {
            "first": first[name], "steady": min(t), "median": float(np.median(t)), "cpu": min(cpu[name])
        }
        for name, t in times.items()
    }  # fmt: skip


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="T = 1000 instead of 10^4")
    args = ap.parse_args()
    num_steps = 1000 if args.quick else 10_000
    t_script = time.perf_counter()
    print(f"## (b) through jax.vmap: {B} sets x {N} neurons x T={num_steps}, float32, one CPU device\n")
    print(machine_header())
    print(f"Load average at start: {open('/proc/loadavg').read().split()[:3]}\n", flush=True)
    with tempfile.TemporaryDirectory(prefix="jaxiaf_bench_") as tmp:
        rows, counts = _jax_rows(num_steps, tmp)
        _anchor_rows(rows, counts, num_steps, tmp)
    print(
        f"\nLoad average at end: {open('/proc/loadavg').read().split()[:3]}; "
        f"script wall time {time.perf_counter() - t_script:.0f} s"
    )
    print(quiet_summary() + "\n")
    _report(rows, counts, B * N * num_steps)


def _jax_rows(num_steps, tmp):
    """The worker's cases: `(rows, counts)`, table rows per integrator and each case's counts."""
    wait_for_quiet()
    res = run_worker("bench_vmap.py", [num_steps, tmp])
    rows, counts = {integ: [] for integ in INTEGRATORS}, {}
    for integ in INTEGRATORS:
        for i, name in enumerate(CASES):
            case = {**res["cases"][f"{integ}/{name}"], "counts": None}
            counts[(integ, name)] = np.load(os.path.join(tmp, f"{integ}_{i}.npy"))
            rows[integ].append((f"jaxiaf {name} (1 CPU device)", case))
            print(
                f"  {integ} {name}: steady {case['steady']:.3f} s (CPU time of the process, all threads: "
                f"{case['cpu']:.3f} s), first {case['first']:.2f} s",
                flush=True,
            )
    return rows, counts


def _anchor_rows(rows, counts, num_steps, tmp):
    """Brian2 cpp_standalone (1 thread) on the same currents, and the hand-written C loop (`c_loop.c`,
    1 thread, as `sweep` runs on one device), appended to `rows`."""
    from _anchors import brian_case, build_c_loop, c_loop

    weights, x, bias, tau = sweep_workload(B, N, N_IN, num_steps)
    channel = np.tile(np.arange(N), B)
    exe = build_c_loop(tmp)
    for integ in INTEGRATORS:
        wait_for_quiet()
        r = brian_case(
            "Brian2 cpp_standalone", "cpp_standalone", 0, x @ weights, channel, bias=np.repeat(bias, N),
            tau_mem=np.repeat(tau, N), integrator=integ, raster=False,
        )  # fmt: skip
        counts[(integ, "brian2")] = np.asarray(r["counts"]).reshape(-1)
        rows[integ].append((r["label"], r))
        if exe is not None:
            wait_for_quiet()
            t = c_loop(exe, integ, B, N, num_steps, 1)
            rows[integ].append(
                ("hand-written C loop (1 thread)", {"steady": t, "first": None, "counts": None})
            )
            print(f"  C loop {integ} 1 thread: {t:.3f} s", flush=True)


def _report(rows, counts, ns):
    summary, c_rows = [], []
    for integ in INTEGRATORS:
        print(f"### (b) {integ} through jax.vmap, counts only\n")
        print(results_table(rows[integ], ns))
        print()
        by = dict(rows[integ])
        sweep_t = by["jaxiaf sweep (1 CPU device)"]["steady"]
        cpp = by["Brian2 cpp_standalone"]["steady"]
        for name in CASES[1:]:
            t = by[f"jaxiaf {name} (1 CPU device)"]["steady"]
            same = f"{np.mean(counts[(integ, name)] == counts[(integ, 'sweep')]) * 100:.2f} %"
            met = t <= 1.5 * sweep_t and cpp / t >= 10
            summary.append(
                [integ, name, fmt_ratio(t / sweep_t), fmt_ratio(cpp / t), same, "met" if met else "missed"]
            )
        if "hand-written C loop (1 thread)" in by:
            c = by["hand-written C loop (1 thread)"]["steady"]
            c_rows.append([integ, fmt_ratio(sweep_t / c), "met" if sweep_t <= 2 * c else "missed"])
    print(
        "### Target: the vmap idiom within 1.5x of sweep (same device) and >= 10x cpp_standalone (1 thread)\n"
    )
    header = [
        "integrator",
        "idiom",
        "time / sweep's",
        "speed-up vs cpp_standalone",
        "neurons with sweep's count",
    ]
    print(table([*header, "target"], summary))
    if c_rows:
        print("\n### `sweep` (1 device) against the hand-written C loop (1 thread): within 2x\n")
        print(table(["integrator", "sweep's time / C loop's", "target"], c_rows))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(int(sys.argv[2]), sys.argv[3])
    else:
        main()
