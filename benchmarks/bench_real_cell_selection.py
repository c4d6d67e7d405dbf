"""Real cell: which of a fit's runs predicts the held-out stimulus, and does a lower training loss?

For one named model and each fold of `bench_real_cell.py` (Challenge A, 4-fold cross-validation by
stimulus set), `jaxiaf.cross_validate` runs with the defaults of `jaxiaf.fit` (or the fit options given
as JSON), then *every run* the fit kept (`FitResult.runs`: each search from its start to its end) is
simulated on all 8 stimulus sets and scored as the competition scores (gamma at +-2 ms against each
repetition, averaged, divided by the repetitions' intrinsic reliability). Diagnostic only: no choice of
the fit looks at a held-out set. The summary compares selection rules that read the training data only:

- `best`: the run of the lowest training loss (what `fit` returns);
- `median of band`: the coordinate-wise median of the runs *at the best loss* (`fit`'s band: within 5 %
  of the way from the noise floor to the null loss);
- `best training score`: of the runs at the best loss, the one of the highest mean normalised gamma on
  the training sets;

and the spread of the held-out score among runs within 1 % (2 %, 5 %) of the best training loss.

    .venv/bin/python benchmarks/bench_real_cell_selection.py --model gif
    .venv/bin/python benchmarks/bench_real_cell_selection.py --model gif --options '{"patience": 50}'

Writes `--out` (JSON: per fold the fit's figures and every run's parameters, training loss and scores; git
SHA; load averages).
"""

import argparse
import json
import os
import subprocess
import time
import warnings
from pathlib import Path

import numpy as np
from bench_real_cell import DELTA, FOLDS, VAN_ROSSUM_TAU, _data

HERE = Path(__file__).resolve().parent


def scorer(model, data):
    """`score(values) -> {label: normalised gamma}` of parameters `values` on every stimulus set."""
    import jaxiaf
    from jaxiaf._fit.crossval import _gamma_and_reliability

    dt, steps = data["dt"], data["current"].shape[2]
    recorded = [jaxiaf.spikes_to_raster(s, steps, dt)[..., 0].T for s in data["spikes"]]

    def score(values):
        layer = model.layer(dt, **values)
        out = {}
        for s, label in enumerate(data["sets"]):
            predicted = np.asarray(layer(data["current"][s].mean(axis=0)[:, None])[0])[:, 0]
            repeated = np.repeat(predicted[:, None], recorded[s].shape[1], 1)
            gamma, reliability = _gamma_and_reliability(repeated, recorded[s], dt, DELTA)
            out[label] = float(gamma) / float(reliability)
        return out

    return score


def null_loss(spikes, labels, held_out, dt, steps):
    """The van Rossum loss (`VAN_ROSSUM_TAU`) of a silent model on the training trials of a fold."""
    from scipy.signal import lfilter

    decay = np.exp(-dt / VAN_ROSSUM_TAU)
    losses = []
    for times, label in zip(spikes, labels, strict=True):
        if label in held_out:
            continue
        train = np.zeros(steps)
        np.add.at(train, np.floor(np.asarray(times) / dt + 1e-6).astype(int), 1.0)
        filtered = lfilter([1.0], [1.0, -decay], train)  # f[k] = f[k-1] decay + train[k]
        losses.append(np.sqrt(dt / VAN_ROSSUM_TAU * np.sum(filtered**2)))
    return float(np.mean(losses))


def fold_row(name, fold, options, data, x, spikes, labels, score):
    """One fold: the fit, and every run's training loss, parameters and scores."""
    import jaxiaf

    model = jaxiaf.neuron_models[name]
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jaxiaf.FitWarning)
        (result,) = jaxiaf.cross_validate(
            model.layer(data["dt"]), x, spikes, labels, folds=[FOLDS[fold]], bounds=model.bounds,
            progress=False, **options,
        )  # fmt: skip
    wall = time.perf_counter() - start
    fit = result.fit
    runs = [{"loss": loss, "local": local, "params": params, "scores": score(params)}
            for loss, params, local in fit.runs]  # fmt: skip
    null = null_loss(spikes, labels, FOLDS[fold], data["dt"], x.shape[1])
    return {
        "fold": fold,
        "held_out": FOLDS[fold][0],
        "train_sets": [s for s in data["sets"] if s not in FOLDS[fold]],
        "wall_s": wall,
        "generations": fit.generations,
        "evaluations": fit.evaluations,
        "best_loss": fit.best_loss,
        "noise_floor": fit.noise_floor,
        "null_loss": null,
        "near": fit.best_loss + 0.05 * (null - fit.noise_floor),
        "best_params": fit.best_params,
        "best_scores": score(fit.best_params),
        "runs": runs,
        "load_after": os.getloadavg(),
    }


def summary(rows, score):
    """The held-out score of each selection rule per fold, and the spread among near-best runs."""
    rules = {"best": [], "median of band": [], "best training score": []}
    for row in rows:
        held, band = row["held_out"], [r for r in row["runs"] if r["loss"] <= row["near"]]
        train = lambda r: np.mean([r["scores"][s] for s in row["train_sets"]])
        median = {k: float(np.median([r["params"][k] for r in band])) for k in row["best_params"]}
        rules["best"].append(row["best_scores"][held])
        rules["median of band"].append(score(median)[held])
        rules["best training score"].append(max(band, key=train)["scores"][held])
    lines = [f"{rule}: {' / '.join(f'{v:.3f}' for v in vals)}, mean {np.mean(vals):.3f}"
             for rule, vals in rules.items()]  # fmt: skip
    for within in (0.01, 0.02, 0.05):
        held = [r["scores"][row["held_out"]] for row in rows for r in row["runs"]
                if r["loss"] <= (1 + within) * row["best_loss"]]  # fmt: skip
        lines.append(
            f"runs within {within:.0%} of the best training loss: {len(held)}, held-out score mean "
            f"{np.mean(held):.3f}, sd {np.std(held):.3f}, range {min(held):.3f}-{max(held):.3f}"
        )
    return rules, lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="gif")
    parser.add_argument("--folds", default="0,1,2,3")
    parser.add_argument("--options", default="{}", help="fit options as JSON, e.g. '{\"patience\": 50}'")
    parser.add_argument("--out", default=str(HERE / "results" / "real_cell_selection.json"))
    args = parser.parse_args()
    import jaxiaf

    data, x, spikes, labels = _data()
    score = scorer(jaxiaf.neuron_models[args.model], data)
    sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=HERE)
    report = {"sha": sha.stdout.strip(), "model": args.model, "options": json.loads(args.options),
              "load_before": os.getloadavg(), "rows": []}  # fmt: skip
    for fold in map(int, args.folds.split(",")):
        row = fold_row(args.model, fold, report["options"], data, x, spikes, labels, score)
        report["rows"].append(row)
        print(f"fold {fold}: {row['wall_s']:.1f} s, loss {row['best_loss']:.4f}, held-out "
              f"{row['best_scores'][row['held_out']]:.3f}", flush=True)  # fmt: skip
    report["rules"], lines = summary(report["rows"], score)
    print("\n".join(lines))
    Path(args.out).write_text(json.dumps(report, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
