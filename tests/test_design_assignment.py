"""Pilot design, assignment: reproducible, stratified and blocked randomization with a balance table; the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from _design_helpers import make_frame, make_spec

from qmsprint.design import assign_units
from qmsprint.errors import BundleError, DesignError


@pytest.fixture(scope="module")
def frame():
    return make_frame()


def test_assignment_is_reproducible_and_balanced(frame, tmp_path):
    spec = make_spec(metrics=(("fcr", "primary", 5.0), ("csat", "primary", 0.1)))
    a1 = assign_units(spec, seed=7, frame=frame)
    a2 = assign_units(spec, seed=7, frame=frame)
    a3 = assign_units(spec, seed=8, frame=frame)
    p1, p2, p3 = a1.save(tmp_path / "a1.csv"), a2.save(tmp_path / "a2.csv"), a3.save(tmp_path / "a3.csv")
    assert p1[0].read_bytes() == p2[0].read_bytes()
    assert p1[0].read_bytes() != p3[0].read_bytes()
    assert p1[1].name == "a1.balance.csv"
    assignment = pd.read_csv(p1[0])
    assert list(assignment.columns) == ["agent_id", "team", "site", "stratum", "block", "arm", "program"]
    assert (assignment["arm"] == "behavior").sum() == 40
    bal = a1.balance.set_index("variable")
    assert {"csat", "fcr", "volume", "qa_score", "tenure_months"} <= set(bal.index)
    # blocking on baseline performance keeps the blocked outcomes close
    assert abs(bal.loc["fcr", "std_diff"]) < 0.2
    assert "Balance: largest standardized difference" in a1.summary_text()
    json.dumps(a1.to_dict())


def test_blocking_beats_simple_randomization_on_the_blocked_outcome(frame):
    spec = make_spec(metrics=(("fcr", "primary", 5.0),), strata=())
    ds = [
        abs(assign_units(spec, seed=s, frame=frame).balance.set_index("variable").loc["fcr", "std_diff"])
        for s in range(20)
    ]
    # simple randomization of 40 + 40 gives E|d| ~ 0.18; pairing on FCR much less
    assert np.mean(ds) < 0.08


def test_stratified_assignment_keeps_each_stratum_split(frame):
    f = frame[~frame["agent_id"].isin(["a000", "a009"])]  # teams t0, t1 now have 9 agents: odd
    spec = make_spec()
    a = assign_units(spec, seed=3, frame=f)
    counts = a.assignment.groupby(["team", "arm"]).size().unstack(fill_value=0)
    sizes = counts.sum(axis=1)
    assert (abs(counts["behavior"] - sizes / 2) <= 0.5 + 1e-9).all()
    assert counts["behavior"].sum() == 39
    # a 25% split
    a25 = assign_units(make_spec(split=0.25), seed=3, frame=frame)
    c25 = a25.assignment.groupby(["team", "arm"]).size().unstack(fill_value=0)
    assert (abs(c25["behavior"] - c25.sum(axis=1) / 4) <= 1).all()
    assert c25["behavior"].sum() == 20


def test_assignment_of_teams_and_errors(frame, tmp_path):
    a = assign_units(make_spec(unit="team", strata=("team", "site")), seed=1, frame=frame)
    assert list(a.assignment.columns[:2]) == ["team", "site"]
    assert a.meta["strata"] == ["site"] and any("ignored" in n for n in a.notes)
    assert (a.assignment.groupby("site")["arm"].apply(lambda s: (s == "behavior").sum()) == 2).all()
    # a stratum with a single unit cannot be split
    one = frame[(frame["team"] != "t3") | (frame["agent_id"] == "a003")]
    with pytest.raises(DesignError) as err:
        assign_units(make_spec(), seed=1, frame=one)
    assert "stratum t3" in str(err.value)
    with pytest.raises(DesignError) as err:
        assign_units(make_spec(strata=("region",)), seed=1, frame=frame)
    assert "design_grid.strata.region" in str(err.value)
    # save refuses to overwrite either file
    (tmp_path / "x.balance.csv").write_text("keep")
    with pytest.raises(BundleError):
        a.save(tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()
    assert (tmp_path / "x.balance.csv").read_text() == "keep"


def test_balance_lists_every_outcome_the_data_has(frame):
    # the spec names FCR only; CSAT, NPS, repeat contacts and handle time are in the data
    a = assign_units(make_spec(), seed=1, frame=frame)
    bal = a.balance.set_index("variable")
    assert {"fcr", "csat", "nps", "repeat_contact", "handle_time", "volume", "qa_score"} <= set(bal.index)
    assert bal.loc["nps", "label"] == "Baseline NPS"
    units = a.units.set_index("unit")
    rows = frame[frame["agent_id"] == "a000"]
    assert units.loc["a000", "repeat_contact"] == pytest.approx(100 * rows["repeat_contact"].mean())
    nps = rows["nps"].dropna().astype(int)
    assert units.loc["a000", "nps"] == pytest.approx(np.where(nps >= 9, 100, np.where(nps <= 6, -100, 0)).mean())


def test_save_leaves_nothing_behind_when_a_file_cannot_be_written(frame, tmp_path):
    a = assign_units(make_spec(), seed=1, frame=frame)
    (tmp_path / "x.balance.csv").mkdir()  # a folder where the balance file would go
    with pytest.raises(BundleError):
        a.save(tmp_path / "x.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.balance.csv"]


# ------------------------------------------------------------------------------- CLI


def _write_spec(tmp_path, body):
    path = tmp_path / "pilot.toml"
    path.write_text(body, encoding="utf-8")
    return path


SPEC_RATES = """
name = "cli-plan"
design = "ab"
[arms]
control = "checklist"
treatment = "behavior"
[data]
source = "missing.parquet"
[[metrics]]
name = "fcr"
source = "no_repeat"
min_effect = 3.0
[design_grid]
agents_per_arm = [10, 40]
weeks = [4]
simulations = 50
[design_grid.baseline_rates]
interactions_per_agent_week = 60
fcr_rate = 0.7
icc = 0.03
"""


def test_cli_design_and_assign(tmp_path, frame):
    from typer.testing import CliRunner

    from qmsprint.cli import app

    runner = CliRunner()
    spec = _write_spec(tmp_path, SPEC_RATES)
    res = runner.invoke(app, ["design", str(spec), "--out", str(tmp_path / "plan"), "-q"])
    assert res.exit_code == 0, res.output
    assert "agents per arm" in res.output and (tmp_path / "plan" / "assurance.csv").exists()
    again = runner.invoke(app, ["design", str(spec), "--out", str(tmp_path / "plan"), "-q"])
    assert again.exit_code == 5 and "already exists" in again.output
    # impossible request: no data, no rates -> exit 6
    no_rates = _write_spec(tmp_path, SPEC_RATES.split("[design_grid.baseline_rates]")[0])
    res = runner.invoke(app, ["design", str(no_rates), "-q"])
    assert res.exit_code == 6, res.output
    assert "no baseline data and no stated rates" in res.output and "Traceback" not in res.output
    # assign on a data file
    # assign from a history without arms: its baseline period
    frame.assign(interaction_id=[f"i{i}" for i in range(len(frame))]).to_parquet(tmp_path / "hist.parquet")
    body = SPEC_RATES.replace("missing.parquet", "hist.parquet").replace('source = "no_repeat"\n', "")
    body = body.replace(
        "[[metrics]]",
        "[periods]\nbaseline = { start = 2026-01-05, end = 2026-02-01 }\n"
        "pilot = { start = 2026-02-02, end = 2026-03-29 }  # not started yet: no data\n\n[[metrics]]",
        1,
    )
    spec2 = _write_spec(tmp_path, body)
    out = tmp_path / "assignment.csv"
    res = runner.invoke(app, ["assign", str(spec2), "--out", str(out), "--seed", "4"])
    assert res.exit_code == 0, res.output
    assert out.exists() and (tmp_path / "assignment.balance.csv").exists()
    assert "Assigned 80 agents (seed 4)" in res.output
    res = runner.invoke(app, ["assign", str(spec2), "--out", str(out), "--seed", "4"])
    assert res.exit_code == 5
