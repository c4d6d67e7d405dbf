"""A sweep's argument checks (naming the parameter sets that break a rule) and its divergence marks."""

import numbers
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from .._core import checks as _checks


def checked(name: str, arr):
    """`arr` (B, ...) checked by the rule for `name`: now, naming the sets that break it, or (traced, e.g.
    under `jax.grad`) at run time."""
    if not _checks.is_concrete(arr):
        return _checks.traced(name, arr)
    try:
        _checks.check_now(name, arr)
    except ValueError as error:
        bad = [b for b in range(arr.shape[0]) if not _passes(name, arr[b])]
        raise ValueError(f"{error} (parameter set(s) {bad[:10]}{' ...' if len(bad) > 10 else ''})") from None
    return arr


def _passes(name: str, row) -> bool:
    try:
        _checks.check_now(name, row)
    except ValueError:
        return False
    return True


def chunk_size(chunk_size, batch: int) -> int:
    if chunk_size is None:
        return batch
    if not isinstance(chunk_size, numbers.Integral) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise ValueError(f"`chunk_size` must be a positive integer or None; got {chunk_size!r}.")
    return int(chunk_size)


class SweepWarning(UserWarning):
    """Some parameter sets of a [`jaxiaf.sweep`][] diverged (see `SweepResult.diverged`)."""


def warn_diverged(result) -> None:
    sets = np.flatnonzero(np.asarray(result.diverged).any(axis=1))
    if not sets.size:
        return
    shown = ", ".join(
        f"{b} ({', '.join(f'{k}={_show(v, b)}' for k, v in result.params.items())})" for b in sets[:5]
    )
    more = f" and {sets.size - 5} more" if sets.size > 5 else ""
    warnings.warn(
        f"{sets.size} of {result.diverged.shape[0]} parameter sets diverged (their state became NaN or inf): "
        f"sets {shown}{more}. Their rows are not valid (`result.diverged` marks them by neuron); every other "
        "row is as if swept alone.",
        SweepWarning,
        stacklevel=3,
    )


def _show(values, b: int) -> str:
    if hasattr(values, "dim") or jnp.issubdtype(getattr(values, "dtype", np.float64), jax.dtypes.prng_key):
        return "..."
    row = np.asarray(values)[b]
    return f"{row:.6g}" if row.ndim == 0 else f"<{row.shape} array>"
