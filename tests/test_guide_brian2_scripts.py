"""The guide `docs/guides/brian2-scripts.md`: its examples run in order, as a reader pastes them, and
their assertions (the page's claims) hold."""

import pathlib
import re

GUIDE = pathlib.Path(__file__).parents[1] / "docs" / "guides" / "brian2-scripts.md"


def test_the_guide_examples_run_and_their_claims_hold():
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.S)
    assert len(blocks) == 8
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(GUIDE), "exec"), namespace)
