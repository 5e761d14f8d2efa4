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
    VarianceParts,
    business_impact,
    decide,
    groups,
    impact_draws,
    meaningful_factor,
    net_value_draws,
    small_arms,
    verdict_for,
)
from qmsprint.decide import more_data_factor as _more_data_factor
from qmsprint.decide.rules import (
    action_codes,
    guardrail_codes,
    meaningful_mask,
    numbers_from_t,
    reachable_mask,
    settleable_mask,
    t_shortfall,
    verdict_codes,
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
P_IMPROVE = SPEC.decision.prob_improve  # the default bar for improved / worse (0.975)


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
    # P(g > 0) just below and just above the default prob_improve (0.975)
    z = stats.norm.ppf(P_IMPROVE)
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


def test_a_guardrail_at_risk_never_allows_scale_up():
    # handle time +23 s (sd 13): P(rise > 20 s) = Phi(3/13) ~ 59%: at risk (above 10%), below the 90% veto; its
    # mean harm is beyond the margin, so more data would not clear it: iterate
    rec = decide(SPEC, results(ht=(23.0, 13.0)), [])
    v = rec.verdicts["handle_time"]
    assert rec.action == "iterate" and not v.veto and v.at_risk and v.guardrail == "at_risk"
    assert v.prob_harm == pytest.approx(stats.norm.cdf(3.0 / 13.0), abs=1e-3)
    assert not v.settleable and v.more_data_factor is None


def test_a_guardrail_at_58_percent_risk_is_named_in_the_headline():
    # the A/B demo's case: P(handle time rises by more than 20 s) = 58%
    sd = 10.0
    mean = 20.0 + stats.norm.ppf(0.58) * sd
    rs = results(ht=(mean, sd))
    rec = decide(SPEC, rs, [])
    assert rec.verdicts["handle_time"].prob_harm == pytest.approx(0.58, abs=1e-3)
    assert rec.action != "scale_up" and rec.action == "iterate"
    from qmsprint.present.text import explain

    words = explain(rec, SPEC, rs, [])
    assert "Handle time is at risk: 58% probability that it rises by more than the tolerated 20 seconds" in (
        words.headline
    )
    assert not words.headline.startswith("Scale up")


@pytest.mark.parametrize(
    ("p_harm", "action"), [(0.099, "scale_up"), (0.101, "extend"), (0.5, "extend"), (0.9, "iterate")]
)
def test_guardrail_holds_only_up_to_guardrail_max_risk(p_harm, action):
    # mean harm inside the margin (p < 0.5): more data can clear it -> extend; at 0.9 it vetoes a win -> iterate
    sd = 8.0
    mean = 20.0 + stats.norm.ppf(p_harm) * sd - (1e-6 if p_harm == 0.5 else 0.0)
    rec = decide(SPEC, results(ht=(mean, sd)), [])
    assert rec.verdicts["handle_time"].prob_harm == pytest.approx(p_harm, abs=1.5e-3)
    assert rec.action == action
    strict = make_spec(decision={"guardrail_max_risk": 0.05})
    assert decide(strict, results(ht=(20.0 + stats.norm.ppf(0.08) * sd, sd)), []).action == "extend"


def test_extend_to_clear_a_guardrail_against_closed_form():
    # harm mean 10 s inside the 20 s margin, sd 8: clearing needs sd* = (20 - 10) / z(0.9)
    rec = decide(SPEC, results(ht=(10.0, 8.0)), [])
    v = rec.verdicts["handle_time"]
    assert rec.action == "extend" and v.at_risk and v.settleable
    f = (stats.norm.ppf(0.9) * 8.0 / 10.0) ** 2
    assert v.more_data_factor == pytest.approx(f, rel=1e-2)
    assert rec.extend["metrics"] == ["handle_time"] and rec.extend["factor"] == pytest.approx(f, rel=1e-2)


def test_an_unsettled_primary_means_extend_not_scale_up():
    rec = decide(SPEC, results(repeat=(-0.2, 1.0)), [])
    assert rec.action == "extend"
    assert groups(rec.verdicts).unsure == ["repeat_contact"]
    assert rec.extend["metrics"] == ["repeat_contact"]


def test_the_quoted_numbers_do_not_scale_up():
    # mean 0.7 x min_effect, sd 0.35 x min_effect: P(better) = Phi(2) = 97.7% (improved), but only
    # P(at least min_effect) = Phi(-0.3 / 0.35) = 19.6% and an expected shortfall of 0.34 x min_effect
    rec = decide(SPEC, results(csat=(0.07, 0.035), repeat=(-0.7, 0.35)), [])
    assert rec.action != "scale_up"
    for m, delta in (("csat", 0.1), ("repeat_contact", 1.0)):
        v = rec.verdicts[m]
        assert v.verdict == "improved" and not v.meaningful
        assert v.prob_better == pytest.approx(stats.norm.cdf(2.0), abs=1e-3)
        assert v.prob_meaningful == pytest.approx(stats.norm.cdf(-0.3 / 0.35), abs=1e-3)
        c = 0.3 / 0.35
        exact = 0.35 * delta * (stats.norm.pdf(c) + c * stats.norm.cdf(c))
        assert v.expected_shortfall == pytest.approx(exact, rel=1e-3)
        assert not v.reachable and v.more_data_factor is None  # 0.7 < 0.9 x min_effect: out of reach
    assert rec.action == "iterate" and rec.extend is None


def test_meaningful_by_probability_or_by_expected_shortfall():
    # probability route: m = 2.05 d, s = 1.2 d -> P(>= d) = 81% >= 80%, shortfall 0.126 d > 0.1 d; P(better)
    # is 95.6%, improved under a 0.95 bar (under the default 0.975 no such posterior exists for this route)
    prob_only = verdict_for(make_spec(decision={"prob_improve": 0.95}), make_result("csat", 0.205, 0.12))
    assert prob_only.meaningful and prob_only.prob_meaningful >= 0.8 and prob_only.expected_shortfall > 0.01
    # shortfall route: m = 0.95 d, s = 0.05 d -> P(>= d) = 16%, shortfall 0.05 d (phi(1) + Phi(1)) = 0.054 d
    loss_only = verdict_for(SPEC, make_result("csat", 0.095, 0.005))
    assert loss_only.verdict == "improved" and loss_only.prob_meaningful < 0.2
    assert loss_only.expected_shortfall == pytest.approx(0.005 * (stats.norm.pdf(1.0) + stats.norm.cdf(1.0)), rel=1e-3)
    assert loss_only.meaningful
    assert decide(SPEC, results(csat=(0.095, 0.005), repeat=(-0.95, 0.05)), []).action == "scale_up"
    # neither: P(>= d) 69%, shortfall 0.2 d -> more data could get there (mean above 0.9 d): extend
    neither = decide(SPEC, results(csat=(0.11, 0.02 * 10 / 4), repeat=(-1.1, 0.5)), [])
    assert not neither.verdicts["csat"].meaningful and neither.verdicts["csat"].reachable
    assert neither.action == "extend" and set(neither.extend["metrics"]) == {"csat", "repeat_contact"}
    # a stricter bar turns a scale-up into an extension
    strict = make_spec(decision={"prob_meaningful": 0.95, "max_expected_loss": 0.001})
    assert decide(strict, results(csat=(0.15, 0.04), repeat=(-1.2, 0.3)), []).action == "extend"
    assert decide(SPEC, results(csat=(0.15, 0.04), repeat=(-1.2, 0.3)), []).action == "scale_up"


def test_meaningful_factor_against_closed_form():
    # probability route: m = 1.5, s = 1, d = 1 -> s* = 0.5 / z(0.8)
    f = meaningful_factor(1.5, 1.0, 1.0, 0.8, 1e-9)
    assert f == pytest.approx((stats.norm.ppf(0.8) / 0.5) ** 2, rel=1e-6)
    # shortfall route: m = 0.95, d = 1: s* solves s (phi(c) + c Phi(c)) = 0.1 with c = 0.05 / s
    f = meaningful_factor(0.95, 0.3, 1.0, 0.99, 0.1)
    s_star = 0.3 / math.sqrt(f)
    c = 0.05 / s_star
    assert s_star * (stats.norm.pdf(c) + c * stats.norm.cdf(c)) == pytest.approx(0.1, rel=1e-6)
    assert meaningful_factor(0.85, 0.3, 1.0, 0.8, 0.1) is None  # mean below 0.9 d: out of reach


def test_improved_and_no_change_primaries_iterate():
    rec = decide(SPEC, results(repeat=(0.0, 0.2)), [])
    g = groups(rec.verdicts)
    assert (g.improved, g.same) == (["csat"], ["repeat_contact"])
    assert rec.action == "iterate"


def test_the_rule_on_arrays_is_the_rule_decide_applies():
    """verdict_codes/action_codes on closed-form numbers agree with decide() on draws, over a grid of posteriors."""
    rng = np.random.default_rng(0)
    dec = SPEC.decision
    for _ in range(60):
        mc, sc = rng.uniform(-0.05, 0.25), rng.uniform(0.005, 0.1)
        mr, sr = rng.uniform(-2.5, 0.5), rng.uniform(0.05, 1.0)
        mh, sh = rng.uniform(-5, 35), rng.uniform(1, 15)
        rec = decide(SPEC, results(csat=(mc, sc), repeat=(mr, sr), ht=(mh, sh)), [])
        nums = [
            numbers_from_t(np.array([mc]), np.array([sc]), np.inf, 0.1, 0.1),
            numbers_from_t(np.array([-mr]), np.array([sr]), np.inf, 1.0, 1.0),
            numbers_from_t(np.array([-mh]), np.array([sh]), np.inf, 20.0, 20.0),
        ]
        deltas, ropes = (0.1, 1.0, 20.0), (0.1, 1.0, 20.0)
        verdict = np.stack([verdict_codes(n, dec) for n in nums])
        assert list(verdict[:, 0]) == [v.verdict for v in rec.verdicts.values()]
        action = action_codes(
            ["primary", "primary", "guardrail"],
            verdict,
            np.stack([meaningful_mask(n, d, dec) for n, d in zip(nums, deltas, strict=True)]),
            np.stack([reachable_mask(n["mean"], d, dec) for n, d in zip(nums, deltas, strict=True)]),
            np.stack([guardrail_codes(n["p_harm"], dec) for n in nums]),
            np.stack([settleable_mask(n["mean"], r) for n, r in zip(nums, ropes, strict=True)]),
        )
        assert action[0] == rec.action, (mc, sc, mr, sr, mh, sh)


def test_t_shortfall_against_numerical_integration():
    from scipy import integrate

    for m, s, df, d in [(0.5, 1.0, 4.0, 1.0), (2.0, 0.5, 10.0, 1.0), (0.0, 2.0, np.inf, 0.5)]:
        dist = stats.t(df, loc=m, scale=s) if np.isfinite(df) else stats.norm(m, s)
        exact = integrate.quad(lambda x, dist=dist, d=d: (d - x) * dist.pdf(x), -np.inf, d)[0]
        assert float(t_shortfall(np.array(m), np.array(s), np.array(df), d)) == pytest.approx(exact, rel=1e-6)


def test_extend_with_data_estimate_against_closed_form():
    # CSAT mean 0.1, sd 0.1: improved needs sd* = 0.1 / z(0.975), factor (z * 0.1 / 0.1)^2 = 3.84
    rec = decide(SPEC, results(csat=(0.1, 0.1), repeat=(-0.9, 0.9)), [])
    assert rec.action == "extend"
    f_csat = stats.norm.ppf(P_IMPROVE) ** 2
    assert rec.verdicts["csat"].more_data_factor == pytest.approx(f_csat, rel=1e-2)
    f_rep = rec.verdicts["repeat_contact"].more_data_factor
    assert f_rep == pytest.approx((stats.norm.ppf(P_IMPROVE) * 0.9 / 0.9) ** 2, rel=1e-2)
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


# ------------------------------------------------------------------ honest extend and net value


def test_extend_from_the_variance_decomposition_when_weeks_can_get_there():
    # factor f = z(0.975)^2 = 3.84 for both primaries; 80% of each unit's variance is interaction noise:
    # weeks factor q / (1/f - (1 - q)) = 0.8 / (0.2603 - 0.2) = 13.3 -> 12 weeks become 159: 148 more
    parts = {m: VarianceParts(between_unit=0.2, unit_period=0.0, noise=0.8, units_per_arm=30) for m in ("csat",
             "repeat_contact")}  # fmt: skip
    rec = decide(SPEC, results(csat=(0.1, 0.1), repeat=(-0.9, 0.9)), [], variance=parts)
    f = stats.norm.ppf(P_IMPROVE) ** 2
    wf = 0.8 / (1 / f - 0.2)
    assert rec.extend["weeks_can_settle"] and rec.extend["basis"] == "variance decomposition"
    assert rec.extend["more_weeks"] == math.ceil((wf - 1) * 12)
    assert rec.extend["more_agents_per_arm"] == math.ceil((f - 1) * 30)  # more units shrink every part alike
    assert rec.extend["per_metric"]["csat"]["weeks_share"] == pytest.approx(0.8)


def test_extend_says_when_more_weeks_cannot_get_there():
    # 70% of the variance is between agents: weeks can shrink it at most to 70% (factor 1.43 < 3.84)
    parts = {m: VarianceParts(between_unit=0.7, unit_period=0.0, noise=0.3, units_per_arm=30) for m in ("csat",
             "repeat_contact")}  # fmt: skip
    rs = results(csat=(0.1, 0.1), repeat=(-0.9, 0.9))
    rec = decide(SPEC, rs, [], variance=parts)
    assert rec.action == "extend"
    assert not rec.extend["weeks_can_settle"] and rec.extend["more_weeks"] is None
    f = stats.norm.ppf(P_IMPROVE) ** 2
    assert rec.extend["more_agents_per_arm"] == math.ceil((f - 1) * 30)
    from qmsprint.present.text import explain

    words = explain(rec, SPEC, rs, [])
    assert "more weeks cannot get there" in words.headline
    assert "only 30% of the uncertainty about CSAT and Repeat contacts is interaction noise" in words.headline
    assert f"About {math.ceil((f - 1) * 30)} more agents per arm would." in words.headline
    # DiD: unit x period shocks do not shrink with more pilot weeks either
    did = VarianceParts(between_unit=0.0, unit_period=0.5, noise=0.5, units_per_arm=20)
    assert did.weeks_share == pytest.approx(0.5)


def test_net_value_against_hand_computation():
    # repeat -1.5 pp (sd 0.5) and handle time +10 s (sd 2) per contact, 120,000 contacts a month:
    # value 1,800 x 6.50 = 11,700; handle time 10 / 60 x 120,000 x 0.75 = 15,000; program 5,000 -> net -8,300
    spec = make_spec(business={"cost_per_contact": 6.5, "contacts_per_month": 120000, "currency": "EUR",
                               "cost_per_agent_minute": 0.75, "program_cost_per_month": 5000})  # fmt: skip
    imp = business_impact(spec, results(repeat=(-1.5, 0.5), ht=(10.0, 2.0)))
    assert imp["value_per_month"]["mean"] == pytest.approx(11700.0, rel=1e-6)
    assert imp["handle_time_counted"] and imp["handle_time_cost_per_month"]["mean"] == pytest.approx(15000.0, rel=1e-6)
    assert imp["net_value_per_month"]["mean"] == pytest.approx(11700 - 15000 - 5000, rel=1e-6)
    # independent normal posteriors: net ~ Normal(-8300, sqrt((600 * 6.5)^2 + (2 / 60 * 120000 * 0.75)^2))
    sd = math.hypot(0.005 * 120000 * 6.5, 2 / 60 * 120000 * 0.75)
    assert imp["prob_net_saving"] == pytest.approx(stats.norm.sf(8300 / sd), abs=0.01)
    assert imp["program_cost_per_month"] == 5000.0 and imp["prob_saves"] > 0.99
    d = net_value_draws(np.array([-1.0]), np.array([6.0]), contacts_per_month=1000, cost_per_contact=5,
                        cost_per_agent_minute=1.0, program_cost_per_month=10)  # fmt: skip
    assert d["net"].tolist() == pytest.approx([10 * 5 - 6 / 60 * 1000 - 10])
    # not priced without cost_per_agent_minute: net = gross - program cost
    plain = business_impact(SPEC, results(repeat=(-1.5, 0.5), ht=(10.0, 2.0)))
    assert not plain["handle_time_counted"] and plain["handle_time_present"]
    assert plain["net_value_per_month"]["mean"] == pytest.approx(plain["value_per_month"]["mean"])


def test_the_data_to_settle_is_given_only_with_extend():
    # iterate (a primary got worse) while a guardrail is at risk: no "more data" advice beside a call to fix the program
    rec = decide(SPEC, results(repeat=(2.0, 0.3), ht=(10.0, 8.0)), [])
    assert rec.action == "iterate" and rec.verdicts["handle_time"].at_risk and rec.extend is None
