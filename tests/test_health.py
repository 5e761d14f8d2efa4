"""Health checks: the entry point (check_health) and the tables the checks read (qmsprint.health)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from _health_helpers import LEVELS, by_name, make_cells, make_spec, make_weekly, prepared_pilot

from qmsprint import health


def test_check_health_on_prepared_pilot_is_json_able_and_ok_when_healthy():
    spec = make_spec()
    prepared = SimpleNamespace(cells=make_cells(seed=8), weekly=make_weekly(seed=8), warnings=[])
    checks = health.check_health(spec, prepared)
    names = [c.name for c in checks]
    assert names == [
        "srm_units",
        "units_per_arm",
        "srm_interactions",
        "response_rate",
        "contamination",
        "balance",
        "aa",
    ]
    for c in checks:
        assert c.status in ("ok", "warn", "alert")
        assert c.message.endswith(".")
        json.dumps(c.to_dict())
    assert by_name(checks)["srm_units"].status == "ok"
    assert by_name(checks)["contamination"].status == "ok"
    did = health.check_health(make_spec(design="did"), prepared)
    assert "parallel_trends" in [c.name for c in did]


def test_check_health_on_a_prepared_simulated_pilot(tmp_path):
    spec, prepared = prepared_pilot(tmp_path, response_rate=(0.2, 0.12))
    checks = by_name(health.check_health(spec, prepared))
    assert checks["srm_units"].status == "ok", checks["srm_units"].message
    assert checks["srm_interactions"].status == "ok", checks["srm_interactions"].message
    assert checks["contamination"].status == "ok", checks["contamination"].message
    assert checks["aa"].status == "ok", checks["aa"].message
    # the simulator's treated agents answer surveys at 12% instead of 20% during the pilot
    rr = checks["response_rate"]
    assert rr.status == "alert", rr.message
    assert rr.data["csat"]["difference_pp"] == pytest.approx(-8.0, abs=1.5)


def test_check_health_on_a_prepared_simulated_did(tmp_path):
    spec, prepared = prepared_pilot(tmp_path, design="did", n_teams=10, did_group_offset=0.0)
    checks = by_name(health.check_health(spec, prepared))
    assert {"parallel_trends", "aa", "balance"} <= set(checks)
    assert checks["parallel_trends"].status in ("ok", "warn"), checks["parallel_trends"].message
    series = checks["parallel_trends"].data["metrics"]["csat"]
    assert len(series["weeks"]) == 4
    assert checks["srm_units"].data["treatment"] == 5


def test_unit_table_reads_each_metric_on_its_headline_scale():
    spec = make_spec()
    cells = make_cells(seed=6, n_treat=3, n_ctrl=3)
    base = cells[cells["period"] == "baseline"]
    units = health.unit_table(base, spec).set_index("unit")
    row = base.set_index("agent_id").loc["a001"]
    u = units.loc["a001"]
    assert u["csat"] == pytest.approx(sum(lv * row[f"csat_{lv}"] for lv in LEVELS) / row["csat_n"])
    promoters = row["nps_9"] + row["nps_10"]
    detractors = sum(row[f"nps_{k}"] for k in range(7))
    assert u["nps"] == pytest.approx(100 * (promoters - detractors) / row["nps_n"])
    assert u["fcr"] == pytest.approx(100 * row["fcr_yes"] / row["fcr_n"])
    assert u["repeat_contact"] == pytest.approx(100 * row["repeat_yes"] / row["repeat_n"])
    assert u["handle_time"] == pytest.approx(row["ht_sum"] / row["ht_n"])
    assert u["qa_score"] == pytest.approx(row["qa_sum"] / row["qa_n"])
    assert u["volume"] == u["n"] == row["n"]
    assert u["csat_n"] == row["csat_n"]


def test_weekly_gap_uses_each_metrics_weekly_view():
    spec = make_spec(design="did")
    weekly = make_weekly(seed=2)
    weekly["nps_n"], weekly["nps_promoters"], weekly["nps_detractors"] = 100, 50, 20
    weekly.loc[weekly["arm"] == "behavior", "nps_promoters"] = 60
    gap = health.weekly_gap(weekly, spec, "nps")
    assert list(gap.columns) == ["week", "control", "treatment", "gap", "n_control", "n_treatment"]
    assert len(gap) == 8 and np.allclose(gap["control"], 30.0) and np.allclose(gap["gap"], 10.0)
    fcr = health.weekly_gap(weekly, spec, "fcr", period="pilot")
    w = weekly[(weekly["period"] == "pilot") & (weekly["arm"] == "checklist")].sort_values("week")
    assert np.allclose(fcr["control"], 100 * w["fcr_yes"] / w["fcr_n"])
    assert health.weekly_gap(weekly.drop(columns=["ht_sum"]), spec, "handle_time") is None
    assert health.weekly_gap(pd.DataFrame({"period": [], "arm": [], "week": []}), spec, "csat") is None


def test_every_check_with_details_has_display_rows_without_agent_ids(tmp_path):
    """The app shows each check's ``table``: rows of plain values, no agent ids (a share shows them)."""
    import pandas as pd

    spec, prepared = prepared_pilot(tmp_path)
    agents = set(pd.read_parquet(tmp_path / "ab.parquet", columns=["agent_id"])["agent_id"].astype(str))
    checks = health.check_health(spec, prepared)
    by_name = {c.name: c for c in checks}
    for name in ("srm_units", "srm_interactions", "response_rate", "contamination", "balance", "aa"):
        c = by_name[name]
        if c.data.get("skipped"):
            continue
        assert c.table, f"{name} has no display rows"
        assert all(isinstance(r, dict) and r for r in c.table)
        shown = " ".join(str(v) for r in c.table for v in r.values())
        assert not agents & set(shown.split()), name
    srm = by_name["srm_units"].table
    assert {r["program"] for r in srm} == {spec.arms.treatment_display, spec.arms.control_label}
