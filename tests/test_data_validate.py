"""Validation: every problem at once, grouped, with column, count, rows, values; warnings (qmsprint.data)."""

from __future__ import annotations

import numpy as np
import pytest
from _data_helpers import base_rows, make_spec

from qmsprint.data import load_frame, prepare
from qmsprint.data.pseudonymise import engagement_key, pseudonym
from qmsprint.errors import DataError
from qmsprint.health import check_health


def _fail(tmp_path, df, **spec_over):
    df.to_csv(tmp_path / "data.csv", index=False)
    with pytest.raises(DataError) as e:
        prepare(make_spec(tmp_path, **spec_over))
    return {(p.where, p.message.split(":")[0]): p for p in e.value.problems}, str(e.value)


def test_every_problem_is_reported_at_once_with_rows_and_values(tmp_path):
    df = base_rows()
    df.loc[2, "timestamp"] = "yesterday"
    df.loc[[4, 9], "csat"] = ["7", "0"]
    df.loc[5, "csat"] = "great"
    df.loc[6, "qa_score"] = 120.0
    df.loc[7, "interaction_id"] = "i8"  # duplicate of row 9 (index 8)
    df.loc[10, "handle_time"] = -5.0
    df.loc[11, "agent_id"] = None
    probs, text = _fail(tmp_path, df)
    ts = probs[("timestamp", "could not read the value")]
    assert ts.count == 1 and ts.rows == (3,) and ts.examples == ("yesterday",)
    rng = probs[("csat", "outside the allowed values")]
    assert rng.count == 2 and rng.rows == (5, 10) and set(rng.examples) == {"7", "0"} and "1-5" in rng.message
    bad = probs[("csat", "could not read the value")]
    assert bad.rows == (6,) and bad.examples == ("great",)
    qa = probs[("qa_score", "outside the allowed values")]
    assert qa.count == 1 and qa.rows == (7,) and "0 and 100" in qa.message
    dup = probs[("interaction_id", "duplicate interaction ids")]
    assert dup.count == 2 and dup.examples == ("i8",) and dup.rows == (8,)
    assert probs[("handle_time", "outside the allowed values")].rows == (11,)
    assert probs[("agent_id", "every row needs a value in this column (empty cells found)")].rows == (12,)
    assert "7 problems" in text


def test_csat_scale_comes_from_the_spec(tmp_path):
    df = base_rows()
    df["csat"] = [str(1 + i % 7) for i in range(len(df))]
    probs, _ = _fail(tmp_path, df)
    assert probs[("csat", "outside the allowed values")].count == sum(1 + i % 7 > 5 for i in range(len(df)))
    df.to_csv(tmp_path / "data.csv", index=False)
    assert prepare(make_spec(tmp_path, csat_scale=[1, 7])).cells.filter(like="csat_").columns.tolist() == [
        "csat_n",
        *[f"csat_{k}" for k in range(1, 8)],
    ]


def test_nps_outside_0_10_and_only_required_when_asked(tmp_path):
    df = base_rows()
    df["nps"] = [str(i % 12) for i in range(len(df))]
    probs, _ = _fail(tmp_path, df, metrics=[{"name": "nps"}])
    p = probs[("nps", "outside the allowed values")]
    assert p.count == sum(i % 12 == 11 for i in range(len(df))) and p.rows[0] == 12
    # nps missing while the nps metric is asked
    df = base_rows()
    probs, text = _fail(tmp_path, df, metrics=[{"name": "nps"}, {"name": "fcr"}])
    nps = [p for (w, _), p in probs.items() if w == "nps"]
    assert len(nps) == 1 and nps[0].message.startswith("required column is missing")
    assert "fcr" in {w for w, _ in probs}
    # FCR derived from repeat contacts needs no fcr column (the file written above has none)
    prepare(make_spec(tmp_path, metrics=[{"name": "fcr", "source": "no_repeat"}]))


def test_agent_in_two_arms_and_unknown_arm(tmp_path):
    df = base_rows()
    df.loc[0, "arm"] = "new"  # a0 is 'old' elsewhere
    df.loc[3, "arm"] = "pilot-x"
    probs, _ = _fail(tmp_path, df)
    two = probs[
        ("agent_id", "1 agent appears in more than one arm; each agent must stay in one arm (randomization unit")
    ]
    assert two.examples == ("a0",) and two.count == 10 and two.rows == (1,)
    unk = probs[("arm", "arm values not in the experiment file")]
    assert unk.examples == ("pilot-x",) and unk.count == 1 and unk.rows == (4,)


def test_team_in_two_arms_when_teams_are_the_unit(tmp_path):
    df = base_rows()
    df["arm"] = ["old" if t == "t1" else "new" for t in df["team"]]
    df.loc[0, "arm"] = "new"
    probs, _ = _fail(tmp_path, df, unit="team", design="ab")
    assert any(w == "team" and "more than one arm" in m for w, m in probs)


