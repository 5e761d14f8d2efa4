"""The expected-loss stopping rule (decide.stopping) and the before/after cap (decide.limits, present.rollout)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest
from scipy import stats

from qmsprint import metrics
from qmsprint.decide import decide
from qmsprint.decide.limits import limit_action
from qmsprint.decide.stopping import expected_losses, stop_check
from qmsprint.present.rollout import NO_CONTROL_CAVEAT, word_limits
from qmsprint.present.text import explain
from qmsprint.results import Diagnostics, Effect, MetricResult
from qmsprint.spec import parse_spec
from qmsprint.stats import hdi

N = 4000
GOOD = Diagnostics(1.0, 2000.0, 2000.0, 0, 1.0, 1000, 4, "nutpie")
BAD = Diagnostics(1.08, 45.0, 60.0, 3, 1.0, 1000, 4, "nutpie")


def draws(mu, sd):
    return stats.norm.ppf((np.arange(N) + 0.5) / N, loc=mu, scale=sd)


def result(metric, mu, sd, diag=GOOD):
    d = draws(mu, sd)
    unit = metrics.get(metric).unit
    scale = {"handle_time": "mean"}.get(metric, "rate")
    lo, hi = hdi(d, 0.94)
    sign = 1 if metrics.get(metric).direction == "higher" else -1
    head = Effect(metric, scale, unit, float(d.mean()), lo, hi, 0.94, float(np.mean(sign * d > 0)), 0.5, 0.0, 0, 0)
    return MetricResult(metric, "ab", head, [head], [], d, diag, n_units={"checklist": 30, "behavior": 30})


def spec(design="ab", **extra):
    raw = {
        "name": "stop-test",
        "design": design,
        "arms": {"control": "checklist", "treatment": "behavior"},
        "data": {"source": "x.parquet"},
        "periods": {
            "baseline": {"start": dt.date(2026, 1, 5), "end": dt.date(2026, 3, 1)},
            "pilot": {"start": dt.date(2026, 3, 2), "end": dt.date(2026, 5, 24)},
        },
        "metrics": [
            {"name": "fcr", "role": "primary", "min_effect": 2.0},
            {"name": "handle_time", "role": "guardrail", "min_effect": 20.0},
        ],
        **extra,
    }
    return parse_spec(raw)


def check(s, fcr, ht=(0.0, 3.0), diag=GOOD):
    res = [result("fcr", *fcr, diag=diag), result("handle_time", *ht)]
    rec = decide(s, res, [])
    return rec, stop_check(s, res, rec.action, rec.verdicts)


def test_expected_losses_are_measured_from_min_effect():
    g = draws(5.0, 1e-9)
    assert expected_losses(g, 2.0) == pytest.approx((0.0, 3.0), abs=1e-6)
    g = draws(0.0, 1.0)  # E[max(0, 2 - g)] for g ~ N(0, 1): 2 Phi(2) + phi(2)
    up, keep = expected_losses(g, 2.0)
    assert up == pytest.approx(2 * stats.norm.cdf(2) + stats.norm.pdf(2), rel=1e-3)
    assert keep == pytest.approx(stats.norm.pdf(2) - 2 * stats.norm.sf(2), rel=2e-2)


def test_a_clear_worthwhile_gain_stops_with_scale_up():
    rec, st = check(spec(), (6.0, 1.0))
    assert rec.action == "scale_up" and st.stop and st.action == "scale_up"
    (m,) = st.metrics
    assert m.choice == "scale_up" and m.settled and m.loss_scale_up <= m.threshold == pytest.approx(0.2)


def test_a_precise_null_stops_without_scaling_up():
    rec, st = check(spec(), (0.0, 0.4))
    assert st.stop and st.metrics[0].choice == "keep"
    assert st.action in ("stop", "iterate") and st.action != "scale_up"


def test_a_chance_difference_early_on_is_not_a_win():
    # a null pilot after two weeks: +6 pp, sd 3 pp. The expected shortfall from 2 pp is only 0.13 pp and
    # the call is scale up, but the data cannot yet tell effects of the size that matters apart
    rec, st = check(spec(), (6.0, 3.0))
    assert rec.action == "scale_up"
    (m,) = st.metrics
    assert m.loss_scale_up < m.threshold and m.sd == pytest.approx(3.0, rel=0.01) and m.max_sd == 2.0
    assert not st.stop and not m.settled and any("posterior sd" in o for o in st.open)


def test_an_uncertain_result_keeps_the_pilot_running():
    rec, st = check(spec(), (2.0, 3.0))
    assert not st.stop and not st.metrics[0].settled
    assert any("expected loss" in o for o in st.open)


def test_a_guardrail_at_risk_or_an_unconverged_fit_keeps_it_running():
    s = spec()
    _, st = check(s, (6.0, 1.0), ht=(12.0, 8.0))  # P(harm beyond 20 s) between the bars: at risk
    assert not st.stop and any("guardrail at risk" in o for o in st.open)
    _, st = check(s, (6.0, 1.0), diag=BAD)
    assert not st.stop and any("not converged" in o for o in st.open)
    _, st = check(s, (6.0, 1.0), ht=(60.0, 5.0))  # a clear veto is decisive: iterate
    assert st.stop and st.action == "iterate"


def test_the_threshold_follows_max_expected_loss():
    s = spec(decision={"max_expected_loss": 0.02})
    _, st = check(s, (3.0, 1.0))  # expected shortfall from 2 pp: about 0.083
    assert st.metrics[0].threshold == pytest.approx(0.04) and not st.stop
    _, st = check(spec(), (3.0, 1.0))
    assert st.stop


# ------------------------------------------------------------------------------ before/after cap


def test_prepost_caps_a_decisive_call_at_extend_with_the_caveat():
    s = spec("prepost")
    res = [result("fcr", 6.0, 1.0), result("handle_time", 0.0, 3.0)]
    rec = decide(s, res, [])
    assert rec.action == "scale_up"
    capped = limit_action(s, rec)
    assert capped.action == "extend" and capped.thresholds["uncapped_action"] == "scale_up"
    worded = explain(capped, s, res, [])
    assert worded.caveats[0] == NO_CONTROL_CAVEAT
    assert worded.headline.startswith("Extend") and "control group" in worded.headline
    assert "allow_decisive" in worded.reasons[0]
    assert word_limits(worded, s).caveats.count(NO_CONTROL_CAVEAT) == 1  # wording again changes nothing
    # a stop is capped too; extend and none pass
    for mu, sd in ((0.0, 0.3),):
        r2 = decide(s, [result("fcr", mu, sd), result("handle_time", 0.0, 3.0)], [])
        assert limit_action(s, r2).action == "extend"
    none = decide(s, [result("fcr", 6.0, 1.0, diag=BAD), result("handle_time", 0.0, 3.0)], [])
    assert limit_action(s, none).action == "none"


def test_prepost_opt_in_and_other_designs_are_not_capped():
    res = [result("fcr", 6.0, 1.0), result("handle_time", 0.0, 3.0)]
    opted = spec("prepost", prepost={"allow_decisive": True})
    rec = limit_action(opted, decide(opted, res, []))
    assert rec.action == "scale_up"
    assert explain(rec, opted, res, []).caveats[0] == NO_CONTROL_CAVEAT  # the caveat stays
    ab = spec()
    rec = decide(ab, res, [])
    assert limit_action(ab, rec) is rec
    assert NO_CONTROL_CAVEAT not in explain(rec, ab, res, []).caveats
    assert dataclasses.replace(rec).action == "scale_up"
