"""Presentation (qmsprint.present): formats, labels, the words of a recommendation, figures.

Includes the regression tests of three display bugs: a top-2-box share multiplied by 100 twice on
the Metrics page ("7316.9%"), probabilities printed by two rules (">99%" from 0.99 in the CLI and
report, from 0.995 in the app, and "100%" at exactly 0.995), and two labels for one action ("Stop"
in the report and compare table, "Stop the pilot" in the app).
"""

from __future__ import annotations

import ast
import dataclasses
import html
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from test_decide import BAD, SPEC, make_result, make_spec, results
from typer.testing import CliRunner

from qmsprint.decide import Recommendation, decide, verdict_for
from qmsprint.present import figures, text
from qmsprint.present import format as fmt
from qmsprint.results import Effect, HealthCheck
from qmsprint.words import counted

PKG = Path(__file__).resolve().parents[1] / "qmsprint"


def worded(spec, rs, health=(), **kw) -> Recommendation:
    """decide() then explain(): the recommendation a run folder stores."""
    return text.explain(decide(spec, rs, list(health), **kw), spec, rs, list(health))


def sentence(metric, mu, sd, spec=SPEC) -> str:
    return text.verdict_sentence(verdict_for(spec, make_result(metric, mu, sd)))


def draws_with_prob(p: float, sd: float = 0.1) -> tuple[float, float]:
    """(mu, sd) whose grid draws in make_result have P(effect > 0) == p exactly (N = 4000)."""
    return -sd * stats.norm.ppf(1 - p + 0.1 / 4000), sd


# ------------------------------------------------------------------------------ numbers


def test_numbers_carry_units():
    assert fmt.num(0.1234, "points", signed=True) == "+0.12 pts"
    assert fmt.num(-1.44, "pp", signed=True) == "-1.4 pp"
    assert fmt.num(12.4, "seconds", signed=True) == "+12 s"
    assert fmt.num(-0.001, "points", signed=True) == "0.00 pts"  # a zero has no sign
    assert fmt.num(float("nan"), "pp") == "n/a"
    assert fmt.num(0.15, "points", signed=True, style="plain") == "+0.15 points"
    assert fmt.num(-1.234, "pp", signed=True, style="plain") == "-1.2 pp"
    assert fmt.num(2.5, "%", signed=True, style="plain") == "+2.5%"
    assert fmt.interval_text(0.05, 0.21, "points", 0.94) == "94% interval: +0.05 pts to +0.21 pts"
    assert fmt.range_text(-1, 2, "seconds", style="words") == "-1 seconds to +2 seconds"


def test_thresholds_money_and_markdown():
    assert fmt.threshold_text(1.0, "pp") == "1 percentage point"
    assert fmt.threshold_text(1.0, "pp", style="plain") == "1 pp"
    assert fmt.threshold_text(20, "seconds", style="plain") == "20 seconds"
    assert fmt.threshold_text(0.1, "points") == "0.1 points"
    assert fmt.threshold_text(5, "%") == "5%"
    assert (fmt.money(10922.4, "EUR"), fmt.money(-2141, "EUR"), fmt.money(950.4, "EUR")) == (
        "EUR 10,900",
        "-EUR 2,100",
        "EUR 950",
    )
    assert fmt.money(float("inf"), "EUR") == "n/a"
    assert fmt.md(">99% sure") == "\\>99% sure"  # not a Markdown block quote
    assert fmt.whole(2399.6) == "2,400"


@pytest.mark.parametrize(
    ("p", "shown"),
    [
        (0.0, "<1%"),
        (0.004, "<1%"),
        (0.005, "1%"),
        (0.007, "1%"),
        (0.5, "50%"),
        (0.9449, "94%"),
        (0.993, "99%"),
        (0.9949, "99%"),
        (0.995, ">99%"),
        (0.9996, ">99%"),
        (1.0, ">99%"),
        (float("nan"), "n/a"),
        (None, "n/a"),
    ],
)
def test_the_one_probability_format(p, shown):
    assert fmt.pct(p) == shown


