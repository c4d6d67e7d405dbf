#!/usr/bin/env python
"""Fitting benchmark: `jaxiaf.fit` against brian2modelfitting 0.4 on the ground-truth problem of
`tests/test_fit.py`.

The problem: one IAF neuron (truth tau_mem = 20 ms, bias = 8 mA, v_thresh = -52 mV, refractory = 3 ms,
v_rest = v_reset = -65 mV, r_m = 1 ohm, dt = 0.1 ms, rk4) driven by an Ornstein-Uhlenbeck current; the
target is Brian2's spike trains (`brian_ref.FFIAFBrian2`, numpy target) on 5 training trials of 1 s, plus
one held-out trial. Four parameters are fitted inside the boxes tau_mem (5, 50) ms, bias (0, 20) mA,
v_thresh (-60, -45) mV, refractory (0, 6) ms.

- brian2modelfitting: `SpikeFitter` (the same equations, rk4, the input as its TimedArray), metric
  `GammaFactor(delta=2 ms, time=1 s)` (its own error: `1 + 2|r_data - r_model|/r_data - Gamma`, Gamma
  chance-corrected with the *data* rate, averaged over trials), `NevergradOptimizer('CMA')`, 30 samples per
  round, Brian2's Cython target (its numpy target is timed for two rounds, for reference). Each seed runs
  until `--rounds` rounds or `--max-seconds` seconds. After each round the spike trains of the best-so-far
  parameter set (by its own error) are taken from the fitter's SpikeMonitor (outside the timing).
- jaxiaf: `jaxiaf.fit` (default metric VanRossum(10 ms), evosax CMA-ES) for several population sizes and
  generation counts, in a JAX worker subprocess (float32, one CPU device). The best-so-far parameters of each
  generation (`result.params_history`) are re-simulated after the fit, in a separate pass.

Both are scored the same way: the *training gamma* is `jaxiaf.metrics.gamma_factor` (Jolivet et al. 2008,
delta = 2 ms, chance rate = the model's rate), averaged over the 5 training trials, of the best-so-far
parameters; times are wall clock from the start of the fit, to the end of the round / generation where the
level is first reached (gamma >= 0.95, >= 0.99, = 1 to 1e-6). "Stalled" = a training gamma below 0.95 when
the fit ends. Held-out gamma: brian2modelfitting's final parameters simulated by Brian2 (`brian_ref`,
Cython), jaxiaf's by its fitted module (as in `tests/test_fit.py`). jaxiaf's compile time is reported apart:
each config runs in a fresh process, and `compile` = its first fit minus the same fit warm; one more pair of
processes measures that first fit with JAX's persistent compilation cache filled by the previous process
(it holds jaxiaf's stored fit programs too, `jaxiaf-executables`, loaded without tracing).
brian2modelfitting runs warm: a 2-round warm-up fills Brian2's Cython cache first (its setup per fit,
~0.3 s, stays inside its times).

    .venv/bin/python benchmarks/bench_fit.py            # 5 seeds, about 7-9 minutes on 2 cores
    .venv/bin/python benchmarks/bench_fit.py --quick    # 2 seeds, 20 rounds: a smoke test

Needs (not a project dependency):

    .venv/bin/pip install brian2modelfitting==0.4 nevergrad==0.3.0 bayesian-optimization==1.4.3 \
        numpy==2.3.5 brian2==2.9.0

brian2modelfitting 0.4 requires nevergrad <= 0.3, whose optimizer module imports
`bayes_opt.UtilityFunction`, gone from bayesian-optimization 2 (pip picks 3.x unless pinned). Both
brian2modelfitting 0.4 and nevergrad 0.3 predate NumPy 2: this script restores the removed aliases
`np.NaN`, `np.float`, `np.int` before importing them (nothing else is patched), and seeds nevergrad's
RandomState itself (nevergrad 0.3 draws it lazily from NumPy's global state, which Brian2 touches).
"""

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np
from _common import ROOT, cython_cache_files, emit, fmt_s, machine_header, run_worker, setup_jax_env, table

