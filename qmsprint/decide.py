"""From effect posteriors to verdicts, one recommendation and the money behind it.

:func:`decide` reads the headline draws of every :class:`~qmsprint.results.MetricResult`
(treatment - control, in the unit of the metric's ``min_effect``) and the spec's
``[decision]`` thresholds (defaults in :class:`qmsprint.spec.Decision`: ``prob_improve`` 0.95,
``prob_equivalent`` 0.9, ``rope_fraction`` 1.0, ``guardrail_prob_worse`` 0.9,
``min_units_per_arm`` 8).

Per-metric verdicts
-------------------
With ``g`` the improvement (the effect with its sign flipped for metrics where lower is better),
``delta`` the metric's ``min_effect`` and the region of practical equivalence (ROPE)
``|g| < rope_fraction * delta``, the first rule that holds gives the verdict:

1. **no_change** when ``P(|g| < rope) >= prob_equivalent``: whatever its sign, the effect is too
   small to matter (this comes first, so a tiny but certain effect is not sold as a win);
2. **improved** when ``P(g > 0) >= prob_improve`` (the "chance to beat control" that
   experimentation platforms call a win at 95%);
3. **worse** when ``P(g < 0) >= prob_improve``;
4. **inconclusive** otherwise.

A **guardrail** metric vetoes when ``P(g < -rope) >= guardrail_prob_worse``: harm beyond the
tolerated margin (``min_effect`` of the guardrail is that margin, e.g. 20 seconds of handle time).

Overall recommendation
----------------------
Primary metrics (role ``primary``; all metrics if none is primary) decide; guardrails can veto:

* **none** when any fit missed the convergence bars (:attr:`Diagnostics.converged`): results are
  written, no action is recommended, and the reason names the fit and the bars it missed;
* **iterate** when at least one primary metric improved but another primary metric is worse or
  a guardrail vetoes (the program helps, but something in it needs fixing);
* **stop** when a primary metric is worse or a guardrail vetoes and no primary metric improved,
  or when every primary metric is **no_change**;
* **scale_up** when at least one primary metric improved, none is worse and no guardrail vetoes
  (primaries still inconclusive become caveats);
* **extend** otherwise (no primary metric decisive yet), with an estimate of the data that
  would settle it.

How much more data (extend)
---------------------------
For each inconclusive primary metric, with posterior mean ``m`` and sd ``s`` of ``g`` (assumed
to stay where they are) and the sd shrinking with the square root of the amount of data,
a factor ``f = (s / s*)^2`` more data is needed, where ``s*`` is the largest sd that reaches a
verdict: ``s* = |m| / z(prob_improve)`` for improved / worse, and, when ``|m| < rope``, the ``s*``
solving ``Phi((rope - m) / s*) - Phi((-rope - m) / s*) = prob_equivalent`` for no change. The
smallest factor over the reachable verdicts is the metric's factor; the pilot's factor is the largest
over inconclusive primaries (all of them settled). ``f - 1`` times the current pilot weeks is the
extension at the current volume, ``f - 1`` times the current agents per arm the alternative with
more agents over the same weeks (agents shrink the uncertainty at least as fast as weeks when agents
differ). A factor above :data:`MAX_PRACTICAL_FACTOR` is said to be impractical.

Caveats
-------
Fits that missed the convergence bars; every health check with status ``alert`` or ``warn``
(sample ratio mismatch, unequal survey response, contamination, baseline imbalance, non-parallel
trends, A/A) with its own message; fewer than ``min_units_per_arm`` agents in an arm; secondary
metrics that got worse; primaries still inconclusive next to a scale-up. Notes from the
estimation layer (parametrisation, prior used, reweighting) are kept apart in ``notes``.

Business impact
---------------
With the repeat-contact effect draws ``d`` (treatment - control, in pp)::

    contacts avoided per month = -(d / 100) * business.contacts_per_month
    value per month            = contacts avoided per month * business.cost_per_contact

computed per draw, summarised by the posterior mean, the HDI (``model.hdi_prob``) and the
probability that it saves money, in ``business.currency``. No repeat-contact metric, no impact.

Segments
--------
For each primary (then secondary) metric with segment effects, per segment dimension with at
least two values: the value with the largest improvement (direction-aware posterior mean) is
where the program works best, the smallest where it works least.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import stats

from qmsprint import metrics as metric_registry
from qmsprint.results import HealthCheck, MetricResult
from qmsprint.spec import Spec
from qmsprint.stats import hdi

Action = Literal["scale_up", "extend", "iterate", "stop", "none"]
VerdictName = Literal["improved", "no_change", "worse", "inconclusive"]

ACTION_LABELS: dict[str, str] = {
    "scale_up": "Scale up",
    "extend": "Extend the pilot",
    "iterate": "Iterate on the program",
    "stop": "Stop",
    "none": "No recommendation",
}
VERDICT_LABELS: dict[str, str] = {
    "improved": "improved",
    "no_change": "no meaningful change",
    "worse": "worse",
    "inconclusive": "inconclusive",
}
PLURAL = {"repeat_contact"}  # labels read as plural ("Repeat contacts fall")
MAX_PRACTICAL_FACTOR = 4.0  # more than 3x the data so far is said to be impractical
MAX_FACTOR = 100.0  # factors are capped here (the effect is indistinguishable from the threshold)


# --------------------------------------------------------------------------------------------
# Formatting helpers (plain language)
# --------------------------------------------------------------------------------------------

_DECIMALS = {"points": 2, "NPS points": 1, "pp": 1, "seconds": 0, "%": 1}


def fmt_value(x: float, unit: str, *, sign: bool = True) -> str:
    """A number in its unit, e.g. ``+0.15 points``, ``-1.2 pp``, ``+12 seconds``."""
    if x is None or not np.isfinite(x):
        return "n/a"
    d = _DECIMALS.get(unit, 2)
    text = f"{x:+,.{d}f}" if sign else f"{x:,.{d}f}"
    if text.lstrip("+-").strip("0.,") == "":  # -0.00 -> 0.00
        text = text.lstrip("+-")
        if sign:
            text = "+" + text
    return f"{text} {unit}"


def fmt_threshold(x: float, unit: str) -> str:
    """A threshold as written in the experiment file, e.g. ``0.1 points``, ``20 seconds``."""
    return f"{x:g} {unit}"


def fmt_prob(p: float) -> str:
    """A probability as people read it: ``94%``, ``>99%``, ``<1%``."""
    if p is None or not np.isfinite(p):
        return "n/a"
    if p > 0.99:
        return ">99%"
    if p < 0.01:
        return "<1%"
    return f"{100 * p:.0f}%"


def fmt_money(x: float, currency: str) -> str:
    """Money rounded for a slide: ``EUR 12,300``."""
    if not np.isfinite(x):
        return "n/a"
    sign = "-" if x < 0 else ""
    ax = abs(x)
    if ax >= 1000:
        ax = round(ax, -2)
    return f"{sign}{currency} {ax:,.0f}"


def _label(metric: str) -> str:
    return metric_registry.get(metric).label if metric in metric_registry.names() else metric


def _lower_label(metric: str) -> str:
    label = _label(metric)
    return label if label.isupper() or label[:3].isupper() else label[0].lower() + label[1:]


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """The verdict on one metric, with the probabilities behind it.

    Probabilities are direction-aware: ``prob_better`` is the probability that the new program
    is better at all, ``prob_meaningful`` better by at least ``min_effect``, ``prob_equivalent``
    inside the ROPE, ``prob_worse`` worse at all, ``prob_harm`` worse beyond the ROPE.
    ``mean``/``hdi_*`` are the effect (treatment - control) in ``unit``.
    """

    metric: str
    label: str
    role: str
    verdict: str
    better: str
    unit: str
    min_effect: float
    rope: float
    mean: float
    hdi_low: float
    hdi_high: float
    hdi_prob: float
    prob_better: float
    prob_meaningful: float
    prob_equivalent: float
    prob_worse: float
    prob_harm: float
    veto: bool
    converged: bool
    sentence: str
    more_data_factor: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict."""
        return asdict(self)


