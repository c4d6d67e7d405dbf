"""Shared helpers of the benchmark scripts: machine description, timing, Markdown tables, JAX worker
subprocesses, and a lean Brian2 runner.

The scripts never run JAX in the process that runs Brian2: every JAX measurement runs in a worker
subprocess (`python bench_x.py --worker ...`) that sets its device count and precision before importing
JAX (`jax_enable_x64` is a process-wide switch), prints one JSON line and exits. Brian2 runs in the parent.
"""

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DT = 1e-4


# ----------------------------------------------------------------------------------------------- machine
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                wanted = ["avx2", "fma", "avx512f"]
                return ", ".join(f for f in wanted if f in flags) or "no avx2/fma/avx512f"
    except OSError:
        pass
    return "?"


def versions() -> dict:
    """Versions without importing jax in this process (workers report theirs)."""
    from importlib.metadata import version

    out = {}
    for pkg in ("jax", "jaxlib", "equinox", "brian2", "numpy", "cython"):
        try:
            out[pkg] = version(pkg)
        except Exception:
            out[pkg] = "-"
    out["python"] = platform.python_version()
    try:
        out["g++"] = subprocess.run(
            ["g++", "-dumpfullversion"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        out["g++"] = "-"
    return out


def machine_header() -> str:
    v = versions()
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    except Exception:
        pass
    return (
        f"Machine: {cpu_model()} ({cpu_flags()}), nproc={os.cpu_count()}{mem}, {platform.system()} "
        f"{platform.release()}\n" + "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items())
    )


# ----------------------------------------------------------------------------------------------- format
def fmt_s(seconds) -> str:
    if seconds is None or (isinstance(seconds, float) and not np.isfinite(seconds)):
        return "-"
    if seconds >= 100:
        return f"{seconds:.0f} s"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def fmt_rate(x) -> str:
    return "-" if x is None else f"{x:.2e}"


def fmt_ratio(x) -> str:
    if x is None:
        return "-"
    return f"{x:.1f}x" if x < 100 else f"{x:.0f}x"


def table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def steady(fn, repeats=5, min_total=1.0):
    """(first-call seconds, best steady-state seconds, median steady seconds, last result): `fn()` must block
    until its result is ready. Repeats at least `repeats` times or until `min_total` seconds have passed."""
    t0 = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t0
    times = []
    start = time.perf_counter()
    while len(times) < repeats or (time.perf_counter() - start < min_total and len(times) < 50):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return first, min(times), float(np.median(times)), out


# ------------------------------------------------------------------------------------------- workloads
def sweep_workload(num_sets, num_neurons, num_inputs, num_steps, seed=0):
    """Deterministic sweep workload: weights (N_in, N), input (T, N_in) shared by all sets, and per-set
    `bias` (B,) in 5-30 mA and `tau_mem` (B,) log-uniform in 5-50 ms."""
    rng = np.random.default_rng(seed)
    weights = rng.normal(0.0, 0.01, (num_inputs, num_neurons))
    x = rng.normal(0.5, 1.0, (num_steps, num_inputs))
    bias = rng.uniform(0.005, 0.03, num_sets)
    tau = np.exp(rng.uniform(np.log(0.005), np.log(0.05), num_sets))
    return weights, x, bias, tau


# ----------------------------------------------------------------------------------------------- workers
def setup_jax_env(devices: int, x64: bool):
    """Call before `import jax`: `devices` host CPU devices and the precision switch."""
    flags = os.environ.get("XLA_FLAGS", "")
    flags = " ".join(f for f in flags.split() if not f.startswith("--xla_force_host_platform_device_count"))
    os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={devices}".strip()
    os.environ["JAX_ENABLE_X64"] = "1" if x64 else "0"
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    # first calls are measured cold: no persistent compilation cache unless the caller sets one
    os.environ.setdefault("JAXIAF_CACHE_DIR", "0")


def cpu_busy(seconds=1.0) -> float:
    """Fraction of all cores busy over `seconds` (from /proc/stat); this process sleeps meanwhile, so it is
    what other processes use."""

    def read():
        vals = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
        return sum(vals), idle

    try:
        t0, i0 = read()
        time.sleep(seconds)
        t1, i1 = read()
    except (OSError, ValueError, IndexError):
        return 0.0
    return 1.0 - (i1 - i0) / max(t1 - t0, 1)


_QUIET_LOG = []


def wait_for_quiet(threshold=0.15, max_wait=None, log=print) -> float:
    """Wait (up to `max_wait` s, default `$JAXIAF_BENCH_MAX_WAIT` or 30) until other processes use less than
    `threshold` of the cores, so timings are not taken while something else runs (shared machines);
    returns the last busy fraction seen."""
    if max_wait is None:
        max_wait = float(os.environ.get("JAXIAF_BENCH_MAX_WAIT", 30))
    start = time.perf_counter()
    busy = cpu_busy(0.5)
    while busy > threshold and time.perf_counter() - start < max_wait:
        busy = cpu_busy(1.0)
    if busy > threshold:
        log(
            f"  WARNING: other processes use {busy:.0%} of the CPU; "
            "timings may be slower than on a quiet machine"
        )
    _QUIET_LOG.append(busy)
    return busy


def quiet_summary() -> str:
    if not _QUIET_LOG:
        return ""
    return (
        f"CPU used by other processes just before each measurement: max {max(_QUIET_LOG):.0%} "
        f"(median {float(np.median(_QUIET_LOG)):.0%}, {len(_QUIET_LOG)} checks)"
    )


def run_worker(script: str, args: list, timeout=900, env=None) -> dict:
    """Run `python script --worker args...`; return the JSON object it prints last."""
    cmd = [sys.executable, str(HERE / script), "--worker", *map(str, args)]
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, cwd=str(ROOT), env={**os.environ, **(env or {})}
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-8000:])
        raise RuntimeError(f"worker {cmd} failed with code {done.returncode}")
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            out = json.loads(line)
            record("worker", {"script": script, "args": list(map(str, args)), "result": out})
            return out
    raise RuntimeError(f"worker {cmd} printed no JSON:\n{done.stdout[-4000:]}")


