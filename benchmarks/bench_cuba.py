"""Brian2's CUBA benchmark (Vogels & Abbott 2005) in `jaxiaf` beside Brian2 (numpy target), float64.

4000 neurons (3200 excitatory), connection probability 0.02, `exact` integration, refractory 5 ms,
dt 0.1 ms; the same connectivity and initial `v` on both sides. Prints the spike counts, whether the
rasters are identical (or the first step where they differ) and the wall times (compile separately),
and writes them to `--out` (JSON) with the commit and the load average.

    .venv/bin/python benchmarks/bench_cuba.py [--steps 10000] [--max-spikes K] [--standalone] [--out F]
"""

import argparse
import json
import os
import subprocess
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import jaxiaf  # noqa: E402
from brian_ref import CUBA_EQUATIONS, CUBA_VALUES, SynapticLayer, cuba_network  # noqa: E402
from jaxiaf.synapses import Synapses, run  # noqa: E402

CUBA, VALUES = CUBA_EQUATIONS, CUBA_VALUES
N, DT = 4000, 1e-4


def run_jaxiaf(exc, inh, v0, steps, max_spikes):
    layer = jaxiaf.FFIAF(
        np.zeros((1, N)), dt=DT, neuron_eq=CUBA, integrator_name="exact", refractory=5e-3, **VALUES
    )
    layer = layer.set_attributes({"v": jnp.asarray(v0)})
    groups = (
        Synapses(exc, on_pre="ge += w", max_spikes=max_spikes),
        Synapses(inh, on_pre="gi += w", max_spikes=max_spikes),
    )
    x = jnp.zeros((steps, 1))
    go = jax.jit(lambda layer, x: run(layer, recurrent=groups, x=x)[0])
    start = time.perf_counter()
    go(layer, x).block_until_ready()
    first = time.perf_counter() - start
    start = time.perf_counter()
    raster = np.asarray(go(layer, x).block_until_ready())
    return raster, first, time.perf_counter() - start


def run_brian(exc, inh, v0, steps):
    layer = SynapticLayer(
        CUBA,
        method="exact",
        refractory=5e-3,
        parameters=VALUES,
        dt=DT,
        recurrent=[(exc, 0, "ge += w"), (inh, 0, "gi += w")],
    )
    start = time.perf_counter()
    result = layer.evolve(None, N, currents=np.zeros((steps, N)), init={"v": v0})
    return result.raster(), time.perf_counter() - start, result.wall_time


def run_standalone(exc, inh, v0, steps, threads):
    """The same network as a plain Brian2 script on `cpp_standalone` (its default compiler flags, which
    include `-ffast-math`: not bit-exact), `threads` OpenMP threads: `(raster, build and run s, run s)`."""
    import tempfile

    import brian2 as b2

    b2.set_device("cpp_standalone", directory=tempfile.mkdtemp(prefix="cuba_"), build_on_run=True)
    b2.prefs.devices.cpp_standalone.openmp_threads = threads
    b2.start_scope()
    values = {k: v for k, v in VALUES.items() if k != "R"}
    group = b2.NeuronGroup(
        N,
        CUBA.replace(" + R*I_inp", "").split("\nv_rest")[0],
        threshold="v > v_thresh",
        reset="v = v_reset",
        refractory=5 * b2.ms,
        method="exact",
        namespace={k: v * (b2.second if k.startswith("tau") else b2.volt) for k, v in values.items()},
        dt=DT * b2.second,
    )
    group.v = v0 * b2.volt
    synapses = []
    for weights, on_pre in ((exc, "ge += w"), (inh, "gi += w")):
        sources, targets = np.nonzero(weights)
        group_synapses = b2.Synapses(group, group, "w : volt", on_pre=on_pre, dt=DT * b2.second)
        group_synapses.connect(i=sources, j=targets)
        group_synapses.w = weights[sources, targets] * b2.volt
        synapses.append(group_synapses)
    monitor = b2.SpikeMonitor(group)
    net = b2.Network(group, *synapses, monitor)
    start = time.perf_counter()
    net.run(steps * DT * b2.second)
    total = time.perf_counter() - start
    raster = np.zeros((steps, N), bool)
    raster[np.round(np.asarray(monitor.t / (DT * b2.second))).astype(int), np.asarray(monitor.i)] = True
    seconds = b2.device._last_run_time
    b2.device.reinit()
    b2.device.activate()
    b2.set_device("runtime")
    return raster, total, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10000)
    parser.add_argument(
        "--max-spikes", type=int, default=None, help="bound the rounds per step (default none)"
    )
    parser.add_argument("--no-brian", action="store_true", help="jaxiaf alone (e.g. an older revision)")
    parser.add_argument("--out", default=None, help="JSON file for the figures")
    parser.add_argument(
        "--standalone", action="store_true", help="also Brian2 cpp_standalone, 1 and 2 threads"
    )
    args = parser.parse_args()
    exc, inh, v0 = cuba_network()
    sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    out = dict(steps=args.steps, max_spikes=args.max_spikes, sha=sha, jaxiaf_file=jaxiaf.__file__)
    out["load_before"] = os.getloadavg()
    raster, first, warm = run_jaxiaf(exc, inh, v0, args.steps, args.max_spikes)
    print(f"jaxiaf: {int(raster.sum())} spikes; first call {first:.1f} s, warm call {warm:.2f} s")
    out["jaxiaf"] = dict(spikes=int(raster.sum()), first_call_s=first, warm_call_s=warm)
    if not args.no_brian:
        expected, total, net_run = run_brian(exc, inh, v0, args.steps)
        print(
            f"Brian2 numpy: {int(expected.sum())} spikes; {total:.1f} s in all, Network.run {net_run:.1f} s"
        )
        differ = np.flatnonzero(np.any(raster != expected, axis=1))
        print("identical rasters" if not len(differ) else f"first differing step: {differ[0]}")
        out["brian2_numpy"] = dict(
            spikes=int(expected.sum()), total_s=total, network_run_s=net_run,
            first_differing_step=int(differ[0]) if len(differ) else None,
        )  # fmt: skip
    for threads in (1, 2) if args.standalone else ():
        other, total, seconds = run_standalone(exc, inh, v0, args.steps, threads)
        differ = np.flatnonzero(np.any(raster != other, axis=1))
        same = "identical to jaxiaf" if not len(differ) else f"first step differing from jaxiaf: {differ[0]}"
        print(
            f"Brian2 cpp_standalone, {threads} thread(s): {int(other.sum())} spikes; {total:.1f} s with the "
            f"build, run {seconds:.2f} s; {same}"
        )
        out[f"brian2_standalone_{threads}"] = dict(
            spikes=int(other.sum()), build_and_run_s=total, run_s=seconds,
            first_step_differing_from_jaxiaf=int(differ[0]) if len(differ) else None,
        )  # fmt: skip
    out["load_after"] = os.getloadavg()
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
