"""Summaries folded inside the scan (`Reducer`), and the check of a user's reducer."""

import inspect
from collections.abc import Callable
from typing import NamedTuple


class Reducer(NamedTuple):
    """A summary computed inside the scan, so that the (T, ..., N) raster is never stored.

    - `init(shape, dtype) -> acc`: the initial accumulator (a pytree) for a state `v` of `shape`.
    - `update(acc, k, spike, v) -> (acc, y)`: fold in step `k` (int, from 0 in this evolve) with its
      `spike` (bool, `shape`) and `v` after reset (`shape`, V); `y` (a pytree, or None) is stacked over
      the steps, for the per-step outputs one does want to keep.

    Pass the same `Reducer` object again to reuse the compiled loop (it is a static argument).
    """

    init: Callable
    update: Callable


def check_reducer(reducer) -> None:
    """`TypeError` naming the argument: `reducer` not a [`Reducer`][] (or None), or its `init` / `update`
    not callable with `(shape, dtype)` / `(acc, k, spike, v)`."""
    if reducer is None:
        return
    if not isinstance(reducer, Reducer):
        raise TypeError(
            f"`reducer` must be a jaxiaf.Reducer(init, update) or None; got {type(reducer).__name__}."
        )
    for field, arguments in (("init", "shape, dtype"), ("update", "acc, k, spike, v")):
        function = getattr(reducer, field)
        try:
            inspect.signature(function).bind(*arguments.split(", "))
        except TypeError:
            raise TypeError(f"`reducer.{field}` must be callable as {field}({arguments}).") from None
        except ValueError:  # a builtin without a signature: called as it is
            pass