sys.path.insert(0, str(ROOT))

DT = 1e-4
NUM_STEPS = 10_000
NUM_TRAIN = 5
DELTA = 2e-3
TRUTH = {"tau_mem": 0.02, "bias": 0.008, "v_thresh": -0.052, "refractory": 3e-3}
BOUNDS = {
    "tau_mem": (5e-3, 50e-3),
    "bias": (0.0, 0.02),
    "v_thresh": (-0.06, -0.045),
    "refractory": (0.0, 6e-3),
}
B2MF_NAMES = {"tau_mem": "tau_mem", "bias": "bias", "v_thresh": "v_thresh", "t_ref": "refractory"}
LEVELS = (0.95, 0.99, 1.0)  # training gamma levels timed (1.0: to 1e-6)


def ou_currents(num_trials, num_steps, rng, mean=0.006, std=0.008, tau=5e-3):
    """(K, T) Ornstein-Uhlenbeck input currents (A), exactly as `tests/test_fit.py` makes them."""
    a = np.exp(-DT / tau)
    x = np.zeros((num_trials, num_steps))
    noise = rng.standard_normal((num_trials, num_steps)) * np.sqrt(1 - a * a)
    for k in range(1, num_steps):
        x[:, k] = a * x[:, k - 1] + noise[:, k]
    return mean + std * x


def ground_truth():
    """(x (6, T) A, raster (6, T) bool): 5 training trials of 1 s and one held out (`tests/test_fit.py`)."""
    from brian_ref import FFIAFBrian2

    x = ou_currents(NUM_TRAIN + 1, NUM_STEPS, np.random.default_rng(0))
    ref = FFIAFBrian2(np.ones((1, NUM_TRAIN + 1)), **TRUTH).evolve(currents=x.T)
    return x, ref.raster().T.copy()


def errors_of(params):
    """Relative errors (tau_mem, bias, v_thresh) and the refractory error in steps of dt."""
    out = {k: params[k] / TRUTH[k] - 1 for k in ("tau_mem", "bias", "v_thresh")}
    out["refractory"] = (params["refractory"] - TRUTH["refractory"]) / DT
    return out


def recovered(params) -> bool:
    """The criterion of `tests/test_fit.py`: 5 % on tau_mem, bias, v_thresh; 2 dt on refractory."""
    e = errors_of(params)
    return all(abs(e[k]) < 0.05 for k in ("tau_mem", "bias", "v_thresh")) and abs(e["refractory"]) <= 2 + 1e-9


def first_time(gammas, times, level):
    for g, t in zip(gammas, times, strict=True):
        if g >= level:
            return float(t)
    return None


# ------------------------------------------------------------------------------------ brian2modelfitting
def _import_b2mf():
    """Import brian2modelfitting 0.4 and nevergrad 0.3 under NumPy 2 (restoring the aliases they use)."""
    for name, value in (("NaN", np.nan), ("float", float), ("int", int)):
        if not hasattr(np, name):
            setattr(np, name, value)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"cma(\..*)?")
    warnings.filterwarnings("ignore", message=".*number of solutions passed to `tell`.*")
    warnings.filterwarnings("ignore", message=".*seed=time will never be used.*")
    import brian2modelfitting
    import nevergrad

    return brian2modelfitting, nevergrad


