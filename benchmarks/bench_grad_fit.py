#!/usr/bin/env python
"""Gradient-based fitting against CMA-ES: `jaxiaf.fit(optimizer="adam")` and `optimizer="gauss_newton"` vs
`optimizer="cma_es"`.

The two problems of `tests/test_fit.py` (one IAF neuron: truth tau_mem = 20 ms, bias = 8 mA, v_thresh =
-52 mV, refractory = 3 ms; Ornstein-Uhlenbeck input; Brian2's output from `brian_ref.FFIAFBrian2`):

- `spikes`: Brian2's spike trains of 5 trials of 1 s (metric: fit's default, van Rossum 10 ms);
- `traces`: Brian2's membrane potentials of 3 trials of 0.5 s (metric: fit's default, trace MSE).

Methods, each called with the data, the bounds of `tests/test_fit.py`, a seed, `dtype=float32` and
`max_time` (default 30 s), every other argument at fit's default:

- `cma_es`: the default fit of all 4 parameters (what `tests/test_fit.py` runs);
- `cma_es_3`: CMA-ES on `tau_mem`, `bias`, `v_thresh` with `refractory` fixed at the truth, the
  same 3-parameter problem as the gradient fit;
- `adam`: `optimizer="adam"` on the same 3 parameters (a gradient fit refuses `refractory`, a whole number
  of steps: it is fixed at the truth, which favours Adam);
- `gauss_newton` (traces only: it needs a voltage target): `optimizer="gauss_newton"` on all 4 parameters,
  the spike-forced Levenberg-Marquardt fit (`tau_mem`, `bias` by LM on the segments between the trace's
  resets; `v_thresh` and `refractory` read from the trace and the fitted model; see `jaxiaf._fit.gradient`);
- `hybrid_<E>`: CMA-ES on all 4 parameters cut short at E evaluations (`--hybrid-evaluations`, default
  1280 and 2560: 20 and 40 generations of 64; CMA-ES alone first recovers the truth at generation 26-33),
  then `optimizer="adam"` on `tau_mem`, `bias`, `v_thresh` inside bounds narrowed to +-`--hybrid-width`
  (default 10 %) of the CMA-ES result (clipped to the original box), starting near its centre
  (`std_init=0.1`), with `refractory` fixed at the CMA-ES value: two `fit` calls, done here.

A fit *recovers* the truth when `tau_mem`, `bias` and `v_thresh` are within 5 % and `refractory` within 2
steps (0.2 ms). Per (problem, method, seed): whether the final `best_params` recover it, which parameters
do, the wall time of the whole call(s), and the *time to the recovery tolerance*: the wall time from the
start of the fit to the end of the first generation (step) whose best-so-far parameters recover the truth
(from `FitResult.params_history` and `elapsed`; an oracle time, since a fit does not know it has arrived).
Compilation is timed apart, before the timed fits: for each compiled configuration (4-parameter CMA-ES,
3-parameter CMA-ES, 3-parameter Adam; on traces also 4-parameter Gauss-Newton) the same 2-generation fit
is called twice in this fresh process; `compile` = first call - second call. The persistent compilation
cache is off (`JAXIAF_CACHE_DIR=0`), so the first call compiles. Every timed fit is preceded by a wait (up
to 30 s) for the other processes on the machine to go quiet; the CPU they used is in the JSON.

    .venv/bin/python benchmarks/bench_grad_fit.py            # 5 seeds: about 10 minutes on 2 quiet cores
                                                              # (most Adam fits on spikes run to max_time)
    .venv/bin/python benchmarks/bench_grad_fit.py --quick    # 2 seeds, max_time 20 s: about 3 minutes

Prints Markdown tables; writes the raw results (git SHA, threads, device, every fit) to `--json`.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import warnings

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=1")
os.environ.setdefault("JAXIAF_CACHE_DIR", "0")  # the first call of a shape compiles
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import equinox as eqx
import numpy as np
from _common import ROOT, machine_header, table, wait_for_quiet

sys.path.insert(0, str(ROOT))

from bench_fit import BOUNDS, DT, TRUTH, errors_of, ou_currents, recovered  # noqa: E402

CONTINUOUS = ("tau_mem", "bias", "v_thresh")
METHODS = ("cma_es", "cma_es_3", "adam", "gauss_newton", "hybrid")
LABELS = {
    "cma_es": "cma_es (4 parameters)",
    "cma_es_3": "cma_es (3, refr. = truth)",
    "adam": "adam (3, refr. = truth)",
    "gauss_newton": "gauss_newton (4 parameters)",
}


def label(method):
    if method.startswith("hybrid_"):
        return f"hybrid: cma_es (4) for {int(method.split('_')[1]) // 64} gen., then adam (3)"
    return LABELS[method]


def ground_truth():
    """`tests/test_fit.py`'s data: (x (6, T, 1) A, raster (6, T, 1) bool, v (6, T, 1) V), Brian2 (numpy)."""
    from brian_ref import FFIAFBrian2

    x = ou_currents(6, 10_000, np.random.default_rng(0))
    ref = FFIAFBrian2(np.ones((1, 6)), **TRUTH).evolve(currents=x.T)
    return x[:, :, None], ref.raster().T[:, :, None], ref.v.T[:, :, None]


