"""Shared harness: float64 and strict rank promotion for every test (never switched inside a test body)."""

import jax
import pytest

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def key():
    return jax.random.key(1234)
