"""Decisions (qmsprint.decide): verdicts, recommendations, business impact on constructed posteriors.

Draws are exact normal quantiles (``norm.ppf`` on an even grid), so every probability the rules
use equals a normal CDF up to the grid's resolution: the expected verdicts are known in closed form.
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
    fmt_prob,
    fmt_value,
    hdi,
    verdict_for,
)
from qmsprint.results import Diagnostics, Effect, HealthCheck, MetricResult
from qmsprint.spec import parse_spec

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


def test_formatting():
    assert fmt_value(0.15, "points") == "+0.15 points"
    assert fmt_value(-1.234, "pp") == "-1.2 pp"
    assert fmt_value(-0.001, "points") == "+0.00 points"
    assert fmt_prob(0.943) == "94%"
    assert fmt_prob(0.9996) == ">99%"
    assert fmt_prob(0.001) == "<1%"


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
    # the sentence a non-statistician reads
    assert v.sentence.startswith("94% probability that CSAT improves by at least 0.1 points")
    assert "(>99% that it improves at all)" in v.sentence


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
    assert veto.veto and "guardrail" in veto.sentence and "beyond the tolerated 20 seconds" in veto.sentence
    assert not small.veto and "(guardrail) holds" in small.sentence
    risky = verdict_for(SPEC, make_result("handle_time", 22.0, 5.0))  # P(harm beyond 20 s) = 0.66 < 0.9
    assert not risky.veto and "(guardrail) is at risk: 66% probability that it rises by more than" in risky.sentence
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
    assert rec.headline == (
        "Scale up Behavior-based QA: it improves CSAT and Repeat contacts without harming Handle time."
    )
    assert rec.verdicts["csat"].verdict == "improved"
    assert any(r.startswith(">99% probability that CSAT improves by at least 0.1 points") for r in rec.reasons)
    assert any(r.startswith(">99% probability that Repeat contacts fall by at least 1 pp") for r in rec.reasons)
    assert rec.extend is None


def test_scale_up_names_a_guardrail_at_risk_instead_of_claiming_no_harm():
    # handle time +23 s (sd 13): P(rise > 20 s) = 1 - Phi(-3/13) ~ 59%: at risk, below the 90% veto
    rec = decide(SPEC, results(ht=(23.0, 13.0)), [])
    assert rec.action == "scale_up" and not rec.verdicts["handle_time"].veto
    p = rec.verdicts["handle_time"].prob_harm
    assert 0.5 <= p < 0.9
    assert rec.headline == (
        "Scale up Behavior-based QA: it improves CSAT and Repeat contacts. "
        f"Watch Handle time: {fmt_prob(p)} probability that it rises by more than the tolerated 20 seconds."
    )


def test_scale_up_with_an_unsettled_primary_says_so():
    rec = decide(SPEC, results(repeat=(-0.2, 1.0)), [])
    assert rec.action == "scale_up"
    assert any("Repeat contacts not settled yet" in c for c in rec.caveats)


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
    assert rec.headline.startswith("Extend the pilot: the evidence on CSAT and Repeat contacts is not conclusive yet.")
    assert f"about {rec.extend['more_weeks']} more weeks" in rec.headline
    assert "more agents per arm" in rec.headline


def test_extend_weeks_follow_the_data_when_given():
    rec = decide(SPEC, results(csat=(0.1, 0.1), repeat=(-0.9, 0.9)), [], weeks=4)
    assert rec.extend["more_weeks"] == math.ceil((rec.extend["factor"] - 1) * 4)


def test_more_data_factor_for_equivalence_against_closed_form():
    # m = 0, rope 0.1, target 0.9: s* = 0.1 / z(0.95); current s = 0.1 -> factor z(0.95)^2
    f = _more_data_factor(0.0, 0.1, 0.1, 0.95, 0.9)
    assert f == pytest.approx(stats.norm.ppf(0.95) ** 2, rel=1e-3)


def test_extend_impractical_is_said():
    rec = decide(SPEC, results(csat=(0.02, 0.2), repeat=(-0.1, 2.0)), [])
    assert rec.action == "extend"
    assert not rec.extend["practical"]
    assert "more than the pilot can usually afford" in rec.headline


def test_iterate_when_a_guardrail_vetoes_a_win():
    rec = decide(SPEC, results(ht=(45.0, 5.0)), [])
    assert rec.action == "iterate"
    assert rec.headline.startswith("Iterate on Behavior-based QA: it improves CSAT and Repeat contacts, but Handle")
    assert "beyond the tolerated 20 seconds" in rec.headline


def test_iterate_when_primaries_disagree():
    rec = decide(SPEC, results(repeat=(2.0, 0.3)), [])
    assert rec.action == "iterate"
    assert "but Repeat contacts get worse; fix that first." in rec.headline


def test_stop_when_worse():
    rec = decide(SPEC, results(csat=(-0.3, 0.05), repeat=(0.3, 1.0)), [])
    assert rec.action == "stop"
    assert rec.headline == "Stop: Behavior-based QA makes CSAT worse without a clear gain elsewhere."


def test_stop_when_no_meaningful_change():
    rec = decide(SPEC, results(csat=(0.0, 0.02), repeat=(0.0, 0.2)), [])
    assert rec.action == "stop"
    assert rec.headline == "Stop: Behavior-based QA makes no meaningful difference to CSAT and Repeat contacts."
    assert any("no meaningful change" in r for r in rec.reasons)


def test_none_when_a_fit_did_not_converge():
    rs = results()
    rs[1] = make_result("repeat_contact", -2.0, 0.3, diag=BAD)
    rec = decide(SPEC, rs, [])
    assert rec.action == "none"
    assert rec.headline.startswith("No recommendation: the fit for Repeat contacts did not converge")
    assert any("R-hat 1.080 > 1.01" in c for c in rec.caveats)
    assert rec.verdicts["csat"].verdict == "improved"  # results are still there


def test_caveats_from_health_and_units_and_notes():
    health = [
        HealthCheck("srm_agents", "alert", "Sample ratio mismatch: 40 vs 20 agents (p < 0.001)."),
        HealthCheck("response_rate", "warn", "Survey response differs: 12% vs 18%."),
        HealthCheck("contamination", "ok", "No agent appears in both arms."),
    ]
    rs = results(n_units={"checklist": 5, "behavior": 30}, notes=["prior from run X"])
    rec = decide(SPEC, rs, health)
    assert rec.caveats[0] == "Alert: Sample ratio mismatch: 40 vs 20 agents (p < 0.001)."
    assert "Survey response differs: 12% vs 18%." in rec.caveats
    assert not any("No agent appears" in c for c in rec.caveats)
    assert any(c.startswith("Few agents per arm (checklist: 5;") for c in rec.caveats)
    assert "CSAT: prior from run X" in rec.notes and "CSAT: prior from run X" not in rec.caveats


def test_secondary_worse_is_a_caveat_not_a_decision():
    spec = make_spec(
        metrics=[
            {"name": "csat", "role": "primary"},
            {"name": "nps", "role": "secondary"},
        ]
    )
    rec = decide(spec, [make_result("csat", 0.3, 0.05), make_result("nps", -8.0, 1.0)], [])
    assert rec.action == "scale_up"
    assert any(c.startswith("Secondary metric NPS got worse") for c in rec.caveats)


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
    assert imp["currency"] == "EUR"
    assert imp["sentence"].startswith("About 1,800 repeat contacts avoided per month")
    assert "EUR 11,700 a month" in imp["sentence"]


def test_business_impact_when_repeats_rise_and_without_the_metric():
    imp = business_impact(SPEC, results(repeat=(1.0, 0.2)))
    assert imp["value_per_month"]["mean"] == pytest.approx(-7800.0, rel=1e-6)
    assert imp["sentence"].startswith("About 1,200 more repeat contacts per month")
    spec = make_spec(metrics=[{"name": "csat"}])
    assert business_impact(spec, [make_result("csat", 0.2, 0.05)]) is None


def test_segments_best_and_worst_are_direction_aware():
    segs = [("channel", "voice", -0.5, 0.9), ("channel", "chat", -2.5, 0.995), ("channel", "email", 0.4, 0.3)]
    rs = results()
    rs[1] = make_result("repeat_contact", -2.0, 0.3, segments=segs)
    rec = decide(SPEC, rs, [])
    (s,) = rec.segments
    assert (s["metric"], s["segment"], s["best"], s["worst"]) == ("repeat_contact", "channel", "chat", "email")
    assert s["sentence"] == (
        "Repeat contacts by channel: works best in chat (-2.5 pp, >99% probability of improvement) and least in "
        "email (+0.4 pp, 30% probability of improvement)."
    )


def test_recommendation_round_trips_through_json():
    rec = decide(SPEC, results(csat=(0.1, 0.1)), [HealthCheck("srm_agents", "warn", "x")])
    d = json.loads(json.dumps(rec.to_dict()))
    back = Recommendation.from_dict(d)
    assert back.to_dict() == rec.to_dict()
    assert back.action_label == rec.action_label
    assert rec.text().startswith(rec.headline)
