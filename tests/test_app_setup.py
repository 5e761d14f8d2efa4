"""The app's "Set up a pilot" page (AppTest): a client export to a checked experiment file and a run."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from _export_helpers import BASELINE, PILOT, messy_export, messy_frame
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from qmsprint import api
from qmsprint.spec import load_spec
from qmsprint.ui.config import ENV_DATA_DIR, ENV_EXPERIMENTS_DIR, ENV_MODE, ENV_RUN, ENV_RUNS_DIR

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 300  # seconds per script run: validation reads the whole export, slow on a loaded machine


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """An engagement folder: data/ with the client's export, experiments/ and runs/ empty."""
    export = messy_export(tmp_path / "data" / "northwind_export.csv")
    (tmp_path / "runs").mkdir()
    monkeypatch.setenv(ENV_MODE, "workbench")
    monkeypatch.delenv(ENV_RUN, raising=False)
    monkeypatch.setenv(ENV_RUNS_DIR, str(tmp_path / "runs"))
    monkeypatch.setenv(ENV_DATA_DIR, str(tmp_path / "data"))
    monkeypatch.setenv(ENV_EXPERIMENTS_DIR, str(tmp_path / "experiments"))
    return tmp_path, export


def _texts(at: AppTest) -> str:
    parts = []
    for kind in ("title", "subheader", "markdown", "caption", "success", "warning", "error", "info", "text"):
        parts += [str(e.value) for e in getattr(at, kind)]
    return "\n".join(parts)


def _ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def _open(at: AppTest, export: Path) -> AppTest:
    at.radio(key="setup_how").set_value("A file in the data folder").run()
    return _ok(at.selectbox(key="setup_pick").set_value(str(export)).run())


def _date(at: AppTest, label: str):
    return next(d for d in at.date_input if d.label == label)


def _choose(at: AppTest) -> AppTest:
    """The consultant's choices: Queue as the contact reason, a baseline and a pilot, no NPS."""
    at.selectbox(key="setup_col_contact_reason").set_value("Queue").run()
    at.checkbox(key="setup_has_baseline").check().run()
    _date(at, "Pilot from").set_value(PILOT[0]).run()
    _date(at, "Baseline to").set_value(BASELINE[1]).run()
    return _ok(at.checkbox(key="setup_m_use_nps").uncheck().run())


def _tables(at: AppTest, column: str) -> list:
    """The tables shown that have ``column`` (the preview has ``interaction_id``, problem tables ``where``)."""
    return [d.value for d in at.dataframe if column in d.value.columns]


def _experiment(at: AppTest) -> dict:
    (code,) = [c for c in at.code if "[data.columns]" in c.value]
    return tomllib.loads(code.value)


def test_with_no_run_yet_the_app_opens_on_set_up_a_pilot(workspace):
    at = _ok(AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run())
    assert at.title[0].value == "Set up a pilot"
    at.switch_page("qmsprint/ui/pages/recommendation.py").run()  # a result page without a run: a friendly page
    assert "no run to show yet" in _texts(_ok(at))


def test_the_suggested_mapping_is_shown_checked_and_editable(workspace):
    folder, export = workspace
    at = _open(AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run(), export)
    text = _texts(at)
    assert "qmsprint reads all 864 rows of the export with this mapping" in text
    expected = {"interaction_id": "Contact ID", "timestamp": "Date/Time", "agent_id": "Agent", "arm": "Program",
                "csat": "CSAT", "fcr": "Resolved?", "contact_reason": "Reason", "handle_time": "AHT (s)"}  # fmt: skip
    for canon, column in expected.items():
        assert at.selectbox(key=f"setup_col_{canon}").value == column, canon
    assert at.checkbox(key="setup_dayfirst").value is True
    assert at.selectbox(key="setup_scale").value == (1, 5)
    assert (at.selectbox(key="setup_control").value, at.selectbox(key="setup_treatment").value) == (
        "Current QA", "Pilot QA")  # fmt: skip
    (preview,) = _tables(at, "interaction_id")
    assert len(preview) == 10 and set(preview["arm"]) <= {"Current QA", "Pilot QA"}  # parsed values
    at.selectbox(key="setup_col_contact_reason").set_value("Queue").run()
    assert "chosen by hand" in _texts(_ok(at))
    at.selectbox(key="setup_col_csat").set_value("Channel").run()  # a wrong choice is reported by column
    assert "reports" in _texts(_ok(at)) and "Finish the steps above" in _texts(at)
    assert any("csat" in set(t["where"]) for t in _tables(at, "where"))


def test_choices_make_an_experiment_file_that_saves_once_and_validates(workspace):
    folder, export = workspace
    at = _choose(_open(AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run(), export))
    raw = _experiment(at)
    assert raw["data"]["source"] == "../data/northwind_export.csv" and raw["data"]["dayfirst"] is True
    assert raw["data"]["columns"]["contact_reason"] == "Queue"
    assert raw["periods"] == {"baseline": {"start": BASELINE[0], "end": BASELINE[1]},
                              "pilot": {"start": PILOT[0], "end": PILOT[1]}}  # fmt: skip
    assert [m["name"] for m in raw["metrics"]] == ["csat", "repeat_contact", "fcr", "handle_time"]
    assert [m["role"] for m in raw["metrics"]] == ["primary", "primary", "secondary", "guardrail"]
    at.text_input(key="setup_filename").set_value("northwind.toml").run()
    at.button(key="setup_save").click().run()
    saved = folder / "experiments" / "northwind.toml"
    assert saved.is_file() and "Saved" in _texts(_ok(at))
    assert saved.read_text(encoding="utf-8").startswith("# A/B pilot")  # commented, as experiments/demo_ab.toml
    result = api.validate(saved)
    assert result.ok, result.error
    assert load_spec(saved).periods.pilot.start == PILOT[0]
    at.button(key="setup_save").click().run()  # never over an earlier file
    assert any("already exists" in e.value for e in _ok(at).error)
    at.button(key="setup_validate").click().run()
    assert any("are valid" in e.value for e in _ok(at).success), [e.value for e in at.error]


