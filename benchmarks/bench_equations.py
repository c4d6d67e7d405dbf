#!/usr/bin/env python
"""Equation-driven layers on workload (b), and the default path before/after the refactor.

Part 1, workload (b) with the layer's own equations: 256 parameter sets x 100 neurons x T = 10^4 steps,
counts only, input (T, 100) shared by all sets (100 input channels), `jaxiaf.sweep` over both cores (one
JAX CPU device per core), float32 (and float64, in its own process):

- the adaptive LIF of `brian_ref/zoo.py` (`v`, `w`; reset `v = v_reset; w += b`), sets sweeping `a` and `b`,
  with Brian2's automatic integrator (`exact`, i.e. `linear`, for these linear equations) and `rk4`;
- AdEx of `brian_ref/zoo.py` (`exp` term), sets sweeping `a` and `b`, `rk4`;
- the default IAF set through `jaxiaf.sweep` (`bias`, `tau_mem` swept, rk4 and exact), as `bench_sweep.py`;
- a diagnostic: the default equations forced through the generated path (`threshold="v>v_thresh"` is not
  recognised as the default rule), sweeping `I_bias` and `tau_m`: the same model, hand-tuned kernels vs
  Brian2's generated statements.

Anchors in the same run: Brian2 cpp_standalone with 1 thread (Brian2's default) and with OpenMP on all
cores, the same 25600 neurons in one NeuronGroup built from the same equations, threshold, reset and
method (None = Brian2's automatic choice), each neuron reading input column `ci = i mod 100` of one
`TimedArray`, with a counting SpikeMonitor; steady = the in-binary simulation time, best of 2 runs of the
binary. Refractory period 0 everywhere (as workload (b)).

Part 2, the default path before/after (A/B): the parent commit of the refactor (`--before-rev`, default
faa633a, checked out as a git worktree at `--before`) and this tree, each timed by this script's `ab`
worker with `PYTHONPATH` pointing at the tree, alternating trees, `--reps` repetitions, medians:
workload (a) `mod(x)` (1000 neurons, N_in = 100, T = 10^4, full raster, one device) and workload (b)
`sweep` counts (both devices), rk4 and exact, float32 and float64. First call (trace + compile + run)
and steady time are reported apart; "compile" = first call - median steady call.

    .venv/bin/python benchmarks/bench_equations.py            # about 8-10 minutes on 2 quiet cores
    .venv/bin/python benchmarks/bench_equations.py --quick    # T = 1000, 1 A/B repetition: a smoke test

float64 workers (both parts, both trees) wrap `jaxiaf._core.scan._host_constants` so that it computes on NumPy
arrays (same values): without it, float64 sweeps deadlock in a fraction of runs with JAX 0.10.2 (see
`numpy_host_constants`; `JAXIAF_BENCH_NO_WORKAROUND=1` turns it off). Every timed call runs under a
watchdog (`HANG_S`); a hung worker is run again and the hang recorded in the JSON.

Writes the raw results (git SHA, threads, devices, machine, every measurement) to `--json`
(default `benchmarks/results/equations.json`) and prints Markdown tables.
"""

import argparse
import faulthandler
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np
from _common import (
    DT,
    ROOT,
    emit,
    fmt_ratio,
    fmt_s,
    machine_header,
    quiet_summary,
    record,
    release_standalone,
    rerun_standalone,
    setup_jax_env,
    steady,
    sweep_workload,
    table,
    versions,
    wait_for_quiet,
)

B, N, N_IN = 256, 100, 100
N_A = 1000  # workload (a)

# The models of brian_ref/zoo.py (the worker checks that the equation strings are still the same), with
# fixed values inside the zoo's ranges and the swept ranges of the zoo.
ADAPTIVE_EQ = """
    dv/dt = (v_rest - v + R*I_inp - R*w)/tau_m : volt (unless refractory)
    dw/dt = (a*(v - v_rest) - w)/tau_w : amp
    v_rest : volt
    R : ohm
    tau_m : second
    tau_w : second
    a : siemens
    b : amp
    v_thresh : volt
    v_reset : volt
    """