def test_set_probabilities_are_shown_as_set():
    # a bar or an interval level is a setting, not an estimate: 0.975 must not read 98%
    assert [fmt.pct_bar(p) for p in (0.975, 0.9, 0.8, 0.1)] == ["97.5%", "90%", "80%", "10%"]
    assert [fmt.hdi_level(p) for p in (0.94, 0.975, 0.9, 0.945)] == ["94%", "97.5%", "90%", "94.5%"]
    assert fmt.hdi_level(None) == "94%"


def test_probabilities_never_read_0_or_100_percent():
    for p in np.linspace(0, 1, 20001):
        assert fmt.pct(float(p)) not in ("0%", "100%"), p


# ------------------------------------------------------------------------------ labels


def test_metric_and_scale_labels_come_from_the_registry():
    assert fmt.metric_label("csat") == "CSAT" and fmt.metric_label("repeat_contact") == "Repeat contacts"
    assert fmt.metric_label("custom_thing") == "Custom thing"
    assert fmt.scale_label("csat", "top2box") == "top-2-box share"
    assert fmt.scale_label("fcr", "relative") == "relative change"
    assert fmt.verdict_label("no_change") == "no meaningful change"
    assert fmt.verdict_label("no_change", capital=True) == "No meaningful change"
    assert fmt.verdict_badge("improved") == ":green-badge[:material/trending_up: Improved]"
    assert fmt.role_label("guardrail") == "Guardrail" and fmt.status_label("warn") == "Warning"


# ------------------------------------------------------------------------------ bug: top-2-box share shown as 7316.9%


def test_top2box_share_is_shown_once_as_a_percentage():
    # levels of a pp scale are percentages already (73.169 = 73.2%): never multiplied by 100 again
    assert fmt.level_text(73.169, "csat", "top2box") == "73.2%"
    assert fmt.level_text(0.8, "repeat_contact", "rate") == "0.8%"  # a small rate is not taken for a share
    assert fmt.level_text(4.236, "csat", "mean") == "4.24 pts"
    assert fmt.level_text(4.236, "csat", "mean", with_unit=False) == "4.24"
    assert fmt.level_text(73.2, "fcr", "relative") == "73.2%"  # relative scale: levels of the rate
    assert fmt.level_text(412.4, "handle_time", "relative") == "412 s"
    assert fmt.level_text(35.0, "nps", "promoters") == "35.0%"


def _csat_with_top2box():
    r = make_result("csat", 0.3, 0.05)
    top = Effect("csat", "top2box", "pp", 6.94, 4.0, 9.8, 0.94, 0.99, 0.9, 0.0, 73.169, 80.111)
    mean = dataclasses.replace(r.headline, control=4.102, treatment=4.236)
    return dataclasses.replace(r, headline=mean, effects=[mean, top])


def test_metrics_page_table_shows_the_top2box_share_as_a_percentage():
    from qmsprint.ui.pages.metrics import _effects_table

    table = _effects_table(_csat_with_top2box(), "Checklist QA", "Behavior-based QA")
    row = table[table["measure"] == "top-2-box share"].iloc[0]
    assert (row["Checklist QA"], row["Behavior-based QA"]) == ("73.2%", "80.1%")
    assert "7316.9%" not in table.to_string() and "8011.1%" not in table.to_string()


def test_card_levels_sentence_reads_shares_as_percentages():
    top = _csat_with_top2box().effects[1]
    assert text.effect_sentence("csat", top, "Checklist", "Behavior") == (
        "Top-2-box share: 80.1% on Behavior vs 73.2% on Checklist"
    )
    assert text.effect_sentence("csat", _csat_with_top2box().headline.to_dict(), "Checklist", "Behavior") == (
        "Average CSAT: 4.24 on Behavior vs 4.10 on Checklist"
    )


