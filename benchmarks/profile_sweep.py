#!/usr/bin/env python
"""Where the time goes: the experiments behind "what limits it" in benchmarks/README.md.

1. The compiled loop bodies of a counts-only sweep (workload (b)), with the refractory counter and
   without it (the loop `evolve` runs where refractoriness cannot act, float32): the fusions XLA:CPU
   emits per step, which carried arrays they write, and the collectives in float64 sharded sweeps.
2. Throughput of workload (b) (256 x 100 x 10^4, counts, float32, all cores) for variants of the step:
   the library's `sweep`; its `_run_chunk` with a counts-only reducer; minimal JAX scans carrying only
   (v, counts) with Brian2's arithmetic and with the library's float32 affine update; the affine scan with
   an in-step refractory counter (the library's loop before it was pipelined) and with
   `lax.scan(unroll=2)`; one device; smaller chunks.
3. Devices and chunk sizes; XLA:CPU flags (each in a fresh process).
4. Workloads (a) and (c): the input matmul, the core on precomputed currents, the module call, `jax.jit`.

    .venv/bin/python benchmarks/profile_sweep.py                # sections 1-5, about 2 minutes
    .venv/bin/python benchmarks/profile_sweep.py --sections 6   # float64 sharded sweeps (they once hung)
"""

import argparse
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np
from _common import emit, fmt_rate, fmt_s, machine_header, run_worker, setup_jax_env, table, wait_for_quiet

B, N, N_IN, T = 256, 100, 100, 10_000
FLAGS = [
    "",
    "--xla_cpu_enable_fast_math=true --xla_cpu_fast_math_honor_division=false",
    "--xla_cpu_prefer_vector_width=512",
    "--xla_cpu_multi_thread_eigen=false",
    "--xla_cpu_use_thunk_runtime=false",
]


def workload():
    from bench_sweep import workload as w

    return w(T)


def best(fn, repeats=5):
    import jax

    jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return min(times)


def loop_bodies(hlo_text):
    """`[(ops, text)]` for each while loop's body computation in optimized HLO text, in program order:
    the op counts and the text. `evolve` compiles two loops where refractoriness may not act: the one
    that keeps the refractory counter (its body holds `NEVER` = 1073741824) and the one without it."""
    out = []
    for m in re.finditer(r"while\([^)]*\), condition=%?([\w.\-]+), body=%?([\w.\-]+)", hlo_text):
        start = hlo_text.index(f"%{m.group(2)} ")
        text = hlo_text[start : hlo_text.index("\n}\n", start)]
        ops = {}
        for op in re.findall(r"= [^ ]+ ([a-z\-]+)\(", text):
            ops[op] = ops.get(op, 0) + 1
        out.append((ops, text))
    return out


def _called(hlo_text, body):
    """The body's text with the text of the fusions it calls (where the loop's constants appear)."""
    names = re.findall(r"calls=%?([\w.\-]+)", body)
    return body + "".join(hlo_text[hlo_text.index(f"%{n} ") :].split("\n}\n", 1)[0] for n in names)


# ------------------------------------------------------------------------------------------- workers
def chunk_args(mod, params, x, dtype, shard=True):
    import jax.numpy as jnp

    import jaxiaf
    from jaxiaf._sweep import sharding as _sharding
    from jaxiaf._sweep import sweep as _sweep

    p, sim, state = _sweep._batched_inputs(mod, params, B, dtype, False)
    tree = (p, sim, state, jnp.asarray(x, dtype), jaxiaf.step_constants(p, sim))
    mask = _sweep._batched_mask(tree, set(params))
    mesh = _sharding.mesh() if shard else None
    return _sharding.place(_sweep._take(tree, mask, 0, B, B), mask, mesh)


