"""`import jaxiaf` leaves JAX's configuration as it finds it; the persistent compilation cache is switched on
by `jaxiaf.set_compilation_cache()` (or the user's `$JAXIAF_CACHE_DIR`), never over the user's own."""

import json
import os
import subprocess
import sys
import textwrap

_IMPORT = """
import json, jax
before = {k: repr(v) for k, v in jax.config.values.items()}
import jaxiaf
after = {k: repr(v) for k, v in jax.config.values.items()}
changed = {k: [before.get(k), after.get(k)] for k in {*before, *after} if before.get(k) != after.get(k)}
print(json.dumps(changed))
"""


def _python(script: str, env: dict) -> str:
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip().splitlines()[-1]


def _clean_env(tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("JAXIAF_CACHE_DIR", "JAX_COMPILATION_CACHE_DIR")}
    return {**env, "XDG_CACHE_HOME": str(tmp_path / "home-cache"), "JAX_PLATFORMS": "cpu"}


def test_import_leaves_every_jax_option_unchanged(tmp_path):
    assert json.loads(_python(_IMPORT, _clean_env(tmp_path))) == {}
    assert not (tmp_path / "home-cache").exists()


def test_set_compilation_cache_uses_the_default_directory_and_respects_the_users(tmp_path):
    script = textwrap.dedent(
        """
        import jax, jaxiaf
        print(jaxiaf.set_compilation_cache(), jax.config.jax_compilation_cache_dir,
              jax.config.jax_persistent_cache_min_compile_time_secs)
        """
    )
    default = tmp_path / "home-cache" / "jaxiaf" / "xla"
    assert _python(script, _clean_env(tmp_path)).split() == [str(default), str(default), "0.0"]
    mine = str(tmp_path / "mine")
    env = {**_clean_env(tmp_path), "JAX_COMPILATION_CACHE_DIR": mine}
    assert _python(script, env).split() == [mine, mine, "1.0"]  # JAX's own threshold, left alone