# ------------------------------------------------------------------------------ bug: one probability format


@pytest.fixture(scope="module")
def runs_by_prob(tmp_path_factory):
    """Run folders whose CSAT P(better) sits where the old rules disagreed."""
    from test_store import write

    from qmsprint.store import load_run

    out = {}
    for p in (0.007, 0.5, 0.993, 0.995):
        folder = write(tmp_path_factory.mktemp(f"p{p}"), csat=draws_with_prob(p))
        out[p] = load_run(folder)
    return out


@pytest.mark.parametrize(("p", "shown"), [(0.007, "1%"), (0.5, "50%"), (0.993, "99%"), (0.995, ">99%")])
def test_cli_report_and_app_print_a_probability_alike(runs_by_prob, p, shown):
    from qmsprint.report import render_report

    run = runs_by_prob[p]
    csat = next(r for r in run.results if r.metric == "csat")
    v = run.recommendation.verdicts["csat"]
    assert v.prob_better == pytest.approx(p, abs=1e-9) and csat.headline.prob_improve == pytest.approx(p, abs=1e-9)
    cli = text.run_summary(text.explain(run.recommendation, run.spec, run.results, run.health), run.results)
    report = html.unescape(render_report(run))
    app = text.improve_sentence("csat", csat.headline.prob_improve)  # the metric card's sentence
    assert f"CSAT: {fmt.num(v.mean, v.unit, signed=True, style='plain')}" in cli
    assert f"P(better) {shown} ->" in cli
    assert f'<td class="num">{shown}</td>' in report
    assert app.startswith(f"{shown} probability that CSAT improves at all")


# ------------------------------------------------------------------------------ bug: one label per action


def test_every_action_has_one_label_in_explain_app_and_report_colours():
    assert fmt.ACTION_LABELS["stop"] == "Stop the pilot" and fmt.ACTION_LABELS["scale_up"] == "Scale up"
    for action, label in fmt.ACTION_LABELS.items():
        assert fmt.action_text(action)[0] == label == fmt.action_label(action)
        assert fmt.ACTION_TONES[action] in figures.TONE_HEX
    cases = {
        "scale_up": results(),
        "extend": results(csat=(0.1, 0.1), repeat=(-0.9, 0.9)),
        "iterate": results(ht=(45.0, 5.0)),
        "stop": results(csat=(-0.3, 0.05), repeat=(0.3, 1.0)),
        "none": [make_result("csat", 0.3, 0.05, diag=BAD)] + results()[1:],
    }
    for action, rs in cases.items():
        rec = worded(SPEC, rs)
        assert rec.action == action and rec.action_label == fmt.ACTION_LABELS[action]


def test_cli_report_and_app_show_the_same_action_label(tmp_path):
    from test_store import T0, write

    from qmsprint import api
    from qmsprint.cli import app as cli
    from qmsprint.report import render_report
    from qmsprint.store import load_run

    a = write(tmp_path, now=T0)
    b = write(tmp_path, now=T0.replace(day=T0.day + 1), csat=(-0.3, 0.05), repeat=(0.3, 1.0))
    stop = load_run(b)
    assert stop.recommendation.action == "stop"
    label = fmt.ACTION_LABELS["stop"]
    assert f'<div class="action">{label}</div>' in render_report(stop)  # report
    assert fmt.action_text(stop.recommendation.action)[0] == label  # app (Recommendation page box)
    table = api.compare([a, b])  # the compare table of the CLI and the app's Compare page
    assert set(table.loc[table["run"] == b.name, "recommendation"]) == {label}
    assert set(table.loc[table["run"] == b.name, "verdict"]) >= {fmt.VERDICT_LABELS["worse"]}
    printed = CliRunner().invoke(cli, ["compare", str(a), str(b)])
    assert printed.exit_code == 0 and label in printed.output and fmt.ACTION_LABELS["scale_up"] in printed.output