def worker_hlo(precision):
    setup_jax_env(devices=os.cpu_count() or 1, x64=precision == "f64")
    import jax.numpy as jnp

    import jaxiaf
    from jaxiaf._sweep import sweep as _sweep

    weights, x, bias, tau = workload()
    out = {}
    for integ in ("rk4", "exact"):
        mod = jaxiaf.FFIAF(weights, integrator_name=integ)
        dtype = jnp.float64 if precision == "f64" else jnp.float32
        args = chunk_args(mod, {"bias": bias, "tau_mem": tau}, x[:100], dtype)
        red = _sweep._reducer(("counts",), None)
        text = _sweep._top_chunk.lower(*args, red).compile().as_text()
        coll = sum(
            text.count(f" {c}(") for c in ("all-reduce", "all-gather", "collective-permute", "all-to-all")
        )
        for ops, body in loop_bodies(text):
            counter = "1073741824" in _called(text, body)
            out[f"{integ}, {'with' if counter else 'without'} the refractory counter"] = {
                "ops": ops,
                "fusion_shapes": re.findall(r"= (\S+)\{[^}]*\} fusion\(", body),
                "collectives_total": coll,
                "collectives_in_body": sum(ops.get(c, 0) for c in ("all-reduce", "all-gather")),
            }
    emit(out)


def worker_variants():
    setup_jax_env(devices=os.cpu_count() or 1, x64=False)
    import jax
    import jax.numpy as jnp
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    import jaxiaf
    from jaxiaf._core.scan import Reducer
    from jaxiaf._sweep import sweep as _sweep

    weights, x, bias, tau = workload()
    params = {"bias": bias, "tau_mem": tau}
    ndev = len(jax.devices())
    mesh = jax.make_mesh((ndev,), ("b",))
    row, rep = NamedSharding(mesh, P("b")), NamedSharding(mesh, P())
    u = jax.device_put(jnp.asarray(x @ weights, jnp.float32), rep)
    b_ = jax.device_put(jnp.asarray(bias, jnp.float32)[:, None], row)
    t_ = jax.device_put(jnp.asarray(tau, jnp.float32)[:, None], row)
    v0 = jax.device_put(jnp.full((B, N), -0.065, jnp.float32), row)
    dt, vr, vth = 1e-4, -0.065, -0.055
    counts_only = Reducer(
        lambda shape, dtype: jnp.zeros(shape, jnp.int32), lambda acc, k, spike, v: (acc + spike, None)
    )

    def lean(integ, affine=False, unroll=1, refractory=False):
        @jax.jit
        def f(u, bias, tau, v0):
            e = jnp.exp(-dt / tau)
            h = dt / tau
            coef = -jnp.expm1(-h) if integ == "exact" else h * (1 - h * (0.5 - h * (1 / 6 - h / 24)))
            steps = jnp.zeros_like(tau, dtype=jnp.int32)  # refractory steps (0 here), per set

            def body(c, ut):
                v, cnt, since = c
                if affine:  # the library's float32 update: v + (v_inf - v) * c
                    y = v + ((vr + (ut + bias)) - v) * coef
                elif integ == "exact":
                    y = ((ut + bias) + v * e + vr) + ((-ut) - (bias + vr)) * e
                else:
                    cc = ut + bias + vr
                    d = lambda z: dt * z / tau
                    k1 = d(cc - v)
                    k2 = d((0.5 * -k1 + cc) - v)
                    k3 = d((0.5 * -k2 + cc) - v)
                    k4 = d((-k3 + cc) - v)
                    y = k1 / 6 + k2 / 3 + k3 / 3 + k4 / 6 + v
                if refractory:  # the library's refractory logic: a since-last-spike counter per neuron
                    nr = since >= steps
                    y = jnp.where(nr, y, v)
                    sp = (y > vth) & nr
                    since = jnp.where(sp, 1, jnp.minimum(since + 1, 2**30))
                else:
                    sp = y > vth
                return (jnp.where(sp, vr, y), cnt + sp, since), None

            zeros = jnp.zeros(v0.shape, jnp.int32)
            (v, cnt, _), _ = jax.lax.scan(body, (v0, zeros, zeros + 2**30), u, unroll=unroll)
            return cnt

        return lambda: f(u, b_, t_, v0)

    out = {}
    for integ in ("rk4", "exact"):
        mod = jaxiaf.FFIAF(weights, integrator_name=integ)
        res = {}
        wait_for_quiet(log=lambda *a: None)
        res["library `sweep(outputs=('counts',))`"] = best(lambda: jaxiaf.sweep(mod, params, x).counts)
        args = chunk_args(mod, params, x, jnp.float32)
        wait_for_quiet(log=lambda *a: None)
        res["library `_run_chunk` with a counts-only reducer (no first-spike accumulator)"] = best(
            lambda: _sweep._run_chunk(*args, counts_only)[0]
        )
        wait_for_quiet(log=lambda *a: None)
        res["minimal scan: carry (v, counts) only, Brian2's arithmetic (float64's order)"] = best(lean(integ))
        wait_for_quiet(log=lambda *a: None)
        res["minimal scan: carry (v, counts) only, the affine update (the library's float32 arithmetic)"] = (
            best(lean(integ, affine=True))
        )
        wait_for_quiet(log=lambda *a: None)
        res["minimal affine scan + an in-step refractory counter (carry v, counts, since_spike)"] = best(
            lean(integ, affine=True, refractory=True)
        )
        wait_for_quiet(log=lambda *a: None)
        res["minimal affine scan, `lax.scan(unroll=2)`"] = best(lean(integ, affine=True, unroll=2), repeats=2)
        wait_for_quiet(log=lambda *a: None)
        res["library `sweep`, shard=False (1 device)"] = best(
            lambda: jaxiaf.sweep(mod, params, x, shard=False).counts, repeats=3
        )
        wait_for_quiet(log=lambda *a: None)
        res["library `sweep`, chunk_size=128"] = best(
            lambda: jaxiaf.sweep(mod, params, x, chunk_size=128, progress=False).counts, repeats=3
        )
        out[integ] = res
    emit({"devices": ndev, "results": out})


