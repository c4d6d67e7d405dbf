"""Shared harness: float64 and strict rank promotion for every test. Precision is never switched globally
inside a test body; the tests of the default float32 layer run inside `jax.enable_x64(False)`."""

import gc
import os

# Before jaxiaf is imported: no persistent compilation cache in the test process (the tests of the cache run
# their own processes with their own directory). JAX's cache write aborted the whole suite on CI (issue 19).
os.environ["JAXIAF_CACHE_DIR"] = "0"

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def key():
    return jax.random.key(1234)


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Each test module's compiled programs are released after it: XLA:CPU maps about 3 memory regions per
    compiled program and keeps them while JAX caches the program, so a whole run of the suite in one process
    approached Linux's 65530 mappings per process (`vm.max_map_count`) and segfaulted inside XLA."""
    yield
    jax.clear_caches()
    gc.collect()
