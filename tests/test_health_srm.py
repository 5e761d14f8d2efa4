"""Health check: sample ratio mismatch of units and interactions (qmsprint.health.srm)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _health_helpers import make_spec

from qmsprint.health import check_srm_interactions, check_srm_units


def test_srm_units_flags_52_48_on_a_large_pilot_not_50_50():
    spec = make_spec()
    big = pd.DataFrame({"unit": [f"u{i}" for i in range(20000)], "arm": ["behavior"] * 10400 + ["checklist"] * 9600})
    even = pd.DataFrame({"unit": [f"u{i}" for i in range(20000)], "arm": ["behavior"] * 10000 + ["checklist"] * 10000})
    assert check_srm_units(big, spec).status == "alert"
    assert check_srm_units(even, spec).status == "ok"
    assert "52.0/48.0" in check_srm_units(big, spec).message
    # a planned 70/30 split is respected
    spec70 = make_spec(split=0.7)
    seventy = pd.DataFrame({"unit": [f"u{i}" for i in range(1000)], "arm": ["behavior"] * 700 + ["checklist"] * 300})
    assert check_srm_units(seventy, spec70).status == "ok"
    assert check_srm_units(seventy, spec).status == "alert"


def test_srm_interactions_flags_52_48_on_a_large_pilot_not_50_50():
    spec = make_spec()
    # 400 agents, 200 per arm, ~2,000 interactions each: 800k interactions
    rng = np.random.default_rng(3)
    vol = rng.poisson(2000, 400).astype(float)
    arm = np.array(["behavior"] * 200 + ["checklist"] * 200)
    even = pd.DataFrame({"unit": range(400), "arm": arm, "n": vol})
    skew = even.assign(n=np.where(arm == "checklist", vol * 48 / 52, vol))  # 52/48 of interactions
    ok, bad = check_srm_interactions(even, spec), check_srm_interactions(skew, spec)
    assert ok.status == "ok", ok.message
    assert bad.status == "alert", bad.message
    assert "52.0/48.0" in bad.message
    assert bad.data["volume_ratio"] == pytest.approx(52 / 48, rel=0.01)


def test_srm_interactions_does_not_flag_ordinary_volume_differences_between_agents():
    # volumes vary a lot between agents (cv 0.5): the naive Pearson test fires, the cluster-aware one must not
    spec = make_spec()
    rng = np.random.default_rng(11)
    false_alarms, naive_alarms = 0, 0
    for _ in range(200):
        vol = rng.gamma(4, 500, 100)
        df = pd.DataFrame({"unit": range(100), "arm": ["behavior"] * 50 + ["checklist"] * 50, "n": vol})
        c = check_srm_interactions(df, spec)
        false_alarms += c.status != "ok"
        naive_alarms += c.data["p_pearson"] < 0.01
    assert false_alarms <= 8  # nominal rate 1% (warn at p < 0.01)
    assert naive_alarms > 150
