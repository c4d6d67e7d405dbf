#!/usr/bin/env python
"""Run every benchmark in sequence and print (and optionally save) their Markdown reports.

    .venv/bin/python benchmarks/run_all.py                     # about 12 minutes on 2 cores
    .venv/bin/python benchmarks/run_all.py --out results.md    # also write the report to a file
    .venv/bin/python benchmarks/run_all.py --only sweep,layer  # a subset

Scripts: precision (float32 vs float64 spikes), latency (c), layer (a), sweep (b), bounded (10^4 sets),
profile (where the time goes). Each one also runs alone: `.venv/bin/python benchmarks/bench_<name>.py`.
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = {
    "precision": "bench_precision.py",
    "latency": "bench_latency.py",
    "layer": "bench_layer.py",
    "sweep": "bench_sweep.py",
    "bounded": "bench_bounded.py",
    "profile": "profile_sweep.py",
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=",".join(SCRIPTS), help=f"comma-separated subset of {list(SCRIPTS)}")
    ap.add_argument("--out", default=None, help="also write the combined report to this file")
    args = ap.parse_args()
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(chosen) - set(SCRIPTS))
    if unknown:
        ap.error(f"unknown benchmark(s) {unknown}; choose from {list(SCRIPTS)}")
    report = []
    start = time.perf_counter()
    failed = []
    for name in chosen:
        t0 = time.perf_counter()
        print(f"\n===== {name}: {SCRIPTS[name]} =====", flush=True)
        proc = subprocess.Popen(
            [sys.executable, str(HERE / SCRIPTS[name])],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=str(HERE.parent),
        )
        lines = []
        for line in proc.stdout:
            # Brian2 and XLA warnings go to the console only, not into the report
            if not line.startswith(("WARNING    ", "INFO       ")) and "spmd_partitioner" not in line:
                lines.append(line)
            print(line, end="", flush=True)
        if proc.wait() != 0:
            failed.append(name)
        report.append("".join(lines) + f"\n({SCRIPTS[name]}: {time.perf_counter() - t0:.0f} s)\n")
    print(f"\nAll done in {time.perf_counter() - start:.0f} s" + (f"; FAILED: {failed}" if failed else ""))
    if args.out:
        Path(args.out).write_text("\n".join(report))
        print(f"Report written to {args.out}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