def _string_constants(path: Path) -> set[str]:
    return {n.value for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(n, ast.Constant)}


def test_action_and_verdict_labels_are_written_in_one_module():
    home = PKG / "present" / "format.py"
    labels = set(fmt.ACTION_LABELS.values()) | {"Scale up the new program", "Inconclusive so far", "Stop"}
    for path in PKG.rglob("*.py"):
        if path != home:
            found = labels & _string_constants(path)
            assert not found, f"{path.relative_to(PKG)} spells action / verdict labels {found} itself"


# ------------------------------------------------------------------------------ the words of a recommendation


def test_decide_returns_numbers_and_explain_words_them():
    rs = results()
    bare = decide(SPEC, rs, [])
    assert bare.headline == "" and all(v.sentence == "" for v in bare.verdicts.values())
    rec = text.explain(bare, SPEC, rs, [])
    assert rec.action == bare.action and rec.headline and all(v.sentence for v in rec.verdicts.values())
    assert bare.headline == ""  # explain returns a copy
    back = Recommendation.from_dict(json.loads(json.dumps(rec.to_dict())))
    assert back.to_dict() == rec.to_dict() and back.action_label == "Scale up"
    assert text.recommendation_text(rec).startswith(rec.headline + "\n  - ")


def test_verdict_sentences():
    s = sentence("csat", 0.1777, 0.05)
    assert s.startswith("94% probability that CSAT improves by at least 0.1 points")
    assert "(>99% that it improves at all, expected shortfall 0.00 points); effect +0.18 points (94% interval" in s
    assert sentence("repeat_contact", 2.0, 0.3).startswith(">99% probability that Repeat contacts rise with the new")
    assert sentence("csat", -0.3, 0.05).startswith(">99% probability that CSAT gets worse with the new program")
    assert "is smaller than 0.1 points either way (no meaningful change)" in sentence("csat", 0.0, 0.03)
    assert sentence("csat", 0.05, 0.1).startswith("CSAT is not settled yet: 69% probability that it improves, ")


def test_guardrail_sentences():
    veto = sentence("handle_time", 40.0, 5.0)
    assert veto.startswith("Handle time (guardrail) rises beyond the tolerated 20 seconds: >99% probability that it")
    assert "(guardrail) holds" in sentence("handle_time", 5.0, 2.0)
    risky = sentence("handle_time", 22.0, 5.0)
    assert "(guardrail) is at risk: 66% probability that it rises by more than the tolerated 20 seconds" in risky


def test_scale_up_headline_and_reasons():
    rec = worded(SPEC, results())
    assert (
        rec.headline == "Scale up Behavior-based QA: it improves CSAT and Repeat contacts without harming Handle time."
    )
    assert any(r.startswith(">99% probability that CSAT improves by at least 0.1 points") for r in rec.reasons)
    assert any(r.startswith(">99% probability that Repeat contacts fall by at least 1 pp") for r in rec.reasons)
    assert rec.reasons[-2].startswith("About 2,400 repeat contacts avoided per month")
    assert rec.reasons[-1].startswith("Net value: no costs are subtracted")
    assert rec.reasons[0].startswith("The rule: scale up needs every primary metric improved (P(better) >= 97.5%)")
    assert "CSAT clears the bar: P(at least 0.1 points) >99%" in rec.reasons[0]


def test_a_guardrail_at_risk_is_named_and_blocks_the_scale_up():
    rec = worded(SPEC, results(ht=(23.0, 13.0)))
    p = rec.verdicts["handle_time"].prob_harm
    assert rec.action == "iterate"
    assert rec.headline == (
        "Iterate on Behavior-based QA: it improves CSAT and Repeat contacts, but Handle time is at risk: "
        f"{fmt.pct(p)} probability that it rises by more than the tolerated 20 seconds; fix that before scaling up."
    )
    near = worded(SPEC, results(ht=(10.0, 8.0)))  # mean harm inside the margin: more data can clear it
    assert near.action == "extend"
    assert near.headline.startswith(
        "Extend the pilot before scaling up: Behavior-based QA improves CSAT and Repeat contacts, but Handle time "
        "is at risk: 11% probability that it rises by more than the tolerated 20 seconds. Settling Handle time needs"
    )