ADEX_EQ = """
    dv/dt = (g_L*(E_L - v) + g_L*delta_T*exp((v - v_T)/delta_T) + I_inp - w)/C : volt (unless refractory)
    dw/dt = (a*(v - E_L) - w)/tau_w : amp
    g_L : siemens
    E_L : volt
    delta_T : volt
    v_T : volt
    C : farad
    a : siemens
    b : amp
    tau_w : second
    v_reset : volt
    """
MODELS = {
    "adaptive": dict(
        zoo="ADAPTIVE",
        equations=ADAPTIVE_EQ,
        threshold="v > v_thresh",
        reset="v = v_reset; w += b",
        fixed=dict(v_rest=-0.065, R=1.0, tau_m=0.02, tau_w=0.2, v_thresh=-0.05, v_reset=-0.065),
        init=dict(v=-0.065, w=0.0),
        swept=(("a", 0.001, 0.05), ("b", 0.0, 0.004)),
        current=0.025,  # mean input current (A), as the zoo's
        seed=11,
    ),
    "adex": dict(
        zoo="ADEX",
        equations=ADEX_EQ,
        threshold="v > v_T + 4*delta_T",
        reset="v = v_reset; w += b",
        fixed=dict(g_L=10e-9, E_L=-0.07, delta_T=0.002, v_T=-0.05, C=200e-12, tau_w=0.1, v_reset=-0.058),
        init=dict(v=-0.07, w=0.0),
        swept=(("a", 0.0, 4e-9), ("b", 0.0, 1e-10)),
        current=3e-10,
        seed=12,
    ),
}
MODEL_CASES = (("adaptive", None), ("adaptive", "rk4"), ("adex", "rk4"))  # None: Brian2's choice
DEFAULT_INTEGRATORS = ("rk4", "exact")
HANG_S = float(os.environ.get("JAXIAF_BENCH_HANG_S", 180))
"""A worker call that takes longer is taken as hung: its Python stacks are printed and it exits (code 1,
"Timeout" on stderr); the parent runs the worker again (see `run_guarded`). float64 sweeps can deadlock in
JAX 0.10.2: `jaxiaf._core.scan._host_constants`, run by `jax.pure_callback`, receives jax Arrays and launches
XLA computations from inside the callback while the main thread waits for a free execution slot."""
GENERATED_DEFAULT = dict(threshold="v>v_thresh", fixed=dict(r_m=1.0, v_rest=-0.065, v_thresh=-0.055,
                                                            v_reset=-0.065))  # fmt: skip


def model_workload(name, num_steps):
    """Deterministic: weights (N_in, N), input (T, N_in) with mean current `current` per neuron and
    ~28 % fluctuations per step, and the (B,) swept values."""
    spec = MODELS[name]
    rng = np.random.default_rng(spec["seed"])
    weights = spec["current"] * 0.02 * (1.0 + rng.normal(0.0, 1.0, (N_IN, N)))
    x = rng.normal(0.5, 1.0, (num_steps, N_IN))
    swept = {p: rng.uniform(lo, hi, B) for p, lo, hi in spec["swept"]}
    return weights, x, swept


def case_key(name, integ):
    return f"{name}/{integ or 'auto'}"


def layer_workload(num_steps):
    """Workload (a), as bench_layer.py."""
    rng = np.random.default_rng(1)
    weights = rng.normal(0.0, 0.01, (N_IN, N_A))
    x = rng.normal(0.5, 1.0, (num_steps, N_IN))
    return weights, x


# ------------------------------------------------------------------------------------------- JAX workers
def guarded(call):
    """`call` under a watchdog of `HANG_S` seconds (see `HANG_S`)."""

    def run():
        faulthandler.dump_traceback_later(HANG_S, exit=True)
        try:
            return call()
        finally:
            faulthandler.cancel_dump_traceback_later()

    return run