def worker_flags(flags):
    os.environ["XLA_FLAGS"] = flags
    setup_jax_env(devices=os.cpu_count() or 1, x64=False)
    import jax

    import jaxiaf

    weights, x, bias, tau = workload()
    out = {}
    for integ in ("rk4", "exact"):
        mod = jaxiaf.FFIAF(weights, integrator_name=integ)
        wait_for_quiet(log=lambda *a: None)
        t0 = time.perf_counter()
        c = jax.block_until_ready(jaxiaf.sweep(mod, {"bias": bias, "tau_mem": tau}, x).counts)
        first = time.perf_counter() - t0
        out[integ] = {
            "steady": best(lambda: jaxiaf.sweep(mod, {"bias": bias, "tau_mem": tau}, x).counts),
            "first": first,
            "spikes": int(np.asarray(c).sum()),
        }
    emit(out)


def worker_raster():
    """(b) with the full raster: the sweep, and the (T, B, N) -> (B, T, N) transposition alone."""
    setup_jax_env(devices=os.cpu_count() or 1, x64=False)
    import jax
    import jax.numpy as jnp
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    import jaxiaf

    weights, x, bias, tau = workload()
    out = {}
    for integ in ("rk4", "exact"):
        mod = jaxiaf.FFIAF(weights, integrator_name=integ)
        wait_for_quiet(log=lambda *a: None)
        out[f"{integ}: `sweep(outputs=('counts',))`"] = best(
            lambda: jaxiaf.sweep(mod, {"bias": bias, "tau_mem": tau}, x).counts, repeats=3
        )
        wait_for_quiet(log=lambda *a: None)
        out[f"{integ}: `sweep(outputs=('spikes',))`"] = best(
            lambda: jaxiaf.sweep(mod, {"bias": bias, "tau_mem": tau}, x, outputs=("spikes",)).spikes,
            repeats=3,
        )
    mesh = jax.make_mesh((len(jax.devices()),), ("b",))
    a = jax.device_put(jnp.zeros((T, B, N), bool), NamedSharding(mesh, P(None, "b")))
    move = jax.jit(lambda a: jnp.moveaxis(a, 0, 1))
    wait_for_quiet(log=lambda *a: None)
    out["`jnp.moveaxis` of the (T, B, N) bool raster to (B, T, N) alone (256 MB)"] = best(lambda: move(a))
    emit(out)