def test_an_unsettled_primary_extends_the_pilot():
    rec = worded(SPEC, results(repeat=(-0.2, 1.0)))
    assert rec.action == "extend"
    assert rec.headline.startswith("Extend the pilot: the evidence on Repeat contacts is not conclusive yet.")


def test_an_improvement_too_small_to_act_on_is_said_so():
    rec = worded(SPEC, results(csat=(0.07, 0.035), repeat=(-0.7, 0.35)))
    assert rec.action == "iterate"
    assert rec.headline == (
        "Iterate on Behavior-based QA: it improves CSAT and Repeat contacts, but probably by less than is worth "
        "acting on (20% probability that CSAT improves by at least 0.1 points); strengthen the program before "
        "scaling it up."
    )
    csat = rec.verdicts["csat"].sentence
    assert csat.startswith("CSAT improves (98% probability), but probably by less than the 0.1 points worth acting on")
    assert "expected shortfall 0.03 points (80% needed, or an expected shortfall of at most 0.01 points)" in csat
    assert "No primary metric clears the bar: the closest, CSAT, has P(at least 0.1 points) 20%" in rec.reasons[0]


def test_net_value_sentence_with_costs():
    spec = make_spec(
        business={
            "cost_per_contact": 6.5,
            "contacts_per_month": 120000,
            "cost_per_agent_minute": 0.75,
            "program_cost_per_month": 5000,
        }  # fmt: skip
    )
    rec = worded(spec, results(repeat=(-1.5, 0.5), ht=(10.0, 2.0)))
    net = rec.impact["net_sentence"]
    assert net.startswith(
        "Net value, net of the change in handle time (longer contacts: EUR 15,000 a month more at EUR 0.75 per agent "
        "minute) and the program's cost (EUR 5,000 a month): about -EUR 8,300 a month"
    )
    assert f"{fmt.pct(rec.impact['prob_net_saving'])} probability of a net saving." in net
    assert net in rec.reasons
    summary = text.run_summary(rec, results(repeat=(-1.5, 0.5), ht=(10.0, 2.0)))
    assert f"  {net}" in summary.splitlines()


def test_extend_headline_with_the_data_needed():
    rec = worded(SPEC, results(csat=(0.1, 0.1), repeat=(-0.9, 0.9)))
    assert rec.headline.startswith("Extend the pilot: the evidence on CSAT and Repeat contacts is not conclusive yet.")
    assert f"about {rec.extend['more_weeks']} more weeks" in rec.headline
    assert "needs roughly 3.8 times the data so far (if the effects stay where they are): about" in rec.headline
    assert "more agents per arm over the same weeks." in rec.headline
    assert rec.extend["sentence"] in rec.headline
    far = worded(SPEC, results(csat=(0.02, 0.2), repeat=(-0.1, 2.0)))
    assert "more than the pilot can usually afford" in far.headline


def test_extend_sentence_without_weeks_or_agents():
    ext = {"metrics": ["csat"], "factor": 2.5, "more_weeks": None, "more_agents_per_arm": None, "practical": True}
    assert text.extend_sentence(ext) == (
        "Settling CSAT needs roughly 2.5 times the data so far (if the effects stay where they are): about 1.5 "
        "times the data collected so far."
    )


