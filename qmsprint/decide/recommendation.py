"""The overall call on a pilot (:func:`decide`): verdicts, one action, the data to settle it, money, segments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from qmsprint.decide import rules
from qmsprint.decide.extend import VarianceParts, extension
from qmsprint.decide.value import business_impact
from qmsprint.decide.verdicts import Verdict, verdict_for
from qmsprint.results import HealthCheck, MetricResult
from qmsprint.spec import Spec


@dataclass
class Recommendation:
    """The overall call on a pilot.

    :func:`decide` fills the codes and numbers; :func:`qmsprint.present.text.explain` fills the
    words (``action_label``, ``headline``, ``reasons``, ``caveats``, ``notes`` and the ``sentence``
    of every verdict, of ``impact``, ``extend`` and each segment), which run folders store.

    Attributes
    ----------
    action
        ``scale_up``, ``extend``, ``iterate``, ``stop`` or ``none`` (a fit did not converge).
    action_label, headline, reasons, caveats
        The action's label, the sentence a client leader reads first, the sentences behind the
        call (most important first) and what qualifies it (non-converged fits, health alerts, ...).
    verdicts
        Per metric, in the spec's order.
    impact
        Repeat contacts avoided, their value, the handle-time cost and the net value per month
        (mean, HDI, probability of a net saving), or ``None`` without a repeat-contact metric.
    segments
        Where the program works best and least: one dict per metric x segment dimension.
    extend
        With ``action == "extend"``: what more data would settle (inconclusive primaries, an
        improvement short of the meaningful bar, a guardrail at risk), the data factor and the
        extra weeks / agents per arm (:func:`qmsprint.decide.extend.extension`).
    thresholds
        The decision thresholds used.
    notes
        Notes from the estimation layer, per metric (technical; shown next to the diagnostics).

    """

    action: str
    action_label: str = ""
    headline: str = ""
    reasons: list[str] = field(default_factory=list)
    caveats: list[str] = field(default_factory=list)
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    impact: dict[str, Any] | None = None
    segments: list[dict[str, Any]] = field(default_factory=list)
    extend: dict[str, Any] | None = None
    thresholds: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (``recommendation.json`` of a run bundle)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Recommendation:
        """Inverse of :meth:`to_dict`."""
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        names = Verdict.__dataclass_fields__
        verdicts = {k: Verdict(**{f: x for f, x in v.items() if f in names}) for k, v in d.get("verdicts", {}).items()}
        return cls(**{**known, "verdicts": verdicts})


@dataclass(frozen=True)
class Groups:
    """The metrics behind a call, by role and verdict (metric names, in the spec's order).

    ``primaries`` are the metrics that decide (:func:`qmsprint.decide.rules.primary_mask`);
    ``improved``, ``worse``, ``same`` (no meaningful change) and ``unsure`` (inconclusive) are
    primaries, ``meaningful`` the improved primaries that clear the bar for scaling up and
    ``short`` those that do not; ``vetoes``, ``at_risk`` and ``held`` are guardrails by state.
    """

    primaries: list[str]
    guardrails: list[str]
    secondaries: list[str]
    improved: list[str]
    worse: list[str]
    same: list[str]
    unsure: list[str]
    vetoes: list[str]
    not_converged: list[str]
    meaningful: list[str] = field(default_factory=list)
    short: list[str] = field(default_factory=list)
    at_risk: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)


def groups(verdicts: Mapping[str, Verdict]) -> Groups:
    """Sort the verdicts into the groups the rules read (see :mod:`qmsprint.decide.rules`)."""
    vs = list(verdicts.values())
    mask = rules.primary_mask([v.role for v in vs]) if vs else np.array([], bool)
    primaries = [v for v, p in zip(vs, mask, strict=True) if p]
    guards = [v for v in vs if v.role == "guardrail"]

    def names(items: list[Verdict], verdict: str | None = None) -> list[str]:
        return [v.metric for v in items if verdict is None or v.verdict == verdict]

    return Groups(
        primaries=names(primaries),
        guardrails=names(guards),
        secondaries=[v.metric for v in vs if v.role == "secondary"],
        improved=names(primaries, "improved"),
        worse=names(primaries, "worse"),
        same=names(primaries, "no_change"),
        unsure=names(primaries, "inconclusive"),
        vetoes=[v.metric for v in guards if v.veto],
        not_converged=[v.metric for v in vs if not v.converged],
        meaningful=[v.metric for v in primaries if v.verdict == "improved" and v.meaningful],
        short=[v.metric for v in primaries if v.verdict == "improved" and not v.meaningful],
        at_risk=[v.metric for v in guards if v.guardrail == "at_risk"],
        held=[v.metric for v in guards if v.guardrail == "holds"],
    )


def action_for(verdicts: Mapping[str, Verdict]) -> str:
    """The overall action from the verdicts: :func:`qmsprint.decide.rules.action_codes` on one posterior set."""
    vs = list(verdicts.values())
    if not vs:
        return "none"

    def col(values: list[Any]) -> np.ndarray:
        return np.array(values)[:, None]

    return str(
        rules.action_codes(
            [v.role for v in vs],
            col([v.verdict for v in vs]),
            col([v.meaningful for v in vs]),
            col([v.reachable for v in vs]),
            col([v.guardrail for v in vs]),
            col([v.settleable for v in vs]),
            col([v.converged for v in vs]),
        )[0]
    )


def to_settle(action: str, g: Groups, verdicts: Mapping[str, Verdict]) -> list[str]:
    """The metrics an extension must settle: open primaries and guardrails at risk that more data can clear."""
    if action == "none":
        return []
    names = list(g.unsure)
    if not g.unsure and not g.meaningful:
        names += [m for m in g.short if verdicts[m].more_data_factor is not None]
    names += [m for m in g.at_risk if verdicts[m].more_data_factor is not None]
    return [m for m in dict.fromkeys(names) if verdicts[m].more_data_factor is not None]


def small_arms(spec: Spec, results: list[MetricResult]) -> dict[str, int]:
    """Arms with fewer randomization units (``spec.unit``) than ``decision.min_units_per_arm``, fewest over metrics."""
    few: dict[str, int] = {}
    for r in results:
        for arm, n in r.clusters.items():
            few[arm] = min(few.get(arm, n), int(n))
    return {a: n for a, n in few.items() if n < spec.decision.min_units_per_arm}


def segment_summary(spec: Spec, results: list[MetricResult]) -> list[dict[str, Any]]:
    """Where the program works best and least, per metric and segment dimension.

    For each primary (then secondary, then guardrail) metric with segment effects, per segment
    dimension with at least two values: the value with the largest improvement (direction-aware
    posterior mean) is where the program works best, the smallest where it works least.
    """
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
                    "unit": best.unit,
                }
            )
    return out


def decide(
    spec: Spec,
    results: list[MetricResult],
    health: list[HealthCheck] | None = None,
    *,
    weeks: float | None = None,
    variance: Mapping[str, VarianceParts] | None = None,
) -> Recommendation:
    """Verdict per metric, one overall action, the data that would settle it, money and segments.

    Parameters
    ----------
    spec
        The experiment file (decision thresholds, metric roles, business inputs).
    results
        One :class:`MetricResult` per metric.
    health
        Health checks of the pilot. They do not change the action; their ``warn`` and ``alert``
        become caveats when :func:`qmsprint.present.text.explain` words the recommendation.
    weeks
        Weeks of pilot data behind the results (for the extension); default: the length of the
        spec's pilot period.
    variance
        Per metric, the variance decomposition of the pilot's data
        (:func:`qmsprint.design.variance_parts`): how much of the uncertainty more weeks can
        reduce. Without it the extension assumes all of it.

    Returns
    -------
    Recommendation
        Codes and numbers (rules: :mod:`qmsprint.decide.rules`); its words are empty: pass it to
        :func:`qmsprint.present.text.explain` for the headline, reasons and caveats.

    """
    verdicts = {r.metric: verdict_for(spec, r) for r in results}
    g = groups(verdicts)
    action = action_for(verdicts)
    settle = to_settle(action, g, verdicts) if action == "extend" else []
    return Recommendation(
        action=action,
        verdicts=verdicts,
        impact=business_impact(spec, results),
        segments=segment_summary(spec, results),
        extend=extension(spec, results, verdicts, settle, weeks, variance) if settle else None,
        thresholds=spec.decision.model_dump(),
    )
