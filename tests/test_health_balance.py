"""Health check: baseline balance between arms (qmsprint.health.balance)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from _health_helpers import make_cells, make_spec

from qmsprint import metrics
from qmsprint.health import balance_variables, check_balance, standardized_differences
from qmsprint.metrics.fcr import FCR


def test_standardized_difference_closed_form():
    units = pd.DataFrame({"arm": ["t"] * 3 + ["c"] * 3, "x": [1.0, 2.0, 3.0, 2.0, 3.0, 4.0]})
    tab = standardized_differences(units, "arm", "t", "c", {"x": "X"})
    assert tab.loc[0, "std_diff"] == pytest.approx(-1.0)  # (2 - 3) / sqrt((1 + 1) / 2)
    assert tab.loc[0, "flag"] == "imbalanced"


def test_balance_flags_a_baseline_gap_and_not_a_randomized_one():
    spec = make_spec()
    ok = check_balance(make_cells(seed=4, agent_sd=0.05, n_treat=200, n_ctrl=200), spec)
    bad = check_balance(make_cells(seed=4, shift_treated_baseline=0.5, agent_sd=0.05), spec)
    assert ok.status in ("ok", "warn")
    assert bad.status == "alert", bad.message
    assert any(r["variable"] == "csat" and r["std_diff"] > 0.5 for r in bad.data["table"])
    json.dumps(bad.to_dict())
    # DiD only warns: it adjusts for stable level differences
    assert check_balance(make_cells(seed=4, shift_treated_baseline=0.5), make_spec(design="did")).status == "warn"


def test_balance_variables_come_from_the_metric_registry():
    labels = balance_variables()
    assert list(labels)[:5] == list(metrics.names())[:5]
    assert labels["csat"] == metrics.get("csat").balance_label
    assert list(labels)[-3:] == ["volume", "qa_score", "tenure_months"]


def test_a_registered_metric_enters_the_balance_table_without_a_change_here():
    class Escalations(FCR):  # a plug-in binomial metric read from the same cell columns
        name = "escalations"
        label = "Escalations"
        balance_label = "Baseline escalations (%)"

    metrics.register(Escalations())
    try:
        check = check_balance(make_cells(seed=4, shift_treated_baseline=0.5, agent_sd=0.05), make_spec())
        rows = {r["variable"]: r for r in check.data["table"]}
        assert rows["escalations"]["label"] == "Baseline escalations (%)"
        assert rows["escalations"]["std_diff"] == pytest.approx(rows["fcr"]["std_diff"])
    finally:
        metrics.unregister("escalations")
    assert "escalations" not in balance_variables()
