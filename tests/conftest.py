"""Shared harness: float64 and strict rank promotion for every test. Precision is never switched globally
inside a test body; the tests of the default float32 layer run inside `jax.enable_x64(False)`."""

import os
import tempfile

# Before jaxiaf is imported: its persistent compilation cache goes to a temporary folder, not the user's home.
os.environ.setdefault("JAXIAF_CACHE_DIR", tempfile.mkdtemp(prefix="jaxiaf_test_xla_"))

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def key():
    return jax.random.key(1234)
