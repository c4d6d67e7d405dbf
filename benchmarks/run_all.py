#!/usr/bin/env python
"""Run every benchmark in sequence and print (and optionally save) their Markdown reports.

    .venv/bin/python benchmarks/run_all.py                     # about 12 minutes on 2 cores
    .venv/bin/python benchmarks/run_all.py --out results.md    # also write the report to a file
    .venv/bin/python benchmarks/run_all.py --only sweep,layer  # a subset
    .venv/bin/python benchmarks/run_all.py --json raw.jsonl    # also the raw measurements, one JSON a line

Scripts: precision (float32 vs float64 spikes), latency (c), layer (a), sweep (b), bounded (10^4 sets),
profile (where the time goes). Each one also runs alone: `.venv/bin/python benchmarks/bench_<name>.py`.
"""

import argparse
import os
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
    ap.add_argument("--json", default=None, help="write the raw measurements (JSON lines) to this file")
    args = ap.parse_args()
    env = dict(os.environ)
    if args.json:
        Path(args.json).write_text("")
        env["JAXIAF_BENCH_JSON"] = str(Path(args.json).resolve())
    sha = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=HERE
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "jaxiaf", "benchmarks"],
        capture_output=True,
        text=True,
        cwd=HERE,
    ).stdout
    header = f"git SHA {sha or '?'}" + (
        " (with uncommitted changes in jaxiaf/ or benchmarks/)" if dirty.strip() else ""
    )
    print(header, flush=True)
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(chosen) - set(SCRIPTS))
    if unknown:
        ap.error(f"unknown benchmark(s) {unknown}; choose from {list(SCRIPTS)}")
    report = [header + "\n"]
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
            env=env,
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
