"""JAX's persistent compilation cache, on by default in a per-user directory.

A fresh process otherwise compiles every layer, sweep and fit again (0.4-2 s each); with the cache, the
second process of the same shapes loads the compiled programs from disk. `import jaxiaf` turns the cache
on unless JAX already has one configured (`JAX_COMPILATION_CACHE_DIR`, `jax_compilation_cache_dir`) or
the user switched it off (`jax_enable_compilation_cache=False`).
"""

import os
import sys
from pathlib import Path

import jax

ENV_VAR = "JAXIAF_CACHE_DIR"
"""Environment variable: the cache directory; empty or `0` disables the cache."""

MIN_COMPILE_SECONDS = 0.0
"""Programs that compile faster than this are not written to the cache (JAX's default is 1 s)."""


def default_cache_dir() -> Path | None:
    """The directory `import jaxiaf` uses: `$JAXIAF_CACHE_DIR` if set (None if empty or `0`), else the
    per-user cache directory: `$XDG_CACHE_HOME/jaxiaf/xla` or `~/.cache/jaxiaf/xla` (Linux),
    `~/Library/Caches/jaxiaf/xla` (macOS), `%LOCALAPPDATA%\\jaxiaf\\xla` (Windows)."""
    value = os.environ.get(ENV_VAR)
    if value is not None:
        return None if value.strip() in ("", "0") else Path(value).expanduser()
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        base = Path(os.environ["LOCALAPPDATA"])
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "jaxiaf" / "xla"


def set_compilation_cache(path: str | os.PathLike | None) -> None:
    """Use `path` as JAX's persistent compilation cache directory, or switch the cache off (`None`).

    This sets JAX's process-wide options (`jax_compilation_cache_dir`, `jax_enable_compilation_cache`, and
    `jax_persistent_cache_min_compile_time_secs` = 0.1 s, so that layers compiling in under JAX's default
    of 1 s are cached too) and applies to the programs compiled from now on. The cache holds one file per
    compiled program; it may be deleted at any time (`rm -rf ~/.cache/jaxiaf/xla`).

    **Arguments:**

    - `path`: a directory (created if missing), or `None` to disable the cache.

    **Raises:** `TypeError` if `path` is neither a path nor `None`.
    """
    from jax.experimental.compilation_cache import compilation_cache

    if path is not None and not isinstance(path, str | os.PathLike):
        raise TypeError(f"`path` must be a directory path or None; got {type(path).__name__}.")
    compilation_cache.reset_cache()
    if path is None:
        jax.config.update("jax_enable_compilation_cache", False)
        return
    path = Path(path).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_enable_compilation_cache", True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)


def enable_default_cache() -> None:
    """Called by `import jaxiaf`: the default cache, unless JAX has one or the user disabled caching."""
    if jax.config.jax_compilation_cache_dir is not None or not jax.config.jax_enable_compilation_cache:
        return
    path = default_cache_dir()
    if path is None:
        return
    try:
        set_compilation_cache(path)
    except OSError:  # an unwritable cache directory: run uncached rather than fail at import
        return