@dataclass
class Recommendation:
    """The overall call on a pilot.

    Attributes
    ----------
    action
        ``scale_up``, ``extend``, ``iterate``, ``stop`` or ``none`` (a fit did not converge).
    headline
        One sentence a client leader reads first.
    reasons
        Plain-language sentences behind the call, most important first.
    caveats
        What qualifies it (non-converged fits, health-check alerts, few agents, ...).
    verdicts
        Per metric, in the spec's order.
    impact
        Repeat contacts avoided per month and their value (mean, HDI, probability of saving),
        or ``None`` without a repeat-contact metric.
    segments
        Where the program works best and least: one dict per metric x segment dimension.
    extend
        For ``extend`` (and whenever primaries are inconclusive): the data factor and the extra
        weeks / agents per arm, else ``None``.
    thresholds
        The decision thresholds used.
    notes
        Notes from the estimation layer, per metric (technical; shown next to the diagnostics).

    """

    action: str
    headline: str
    reasons: list[str]
    caveats: list[str]
    verdicts: dict[str, Verdict]
    impact: dict[str, Any] | None = None
    segments: list[dict[str, Any]] = field(default_factory=list)
    extend: dict[str, Any] | None = None
    thresholds: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def action_label(self) -> str:
        """Human label of the action, e.g. ``Scale up``."""
        return ACTION_LABELS.get(self.action, self.action)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (``recommendation.json`` of a run bundle)."""
        return {
            "action": self.action,
            "action_label": self.action_label,
            "headline": self.headline,
            "reasons": list(self.reasons),
            "caveats": list(self.caveats),
            "verdicts": {k: v.to_dict() for k, v in self.verdicts.items()},
            "impact": self.impact,
            "segments": list(self.segments),
            "extend": self.extend,
            "thresholds": dict(self.thresholds),
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Recommendation:
        """Inverse of :meth:`to_dict`."""
        return cls(
            action=d["action"],
            headline=d["headline"],
            reasons=list(d.get("reasons", [])),
            caveats=list(d.get("caveats", [])),
            verdicts={k: Verdict(**v) for k, v in d.get("verdicts", {}).items()},
            impact=d.get("impact"),
            segments=list(d.get("segments", [])),
            extend=d.get("extend"),
            thresholds=dict(d.get("thresholds", {})),
            notes=list(d.get("notes", [])),
        )

    def text(self) -> str:
        """Headline, reasons and caveats as plain text lines."""
        lines = [self.headline]
        lines += [f"  - {r}" for r in self.reasons]
        if self.caveats:
            lines.append("Caveats:")
            lines += [f"  - {c}" for c in self.caveats]
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Per-metric verdicts
# --------------------------------------------------------------------------------------------


def _draws(r: MetricResult) -> np.ndarray:
    """Headline effect draws; a normal approximation from the HDI when none are stored."""
    d = np.asarray(r.draws, dtype=float).ravel() if r.draws is not None else np.array([])
    d = d[np.isfinite(d)]
    if len(d) >= 2:
        return d
    h = r.headline
    z = stats.norm.ppf(0.5 + h.hdi_prob / 2)
    sd = max((h.hdi_high - h.hdi_low) / (2 * z), 1e-12)
    return stats.norm.ppf(np.linspace(0.0005, 0.9995, 2000), loc=h.mean, scale=sd)


def _more_data_factor(m: float, s: float, rope: float, p_imp: float, p_eq: float) -> float:
    """Factor of the current data needed for a verdict if the mean stays at ``m`` (see module doc)."""
    if s <= 0 or not np.isfinite(s):
        return 1.0
    factors = []
    if abs(m) > 0:
        factors.append((stats.norm.ppf(p_imp) * s / abs(m)) ** 2)
    if abs(m) < rope:

        def p_in(sd: float) -> float:
            return float(stats.norm.cdf((rope - m) / sd) - stats.norm.cdf((-rope - m) / sd))

        lo, hi = 1e-9 * s, s
        if p_in(hi) >= p_eq:
            factors.append(1.0)
        else:
            for _ in range(100):
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if p_in(mid) >= p_eq else (lo, mid)
            factors.append((s / lo) ** 2)
    if not factors:
        return MAX_FACTOR
    return float(min(MAX_FACTOR, max(1.0, min(factors))))


def _harm_verb(metric: str, better: str) -> str:
    """How a metric moves when it gets worse: ``rises`` / ``falls`` (``rise`` / ``fall`` for plurals)."""
    plural = metric in PLURAL
    return ("rise" if plural else "rises") if better == "lower" else ("fall" if plural else "falls")


def _metric_sentence(v: dict[str, Any], metric: str) -> str:
    label = _label(metric)
    unit = v["unit"]
    thr = fmt_threshold(v["min_effect"], unit)
    plural = metric in PLURAL
    it = "they" if plural else "it"
    up = ("improve" if plural else "improves") if v["better"] == "higher" else ("fall" if plural else "falls")
    down = ("get worse" if plural else "gets worse") if v["better"] == "higher" else ("rise" if plural else "rises")
    effect = (
        f"{fmt_value(v['mean'], unit)} ({100 * v['hdi_prob']:.0f}% interval "
        f"{fmt_value(v['hdi_low'], unit)} to {fmt_value(v['hdi_high'], unit)})"
    )
    verdict = v["verdict"]
    if v["role"] == "guardrail":
        harm_verb = _harm_verb(metric, v["better"])
        rope = fmt_threshold(v["rope"], unit)
        if v["veto"]:
            return (
                f"{label} (guardrail) {down} beyond the tolerated {rope}: {fmt_prob(v['prob_harm'])} probability "
                f"that {it} {harm_verb} by more than {rope}; effect {effect}."
            )
        state = "holds" if v["prob_harm"] < 0.5 else "is at risk"
        return (
            f"{label} (guardrail) {state}: {fmt_prob(v['prob_harm'])} probability that {it} {harm_verb} by more "
            f"than the tolerated {rope}; effect {effect}."
        )
    if verdict == "improved":
        return (
            f"{fmt_prob(v['prob_meaningful'])} probability that {label} {up} by at least {thr} "
            f"({fmt_prob(v['prob_better'])} that {it} {up} at all); effect {effect}."
        )
    if verdict == "worse":
        return f"{fmt_prob(v['prob_worse'])} probability that {label} {down} with the new program; effect {effect}."
    if verdict == "no_change":
        return (
            f"{fmt_prob(v['prob_equivalent'])} probability that the change in {label} is smaller than "
            f"{fmt_threshold(v['rope'], unit)} either way (no meaningful change); effect {effect}."
        )
    return (
        f"{label} is not settled yet: {fmt_prob(v['prob_better'])} probability that {it} {up}, "
        f"{fmt_prob(v['prob_meaningful'])} that {it} {up} by at least {thr}; effect {effect}."
    )


def verdict_for(spec: Spec, r: MetricResult) -> Verdict:
    """The verdict on one metric from its headline draws and the spec's thresholds."""
    m = spec.metric(r.metric)
    dec = spec.decision
    d = _draws(r)
    sign = 1.0 if m.better == "higher" else -1.0
    g = sign * d
    delta = m.threshold
    rope = dec.rope_fraction * delta
    p_better = float(np.mean(g > 0))
    p_worse = float(np.mean(g < 0))
    p_meaningful = float(np.mean(g >= delta))
    p_eq = float(np.mean(np.abs(g) < rope))
    p_harm = float(np.mean(g < -rope))
    if p_eq >= dec.prob_equivalent:
        verdict = "no_change"
    elif p_better >= dec.prob_improve:
        verdict = "improved"
    elif p_worse >= dec.prob_improve:
        verdict = "worse"
    else:
        verdict = "inconclusive"
    veto = m.role == "guardrail" and p_harm >= dec.guardrail_prob_worse
    prob = spec.model.hdi_prob
    lo, hi = hdi(d, prob)
    factor = None
    if verdict == "inconclusive":
        factor = _more_data_factor(float(g.mean()), float(g.std()), rope, dec.prob_improve, dec.prob_equivalent)
    v = {
        "metric": r.metric,
        "label": _label(r.metric),
        "role": m.role,
        "verdict": verdict,
        "better": m.better,
        "unit": r.headline.unit or m.info.unit,
        "min_effect": float(delta),
        "rope": float(rope),
        "mean": float(d.mean()),
        "hdi_low": lo,
        "hdi_high": hi,
        "hdi_prob": float(prob),
        "prob_better": p_better,
        "prob_meaningful": p_meaningful,
        "prob_equivalent": p_eq,
        "prob_worse": p_worse,
        "prob_harm": p_harm,
        "veto": bool(veto),
        "converged": bool(r.diagnostics.converged),
        "more_data_factor": factor,
    }
    return Verdict(sentence=_metric_sentence(v, r.metric), **v)