def b2mf_fit(
    x, raster, seed, rounds, max_seconds, target="cython", method="rk4", bounds=BOUNDS, num_train=NUM_TRAIN
):
    """One brian2modelfitting fit on the first `num_train` trials of `x` (K, T) and `raster` (K, T), in
    the boxes `bounds`; returns per-round times, the best-so-far trains and parameters."""
    import brian2 as b2
    from brian2 import amp, mV, ohm, second
    from brian2modelfitting import GammaFactor, NevergradOptimizer, SpikeFitter
    from brian2modelfitting.metric import get_gamma_factor

    num_steps = x.shape[1]

    b2.set_device("runtime")
    b2.prefs.codegen.target = target
    model = b2.Equations(
        """
        dv/dt = (v_rest - v + r_m*(I + bias))/tau_mem : volt (unless refractory)
        tau_mem : second (constant)
        bias : amp (constant)
        v_thresh : volt (constant)
        t_ref : second (constant)
        """,
        v_rest=-65 * mV,
        r_m=1 * ohm,
    )
    data_spikes = [np.flatnonzero(raster[k]) * DT * second for k in range(num_train)]
    fitter = SpikeFitter(
        model=model,
        input=x[:num_train] * amp,
        output=data_spikes,
        dt=DT * second,
        threshold="v > v_thresh",
        reset="v = -65*mV",
        refractory="t_ref",
        method=method,
        n_samples=30,
        param_init={"v": -65 * mV},
    )
    # Brian2 gives the parameter names as a set, whose order (the optimizer's axes) follows the process's
    # string hash seed; a sorted list makes a seeded fit reproducible across processes
    fitter.parameter_names = sorted(fitter.parameter_names)

    class SeededNevergrad(NevergradOptimizer):
        """NevergradOptimizer('CMA') with a seeded RandomState (nevergrad 0.3 otherwise draws one lazily from
        NumPy's global state, which Brian2 touches in between)."""

        def initialize(self, *a, **kw):
            super().initialize(*a, **kw)
            self.optim.instrumentation.random_state = np.random.RandomState(seed)

    optimizer = SeededNevergrad(method="CMA")
    metric = GammaFactor(delta=DELTA * second, time=num_steps * DT * second)

    rec = {
        "round_end": [],
        "best_error": [],
        "improved_round": [],
        "improved_params": [],
        "rasters": [],
        "checked": 0,
    }
    state = {"best": np.inf, "overhead": 0.0, "start": None}

    def callback(params, errors, best_params, best_error, index):
        entered = time.perf_counter()
        stamp = entered - state["start"] - state["overhead"]
        rec["round_end"].append(stamp)
        errs = np.asarray(errors, float)
        j = int(np.argmin(errs))
        if errs[j] < state["best"]:
            state["best"] = float(errs[j])
            mon = fitter.simulator.networks["fit"]["spikemonitor"]
            idx = np.asarray(mon.i[:])
            steps = np.rint(np.asarray(mon.t_[:]) / DT).astype(np.int64)
            trains = np.zeros((num_train, num_steps), bool)
            for k in range(num_train):  # neuron j * n_traces + k ran parameter set j on trial k
                trains[k, steps[idx == j * num_train + k]] = True
            if rec["checked"] < 3:  # the trains are the ones its metric scored
                mine = np.mean(
                    [
                        get_gamma_factor(
                            np.flatnonzero(trains[k]) * DT,
                            np.flatnonzero(raster[k]) * DT,
                            DELTA,
                            num_steps * DT,
                            DT,
                        )
                        for k in range(num_train)
                    ]
                )
                assert abs(mine - errs[j]) < 1e-9, (mine, errs[j])
                rec["checked"] += 1
            rec["improved_round"].append(index)
            rec["improved_params"].append({B2MF_NAMES[p]: float(v) for p, v in params[j].items()})
            rec["rasters"].append(np.packbits(trains, axis=-1))
        rec["best_error"].append(state["best"])
        state["overhead"] += time.perf_counter() - entered
        return stamp >= max_seconds

    state["start"] = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # cma prints a banner when it starts
        fitter.fit(
            optimizer=optimizer,
            metric=metric,
            n_rounds=rounds,
            callback=callback,
            tau_mem=[bounds["tau_mem"][0] * second, bounds["tau_mem"][1] * second],
            bias=[bounds["bias"][0] * amp, bounds["bias"][1] * amp],
            v_thresh=[bounds["v_thresh"][0] * b2.volt, bounds["v_thresh"][1] * b2.volt],
            t_ref=[bounds["refractory"][0] * second, bounds["refractory"][1] * second],
        )
    rec["total"] = time.perf_counter() - state["start"] - state["overhead"]
    assert rec["best_error"][-1] == float(fitter.best_error), (rec["best_error"][-1], fitter.best_error)
    got = {B2MF_NAMES[p]: float(v) for p, v in fitter.best_params.items()}
    assert all(np.isclose(got[k], rec["improved_params"][-1][k], rtol=1e-12, atol=0) for k in got)
    del rec["checked"]
    return rec


