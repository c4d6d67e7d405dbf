"""Real cell: 4-fold cross-validation by stimulus set on Challenge A of the 2007 Quantitative Single-Neuron
Modeling Competition (Jolivet et al. 2008; recordings of Rauch et al. 2003), every named model of
`jaxiaf.neuron_models`, and the brian2modelfitting 0.4 anchor on the same split, model, bounds, metric and
evaluation budget.

Protocol: each fold holds out one reliable and one unreliable stimulus set ((00, 06), (04, 08), (05, 09),
(11, 12)) and fits on the other six (4 repetitions each; the input of a set is its repetitions' mean recorded
current, so the repetitions are simulated once). `jaxiaf.fit` runs with its defaults (float32, van Rossum
10 ms, CMA-ES), the layer built at the recording's dt (0.2 ms). A held-out set is scored by the coincidence
factor at +-2 ms against each repetition, averaged, divided by the repetitions' intrinsic reliability; the
goal is the mean of that ratio over the reliable sets (00, 04, 05, 11).

brian2modelfitting: `SpikeFitter` (Cython target) with the same equations (parameters not fitted
substituted), threshold, reset, refractory period, bounds, the van Rossum distance written as its
`SpikeMetric`, `NevergradOptimizer('CMA')` with 64 samples per round, as many rounds as jaxiaf's fit
evaluated parameter sets (rounded up); its best parameters are scored by jaxiaf's simulation of the model
(float64) on the held-out sets.

    .venv/bin/python benchmarks/bench_real_cell.py                           # every model, 4 folds
    .venv/bin/python benchmarks/bench_real_cell.py --models gif --folds 0    # one fit
    .venv/bin/python benchmarks/bench_real_cell.py --anchor adaptive_threshold:0

`--cell pozzorini2015_cell3`: a second cell, not used to develop the fit (Pozzorini et al., PLoS Comput
Biol 11:e1004275, 2015: a layer-5 pyramidal cell's test data, `../shared/realdata/gif_pozzorini2015_cell3/`):
9 repetitions of one 20-s frozen-noise current at 10 kHz. Its "stimulus sets" are the four 5-s segments of
that input (`s0`..`s3`, each simulated from rest); each fold holds one out, and all four count as reliable.
Spikes are read from the voltage with `jaxiaf.detect_spikes` (0 V, 0.5 ms dead time).

    .venv/bin/python benchmarks/bench_real_cell.py --cell pozzorini2015_cell3 --out other.json

Writes benchmarks/results/real_cell.json (rows, git SHA, whether tracked files differed from it, load
averages before, after each row and at the end).
"""

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FOLDS = (("00", "06"), ("04", "08"), ("05", "09"), ("11", "12"))
RELIABLE = ("00", "04", "05", "11")
DELTA = 2e-3
VAN_ROSSUM_TAU = 10e-3