def test_iterate_and_stop_headlines():
    veto = worded(SPEC, results(ht=(45.0, 5.0)))
    assert veto.headline.startswith("Iterate on Behavior-based QA: it improves CSAT and Repeat contacts, but Handle")
    assert "Handle time worsens beyond the tolerated 20 seconds; fix that first." in veto.headline
    split = worded(SPEC, results(repeat=(2.0, 0.3)))
    assert "but Repeat contacts get worse; fix that first." in split.headline
    worse = worded(SPEC, results(csat=(-0.3, 0.05), repeat=(0.3, 1.0)))
    assert worse.headline == "Stop: Behavior-based QA makes CSAT worse without a clear gain elsewhere."
    same = worded(SPEC, results(csat=(0.0, 0.02), repeat=(0.0, 0.2)))
    assert same.headline == "Stop: Behavior-based QA makes no meaningful difference to CSAT and Repeat contacts."
    assert any("no meaningful change" in r for r in same.reasons)


def test_no_recommendation_when_a_fit_did_not_converge():
    rs = results()
    rs[1] = make_result("repeat_contact", -2.0, 0.3, diag=BAD)
    rec = worded(SPEC, rs)
    assert rec.headline.startswith("No recommendation: the fit for Repeat contacts did not converge, so its results")
    assert any("R-hat 1.080 > 1.01" in c and c.startswith("The fit for Repeat contacts missed") for c in rec.caveats)


def test_caveats_from_health_and_units_and_notes():
    health = [
        HealthCheck("srm_agents", "alert", "Sample ratio mismatch: 40 vs 20 agents (p < 0.001)."),
        HealthCheck("response_rate", "warn", "Survey response differs: 12% vs 18%."),
        HealthCheck("contamination", "ok", "No agent appears in both arms."),
    ]
    rs = results(n_units={"checklist": 5, "behavior": 30}, notes=["prior from run X"])
    rec = worded(SPEC, rs, health)
    assert rec.caveats[0] == "Alert: Sample ratio mismatch: 40 vs 20 agents (p < 0.001)."
    assert "Survey response differs: 12% vs 18%." in rec.caveats
    assert not any("No agent appears" in c for c in rec.caveats)
    assert any(c.startswith("Few agents per arm (checklist: 5; at least 8 recommended)") for c in rec.caveats)
    assert "CSAT: prior from run X" in rec.notes and "CSAT: prior from run X" not in rec.caveats
    # when the units-per-arm health check already warns, the caveat is not said twice
    few = HealthCheck("units_per_arm", "warn", "Few agents per arm (5 agents on the new program and 30 ...).")
    rec = worded(SPEC, rs, [*health, few])
    assert [c.startswith("Few agents per arm") for c in rec.caveats].count(True) == 1


def test_secondary_worse_is_a_caveat():
    spec = make_spec(metrics=[{"name": "csat", "role": "primary"}, {"name": "nps", "role": "secondary"}])
    rec = worded(spec, [make_result("csat", 0.3, 0.05), make_result("nps", -8.0, 1.0)])
    assert any(
        c.startswith("Secondary metric NPS got worse: >99% probability that NPS gets worse") for c in rec.caveats
    )


def test_impact_sentences():
    rec = worded(SPEC, results(repeat=(-1.5, 0.5)))
    imp = rec.impact["sentence"]
    assert imp.startswith("About 1,800 repeat contacts avoided per month (94% interval ")
    assert "worth about EUR 11,700 a month" in imp
    assert "at EUR 6.50 per contact and 120,000 contacts a month; >99% probability that it saves money." in imp
    rise = worded(SPEC, results(repeat=(1.0, 0.2))).impact["sentence"]
    assert rise.startswith("About 1,200 more repeat contacts per month")
    assert "costing about EUR 7,800 a month; <1% probability that it saves money." in rise


def test_segment_sentence_is_direction_aware():
    segs = [("channel", "voice", -0.5, 0.9), ("channel", "chat", -2.5, 0.995), ("channel", "email", 0.4, 0.3)]
    rs = results()
    rs[1] = make_result("repeat_contact", -2.0, 0.3, segments=segs)
    (s,) = worded(SPEC, rs).segments
    assert s["sentence"] == (
        "Repeat contacts by channel: works best in chat (-2.5 pp, >99% probability of improvement) and least in "
        "email (+0.4 pp, 30% probability of improvement)."
    )


