"""Decisions (qmsprint.decide): verdicts, actions, business impact on constructed posteriors.

Draws are exact normal quantiles (``norm.ppf`` on an even grid), so every probability the rules
use equals a normal CDF up to the grid's resolution: the expected verdicts are known in closed form.
The words of a recommendation (qmsprint.present.text) are tested in test_present.py.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from qmsprint import metrics
from qmsprint.decide import (
    Recommendation,
    _more_data_factor,
    business_impact,
    decide,
    groups,
    impact_draws,
    small_arms,
    verdict_for,
)
from qmsprint.results import Diagnostics, Effect, HealthCheck, MetricResult
from qmsprint.spec import parse_spec
from qmsprint.stats import hdi

N = 4000
GOOD = Diagnostics(1.0, 2000.0, 2000.0, 0, 1.0, 1000, 4, "nutpie")
BAD = Diagnostics(1.08, 45.0, 60.0, 3, 1.0, 1000, 4, "nutpie")


def normal_draws(mu: float, sd: float, n: int = N) -> np.ndarray:
    return stats.norm.ppf((np.arange(n) + 0.5) / n, loc=mu, scale=sd)


def make_result(metric, mu, sd, *, diag=GOOD, n_units=None, segments=(), notes=()):
    d = normal_draws(mu, sd)
    unit = metrics.get(metric).unit
    scale = {"csat": "mean", "nps": "nps", "handle_time": "mean"}.get(metric, "rate")
    lo, hi = hdi(d, 0.94)
    sign = 1 if metrics.get(metric).direction == "higher" else -1
    head = Effect(metric, scale, unit, float(d.mean()), lo, hi, 0.94, float(np.mean(sign * d > 0)), 0.5, 0.0, 0, 0)
    segs = [
        Effect(metric, scale, unit, m, m - 1, m + 1, 0.94, p, 0.5, 0.0, 0, 0, segment=dim, segment_value=val)
        for dim, val, m, p in segments
    ]
    return MetricResult(
        metric=metric,
        design="ab",
        headline=head,
        effects=[head],
        segments=segs,
        draws=d,
        diagnostics=diag,
        n_units=dict(n_units or {"checklist": 30, "behavior": 30}),
        notes=list(notes),
    )


def make_spec(metrics=None, **extra):
    raw = {
        "name": "decide-test",
        "design": "ab",
        "arms": {"control": "checklist", "treatment": "behavior"},
        "data": {"source": "x.parquet"},
        "periods": {"pilot": {"start": "2026-03-02", "end": "2026-05-24"}},  # 12 weeks
        "metrics": metrics
        or [
            {"name": "csat", "role": "primary", "min_effect": 0.1},
            {"name": "repeat_contact", "role": "primary", "min_effect": 1.0},
            {"name": "handle_time", "role": "guardrail", "min_effect": 20.0},
        ],
        "business": {"cost_per_contact": 6.5, "currency": "EUR", "contacts_per_month": 120000},
        **extra,
    }
    import datetime as dt

    for p in raw["periods"].values():
        p["start"], p["end"] = dt.date.fromisoformat(p["start"]), dt.date.fromisoformat(p["end"])
    return parse_spec(raw)


SPEC = make_spec()


# ------------------------------------------------------------------ helpers


def test_hdi_of_normal_quantiles_matches_closed_form():
    d = normal_draws(2.0, 0.5, 20000)
    lo, hi = hdi(d, 0.94)
    z = stats.norm.ppf(0.97)
    assert lo == pytest.approx(2.0 - z * 0.5, abs=2e-3)
    assert hi == pytest.approx(2.0 + z * 0.5, abs=2e-3)


def test_hdi_of_skewed_draws_is_shorter_than_equal_tails():
    d = stats.expon.ppf((np.arange(20000) + 0.5) / 20000)
    lo, hi = hdi(d, 0.9)
    assert lo == pytest.approx(0.0, abs=1e-3)  # mode at 0: the shortest interval starts there
    assert hi == pytest.approx(stats.expon.ppf(0.9), abs=5e-3)


# ------------------------------------------------------------------ verdicts


@pytest.mark.parametrize(
    ("metric", "mu", "sd", "expected"),
    [
        ("csat", 0.30, 0.05, "improved"),
        ("csat", 0.00, 0.03, "no_change"),  # P(|g| < 0.1) = 2 Phi(0.1/0.03) - 1 > 0.99
        ("csat", -0.30, 0.05, "worse"),
        ("csat", 0.05, 0.10, "inconclusive"),
        ("repeat_contact", -2.0, 0.3, "improved"),  # lower is better: a fall is an improvement
        ("repeat_contact", 2.0, 0.3, "worse"),
        ("csat", 0.02, 0.005, "no_change"),  # certain but tiny: not sold as a win
    ],
)
def test_each_verdict(metric, mu, sd, expected):
    v = verdict_for(SPEC, make_result(metric, mu, sd))
    assert v.verdict == expected


def test_verdict_probabilities_equal_normal_cdf():
    mu, sd = 0.1777, 0.05
    v = verdict_for(SPEC, make_result("csat", mu, sd))
    assert v.prob_better == pytest.approx(stats.norm.cdf(mu / sd), abs=1e-3)
    assert v.prob_meaningful == pytest.approx(stats.norm.cdf((mu - 0.1) / sd), abs=1e-3)
    assert v.prob_equivalent == pytest.approx(
        stats.norm.cdf((0.1 - mu) / sd) - stats.norm.cdf((-0.1 - mu) / sd), abs=1e-3
    )
    assert v.mean == pytest.approx(mu, abs=1e-6)
    assert v.label == "CSAT" and v.sentence == ""  # numbers only: qmsprint.present.text words them


def test_threshold_boundary_is_exact():
    # P(g > 0) just below and just above 0.95
    z = stats.norm.ppf(0.95)
    below = verdict_for(SPEC, make_result("csat", (z - 0.02) * 0.2, 0.2))
    above = verdict_for(SPEC, make_result("csat", (z + 0.02) * 0.2, 0.2))
    assert below.verdict == "inconclusive"
    assert above.verdict == "improved"


def test_spec_thresholds_are_used():
    lenient = make_spec(decision={"prob_improve": 0.8})
    r = make_result("csat", 0.1, 0.1)  # P(better) = Phi(1) = 0.84
    assert verdict_for(SPEC, r).verdict == "inconclusive"
    assert verdict_for(lenient, r).verdict == "improved"
    wide = make_spec(decision={"rope_fraction": 3.0})  # ROPE +-0.3
    assert verdict_for(wide, make_result("csat", 0.0, 0.1)).verdict == "no_change"
    assert verdict_for(SPEC, make_result("csat", 0.0, 0.1)).verdict == "inconclusive"


def test_guardrail_veto_only_beyond_the_tolerated_margin():
    veto = verdict_for(SPEC, make_result("handle_time", 40.0, 5.0))  # P(rise > 20 s) ~ 1
    small = verdict_for(SPEC, make_result("handle_time", 5.0, 2.0))  # certain rise, but well within 20 s
    assert veto.veto and veto.rope == 20.0
    assert not small.veto and not small.at_risk
    risky = verdict_for(SPEC, make_result("handle_time", 22.0, 5.0))  # P(harm beyond 20 s) = 0.66 < 0.9
    assert not risky.veto and risky.at_risk
    assert risky.prob_harm == pytest.approx(stats.norm.cdf(2.0 / 5.0), abs=1e-3)
    edge = verdict_for(SPEC, make_result("handle_time", 20.0 + stats.norm.ppf(0.9) * 4 - 0.1, 4.0))
    assert not edge.veto  # P(harm) just under 0.9
    edge2 = verdict_for(SPEC, make_result("handle_time", 20.0 + stats.norm.ppf(0.9) * 4 + 0.1, 4.0))
    assert edge2.veto


# ------------------------------------------------------------------ recommendations


def results(csat=(0.3, 0.05), repeat=(-2.0, 0.3), ht=(2.0, 3.0), **kw):
    return [
        make_result("csat", *csat, **kw),
        make_result("repeat_contact", *repeat, **kw),
        make_result("handle_time", *ht, **kw),
    ]


def test_scale_up():
    rec = decide(SPEC, results(), [])
    assert rec.action == "scale_up"
    assert rec.verdicts["csat"].verdict == "improved"
    assert rec.verdicts["repeat_contact"].verdict == "improved"
    assert not rec.verdicts["handle_time"].veto and not rec.verdicts["handle_time"].at_risk
    assert rec.extend is None
    assert rec.headline == "" and rec.reasons == [] and rec.caveats == []  # words come from explain()


def test_scale_up_with_a_guardrail_at_risk():
    # handle time +23 s (sd 13): P(rise > 20 s) = 1 - Phi(-3/13) ~ 59%: at risk, below the 90% veto
    rec = decide(SPEC, results(ht=(23.0, 13.0)), [])
    assert rec.action == "scale_up" and not rec.verdicts["handle_time"].veto
    assert 0.5 <= rec.verdicts["handle_time"].prob_harm < 0.9 and rec.verdicts["handle_time"].at_risk


def test_scale_up_with_an_unsettled_primary():
    rec = decide(SPEC, results(repeat=(-0.2, 1.0)), [])
    assert rec.action == "scale_up"
    assert groups(rec.verdicts).unsure == ["repeat_contact"]
    assert rec.extend["metrics"] == ["repeat_contact"]


def test_extend_with_data_estimate_against_closed_form():
    # CSAT mean 0.1, sd 0.1: improved needs sd* = 0.1 / z(0.95), factor (z * 0.1 / 0.1)^2 = 2.706
    rec = decide(SPEC, results(csat=(0.1, 0.1), repeat=(-0.9, 0.9)), [])
    assert rec.action == "extend"
    f_csat = stats.norm.ppf(0.95) ** 2
    assert rec.verdicts["csat"].more_data_factor == pytest.approx(f_csat, rel=1e-2)
    f_rep = rec.verdicts["repeat_contact"].more_data_factor
    assert f_rep == pytest.approx((stats.norm.ppf(0.95) * 0.9 / 0.9) ** 2, rel=1e-2)
    f = max(f_csat, f_rep)
    assert rec.extend["factor"] == pytest.approx(f, rel=1e-2)
    assert rec.extend["current_weeks"] == pytest.approx(12.0)
    assert rec.extend["more_weeks"] == math.ceil((rec.extend["factor"] - 1) * 12)
    assert rec.extend["more_agents_per_arm"] == math.ceil((rec.extend["factor"] - 1) * 30)
    assert rec.extend["metrics"] == ["csat", "repeat_contact"] and rec.extend["practical"]


def test_extend_weeks_follow_the_data_when_given():
    rec = decide(SPEC, results(csat=(0.1, 0.1), repeat=(-0.9, 0.9)), [], weeks=4)
    assert rec.extend["more_weeks"] == math.ceil((rec.extend["factor"] - 1) * 4)


def test_more_data_factor_for_equivalence_against_closed_form():
    # m = 0, rope 0.1, target 0.9: s* = 0.1 / z(0.95); current s = 0.1 -> factor z(0.95)^2
    f = _more_data_factor(0.0, 0.1, 0.1, 0.95, 0.9)
    assert f == pytest.approx(stats.norm.ppf(0.95) ** 2, rel=1e-3)


def test_extend_impractical():
    rec = decide(SPEC, results(csat=(0.02, 0.2), repeat=(-0.1, 2.0)), [])
    assert rec.action == "extend"
    assert not rec.extend["practical"]


def test_iterate_when_a_guardrail_vetoes_a_win():
    rec = decide(SPEC, results(ht=(45.0, 5.0)), [])
    assert rec.action == "iterate"
    assert groups(rec.verdicts).vetoes == ["handle_time"]


def test_iterate_when_primaries_disagree():
    rec = decide(SPEC, results(repeat=(2.0, 0.3)), [])
    assert rec.action == "iterate"
    g = groups(rec.verdicts)
    assert (g.improved, g.worse) == (["csat"], ["repeat_contact"])


def test_stop_when_worse():
    rec = decide(SPEC, results(csat=(-0.3, 0.05), repeat=(0.3, 1.0)), [])
    assert rec.action == "stop"
    assert groups(rec.verdicts).worse == ["csat"]


def test_stop_when_no_meaningful_change():
    rec = decide(SPEC, results(csat=(0.0, 0.02), repeat=(0.0, 0.2)), [])
    assert rec.action == "stop"
    assert groups(rec.verdicts).same == ["csat", "repeat_contact"]


def test_none_when_a_fit_did_not_converge():
    rs = results()
    rs[1] = make_result("repeat_contact", -2.0, 0.3, diag=BAD)
    rec = decide(SPEC, rs, [])
    assert rec.action == "none"
    assert groups(rec.verdicts).not_converged == ["repeat_contact"]
    assert rec.verdicts["csat"].verdict == "improved"  # results are still there


def test_health_does_not_change_the_action_and_few_agents_are_found():
    health = [HealthCheck("srm_agents", "alert", "Sample ratio mismatch: 40 vs 20 agents (p < 0.001).")]
    rs = results(n_units={"checklist": 5, "behavior": 30})
    assert decide(SPEC, rs, health).action == decide(SPEC, rs, []).action == "scale_up"
    assert small_arms(SPEC, rs) == {"checklist": 5}
    assert small_arms(SPEC, results()) == {}


def test_primaries_default_to_every_non_guardrail():
    spec = make_spec(metrics=[{"name": "csat", "role": "secondary"}, {"name": "handle_time", "role": "guardrail"}])
    g = groups(decide(spec, [make_result("csat", 0.3, 0.05), make_result("handle_time", 2.0, 3.0)]).verdicts)
    assert g.primaries == ["csat"] and g.guardrails == ["handle_time"] and g.improved == ["csat"]


def test_secondary_worse_is_not_a_decision():
    spec = make_spec(
        metrics=[
            {"name": "csat", "role": "primary"},
            {"name": "nps", "role": "secondary"},
        ]
    )
    rec = decide(spec, [make_result("csat", 0.3, 0.05), make_result("nps", -8.0, 1.0)], [])
    assert rec.action == "scale_up"
    assert rec.verdicts["nps"].verdict == "worse"


# ------------------------------------------------------------------ impact and segments


def test_business_impact_against_hand_computation():
    # repeat effect -1.5 pp (sd 0.5): 0.015 * 120,000 = 1,800 contacts avoided, x 6.50 = EUR 11,700 a month
    imp = business_impact(SPEC, results(repeat=(-1.5, 0.5)))
    av, val = imp["contacts_avoided_per_month"], imp["value_per_month"]
    assert av["mean"] == pytest.approx(1800.0, rel=1e-6)
    assert val["mean"] == pytest.approx(11700.0, rel=1e-6)
    z = stats.norm.ppf(0.97)
    assert av["hdi_low"] == pytest.approx(1800 - z * 0.005 * 120000, rel=5e-3)
    assert av["hdi_high"] == pytest.approx(1800 + z * 0.005 * 120000, rel=5e-3)
    assert val["hdi_low"] == pytest.approx(6.5 * (1800 - z * 600), rel=5e-3)
    assert imp["prob_saves"] == pytest.approx(stats.norm.cdf(3.0), abs=1e-3)
    assert imp["currency"] == "EUR" and "sentence" not in imp


def test_impact_draws_are_the_one_formula():
    avoided, value = impact_draws(np.array([-1.5, 0.0, 2.0]), 120000, 6.5)
    assert avoided.tolist() == pytest.approx([1800.0, 0.0, -2400.0])
    assert value.tolist() == pytest.approx([11700.0, 0.0, -15600.0])


def test_business_impact_when_repeats_rise_and_without_the_metric():
    imp = business_impact(SPEC, results(repeat=(1.0, 0.2)))
    assert imp["value_per_month"]["mean"] == pytest.approx(-7800.0, rel=1e-6)
    assert imp["contacts_avoided_per_month"]["mean"] == pytest.approx(-1200.0, rel=1e-6)
    spec = make_spec(metrics=[{"name": "csat"}])
    assert business_impact(spec, [make_result("csat", 0.2, 0.05)]) is None


def test_segments_best_and_worst_are_direction_aware():
    segs = [("channel", "voice", -0.5, 0.9), ("channel", "chat", -2.5, 0.995), ("channel", "email", 0.4, 0.3)]
    rs = results()
    rs[1] = make_result("repeat_contact", -2.0, 0.3, segments=segs)
    rec = decide(SPEC, rs, [])
    (s,) = rec.segments
    assert (s["metric"], s["segment"], s["best"], s["worst"]) == ("repeat_contact", "channel", "chat", "email")
    assert (s["best_effect"], s["worst_effect"], s["unit"]) == (-2.5, 0.4, "pp")


def test_recommendation_round_trips_through_json():
    rec = decide(SPEC, results(csat=(0.1, 0.1)), [HealthCheck("srm_agents", "warn", "x")])
    d = json.loads(json.dumps(rec.to_dict()))
    back = Recommendation.from_dict(d)
    assert back.to_dict() == rec.to_dict()
    assert list(d)[:6] == ["action", "action_label", "headline", "reasons", "caveats", "verdicts"]
