"""JAX's persistent compilation cache: switched on by an explicit call, never by `import jaxiaf`.

A fresh process otherwise compiles every layer, sweep and fit again (0.4-2 s each); with the cache, the
second process of the same shapes loads the compiled programs from disk. `import jaxiaf` leaves JAX's
configuration as it finds it, unless the environment variable `JAXIAF_CACHE_DIR` names a directory (the
user's own opt-in, as `JAX_COMPILATION_CACHE_DIR` is JAX's). [`set_compilation_cache`][] turns the cache on
in a per-user directory, never over a cache the user configured in JAX.

JAX still traces and lowers a program to find it in its cache; [`PersistentJit`][] keeps a fit's programs
next to it under a key computed before tracing, so that a second process skips that too.
"""

import contextlib
import dataclasses
import functools
import hashlib
import os
import pickle
import re
import sys
import tempfile
from pathlib import Path

import jax
import numpy as np

ENV_VAR = "JAXIAF_CACHE_DIR"
"""Environment variable: the cache directory; empty or `0` disables the cache."""

COMPILER_OPTIONS = {"xla_cpu_copy_insertion_use_region_analysis": True}
"""XLA options of the library's own top-level programs (an eager `mod(x)`, a sweep's chunk, a fit's steps;
JAX takes options only on an outermost `jax.jit`, so `evolve` and the traced `mod(x)` run with the
caller's). XLA:CPU's copy insertion with region analysis sees that the loop's carried arrays need not be
copied before each step overwrites them: a float32 sweep's loop body drops from 3 copies to 1 and runs
faster (`benchmarks/README.md`); the arithmetic, and so every result, is unchanged. Other
backends ignore the option."""

MIN_COMPILE_SECONDS = 0.0
"""Programs that compile faster than this are not written to the cache (JAX's default is 1 s)."""