# --------------------------------------------------------------------------------------------
# Business impact and segments
# --------------------------------------------------------------------------------------------


def business_impact(spec: Spec, results: list[MetricResult]) -> dict[str, Any] | None:
    """Repeat contacts avoided per month and their value, as a posterior summary (see module doc)."""
    r = next((x for x in results if x.metric == "repeat_contact"), None)
    if r is None:
        return None
    d = _draws(r)
    b = spec.business
    prob = spec.model.hdi_prob
    avoided = -(d / 100.0) * b.contacts_per_month
    value = avoided * b.cost_per_contact

    def summ(x: np.ndarray) -> dict[str, float]:
        lo, hi = hdi(x, prob)
        return {"mean": float(x.mean()), "hdi_low": lo, "hdi_high": hi}

    av, val = summ(avoided), summ(value)
    p_save = float(np.mean(value > 0)) if b.cost_per_contact > 0 else float(np.mean(avoided > 0))
    cur = b.currency
    if av["mean"] >= 0:
        sentence = (
            f"About {av['mean']:,.0f} repeat contacts avoided per month ({100 * prob:.0f}% interval "
            f"{av['hdi_low']:,.0f} to {av['hdi_high']:,.0f}), worth about {fmt_money(val['mean'], cur)} a month "
            f"({fmt_money(val['hdi_low'], cur)} to {fmt_money(val['hdi_high'], cur)}) at "
            f"{cur} {b.cost_per_contact:,.2f} per contact and {b.contacts_per_month:,.0f} contacts a month; "
            f"{fmt_prob(p_save)} probability that "
            "it saves money."
        )
    else:
        sentence = (
            f"About {-av['mean']:,.0f} more repeat contacts per month ({100 * prob:.0f}% interval for contacts "
            f"avoided {av['hdi_low']:,.0f} to {av['hdi_high']:,.0f}), costing about {fmt_money(-val['mean'], cur)} "
            f"a month; {fmt_prob(p_save)} probability that it saves money."
        )
    return {
        "metric": "repeat_contact",
        "contacts_avoided_per_month": av,
        "value_per_month": val,
        "prob_saves": p_save,
        "currency": cur,
        "cost_per_contact": float(b.cost_per_contact),
        "contacts_per_month": float(b.contacts_per_month),
        "hdi_prob": float(prob),
        "sentence": sentence,
    }


