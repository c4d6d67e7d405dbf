"""The README's Python snippets run, in order, as a user would paste them."""

import pathlib
import re

import numpy as np

README = pathlib.Path(__file__).parents[1] / "README.md"


def test_readme_python_snippets_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 2
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    assert namespace["counts"].shape == (8, 4)
    assert namespace["swept"].counts.shape == (48, 4)
    fitted, truth = namespace["result"].best_params, {"tau_mem": 0.02, "bias": 0.008, "v_thresh": -0.052}
    assert all(abs(fitted[k] / truth[k] - 1) < 0.05 for k in truth), fitted
    assert namespace["result"].flags == () and namespace["result"].stop_reason == "tolerance"
    assert namespace["ts_out"].num_channels == 4 and namespace["ts_out"].times.size > 0
    assert namespace["layer"].t == 0.1
    gradient = np.asarray(
        namespace["jax"].grad(namespace["spike_count"])(namespace["grad_layer"].params.weights)
    )
    assert np.all(np.isfinite(gradient)) and np.all(gradient != 0)  # "non-zero"
    assert namespace["adaptive"].sim.model.method == "exact"  # "Brian2's own choice ...: exact"
    assert sorted(namespace["adaptive_record"]) == ["spikes", "v", "w"]
    assert namespace["adaptive_sweep"].counts.shape == (4, 2)
    assert "(1000, 4)" in capsys.readouterr().out