def numpy_host_constants():
    """Workaround (float64 workers, unless `JAXIAF_BENCH_NO_WORKAROUND=1`): wrap
    `jaxiaf._core.scan._host_constants` (identical at faa633a and HEAD) so that it receives NumPy
    arrays. In JAX
    0.10.2 `jax.pure_callback` hands the callback jax Arrays, so its `+`, `*` and `/` launch XLA computations
    from inside the callback; with 2 CPU devices this deadlocks (main thread and callback thread both wait
    in `xla::Semaphore::Acquire`) in a fraction of float64 sweeps. NumPy computes the same IEEE values (one
    call per sweep or `mod(x)`, outside the timed loop)."""
    if os.environ.get("JAXIAF_BENCH_NO_WORKAROUND") == "1":
        return False
    from jaxiaf._core import scan as _core

    original = getattr(_core, "_host_constants", None)
    if original is None:  # the library's own host callbacks take NumPy arrays since 7a19acc
        return False

    def host_constants(*args):
        return original(*(np.asarray(a) for a in args))

    _core._host_constants = host_constants
    return True


def run_guarded(args, env=None, tries=3, hangs=None, timeout=3600):
    """Run this script's worker `args`; a worker that hung (its watchdog fired) is run again, up to
    `tries` times in all; each hang is appended to `hangs`. Returns the worker's JSON object."""
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", *map(str, args)]
    for attempt in range(tries):
        done = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=str(ROOT),
            env={**os.environ, **(env or {})},
        )
        if done.returncode == 0:
            for line in reversed(done.stdout.splitlines()):
                if line.startswith("{"):
                    out = json.loads(line)
                    record(
                        "worker",
                        {"script": "bench_equations.py", "args": list(map(str, args)), "result": out},
                    )
                    return out
            raise RuntimeError(f"worker {cmd} printed no JSON:\n{done.stdout[-4000:]}")
        if "Timeout (" not in done.stderr:
            sys.stderr.write(done.stdout[-4000:] + done.stderr[-8000:])
            raise RuntimeError(f"worker {cmd} failed with code {done.returncode}")
        stacks = [
            line.strip() for line in done.stderr.splitlines() if line.startswith(("Thread", "Current thread"))
            or "jaxiaf/" in line or "bench_equations.py" in line
        ]  # fmt: skip
        print(f"  worker {args} (PYTHONPATH {(env or {}).get('PYTHONPATH', '-')}) HUNG (no progress for "
              f"{HANG_S:.0f} s), attempt {attempt + 1}; stacks: {stacks[:8]}", flush=True)  # fmt: skip
        if hangs is not None:
            hangs.append(
                {"args": list(map(str, args)), "env": env or {}, "attempt": attempt + 1, "stacks": stacks}
            )
    raise RuntimeError(f"worker {cmd} hung {tries} times")