def record(kind: str, obj) -> None:
    """Append `obj` as one JSON line to `$JAXIAF_BENCH_JSON` (set by `run_all.py --json`): the raw
    measurements behind the printed tables."""
    path = os.environ.get("JAXIAF_BENCH_JSON")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"kind": kind, **obj}, default=str) + "\n")


def emit(obj):
    print(json.dumps(obj), flush=True)


def vm_hwm_mb(pid="self") -> float:
    """Peak resident memory (MB) of a process, `VmHWM` of /proc/<pid>/status: the one peak-RSS method of
    every benchmark (this process, a JAX worker, the cpp_standalone child)."""
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


def peak_rss_mb() -> float:
    return vm_hwm_mb()


# ----------------------------------------------------------------------------------------------- Brian2
def cython_cache_files(cache_dir=None) -> int:
    """Number of compiled extension files in Brian2's Cython cache (to tell a warm cache from a cold one)."""
    if cache_dir is None:
        cache_dir = Path.home() / ".cython" / "brian_extensions"
    cache_dir = Path(cache_dir)
    if not cache_dir.exists():
        return 0
    return sum(1 for p in cache_dir.iterdir() if p.suffix in (".so", ".pyd"))


def brian_equations() -> str:
    """brian_ref's equations, with the input column chosen by an integer per-neuron `ci` instead of the
    neuron index `i`, so that B parameter sets of the same N neurons share one (T, N) input table (as
    jaxiaf's sweep shares one (T, N) current array) instead of a (T, B*N) one."""
    from brian_ref._layer import _EQUATIONS

    old = "I_in = I_inp(t, i) : amp (constant over dt)"
    assert old in _EQUATIONS, "brian_ref's equations changed; update benchmarks/_common.py"
    return (
        _EQUATIONS.replace(old, "I_in = I_inp(t, ci) : amp (constant over dt)") + "ci : integer (constant)\n"
    )


def brian_run(
    currents,
    channel,
    *,
    bias,
    tau_mem,
    integrator,
    target,
    raster,
    threads=0,
    dt=DT,
    workdir=None,
    v_thresh=-0.055,
    v_reset=-0.065,
    v_rest=-0.065,
    refractory=0.0,
    keep=False,
) -> dict:
    """One Brian2 evolve of `len(channel)` neurons, the layer of `brian_ref.FFIAFBrian2` (same equations,
    integrator methods and parameters) without its (T, N) `v` StateMonitor, which the timed jaxiaf calls
    do not produce either.

    - `currents`: (T, C) input currents (A); neuron j reads column `channel[j]`.
    - `bias`, `tau_mem`: scalars or per-neuron arrays.
    - `raster`: True: a recording `SpikeMonitor` (all spike times and indices); False: a counting one
      (`record=False`: spike counts only).
    - `threads`: cpp_standalone OpenMP threads (0 = Brian2's default, no OpenMP).
    - `keep`: cpp_standalone: leave the built project on the device, so `rerun_standalone` can run the
      binary again; call `release_standalone()` afterwards.

    Returns a dict: `counts` (N,), `spikes` (steps, neurons) if raster, `run` (seconds in `Network.run`,
    code generation and, for cpp_standalone, the g++ build and the binary's run included), `total` (the
    whole call: building the network, running, reading the results back), and for cpp_standalone `make`
    (g++ build), `binary` (running the compiled program) and `sim` (the simulation loop inside it,
    Brian2's `device._last_run_time`).
    """
    import brian2 as b2

    from brian_ref._layer import _METHODS

    t_start = time.perf_counter()
    currents = np.ascontiguousarray(currents, dtype=np.float64)
    num_steps = currents.shape[0]
    n = len(channel)
    standalone = target == "cpp_standalone"
    if standalone:
        if workdir is None:
            workdir = tempfile.mkdtemp(prefix="jaxiaf_bench_cpp_")
        b2.set_device("cpp_standalone", directory=str(workdir), build_on_run=True)
        b2.device.reinit()
        b2.set_device("cpp_standalone", directory=str(workdir), build_on_run=True)
        b2.prefs.devices.cpp_standalone.openmp_threads = int(threads)
    else:
        b2.set_device("runtime")
        b2.prefs.codegen.target = target
    b2.start_scope()
    bdt = dt * b2.second
    b2.defaultclock.dt = bdt
    table = b2.TimedArray(currents * b2.amp, dt=bdt)
    group = b2.NeuronGroup(
        n,
        brian_equations(),
        threshold="v > v_thresh",
        reset="v = v_reset",
        refractory="refr",
        method=_METHODS[integrator],
        namespace={"I_inp": table},
        name="ffiaf_bench",
    )
    group.ci = np.asarray(channel, dtype=np.int32)
    group.Ib = np.broadcast_to(np.asarray(bias, float), (n,)) * b2.amp
    group.tau_m = np.broadcast_to(np.asarray(tau_mem, float), (n,)) * b2.second
    group.v_thresh = v_thresh * b2.volt
    group.v_reset = v_reset * b2.volt
    group.v_rest = v_rest * b2.volt
    group.r_m = 1 * b2.ohm
    group.refr = refractory * b2.second
    group.v = v_rest * b2.volt
    mon = b2.SpikeMonitor(group, record=bool(raster))
    net = b2.Network(group, mon)
    t0 = time.perf_counter()
    net.run(num_steps * bdt, namespace={})
    run = time.perf_counter() - t0
    out = {"run": run}
    out["counts"] = np.asarray(mon.count, dtype=np.int64).copy()
    if raster:
        steps = np.round(np.asarray(mon.t / bdt)).astype(np.int64)
        out["spikes"] = (steps, np.asarray(mon.i, dtype=np.int64).copy())
    if standalone:
        out["make"] = b2.device.timers["compile"]["make"]
        out["binary"] = b2.device.timers["run_binary"]
        out["sim"] = b2.device._last_run_time
        out["total"] = time.perf_counter() - t_start
        if not keep:
            release_standalone()
    else:
        out["total"] = time.perf_counter() - t_start
    return out