F64_HANG = """
import os, sys
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
import jax
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp, numpy as np, jaxiaf
rng = np.random.default_rng(0)
B = int(sys.argv[1])
mod = jaxiaf.FFIAF(rng.normal(0, 0.01, (100, 100)), integrator_name="exact")
p = {"bias": rng.uniform(0.005, 0.03, B), "tau_mem": rng.uniform(0.005, 0.05, B)}
r = jaxiaf.sweep(mod, p, rng.normal(0.5, 1, (100, 100)), dtype=jnp.float64)
print("ok", int(jax.block_until_ready(r.counts).sum()))
"""


def f64_hang():
    """float64 sweeps sharded over 2 CPU devices at B=100 and B=128. Before the step constants were computed
    outside the sharded loop, B=128 hung until XLA aborted (~60 s); `tests/test_sweep.py` guards it now."""
    import subprocess

    rows = []
    for batch in (100, 128):
        t0 = time.perf_counter()
        try:
            done = subprocess.run(
                [sys.executable, "-c", F64_HANG, str(batch)], capture_output=True, text=True, timeout=150
            )
            rc, tail = done.returncode, (done.stdout.strip().splitlines() or [""])[-1]
            if rc != 0:
                tail = next(
                    (ln for ln in done.stderr.splitlines() if "Termination timeout" in ln), done.stderr[-300:]
                )
        except subprocess.TimeoutExpired:
            rc, tail = "timeout", ""
        rows.append([batch, rc, f"{time.perf_counter() - t0:.0f} s", tail[:260]])
    return rows


def worker_small():
    """Per-call and per-step costs of one layer on one device: (a) N=1000 and (c) N=10."""
    setup_jax_env(devices=1, x64=False)
    import jax
    import jax.numpy as jnp

    import jaxiaf

    rng = np.random.default_rng(1)
    out = {}
    for n, n_in, steps in ((1000, 100, 10_000), (10, 10, 1000)):
        weights = rng.normal(0.0, 0.01, (n_in, n))
        x = rng.normal(0.5, 1.0, (steps, n_in))
        xj = jnp.asarray(x, jnp.float32)
        wj = jnp.asarray(weights, jnp.float32)
        for integ in ("rk4", "exact"):
            mod = jaxiaf.FFIAF(weights, integrator_name=integ)
            cur = jnp.asarray(x @ weights, jnp.float32)
            mm = jax.jit(lambda a, b: jnp.matmul(a, b, precision=jax.lax.Precision.HIGHEST))
            jitted = jax.jit(lambda m, xx: m(xx)[0])
            ev = jax.jit(lambda m, c: jaxiaf.evolve(m.params, m.sim, m.neuron_state, c, check=False)[0])
            wait_for_quiet(log=lambda *a: None)
            out[f"N={n}, N_in={n_in}, T={steps}, {integ}"] = {
                "`mod(x)`": best(lambda: mod(x)[0], repeats=10),
                "`jax.jit(lambda m, x: m(x)[0])`": best(lambda: jitted(mod, x), repeats=10),
                "input matmul `x @ W` alone": best(lambda: mm(xj, wj), repeats=10),
                "`evolve(currents)` (checks on)": best(
                    lambda: jaxiaf.evolve(mod.params, mod.sim, mod.neuron_state, cur)[0], repeats=10
                ),
                "`evolve(currents, check=False)` under `jax.jit`": best(lambda: ev(mod, cur), repeats=10),
            }
    emit(out)


