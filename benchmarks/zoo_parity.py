"""The model zoo's parity with Brian2, per model and integrator (float64, numpy target): the table of
`benchmarks/README.md`. The same runs as `tests/test_equations.py::test_zoo_matches_brian`, whose
assertions are the claims; this script only reports the figures.

    python benchmarks/zoo_parity.py [--json benchmarks/results/zoo_parity.json]
"""

import argparse
import json
import pathlib
import subprocess

import jax

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402

from brian_ref.parity import run_both  # noqa: E402
from brian_ref.zoo import ZOO, same_trains, transcendental  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", default="benchmarks/results/zoo_parity.json")
    args = parser.parse_args()
    rows = []
    print(
        "| model | integrator | scenarios | identical spike trains | bit-identical state | max abs v diff |"
    )
    print("|---|---|---|---|---|---|")
    cases = [(name, method) for name, zoo in ZOO.items() for method in zoo.methods]
    for seed, (name, method) in enumerate(cases):  # the seeds of the test
        spikes, traces, ref, model = run_both(ZOO[name], method, seed=seed)
        same = same_trains(spikes, ref.raster())
        exact = all(np.array_equal(traces[k], ref.traces[k]) for k in traces)
        gap = float(np.abs(traces["v"] - ref.traces["v"]).max())
        rows.append(
            dict(
                model=name,
                method=method,
                scenarios=int(same.size),
                identical=float(same.mean()),
                bit_identical=exact,
                max_v_diff=gap,
                transcendental=transcendental(model),
            )
        )
        bit = "yes" if exact else "no"
        print(f"| {name} | {method} | {same.size} | {same.mean():.0%} | {bit} | {gap:.2g} V |")
    sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    pathlib.Path(args.json).write_text(json.dumps({"git_sha": sha, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