def test_the_choices_are_kept_while_another_page_is_open(workspace):
    folder, export = workspace
    at = _choose(_open(AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run(), export))
    before = _experiment(at)
    at.switch_page("qmsprint/ui/pages/compare.py").run()
    assert _ok(at).title[0].value == "Compare pilots"
    _ok(at.switch_page("qmsprint/ui/pages/setup.py").run())
    assert at.selectbox(key="setup_col_contact_reason").value == "Queue"
    assert at.checkbox(key="setup_has_baseline").value is True
    assert _experiment(at) == before


def test_run_starts_the_experiment_in_the_background(workspace, monkeypatch):
    folder, export = workspace
    calls = []

    def fake_start_run(runs_dir, **request):  # the worker is tested in test_jobs.py
        calls.append((runs_dir, request))
        return api.Job(id="j", folder=Path(runs_dir) / ".qmsprint-jobs" / "j", name=request["name"], state="starting")

    monkeypatch.setattr("qmsprint.api.start_run", fake_start_run)
    at = _choose(_open(AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run(), export))
    at.checkbox(key="setup_diagnosis").uncheck().run()
    at.button(key="setup_run").click().run()
    _ok(at)
    ((runs_dir, request),) = calls
    assert Path(runs_dir) == folder / "runs" and request["diagnosis"] is False
    raw = tomllib.loads(request["spec_text"])
    assert Path(raw["data"]["source"]) == export.resolve()  # the job's file reads the export where it is
    assert raw["periods"]["pilot"]["start"] == PILOT[0]


def test_an_uploaded_export_is_kept_under_data_when_the_file_is_saved(workspace):
    folder, _ = workspace
    content = messy_frame().to_csv(index=False).encode()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    at.file_uploader(key="setup_upload").set_value(("acme_export.csv", content, "text/csv")).run()
    assert "qmsprint reads all 864 rows" in _texts(_ok(at))
    at.button(key="setup_save").click().run()
    kept = folder / "data" / "acme_export.csv"
    assert kept.read_bytes() == content
    saved = folder / "experiments" / "acme-export.toml"
    assert tomllib.loads(saved.read_text())["data"]["source"] == "../data/acme_export.csv"
    assert api.validate(saved).ok


def test_a_broken_export_says_which_column_is_wrong(workspace):
    folder, _ = workspace
    bad = messy_frame()
    bad.loc[[3, 17, 40], "CSAT"] = "Very satisfied"  # labels without their number
    path = folder / "data" / "broken.csv"
    bad.to_csv(path, index=False)
    at = _open(AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run(), path)
    problems = next(t for t in _tables(at, "where") if "csat" in set(t["where"]))
    row = problems[problems["where"] == "csat"].iloc[0]
    assert row["count"] == 3 and "Very satisfied" in row["example values"]
    assert "Finish the steps above" in _texts(at)


def test_init_writes_the_suggested_file_and_never_overwrites(workspace):
    from qmsprint.cli import app

    folder, export = workspace
    out = folder / "experiments" / "northwind.toml"
    result = CliRunner().invoke(app, ["init", str(export), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "timestamp" in result.output and "'Date/Time'" in result.output and f"wrote {out}" in result.output
    raw = tomllib.loads(out.read_text(encoding="utf-8"))
    assert raw["data"]["columns"]["arm"] == "Program" and raw["data"]["dayfirst"] is True
    assert raw["arms"] == {"control": "Current QA", "treatment": "Pilot QA", "program": "behavior",
                           "planned_split": 0.5}  # fmt: skip
    assert api.validate(out).ok
    before = out.read_bytes()
    again = CliRunner().invoke(app, ["init", str(export), "--out", str(out)])
    assert again.exit_code == 5 and "already exists" in again.output and out.read_bytes() == before
    printed = CliRunner().invoke(app, ["validate", str(out), "--quiet"])
    assert printed.exit_code == 0, printed.output


def test_init_on_a_broken_export_writes_the_file_and_exits_3(workspace):
    from qmsprint.cli import app

    folder, _ = workspace
    bad = messy_frame()
    bad.loc[[3, 17], "Program"] = "Pilot QA (wave 2)"
    path = folder / "data" / "three_programs.csv"
    bad.to_csv(path, index=False)
    out = folder / "three.toml"
    result = CliRunner().invoke(app, ["init", str(path), "--out", str(out)])
    assert result.exit_code == 3 and out.is_file()
    assert "problem" in result.output and "Pilot QA (wave 2)" in result.output


def test_a_parquet_export_with_qmsprint_names_maps_itself(workspace, tmp_path):
    import io

    from qmsprint.simulate import SimConfig, simulate

    frame = simulate(SimConfig(n_agents=8, n_teams=2, interactions_per_agent=20, weeks=2, baseline_weeks=1)).frame
    buf = io.BytesIO()
    frame.to_parquet(buf)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    at.file_uploader(key="setup_upload").set_value(("interactions.parquet", buf.getvalue(), "application/octet-stream"))
    at.run()
    assert f"qmsprint reads all {len(frame):,} rows" in _texts(_ok(at))
    assert at.selectbox(key="setup_col_agent_id").value == "agent_id"
    assert at.checkbox(key="setup_dayfirst").value is False
