"""The README's demo command: JAX and Brian2 side by side."""

import pytest

from jaxiaf_cli import main
from jaxiaf_cli._main import run_demo


@pytest.mark.brian
def test_demo_agrees_with_brian_and_writes_a_png(tmp_path, capsys):
    out = tmp_path / "demo.png"
    figures = run_demo(str(out), "exact", 0.2, 6)
    assert figures["jax_spikes"] == figures["brian_spikes"] > 0
    assert figures["identical_neurons"] == 6
    assert figures["max_abs_dv"] <= 1e-12
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "identical spike trains: 6/6 neurons" in capsys.readouterr().out


def test_cli_rejects_unknown_commands():
    with pytest.raises(SystemExit):
        main(["fly"])
