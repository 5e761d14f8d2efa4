"""Business value per unit of a metric joins the net value: closed-form posteriors, words, report rows."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from scipy import stats

from qmsprint import metrics
from qmsprint.decide import business_impact, decide, net_value_draws, stored_value_draws, value_factor
from qmsprint.present.text import explain
from qmsprint.present.values import value_rows
from qmsprint.results import Diagnostics, Effect, MetricResult
from qmsprint.spec import parse_spec
from qmsprint.stats import hdi

GOOD = Diagnostics(1.0, 2000.0, 2000.0, 0, 1.0, 1000, 4, "nutpie")
N = 4000


@pytest.fixture(autouse=True)
def _clean_registry():
    before = set(metrics.names())
    yield
    for name in set(metrics.names()) - before:
        metrics.unregister(name)


def _result(spec, name, mu, sd):
    d = stats.norm.ppf((np.arange(N) + 0.5) / N, loc=mu, scale=sd)
    info = spec.metric(name).info
    lo, hi = hdi(d, 0.94)
    head = Effect(name, info.headline.name, info.unit, float(d.mean()), lo, hi, 0.94, 0.5, 0.5, 0.0, 0, 0)
    return MetricResult(metric=name, design="ab", headline=head, effects=[head], segments=[], draws=d,
                        diagnostics=GOOD, n_units={"checklist": 30, "behavior": 30})  # fmt: skip


def _spec(*entries, business=None):
    return parse_spec(
        {
            "name": "value",
            "design": "ab",
            "arms": {"control": "checklist", "treatment": "behavior"},
            "data": {"source": "x.parquet"},
            "periods": {"pilot": {"start": dt.date(2026, 3, 2), "end": dt.date(2026, 5, 24)}},
            "metrics": list(entries),
            "business": business or {"currency": "EUR", "contacts_per_month": 100000, "cost_per_contact": 5.0},
        }
    )


RETAINED = {"name": "retained_90d", "column": "Retained", "type": "binary", "value_per_unit": 400.0}
CHURN = {"name": "churn_30d", "within_days": 30, "event_column": "Cancelled", "direction": "lower",
         "value_per_unit": 250.0, "role": "secondary"}  # fmt: skip
BASKET = {"name": "basket", "column": "Basket", "type": "continuous", "unit": "EUR", "value_per_unit": 1.0,
          "role": "secondary"}  # fmt: skip


def test_value_per_month_is_events_times_value_and_joins_the_net():
    spec = _spec(RETAINED, CHURN, BASKET)
    assert value_factor(spec, spec.metric("retained_90d")) == pytest.approx(1000 * 400.0)  # per pp
    assert value_factor(spec, spec.metric("churn_30d")) == pytest.approx(-1000 * 250.0)  # fewer churned: value
    assert value_factor(spec, spec.metric("basket")) == pytest.approx(100000 * 1.0)  # per EUR per contact
    results = [
        _result(spec, "retained_90d", 2.0, 0.5),
        _result(spec, "churn_30d", -1.0, 0.4),
        _result(spec, "basket", 0.3, 0.2),
    ]
    imp = business_impact(spec, results)
    assert imp is not None and imp["metric"] is None  # no repeat-contact metric: metric values only
    v = {x["metric"]: x for x in imp["metric_values"]}
    assert v["retained_90d"]["events_per_month"]["mean"] == pytest.approx(2000, rel=1e-3)
    assert v["retained_90d"]["value_per_month"]["mean"] == pytest.approx(800_000, rel=1e-3)
    assert v["churn_30d"]["value_per_month"]["mean"] == pytest.approx(250_000, rel=1e-3)
    assert v["basket"]["value_per_month"]["mean"] == pytest.approx(30_000, rel=1e-3)
    assert v["basket"]["prob_positive"] == pytest.approx(stats.norm.cdf(0.3 / 0.2), abs=2e-3)
    # independent posteriors add: mean and sd of the sum in closed form
    total = imp["net_value_per_month"]
    assert total["mean"] == pytest.approx(800_000 + 250_000 + 30_000, rel=2e-3)
    sd = np.sqrt((0.5 * 400_000) ** 2 + (0.4 * 250_000) ** 2 + (0.2 * 100_000) ** 2)
    z = stats.norm.ppf(0.97)
    assert total["hdi_high"] - total["hdi_low"] == pytest.approx(2 * z * sd, rel=0.05)
    assert imp["contacts_avoided_per_month"]["mean"] == 0


def test_with_repeat_contacts_the_values_add_to_the_contacts_avoided():
    spec = _spec({"name": "repeat_contact", "min_effect": 1.0}, RETAINED)
    results = [_result(spec, "repeat_contact", -2.0, 0.3), _result(spec, "retained_90d", 1.0, 0.3)]
    imp = business_impact(spec, results)
    assert imp["metric"] == "repeat_contact"
    assert imp["value_per_month"]["mean"] == pytest.approx(0.02 * 100000 * 5.0, rel=1e-3)
    assert imp["net_value_per_month"]["mean"] == pytest.approx(10_000 + 400_000, rel=2e-3)
    # the figure's recomputation from stored draws gives the same net
    draws = {r.metric: r.draws for r in results}
    values = stored_value_draws(imp, draws)
    again = net_value_draws(draws["repeat_contact"], None, contacts_per_month=100000, cost_per_contact=5.0,
                            values=values)["net"]  # fmt: skip
    assert again.mean() == pytest.approx(imp["net_value_per_month"]["mean"], rel=1e-6)


def test_the_words_and_rows_name_each_valued_metric():
    spec = _spec(RETAINED, BASKET)
    results = [_result(spec, "retained_90d", 2.0, 0.5), _result(spec, "basket", 0.3, 0.2)]
    rec = explain(decide(spec, results, []), spec, results, [])
    text = " ".join(rec.reasons)
    assert "Retained 90d: about 2,000 more a month at 100,000 contacts" in text
    assert "at EUR 400" in text and "EUR 800,000" in text.replace(",000.00", ",000")
    assert "Basket: +0.30 EUR per contact" in text
    assert "equals the value of Retained 90d and Basket" in text
    rows = value_rows(rec.impact)
    assert [r["what"] for r in rows] == [
        "Value of the change in Retained 90d per month",
        "Value of the change in Basket per month",
    ]


def test_repeat_contacts_and_handle_time_take_no_value_per_unit():
    from qmsprint.errors import SpecError

    with pytest.raises(SpecError, match="cost_per_contact"):
        _spec({"name": "repeat_contact", "value_per_unit": 3.0})
    spec = _spec({"name": "csat", "value_per_unit": 2.0})  # a built-in metric may have one
    assert value_factor(spec, spec.metric("csat")) == pytest.approx(200_000)