def test_empty_arm_and_periods_without_data(tmp_path):
    df = base_rows()
    df["arm"] = "old"
    periods = {
        "baseline": {"start": "2025-12-01", "end": "2025-12-20"},
        "pilot": {"start": "2026-01-01", "end": "2026-01-31"},
    }
    import datetime as dt

    periods = {k: {kk: dt.date.fromisoformat(vv) for kk, vv in v.items()} for k, v in periods.items()}
    probs, text = _fail(tmp_path, df, periods=periods)
    assert (
        "periods.baseline",
        "no interactions in the baseline period 2025-12-01 to 2025-12-20; check the dates or the data",
    ) in probs  # noqa: E501
    assert any(w == "arms.treatment" and "'new' has no interactions in the pilot period" in m for w, m in probs)


def test_rows_outside_periods_are_dropped_and_counted(tmp_path):
    import datetime as dt

    df = base_rows()
    df.to_csv(tmp_path / "data.csv", index=False)
    spec = make_spec(
        tmp_path,
        periods={
            "baseline": {"start": dt.date(2026, 1, 1), "end": dt.date(2026, 1, 10)},
            "pilot": {"start": dt.date(2026, 1, 15), "end": dt.date(2026, 1, 28)},
        },
    )
    p = prepare(spec)
    days = np.array([1 + i % 28 for i in range(len(df))])
    assert p.rows_outside_periods == int(((days > 10) & (days < 15)).sum())
    assert p.rows_used == len(df) - p.rows_outside_periods
    by = p.cells.groupby("period")["n"].sum()
    assert by["baseline"] == int((days <= 10).sum()) and by["pilot"] == int((days >= 15).sum())
    assert any(w.where == "periods" for w in p.warnings)
    # no periods: everything is pilot
    q = prepare(make_spec(tmp_path))
    assert set(q.cells["period"]) == {"pilot"} and q.rows_outside_periods == 0


def test_baseline_load_tolerates_a_missing_arm_column(tmp_path):
    import datetime as dt

    df = base_rows().drop(columns="arm")
    df.to_csv(tmp_path / "data.csv", index=False)
    spec = make_spec(
        tmp_path,
        periods={
            "baseline": {"start": dt.date(2026, 1, 1), "end": dt.date(2026, 1, 10)},
            "pilot": {"start": dt.date(2026, 1, 15), "end": dt.date(2026, 1, 28)},
        },
    )
    f = load_frame(spec, period="baseline")
    assert len(f) == sum(1 + i % 28 <= 10 for i in range(40)) and f["arm"].isna().all()
    assert (f["period"] == "baseline").all()
    with pytest.raises(DataError, match="arm: required column is missing"):
        prepare(spec)


def test_few_interactions_warn_and_survey_response_is_left_to_the_health_check(tmp_path):
    n = 4000
    rng = np.random.default_rng(0)
    agents = np.array([f"a{i % 20}" for i in range(n)], dtype=object)
    agents[:5] = "rare"  # an agent with 5 interactions
    arm = np.where(np.isin(agents, [f"a{i}" for i in range(10)]), "old", "new")
    arm[:5] = "old"
    resp = rng.random(n) < np.where(arm == "old", 0.04, 0.09)
    df = base_rows(n)
    df["agent_id"], df["arm"] = agents, arm
    df["csat"] = np.where(resp, "4", "")
    df.to_csv(tmp_path / "data.csv", index=False)
    spec = make_spec(tmp_path)
    p = prepare(spec)
    few = [w for w in p.warnings if "fewer than 30 interactions" in w.message]
    assert few and few[0].examples == (f"{pseudonym('rare', engagement_key(spec))} (5)",)  # keyed, never the real id
    # one response-rate test: the cluster-aware health check, which also reports a low response
    assert not [w for w in p.warnings if "response" in w.message]
    (rr,) = [c for c in check_health(spec, p) if c.name == "response_rate"]
    assert rr.status == "alert", rr.message
    assert "CSAT response rate" in rr.message and "low survey response (CSAT " in rr.message


def test_no_warning_when_response_is_fine(tmp_path):
    df = base_rows(2000)
    df.to_csv(tmp_path / "data.csv", index=False)
    spec = make_spec(tmp_path)
    p = prepare(spec)
    assert not [w for w in p.warnings if w.where == "csat"]
    (rr,) = [c for c in check_health(spec, p) if c.name == "response_rate"]
    assert rr.status == "ok" and "low survey response" not in rr.message, rr.message


def test_row_numbers_run_across_the_files_of_a_glob(tmp_path):
    df = base_rows()
    df.loc[25, "qa_score"] = 150.0
    (tmp_path / "p").mkdir()
    df.iloc[:20].to_parquet(tmp_path / "p" / "a.parquet")
    df.iloc[20:].to_parquet(tmp_path / "p" / "b.parquet")
    with pytest.raises(DataError) as e:
        prepare(make_spec(tmp_path, "p/*.parquet"))
    (p,) = e.value.problems
    assert p.where == "qa_score" and p.rows == (26,) and p.examples == ("150.0",)
