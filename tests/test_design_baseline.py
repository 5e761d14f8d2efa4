"""Pilot design, baseline: estimates from rows with known spread, and from stated rates via the metric registry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _design_helpers import CSAT_SHARES, make_frame, make_spec

from qmsprint.design import MetricBaseline, baseline_from_rates, fit_baseline
from qmsprint.design.baseline import natural_values
from qmsprint.errors import DesignError
from qmsprint.metrics import BINARY_VALUES, get
from qmsprint.metrics.nps import NPS_VALUES
from qmsprint.stats import discretized_normal_shares

ALL_METRICS = (
    ("fcr", "primary", 3.0),
    ("csat", "primary", 0.1),
    ("nps", "secondary", 5),
    ("repeat_contact", "secondary", 1.0),
    ("handle_time", "guardrail", 15),
)


@pytest.fixture(scope="module")
def frame():
    return make_frame()


def test_fit_baseline_recovers_known_spread(frame):
    spec = make_spec(metrics=(("fcr", "primary", 5.0), ("csat", "secondary", 0.1)))
    base = fit_baseline(frame, spec)
    fcr = base.metrics["fcr"]
    assert base.volume == pytest.approx(50, rel=0.05)
    assert base.baseline_weeks == pytest.approx(4.0)
    assert fcr.mean == pytest.approx(70, abs=2)
    assert fcr.tau_unit == pytest.approx(8.0, rel=0.25)  # agent SD in pp
    assert fcr.response_rate == 1.0
    assert base.metrics["csat"].response_rate == pytest.approx(0.2, abs=0.01)
    assert base.metrics["csat"].shares == pytest.approx(
        np.bincount(frame["csat"].dropna().astype(int), minlength=6)[1:] / frame["csat"].notna().sum()
    )


def test_fit_baseline_reads_every_metric_on_its_natural_scale(frame):
    base = fit_baseline(frame, make_spec(metrics=ALL_METRICS))
    nps = base.metrics["nps"]
    answers = frame["nps"].dropna().astype(int)
    assert list(nps.values) == list(NPS_VALUES)
    assert nps.mean == pytest.approx(NPS_VALUES[answers].mean())
    assert base.metrics["repeat_contact"].mean == pytest.approx(100 * frame["repeat_contact"].mean())
    assert list(base.metrics["repeat_contact"].values) == list(BINARY_VALUES)
    ht = base.metrics["handle_time"]
    assert len(ht.values) == 0 and ht.mean == pytest.approx(frame["handle_time"].mean())
    # level shares are kept where the levels are the values (CSAT), not for NPS or binary metrics
    levels = {k: v.to_dict()["levels"] for k, v in base.metrics.items()}
    assert list(levels["csat"]) == ["1.0", "2.0", "3.0", "4.0", "5.0"]
    assert levels["nps"] == levels["fcr"] == levels["handle_time"] == {}


def test_natural_values_map_answers_to_level_values():
    spec = make_spec(metrics=ALL_METRICS)
    y = pd.Series([0, 6, 7, 9, 10, None], dtype="Float64")
    out = natural_values(y, NPS_VALUES, get("nps"), spec)
    assert out.iloc[:5].tolist() == [-100.0, -100.0, 0.0, 100.0, 100.0] and pd.isna(out.iloc[5])
    assert natural_values(pd.Series([0.0, 1.0]), BINARY_VALUES, get("fcr"), spec).tolist() == [0.0, 100.0]
    ht = pd.Series([300.0, 500.0])
    assert natural_values(ht, np.array([]), get("handle_time"), spec) is ht


def test_baseline_from_stated_rates():
    rates = {
        "interactions_per_agent_week": 50,
        "fcr_rate": 0.7,
        "repeat_rate": 0.15,
        "csat_mean": 4.1,
        "csat_sd": 1.1,
        "nps_promoters": 0.4,
        "nps_detractors": 0.2,
        "handle_time_mean": 400,
        "handle_time_sd": 150,
        "icc": 0.05,
        "response_rate": 0.25,
    }
    spec = make_spec(metrics=ALL_METRICS, rates=rates)
    base = baseline_from_rates(spec.design_settings.baseline_rates, spec)
    assert base.source == "stated rates" and base.volume == 50
    csat = base.metrics["csat"]
    assert csat.shares == pytest.approx(discretized_normal_shares(4.1, 1.1, 1, 5))
    assert csat.mean == pytest.approx(4.1, abs=1e-4) and csat.response_rate == 0.25
    nps = base.metrics["nps"]
    assert nps.mean == pytest.approx(100 * (0.4 - 0.2))
    assert base.metrics["fcr"].mean == pytest.approx(70) and base.metrics["fcr"].response_rate == 0.25
    assert base.metrics["repeat_contact"].response_rate == 1.0
    ht = base.metrics["handle_time"]
    assert ht.mean == 400 and ht.sd_within == pytest.approx(np.sqrt(0.95) * 150)
    assert ht.tau_unit == pytest.approx(np.sqrt(0.05) * 150)


def test_missing_stated_rates_name_each_key():
    spec = make_spec(metrics=ALL_METRICS, rates={"interactions_per_agent_week": 5})
    with pytest.raises(DesignError) as err:
        baseline_from_rates(spec.design_settings.baseline_rates, spec)
    found = {(p.where, p.message) for p in err.value.problems}
    assert found == {
        ("design_grid.baseline_rates.fcr_rate", "needed for the fcr metric"),
        ("design_grid.baseline_rates.csat_mean", "needed for the csat metric"),
        ("design_grid.baseline_rates.nps_promoters", "nps_promoters and nps_detractors needed"),
        ("design_grid.baseline_rates.repeat_rate", "needed for the repeat_contact metric"),
        ("design_grid.baseline_rates.handle_time_mean", "handle_time_mean and handle_time_sd needed"),
    }
    bad = make_spec(
        metrics=(("csat", "primary", 0.1), ("nps", "primary", 5)),
        rates={"interactions_per_agent_week": 5, "csat_mean": 5.0, "nps_promoters": 0.7, "nps_detractors": 0.5},
    )
    with pytest.raises(DesignError) as err:
        baseline_from_rates(bad.design_settings.baseline_rates, bad)
    assert {(p.where, p.message) for p in err.value.problems} == {
        ("design_grid.baseline_rates.csat_mean", "must lie inside the scale 1-5"),
        ("design_grid.baseline_rates.nps_promoters", "promoters + detractors > 1"),
    }


def test_metric_baseline_icc():
    mb = MetricBaseline("csat", np.arange(1.0, 6.0), CSAT_SHARES, 4.0, 1.0, 0.2, 0.1, 0.0, 0.2)
    assert mb.categorical
    assert mb.icc == pytest.approx(0.05 / 1.05)
