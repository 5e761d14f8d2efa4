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
    hdi_level,
    is_num,
    level_text,
    metric_label,
    money,
    names_text,
    num,
    pct,
    scale_label,
    threshold_text,
    verdict_label,
    whole,
)
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


def verdict_sentence(v: Verdict) -> str:
    """What a metric's verdict means, with the probabilities and the effect behind it."""
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
        if v.veto:
            return (
                f"{label} (guardrail) {down} beyond the tolerated {rope}: {pct(v.prob_harm)} probability "
                f"that {it} {harm} by more than {rope}; effect {effect}."
            )
        state = "is at risk" if v.at_risk else "holds"
        return (
            f"{label} (guardrail) {state}: {pct(v.prob_harm)} probability that {it} {harm} by more "
            f"than the tolerated {rope}; effect {effect}."
        )
    if v.verdict == "improved":
        return (
            f"{pct(v.prob_meaningful)} probability that {label} {up} by at least {thr} "
            f"({pct(v.prob_better)} that {it} {up} at all); effect {effect}."
        )
    if v.verdict == "worse":
        return f"{pct(v.prob_worse)} probability that {label} {down} with the new program; effect {effect}."
    if v.verdict == "no_change":
        return (
            f"{pct(v.prob_equivalent)} probability that the change in {label} is smaller than "
            f"{_thr(v.rope, unit)} either way (no meaningful change); effect {effect}."
        )
    return (
        f"{label} is not settled yet: {pct(v.prob_better)} probability that {it} {up}, "
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
    """How much more data would settle the inconclusive primaries."""
    factor = extend["factor"]
    parts = []
    weeks, agents = extend.get("more_weeks"), extend.get("more_agents_per_arm")
    if weeks is not None:
        parts.append(f"about {weeks} more week{'s' if weeks != 1 else ''}")
    if agents is not None:
        parts.append(f"about {agents} more agents per arm over the same weeks")
    how = " or ".join(parts) if parts else f"about {factor - 1.0:.1f} times the data collected so far"
    text = (
        f"Settling {_names(extend['metrics'])} needs roughly {factor:.1f} times the data so far: {how} "
        "(if the effect stays where it is)."
    )
    if not extend.get("practical", True):
        text += " That is more than the pilot can usually afford: the effect is likely smaller than worth detecting."
    return text


def headline(rec: Recommendation, g: Groups, program: str) -> str:
    """The one sentence a client leader reads first (``rec`` carries the worded ``extend``)."""
    vs = rec.verdicts
    if rec.action == "none":
        one = len(g.not_converged) == 1
        return (
            f"No recommendation: the {'fit' if one else 'fits'} for {_names(g.not_converged)} did not converge, so "
            f"{'its' if one else 'their'} results cannot be trusted yet (re-run with more draws or check the data)."
        )
    if rec.action == "iterate":
        bad = [f"{metric_label(m)} {'get' if _plural(m) else 'gets'} worse" for m in g.worse] + [
            f"{metric_label(m)} {_verbs(m, 'higher')[1]} beyond the tolerated {_thr(vs[m].rope, vs[m].unit)}"
            for m in g.vetoes
        ]
        return f"Iterate on {program}: it improves {_names(g.improved)}, but " + " and ".join(bad) + "; fix that first."
    if rec.action == "stop" and (g.worse or g.vetoes):
        bad = " and ".join(metric_label(m) for m in g.worse + g.vetoes)
        return f"Stop: {program} makes {bad} worse without a clear gain elsewhere."
    if rec.action == "stop":
        return f"Stop: {program} makes no meaningful difference to {_names(g.same)}."
    if rec.action == "extend":
        return f"Extend the pilot: the evidence on {_names(g.unsure)} is not conclusive yet. " + rec.extend["sentence"]
    # scale_up: "without harming" only for guardrails that hold (as their own sentence says); name the others
    text = f"Scale up {program}: it improves {_names(g.improved)}"
    held = [m for m in g.guardrails if not vs[m].at_risk]
    if held:
        text += " without harming " + _names(held)
    text += "."
    for m in g.guardrails:
        v = vs[m]
        if v.at_risk:
            text += (
                f" Watch {metric_label(m)}: {pct(v.prob_harm)} probability that {_it(m)} "
                f"{_moves(m, v.better)} by more than the tolerated {_thr(v.rope, v.unit)}."
            )
    return text


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
    verdicts = {m: dataclasses.replace(v, sentence=verdict_sentence(v)) for m, v in rec.verdicts.items()}
    g = groups(verdicts)
    impact = {**rec.impact, "sentence": impact_sentence(rec.impact)} if rec.impact else rec.impact
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
    if small:
        caveats.append(
            "Few agents per arm ("
            + ", ".join(f"{a}: {n}" for a, n in small.items())
            + f"; at least {spec.decision.min_units_per_arm} recommended): results lean on the model's assumptions."
        )
    caveats += [
        f"Secondary metric {verdicts[m].label} got worse: {verdicts[m].sentence}"
        for m in g.secondaries
        if verdicts[m].verdict == "worse"
    ]
    if rec.action == "scale_up" and g.unsure:
        caveats.append(f"{_names(g.unsure)} not settled yet; keep measuring after scale-up.")

    reasons = [verdicts[m].sentence for m in g.primaries + g.guardrails]
    reasons += [verdicts[m].sentence for m in g.secondaries if m not in g.primaries]
    if impact:
        reasons.append(impact["sentence"])
    out.action_label = action_label(rec.action)
    out.headline = headline(out, g, spec.arms.treatment_display)
    out.reasons, out.caveats = reasons, caveats
    out.notes = [f"{metric_label(r.metric)}: {note}" for r in results for note in r.notes]
    return out


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
        if v:
            line += f", P(better) {pct(v.prob_better)} -> {verdict_label(v.verdict)}"
        if not r.diagnostics.converged:
            line += f" (NOT CONVERGED: {', '.join(r.diagnostics.problems)})"
        lines.append(line)
    if rec.impact and rec.impact.get("sentence"):
        lines.append(f"  {rec.impact['sentence']}")
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