def test_run_summary_for_the_terminal():
    rs = results()
    rs[2] = make_result("handle_time", 2.0, 3.0, diag=BAD)
    rec = worded(SPEC, rs)
    out = text.run_summary(rec, rs, ["diagnosis skipped"]).splitlines()
    assert out[0] == rec.headline
    assert out[1].startswith("  CSAT: +0.30 points [+0.") and out[1].endswith(", P(better) >99% -> improved")
    assert "(NOT CONVERGED: R-hat 1.080 > 1.01" in out[3]
    assert out[-1] == "  note: diagnosis skipped"
    assert any(line.startswith("  caveat: The fit for Handle time missed") for line in out)


def test_metric_card_sentences_read_plainly():
    assert (
        text.prob_sentence("csat", 0.94, 0.1, "points") == "94% probability that CSAT improves by at least 0.1 points"
    )
    assert (
        text.prob_sentence("repeat_contact", 0.88, 1.0, "pp", "lower")
        == "88% probability that repeat contacts fall by at least 1 percentage point"
    )
    assert text.improve_sentence("handle_time", 0.3, "lower") == "30% probability that handle time falls at all"
    assert (
        text.prob_sentence("nps", 0.5, 5.0, "NPS points")
        == "50% probability that NPS improves by at least 5 NPS points"
    )
    assert (
        text.harm_sentence("handle_time", 0.004, 20, "seconds", "lower")
        == "<1% probability that handle time rises by more than 20 seconds"
    )


# ------------------------------------------------------------------------------ figures


def test_weekly_levels_come_from_the_registry():
    weekly = pd.DataFrame(
        {
            "arm": ["a", "a", "b"],
            "period": ["pilot"] * 3,
            "week": pd.to_datetime(["2026-03-02", "2026-03-02", "2026-03-02"]),
            "csat_n": [10, 30, 20],
            "csat_sum": [40.0, 126.0, 90.0],
            "nps_n": [10, 30, 20],
            "nps_promoters": [5, 12, 10],
            "nps_detractors": [2, 6, 4],
        }
    )
    csat = figures.weekly_values(weekly, "csat").set_index("arm")
    assert csat.loc["a", "value"] == pytest.approx(166 / 40) and csat.loc["a", "n"] == 40
    nps = figures.weekly_values(weekly, "nps").set_index("arm")
    assert nps.loc["b", "value"] == pytest.approx(100 * 6 / 20)
    assert figures.weekly_values(weekly, "fcr") is None  # its columns are absent
    assert figures.has_weekly("handle_time") and not figures.has_weekly("not_a_metric")
    fig = figures.weekly_figure(weekly, "nps", {"a": "Checklist", "b": "Behavior"}, "2026-03-02")
    assert fig.layout.yaxis.title.text == "NPS" and len(fig.data) == 2


def test_impact_figure_draws_decides_numbers():
    rs = results(repeat=(-1.5, 0.5))
    rec = decide(SPEC, rs, [])
    fig = figures.impact_figure(rs[1].draws, rec.impact)
    assert np.mean(fig.data[0].x) == pytest.approx(rec.impact["value_per_month"]["mean"], rel=1e-9)
    assert figures.impact_figure(None, rec.impact) is None
    # with handle time priced and a program cost: the net value, from the draws of both metrics
    spec = make_spec(business={"cost_per_contact": 6.5, "contacts_per_month": 120000, "cost_per_agent_minute": 0.5,
                               "program_cost_per_month": 2000})  # fmt: skip
    rs = results(repeat=(-1.5, 0.5), ht=(6.0, 2.0))
    imp = decide(spec, rs, []).impact
    fig = figures.impact_figure({r.metric: r.draws for r in rs}, imp)
    assert np.mean(fig.data[0].x) == pytest.approx(imp["net_value_per_month"]["mean"], rel=1e-9)
    assert np.mean(np.asarray(fig.data[0].x) > 0) == pytest.approx(imp["prob_net_saving"])