def segment_summary(spec: Spec, results: list[MetricResult]) -> list[dict[str, Any]]:
    """Where the program works best and least, per metric and segment dimension (see module doc)."""
    order = {"primary": 0, "secondary": 1, "guardrail": 2}
    out: list[dict[str, Any]] = []
    for r in sorted(results, key=lambda x: order.get(spec.metric(x.metric).role, 3)):
        m = spec.metric(r.metric)
        sign = 1.0 if m.better == "higher" else -1.0
        dims: dict[str, list] = {}
        for e in r.segments:
            if e.segment is not None:
                dims.setdefault(e.segment, []).append(e)
        for dim, effects in dims.items():
            if len(effects) < 2:
                continue
            ranked = sorted(effects, key=lambda e: sign * e.mean, reverse=True)
            best, worst = ranked[0], ranked[-1]
            unit = best.unit
            dim_label = dim.replace("_", " ")

            def part(e, unit: str = unit) -> str:
                return (
                    f"{e.segment_value} ({fmt_value(e.mean, unit)}, {fmt_prob(e.prob_improve)} probability of "
                    "improvement)"
                )

            sentence = f"{_label(r.metric)} by {dim_label}: works best in {part(best)} and least in {part(worst)}."
            out.append(
                {
                    "metric": r.metric,
                    "segment": dim,
                    "best": best.segment_value,
                    "best_effect": float(best.mean),
                    "best_prob_improve": float(best.prob_improve),
                    "worst": worst.segment_value,
                    "worst_effect": float(worst.mean),
                    "worst_prob_improve": float(worst.prob_improve),
                    "unit": unit,
                    "sentence": sentence,
                }
            )
    return out