def worker_eq(precision, num_steps, outdir):
    """Part 1: every sweep of this tree, one precision."""
    setup_jax_env(devices=os.cpu_count() or 1, x64=precision == "f64")
    import jax
    import jax.numpy as jnp

    import jaxiaf
    from brian_ref import zoo

    dtype = jnp.float64 if precision == "f64" else jnp.float32
    res = {
        "workaround_numpy_host_constants": precision == "f64" and numpy_host_constants(),
        "devices": [str(d) for d in jax.devices()],
        "jax": jax.__version__,
        "jaxiaf": jaxiaf.__file__,
        "XLA_FLAGS": os.environ.get("XLA_FLAGS", ""),
        "cases": {},
    }

    def timed(key, call, counts_of, extra=None):
        wait_for_quiet(log=lambda *a: None)
        first, best, median, r = steady(guarded(call), repeats=3, min_total=2.0)
        counts = np.asarray(counts_of(r))
        np.save(os.path.join(outdir, f"{precision}_{key.replace('/', '_')}.npy"), counts)
        res["cases"][key] = {
            "first": first, "steady": best, "median": median, "compile": first - median,
            "spikes": int(counts.sum()), **(extra or {}),
        }  # fmt: skip
        print(f"    {key}: steady {best:.3f} s, median {median:.3f} s, first {first:.2f} s", file=sys.stderr)

    for name, integ in MODEL_CASES:
        spec = MODELS[name]
        assert getattr(zoo, spec["zoo"]).equations == spec["equations"], f"brian_ref/zoo.py's {name} changed"
        weights, x, swept = model_workload(name, num_steps)
        kw = {} if integ is None else {"integrator_name": integ}
        first_set = {p: float(v[0]) for p, v in swept.items()}
        mod = jaxiaf.FFIAF(
            weights, neuron_eq=spec["equations"], threshold=spec["threshold"], reset=spec["reset"],
            **spec["fixed"], **spec["init"], **first_set, **kw,
        )  # fmt: skip

        def call(mod=mod, swept=swept, x=x):
            r = jaxiaf.sweep(mod, swept, x, outputs=("counts",), dtype=dtype)
            return jax.block_until_ready(r.counts)

        timed(case_key(name, integ), call, lambda r: r, {"method": mod.sim.model.method})

    weights, x, bias, tau = sweep_workload(B, N, N_IN, num_steps)
    for integ in DEFAULT_INTEGRATORS:
        mod = jaxiaf.FFIAF(weights, integrator_name=integ)
        assert mod.sim.model is None

        def call(mod=mod):
            r = jaxiaf.sweep(mod, {"bias": bias, "tau_mem": tau}, x, outputs=("counts",), dtype=dtype)
            return jax.block_until_ready(r.counts)

        timed(f"default/{integ}", call, lambda r: r, {"method": integ})

        gen = jaxiaf.FFIAF(
            weights, integrator_name=integ, threshold=GENERATED_DEFAULT["threshold"],
            I_bias=float(bias[0]), tau_m=float(tau[0]), **GENERATED_DEFAULT["fixed"],
        )  # fmt: skip
        assert gen.sim.model is not None

        def call_gen(gen=gen):
            r = jaxiaf.sweep(gen, {"I_bias": bias, "tau_m": tau}, x, outputs=("counts",), dtype=dtype)
            return jax.block_until_ready(r.counts)

        timed(f"default_generated/{integ}", call_gen, lambda r: r, {"method": gen.sim.model.method})
    emit(res)


def worker_ab(precision, num_steps):
    """Part 2: the default path of whichever jaxiaf `PYTHONPATH` points at."""
    setup_jax_env(devices=os.cpu_count() or 1, x64=precision == "f64")
    import jax
    import jax.numpy as jnp

    import jaxiaf

    dtype = jnp.float64 if precision == "f64" else jnp.float32
    res = {
        "workaround_numpy_host_constants": precision == "f64" and numpy_host_constants(),
        "devices": [str(d) for d in jax.devices()],
        "jaxiaf": jaxiaf.__file__,
        "XLA_FLAGS": os.environ.get("XLA_FLAGS", ""),
        "cases": {},
    }
    weights, x = layer_workload(num_steps)
    for integ in DEFAULT_INTEGRATORS:
        mod = jaxiaf.FFIAF(weights, integrator_name=integ)
        assert mod.neuron_state.v.dtype == dtype, (mod.neuron_state.v.dtype, dtype)

        def call(mod=mod):
            return jax.block_until_ready(mod(x)[0])

        wait_for_quiet(log=lambda *a: None)
        first, best, median, spikes = steady(guarded(call), repeats=5, min_total=2.0)
        res["cases"][f"a/{integ}"] = {
            "first": first, "steady": best, "median": median, "spikes": int(np.asarray(spikes).sum()),
        }  # fmt: skip
    weights, x, bias, tau = sweep_workload(B, N, N_IN, num_steps)
    for integ in DEFAULT_INTEGRATORS:
        mod = jaxiaf.FFIAF(weights, integrator_name=integ)

        def call(mod=mod):
            r = jaxiaf.sweep(mod, {"bias": bias, "tau_mem": tau}, x, outputs=("counts",), dtype=dtype)
            return jax.block_until_ready(r.counts)

        wait_for_quiet(log=lambda *a: None)
        first, best, median, counts = steady(guarded(call), repeats=5, min_total=2.0)
        res["cases"][f"b/{integ}"] = {
            "first": first, "steady": best, "median": median, "spikes": int(np.asarray(counts).sum()),
        }  # fmt: skip
    emit(res)


