"""Health check: survey response by arm and low survey response (qmsprint.health.response)."""

from __future__ import annotations

import pytest
from _health_helpers import make_cells, make_spec

from qmsprint.health import check_response_rates
from qmsprint.health.response import LOW_RESPONSE


def test_differing_response_rates_are_flagged_with_their_size():
    spec = make_spec()
    same = check_response_rates(make_cells(response=(0.2, 0.2), seed=1).query("period == 'pilot'"), spec)
    cells = make_cells(response=(0.15, 0.2), seed=1).query("period == 'pilot'")
    diff = check_response_rates(cells, spec)
    assert same.status == "ok", same.message
    assert diff.status == "alert", diff.message
    sums = cells.groupby("arm")[["n", "csat_n"]].sum()
    pooled = sums["csat_n"] / sums["n"]
    assert diff.data["csat"]["difference_pp"] == pytest.approx(100 * (pooled["behavior"] - pooled["checklist"]))
    assert diff.data["csat"]["difference_pp"] == pytest.approx(-5.0, abs=1.5)
    assert f"{100 * pooled['behavior']:.1f}%" in diff.message
    # a small, real difference (2% relative) on a huge pilot is not flagged: it cannot bias much
    tiny = check_response_rates(
        make_cells(response=(0.196, 0.2), n_treat=300, n_ctrl=300, volume=4000, seed=2).query("period == 'pilot'"),
        spec,
    )
    assert tiny.status == "ok", tiny.message


def test_low_survey_response_warns_even_when_the_arms_agree():
    spec = make_spec(metrics=("csat", "fcr"))
    cells = make_cells(response=(0.05, 0.05), seed=3)
    low = check_response_rates(cells, spec)
    assert low.status == "warn", low.message
    assert "low survey response (CSAT 5." in low.message and f"below {LOW_RESPONSE:.0%}" in low.message
    assert "response gap" not in low.message
    overall = cells["csat_n"].sum() / cells["n"].sum()  # both periods count
    assert low.data["csat"]["overall"] == pytest.approx(overall)
    assert low.data["csat"]["status"] == "warn"
    fine = check_response_rates(make_cells(response=(0.2, 0.2), seed=3), spec)
    assert fine.status == "ok" and "low survey response" not in fine.message, fine.message


def test_low_response_without_pilot_answers_is_still_reported():
    spec = make_spec(metrics=("csat",))
    cells = make_cells(response=(0.05, 0.05), seed=3)
    cells.loc[cells["period"] == "pilot", [c for c in cells if c.startswith("csat_")]] = 0
    c = check_response_rates(cells, spec)
    assert c.status == "warn"
    assert c.message.startswith("Low survey response (CSAT ") and c.message.endswith(".")
    assert set(c.data["csat"]) == {"overall", "status"}


def test_only_the_pilots_survey_metrics_are_checked():
    c = check_response_rates(make_cells(seed=1), make_spec(metrics=("fcr", "repeat_contact")))
    assert c.status == "ok" and c.data == {}
    assert c.message == "No survey metric in this pilot: response rates not checked."