def brian_held_out(x_held, param_sets):
    """(S, T) Brian2 (brian_ref, Cython, rk4) rasters of S parameter sets on the held-out input."""
    from brian_ref import FFIAFBrian2

    s = len(param_sets)
    kw = {k: np.array([p[k] for p in param_sets]) for k in TRUTH}
    res = FFIAFBrian2(np.eye(s), target="cython", **kw).evolve(currents=np.tile(x_held[:, None], (1, s)))
    return res.raster().T.copy()


# ------------------------------------------------------------------------------------------- JAX worker
def worker(npz_path, config, seeds, mode):
    """`mode`: "full" (fits of every seed, gammas), "full+b2mf" (also brian2modelfitting's gammas, after the
    fits), "compile" (only the cold fit of the first seed and the same fit warm, 3 times)."""
    setup_jax_env(devices=1, x64=False)
    t_import = time.perf_counter()
    import jax

    import jaxiaf
    from jaxiaf import metrics

    t_import = time.perf_counter() - t_import
    d = np.load(npz_path)
    x, raster = d["x"], d["raster"]
    X = x[:, :, None]
    R = raster[:, :, None]
    module = jaxiaf.FFIAF(np.ones((1, 1)))
    pop, gens = config

    def run(seed):
        t0 = time.perf_counter()
        r = jaxiaf.fit(
            module,
            X[:NUM_TRAIN],
            spikes=R[:NUM_TRAIN],
            bounds=BOUNDS,
            population_size=pop,
            generations=gens,
            # one search of `gens` generations, as fit ran before its restarts (the defaults, with
            # restarts, are measured on many problems by bench_fit_suite.py)
            parallel=1,
            max_evaluations=pop * gens,
            run_patience=gens,
            confirm=gens + 1,
            key=jax.random.key(seed),
            progress=False,
        )
        return r, time.perf_counter() - t0

    def gammas_of(trains, trial):
        """(S,) gamma of (S, T) trains against trial `trial` of the target."""
        g = metrics.gamma_factor(
            np.asarray(trains).T, np.repeat(raster[trial][:, None], len(trains), 1), DT, DELTA
        )
        return np.asarray(g, float)

    def simulate(param_rows, trial):
        """(S, T) jaxiaf float32 rasters of S parameter sets ({name: (S,)}) on trial `trial`."""
        r = jaxiaf.sweep(module, param_rows, X[trial], outputs=("spikes",), chunk_size=64, progress=False)
        return np.asarray(r.spikes)[:, :, 0]

    cold, cold_total = run(seeds[0])  # the first fit in this process: JAX start-up, compilation
    out = {
        "jax": jax.__version__,
        "import_s": t_import,
        "pop": pop,
        "gens": gens,
        "cold_total": cold_total,
        "runs": [],
        "b2mf": {},
    }
    if mode == "compile":  # the same fit warm, 3 times: its median is subtracted (one warm fit varies by
        # +-0.3 s on a shared machine, as much as the cached first fit's extra time)
        warm = [run(seeds[0]) for _ in range(3)]
        assert all(r.best_params == cold.best_params for r, _ in warm)
        out["warm_totals"] = [total for _, total in warm]
        out["compile_s"] = max(cold_total - float(np.median(out["warm_totals"])), 0.0)
    for seed in [] if mode == "compile" else seeds:
        r, total = run(seed)
        if seed == seeds[0]:
            assert r.best_params == cold.best_params
            out["compile_s"] = max(cold_total - total, 0.0)
        # separate pass: the training gamma of the best-so-far parameters of every generation
        hist = np.stack([r.params_history[k] for k in BOUNDS], axis=1)  # (G, 4)
        uniq, inverse = np.unique(hist, axis=0, return_inverse=True)
        sets = {k: uniq[:, i] for i, k in enumerate(BOUNDS)}
        g_uniq = np.mean([gammas_of(simulate(sets, k), k) for k in range(NUM_TRAIN)], axis=0)
        g_gen = g_uniq[np.asarray(inverse).reshape(-1)]
        held_out, _, _ = r.module(X[NUM_TRAIN])
        out["runs"].append(
            {
                "seed": seed,
                "gamma": g_gen.tolist(),
                "elapsed": np.asarray(r.elapsed).tolist(),
                "total": total,
                "best": r.best_params,
                "held_out": float(gammas_of(np.asarray(held_out)[None, :, 0], NUM_TRAIN)[0]),
            }
        )
    if mode == "full+b2mf":  # training gamma of brian2modelfitting's best-so-far trains (Brian2's own spikes)
        for key in d.files:
            if key.startswith("b2mf_"):
                trains = np.unpackbits(d[key], axis=-1)[..., :NUM_STEPS].astype(bool)  # (M, 5, T)
                out["b2mf"][key[5:]] = np.mean(
                    [gammas_of(trains[:, k], k) for k in range(NUM_TRAIN)], 0
                ).tolist()
            if key == "b2held":
                trains = np.unpackbits(d[key], axis=-1)[..., :NUM_STEPS].astype(bool)  # (S, T)
                out["b2mf"]["held_out"] = gammas_of(trains, NUM_TRAIN).tolist()
    emit(out)