def problems(x, raster, v):
    """name -> (x, {target: data})."""
    return {
        "spikes": (x[:5], {"spikes": raster[:5]}),
        "traces": (x[:3, :5000], {"v": v[:3, :5000]}),
    }


def per_parameter(params) -> dict:
    """Which parameters are within the tolerance (5 %; refractory 2 steps)."""
    e = errors_of(params)
    out = {k: bool(abs(e[k]) < 0.05) for k in CONTINUOUS}
    out["refractory"] = bool(abs(e["refractory"]) <= 2 + 1e-9)
    return out


def first_recovery(result, fixed):
    """(generation, seconds from the fit's start) at which the best-so-far parameters first recover the
    truth, or (None, None)."""
    history = result.params_history
    for g in range(result.generations):
        params = {**fixed, **{k: float(history[k][g]) for k in history}}
        if recovered(params):
            return g, float(result.elapsed[g])
    return None, None


def call_fit(module_kwargs, x, data, bounds, **kwargs):
    """`jaxiaf.fit` with the module built from `module_kwargs`. A gradient fit of a trace refuses
    `v_thresh` (it has no gradient there): it is then held at the middle of its box,
    where a gradient fit's runs started (z near 0) and stayed before that refusal. (The middle, -52.5 mV,
    happens to be within 5 % of the truth: a recovered `v_thresh` there says nothing of the gradient.)"""
    import jaxiaf

    held = {}
    if kwargs.get("optimizer") == "adam" and "spikes" not in data and "v_thresh" in bounds:
        bounds = dict(bounds)
        held = {"v_thresh": float(np.mean(bounds.pop("v_thresh")))}
        module_kwargs = {**module_kwargs, **held}

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = jaxiaf.fit(
            jaxiaf.FFIAF(np.ones((1, 1)), **module_kwargs),
            x,
            bounds=bounds,
            progress=False,
            dtype=np.float32,
            **data,
            **kwargs,
        )
    history = {k: np.full(len(result.loss_history), v) for k, v in held.items()}
    return eqx.tree_at(
        lambda r: (r.best_params, r.params_history),
        result,
        ({**result.best_params, **held}, {**result.params_history, **history}),
    )


def summary_of(result):
    return {
        "best_params": result.best_params,
        "best_loss": float(result.best_loss),
        "relative_loss": float(result.relative_loss),
        "stop_reason": result.stop_reason,
        "flags": list(result.flags),
        "generations": int(result.generations),
        "evaluations": int(result.evaluations),
        "fit_loop_s": float(result.elapsed[-1]),
    }