# ------------------------------------------------------------------------------------------- Brian2
def brian_model_run(name, integ, currents, channel, swept, threads, workdir, repeats=2):
    """One model case in cpp_standalone (see the module docstring): the first build-and-run, then the
    binary again `repeats - 1` times; `steady` = the best in-binary simulation time."""
    import brian2 as b2

    spec = MODELS[name]
    t_start = time.perf_counter()
    n = len(channel)
    b2.set_device("cpp_standalone", directory=str(workdir), build_on_run=True)
    b2.device.reinit()
    b2.set_device("cpp_standalone", directory=str(workdir), build_on_run=True)
    b2.prefs.devices.cpp_standalone.openmp_threads = int(threads)
    try:
        b2.start_scope()
        bdt = DT * b2.second
        b2.defaultclock.dt = bdt
        tab = b2.TimedArray(np.ascontiguousarray(currents, np.float64) * b2.amp, dt=bdt)
        eqs = spec["equations"] + "\nI_inp = I_tab(t, ci) : amp (constant over dt)\nci : integer (constant)\n"
        kw = {} if integ is None else {"method": {"exact": "linear"}.get(integ, integ)}
        group = b2.NeuronGroup(
            n, eqs, threshold=spec["threshold"], reset=spec["reset"], refractory=0 * b2.second,
            namespace={"I_tab": tab}, name="eq_bench", **kw,
        )  # fmt: skip
        group.ci = np.asarray(channel, np.int32)
        values = {**spec["fixed"], **spec["init"], **{p: np.repeat(v, N) for p, v in swept.items()}}
        for var, value in values.items():
            setattr(group, var + "_", np.broadcast_to(np.asarray(value, np.float64), (n,)).copy())
        mon = b2.SpikeMonitor(group, record=False)
        net = b2.Network(group, mon)
        net.run(currents.shape[0] * bdt, namespace={})
        counts = np.asarray(mon.count, np.int64).copy()
        first = (b2.device._last_run_time, b2.device.timers["run_binary"])
        make = b2.device.timers["compile"]["make"]
        total = time.perf_counter() - t_start
        sims, binaries = rerun_standalone(workdir, first, repeats)
    finally:
        release_standalone()
    return {
        "steady": min(sims), "sims": sims, "binary": min(binaries), "make": make, "first": total,
        "counts": counts, "threads": int(threads),
    }  # fmt: skip


# ------------------------------------------------------------------------------------------- main
def compact_json(obj) -> str:
    """JSON with `indent=1`, but each list of numbers (e.g. Brian2's per-neuron counts) on one line."""
    text = json.dumps(obj, indent=1, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))
    number_list = re.compile(r"\[\s*(-?[\d.eE+-]+(?:,\s*-?[\d.eE+-]+)*)\s*\]")
    return number_list.sub(lambda m: "[" + ",".join(x.strip() for x in m.group(1).split(",")) + "]", text)


