"""64 sets of (excitatory weight, input rate) over Brian2's CUBA network with Poisson input: one
`jaxiaf.synapses.sweep` call against 64 Brian2 `cpp_standalone` runs of the same network (issue 23).

CUBA (4000 neurons, 2 % connectivity, `brian_ref.cuba_network`) plus 200 Poisson sources onto `ge` (each
pair connected with probability 0.1, `brian_ref.cuba_input`); set (s, r) scales every excitatory weight
(recurrent and input) by s and gives every source the rate r. float64. jaxiaf: one call, the batch as
the scan's carry (a per-set `scale` of the shared weights, each set's own Poisson key). Brian2: one
build with the weight scale as a neuron variable (`ge += wscale_post * w`) and the rate as the Poisson
group's `rates`, then one `device.run(run_args=...)` per set (no rebuild). The two draw different Poisson
input, so the rates agree in distribution, not spike for spike. Writes JSON to `--out`.

    .venv/bin/python benchmarks/bench_cuba_sweep.py [--steps 10000] [--threads 1 2] [--out FILE.json]
"""

import argparse
import json
import os
import subprocess
import tempfile
import time

import equinox as eqx
import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import jaxiaf  # noqa: E402
from brian_ref._cuba import CUBA_EQUATIONS, CUBA_VALUES, cuba_input, cuba_network  # noqa: E402
from jaxiaf.synapses import Poisson, Synapses, run, sweep  # noqa: E402

N, DT = 4000, 1e-4
SCALES = np.linspace(0.6, 1.3, 8)
RATES = np.linspace(0.0, 70.0, 8)


def grid():
    """The 64 sets, scale-major: `(scales (64,), rates (64,))`."""
    s, r = np.meshgrid(SCALES, RATES, indexing="ij")
    return s.ravel(), r.ravel()


def run_jaxiaf(exc, inh, ext, v0, steps):
    scales, rates = grid()
    layer = jaxiaf.FFIAF(
        np.zeros((1, N)), dt=DT, neuron_eq=CUBA_EQUATIONS, integrator_name="exact", refractory=5e-3,
        **CUBA_VALUES,
    )  # fmt: skip
    layer = layer.set_attributes({"v": jnp.asarray(v0)})
    scale = jnp.asarray(scales[:, None])
    source = Poisson(rates[:, None] * np.ones(len(ext)), DT, steps, jax.random.split(jax.random.key(0), 64))
    go = lambda: sweep(
        layer, {}, source, feedforward=Synapses(ext, 0, "ge += w", scale=scale),
        recurrent=(Synapses(exc, 0, "ge += w", scale=scale), Synapses(inh, 0, "gi += w")),
    )  # fmt: skip
    start = time.perf_counter()
    jax.block_until_ready(go().counts)
    first = time.perf_counter() - start
    start = time.perf_counter()
    counts = np.asarray(jax.block_until_ready(go().counts))
    return counts.sum(axis=1) / (N * steps * DT), first, time.perf_counter() - start


def run_jaxiaf_loop(exc, inh, ext, v0, steps):
    """The same 64 sets as 64 calls of one compiled single-set `run` (warm): `(rates (64,) Hz, s)`."""
    layer = jaxiaf.FFIAF(
        np.zeros((1, N)), dt=DT, neuron_eq=CUBA_EQUATIONS, integrator_name="exact", refractory=5e-3,
        **CUBA_VALUES,
    )  # fmt: skip
    layer = layer.set_attributes({"v": jnp.asarray(v0)})
    keys = jax.random.split(jax.random.key(0), 64)
    built = (  # built once outside the compiled call (concrete weights: their synapses are known)
        Synapses(ext, 0, "ge += w", scale=1.0),
        Synapses(exc, 0, "ge += w", scale=1.0),
        Synapses(inh, 0, "gi += w"),
    )

    @jax.jit
    def one(built, s, r, key):
        ff, e = (eqx.tree_at(lambda g: g.scale, g, jnp.asarray(s)) for g in built[:2])
        source = Poisson(r * jnp.ones(len(ext)), DT, steps, key)
        return run(layer, source, feedforward=ff, recurrent=(e, built[2]))[0]

    scales, rates = grid()
    jax.block_until_ready(one(built, scales[0], rates[0], keys[0]))
    start = time.perf_counter()
    counts = [int(one(built, scales[b], rates[b], keys[b]).sum()) for b in range(64)]
    return np.asarray(counts) / (N * steps * DT), time.perf_counter() - start


