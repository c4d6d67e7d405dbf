"""Draws `docs/example.png` by running the README's example in `docs/`: `python docs/example_figure.py`."""

import os
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]

if __name__ == "__main__":
    example = re.search(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S).group(1)
    os.chdir(ROOT / "docs")
    exec(compile(example, "README.md", "exec"), {})