def _pozzorini(path=None) -> dict:
    """The second cell in `challenge_a`'s layout: the four 5-s segments of its 20-s input as sets."""
    import jaxiaf
    from jaxiaf._fit.recordings import realdata_path

    raw = np.load(Path(path or realdata_path()) / "gif_pozzorini2015_cell3" / "gif_cell3_test.npz")
    dt, segment = float(raw["dt_s"]), 50000
    current, v = (raw[k].astype(np.float64) for k in ("test_I_A", "test_V_V"))
    sets = [f"s{k}" for k in range(current.shape[1] // segment)]
    cut = lambda a: np.stack([a[:, k * segment : (k + 1) * segment] for k in range(len(sets))])
    spikes = [jaxiaf.detect_spikes(trace, dt) for trace in cut(v)]
    return {"dt": dt, "sets": sets, "current": cut(current), "v": cut(v), "spikes": spikes}


def _challenge_a():
    from jaxiaf._fit.recordings import challenge_a

    return challenge_a()


CELLS = {  # name: (data, folds, the reliable sets that the goal averages)
    "challenge_a": (_challenge_a, FOLDS, RELIABLE),
    "pozzorini2015_cell3": (_pozzorini, (("s0",), ("s1",), ("s2",), ("s3",)), ("s0", "s1", "s2", "s3")),
}


def _data(cell="challenge_a"):
    data = CELLS[cell][0]()
    labels = np.repeat(data["sets"], data["current"].shape[1])
    x = np.repeat(data["current"].mean(axis=1), data["current"].shape[1], axis=0)[:, :, None]
    spikes = [times for per_set in data["spikes"] for times in per_set]
    return data, x, spikes, labels


def jaxiaf_row(name: str, fold: int, cell: str = "challenge_a") -> dict:
    """One model on one fold with `jaxiaf.cross_validate` (the defaults of `jaxiaf.fit`)."""
    import jaxiaf

    data, x, spikes, labels = _data(cell)
    folds = CELLS[cell][1]
    model = jaxiaf.neuron_models[name]
    start, cpu = time.perf_counter(), time.process_time()
    layer = model.layer(data["dt"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jaxiaf.FitWarning)
        (result,) = jaxiaf.cross_validate(
            layer, x, spikes, labels, folds=[folds[fold]], bounds=model.bounds, progress=False
        )
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    fit = result.fit
    return {
        "tool": "jaxiaf",
        "model": name,
        "fold": fold,
        "held_out": list(result.held_out),
        "wall_s": wall,
        "cpu_s": cpu,
        "search_s": float(fit.elapsed[-1]),
        "generations": fit.generations,
        "evaluations": fit.evaluations,
        "stop_reason": fit.stop_reason,
        "flags": list(fit.flags),
        "best_loss": fit.best_loss,
        "noise_floor": fit.noise_floor,
        "best_params": fit.best_params,
        "scores": {k: s._asdict() for k, s in result.scores.items()},
    }


def _b2mf_model(model):
    """The model's equations, threshold and reset for brian2modelfitting: fitted parameters `(constant)`,
    the others written in as their values, the refractory period a parameter `ref`."""
    import re

    fitted = set(model.bounds) - {"refractory"}
    fixed, lines = {}, []
    for line in model.equations.strip().splitlines():
        name, _, unit = (part.strip() for part in line.partition(":"))
        if name in model.values and name not in fitted:
            fixed[name] = f"({model.values[name]!r}*{unit})" if unit != "1" else f"({model.values[name]!r})"
        else:
            lines.append(f"{line} (constant)" if name in fitted else line)
    lines.append("ref : second (constant)")
    texts = ["\n".join(lines), model.threshold, model.reset]
    for name, value in fixed.items():
        texts = [re.sub(rf"\b{name}\b", value, text) for text in texts]
    return texts


def b2mf_row(name: str, fold: int, evaluations: int, cell: str = "challenge_a") -> dict:
    """brian2modelfitting on one fold with `evaluations` parameter sets (rounds of 64)."""
    for alias, value in (("NaN", np.nan), ("float", float), ("int", int)):
        if not hasattr(np, alias):
            setattr(np, alias, value)
    warnings.filterwarnings("ignore")
    import brian2 as b2
    from brian2modelfitting import NevergradOptimizer, SpikeFitter
    from brian2modelfitting.metric import SpikeMetric

    import jaxiaf

    data, x, spikes, labels = _data(cell)
    dt, model, held_out = data["dt"], jaxiaf.neuron_models[name], CELLS[cell][1][fold]
    train = ~np.isin(labels, held_out)
    decay = np.exp(-dt / VAN_ROSSUM_TAU)
    num_steps = x.shape[1]

    def filtered(times):
        from scipy.signal import lfilter

        trace = np.zeros(num_steps)
        np.add.at(trace, np.floor(np.asarray(times) / dt + 1e-6).astype(int), 1.0)
        return lfilter([1.0], [1.0, -decay], trace)  # f[k] = f[k-1] decay + trace[k]

    class VanRossum(SpikeMetric):
        """jaxiaf's fit loss: the van Rossum distance (10 ms), averaged over the trials."""

        def get_features(self, traces, output, dt_):
            targets = [filtered(np.asarray(o)) for o in output]
            return np.array(
                [
                    [
                        np.sqrt(dt / VAN_ROSSUM_TAU * np.sum((filtered(np.asarray(m)) - t) ** 2))
                        for m, t in zip(s, targets, strict=True)
                    ]
                    for s in traces
                ]
            )

        def get_errors(self, features):
            return features.mean(axis=1)

    b2.prefs.codegen.target = "cython"
    equations, threshold, reset = _b2mf_model(model)
    fitter = SpikeFitter(
        model=b2.Equations(equations),
        input=x[train, :, 0] * b2.amp,
        input_var="I_inp",
        output=[np.asarray(t) * b2.second for t, keep in zip(spikes, train, strict=True) if keep],
        dt=dt * b2.second,
        threshold=threshold,
        reset=reset,
        refractory="ref",
        method=model.integrator.replace("exact", "linear"),
        n_samples=64,
        param_init={"v": model.values["v_rest"] * b2.volt},
    )
    fitter.parameter_names = sorted(fitter.parameter_names)
    units = {n: b2.get_unit(fitter.model[n].dim) for n in model.bounds if n != "refractory"}
    bounds = {n: [lo * units[n], hi * units[n]] for n, (lo, hi) in model.bounds.items() if n != "refractory"}
    bounds["ref"] = [model.bounds["refractory"][0] * b2.second, model.bounds["refractory"][1] * b2.second]
    rounds = -(-evaluations // 64)
    start, cpu = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        best, error = fitter.fit(
            optimizer=NevergradOptimizer(method="CMA"), metric=VanRossum(), n_rounds=rounds, **bounds
        )
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    values = {k: float(v) for k, v in best.items()}
    values["refractory"] = values.pop("ref")
    scores = _scores(model, data, values, held_out)
    return {
        "tool": "brian2modelfitting 0.4",
        "model": name,
        "fold": fold,
        "held_out": list(held_out),
        "wall_s": wall,
        "cpu_s": cpu,
        "rounds": rounds,
        "evaluations": rounds * 64,
        "best_loss": float(error),
        "best_params": values,
        "scores": scores,
    }


def _scores(model, data, values, held_out):
    """The held-out scores of parameters `values`, simulated by jaxiaf (as `cross_validate` scores)."""
    import jaxiaf

    layer = model.layer(data["dt"], **values)
    out = {}
    for label in held_out:
        s = data["sets"].index(label)
        predicted = np.asarray(layer(data["current"][s].mean(axis=0)[:, None])[0])[:, 0]
        recorded = jaxiaf.spikes_to_raster(data["spikes"][s], predicted.size, data["dt"])[..., 0].T
        gamma = float(
            np.mean(
                jaxiaf.metrics.gamma_factor(
                    np.repeat(predicted[:, None], recorded.shape[1], 1), recorded, data["dt"], DELTA
                )
            )
        )
        reliability = float(jaxiaf.metrics.intrinsic_reliability(recorded, data["dt"], DELTA))
        out[label] = {"gamma": gamma, "reliability": reliability, "normalised": gamma / reliability}
    return out


def _worker(args) -> None:
    """One row in this process, printed as one JSON line."""
    if args.tool == "jaxiaf":
        row = jaxiaf_row(args.models, args.folds, args.cell)
    else:
        row = b2mf_row(args.models, args.folds, args.evaluations, args.cell)
    print(json.dumps(row))


def _run(extra: list) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", *extra], capture_output=True, text=True, check=False
    )
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="lif,adaptation,adaptive_threshold,adex,gif")
    parser.add_argument("--folds", default="0,1,2,3")
    parser.add_argument(
        "--anchor", default="", help="model:fold pairs for brian2modelfitting, comma-separated"
    )
    parser.add_argument("--out", default=str(HERE / "results" / "real_cell.json"))
    parser.add_argument("--worker", action="store_true")
    parser.add_argument("--tool", default="jaxiaf")
    parser.add_argument("--evaluations", type=int, default=0, help="the anchor's budget when no row of ours")
    parser.add_argument("--cell", default="challenge_a", choices=sorted(CELLS))
    args = parser.parse_args()
    if args.worker:
        args.folds = int(args.folds)
        _worker(args)
        return
    sha = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=HERE
    ).stdout.strip()
    report = {
        "sha": sha,
        "cell": args.cell,
        "load_before": os.getloadavg(),
        "nproc": os.cpu_count(),
        "rows": [],
    }
    report["dirty"] = bool(
        subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                       text=True, cwd=HERE).stdout.strip()
    )  # fmt: skip
    for name in filter(None, args.models.split(",")):
        for fold in map(int, args.folds.split(",")):
            try:  # a fresh process per fit: compile included
                row = _run(["--models", name, "--folds", str(fold), "--cell", args.cell])
            except RuntimeError as error:  # kept as a row: the other models' rows still count
                report["rows"].append(
                    {"tool": "jaxiaf", "model": name, "fold": fold, "error": str(error)[-600:]}
                )
                print(f"jaxiaf {name} fold {fold}: failed", flush=True)
                Path(args.out).write_text(json.dumps(report, indent=1))
                continue
            row["load_after"] = os.getloadavg()  # other processes share the cores: timings under load
            report["rows"].append(row)
            Path(args.out).write_text(json.dumps(report, indent=1))
            reliable = [s["normalised"] for k, s in row["scores"].items() if k in CELLS[args.cell][2]]
            print(
                f"jaxiaf {name} fold {fold}: {row['wall_s']:.1f} s, reliable held-out ratio {reliable}",
                flush=True,
            )
    for pair in filter(None, args.anchor.split(",")):
        name, fold = pair.split(":")
        ours = [r for r in report["rows"] if r["model"] == name and r["fold"] == int(fold)]
        evaluations = ours[0]["evaluations"] if ours else args.evaluations
        row = _run(
            ["--tool", "b2mf", "--models", name, "--folds", fold, "--evaluations", str(evaluations),
             "--cell", args.cell]
        )  # fmt: skip
        row["load_after"] = os.getloadavg()
        report["rows"].append(row)
        Path(args.out).write_text(json.dumps(report, indent=1))
        print(
            f"brian2modelfitting {name} fold {fold}: {row['wall_s']:.1f} s, scores {row['scores']}",
            flush=True,
        )
    report["load_after"] = os.getloadavg()
    for name in filter(None, args.models.split(",")):
        rows = [
            r for r in report["rows"] if r["model"] == name and r["tool"] == "jaxiaf" and "error" not in r
        ]
        ratios = [s["normalised"] for r in rows for k, s in r["scores"].items() if k in CELLS[args.cell][2]]
        print(
            f"{name}: mean held-out gamma / reliability on the reliable sets {np.mean(ratios):.3f} "
            f"({len(ratios)} sets)"
        )
    Path(args.out).write_text(json.dumps(report, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