# ------------------------------------------------------------------------------------------- report
def fmt_opt(t):
    return "never" if t is None else fmt_s(t)


def fmt_err(e):
    return f"{e['tau_mem']:+.1%} / {e['bias']:+.1%} / {e['v_thresh']:+.2%} / {e['refractory']:+.1f} dt"


def median_or_none(vals):
    vals = [v for v in vals if v is not None]
    return float(np.median(vals)) if vals else None


def fmt_med(vals, extra=0.0):
    """Median over the seeds that got there, and how many did."""
    m = median_or_none(vals)
    got = sum(v is not None for v in vals)
    text = "never" if m is None else fmt_s(m + extra)
    return text if got == len(vals) else f"{text} ({got}/{len(vals)})"


def ratio(a, b):
    return "-" if a is None or b is None else f"{a / b:.0f}x" if a / b >= 10 else f"{a / b:.1f}x"


def times_to_levels(gammas, times):
    return {lv: first_time(gammas, times, lv - (1e-6 if lv == 1.0 else 0.0)) for lv in LEVELS}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="2 seeds, 20 rounds, one jaxiaf config")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=200, help="brian2modelfitting rounds per seed (cap)")
    ap.add_argument(
        "--max-seconds", type=float, default=90.0, help="brian2modelfitting seconds per seed (cap)"
    )
    ap.add_argument(
        "--configs",
        default="64x150,64x60,32x150,32x60,16x150",
        help="jaxiaf fits as POPxGENS, comma-separated; the first is the headline",
    )
    ap.add_argument(
        "--no-numpy-ref", action="store_true", help="skip timing 2 rounds of Brian2's numpy target"
    )
    ap.add_argument(
        "--no-jax-cache",
        action="store_true",
        help="skip timing the first fit with a warm JAX persistent compilation cache",
    )
    args = ap.parse_args()
    if args.quick:
        args.seeds, args.rounds, args.configs = 2, 20, "64x60"
    seeds = list(range(args.seeds))
    configs = [tuple(int(v) for v in c.split("x")) for c in args.configs.split(",")]
    t_script = time.perf_counter()

    print("## Fitting: jaxiaf.fit vs brian2modelfitting 0.4 (4 parameters, 5 training trials of 1 s)\n")
    print(machine_header())
    print(f"Load average at start: {open('/proc/loadavg').read().split()[:3]}", flush=True)
    _, ng = _import_b2mf()
    from importlib.metadata import version

    print(
        f"brian2modelfitting {version('brian2modelfitting')}, nevergrad {ng.__version__}, "
        f"cma {version('cma')}\n",
        flush=True,
    )

    x, raster = ground_truth()
    print(f"target spikes per trial: {raster.sum(axis=1).tolist()} (the last trial is held out)", flush=True)

    # --- brian2modelfitting
    cache_before = cython_cache_files()
    warm = b2mf_fit(x, raster, seed=1000, rounds=2, max_seconds=1e9)
    print(
        f"brian2modelfitting warm-up (2 rounds, Cython cache {'warm' if cache_before else 'cold'}: "
        f"{cache_before} -> {cython_cache_files()} files): first round {warm['round_end'][0]:.2f} s, "
        f"second {warm['round_end'][1] - warm['round_end'][0]:.3f} s",
        flush=True,
    )
    numpy_round = None
    if not args.no_numpy_ref:
        nref = b2mf_fit(x, raster, seed=1000, rounds=3, max_seconds=1e9, target="numpy")
        numpy_round = float(np.median(np.diff(nref["round_end"])))
        print(
            f"brian2modelfitting numpy target: {numpy_round:.2f} s per round (2 rounds, for reference)",
            flush=True,
        )
    b2_runs = []
    for seed in seeds:
        rec = b2mf_fit(x, raster, seed, args.rounds, args.max_seconds)
        b2_runs.append(rec)
        print(
            f"  brian2modelfitting seed {seed}: {len(rec['round_end'])} rounds in {rec['total']:.1f} s, "
            f"final own error {rec['best_error'][-1]:.4f}",
            flush=True,
        )
    held = brian_held_out(x[NUM_TRAIN], [r["improved_params"][-1] for r in b2_runs])

    # --- jaxiaf (one fresh worker process per config, so that its first fit is cold) + every gamma
    jres, cached = [], None
    with tempfile.TemporaryDirectory(prefix="jaxiaf_bench_fit_") as tmp:
        path = os.path.join(tmp, "data.npz")
        arrays = {"x": x, "raster": raster, "b2held": np.packbits(held, axis=-1)}
        for seed, r in zip(seeds, b2_runs, strict=True):
            arrays[f"b2mf_{seed}"] = np.stack(r["rasters"])
        np.savez(path, **arrays)
        seed_arg = ",".join(map(str, seeds))
        for i, (pop, gens) in enumerate(configs):
            print(f"  jaxiaf worker: population {pop}, {gens} generations ...", flush=True)
            jres.append(
                run_worker(
                    "bench_fit.py",
                    [path, f"{pop}x{gens}", seed_arg, "full+b2mf" if i == 0 else "full"],
                    timeout=1200,
                )
            )
        if not args.no_jax_cache:
            # the headline config with JAX's persistent compilation cache: one process fills it, the next
            # reads it
            env = {
                "JAX_COMPILATION_CACHE_DIR": os.path.join(tmp, "jax_cache"),
                "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
                "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1",
            }
            pop, gens = configs[0]
            print("  jaxiaf worker: persistent compilation cache (fill, then read) ...", flush=True)
            run_worker("bench_fit.py", [path, f"{pop}x{gens}", seed_arg, "compile"], env=env)
            cached = run_worker("bench_fit.py", [path, f"{pop}x{gens}", seed_arg, "compile"], env=env)
    b2g = jres[0]["b2mf"]

    # --- brian2modelfitting table
    b2 = {"t": {lv: [] for lv in LEVELS}, "end": [], "stalled": 0, "recovered": 0}
    rows = []
    for seed, r in zip(seeds, b2_runs, strict=True):
        pos = np.searchsorted(r["improved_round"], np.arange(len(r["round_end"])), side="right") - 1
        g_round = [b2g[str(seed)][p] for p in pos]
        t_lv = times_to_levels(g_round, r["round_end"])
        final = r["improved_params"][-1]
        stalled = g_round[-1] < 0.95
        b2["stalled"] += stalled
        b2["recovered"] += recovered(final)
        for lv in LEVELS:
            b2["t"][lv].append(t_lv[lv])
        b2["end"].append(r["total"])
        rows.append(
            [
                seed,
                len(r["round_end"]),
                f"{np.median(np.diff(r['round_end'])) * 1e3:.0f} ms",
                *(fmt_opt(t_lv[lv]) for lv in LEVELS),
                fmt_s(r["total"]),
                f"{g_round[-1]:.3f}" + (" (stalled)" if stalled else ""),
                f"{r['best_error'][-1]:.3f}",
                fmt_err(errors_of(final)),
                f"{b2g['held_out'][seed]:.3f}",
            ]
        )
    per_round = float(np.median(np.concatenate([np.diff(r["round_end"]) for r in b2_runs])))
    print(
        "\n### brian2modelfitting 0.4: SpikeFitter, GammaFactor(2 ms), NevergradOptimizer('CMA'), 30 samples"
        f"/round, Brian2 Cython target, rk4; cap {args.rounds} rounds or {args.max_seconds:.0f} s\n"
    )
    print(
        table(
            [
                "seed",
                "rounds",
                "per round",
                "t: gamma>=0.95",
                "t: gamma>=0.99",
                "t: gamma=1",
                "fit end",
                "final train gamma",
                "own error",
                "errors tau / bias / v_th / refr",
                "held-out gamma",
            ],
            rows,
        )
    )

    # --- jaxiaf tables
    summaries = []
    for cfg in jres:
        pop, gens, comp = cfg["pop"], cfg["gens"], cfg["compile_s"]
        s = {"t": {lv: [] for lv in LEVELS}, "end": [], "stalled": 0, "recovered": 0}
        rows = []
        for run in cfg["runs"]:
            t_lv = times_to_levels(run["gamma"], run["elapsed"])
            stalled = run["gamma"][-1] < 0.95
            s["stalled"] += stalled
            s["recovered"] += recovered(run["best"])
            for lv in LEVELS:
                s["t"][lv].append(t_lv[lv])
            s["end"].append(run["total"])
            rows.append(
                [
                    run["seed"],
                    fmt_opt(t_lv[0.95]),
                    fmt_opt(None if t_lv[0.95] is None else t_lv[0.95] + comp),
                    fmt_opt(t_lv[0.99]),
                    fmt_opt(t_lv[1.0]),
                    fmt_s(run["total"]),
                    fmt_s(run["total"] + comp),
                    f"{run['gamma'][-1]:.3f}" + (" (stalled)" if stalled else ""),
                    fmt_err(errors_of(run["best"])),
                    f"{run['held_out']:.3f}",
                ]
            )
        s.update(
            pop=pop,
            gens=gens,
            compile=comp,
            per_gen=float(np.median(np.concatenate([np.diff(run["elapsed"]) for run in cfg["runs"]]))),
        )
        summaries.append(s)
        print(
            f"\n### jaxiaf.fit: population {pop}, {gens} generations, VanRossum(10 ms), CMA-ES, float32 "
            f"({s['per_gen'] * 1e3:.1f} ms per generation; compile {comp:.2f} s: the first fit in the "
            "process "
            f"took {cfg['cold_total']:.2f} s)\n"
        )
        print(
            table(
                [
                    "seed",
                    "t: gamma>=0.95",
                    "same + compile",
                    "t: gamma>=0.99",
                    "t: gamma=1",
                    "fit end",
                    "fit end + compile",
                    "final train gamma",
                    "errors tau / bias / v_th / refr",
                    "held-out gamma",
                ],
                rows,
            )
        )

    # --- summary and ratios
    n = len(seeds)
    bm = {lv: median_or_none(b2["t"][lv]) for lv in LEVELS}
    bend = float(np.median(b2["end"]))
    print(
        f"\n### Summary (medians over {n} seeds; a time to a level is the median over the seeds that reached "
        "it, with the count when not all did)\n"
    )
    rows = [
        [
            "brian2modelfitting (CMA, 30/round)",
            *(fmt_med(b2["t"][lv]) for lv in LEVELS),
            fmt_s(bend),
            f"{b2['stalled']}/{n}",
            f"{b2['recovered']}/{n}",
            "-",
            "-",
            "-",
        ]
    ]
    for s in summaries:
        jm = {lv: median_or_none(s["t"][lv]) for lv in LEVELS}
        jend = float(np.median(s["end"]))
        c = s["compile"]
        both = lambda a, b, c=c: "-" if b is None else f"{ratio(a, b)} / {ratio(a, b + c)}"
        rows.append(
            [
                f"jaxiaf pop {s['pop']} x {s['gens']} gen",
                f"{fmt_med(s['t'][0.95])} ({fmt_med(s['t'][0.95], c)})",
                fmt_med(s["t"][0.99]),
                fmt_med(s["t"][1.0]),
                f"{fmt_s(jend)} ({fmt_s(jend + c)})",
                f"{s['stalled']}/{n}",
                f"{s['recovered']}/{n}",
                both(bm[0.95], jm[0.95]),
                both(bm[1.0], jm[1.0]),
                both(bend, jend),
            ]
        )
    print(
        table(
            [
                "fitter",
                "t: gamma>=0.95 (+compile)",
                "t: gamma>=0.99",
                "t: gamma=1",
                "fit end (+compile)",
                "stalled",
                "params within test tolerance",
                "speed-up to 0.95 (excl / incl compile)",
                "speed-up to gamma=1",
                "speed-up to fit end",
            ],
            rows,
        )
    )
    print(
        f"\nbrian2modelfitting: {per_round * 1e3:.0f} ms per round (Cython)"
        + (f", {numpy_round:.2f} s per round with Brian2's numpy target" if numpy_round else "")
        + "; its fit end is the cap above, its time to gamma = 1 is where it stops improving."
    )
    print(
        f"jaxiaf (JAX {jres[0]['jax']}, float32, one CPU device), each config in a fresh worker process: "
        "'compile' = its first fit minus the same fit warm (JAX start-up, the eager set-up ops and compiling "
        "the "
        f"generation step; importing jax + jaxiaf, {jres[0]['import_s']:.1f} s, not included)."
    )
    if cached is not None:
        c0 = jres[0]["compile_s"]
        print(
            "With JAX's persistent compilation cache warm (JAX_COMPILATION_CACHE_DIR, min compile time 0; "
            "jaxiaf's stored fit programs inside it), the "
            f"first fit of pop {cached['pop']} x {cached['gens']} gen in a fresh process pays "
            f"{cached['compile_s']:.2f} s "
            f"instead of {c0:.2f} s (its import of jax + jaxiaf, {cached['import_s']:.2f} s, not included): "
            "speed-up to gamma >= 0.95 incl. compile "
            f"{ratio(bm[0.95], median_or_none(summaries[0]['t'][0.95]) + cached['compile_s'])}, to fit end "
            f"{ratio(bend, float(np.median(summaries[0]['end'])) + cached['compile_s'])}."
        )
    print(
        "'stalled' = training gamma < 0.95 when the fit ends. 'params within test tolerance' = |error| < 5 % "
        "on "
        "tau_mem, bias, v_thresh and <= 2 dt on refractory (tests/test_fit.py)."
    )
    print(f"\nScript wall time: {time.perf_counter() - t_script:.0f} s")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(
            sys.argv[2],
            tuple(int(v) for v in sys.argv[3].split("x")),
            [int(v) for v in sys.argv[4].split(",")],
            sys.argv[5],
        )
    else:
        main()
