"""Every sentence people read about a pilot's results: verdicts, the call, reasons, caveats, money.

:func:`qmsprint.decide.decide` returns codes and numbers; :func:`explain` words them (the
headline, the reasons, the caveats, one sentence per verdict, for the business impact, the
extension and each segment), and the run folder stores the words with the numbers. The app's
metric cards (:func:`prob_sentence`, :func:`harm_sentence`, ...) and the terminal summary
(:func:`run_summary`) are worded here too. Metric labels, plurals and verbs come from the metric
registry; numbers and probabilities from :mod:`qmsprint.present.format`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from qmsprint import metrics as metric_registry
from qmsprint.decide import Groups, Recommendation, Verdict, groups, small_arms
from qmsprint.present.format import (
    action_label,
    guardrail_label,
    hdi_level,
    is_num,
    level_text,
    metric_label,
    money,
    names_text,
    num,
    pct,
    pct_bar,
    scale_label,
    threshold_text,
    verdict_label,
    whole,
)
from qmsprint.present.rollout import word_limits
from qmsprint.present.values import gross_what, impact_words
from qmsprint.results import HealthCheck, MetricResult
from qmsprint.spec import Spec

# ------------------------------------------------------------------------------ metric words


def _plural(metric: str) -> bool:
    info = metric_registry.registry().get(metric)
    return bool(info and info.plural)


def _verbs(metric: str, better: str) -> tuple[str, str]:
    """(verb for getting better, verb for getting worse) from the registry."""
    info = metric_registry.registry().get(metric)
    if info is not None:
        return info.verbs(better)
    return ("falls", "rises") if better == "lower" else ("improves", "worsens")


def _moves(metric: str, better: str) -> str:
    """How a metric moves when it gets worse: ``rises`` / ``falls`` (``rise`` / ``fall`` for plurals)."""
    fall, rise = _verbs(metric, "lower")
    return rise if better == "lower" else fall


def _subject(metric: str) -> str:
    info = metric_registry.registry().get(metric)
    return info.subject() if info is not None else metric_label(metric).lower()


def _it(metric: str) -> str:
    return "they" if _plural(metric) else "it"


def _names(metrics: Iterable[str]) -> str:
    return names_text([metric_label(m) for m in metrics])


def _effect(mean: float, low: float, high: float, unit: str, prob: float) -> str:
    """``+0.15 points (94% interval +0.05 points to +0.25 points)``."""
    return (
        f"{num(mean, unit, signed=True, style='plain')} ({hdi_level(prob)} interval "
        f"{num(low, unit, signed=True, style='plain')} to {num(high, unit, signed=True, style='plain')})"
    )


def _thr(x: float, unit: str) -> str:
    return threshold_text(x, unit, style="plain")


# ------------------------------------------------------------------------------ the recommendation


def _shortfall(v: Verdict) -> str:
    return num(v.expected_shortfall, v.unit, style="plain").lstrip("+")


def _bar(v: Verdict, dec: Any = None) -> str:
    """The meaningful bar in words, e.g. ``80% needed, or an expected shortfall of at most 0.01 points``."""
    p_m = getattr(dec, "prob_meaningful", None)
    loss = getattr(dec, "max_expected_loss", None)
    if p_m is None or loss is None:
        return ""
    most = num(loss * v.min_effect, v.unit, style="plain")
    return f" ({pct_bar(p_m)} needed, or an expected shortfall of at most {most})"


def verdict_sentence(v: Verdict, dec: Any = None) -> str:
    """What a metric's verdict means, with the probabilities and the effect behind it.

    ``dec`` (the spec's ``[decision]`` table) adds the bars the numbers were held to.
    """
    label, unit, it = metric_label(v.metric), v.unit, _it(v.metric)
    up = _verbs(v.metric, v.better)[0]
    if v.better == "higher":
        down = "get worse" if _plural(v.metric) else "gets worse"
    else:
        down = _verbs(v.metric, v.better)[1]
    thr = _thr(v.min_effect, unit)
    effect = _effect(v.mean, v.hdi_low, v.hdi_high, unit, v.hdi_prob)
    if v.role == "guardrail":
        rope, harm = _thr(v.rope, unit), _moves(v.metric, v.better)
        risk = getattr(dec, "guardrail_max_risk", None)
        if v.veto:
            return (
                f"{label} (guardrail) {down} beyond the tolerated {rope}: {pct(v.prob_harm)} probability "
                f"that {it} {harm} by more than {rope}; effect {effect}."
            )
        state = "is at risk" if v.at_risk else "holds"
        bar = f" ({pct_bar(risk)} at most for a guardrail to hold)" if risk is not None else ""
        return (
            f"{label} (guardrail) {state}: {pct(v.prob_harm)} probability that {it} {harm} by more "
            f"than the tolerated {rope}{bar}; effect {effect}."
        )
    if v.verdict == "improved" and not v.meaningful and v.expected_shortfall == v.expected_shortfall:
        return (
            f"{label} {up} ({pct(v.prob_better)} probability), but probably by less than the {thr} worth acting "
            f"on: {pct(v.prob_meaningful)} probability that {it} {up} by at least {thr}, expected shortfall "
            f"{_shortfall(v)}{_bar(v, dec)}; effect {effect}."
        )
    if v.verdict == "improved":
        short = f", expected shortfall {_shortfall(v)}" if v.expected_shortfall == v.expected_shortfall else ""
        return (
            f"{pct(v.prob_meaningful)} probability that {label} {up} by at least {thr} "
            f"({pct(v.prob_better)} that {it} {up} at all{short}); effect {effect}."
        )
    if v.verdict == "worse":
        return f"{pct(v.prob_worse)} probability that {label} {down} with the new program; effect {effect}."
    if v.verdict == "no_change":
        return (
            f"{pct(v.prob_equivalent)} probability that the change in {label} is smaller than "
            f"{_thr(v.rope, unit)} either way (no meaningful change); effect {effect}."
        )
    return (
        f"{label} {'are' if _plural(v.metric) else 'is'} not settled yet: {pct(v.prob_better)} probability that "
        f"{it} {up}, "
        f"{pct(v.prob_meaningful)} that {it} {up} by at least {thr}; effect {effect}."
    )


def impact_sentence(impact: dict[str, Any]) -> str:
    """Contacts avoided and money a month, with intervals and the probability of saving."""
    av, val, cur = impact["contacts_avoided_per_month"], impact["value_per_month"], impact["currency"]
    level, p_save = hdi_level(impact["hdi_prob"]), pct(impact["prob_saves"])
    what = _subject(impact.get("metric", "repeat_contact"))
    if av["mean"] >= 0:
        return (
            f"About {whole(av['mean'])} {what} avoided per month ({level} interval "
            f"{whole(av['hdi_low'])} to {whole(av['hdi_high'])}), worth about {money(val['mean'], cur)} a month "
            f"({money(val['hdi_low'], cur)} to {money(val['hdi_high'], cur)}) at "
            f"{cur} {impact['cost_per_contact']:,.2f} per contact and {whole(impact['contacts_per_month'])} "
            f"contacts a month; {p_save} probability that it saves money."
        )
    return (
        f"About {whole(-av['mean'])} more {what} per month ({level} interval for contacts avoided "
        f"{whole(av['hdi_low'])} to {whole(av['hdi_high'])}), costing about {money(-val['mean'], cur)} a month; "
        f"{p_save} probability that it saves money."
    )


def net_sentence(impact: dict[str, Any]) -> str:
    """The net value per month: contacts avoided minus the handle-time cost and the program's cost."""
    net, cur = impact.get("net_value_per_month"), impact["currency"]
    if not net:
        return ""
    level = hdi_level(impact["hdi_prob"])
    parts = []
    cost = impact.get("handle_time_cost_per_month")
    if impact.get("handle_time_counted") and cost:
        verb = "longer" if cost["mean"] >= 0 else "shorter"
        parts.append(
            f"the change in handle time ({verb} contacts: {money(abs(cost['mean']), cur)} a month "
            f"{'more' if cost['mean'] >= 0 else 'less'} at {cur} {impact['cost_per_agent_minute']:,.2f} per agent "
            "minute)"
        )
    program = impact.get("program_cost_per_month") or 0.0
    if program > 0:
        parts.append(f"the program's cost ({money(program, cur)} a month)")
    missing = []
    if impact.get("handle_time_present") and not impact.get("handle_time_counted"):
        missing.append("cost_per_agent_minute (the handle-time change)")
    if program <= 0:
        missing.append("program_cost_per_month")
    if not parts:
        return (
            f"Net value: no costs are subtracted, so it equals the value of {gross_what(impact)} "
            f"({pct(impact['prob_net_saving'])} probability of a net saving); set [business] "
            f"{' and '.join(missing) or 'the costs'} to net them out."
        )
    text = (
        f"Net value, net of {' and '.join(parts)}: about {money(net['mean'], cur)} a month ({level} interval "
        f"{money(net['hdi_low'], cur)} to {money(net['hdi_high'], cur)}); {pct(impact['prob_net_saving'])} probability "
        "of a net saving."
    )
    if missing:
        text += f" Not counted: {' and '.join(missing)} in [business]."
    return text


def segment_sentence(s: dict[str, Any]) -> str:
    """Where the program works best and least along one segment dimension."""

    def part(value: Any, effect: float, prob: float) -> str:
        return f"{value} ({num(effect, s['unit'], signed=True, style='plain')}, {pct(prob)} probability of improvement)"

    return (
        f"{metric_label(s['metric'])} by {str(s['segment']).replace('_', ' ')}: works best in "
        f"{part(s['best'], s['best_effect'], s['best_prob_improve'])} and least in "
        f"{part(s['worst'], s['worst_effect'], s['worst_prob_improve'])}."
    )


def extend_sentence(extend: dict[str, Any]) -> str:
    """How much more data would settle what is open, and whether more weeks can get there at all."""
    factor = extend["factor"]
    what = _names(extend["metrics"])
    weeks, agents = extend.get("more_weeks"), extend.get("more_agents_per_arm")
    can = extend.get("weeks_can_settle", True)
    text = f"Settling {what} needs roughly {factor:.1f} times the data so far (if the effects stay where they are)"
    if not can:
        per = extend.get("per_metric") or {}
        stuck = [m for m, p in per.items() if p.get("weeks_factor") == float("inf")]
        share = min((per[m]["weeks_share"] for m in stuck), default=None)
        why = (
            f": more weeks cannot get there, because only {pct(share)} of the uncertainty about "
            f"{_names(stuck)} is interaction noise that longer pilots reduce; the rest comes from differences "
            "between units, which more weeks of the same units do not reduce"
            if share is not None
            else ": more weeks cannot get there"
        )
        text += why
        text += f". About {agents} more agents per arm would." if agents is not None else "."
    else:
        parts = []
        if weeks is not None:
            parts.append(f"about {weeks} more week{'s' if weeks != 1 else ''}")
        if agents is not None:
            parts.append(f"about {agents} more agents per arm over the same weeks")
        how = " or ".join(parts) if parts else f"about {factor - 1.0:.1f} times the data collected so far"
        text += f": {how}."
    if extend.get("basis") == "assumed" and can and weeks is not None:
        text += " (Assumes all of the uncertainty shrinks with more weeks; between-agent differences may not.)"
    if not extend.get("practical", True):
        text += " That is more than the pilot can usually afford: the effect is likely smaller than worth detecting."
    return text


def _at_risk_text(m: str, v: Verdict) -> str:
    return (
        f"{metric_label(m)} {'are' if _plural(m) else 'is'} at risk: {pct(v.prob_harm)} probability that {_it(m)} "
        f"{_moves(m, v.better)} by more "
        f"than the tolerated {_thr(v.rope, v.unit)}"
    )


def headline(rec: Recommendation, g: Groups, program: str) -> str:
    """The one sentence a client leader reads first (``rec`` carries the worded ``extend``)."""
    vs = rec.verdicts
    more = (" " + rec.extend["sentence"]) if rec.extend and rec.extend.get("sentence") else ""
    if rec.action == "none":
        one = len(g.not_converged) == 1
        return (
            f"No recommendation: the {'fit' if one else 'fits'} for {_names(g.not_converged)} did not converge, so "
            f"{'its' if one else 'their'} results cannot be trusted yet (re-run with more draws or check the data)."
        )
    if rec.action in ("iterate", "stop") and (g.worse or g.vetoes):
        if rec.action == "stop":
            bad = " and ".join(metric_label(m) for m in g.worse + g.vetoes)
            return f"Stop: {program} makes {bad} worse without a clear gain elsewhere."
        bad = [f"{metric_label(m)} {'get' if _plural(m) else 'gets'} worse" for m in g.worse] + [
            f"{metric_label(m)} {_verbs(m, 'higher')[1]} beyond the tolerated {_thr(vs[m].rope, vs[m].unit)}"
            for m in g.vetoes
        ]
        return f"Iterate on {program}: it improves {_names(g.improved)}, but " + " and ".join(bad) + "; fix that first."
    if rec.action == "stop":
        return f"Stop: {program} makes no meaningful difference to {_names(g.same)}."
    if rec.action == "extend" and g.unsure:
        risk = "".join(f" {_at_risk_text(m, vs[m])}." for m in g.at_risk)
        return f"Extend the pilot: the evidence on {_names(g.unsure)} is not conclusive yet.{risk}{more}"
    if rec.action == "iterate" and g.same:
        return (
            f"Iterate on {program}: it improves {_names(g.improved)} but makes no meaningful difference to "
            f"{_names(g.same)}; rework it before scaling up."
        )
    if not g.meaningful and g.short:
        best = max((vs[m] for m in g.short), key=lambda v: v.prob_meaningful)
        odds = (
            f"{pct(best.prob_meaningful)} probability that {metric_label(best.metric)} "
            f"{_verbs(best.metric, best.better)[0]} by at least {_thr(best.min_effect, best.unit)}"
        )
        if rec.action == "extend":
            return (
                f"Extend the pilot: {program} improves {_names(g.improved)}, but the evidence that the gain is worth "
                f"acting on is not strong enough yet ({odds}).{more}"
            )
        return (
            f"Iterate on {program}: it improves {_names(g.improved)}, but probably by less than is worth acting on "
            f"({odds}); strengthen the program before scaling it up."
        )
    if g.at_risk:
        risk = " and ".join(_at_risk_text(m, vs[m]) for m in g.at_risk)
        if rec.action == "extend":
            return f"Extend the pilot before scaling up: {program} improves {_names(g.improved)}, but {risk}.{more}"
        return f"Iterate on {program}: it improves {_names(g.improved)}, but {risk}; fix that before scaling up."
    return f"Scale up {program}: it improves {_names(g.improved)}" + (
        f" without harming {_names(g.held)}." if g.held else "."
    )


def rule_sentence(rec: Recommendation, g: Groups, dec: Any) -> str:
    """The decision rule behind the call, with the numbers that decided it (the first reason)."""
    vs = rec.verdicts
    if rec.action == "none" or dec is None:
        return ""
    meaningful_bar = (
        f"P(at least min_effect) >= {pct_bar(dec.prob_meaningful)}, or an expected shortfall from min_effect of "
        f"at most {dec.max_expected_loss:g} x min_effect"
    )
    guards = "; ".join(f"{metric_label(m)}: P(harm beyond the margin) {pct(vs[m].prob_harm)}" for m in g.guardrails)
    guard_rule = (
        f"every guardrail must hold (P(harm beyond its margin) <= {pct_bar(dec.guardrail_max_risk)}; it vetoes at "
        f"{pct_bar(dec.guardrail_prob_worse)})"
    )
    lines = [
        f"The rule: scale up needs every primary metric improved (P(better) >= {pct_bar(dec.prob_improve)}), one of "
        f"them by enough to act on ({meaningful_bar}), and {guard_rule}."
    ]
    if g.meaningful:
        v = vs[g.meaningful[0]]
        lines.append(
            f"{metric_label(v.metric)} clears the bar: P(at least {_thr(v.min_effect, v.unit)}) "
            f"{pct(v.prob_meaningful)}, expected shortfall {_shortfall(v)}."
        )
    elif g.short:
        v = max((vs[m] for m in g.short), key=lambda x: x.prob_meaningful)
        lines.append(
            f"No primary metric clears the bar: the closest, {metric_label(v.metric)}, has P(at least "
            f"{_thr(v.min_effect, v.unit)}) {pct(v.prob_meaningful)} and an expected shortfall of {_shortfall(v)}."
        )
    if guards:
        lines.append(f"Guardrails: {guards}.")
    return " ".join(lines)


def explain(
    rec: Recommendation, spec: Spec, results: list[MetricResult], health: list[HealthCheck] | None = None
) -> Recommendation:
    """The recommendation :func:`qmsprint.decide.decide` returned, worded.

    Parameters
    ----------
    rec
        Codes and numbers from :func:`~qmsprint.decide.decide`.
    spec, results, health
        What it was decided from (program name, convergence problems, agents per arm, estimation
        notes, health-check messages).

    Returns
    -------
    Recommendation
        A copy with ``action_label``, ``headline``, ``reasons``, ``caveats``, ``notes`` and every
        ``sentence`` filled.

    """
    dec = spec.decision
    verdicts = {m: dataclasses.replace(v, sentence=verdict_sentence(v, dec)) for m, v in rec.verdicts.items()}
    g = groups(verdicts)
    impact = impact_words(rec.impact, impact_sentence, net_sentence)  # + metrics with a value_per_unit
    extend = {**rec.extend, "sentence": extend_sentence(rec.extend)} if rec.extend else rec.extend
    segments = [{**s, "sentence": segment_sentence(s)} for s in rec.segments]
    out = dataclasses.replace(rec, verdicts=verdicts, impact=impact, extend=extend, segments=segments)

    caveats = [
        f"The fit for {metric_label(r.metric)} missed the convergence bars ({', '.join(r.diagnostics.problems)}); "
        "its numbers are not reliable."
        for r in results
        if not r.diagnostics.converged
    ]
    for status in ("alert", "warn"):
        caveats += [("Alert: " if status == "alert" else "") + h.message for h in health or [] if h.status == status]
    small = small_arms(spec, results)
    said = any(h.name == "units_per_arm" and h.status in ("alert", "warn") for h in health or [])
    if small and not said:  # the health check's caveat already says it, with the counts
        caveats.append(
            f"Few {spec.unit}s per arm ("
            + ", ".join(f"{a}: {n}" for a, n in small.items())
            + f"; at least {spec.decision.min_units_per_arm} recommended): results lean on the model's assumptions."
        )
    caveats += [
        f"Secondary metric {verdicts[m].label} got worse: {verdicts[m].sentence}"
        for m in g.secondaries
        if verdicts[m].verdict == "worse"
    ]
    reasons = [verdicts[m].sentence for m in g.primaries + g.guardrails]
    reasons += [verdicts[m].sentence for m in g.secondaries if m not in g.primaries]
    if impact:
        reasons.append(impact["sentence"])
        if impact["net_sentence"]:
            reasons.append(impact["net_sentence"])
    rule = rule_sentence(out, g, dec)
    if rule:
        reasons.insert(0, rule)
    out.action_label = action_label(rec.action)
    out.headline = headline(out, g, spec.arms.treatment_display)
    out.reasons, out.caveats = reasons, caveats
    out.notes = [f"{metric_label(r.metric)}: {note}" for r in results for note in r.notes]
    return word_limits(out, spec)  # before/after: the no-control caveat and a call capped at extend


def recommendation_text(rec: Recommendation) -> str:
    """Headline, reasons and caveats as plain text lines."""
    lines = [rec.headline] + [f"  - {r}" for r in rec.reasons]
    if rec.caveats:
        lines += ["Caveats:"] + [f"  - {c}" for c in rec.caveats]
    return "\n".join(lines)


def run_summary(rec: Recommendation, results: list[MetricResult], notes: Iterable[str] = ()) -> str:
    """The terminal summary of a run: the call, one line per metric, the money, caveats and notes."""
    lines = [rec.headline]
    for r in results:
        v, h = rec.verdicts.get(r.metric), r.headline
        line = (
            f"  {v.label if v else metric_label(r.metric)}: {num(h.mean, h.unit, signed=True, style='plain')} "
            f"[{num(h.hdi_low, h.unit, signed=True, style='plain')}, "
            f"{num(h.hdi_high, h.unit, signed=True, style='plain')}]"
        )
        if v and v.role == "guardrail" and v.guardrail:
            line += (
                f", P(harm beyond {_thr(v.rope, v.unit)}) {pct(v.prob_harm)} -> guardrail "
                f"{guardrail_label(v.guardrail)}"
            )
        elif v:
            line += f", P(better) {pct(v.prob_better)} -> {verdict_label(v.verdict)}"
        if not r.diagnostics.converged:
            line += f" (NOT CONVERGED: {', '.join(r.diagnostics.problems)})"
        lines.append(line)
    if rec.impact and rec.impact.get("sentence"):
        lines.append(f"  {rec.impact['sentence']}")
    if rec.impact and rec.impact.get("net_sentence"):
        lines.append(f"  {rec.impact['net_sentence']}")
    lines += [f"  caveat: {c}" for c in rec.caveats]
    lines += [f"  note: {n}" for n in notes]
    return "\n".join(lines)


# ------------------------------------------------------------------------------ metric cards (app)


def _field(x: Any, name: str) -> Any:
    return x.get(name) if isinstance(x, dict) else getattr(x, name, None)


def prob_sentence(metric: str, prob: Any, threshold: Any, unit: str, better: str = "higher") -> str:
    """E.g. ``94% probability that CSAT improves by at least 0.1 points``."""
    size = threshold_text(threshold, unit) if is_num(threshold) else "a meaningful amount"
    return f"{pct(prob)} probability that {_subject(metric)} {_verbs(metric, better)[0]} by at least {size}"


def harm_sentence(metric: str, prob: Any, threshold: Any, unit: str, better: str = "higher") -> str:
    """For guardrails, e.g. ``<1% probability that handle time rises by more than 20 seconds``."""
    size = threshold_text(threshold, unit) if is_num(threshold) else "the tolerated amount"
    return f"{pct(prob)} probability that {_subject(metric)} {_verbs(metric, better)[1]} by more than {size}"


def improve_sentence(metric: str, prob: Any, better: str = "higher") -> str:
    """E.g. ``97% probability that CSAT improves at all``."""
    text = f"{pct(prob)} probability that {_subject(metric)} {_verbs(metric, better)[0]} at all"
    return text[0].upper() + text[1:]


def effect_sentence(metric: str, effect: Any, control_label: str, treatment_label: str) -> str:
    """The two programs' levels, e.g. ``Average CSAT: 4.24 on Behavior-based QA vs 4.10 on Checklist QA``.

    ``effect`` is an :class:`~qmsprint.results.Effect` or its dict; empty when the levels are missing.
    """
    c, t, scale = _field(effect, "control"), _field(effect, "treatment"), _field(effect, "scale") or ""
    if not (is_num(c) and is_num(t)) or (c == 0 and t == 0):
        return ""
    name = scale_label(metric, scale)
    name = name[:1].upper() + name[1:]
    tv, cv = (level_text(x, metric, scale, with_unit=False) for x in (t, c))
    return f"{name}: {tv} on {treatment_label} vs {cv} on {control_label}"
