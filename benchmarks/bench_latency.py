#!/usr/bin/env python
"""Workload (c): a small layer, N = 10 neurons, N_in = 10, T = 1000 steps (rk4): call latency,
whole-process time, first-call compile time.

- whole process: the wall time of `python -c "<import; build the layer; evolve once>"` started as a
  subprocess (best of 3), for jaxiaf (float32 and float64) and for `brian_ref.FFIAFBrian2` on each Brian2
  target (cython with the user's cache, which that first run warms if it was cold; and with a cold,
  empty cache).
- in-process breakdown (a probe subprocess): import time, layer construction, first call (tracing +
  compilation + run), steady call latency (median of repeated calls on the same shapes), and a changed
  parameter value (no recompilation).

    .venv/bin/python benchmarks/bench_latency.py          # about 2 minutes (a cold-cache Cython run included)
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import (
    ROOT,
    emit,
    fmt_ratio,
    fmt_s,
    machine_header,
    quiet_summary,
    record,
    run_worker,
    table,
    wait_for_quiet,
)

N, N_IN, T = 10, 10, 1000
INTEGRATOR = "rk4"

SETUP = f"""
import numpy as np
rng = np.random.default_rng(2)
W = rng.normal(0.0, 0.01, ({N_IN}, {N}))
x = rng.normal(0.5, 1.0, ({T}, {N_IN}))
"""

ONCE_JAX = (
    SETUP
    + f"""
import jax, jaxiaf
mod = jaxiaf.FFIAF(W, integrator_name="{INTEGRATOR}")
jax.block_until_ready(mod(x)[0])
"""
)

ONCE_BRIAN = (
    SETUP
    + f"""
import sys, tempfile
from brian_ref import FFIAFBrian2
target = sys.argv[1]
if len(sys.argv) > 2:
    import brian2
    brian2.prefs.codegen.runtime.cython.cache_dir = sys.argv[2]
with tempfile.TemporaryDirectory() as d:
    FFIAFBrian2(W, integrator_name="{INTEGRATOR}", target=target, standalone_dir=d).evolve(x)