def default_cache_dir() -> Path | None:
    """The directory of [`set_compilation_cache`][]`()`: `$JAXIAF_CACHE_DIR` if set (None if empty or `0`),
    else the per-user cache directory: `$XDG_CACHE_HOME/jaxiaf/xla` or `~/.cache/jaxiaf/xla` (Linux),
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


_DEFAULT = object()


def set_compilation_cache(path: "str | os.PathLike | None" = _DEFAULT) -> Path | None:
    """Switch JAX's persistent compilation cache on (in `path`, or by default in a per-user directory) or
    off (`None`); `import jaxiaf` does not.

    This sets JAX's process-wide options (`jax_compilation_cache_dir`, `jax_enable_compilation_cache`, and
    `jax_persistent_cache_min_compile_time_secs` = 0, so that layers compiling in under JAX's default
    of 1 s are cached too) and applies to the programs compiled from now on. The cache holds one file per
    compiled program; it may be deleted at any time (`rm -rf ~/.cache/jaxiaf/xla`).

    **Arguments:**

    - `path`: a directory (created if missing); `None` to disable the cache; left out: `$JAXIAF_CACHE_DIR`
      or the per-user directory ([`default_cache_dir`][]), unless JAX already has a cache directory or
      caching was switched off in JAX (`jax_enable_compilation_cache=False`): a cache the user configured
      is never overridden.

    **Returns:** the cache directory in use afterwards (None: no cache).

    **Raises:** `TypeError` if `path` is neither a path nor `None`.
    """
    from jax.experimental.compilation_cache import compilation_cache

    if path is _DEFAULT:
        configured = jax.config.jax_compilation_cache_dir
        if configured is not None or not jax.config.jax_enable_compilation_cache:
            return Path(configured) if configured and jax.config.jax_enable_compilation_cache else None
        path = default_cache_dir()
        if path is None:
            return None
    if path is not None and not isinstance(path, str | os.PathLike):
        raise TypeError(f"`path` must be a directory path or None; got {type(path).__name__}.")
    compilation_cache.reset_cache()
    if path is None:
        jax.config.update("jax_enable_compilation_cache", False)
        return None
    path = Path(path).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_enable_compilation_cache", True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    return path


def enable_from_environment() -> None:
    """Called by `import jaxiaf`: nothing, unless `$JAXIAF_CACHE_DIR` names a directory and JAX has no
    cache of its own; an unwritable directory leaves the process uncached rather than failing."""
    if default_cache_dir() is None or os.environ.get(ENV_VAR) is None:
        return
    with contextlib.suppress(OSError):
        set_compilation_cache()


EXECUTABLES = "jaxiaf-executables"
"""Subdirectory of the compilation cache that holds the programs of [`PersistentJit`][]."""


class PersistentJit:
    """`jax.jit(build())` whose compiled programs a later process loads from disk without tracing them.

    JAX's persistent cache is keyed by the lowered program, so a process that finds its program there
    still traces and lowers it first (half a second for a fit's generation). Here the key is computed
    from what determines the program before it is traced: `name`, `static` (a description of everything
    the function closes over, see [`describe`][]), the inputs' tree and types, the library's source,
    the versions of JAX, evosax and equinox, JAX's configuration and the devices. On a hit the compiled
    program is deserialized (`jax.experimental.serialize_executable`). On a miss it is compiled anew (not
    read back from JAX's caches) and written in `EXECUTABLES` inside JAX's cache directory, unless it
    makes a host call other than LAPACK's (a callback cannot be stored). A stored program is used once
    its first run has succeeded; otherwise its file is deleted and `jax.jit`'s program is used. Programs
    are kept per input signature in memory, as `jax.jit` keeps them. Calls go through `jax.jit` when
    JAX's cache is off, the backend is not the CPU (the only one tried), an input is not a concrete array
    (a tracer, a NumPy array, a Python scalar), or `jax_disable_jit` / `jax_debug_nans` /
    `jax_debug_infs` is on; a `static` without a faithful description is compiled but not stored.
    `build` is called only when a program must be traced.
    """

    def __init__(self, build, name: str, static):
        self._build, self._name, self._static = build, name, static
        self._jit, self._compiled = None, {}

    def jitted(self):
        if self._jit is None:
            self._jit = jax.jit(self._build())
        return self._jit

    def __call__(self, *args):
        folder = executable_dir()
        leaves, tree = jax.tree.flatten(args)
        if folder is None or jax.default_backend() != "cpu" or any(map(jax.config.values.get, _EAGER_FLAGS)):
            return self.jitted()(*args)
        if not all(isinstance(x, jax.Array) and not isinstance(x, jax.core.Tracer) for x in leaves):
            return self.jitted()(*args)
        signature = (tree, tuple(x.aval for x in leaves))
        compiled = self._compiled.get(signature)
        if compiled is not None:
            return compiled(*args)
        compiled, outputs = self._load_or_compile(folder, args, tree, leaves)
        self._compiled[signature] = compiled
        return compiled(*args) if outputs is None else outputs

    def _load_or_compile(self, folder, args, tree, leaves):
        """The stored program (stored first if missing) and its outputs, after a first run that shows it
        whole; or the program `jax.jit` compiles, and None."""
        try:
            path = folder / f"{self._name}-{self._key(tree, leaves)}.pkl"
        except TypeError:  # a static value without a faithful description
            return self.jitted().lower(*args).compile(compiler_options=COMPILER_OPTIONS), None
        if not path.exists():
            # compiled anew, not read back from JAX's caches: XLA:CPU stores a program it has loaded or
            # run without all its parts. A GPU option (JAX sets it on CPUs too), set to the key, makes
            # the options, part of JAX's keys, new.
            anew = {**COMPILER_OPTIONS, "xla_gpu_per_fusion_autotune_cache_dir": path.stem}
            _store(path, self.jitted().lower(*args).compile(compiler_options=anew))
        try:
            compiled = _load(path, jax.tree.structure((args, {})))
            return compiled, jax.block_until_ready(compiled(*args))
        except Exception:  # missing, written by another version, truncated, not whole, ...
            path.unlink(missing_ok=True)
            return self.jitted().lower(*args).compile(compiler_options=COMPILER_OPTIONS), None

    def _key(self, tree, leaves) -> str:
        types = [(x.shape, str(x.dtype), x.aval.weak_type, str(x.sharding)) for x in leaves]
        config = sorted((k, repr(v)) for k, v in jax.config.values.items() if k not in _UNRELATED)
        text = repr((_fingerprint(), self._name, describe(self._static), describe_tree(tree), types, config))
        return hashlib.sha256(text.encode()).hexdigest()[:40]


def executable_dir() -> Path | None:
    """Where [`PersistentJit`][] keeps its programs: `EXECUTABLES` inside JAX's (local) cache directory,
    None when JAX's persistent cache is off."""
    folder = jax.config.jax_compilation_cache_dir
    if not jax.config.jax_enable_compilation_cache or not folder or "://" in folder:
        return None
    return Path(folder) / EXECUTABLES


def describe(value) -> str:
    """A faithful text of a static value: numbers, strings, containers, dtypes, and the functions,
    classes and dataclass instances (e.g. metrics, `jaxiaf.Model`) of the packages in the fingerprint.

    **Raises:** `TypeError` for anything else (whose text may not determine the program it builds)."""
    if value is None or isinstance(value, str | bool | int | float | complex | np.dtype):
        return repr(value)
    if isinstance(value, tuple | list):
        return f"{type(value).__name__}({', '.join(map(describe, value))})"
    if isinstance(value, dict):
        return f"dict({', '.join(f'{describe(k)}: {describe(v)}' for k, v in value.items())})"
    if isinstance(value, functools.partial):
        return f"partial({describe(value.func)}, {describe(value.args)}, {describe(value.keywords)})"
    kind = value if isinstance(value, type) or callable(value) and hasattr(value, "__qualname__") else None
    owner = type(value) if kind is None else kind
    if getattr(owner, "__module__", "").split(".")[0] not in _PACKAGES:
        raise TypeError(f"no faithful description of {owner!r}")
    if kind is not None:
        if getattr(kind, "__closure__", None):  # what a closure captured is not in its name
            raise TypeError(f"no faithful description of the closure {kind!r}")
        return f"{kind.__module__}.{kind.__qualname__}"
    name = f"{owner.__module__}.{owner.__qualname__}"
    if dataclasses.is_dataclass(value):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return f"{name}{describe(fields)}"
    return f"{name}:{value!r}"  # a sentinel (equinox's `Missing`)


def describe_tree(tree) -> str:
    """[`describe`][] of a tree structure: its node types, their static data and their children."""
    if tree.num_nodes == 1 and tree.num_leaves == 1:
        return "*"
    kind, data = tree.node_data()
    return f"{describe(kind)}[{describe(data)}]({', '.join(map(describe_tree, tree.children()))})"


_EAGER_FLAGS = ("jax_disable_jit", "jax_debug_nans", "jax_debug_infs")
"""With any of these on, calls go through `jax.jit`, which honours them."""
_UNRELATED = {
    "jax_log_compiles", "jax_explain_cache_misses", "jax_logging_level", "jax_debug_log_modules",
    "jax_compilation_cache_dir", "jax_enable_compilation_cache", "jax_persistent_cache_min_compile_time_secs",
    "jax_persistent_cache_min_entry_size_bytes", "jax_compilation_cache_max_size",
    "jax_raise_persistent_cache_errors", "jax_compiler_detailed_logging_min_ops",
}  # fmt: skip
"""JAX options left out of the key: logging and the persistent cache's own settings."""
_LAPACK = re.compile("lapack_")
"""The only host calls a stored program may make: LAPACK's kernels (a fit's CMA-ES calls `eigh`); other
custom calls may need set-up that JAX does while lowering."""
_PACKAGES = ("jaxiaf", "equinox", "evosax", "builtins", "jax", "jaxlib", "numpy")


@functools.cache
def _fingerprint() -> str:
    """The library's source, the versions that shape its programs, and the devices."""
    from importlib.metadata import version

    import equinox
    import jaxlib

    source = hashlib.sha256()
    for path in sorted(Path(__file__).parent.rglob("*.py")):
        source.update(path.read_bytes())
    devices = [(d.platform, d.device_kind, d.id, d.client.platform_version) for d in jax.devices()]
    versions = (jax.__version__, jaxlib.__version__, equinox.__version__, version("evosax"), np.__version__)
    return repr((source.hexdigest(), versions, sys.version, os.environ.get("XLA_FLAGS"), devices))


def _store(path: Path, compiled) -> None:
    """Write a program that has not run yet (XLA:CPU cannot serialize a sort it has run), atomically.
    The input tree is not kept (equinox's trees do not survive pickling; the loader has the inputs), the
    output tree only if it survives."""
    from jax.experimental import serialize_executable

    try:
        targets = set(re.findall(r'custom_call_target="([^"]+)"', compiled.as_text()))
        executable, _, out_tree = serialize_executable.serialize(compiled)
        if pickle.loads(pickle.dumps(out_tree)) != out_tree or not all(map(_LAPACK.match, targets)):
            return
        blob = pickle.dumps((executable, out_tree, bool(targets)))
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.name, delete=False) as file:
            file.write(blob)
        os.replace(file.name, path)
    except Exception:  # not serializable, or an unwritable cache: the next process compiles it again
        with contextlib.suppress(NameError, OSError):
            os.unlink(file.name)


def _load(path: Path, in_tree):
    from jax.experimental import serialize_executable

    executable, out_tree, lapack = pickle.loads(path.read_bytes())
    if lapack:  # JAX hands LAPACK's routines to its kernels when it lowers a call, skipped here
        from jax._src.lax import linalg

        linalg.initialize_lapack()
    return serialize_executable.deserialize_and_load(executable, in_tree, out_tree)
