"""A fit's compiled programs are kept on disk (`jaxiaf._compile.cache.PersistentJit`): a second process
loads them
without tracing (or importing evosax), and the results are the same bits with and without the cache."""

import json
import os
import re
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

import jaxiaf
from jaxiaf._compile import cache as _cache
from jaxiaf._fit import search as _search

BOUNDS = {"tau_mem": (5e-3, 50e-3), "bias": (0.0, 0.02)}
SCRIPT = textwrap.dedent(
    """
    import json, sys
    import jax, numpy as np
    import jaxiaf
    from jaxiaf._fit import search as _search

    built = []
    programs = _search._programs
    _search._programs = lambda *options: built.append(options[0]) or programs(*options)
    x = 0.006 + 0.008 * np.random.default_rng(0).standard_normal((2, 2000, 1))
    truth = jaxiaf.FFIAF(np.ones((1, 1)), tau_mem=0.02, bias=0.008)
    spikes = np.stack([np.asarray(truth(trial)[0]) for trial in x])
    r = jaxiaf.fit(jaxiaf.FFIAF(np.ones((1, 1))), x, spikes=spikes, bounds={bounds}, population_size=8,
                   parallel=2, generations=4, key=jax.random.key(3), progress=False)
    print(json.dumps({{"built": len(built), "evosax": "evosax" in sys.modules,
                      "loss": r.loss_history.tolist(), "best": r.best_params,
                      "dtype": str(r.module.params.tau_mem.dtype)}}))
    """
).format(bounds=BOUNDS)


def _fit_in_a_fresh_process(cache_dir, x64=False):
    env = {**os.environ, "JAXIAF_CACHE_DIR": str(cache_dir), "JAX_PLATFORMS": "cpu"}
    env["JAX_ENABLE_X64"] = "1" if x64 else "0"
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("x64", [False, True], ids=["float32", "float64"])
def test_a_second_process_loads_the_programs_without_tracing(tmp_path, x64):
    first = _fit_in_a_fresh_process(tmp_path, x64)
    stored = sorted(p.name.split("-")[0] for p in (tmp_path / _cache.EXECUTABLES).iterdir())
    assert stored == ["evaluate", "explore_seed", "first_states", "generation", "split", "trial_keys"]
    second = _fit_in_a_fresh_process(tmp_path, x64)
    assert first["dtype"] == second["dtype"] == ("float64" if x64 else "float32")
    assert first["built"] == 1 and first["evosax"]
    assert second["built"] == 0 and not second["evosax"]  # loaded: nothing traced, evosax not needed
    assert second["loss"] == first["loss"] and second["best"] == first["best"]


def _small_fit(x64=False, **kwargs):
    x = 0.006 + 0.008 * np.random.default_rng(1).standard_normal((2, 1500, 1)).astype(np.float32)
    with jax.enable_x64(x64):
        truth = jaxiaf.FFIAF(np.ones((1, 1)), tau_mem=0.02, bias=0.008)
        spikes = np.stack([np.asarray(truth(trial)[0]) for trial in x])
        return jaxiaf.fit(
            jaxiaf.FFIAF(np.ones((1, 1))),
            x,
            spikes=spikes,
            bounds=BOUNDS,
            population_size=8,
            parallel=2,
            generations=4,
            key=jax.random.key(5),
            progress=False,
            **kwargs,
        )


def test_stored_and_loaded_programs_give_the_bits_of_jit(tmp_path, monkeypatch):
    """The same fit through `jax.jit` (no executable directory), through programs compiled and stored,
    and through the programs loaded back from disk (a fresh in-memory cache)."""
    results = []
    for folder in (None, tmp_path, tmp_path):
        _search.compiled_generation.cache_clear()
        monkeypatch.setattr(_cache, "executable_dir", lambda folder=folder: folder)
        results.append(_small_fit())
    assert {"generation", "first_states", "evaluate"} <= {p.name.split("-")[0] for p in tmp_path.iterdir()}
    for other in results[1:]:
        assert other.best_params == results[0].best_params
        np.testing.assert_array_equal(other.loss_history, results[0].loss_history)
        np.testing.assert_array_equal(other.generation_best, results[0].generation_best)


@pytest.mark.parametrize("x64", [False, True], ids=["float32", "float64"])
def test_stored_programs_make_no_host_callback(tmp_path, monkeypatch, x64):
    """A program that calls back into Python cannot be stored (neither by JAX's cache nor here): the
    fit's generation, first states and losses call only LAPACK (CMA-ES's `eigh`), in float64 too (its
    loss computes the step constants on the device: `bit_exact=False`)."""
    _search.compiled_generation.cache_clear()
    seen = {}
    monkeypatch.setattr(_cache, "executable_dir", lambda: tmp_path)
    monkeypatch.setattr(
        _cache, "_store", lambda path, compiled: seen.setdefault(path.name.split("-")[0], compiled.as_text())
    )
    _small_fit(x64)
    assert {"generation", "first_states", "evaluate"} <= set(seen)
    assert ("f64[" in seen["generation"]) == x64
    for text in seen.values():  # (the text's metadata names this test, whose name says "callback")
        assert all(t.startswith("lapack_") for t in _custom_calls(text))


def _custom_calls(text):
    return set(re.findall(r'custom_call_target="([^"]+)"', text))


class _Foreign:
    pass


def test_only_faithful_descriptions_make_a_key():
    assert _cache.describe((1, 0.5, "a", None, np.dtype("float32"))) == _cache.describe(
        (1, 0.5, "a", None, np.dtype("float32"))
    )
    assert _cache.describe(jaxiaf.metrics.VanRossum(0.01)) != _cache.describe(jaxiaf.metrics.VanRossum(0.02))
    scale = 2.0
    with pytest.raises(TypeError):
        _cache.describe(lambda v: v * scale)  # a closure: what it captured is not in its name
    with pytest.raises(TypeError):
        _cache.describe(_Foreign())  # code outside the fingerprinted packages