# --------------------------------------------------------------------------------------------
# The recommendation
# --------------------------------------------------------------------------------------------


def _pilot_weeks(spec: Spec) -> float | None:
    p = spec.periods.pilot
    if p is None:
        return None
    return ((p.end - p.start).days + 1) / 7.0


def _names(metrics: list[str]) -> str:
    labels = [_label(m) for m in metrics]
    if len(labels) <= 1:
        return "".join(labels)
    return ", ".join(labels[:-1]) + " and " + labels[-1]


def decide(
    spec: Spec,
    results: list[MetricResult],
    health: list[HealthCheck] | None = None,
    *,
    weeks: float | None = None,
) -> Recommendation:
    """Verdict per metric, one overall recommendation, business impact and segments.

    Parameters
    ----------
    spec
        The experiment file (decision thresholds, metric roles, business inputs).
    results
        One :class:`MetricResult` per metric.
    health
        Health checks of the pilot; ``warn`` and ``alert`` become caveats.
    weeks
        Weeks of pilot data behind the results (for the extension estimate); default: the length
        of the spec's pilot period.

    Returns
    -------
    Recommendation
        The rules are in this module's docstring.

    """
    health = list(health or [])
    dec = spec.decision
    verdicts = {r.metric: verdict_for(spec, r) for r in results}
    by_role: dict[str, list[Verdict]] = {"primary": [], "secondary": [], "guardrail": []}
    for v in verdicts.values():
        by_role.setdefault(v.role, []).append(v)
    primaries = by_role["primary"] or [v for v in verdicts.values() if v.role != "guardrail"] or list(verdicts.values())
    guards = by_role["guardrail"]
    program = spec.arms.treatment_display

    improved = [v.metric for v in primaries if v.verdict == "improved"]
    worse = [v.metric for v in primaries if v.verdict == "worse"]
    same = [v.metric for v in primaries if v.verdict == "no_change"]
    unsure = [v.metric for v in primaries if v.verdict == "inconclusive"]
    vetoes = [v.metric for v in guards if v.veto]
    not_converged = [r for r in results if not r.diagnostics.converged]

    caveats: list[str] = []
    for r in not_converged:
        caveats.append(
            f"The fit for {_label(r.metric)} missed the convergence bars ({', '.join(r.diagnostics.problems)}); "
            "its numbers are not reliable."
        )
    for status in ("alert", "warn"):
        for h in health:
            if h.status == status:
                caveats.append(("Alert: " if status == "alert" else "") + h.message)
    few: dict[str, int] = {}
    for r in results:
        for arm, n in r.n_units.items():
            few[arm] = min(few.get(arm, n), int(n))
    small = {a: n for a, n in few.items() if n < dec.min_units_per_arm}
    if small:
        caveats.append(
            "Few agents per arm ("
            + ", ".join(f"{a}: {n}" for a, n in small.items())
            + f"; at least {dec.min_units_per_arm} recommended): results lean on the model's assumptions."
        )
    for v in by_role["secondary"]:
        if v.verdict == "worse":
            caveats.append(f"Secondary metric {v.label} got worse: {v.sentence}")
    notes = [f"{_label(r.metric)}: {note}" for r in results for note in r.notes]

    reasons = [v.sentence for v in primaries]
    reasons += [v.sentence for v in guards]
    reasons += [v.sentence for v in by_role["secondary"] if v not in primaries]
    impact = business_impact(spec, results)
    if impact is not None:
        reasons.append(impact["sentence"])

    # extension estimate over the inconclusive primaries
    extend = None
    if unsure:
        factor = max(verdicts[m].more_data_factor or 1.0 for m in unsure)
        w = weeks if weeks is not None else _pilot_weeks(spec)
        units = [n for r in results if r.metric in unsure for n in r.n_units.values()]
        per_arm = min(units) if units else None
        extra = factor - 1.0
        extend = {
            "metrics": unsure,
            "factor": factor,
            "current_weeks": w,
            "more_weeks": None if w is None else math.ceil(extra * w),
            "current_agents_per_arm": per_arm,
            "more_agents_per_arm": None if per_arm is None else math.ceil(extra * per_arm),
            "practical": factor <= MAX_PRACTICAL_FACTOR,
        }
        parts = []
        if extend["more_weeks"] is not None:
            parts.append(f"about {extend['more_weeks']} more week{'s' if extend['more_weeks'] != 1 else ''}")
        if extend["more_agents_per_arm"] is not None:
            parts.append(f"about {extend['more_agents_per_arm']} more agents per arm over the same weeks")
        how = " or ".join(parts) if parts else f"about {extra:.1f} times the data collected so far"
        extend["sentence"] = (
            f"Settling {_names(unsure)} needs roughly {factor:.1f} times the data so far: {how} "
            "(if the effect stays where it is)."
        )
        if not extend["practical"]:
            extend["sentence"] += (
                " That is more than the pilot can usually afford: the effect is likely smaller than worth detecting."
            )

    if not_converged:
        action = "none"
        headline = (
            f"No recommendation: the {'fit' if len(not_converged) == 1 else 'fits'} for "
            f"{_names([r.metric for r in not_converged])} did not converge, so "
            f"{'its' if len(not_converged) == 1 else 'their'} results cannot be trusted yet "
            "(re-run with more draws or check the data)."
        )
    elif improved and (worse or vetoes):
        action = "iterate"
        bad = [f"{_label(m)} {'get' if m in PLURAL else 'gets'} worse" for m in worse] + [
            f"{_label(m)} {'worsen' if m in PLURAL else 'worsens'} beyond the tolerated "
            f"{fmt_threshold(verdicts[m].rope, verdicts[m].unit)}"
            for m in vetoes
        ]
        headline = (
            f"Iterate on {program}: it improves {_names(improved)}, but " + " and ".join(bad) + "; fix that first."
        )
    elif worse or vetoes:
        action = "stop"
        bad = [_label(m) for m in worse + vetoes]
        headline = f"Stop: {program} makes {' and '.join(bad)} worse without a clear gain elsewhere."
    elif improved:
        action = "scale_up"
        headline = f"Scale up {program}: it improves {_names(improved)}"
        # "without harming" only for guardrails that hold (as their own sentence says); name the others
        held = [v.metric for v in guards if v.prob_harm < 0.5]
        if held:
            headline += " without harming " + _names(held)
        headline += "."
        for v in guards:
            if v.prob_harm >= 0.5:
                it = "they" if v.metric in PLURAL else "it"
                headline += (
                    f" Watch {_label(v.metric)}: {fmt_prob(v.prob_harm)} probability that {it} "
                    f"{_harm_verb(v.metric, v.better)} by more than the tolerated {fmt_threshold(v.rope, v.unit)}."
                )
        if unsure:
            caveats.append(f"{_names(unsure)} not settled yet; keep measuring after scale-up.")
    elif unsure:
        action = "extend"
        headline = f"Extend the pilot: the evidence on {_names(unsure)} is not conclusive yet. " + extend["sentence"]
    else:  # every primary no_change
        action = "stop"
        headline = f"Stop: {program} makes no meaningful difference to {_names(same)}."

    return Recommendation(
        action=action,
        headline=headline,
        reasons=reasons,
        caveats=caveats,
        verdicts=verdicts,
        impact=impact,
        segments=segment_summary(spec, results),
        extend=extend,
        thresholds=dec.model_dump(),
        notes=notes,
    )