def rerun_standalone(workdir, first: tuple, repeats: int):
    """The first run's `(in-binary simulation seconds, seconds running the binary)` and those of
    `repeats - 1` more runs of the built cpp_standalone binary (no code generation, no compilation), as
    two lists."""
    import brian2 as b2

    sims, binaries = [first[0]], [first[1]]
    for _ in range(repeats - 1):
        b2.device.run(directory=str(workdir), with_output=False)
        sims.append(b2.device._last_run_time)
        binaries.append(b2.device.timers["run_binary"])
    return sims, binaries


def release_standalone():
    import brian2 as b2

    b2.device.reinit()
    b2.set_device("runtime")
    b2.prefs.devices.cpp_standalone.openmp_threads = 0


def brian_targets(threads2: bool = True):
    """(label, target, threads) of the Brian2 anchors: numpy, cython, cpp_standalone (one thread, Brian2's
    default) and, if `threads2`, cpp_standalone with OpenMP over both cores."""
    out = [("numpy", "numpy", 0), ("cython", "cython", 0), ("cpp_standalone", "cpp_standalone", 0)]
    if threads2 and (os.cpu_count() or 1) > 1:
        out.append((f"cpp_standalone {os.cpu_count()} threads", "cpp_standalone", os.cpu_count()))
    return out


# ----------------------------------------------------------------------------------------------- reports
def short(label: str) -> str:
    """Column name of an anchor: 'Brian2 cpp_standalone (OpenMP, 2 threads)' -> 'cpp_standalone 2 thr.'."""
    s = label.replace("Brian2 ", "")
    if "(OpenMP," in s:
        s = s.split(" (OpenMP,")[0] + " " + s.split("(OpenMP, ")[1].split(" ")[0] + " thr."
    return s


def results_table(items, ns, *, compare=None, compare_name="same spikes as jaxiaf f64") -> str:
    """Markdown table of `items` = [(label, {"steady", "first", ...})]: time, neuron-steps/s, and the
    speed-up of each row over each Brian2 anchor in `items` (anchor time / row time: >1 means the row is
    faster). `compare(r) -> str` fills the last column."""
    anchors = [
        (label, r["steady"]) for label, r in items if label.startswith("Brian2") and "scaled" not in label
    ]
    anchors += [
        (label, r["steady"]) for label, r in items if label.startswith("Brian2") and "scaled" in label
    ]
    header = ["implementation", "steady time", "neuron-steps/s"]
    header += [f"speed-up vs {short(a)}" for a, _ in anchors]
    header += ["first call (whole)"] + ([compare_name] if compare else [])
    record("table", {"neuron_steps": ns, "rows": {label: r for label, r in items}})
    body = []
    for label, r in items:
        row = [label, fmt_s(r["steady"]), fmt_rate(ns / r["steady"])]
        row += [fmt_ratio(t / r["steady"]) for _, t in anchors]
        row += [fmt_s(r.get("first"))] + ([compare(r)] if compare else [])
        body.append(row)
    return table(header, body)
