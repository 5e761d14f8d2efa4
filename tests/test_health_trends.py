"""Health check: parallel pre-trends of a DiD (qmsprint.health.trends)."""

from __future__ import annotations

import json

import pytest
from _health_helpers import make_spec, make_weekly

from qmsprint.health import check_parallel_trends


def test_parallel_trends_separates_a_pilot_with_and_without_a_pretrend():
    spec = make_spec(design="did", metrics=("csat", "fcr"))
    flat = check_parallel_trends(make_weekly(trend=0.0, seed=5), spec)
    drift = check_parallel_trends(make_weekly(trend=0.03, seed=5), spec)
    assert flat.status == "ok", flat.message
    assert drift.status == "alert", drift.message
    s = drift.data["metrics"]["csat"]
    assert s["slope_per_week"] == pytest.approx(0.03, abs=0.015)
    assert s["slope_low"] < 0.03 < s["slope_high"]
    assert len(s["weeks"]) == len(s["gap"]) == len(s["fitted_gap"]) == 8
    # bias = slope x weeks between the centres of baseline and pilot (~11.6 weeks here)
    assert s["projected_bias"] == pytest.approx(s["slope_per_week"] * drift.data["centre_distance_weeks"])
    assert "per week" in drift.message
    json.dumps(drift.to_dict())


def test_parallel_trends_false_alarm_rate_is_low():
    spec = make_spec(design="did", metrics=("csat",))
    alarms = sum(check_parallel_trends(make_weekly(trend=0.0, seed=s), spec).status == "alert" for s in range(100))
    assert alarms <= 4
