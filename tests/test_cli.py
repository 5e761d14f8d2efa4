"""The CLI surface: every command has --help with an example; errors map to exit codes."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from qmsprint.cli import app

runner = CliRunner()
COMMANDS = sorted(c.name or c.callback.__name__ for c in app.registered_commands)


def test_expected_commands_exist():
    assert {"validate", "run", "app", "simulate", "diagnose", "design", "assign", "compare", "report"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example: qmsprint " + command in " ".join(result.output.split())


def test_top_level_help_and_module_entry():
    result = subprocess.run([sys.executable, "-m", "qmsprint", "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout


def test_bad_spec_exit_code_and_message(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\ndesign = "abc"\n[arms]\ncontrol = "a"\ntreatment = "a"\n')
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2
    out = result.output
    assert "design" in out and "arms.treatment" in out and "metrics" in out and "data" in out
    assert "Traceback" not in out


def test_missing_spec_exit_code(tmp_path):
    result = runner.invoke(app, ["run", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2
    assert "experiment file not found" in result.output
    assert not (tmp_path / "runs").exists()


def test_unknown_command_is_a_usage_error():
    result = runner.invoke(app, ["frobnicate"])
    assert result.exit_code == 2


def test_make_demo_opens_the_run_it_just_wrote():
    """`make demo` runs experiments/demo_*.toml from the repo root, then `qmsprint app` opens the
    newest run under its default runs folder: the demo specs must write there."""
    import inspect
    from pathlib import Path

    from qmsprint.cli import app_ as app_command
    from qmsprint.spec import load_spec

    root = Path(__file__).resolve().parents[1]
    default = inspect.signature(app_command).parameters["runs_dir"].default
    for name in ("demo_ab.toml", "demo_did.toml"):
        assert load_spec(root / "experiments" / name).runs_dir == (root / default).resolve()


@pytest.mark.parametrize(("flag", "expected"), [([], True), (["--no-diagnosis"], False)])
def test_run_passes_the_diagnosis_choice_and_exit_code(monkeypatch, tmp_path, flag, expected):
    from pathlib import Path

    import qmsprint.api

    seen = {}

    class Outcome:
        path = tmp_path / "runs" / "x"
        converged = False
        warnings = []

        def summary(self):
            return "No recommendation: a fit did not converge."

    def fake_run_pilot(spec, *, runs_dir=None, progress=None, diagnosis=True):
        seen["diagnosis"] = diagnosis
        return Outcome()

    monkeypatch.setattr(qmsprint.api, "run_pilot", fake_run_pilot)
    demo = Path(__file__).resolve().parents[1] / "experiments" / "demo_ab.toml"
    result = runner.invoke(app, ["run", str(demo), "--quiet", *flag])
    assert seen["diagnosis"] is expected
    assert result.exit_code == 4 and "did not converge" in result.output


def test_every_command_is_thin_over_the_api():
    """The commands ask qmsprint.api for work and qmsprint.present for text: cli.py imports nothing else of qmsprint."""
    import ast
    from pathlib import Path

    import qmsprint.cli

    tree = ast.parse(Path(qmsprint.cli.__file__).read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    imported |= {f"{n.module}.{a.name}" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    # serve: `qmsprint app` starts Streamlit; interrupt: Ctrl+C and SIGTERM stop a command (exit code 130);
    # words: counts with their noun, like present's text
    allowed = ("api", "present", "words", "errors", "progress", "serve", "interrupt")
    others = {m for m in imported if m.startswith("qmsprint.") and m.split(".")[1] not in allowed}
    assert others == set(), others
    assert "qmsprint.api" in {m.rsplit(".", 1)[0] for m in imported} | imported


def test_validate_prints_what_the_shared_validation_found(monkeypatch, tmp_path):
    """`qmsprint validate` prints api.validate's record: summary, warnings, health checks, then ok."""
    from pathlib import Path

    import qmsprint.api
    from qmsprint.api import Validation
    from qmsprint.errors import DataError, Problem
    from qmsprint.results import HealthCheck

    found = Validation(
        spec=None,
        summary="data: x.parquet",
        warnings=[Problem("csat", "low response")],
        health=[HealthCheck("srm_units", "alert", "Sample ratio mismatch")],
    )
    monkeypatch.setattr(qmsprint.api, "validate", lambda spec, progress=None: found)
    out = runner.invoke(app, ["validate", str(Path("any.toml")), "--quiet"]).output.splitlines()
    assert out == [
        "data: x.parquet",
        "warning: csat: low response",
        "alert: Sample ratio mismatch",
        "alert: experiment file and data are valid, but 1 health check raised an alert (srm_units): "
        "read them before trusting results",
    ]
    bad = Validation(spec=None, error=DataError("invalid data", [Problem("timestamp", "not a date")]))
    monkeypatch.setattr(qmsprint.api, "validate", lambda spec, progress=None: bad)
    result = runner.invoke(app, ["validate", "any.toml"])
    assert result.exit_code == 3 and "timestamp: not a date" in result.output