def narrowed(params, width):
    """Bounds of +-`width` (relative) around `params`, clipped to the original box."""
    out = {}
    for k in CONTINUOUS:
        lo, hi = sorted((params[k] * (1 - width), params[k] * (1 + width)))
        out[k] = (max(lo, BOUNDS[k][0]), min(hi, BOUNDS[k][1]))
    return out


def one_fit(method, x, data, seed, args):
    """One timed fit (two calls for the hybrid): a JSON-able row."""
    import jax

    key = jax.random.key(seed)
    bounds3 = {k: BOUNDS[k] for k in CONTINUOUS}
    truth_refr = {"refractory": TRUTH["refractory"]}
    row = {"method": method, "seed": seed}
    start = time.perf_counter()
    if method == "cma_es":
        result = call_fit({}, x, data, BOUNDS, key=key, max_time=args.max_time)
        fixed, stages = {}, [result]
    elif method == "cma_es_3":
        result = call_fit(truth_refr, x, data, bounds3, key=key, max_time=args.max_time)
        fixed, stages = truth_refr, [result]
    elif method == "adam":
        result = call_fit(truth_refr, x, data, bounds3, optimizer="adam", key=key, max_time=args.max_time)
        fixed, stages = truth_refr, [result]
    elif method == "gauss_newton":
        result = call_fit({}, x, data, BOUNDS, optimizer="gauss_newton", key=key, max_time=args.max_time)
        fixed, stages = {}, [result]
    else:  # hybrid_<evaluations>
        budget = int(method.split("_")[1])
        first = call_fit({}, x, data, BOUNDS, key=key, max_time=args.max_time, max_evaluations=budget)
        stage1_s = time.perf_counter() - start
        refr = {"refractory": first.best_params["refractory"]}
        row["stage1"] = summary_of(first)
        row["stage1"]["wall_s"] = stage1_s
        row["stage1"]["recovered"] = recovered(first.best_params)
        row["stage2_bounds"] = narrowed(first.best_params, args.hybrid_width)
        result = call_fit(
            refr,
            x,
            data,
            row["stage2_bounds"],
            optimizer="adam",
            key=jax.random.fold_in(key, 1),
            std_init=0.1,
            max_time=args.max_time,
        )
        fixed, stages = refr, [first, result]
    wall = time.perf_counter() - start
    best = {**fixed, **result.best_params}
    if method.startswith("hybrid"):
        g1, t1 = first_recovery(stages[0], {})
        g2, t2 = first_recovery(result, fixed)
        if t1 is not None:
            t_rec, where = t1, f"stage 1, generation {g1}"
        elif t2 is not None:
            t_rec, where = row["stage1"]["wall_s"] + t2, f"stage 2, step {g2}"
        else:
            t_rec, where = None, None
    else:
        g, t_rec = first_recovery(result, fixed)
        where = None if g is None else f"generation {g}"
    row.update(summary_of(result))
    row.update(
        best=best,
        errors=errors_of(best),
        parameters_recovered=per_parameter(best),
        recovered=recovered(best),
        time_to_recovery_s=t_rec,
        recovered_at=where,
        wall_s=wall,
    )
    return row


def trace_gradient(x, v):
    """The gradient of the trace problem's loss (trace MSE of trial 0) with respect to `tau_mem`, `bias` and
    `v_thresh`, 2 % off the truth, through `jaxiaf.evolve` with the gradient fit's surrogate (reset
    detached) and with the reset attached: why Adam cannot move `v_thresh` on traces."""
    import jax
    import jax.numpy as jnp

    import jaxiaf
    from jaxiaf.surrogate import SuperSpike

    point = {k: TRUTH[k] * 1.02 for k in CONTINUOUS}
    mod = jaxiaf.FFIAF(np.ones((1, 1)), refractory=TRUTH["refractory"])
    currents = jnp.asarray(x[0, :5000], jnp.float32) @ mod.params.weights
    target = jnp.asarray(v[0, :5000], jnp.float32)
    out = {}
    for name, surrogate in (("detached (fit's)", SuperSpike()), ("attached", SuperSpike(detach_reset=False))):

        def loss(q):
            p = mod.params
            params = jaxiaf.Parameters(p.weights, q["bias"], q["tau_mem"], q["v_thresh"], p.v_reset, p.v_rest)
            rec = jaxiaf.evolve(
                params, mod.sim, mod.neuron_state, currents, record=True, surrogate=surrogate
            )[2]
            return jnp.mean(jaxiaf.metrics.trace_mse(rec["v"], target, DT))

        q = {k: jnp.full((1,), val, jnp.float32) for k, val in point.items()}
        grad = jax.grad(loss)(q)
        out[name] = {k: float(g[0]) * point[k] for k, g in grad.items()}  # d loss / d log(param)
    return out