# ------------------------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--sections",
        default="1,2,3,4,5",
        help="which sections to run; 6 runs the float64 sharded sweeps that once hung",
    )
    args = ap.parse_args()
    sections = {int(k) for k in args.sections.split(",") if k.strip()}
    ns = B * N * T
    print("## Profile: where the time goes\n")
    print(machine_header() + "\n")

    if 1 in sections:
        section_hlo()
    if 2 in sections:
        section_variants(ns)
    if 3 in sections:
        section_flags(ns)
    if 4 in sections:
        section_raster()
    if 5 in sections:
        section_small()
    if 6 in sections:
        print("### 6. float64 `sweep` sharded over 2 CPU devices (exact, 100 neurons, T=100)\n")
        print(table(["B", "exit code", "wall time", "last line"], f64_hang()))
        print()


def section_hlo():
    print("### 1. The loop bodies of workload (b) (counts only), per device (2 devices: 128 sets each)\n")
    rows = []
    for precision in ("f32", "f64"):
        res = run_worker("profile_sweep.py", ["hlo", precision])
        for integ, r in res.items():
            ops = r["ops"]
            shapes = {}
            for s in r["fusion_shapes"]:
                shapes[s] = shapes.get(s, 0) + 1
            rows.append(
                [
                    f"{precision} {integ}",
                    sum(ops.get(k, 0) for k in ("fusion",)),
                    ", ".join(f"{v}x {k}" for k, v in sorted(shapes.items())),
                    ops.get("copy", 0),
                    r["collectives_in_body"],
                    r["collectives_total"],
                ]
            )
    print(
        table(
            [
                "case",
                "fusions per step",
                "fusion outputs",
                "copies per step",
                "collectives per step",
                "collectives in program",
            ],
            rows,
        )
    )
    print()


def section_variants(ns):
    print(f"### 2. Variants of the step, workload (b): {B} x {N} x T={T}, counts only, float32\n")
    res = run_worker("profile_sweep.py", ["variants"])
    rows = []
    for integ, r in res["results"].items():
        for label, t in r.items():
            rows.append([integ, label, fmt_s(t), fmt_rate(ns / t)])
    print(f"({res['devices']} CPU devices unless noted)\n")
    print(table(["integrator", "variant", "steady time", "neuron-steps/s"], rows))
    print()


def section_flags(ns):
    print("### 3. XLA:CPU flags (library `sweep`, counts only, float32; each in a fresh process)\n")
    rows = []
    for flags in FLAGS:
        wait_for_quiet()
        r = run_worker("profile_sweep.py", ["flags", flags or "none"])
        rows.append(
            [f"`{flags}`" if flags else "(defaults)"]
            + [f"{fmt_rate(ns / r[i]['steady'])} ({r[i]['spikes']:,} spikes)" for i in ("rk4", "exact")]
            + [fmt_s(r["rk4"]["first"])]
        )
    print(table(["XLA_FLAGS", "rk4 neuron-steps/s", "exact neuron-steps/s", "rk4 first call"], rows))
    print()


def section_raster():
    print("### 4. The raster of workload (b), float32, all devices\n")
    res = run_worker("profile_sweep.py", ["raster"])
    print(table(["what", "steady time"], [[k, fmt_s(v)] for k, v in res.items()]))
    print()


def section_small():
    print("### 5. One layer on one device, float32: (a) N=1000 and (c) N=10 (steady, best of 10)\n")
    res = run_worker("profile_sweep.py", ["small"])
    rows = []
    for case, r in res.items():
        steps = int(case.split("T=")[1].split(",")[0])
        for label, t in r.items():
            rows.append([case, label, fmt_s(t), f"{t / steps * 1e6:.2f} µs"])
    print(table(["case", "what", "time", "per step"], rows))
    print()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        kind = sys.argv[2]
        if kind == "hlo":
            worker_hlo(sys.argv[3])
        elif kind == "variants":
            worker_variants()
        elif kind == "raster":
            worker_raster()
        elif kind == "flags":
            worker_flags("" if sys.argv[3] == "none" else sys.argv[3])
        else:
            worker_small()
    else:
        main()
