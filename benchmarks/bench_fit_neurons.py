#!/usr/bin/env python
"""Per-neuron fitting (`jaxiaf.fit(..., per_neuron=True)`): 100 neurons, each with its own `tau_mem` and
`bias`, from Brian2 spike trains, with the fit's defaults (float32, one CPU device).

Each neuron gets one input through its own weight (0.5-1.5), 3 trials of 0.5 s of white-noise current;
truths are drawn uniformly (`tau_mem` 10-40 ms, `bias` 4-12 mA) and simulated by `brian_ref`. A value is
recovered when it is within 5 % of its truth (`brian_ref/scenarios.py`: `neurons_problem`;
`brian_ref/parity.py`: `fit_neurons`). The test version (8 neurons) is
`tests/test_fit_suite.py::test_per_neuron_parameters_are_recovered`.

    .venv/bin/python benchmarks/bench_fit_neurons.py [--neurons 100] [--json PATH]
"""

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=1")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from _common import cpu_busy, machine_header  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--neurons", type=int, default=100)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--json", default="benchmarks/results/fit_neurons.json")
    args = parser.parse_args()
    from brian_ref.parity import fit_neurons
    from brian_ref.scenarios import neurons_problem

    start = time.perf_counter()
    truth, weights, x, spikes = neurons_problem(args.neurons, args.seed)
    brian_s = time.perf_counter() - start
    import jax

    busy = cpu_busy()
    start = time.perf_counter()
    result = fit_neurons(weights, x, spikes, key=jax.random.key(0))
    wall = time.perf_counter() - start
    errors = {k: np.abs(result.best_params[k] / truth[k] - 1) for k in truth}
    within = {k: float((e < 0.05).mean()) for k, e in errors.items()}
    both = float(np.mean(np.all([e < 0.05 for e in errors.values()], axis=0)))
    flagged = np.array([bool(r.flags) for r in result.neurons])
    missed = ~np.all([e < 0.05 for e in errors.values()], axis=0)
    sha = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    summary = {
        "sha": sha,
        "machine": machine_header(),
        "neurons": args.neurons,
        "values_within_5pct": float(np.mean([e < 0.05 for e in errors.values()])),
        "per_parameter_within_5pct": within,
        "neurons_with_both_within_5pct": both,
        "missed_neurons_flagged": f"{int(np.sum(flagged & missed))}/{int(missed.sum())}",
        "recovered_neurons_flagged": f"{int(np.sum(flagged & ~missed))}/{int((~missed).sum())}",
        "wall_s": wall,
        "brian2_data_s": brian_s,
        "cpu_busy_before": busy,
        "target_spikes_per_neuron_median": float(np.median(spikes.sum(axis=(0, 1)))),
    }
    print(machine_header())
    print(json.dumps(summary, indent=1))
    rows = [
        {
            "neuron": n,
            "best": {k: float(result.best_params[k][n]) for k in truth},
            "truth": {k: float(truth[k][n]) for k in truth},
            "flags": list(r.flags),
            "stop_reason": r.stop_reason,
        }
        for n, r in enumerate(result.neurons)
    ]
    with open(args.json, "w") as f:
        json.dump({**summary, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
