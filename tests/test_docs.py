"""The guides in `docs/guides/`: each page's Python blocks run, in order, in a fresh namespace (as a user
pastes them), and the figures their text states are asserted; the site's navigation, the paths the pages
cite, the demo's figure and the site check (`docs/check_site.py`)."""

import base64
import contextlib
import io
import pathlib
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).parents[1]
PNG = b"\x89PNG\r\n\x1a\n"
GUIDES = ROOT / "docs" / "guides"


def _python_blocks(path: pathlib.Path) -> list[str]:
    """The page's Python blocks, each padded with blank lines so that a traceback names the page's line."""
    text = path.read_text()
    return [
        "\n" * text.count("\n", 0, match.start(1)) + match.group(1)
        for match in re.finditer(r"```python\n(.*?)```", text, flags=re.S)
    ]


def _run_page(path: pathlib.Path) -> tuple[dict, str, list]:
    """The namespace, the printed text and the warnings of one page's blocks, run in order."""
    namespace: dict = {}
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(io.StringIO()) as out:
        warnings.simplefilter("always")
        for block in _python_blocks(path):
            exec(compile(block, str(path), "exec"), namespace)
    return namespace, out.getvalue(), caught


def _layer(ns, out, caught):
    assert "(1000, 4)" in out  # "(1000, 4) bool raster"
    assert float(ns["mod"].t) == 0.1  # "the advanced module (t = 0.1 s)"
    assert ns["counts"].shape == (8, 4)


def _sweeps(ns, out, caught):
    assert ns["swept"].counts.shape == (48, 4)
    np.testing.assert_array_equal(np.unique(ns["swept"].params["bias"]), np.linspace(0.0, 0.03, 16))


def _fitting(ns, out, caught):
    fitted, truth = ns["result"].best_params, {"tau_mem": 0.02, "bias": 0.008, "v_thresh": -0.052}
    assert all(abs(fitted[k] / truth[k] - 1) < 0.05 for k in truth), fitted
    assert ns["result"].flags == () and ns["result"].stop_reason == "tolerance"


def _gradients(ns, out, caught):
    gradient = np.asarray(ns["jax"].grad(ns["spike_count"])(ns["grad_layer"].params.weights))
    assert np.all(np.isfinite(gradient)) and np.all(gradient != 0)  # "non-zero"


def _equations(ns, out, caught):
    assert ns["adaptive"].sim.model.method == "exact"  # "Brian2's own choice ...: exact"
    assert sorted(ns["adaptive_record"]) == ["spikes", "v", "w"]
    assert ns["adaptive_sweep"].counts.shape == (4, 2)


def _rockpool(ns, out, caught):
    assert ns["ts_out"].num_channels == 4 and ns["ts_out"].times.size > 0
    assert ns["layer"].t == 0.1
    dt = ns["layer"].dt  # "spike times mid-bin": (k + 0.5) * dt
    np.testing.assert_allclose(ns["ts_out"].times / dt % 1.0, 0.5, atol=1e-6)


def _interop(ns, out, caught):
    assert out.split() == ["True", "True"]  # the NIR round trip and the saved file: the same spikes
    assert any("refractory" in str(w.message) for w in caught)  # "warns: mod has a refractory period"


def _compilation_cache(ns, out, caught):
    import jax

    assert ns["cache"] is not None and str(ns["cache"]) == jax.config.jax_compilation_cache_dir
    assert jax.config.jax_enable_compilation_cache


CHECKS = {
    "compilation-cache.md": _compilation_cache,
    "layer.md": _layer,
    "sweeps.md": _sweeps,
    "fitting.md": _fitting,
    "gradients.md": _gradients,
    "equations.md": _equations,
    "rockpool.md": _rockpool,
    "interop.md": _interop,
}


@pytest.mark.parametrize("page", sorted(CHECKS))
def test_guide_blocks_run_and_state_true_figures(page, monkeypatch, tmp_path):
    if page != "compilation-cache.md":
        CHECKS[page](*_run_page(GUIDES / page))
        return
    import jax

    import jaxiaf

    # the page switches the cache on, as a user's process would; the suite runs without it (tests/conftest.py)
    monkeypatch.setenv("JAXIAF_CACHE_DIR", str(tmp_path / "xla"))
    before = jax.config.jax_compilation_cache_dir, jax.config.jax_enable_compilation_cache
    try:
        CHECKS[page](*_run_page(GUIDES / page))
    finally:
        jaxiaf.set_compilation_cache(None)
        jax.config.update("jax_compilation_cache_dir", before[0])
        jax.config.update("jax_enable_compilation_cache", before[1])