def git(*args, cwd=ROOT) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, cwd=cwd).stdout.strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="T = 1000, one A/B repetition")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--reps", type=int, default=None, help="A/B repetitions per tree (default 3)")
    ap.add_argument("--before", default="/tmp/jaxiaf_before", help="worktree of the parent commit")
    ap.add_argument("--before-rev", default="faa633a")
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: f64, brian, ab")
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "equations.json"))
    args = ap.parse_args()
    num_steps = args.steps or (1000 if args.quick else 10_000)
    reps = args.reps or (1 if args.quick else 3)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    t_script = time.perf_counter()
    sha = git("rev-parse", "HEAD")
    dirty = bool(git("status", "--porcelain", "--", "jaxiaf", "brian_ref"))
    report = {
        "sha": sha,
        "jaxiaf_dirty": dirty,
        "machine": machine_header(),
        "versions": versions(),
        "threads": {
            "os.cpu_count": os.cpu_count(),
            "sched_getaffinity": len(os.sched_getaffinity(0)),
            "jax": f"{os.cpu_count()} host CPU devices (--xla_force_host_platform_device_count), sweeps "
            "sharded over them; workload (a) mod(x) on one device",
            "brian2_cpp_standalone": "openmp_threads 0 (1 thread, Brian2's default) and "
            f"{os.cpu_count()} (OpenMP)",
        },
        "workload": {"B": B, "N": N, "N_in": N_IN, "T": num_steps, "dt": DT, "outputs": "counts"},
        "models": {k: {kk: vv for kk, vv in v.items()} for k, v in MODELS.items()},
        "load_start": open("/proc/loadavg").read().split()[:3],
        "hang_watchdog_s": HANG_S,
        "hangs": [],
    }
    print(f"git SHA {sha}" + (" (jaxiaf/ or brian_ref/ modified)" if dirty else ""))
    print(f"## Equation-driven layers, workload (b): {B} sets x {N} neurons x T={num_steps}, counts\n")
    print(machine_header())
    print(f"Load average at start: {report['load_start']}\n", flush=True)

    def save():
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            f.write(compact_json(report))

    # ---- part 1: jaxiaf
    counts = {}
    report["jaxiaf"] = {}
    with tempfile.TemporaryDirectory(prefix="jaxiaf_bench_eq_") as tmp:
        for precision in ("f32",) + (() if "f64" in skip else ("f64",)):
            wait_for_quiet()
            print(f"  jaxiaf {precision} worker ...", flush=True)
            res = run_guarded(["eq", precision, num_steps, tmp], hangs=report["hangs"])
            report["jaxiaf"][precision] = res
            for key, c in res["cases"].items():
                counts[(precision, key)] = np.load(
                    os.path.join(tmp, f"{precision}_{key.replace('/', '_')}.npy")
                )
                print(
                    f"  jaxiaf {precision} {key} ({c['method']}): steady {c['steady']:.3f} s "
                    f"(median {c['median']:.3f} s), first call {c['first']:.2f} s",
                    flush=True,
                )
        save()

    # ---- part 1: Brian2 cpp_standalone
    brian = {}
    report["brian2"] = {}
    if "brian" not in skip:
        from _anchors import brian_case

        channel = np.tile(np.arange(N), B)
        for threads in (0, os.cpu_count() or 1) if (os.cpu_count() or 1) > 1 else (0,):
            for name, integ in MODEL_CASES:
                weights, x, swept = model_workload(name, num_steps)
                wait_for_quiet()
                with tempfile.TemporaryDirectory(prefix="jaxiaf_bench_cpp_") as work:
                    r = brian_model_run(name, integ, x @ weights, channel, swept, threads, work)
                key = case_key(name, integ)
                brian[(key, threads)] = r
                print(
                    f"  brian2 cpp_standalone {threads or 1} thr. {key}: steady {r['steady']:.3f} s "
                    f"(runs {', '.join(f'{s:.3f}' for s in r['sims'])}), first call {r['first']:.1f} s "
                    f"(g++ {r['make']:.1f} s)",
                    flush=True,
                )
            weights, x, bias, tau = sweep_workload(B, N, N_IN, num_steps)
            for integ in DEFAULT_INTEGRATORS:
                wait_for_quiet()
                r = brian_case(
                    f"Brian2 cpp_standalone {threads or 1} thr.", "cpp_standalone", threads, x @ weights,
                    channel, bias=np.repeat(bias, N), tau_mem=np.repeat(tau, N), integrator=integ,
                    raster=False,
                )  # fmt: skip
                r["threads"] = threads
                brian[(f"default/{integ}", threads)] = r
        report["brian2"] = {
            f"{key} threads={t}": {k: v for k, v in r.items() if k not in ("spikes",)}
            for (key, t), r in brian.items()
        }
        save()

    # ---- part 2: A/B of the default path
    ab = []
    if "ab" not in skip:
        before = os.path.abspath(args.before)
        created = False
        if not os.path.isdir(before):
            subprocess.run(
                ["git", "worktree", "add", "--detach", before, args.before_rev], cwd=ROOT, check=True
            )
            created = True
        trees = {"before": before, "head": str(ROOT)}
        report["ab_trees"] = {
            "before": {"path": before, "sha": git("rev-parse", "HEAD", cwd=before)},
            "head": {"path": str(ROOT), "sha": sha, "jaxiaf_dirty": dirty},
        }
        try:
            for rep in range(reps):
                order = ("before", "head") if rep % 2 == 0 else ("head", "before")
                for precision in ("f32", "f64"):
                    for tree in order:
                        wait_for_quiet()
                        res = run_guarded(
                            ["ab", precision, num_steps],
                            env={"PYTHONPATH": trees[tree]},
                            hangs=report["hangs"],
                        )
                        assert res["jaxiaf"].startswith(trees[tree]), (res["jaxiaf"], trees[tree])
                        ab.append({"rep": rep, "tree": tree, "precision": precision, **res})
                        print(
                            f"  A/B rep {rep} {tree:<6} {precision}: "
                            + ", ".join(f"{k} {c['median'] * 1e3:.1f} ms" for k, c in res["cases"].items()),
                            flush=True,
                        )
                report["ab"] = ab
                save()
        finally:
            if created:
                subprocess.run(["git", "worktree", "remove", "--force", before], cwd=ROOT)
    report["quiet"] = quiet_summary()
    report["load_end"] = open("/proc/loadavg").read().split()[:3]
    report["wall_s"] = time.perf_counter() - t_script
    print(
        f"\nLoad average at end: {report['load_end']}; script wall time {report['wall_s']:.0f} s\n"
        + quiet_summary()
        + "\n"
    )
    report["tables"] = print_tables(report, counts, brian, ab, num_steps)
    save()
    print(f"Raw results: {os.path.relpath(args.json, ROOT)}")


