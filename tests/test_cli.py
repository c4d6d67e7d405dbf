"""The README's demo command: JAX and Brian2 side by side, and its options."""

import pytest

from jaxiaf_cli import main
from jaxiaf_cli._main import run_demo


@pytest.mark.brian
def test_demo_agrees_with_brian_and_writes_a_png(tmp_path, capsys):
    out = tmp_path / "demo.png"
    figures = run_demo(str(out), "exact", 0.2, 6)
    assert figures["jax_spikes"] == figures["brian_spikes"] > 0
    assert figures["identical_neurons"] == 6
    assert figures["max_abs_dv"] == 0.0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "identical spike trains: 6/6 neurons" in capsys.readouterr().out


@pytest.mark.brian
@pytest.mark.parametrize("neurons, duration", [("1", "0.0001"), ("2", "0.003")])
def test_demo_runs_small_layers_and_short_durations(tmp_path, capsys, neurons, duration):
    out = tmp_path / "small.png"
    args = ["demo", "--neurons", neurons, "--duration", duration, "--integrator", "euler", "--out", str(out)]
    assert main(args) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"identical spike trains: {neurons}/{neurons} neurons" in capsys.readouterr().out


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--neurons", "0", "argument --neurons: must be a whole number of neurons >= 1; got '0'"),
        ("--neurons", "-1", "argument --neurons: must be a whole number of neurons >= 1; got '-1'"),
        ("--neurons", "two", "argument --neurons: must be a whole number of neurons >= 1; got 'two'"),
        ("--duration", "0", "argument --duration: must be a finite number of seconds, at least one step"),
        ("--duration", "-1", "argument --duration: must be a finite number of seconds"),
        ("--duration", "nan", "argument --duration: must be a finite number of seconds"),
        ("--duration", "inf", "argument --duration: must be a finite number of seconds"),
        ("--duration", "0.00001", "argument --duration: must be a finite number of seconds"),
        ("--integrator", "heun", "argument --integrator: `integrator_name` must be one of 'rk4'"),
    ],
)
def test_demo_rejects_bad_options_with_a_usage_error(capsys, option, value, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", option, value])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_rejects_unknown_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["fly"])
    assert exit_info.value.code == 2 and "invalid choice: 'fly'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "out, message",
    [
        ("noext", "must end in .png"),
        (".", "is a directory"),
        ("/nonexistent-folder/demo.png", "is not a writable directory"),
    ],
)
def test_demo_refuses_an_output_it_cannot_write_before_simulating(capsys, out, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--out", out])
    assert exit_info.value.code == 2
    assert "argument --out" in (err := capsys.readouterr().err) and message in err