def test_posterior_and_forest_figures_are_labelled_in_the_metrics_unit():
    r = make_result(
        "repeat_contact", -2.0, 0.3, segments=[("channel", "chat", -2.5, 0.99), ("channel", "voice", 1, 0.2)]
    )
    post = figures.posterior_figure(r.draws, "repeat_contact", "pp", 1.0, "lower", (-2.5, -1.5))
    assert post.layout.xaxis.title.text == "effect on Repeat contacts (percentage points; lower is better)"
    assert "±1 percentage point" in post.layout.annotations[0].text
    forest = figures.forest_figure(r.segments, "repeat_contact", "pp", 1.0, "lower")
    assert list(forest.data[0].y) == ["channel: voice", "channel: chat"]
    assert forest.data[0].marker.color == (figures.BAD, figures.GOOD)  # voice: +0 to +2 pp, a rise
    assert len(figures.posterior_figure(np.array([]), "csat", "points", 0.1, "higher", None).data) == 0


def test_compare_figure_has_one_point_per_run():
    table = pd.DataFrame(
        {
            "run": ["r1", "r2"],
            "metric": ["csat", "csat"],
            "unit": ["points", "points"],
            "effect": [0.3, 0.1],
            "hdi_low": [0.2, -0.1],
            "hdi_high": [0.4, 0.3],
            "prob_improve": [0.999, 0.8],
            "verdict": ["improved", "inconclusive"],
        }
    )
    fig = figures.compare_figure(table, "csat")
    assert list(fig.data[0].x) == ["r1", "r2"] and ">99% probability" in fig.data[0].hovertext[0]
    assert math.isclose(fig.data[0].error_y.array[0], 0.1)


def test_diagnostics_table_is_labelled_and_rounded_for_clients():
    import pandas as pd

    from qmsprint.present import format as fmt

    diag = pd.DataFrame(
        {
            "metric": ["csat", "handle_time"],
            "rhat_max": [1.00412, 1.0231],
            "ess_bulk_min": [1234.5, 88.0],
            "ess_tail_min": [999.0, 70.0],
            "divergences": [0, 2],
            "bfmi_min": [0.912, 0.8],
            "draws": [1000, 1000],
            "chains": [4, 4],
            "sampler": ["nutpie", "nutpie"],
            "seconds": [12.3, 40.0],
            "attempts": [1, 3],
            "converged": [True, False],
            "problems": [None, "R-hat 1.023 > 1.01"],
            "spread_rhat_max": [1.002, float("nan")],
            "spread_ess_min": [812.0, float("inf")],
        }
    )
    t = fmt.diagnostics_table(diag)
    assert list(t.columns)[:3] == ["Metric", "Converged", "R-hat (max)"] and "sampler" not in t
    assert t["Metric"].tolist() == ["CSAT", "Handle time"] and t["Converged"].tolist() == ["yes", "no"]
    assert t["R-hat (max)"].tolist() == ["1.004", "1.023"] and t["Bulk ESS (min)"].tolist() == ["1,234", "88"]
    assert t["Spread ESS (min)"].tolist() == ["812", "n/a"] and t["Problems"].tolist() == ["", "R-hat 1.023 > 1.01"]


def test_counts_take_the_noun_in_the_right_number():
    assert counted(1, "warning") == "1 warning"
    assert counted(0, "warning") == "0 warnings"
    assert counted(2, "health check") == "2 health checks"
    assert counted(12500, "response") == "12,500 responses"
    assert counted(3, "agent id") == "3 agent ids"
    assert counted(2, "wave x metric check") == "2 wave x metric checks"
    assert counted(1, "analysis", "analyses") == "1 analysis"
    assert counted(2, "analysis", "analyses") == "2 analyses"