def run_brian(exc, inh, ext, v0, steps, threads):
    """One build, then one run per set: `(rates (64,) Hz, build s, [run s], [simulation s])`."""
    import brian2 as b2

    directory = tempfile.mkdtemp(prefix="cuba_sweep_")
    b2.set_device("cpp_standalone", directory=directory, build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = threads
    b2.start_scope()
    values = {k: v for k, v in CUBA_VALUES.items() if k != "R"}
    eqs = CUBA_EQUATIONS.replace(" + R*I_inp", "").split("\nv_rest")[0] + "\nwscale : 1 (constant)"
    group = b2.NeuronGroup(
        N, eqs, threshold="v > v_thresh", reset="v = v_reset", refractory=5 * b2.ms, method="exact",
        namespace={k: v * (b2.second if k.startswith("tau") else b2.volt) for k, v in values.items()},
        dt=DT * b2.second,
    )  # fmt: skip
    group.v = v0 * b2.volt
    group.wscale = 1.0
    poisson = b2.PoissonGroup(len(ext), rates=np.zeros(len(ext)) * b2.Hz, dt=DT * b2.second)
    synapses = []
    for source, weights, on_pre in (
        (poisson, ext, "ge += wscale_post * w"),
        (group, exc, "ge += wscale_post * w"),
        (group, inh, "gi += w"),
    ):
        i, j = np.nonzero(weights)
        syn = b2.Synapses(source, group, "w : volt", on_pre=on_pre, dt=DT * b2.second)
        syn.connect(i=i, j=j)
        syn.w = weights[i, j] * b2.volt
        synapses.append(syn)
    monitor = b2.SpikeMonitor(group)
    net = b2.Network(group, poisson, *synapses, monitor)
    net.run(steps * DT * b2.second)
    start = time.perf_counter()
    b2.device.build(directory=directory, run=False)  # (its default directory is ./output)
    build = time.perf_counter() - start
    rates, walls, sims = [], [], []
    for s, r in zip(*grid(), strict=True):
        start = time.perf_counter()
        b2.device.run(run_args={group.wscale: s, poisson.rates: r * b2.Hz})
        walls.append(time.perf_counter() - start)
        sims.append(float(b2.device._last_run_time))
        rates.append(monitor.num_spikes / (N * steps * DT))
    b2.device.reinit()
    b2.device.activate()
    b2.set_device("runtime")
    return np.asarray(rates), build, walls, sims


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10000)
    parser.add_argument("--threads", type=int, nargs="+", default=[1])
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    exc, inh, v0 = cuba_network()
    ext = cuba_input()
    load = os.getloadavg()
    ours, first, warm = run_jaxiaf(exc, inh, ext, v0, args.steps)
    print(f"jaxiaf, 64 sets in one call: first call {first:.1f} s, warm call {warm:.1f} s")
    alone, loop = run_jaxiaf_loop(exc, inh, ext, v0, args.steps)
    print(
        f"jaxiaf, the 64 sets as 64 single-set calls: {loop:.1f} s; same rates as the sweep: "
        f"{np.array_equal(alone, ours)}"
    )
    out = dict(
        steps=args.steps, scales=SCALES.tolist(), rates_hz=RATES.tolist(), load_before=load,
        sha=subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
        jaxiaf=dict(first_call_s=first, warm_call_s=warm, mean_rate_hz=ours.tolist()),
        jaxiaf_loop=dict(warm_s=loop, same_rates_as_the_sweep=bool(np.array_equal(alone, ours))),
    )  # fmt: skip
    for threads in args.threads:
        theirs, build, walls, sims = run_brian(exc, inh, ext, v0, args.steps, threads)
        print(
            f"Brian2 cpp_standalone, {threads} thread(s): build {build:.1f} s, 64 runs {sum(walls):.1f} s "
            f"(their simulation loops {sum(sims):.1f} s)"
        )
        print("mean rates, jaxiaf vs Brian2 (Hz), by scale (rows) and input rate (columns):")
        print(np.array2string(np.stack([ours, theirs], -1).reshape(8, 8, 2).round(1), max_line_width=200))
        out[f"brian2_standalone_{threads}"] = dict(
            build_s=build, runs_s=walls, simulation_s=sims, mean_rate_hz=theirs.tolist()
        )
    out["load_after"] = os.getloadavg()
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