def measure_compile(x, data, args):
    """Seconds of compilation per compiled configuration: first call - second call of the same fit."""
    import jax

    bounds3 = {k: BOUNDS[k] for k in CONTINUOUS}
    truth_refr = {"refractory": TRUTH["refractory"]}
    configs = {
        "cma_es (4 parameters)": ({}, BOUNDS, {}),
        "cma_es (3 parameters)": (truth_refr, bounds3, {}),
        "adam (3 parameters)": (truth_refr, bounds3, {"optimizer": "adam"}),
    }
    if "v" in data:
        configs["gauss_newton (4 parameters)"] = ({}, BOUNDS, {"optimizer": "gauss_newton"})
    out = {}
    for name, (module_kwargs, bounds, extra) in configs.items():
        times = []
        for _ in range(2):
            start = time.perf_counter()
            call_fit(module_kwargs, x, data, bounds, key=jax.random.key(0), generations=2, **extra)
            times.append(time.perf_counter() - start)
        out[name] = {"first_s": times[0], "second_s": times[1], "compile_s": times[0] - times[1]}
    return out


def fmt(seconds):
    return "-" if seconds is None else (f"{seconds:.2f} s" if seconds < 100 else f"{seconds:.0f} s")


def method_rows(problem, rows, compile_s):
    """One Markdown row per method."""
    out = []
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        if not mine:
            continue
        n = len(mine)
        per = {k: sum(r["parameters_recovered"][k] for r in mine) for k in (*CONTINUOUS, "refractory")}
        times = [r["time_to_recovery_s"] for r in mine if r["time_to_recovery_s"] is not None]
        reached = len(times)
        walls = [r["wall_s"] for r in mine]
        seeds = " ".join("Y" if r["recovered"] else "n" for r in mine)
        if "stage1" in mine[0]:
            stage1 = [r["stage1"] for r in mine]
            seeds += (
                f"; stage 1 alone {sum(s['recovered'] for s in stage1)}/{n} "
                f"in {fmt(float(np.median([s['wall_s'] for s in stage1])))}"
            )
        compiled = {
            "cma_es": "cma_es (4 parameters)",
            "cma_es_3": "cma_es (3 parameters)",
            "adam": "adam (3 parameters)",
            "gauss_newton": "gauss_newton (4 parameters)",
        }.get(method)  # a hybrid reuses the programs of cma_es (4) and adam (3)
        comp = (
            fmt(compile_s[compiled]["compile_s"])
            if compiled
            else f"{fmt(compile_s['cma_es (4 parameters)']['compile_s'])} + "
            f"{fmt(compile_s['adam (3 parameters)']['compile_s'])}"
        )
        out.append(
            [
                problem,
                label(method),
                f"{sum(r['recovered'] for r in mine)}/{n} ({seeds})",
                " / ".join(f"{per[k]}" for k in (*CONTINUOUS, "refractory")),
                f"{reached}/{n}",
                fmt(float(np.median(times))) if times else "-",
                fmt(max(times)) if times else "-",
                fmt(float(np.median(walls))),
                fmt(max(walls)),
                comp,
            ]
        )
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 seeds, max_time 20 s")
    parser.add_argument("--max-time", type=float, default=30.0, help="fit's max_time for every call (s)")
    parser.add_argument("--problems", default="spikes,traces")
    parser.add_argument("--methods", default=",".join(METHODS), help=f"subset of {METHODS}")
    parser.add_argument(
        "--hybrid-evaluations", default="1280,2560", help="CMA-ES budgets of the hybrids (comma-separated)"
    )
    parser.add_argument("--hybrid-width", type=float, default=0.1, help="relative half-width of stage 2")
    parser.add_argument("--json", default="benchmarks/results/grad_fit.json")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.max_time = 2, min(args.max_time, 20.0)
    methods = [m.strip() for m in args.methods.split(",")]
    assert all(m in METHODS for m in methods), methods
    if "hybrid" in methods:  # one hybrid per CMA-ES budget
        i = methods.index("hybrid")
        budgets = [f"hybrid_{int(e)}" for e in args.hybrid_evaluations.split(",")]
        methods[i : i + 1] = budgets

    import jax

    sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "jaxiaf"], capture_output=True, text=True, cwd=ROOT
    )
    report = {
        "sha": sha.stdout.strip(),
        "jaxiaf_dirty": bool(dirty.stdout.strip()),
        "machine": machine_header(),
        "threads": {
            "os.cpu_count": os.cpu_count(),
            "sched_getaffinity": len(os.sched_getaffinity(0)),
            "XLA_FLAGS": os.environ.get("XLA_FLAGS", ""),
        },
        "devices": [str(d) for d in jax.devices()],
        "device_kind": jax.devices()[0].device_kind,
        "jax": jax.__version__,
        "args": vars(args),
        "truth": TRUTH,
        "bounds": BOUNDS,
        "problems": {},
    }
    start = time.perf_counter()
    x, raster, v = ground_truth()
    report["brian2_data_s"] = time.perf_counter() - start
    report["trace_gradient_dloss_dlog"] = trace_gradient(x, v)
    report["target_spikes"] = {"spikes": int(raster[:5].sum()), "traces": int(raster[:3, :5000].sum())}

    def save():
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1, default=float)

    lines = [
        f"git {report['sha']}{' (jaxiaf/ modified)' if report['jaxiaf_dirty'] else ''}; "
        f"{report['machine']}; devices {report['devices']}; {os.cpu_count()} cores",
        "",
    ]
    header = [
        "problem",
        "method",
        "recovered (per seed)",
        "tau / bias / v_thresh / refr. within tol.",
        "reached tol.",
        "median time to tol.",
        "max time to tol.",
        "median wall",
        "max wall",
        "compile",
    ]
    body = []
    for name, (px, data) in problems(x, raster, v).items():
        if name not in args.problems.split(","):
            continue
        print(f"[{name}] compiling", file=sys.stderr, flush=True)
        compile_s = measure_compile(px, data, args)
        report["problems"][name] = {"compile": compile_s, "fits": []}
        save()
        for method in methods:
            if method == "gauss_newton" and "v" not in data:  # it fits voltage traces only
                continue
            for seed in range(args.seeds):
                busy = wait_for_quiet(log=lambda m: print(m, file=sys.stderr))
                row = one_fit(method, px, data, seed, args)
                row["cpu_busy_before"] = busy
                report["problems"][name]["fits"].append(row)
                save()
                print(
                    json.dumps(
                        {
                            k: row[k]
                            for k in ("method", "seed", "recovered", "time_to_recovery_s", "wall_s", "flags")
                        }
                        | {"problem": name}
                    ),
                    file=sys.stderr,
                    flush=True,
                )
        body += method_rows(name, report["problems"][name]["fits"], compile_s)
    lines.append(table(header, body))
    lines.append("")
    for name, p in report["problems"].items():
        lines.append(
            f"compile ({name}): "
            + ", ".join(
                f"{k} {c['compile_s']:.2f} s (first call {c['first_s']:.2f} s, second {c['second_s']:.2f} s)"
                for k, c in p["compile"].items()
            )
        )
    report["table"] = "\n".join(lines)
    save()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