def test_every_guide_with_python_is_checked_and_every_guide_is_in_the_nav():
    mine = {*CHECKS, "dynamics.md", "layout.md"}  # other pages: their owners' tests
    assert {name for name in mine if _python_blocks(GUIDES / name)} == set(CHECKS)
    nav = (ROOT / "mkdocs.yml").read_text()
    for path in GUIDES.glob("*.md"):
        assert f"guides/{path.name}" in nav, f"{path.name} is not in mkdocs.yml's nav"
    for cited in re.findall(r"\b((?:guides|notebooks|api)/[\w.-]+\.(?:md|ipynb))", nav):
        assert (ROOT / "docs" / cited).is_file(), f"mkdocs.yml's nav names {cited}, which does not exist"


def test_every_public_name_has_a_page_in_the_api_reference():
    import jaxiaf

    text = "".join(path.read_text() for path in (ROOT / "docs" / "api").glob("*.md"))
    documented = set(re.findall(r"^::: jaxiaf\.(\w+)$", text, flags=re.M))
    assert set(jaxiaf.__all__) - documented == set(), "add `::: jaxiaf.<name>` to a page of docs/api/"


def _cited_paths(text: str) -> set[str]:
    pattern = r"`((?:jaxiaf|tests|benchmarks|notebooks|brian_ref|docs)/[\w./-]*\w)`"
    return {path for path in re.findall(pattern, text) if "*" not in path}


def test_paths_cited_by_the_readme_and_the_docs_exist():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    missing = {
        (page.name, path)
        for page in pages
        for path in _cited_paths(page.read_text())
        if not (ROOT / path).exists()
    }
    assert not missing, missing


def test_the_layout_page_names_files_that_exist_and_every_subpackage():
    text = (GUIDES / "layout.md").read_text()
    rows = re.findall(r"^\| `(jaxiaf/[\w.]+/?)` \|(.*)\|$", text, flags=re.M)
    assert {folder for folder, _ in rows} == {
        *(f"jaxiaf/{p.name}/" for p in (ROOT / "jaxiaf").iterdir() if (p / "__init__.py").is_file()),
        "jaxiaf/_layer.py",
    }
    for folder, description in rows:
        for name in re.findall(r"`(\w+\.py)`", description):
            assert (ROOT / folder / name).is_file(), f"layout.md: {folder}{name} does not exist"


@pytest.mark.brian
def test_the_demo_figure_of_the_home_page_is_what_the_demo_draws(tmp_path):
    from PIL import Image

    from jaxiaf_cli._main import run_demo

    out = tmp_path / "demo.png"
    figures = run_demo(str(out), "rk4", 0.5, 16)  # the demo's defaults, as `jaxiaf demo` runs it
    assert figures["identical_neurons"] == 16 and figures["max_abs_dv"] == 0.0  # the caption's claims
    committed = ROOT / "docs" / "demo.png"
    assert committed.stat().st_size < 200_000
    assert Image.open(committed).size == Image.open(out).size


def _site(tmp_path: pathlib.Path, home: str, notebook: str) -> pathlib.Path:
    (tmp_path / "notebooks" / "nb").mkdir(parents=True)
    (tmp_path / "index.html").write_text(home)
    (tmp_path / "notebooks" / "nb" / "index.html").write_text(notebook)
    (tmp_path / "demo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    return tmp_path


def test_the_site_check_finds_missing_images_broken_links_and_anchors(tmp_path):
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        from check_site import check_site
    finally:
        sys.path.remove(str(ROOT / "docs"))
    inline = '<img src="data:image/png;base64,' + base64.b64encode(PNG + bytes(200)).decode() + '">'
    good = _site(
        tmp_path / "good", '<img src="demo.png"><a href="notebooks/nb/#top">nb</a>', f'<h1 id="top">{inline}'
    )
    assert check_site(good) == []
    bad = _site(
        tmp_path / "bad",
        '<img src="missing.png"><a href="guides/gone/">x</a><a href="notebooks/nb/#nowhere">y</a>',
        '<img src="data:image/png;base64,"><img src="data:image/png;base64,' + "A" * 300 + '">',
    )
    assert check_site(bad) == [
        "index.html: no image is shown",
        "notebooks/nb/index.html: no image is shown",
        "index.html: broken link 'missing.png'",
        "index.html: broken link 'guides/gone/'",
        "index.html: link 'notebooks/nb/#nowhere' to a missing anchor",
    ]
    excused = check_site(bad, may_skip=("nb", "gone"))
    assert "notebooks/nb/index.html: no image is shown" not in excused
    assert "--may-skip gone: no such notebook page" in excused
    script = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "check_site.py"), str(bad)], capture_output=True
    )
    assert script.returncode == 1 and b"5 problem(s)" in script.stdout
