"""64 sets of (excitatory weight, input rate) over Brian2's CUBA network with Poisson input: one
`jaxiaf.synapses.sweep` call against 64 Brian2 `cpp_standalone` runs of the same network (issue 23).

CUBA (4000 neurons, 2 % connectivity, `brian_ref.cuba_network`) plus 200 Poisson sources onto `ge` (each
pair connected with probability 0.1, `brian_ref.cuba_input`); set (s, r) scales every excitatory weight
(recurrent and input) by s and gives every source the rate r. float64. jaxiaf: one call (a per-set `scale`
of the shared weights, each set's own Poisson key), first and second call, at its default `chunk_size`
(one set at a time inside the call); the same 64 sets as 64 calls of one compiled single-set `run` (their
per-neuron counts must equal the sweep's, and the rasters of three sets the sweep's rasters); the
sweep's warm call at each `--chunks` size over `--chunk-steps` steps. Brian2: one build with the weight
scale as a neuron variable (`ge += wscale_post * w`) and the rate as the Poisson group's `rates`, then one
`device.run(run_args=...)` per set (no rebuild). The two draw different Poisson input, so the rates agree
in distribution, not spike for spike. Wall and process (CPU) seconds; writes JSON to `--out`.

    .venv/bin/python benchmarks/bench_cuba_sweep.py [--steps 10000] [--threads 1 2] [--chunks 1 8 64]
        [--chunk-steps 1000] [--out FILE.json]
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


FEW = (0, 27, 63)
"""The sets whose rasters are compared with their single runs."""


def clocks():
    return time.perf_counter(), time.process_time()


def since(start):
    wall, cpu = clocks()
    return dict(wall_s=wall - start[0], cpu_s=cpu - start[1])


def layer_of(v0):
    layer = jaxiaf.FFIAF(
        np.zeros((1, N)), dt=DT, neuron_eq=CUBA_EQUATIONS, integrator_name="exact", refractory=5e-3,
        **CUBA_VALUES,
    )  # fmt: skip
    return layer.set_attributes({"v": jnp.asarray(v0)})


def sweep_of(exc, inh, ext, v0, steps, sets, chunk_size=1, outputs=("counts",)):
    """The sweep over `sets` (indices into the grid), as a function of no argument."""
    scales, rates = (a[list(sets)] for a in grid())
    keys = jax.random.split(jax.random.key(0), 64)[np.asarray(sets)]
    scale = jnp.asarray(scales[:, None])
    source = Poisson(rates[:, None] * np.ones(len(ext)), DT, steps, keys)
    return lambda: sweep(
        layer_of(v0), {}, source, feedforward=Synapses(ext, 0, "ge += w", scale=scale),
        recurrent=(Synapses(exc, 0, "ge += w", scale=scale), Synapses(inh, 0, "gi += w")),
        outputs=outputs, chunk_size=chunk_size,
    )  # fmt: skip


def run_jaxiaf(exc, inh, ext, v0, steps):
    """The 64 sets in one call, twice: `(counts (64, N), first call, second call)`."""
    go = sweep_of(exc, inh, ext, v0, steps, range(64))
    start = clocks()
    jax.block_until_ready(go().counts)
    first = since(start)
    start = clocks()
    counts = np.asarray(jax.block_until_ready(go().counts))
    return counts, first, since(start)


def run_chunks(exc, inh, ext, v0, steps, chunks):
    """The sweep's second call at each chunk size: `{chunk: times}`."""
    out = {}
    for chunk in chunks:
        go = sweep_of(exc, inh, ext, v0, steps, range(64), chunk_size=chunk)
        jax.block_until_ready(go().counts)
        start = clocks()
        jax.block_until_ready(go().counts)
        out[str(chunk)] = since(start)
        print(f"chunk_size {chunk}: {out[str(chunk)]['wall_s']:.1f} s ({steps} steps)", flush=True)
    return out


def run_jaxiaf_loop(exc, inh, ext, v0, steps):
    """The same 64 sets as 64 calls of one compiled single-set `run` (warm): `(counts (64, N), rasters of
    FEW, times)`."""
    layer = layer_of(v0)
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
    counts, rasters = [], {}
    start = clocks()
    for b in range(64):
        raster = np.asarray(one(built, scales[b], rates[b], keys[b]))
        counts.append(raster.sum(axis=0))
        if b in FEW:
            rasters[b] = raster
    return np.asarray(counts), rasters, since(start)


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
    parser.add_argument("--chunks", type=int, nargs="*", default=[])
    parser.add_argument("--chunk-steps", type=int, default=1000)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    exc, inh, v0 = cuba_network()
    ext = cuba_input()
    out = dict(
        steps=args.steps, scales=SCALES.tolist(), rates_hz=RATES.tolist(), load_before=os.getloadavg(),
        sha=subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
        dirty=bool(subprocess.run(["git", "status", "--porcelain", "jaxiaf", "benchmarks"],
                                  capture_output=True, text=True).stdout.strip()),
    )  # fmt: skip
    counts, first, warm = run_jaxiaf(exc, inh, ext, v0, args.steps)
    ours = counts.sum(axis=1) / (N * args.steps * DT)
    print(f"jaxiaf, 64 sets in one call: first call {first['wall_s']:.1f} s, second {warm['wall_s']:.1f} s")
    alone, rasters, loop = run_jaxiaf_loop(exc, inh, ext, v0, args.steps)
    swept = sweep_of(exc, inh, ext, v0, args.steps, FEW, outputs=("spikes",))().spikes
    equal = {str(b): bool(np.array_equal(swept[i], rasters[b])) for i, b in enumerate(FEW)}
    same_rasters = all(equal.values())
    print(
        f"jaxiaf, the 64 sets as 64 single-set calls: {loop['wall_s']:.1f} s; per-neuron counts equal to "
        f"the sweep's: {np.array_equal(alone, counts)}; rasters of sets {FEW} equal: {same_rasters}"
    )
    out["load_jaxiaf"] = os.getloadavg()
    out["jaxiaf"] = dict(
        first_call=first, second_call=warm, mean_rate_hz=ours.tolist(), spikes=int(counts.sum())
    )
    out["jaxiaf_loop"] = dict(
        times=loop, same_counts_as_the_sweep=bool(np.array_equal(alone, counts)),
        same_rasters_as_the_sweep=equal,
    )  # fmt: skip
    if args.chunks:
        out["chunks"] = dict(
            steps=args.chunk_steps, **run_chunks(exc, inh, ext, v0, args.chunk_steps, args.chunks)
        )
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
