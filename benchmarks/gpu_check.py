#!/usr/bin/env python
"""Every GPU measurement in one run (a few minutes), written as one JSON: run it whenever a machine with a
GPU is lent, and put its table in `benchmarks/README.md` with the device it names.

On the default JAX device (float32, input (T, N_in) shared by all sets):

- `sweep`: workload (b), 256 sets x 100 neurons x T = 10^4, counts, rk4 and exact: time, neuron-steps/s,
  and the fraction of the device's memory-bandwidth bound that this is (the XLA loop reads and writes
  the (B, N) state `v`, the refractory counter and the counts every step: 24 bytes per neuron-step);
- `vmap`: the same workload through `jax.vmap(lambda b, t: jaxiaf.summarize(...))`;
- `fit`: one small `jaxiaf.fit` (2 parameters, 5 generations), first call and warm;
- `pallas`: the Pallas kernel (`jaxiaf._core.pallas.counts`) against the XLA loop on the same currents:
  time and whether counts, first spikes and `v` are bit-identical (interpret mode where the backend is
  not a GPU).

    python benchmarks/gpu_check.py --out gpu.json     # a few minutes with a GPU
    python benchmarks/gpu_check.py --smoke            # tiny sizes, CPU interpret mode: a smoke test (< 1 min)
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np
from _common import steady, sweep_workload

BANDWIDTH = {"H100": 3.35e12, "H200": 4.8e12, "A100": 2.0e12, "L4": 3.0e11, "V100": 9.0e11}
"""Peak memory bandwidth (bytes/s) of the devices we know, matched in JAX's `device_kind`."""
BYTES_PER_NEURON_STEP = 24


def _bound(device_kind: str):
    for name, bandwidth in BANDWIDTH.items():
        if name in device_kind:
            return bandwidth / BYTES_PER_NEURON_STEP
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU, Pallas in interpret mode")
    ap.add_argument("--out", default=None, help="write the JSON here (default: print it only)")
    args = ap.parse_args()
    if args.smoke:
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
    os.environ.setdefault("JAXIAF_CACHE_DIR", "0")
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    import jaxiaf
    from jaxiaf._core import pallas
    from jaxiaf._core.pytrees import State
    from jaxiaf._sweep.sweep import _reducer

    sets, neurons, steps = (8, 16, 200) if args.smoke else (256, 100, 10_000)
    device = jax.devices()[0]
    gpu = device.platform == "gpu"
    out = {"device": device.device_kind, "platform": device.platform, "jax": jax.__version__}
    out["shape"] = {"sets": sets, "neurons": neurons, "steps": steps}
    weights, x, bias, tau = sweep_workload(sets, neurons, 100, steps)
    x, bias, tau = (jnp.asarray(a, jnp.float32) for a in (x, bias, tau))
    bound, work = _bound(device.device_kind), sets * neurons * steps
    repeats = 1 if args.smoke else 3
    for integ in ("rk4", "exact"):
        mod = jaxiaf.FFIAF(weights.astype(np.float32), integrator_name=integ)
        run = lambda mod=mod: jaxiaf.sweep(mod, {"bias": bias, "tau_mem": tau}, x).counts
        first, best, _, ref = steady(lambda run=run: jax.block_until_ready(run()), repeats, 0.0)
        rate = work / best
        out[f"sweep/{integ}"] = {"first": first, "steady": best, "neuron_steps_per_s": rate}
        out[f"sweep/{integ}"]["fraction_of_bandwidth_bound"] = None if bound is None else rate / bound
        vary = lambda b, t, mod=mod: mod.set_attributes({"bias": b, "tau_mem": t})
        idiom = jax.jit(jax.vmap(lambda b, t, vary=vary: jaxiaf.summarize(vary(b, t), x)["counts"]))
        first, best, _, counts = steady(
            lambda idiom=idiom: jax.block_until_ready(idiom(bias, tau)), repeats, 0.0
        )
        same = float(np.mean(np.asarray(counts) == np.asarray(ref)))
        out[f"vmap/{integ}"] = {"first": first, "steady": best, "counts_equal_to_sweep": same}
        params = eqx.tree_at(lambda p: (p.bias, p.tau_mem), mod.params, (bias[:, None], tau[:, None]))
        state = mod.neuron_state
        state = State(
            *(jnp.broadcast_to(a, (sets, neurons)) for a in (state.v, state.since_spike)),
            state.key,
            state.step,
        )
        currents = x @ params.weights
        kernel = lambda: pallas.counts(params, mod.sim, state, currents, interpret=not gpu)
        first, best, _, (kc, kf, kv, _) = steady(lambda: jax.block_until_ready(kernel()), repeats, 0.0)
        red = _reducer(("counts", "first_spike_times"), None)
        (acc, _), new, _ = jaxiaf.evolve(params, mod.sim, state, currents, reducer=red, check=False)
        equal = all(np.array_equal(a, b) for a, b in ((kc, acc["counts"]), (kf, acc["first"]), (kv, new.v)))
        out[f"pallas/{integ}"] = {
            "first": first,
            "steady": best,
            "interpret": not gpu,
            "bit_identical": equal,
        }
    truth = jaxiaf.FFIAF(np.ones((1, 1)), tau_mem=0.02, bias=0.008)
    trials = 0.006 + 0.008 * np.random.default_rng(0).standard_normal((2, min(steps, 2000), 1))
    spikes = np.stack([np.asarray(truth(trial)[0]) for trial in trials])
    bounds = {"tau_mem": (5e-3, 50e-3), "bias": (0.0, 0.02)}
    options = dict(spikes=spikes, bounds=bounds, population_size=8, generations=2 if args.smoke else 5)
    fit = lambda: jaxiaf.fit(
        jaxiaf.FFIAF(np.ones((1, 1))), trials, key=jax.random.key(0), progress=False, **options
    )
    t0 = time.perf_counter()
    fit()
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    fit()
    out["fit"] = {"first": cold, "warm": time.perf_counter() - t0}
    text = json.dumps(out, indent=1)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
