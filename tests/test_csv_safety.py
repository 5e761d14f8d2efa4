"""One CSV writer, and no spreadsheet formula or secret in any CSV qmsprint writes or offers for download."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _data_helpers import base_rows, make_spec
from test_decide import SPEC, make_result

from qmsprint.data.pseudonymise import KEY_ENV
from qmsprint.decide import decide
from qmsprint.store import neutralise, read_csv, redact_frame, write_csv

ROOT = Path(__file__).resolve().parents[1]
EVIL = '=HYPERLINK("http://x.example","A")'
STARTS = ["=1+1", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, "csv-safety-tests-key-0123456789abcdef")


def _cells_start_safely(text: str) -> None:
    """No CSV cell (quoted or not) starts with a formula character."""
    if not text.strip():
        return  # an empty table
    for row in pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False).itertuples(index=False):
        for cell in row:
            assert not str(cell).startswith(("=", "+", "@", "\t", "\r")) and not re.match(r"-\D", str(cell)), cell


def test_write_csv_neutralises_formulas_and_reads_back(tmp_path):
    df = pd.DataFrame({"team": [EVIL, *STARTS, "ok", None], "n": [-1.5, 1, 2, 3, 4, 5, 6, 7, 8]})
    df.columns = ["team", "=n"]
    text = write_csv(df)
    assert "'=HYPERLINK" in text and "'=n" in text and "-1.5" in text  # numbers stay numbers
    _cells_start_safely(text)
    back = read_csv(io.StringIO(text))
    assert back["team"].tolist()[:7] == [EVIL, *STARTS] and list(back.columns) == ["team", "=n"]
    write_csv(df, tmp_path / "x.csv")
    with open(tmp_path / "x.csv", newline="") as f:
        assert f.read() == text
    assert neutralise(pd.DataFrame({"a": [1, 2]})).equals(pd.DataFrame({"a": [1, 2]}))


def test_redacted_frames_hold_no_paths_or_connection_strings():
    df = pd.DataFrame({"note": ["read /home/ana/northwind/export.csv", "postgresql://ana:pw@db:5432/cx", None]})
    out = redact_frame(df)["note"].tolist()
    assert out[0] == "read export.csv" and out[1] == "<database connection>" and pd.isna(out[2])


def test_the_run_folder_csvs_are_safe(tmp_path):
    from qmsprint.store import load_run, save_run

    rs = [make_result("csat", 0.3, 0.05, segments=[("team", EVIL, 0.2, 0.9), ("team", "+44 desk", 0.1, 0.8)])]
    path = save_run(SPEC, results=rs, recommendation=decide(SPEC, rs, []), runs_dir=tmp_path)
    text = (path / "effects.csv").read_text()
    assert "'=HYPERLINK" in text and "'+44 desk" in text
    _cells_start_safely(text)
    _cells_start_safely((path / "diagnostics.csv").read_text())
    assert set(load_run(path).effects["segment_value"].dropna()) == {EVIL, "+44 desk"}  # the app reads the names


def test_the_app_download_and_the_share_are_safe(tmp_path):
    from qmsprint import api
    from qmsprint.store import load_run, save_run

    rs = [make_result("csat", 0.3, 0.05, segments=[("team", EVIL, 0.2, 0.9)])]
    path = save_run(SPEC, results=rs, recommendation=decide(SPEC, rs, []), runs_dir=tmp_path / "runs")
    _cells_start_safely(api.effects_csv(load_run(path)).decode())
    out = api.redact(path, tmp_path / "redacted")
    _cells_start_safely((out / "effects.csv").read_text())


def test_diagnosis_csvs_are_safe(tmp_path, diagnosis_maker):
    from qmsprint.store import save_diagnosis

    d = diagnosis_maker()
    d.quadrant["team"] = [EVIL] * len(d.quadrant)
    d.root_causes["value"] = ["@billing"]
    paths = save_diagnosis(d.to_dict(), d.tables(), tmp_path / "diag")
    for p in paths:
        if p.suffix == ".csv":
            _cells_start_safely(p.read_text())
    assert "'=HYPERLINK" in (tmp_path / "diag" / "quadrant.csv").read_text()


def test_assignment_and_compare_csvs_are_safe(tmp_path):
    from qmsprint import api
    from qmsprint.store import save_run

    df = base_rows(400).drop(columns=["arm"])
    df["agent_id"] = [f"a{i % 8}" for i in range(len(df))]
    df["team"] = [EVIL if i % 2 else "-minus team" for i in range(len(df))]
    df.to_csv(tmp_path / "data.csv", index=False)
    spec = make_spec(tmp_path, periods={"baseline": {"start": "2026-01-01", "end": "2026-01-31"}})
    _, paths = api.assign(spec, out=tmp_path / "assignment.csv", seed=1)
    for p in paths:
        _cells_start_safely(p.read_text())
    assert "'=HYPERLINK" in paths[0].read_text() and "'-minus team" in paths[0].read_text()
    rs = [make_result("csat", 0.3, 0.05)]
    runs = [save_run(SPEC, results=rs, recommendation=decide(SPEC, rs, []), runs_dir=tmp_path / "r") for _ in "ab"]
    api.compare(runs, out=tmp_path / "compare.csv")
    _cells_start_safely((tmp_path / "compare.csv").read_text())


def test_simulated_csv_goes_through_the_one_writer(tmp_path):
    from qmsprint import api

    (path, *_) = api.simulate(tmp_path / "sim.csv", agents=8, per_agent=5)
    _cells_start_safely(path.read_text())
    assert np.isfinite(pd.read_csv(path)["handle_time"]).all()


def test_no_csv_is_written_past_the_one_writer():
    """Every ``to_csv`` of the package is in store/csvfile.py (downloads included)."""
    hits = [
        f"{p.relative_to(ROOT)}:{i}"
        for p in sorted((ROOT / "qmsprint").rglob("*.py"))
        if p.name != "csvfile.py"
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if ".to_csv(" in line or "csv.writer(" in line
    ]
    assert not hits, hits
