"""The README, a short front page: its example runs as a user pastes it and draws the committed figure; the
home page of the site shows the same example; its links lead somewhere."""

import pathlib
import re

import numpy as np
from PIL import Image

ROOT = pathlib.Path(__file__).parents[1]
README = ROOT / "README.md"


def _python_blocks(path: pathlib.Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


def test_readme_example_runs_and_draws_the_committed_figure(tmp_path, monkeypatch):
    (example,) = _python_blocks(README)
    assert len([line for line in example.splitlines() if line]) <= 16  # "one ~10-line example"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(example, str(README), "exec"), namespace)
    spikes, record = np.asarray(namespace["spikes"]), namespace["record"]
    assert spikes.shape == (3000, 3) and spikes.dtype == bool and np.all(spikes.sum(axis=0) > 0)
    assert record["v"].shape == (3000, 3)
    drawn, committed = Image.open(tmp_path / "example.png"), Image.open(ROOT / "docs" / "example.png")
    assert drawn.size == committed.size  # docs/example_figure.py redraws it from this block
    assert (ROOT / "docs" / "example.png").stat().st_size < 200_000
    namespace["plt"].close("all")


def test_the_home_page_shows_the_readme_example_and_both_figures():
    home = ROOT / "docs" / "index.md"
    assert _python_blocks(home) == _python_blocks(README)
    text = home.read_text()
    assert "](demo.png)" in text and "](example.png)" in text
    assert (
        'python3 -m venv .venv && .venv/bin/pip install -e ".[test,interop]" && .venv/bin/jaxiaf demo' in text
    )


def test_readme_is_a_short_front_page_whose_links_exist():
    text = README.read_text()
    assert len(text.splitlines()) < 150
    # the two set-up commands, which .ci/run also runs
    assert (
        'python3 -m venv .venv && .venv/bin/pip install -e ".[test,interop]" && .venv/bin/jaxiaf demo' in text
    )
    assert ".venv/bin/python -m pytest -q" in text
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
    local = [link for link in links if not link.startswith("http")]
    assert len(local) >= 12  # the two figures and every guide
    assert all((ROOT / link).is_file() for link in local), [
        link for link in local if not (ROOT / link).is_file()
    ]
    assert len({link for link in local if link.startswith("docs/guides/")}) >= 10