def print_tables(report, counts, brian, ab, num_steps):
    ns = B * N * num_steps
    mt = os.cpu_count() or 1
    jx = report["jaxiaf"]
    out = {}
    label = {
        "adaptive/auto": "adaptive LIF, Brian2's choice",
        "adaptive/rk4": "adaptive LIF",
        "adex/rk4": "AdEx",
        "default/rk4": "default IAF (hand-tuned kernels)",
        "default/exact": "default IAF (hand-tuned kernels)",
        "default_generated/rk4": "default IAF via the generated path (diagnostic)",
        "default_generated/exact": "default IAF via the generated path (diagnostic)",
    }
    rows, summary = [], []
    for key in jx["f32"]["cases"]:
        c32 = jx["f32"]["cases"][key]
        c64 = jx.get("f64", {}).get("cases", {}).get(key)
        anchor_key = key.replace("default_generated", "default")
        b1, b2 = brian.get((anchor_key, 0)), brian.get((anchor_key, mt))

        def same(precision):
            ref = b1 or b2
            if ref is None or (precision, key) not in counts:
                return "-"
            mine = counts[(precision, key)].reshape(-1)
            return f"{np.mean(mine == ref['counts']) * 100:.1f} %"

        spikes = c32["spikes"]
        row = [
            label[key], c32["method"], fmt_s(c32["steady"]), f"{ns / c32['steady']:.2e}",
            fmt_ratio(b1["steady"] / c32["steady"]) if b1 else "-",
            fmt_ratio(b2["steady"] / c32["steady"]) if b2 else "-",
            fmt_s(c32["compile"]),
            fmt_s(c64["steady"]) if c64 else "-",
            fmt_ratio(b1["steady"] / c64["steady"]) if b1 and c64 else "-",
            fmt_s(b1["steady"]) if b1 else "-", fmt_s(b2["steady"]) if b2 else "-",
            f"{spikes / (B * N) / (num_steps * DT):.1f} Hz", f"{same('f64')} / {same('f32')}",
        ]  # fmt: skip
        rows.append(row)
        out[key] = row
        if b1 and not key.startswith("default_generated"):
            ratio = b1["steady"] / c32["steady"]
            summary.append(
                [f"{label[key]}, {c32['method']}", fmt_ratio(ratio), "met" if ratio >= 10 else "missed"]
            )
    header = [
        "model", "integrator", "jaxiaf f32 (2 devices)", "neuron-steps/s", "speed-up vs cpp_standalone",
        f"speed-up vs cpp_standalone {mt} thr.", "f32 compile (first - median)", "jaxiaf f64 (2 devices)",
        "f64 speed-up vs cpp_standalone", "cpp_standalone", f"cpp_standalone {mt} thr.", "mean rate",
        "counts = Brian2 (f64 / f32)",
    ]  # fmt: skip
    print(f"### Workload (b): {B} sets x {N} neurons x T={num_steps}, counts (same run)\n")
    print(table(header, rows) + "\n")
    if summary:
        print("Target: >= 10x Brian2 cpp_standalone (1 thread), float32\n")
        print(table(["case", "jaxiaf f32 / cpp_standalone", "target"], summary) + "\n")

    if ab:
        ab_rows = []
        for precision in ("f32", "f64"):
            for case in ("a/rk4", "a/exact", "b/rk4", "b/exact"):
                vals = {}
                for tree in ("before", "head"):
                    runs = [r["cases"][case] for r in ab if r["tree"] == tree and r["precision"] == precision]
                    vals[tree] = {
                        "median": float(np.median([c["median"] for c in runs])),
                        "best": float(min(c["steady"] for c in runs)),
                        "compile": float(np.median([c["first"] - c["median"] for c in runs])),
                        "spikes": sorted({c["spikes"] for c in runs}),
                        "n": len(runs),
                    }
                bf, hd = vals["before"], vals["head"]
                what = "(a) `mod(x)`, 1 device" if case.startswith("a") else "(b) `sweep` counts, 2 devices"
                same = bf["spikes"] == hd["spikes"] and len(bf["spikes"]) == 1
                ab_rows.append([
                    what, case.split("/")[1], "float32" if precision == "f32" else "float64",
                    f"{fmt_s(bf['median'])} ({fmt_s(bf['best'])})",
                    f"{fmt_s(hd['median'])} ({fmt_s(hd['best'])})",
                    f"{hd['median'] / bf['median']:.2f}", fmt_s(bf["compile"]), fmt_s(hd["compile"]),
                    "yes" if same else f"{bf['spikes']} / {hd['spikes']}",
                ])  # fmt: skip
                out[f"ab {precision} {case}"] = vals
        trees = report["ab_trees"]
        reps = max(r["rep"] for r in ab) + 1
        print(
            f"### Default path before/after: {trees['before']['sha'][:7]} (before) vs "
            f"{trees['head']['sha'][:7]} (HEAD), alternating processes, {reps} repetitions each\n"
        )
        print(
            table(
                [
                    "workload",
                    "integrator",
                    "precision",
                    "before: median steady (best)",
                    "HEAD: median steady (best)",
                    "HEAD / before",
                    "before: compile",
                    "HEAD: compile",
                    "same spike total",
                ],
                ab_rows,
            )  # fmt: skip
            + "\n"
        )
        print(
            "median steady = median over the repetitions of each process's median call; best = the fastest "
            "call of all; compile = median of (first call - median call).\n"
        )
    return out


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        if sys.argv[2] == "eq":
            worker_eq(sys.argv[3], int(sys.argv[4]), sys.argv[5])
        else:
            worker_ab(sys.argv[3], int(sys.argv[4]))
    else:
        main()
