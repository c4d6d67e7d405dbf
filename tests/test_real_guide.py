"""`docs/guides/real-neurons.md`: its blocks run in order on the real recording (skipped, saying why, where
`$JAXIAF_REALDATA` or `../shared/realdata` lacks it), and the figures its text states hold."""

import contextlib
import io
import warnings
from pathlib import Path

import numpy as np
import pytest
from helpers import python_blocks

import jaxiaf
from jaxiaf._fit import recordings

PAGE = Path(__file__).parents[1] / "docs" / "guides" / "real-neurons.md"


def test_the_real_neurons_guide_runs_and_states_true_figures(monkeypatch):
    try:
        data = recordings.challenge_a()
    except FileNotFoundError as missing:
        pytest.skip(f"the real recordings are absent: {missing}")
    monkeypatch.setenv(recordings.REALDATA_ENV, str(recordings.realdata_path()))
    namespace: dict = {}
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore", jaxiaf.FitWarning)
        for block in python_blocks(PAGE):
            exec(compile(block, str(PAGE), "exec"), namespace)
    assert all(290 <= len(t) <= 340 for t in namespace["spikes"][0])  # "290 to 340 spikes"
    assert namespace["score"].normalised > 0.5  # "the ratio is above 0.5 here"
    assert namespace["fold"].fit.noise_floor > 0
    assert namespace["trace_fit"].relative_loss < 0.5  # "the relative loss is below 0.5"
    for label in ("06", "08", "09", "12"):  # "intrinsic reliability below 0.3"
        s = data["sets"].index(label)
        recorded = jaxiaf.spikes_to_raster(data["spikes"][s], data["current"].shape[2], data["dt"])[..., 0].T
        assert float(jaxiaf.metrics.intrinsic_reliability(recorded, data["dt"], 2e-3)) < 0.3
    # the organisers' spike sample is 1 or 2 samples before the first one above 0 mV, detect_spikes's stamp
    detected = np.round(namespace["spikes"][0][0] / data["dt"]).astype(int)
    organisers = np.round(data["spikes"][0][0] / data["dt"]).astype(int)
    organisers = organisers[organisers < namespace["steps"] - 2]
    assert detected.shape == organisers.shape and set(detected - organisers) <= {1, 2}
