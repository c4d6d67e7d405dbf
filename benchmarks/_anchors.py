"""The anchors every workload is measured against in the same run: Brian2 (numpy, cython, cpp_standalone)
and the hand-written C loop (`c_loop.c`)."""

import subprocess
import tempfile
from pathlib import Path

from _common import HERE, brian_run, cython_cache_files, release_standalone, rerun_standalone


def brian_case(
    label, target, threads, currents, channel, *, bias, tau_mem, integrator, raster, repeats=2, log=print
):
    """Run one Brian2 case; returns a dict with `steady` (the simulation, best of the timed runs), `first`
    (the whole first call), `counts`, and the details.

    - numpy: one run (nothing to compile; code generation, a few ms, is inside the timing);
      `steady` = its `Network.run` time.
    - cython: `repeats` (at least 2) runs in this process; the first compiles (cold cache) or loads the
      cached extensions; `steady` = the best `Network.run` of the later runs.
    - cpp_standalone: one build-and-run (`first` = network construction + code generation + g++ + the
      binary + reading the results), then the binary is run again `repeats - 1` times without rebuilding;
      `steady` = the best in-binary simulation time (Brian2's `device._last_run_time`).
    """
    kw = dict(
        bias=bias, tau_mem=tau_mem, integrator=integrator, target=target, raster=raster, threads=threads
    )
    out = {"label": label}
    if target == "numpy":
        r = brian_run(currents, channel, **kw)
        out.update(first=r["total"], steady=r["run"], counts=r["counts"], spikes=r.get("spikes"))
    elif target == "cython":
        before = cython_cache_files()
        runs = [brian_run(currents, channel, **kw) for _ in range(max(repeats, 2))]
        out.update(
            first=runs[0]["total"],
            steady=min(r["run"] for r in runs[1:]),
            counts=runs[-1]["counts"],
            spikes=runs[-1].get("spikes"),
            cache="warm" if cython_cache_files() == before else "cold",
        )
    else:
        with tempfile.TemporaryDirectory(prefix="jaxiaf_bench_cpp_") as work:
            try:
                r = brian_run(currents, channel, workdir=work, keep=True, **kw)
                sims, binaries = rerun_standalone(work, (r["sim"], r["binary"]), repeats)
            finally:
                release_standalone()
        out.update(
            first=r["total"],
            steady=min(sims),
            counts=r["counts"],
            spikes=r.get("spikes"),
            make=r["make"],
            binary=min(binaries),
        )
    extra = f" (cython cache {out['cache']})" if "cache" in out else ""
    if "make" in out:
        extra = f" (g++ {out['make']:.1f} s, binary {out['binary']:.2f} s)"
    log(
        f"  brian2 {label:<26} {integrator:<5} {'raster' if raster else 'counts'}: "
        f"steady {out['steady']:.3f} s, "
        f"first call {out['first']:.2f} s{extra}"
    )
    return out


def build_c_loop(workdir) -> Path | None:
    exe = Path(workdir) / "c_loop"
    cmd = [
        "gcc",
        "-O3",
        "-march=native",
        "-ffast-math",
        "-fopenmp",
        str(HERE / "c_loop.c"),
        "-o",
        str(exe),
        "-lm",
    ]
    try:
        subprocess.run(cmd, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return exe


def c_loop(exe, integrator, batch, n, steps, threads, repeats=3) -> float:
    """Best loop time (s) of the hand-written C anchor."""
    times = []
    for _ in range(repeats):
        out = subprocess.run(
            [str(exe), integrator, str(batch), str(n), str(steps), str(threads)],
            check=True,
            capture_output=True,
            text=True,
        )
        times.append(float(out.stdout.split()[0]))
    return min(times)