"""
)


def whole_process(code, args=(), env=None, repeats=3):
    """Best wall time of a fresh `python -c code` (interpreter start-up included)."""
    times = []
    for _ in range(repeats):
        wait_for_quiet(log=lambda *a: None)
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", code, *args],
            check=True,
            cwd=str(ROOT),
            capture_output=True,
            env={**os.environ, **(env or {})},
        )
        times.append(time.perf_counter() - t0)
    return min(times)


# ------------------------------------------------------------------------------------------- probes
def probe_jax(precision):
    os.environ["JAX_ENABLE_X64"] = "1" if precision == "f64" else "0"
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    os.environ.setdefault("JAXIAF_CACHE_DIR", "0")  # cold unless the caller passes a cache directory
    exec(SETUP, globals())
    t0 = time.perf_counter()
    import jax

    t_jax = time.perf_counter()
    import jaxiaf

    t_import = time.perf_counter()
    mod = jaxiaf.FFIAF(W, integrator_name=INTEGRATOR)  # noqa: F821
    jax.block_until_ready(mod.params)
    t_build = time.perf_counter()
    jax.block_until_ready(mod(x)[0])  # noqa: F821
    t_first = time.perf_counter()
    lat = []
    for _ in range(200):
        s = time.perf_counter()
        jax.block_until_ready(mod(x)[0])  # noqa: F821
        lat.append(time.perf_counter() - s)
    jitted = jax.jit(lambda m, xx: m(xx)[0])
    jax.block_until_ready(jitted(mod, x))  # noqa: F821
    lat_jit = []
    for _ in range(200):
        s = time.perf_counter()
        jax.block_until_ready(jitted(mod, x))  # noqa: F821
        lat_jit.append(time.perf_counter() - s)
    other = mod.set_attributes({"tau_mem": 0.03, "bias": 0.012})
    s = time.perf_counter()
    jax.block_until_ready(other(x)[0])  # noqa: F821
    t_changed = time.perf_counter() - s
    # the core without traced checks (no host callback, so the persistent cache can hold it): checks and
    # constants computed eagerly, as `sweep` does
    core = jax.jit(
        lambda p, s, st, xx, c: jaxiaf.evolve(p, s, st, xx @ p.weights, check=False, constants=c)[0]
    )
    s = time.perf_counter()
    consts = jaxiaf.step_constants(mod.params, mod.sim)
    jax.block_until_ready(core(mod.params, mod.sim, mod.neuron_state, jax.numpy.asarray(x), consts))  # noqa: F821
    t_core = time.perf_counter() - s
    import numpy as np

    emit(
        {
            "import_jax": t_jax - t0,
            "import": t_import - t_jax,
            "build": t_build - t_import,
            "first": t_first - t_build,
            "latency": float(np.median(lat)),
            "latency_min": min(lat),
            "latency_jit": float(np.median(lat_jit)),
            "changed": t_changed,
            "first_core": t_core,
            "jax": jax.__version__,
        }
    )


def probe_brian(target, cache_dir=None):
    exec(SETUP, globals())
    t0 = time.perf_counter()
    import brian2

    if cache_dir:
        brian2.prefs.codegen.runtime.cython.cache_dir = cache_dir
    from brian_ref import FFIAFBrian2

    t_import = time.perf_counter()
    out = {"import": t_import - t0}
    walls, nets = [], []
    for _ in range(3):
        with tempfile.TemporaryDirectory() as d:
            layer = FFIAFBrian2(W, integrator_name=INTEGRATOR, target=target, standalone_dir=d)  # noqa: F821
            s = time.perf_counter()
            r = layer.evolve(x)  # noqa: F821
            walls.append(time.perf_counter() - s)
            nets.append(r.wall_time)
    out.update(first=walls[0], first_run=nets[0], latency=min(walls[1:]), latency_run=min(nets[1:]))
    emit(out)


# ------------------------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", default="numpy,cython,cpp_standalone")
    ap.add_argument("--no-cold-cython", action="store_true", help="skip the cold-cache Cython run (20-40 s)")
    args = ap.parse_args()
    t_script = time.perf_counter()
    print(f"## (c) latency: N={N}, N_in={N_IN}, T={T}, {INTEGRATOR}\n")
    print(machine_header())
    print(f"Load average at start: {open('/proc/loadavg').read().split()[:3]}\n", flush=True)
    rows = []
    wait_for_quiet()
    py = whole_process("pass")
    print(f"  bare python start-up: {py:.3f} s", flush=True)
    results = {}
    warm_rows = []
    for precision in ("f32", "f64"):
        wait_for_quiet()
        p = run_worker("bench_latency.py", ["jax", precision])
        env = {"JAX_ENABLE_X64": "1" if precision == "f64" else "0", "JAX_PLATFORMS": "cpu"}
        p["whole"] = whole_process(ONCE_JAX, env={**env, "JAXIAF_CACHE_DIR": "0"})
        name = f"jaxiaf {'float32' if precision == 'f32' else 'float64'}"
        results[name] = p
        print(f"  {name}: {p}", flush=True)
        with tempfile.TemporaryDirectory(prefix="jaxiaf_bench_xla_") as cache:
            fill = run_worker("bench_latency.py", ["jax", precision], env={"JAXIAF_CACHE_DIR": cache})
            wait_for_quiet()
            warm = run_worker("bench_latency.py", ["jax", precision], env={"JAXIAF_CACHE_DIR": cache})
            size = sum(f.stat().st_size for f in Path(cache).rglob("*") if f.is_file())
            files = sum(1 for f in Path(cache).rglob("*") if f.is_file())
        record("warm cache", {"layer": name, "fill": fill, "warm": warm, "bytes": size, "files": files})
        warm_rows.append(
            [
                name,
                f"{fmt_s(p['first'])} / {fmt_s(warm['first'])}",
                f"{fmt_s(p['first_core'])} / {fmt_s(warm['first_core'])}",
                f"{fmt_s(p['build'])} / {fmt_s(warm['build'])}",
                f"{files} files, {size / 1e3:.0f} kB",
            ]
        )
        rows.append(
            [
                name,
                fmt_s(p["latency"]),
                fmt_s(p["latency_jit"]),
                fmt_s(p["whole"]),
                fmt_s(p["import_jax"] + p["import"]),
                fmt_s(p["first"]),
                fmt_s(p["first"] - p["latency"]),
                fmt_s(p["changed"]),
            ]
        )
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    cases = [(t, None) for t in targets]
    if "cython" in targets and not args.no_cold_cython:
        cases.append(("cython", "cold"))
    for target, cache in cases:
        wait_for_quiet()
        if cache:
            # a fresh, empty cache for each process: everything is compiled (one run each)
            with tempfile.TemporaryDirectory(prefix="jaxiaf_bench_cython_") as cold:
                whole = whole_process(ONCE_BRIAN, [target, cold], repeats=1)
            with tempfile.TemporaryDirectory(prefix="jaxiaf_bench_cython_") as cold:
                p = run_worker("bench_latency.py", ["brian", target, cold], timeout=900)
            p["whole"] = whole
        else:
            # the whole-process runs first: the first one warms Brian2's Cython cache for these shapes
            whole = whole_process(ONCE_BRIAN, [target])
            p = run_worker("bench_latency.py", ["brian", target], timeout=900)
            p["whole"] = whole
        name = f"Brian2 {target}" + (
            " (cold cache)" if cache else (" (warm cache)" if target == "cython" else "")
        )
        if target == "cpp_standalone":
            name += " via brian_ref"
        results[name] = p
        print(f"  {name}: {p}", flush=True)
        rows.append(
            [
                name,
                fmt_s(p["latency"]) + f" (run {fmt_s(p['latency_run'])})",
                "-",
                fmt_s(p["whole"]),
                fmt_s(p["import"]),
                fmt_s(p["first"]),
                fmt_s(p["first"] - p["latency"]),
                "-",
            ]
        )
    print(
        f"\nLoad average at end: {open('/proc/loadavg').read().split()[:3]}; "
        f"script wall time {time.perf_counter() - t_script:.0f} s"
    )
    print(quiet_summary() + "\n")
    print(f"### (c) N={N}, N_in={N_IN}, T={T}, {INTEGRATOR} (bare `python -c pass`: {fmt_s(py)})\n")
    print(
        table(
            [
                "implementation",
                "call latency (steady, median)",
                "`jax.jit` call latency",
                "whole process",
                "import",
                "first call",
                "first-call compile (first - steady)",
                "new parameter values",
            ],
            rows,
        )
    )
    print()
    print("### Persistent compilation cache: a fresh process, cold (no cache) / warm (2nd process)\n")
    print(
        table(
            [
                "layer",
                "first `mod(x)`",
                "first call of the core without traced checks (eager checks and constants)",
                "layer construction",
                "cache on disk after one process",
            ],
            warm_rows,
        )
    )
    print(
        "\nJAX never caches a program that contains a host callback (`eqx.error_if`, float64's host-computed "
        "constants): an eager `mod(x)` checks on the host and runs a callback-free program, so it is cached; "
        "`mod(x)` under `jax.jit` and `evolve(check=True)` are not.\n"
    )
    print(
        "Brian2 call latency: `FFIAFBrian2.evolve` (a new network per call, as brian_ref builds it); "
        "`run` = `Network.run` only. The first-call compile of Brian2 is code generation (+ Cython or g++).\n"
    )
    summary = []
    for name, p in results.items():
        if name.startswith("jaxiaf"):
            compile_s = p["first"] - p["latency"]
            ratios = [
                fmt_ratio(b["latency"] / p["latency"]) for k, b in results.items() if k.startswith("Brian2")
            ]
            whole = [fmt_ratio(b["whole"] / p["whole"]) for k, b in results.items() if k.startswith("Brian2")]
            summary.append(
                [
                    name,
                    fmt_s(compile_s),
                    "met" if compile_s < 1 else "missed",
                    " / ".join(ratios),
                    " / ".join(whole),
                ]
            )
    brian_names = " / ".join(k.replace("Brian2 ", "") for k in results if k.startswith("Brian2"))
    print("### Target (c): first-call compile < 1 s\n")
    print(
        table(
            [
                "jaxiaf",
                "first-call compile",
                "target",
                f"latency speed-up vs {brian_names}",
                f"whole-process speed-up vs {brian_names}",
            ],
            summary,
        )
    )
    print()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        if sys.argv[2] == "jax":
            probe_jax(sys.argv[3])
        else:
            probe_brian(sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
    else:
        main()
