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
  (primaries still inconclusive become caveats; a guardrail whose harm beyond its margin is at
  least :data:`AT_RISK` likely is named as one to watch, not claimed unharmed);
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
Words come from :func:`qmsprint.present.text.explain`; :func:`decide` returns codes and numbers.
Caveats: fits that missed the convergence bars; every health check with status ``alert`` or
``warn`` with its own message; fewer than ``min_units_per_arm`` agents in an arm; secondary metrics
that got worse; primaries still inconclusive next to a scale-up. Notes from the estimation layer
(parametrisation, prior used, reweighting) are kept apart in ``notes``.

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

from qmsprint.results import HealthCheck, MetricResult
from qmsprint.spec import Spec
from qmsprint.stats import hdi

Action = Literal["scale_up", "extend", "iterate", "stop", "none"]
VerdictName = Literal["improved", "no_change", "worse", "inconclusive"]

MAX_PRACTICAL_FACTOR = 4.0  # more than 3x the data so far is said to be impractical
MAX_FACTOR = 100.0  # factors are capped here (the effect is indistinguishable from the threshold)
AT_RISK = 0.5  # a guardrail with P(harm beyond its margin) at least this is at risk (named, not "holds")


# ---- Records -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """The verdict on one metric, with the probabilities behind it.

    Probabilities are direction-aware: ``prob_better`` is the probability that the new program
    is better at all, ``prob_meaningful`` better by at least ``min_effect``, ``prob_equivalent``
    inside the ROPE, ``prob_worse`` worse at all, ``prob_harm`` worse beyond the ROPE.
    ``mean``/``hdi_*`` are the effect (treatment - control) in ``unit``. ``sentence`` is empty
    until :func:`qmsprint.present.text.explain` words the verdict.
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
    more_data_factor: float | None = None
    sentence: str = ""

    @property
    def at_risk(self) -> bool:
        """A guardrail whose harm beyond its margin is at least :data:`AT_RISK` likely."""
        return self.prob_harm >= AT_RISK

    def to_dict(self) -> dict[str, Any]:
        """Plain dict."""
        return asdict(self)


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
        Repeat contacts avoided per month and their value (mean, HDI, probability of saving),
        or ``None`` without a repeat-contact metric.
    segments
        Where the program works best and least: one dict per metric x segment dimension.
    extend
        When primaries are inconclusive: the data factor and the extra weeks / agents per arm.
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
        verdicts = {k: Verdict(**v) for k, v in d.get("verdicts", {}).items()}
        return cls(**{**known, "verdicts": verdicts})


@dataclass(frozen=True)
class Groups:
    """The metrics behind a call, by role and verdict (metric names, in the spec's order).

    ``primaries`` are the metrics with role ``primary`` (all non-guardrails if none is primary,
    all metrics if every one is a guardrail); ``improved``, ``worse``, ``same`` (no meaningful
    change) and ``unsure`` (inconclusive) are primaries; ``vetoes`` are guardrails that veto.
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


def groups(verdicts: dict[str, Verdict]) -> Groups:
    """Sort the verdicts into the groups the rules read (see the module doc)."""
    vs = list(verdicts.values())
    by_role = {role: [v for v in vs if v.role == role] for role in ("primary", "secondary", "guardrail")}
    primaries = by_role["primary"] or [v for v in vs if v.role != "guardrail"] or vs

    def names(items: list[Verdict], verdict: str | None = None) -> list[str]:
        return [v.metric for v in items if verdict is None or v.verdict == verdict]

    return Groups(
        primaries=names(primaries),
        guardrails=names(by_role["guardrail"]),
        secondaries=names(by_role["secondary"]),
        improved=names(primaries, "improved"),
        worse=names(primaries, "worse"),
        same=names(primaries, "no_change"),
        unsure=names(primaries, "inconclusive"),
        vetoes=[v.metric for v in by_role["guardrail"] if v.veto],
        not_converged=[v.metric for v in vs if not v.converged],
    )


def small_arms(spec: Spec, results: list[MetricResult]) -> dict[str, int]:
    """Arms with fewer agents than ``decision.min_units_per_arm`` (fewest over the metrics)."""
    few: dict[str, int] = {}
    for r in results:
        for arm, n in r.n_units.items():
            few[arm] = min(few.get(arm, n), int(n))
    return {a: n for a, n in few.items() if n < spec.decision.min_units_per_arm}


# ---- Per-metric verdicts -------------------------------------------------------------------------


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


def verdict_for(spec: Spec, r: MetricResult) -> Verdict:
    """The verdict on one metric from its headline draws and the spec's thresholds (no sentence)."""
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
    return Verdict(
        metric=r.metric,
        label=m.info.label,
        role=m.role,
        verdict=verdict,
        better=m.better,
        unit=r.headline.unit or m.info.unit,
        min_effect=float(delta),
        rope=float(rope),
        mean=float(d.mean()),
        hdi_low=lo,
        hdi_high=hi,
        hdi_prob=float(prob),
        prob_better=p_better,
        prob_meaningful=p_meaningful,
        prob_equivalent=p_eq,
        prob_worse=p_worse,
        prob_harm=p_harm,
        veto=bool(veto),
        converged=bool(r.diagnostics.converged),
        more_data_factor=factor,
    )


# ---- Business impact and segments ----------------------------------------------------------------

IMPACT_METRIC = "repeat_contact"  # the metric whose effect is turned into money


def impact_draws(
    effect: np.ndarray, contacts_per_month: float, cost_per_contact: float
) -> tuple[np.ndarray, np.ndarray]:
    """(repeat contacts avoided per month, value per month) per draw of the repeat-contact effect (pp)."""
    avoided = -(np.asarray(effect, dtype=float) / 100.0) * contacts_per_month
    return avoided, avoided * cost_per_contact


def business_impact(spec: Spec, results: list[MetricResult]) -> dict[str, Any] | None:
    """Repeat contacts avoided per month and their value, as a posterior summary (see module doc)."""
    r = next((x for x in results if x.metric == IMPACT_METRIC), None)
    if r is None:
        return None
    b = spec.business
    prob = spec.model.hdi_prob
    avoided, value = impact_draws(_draws(r), b.contacts_per_month, b.cost_per_contact)

    def summ(x: np.ndarray) -> dict[str, float]:
        lo, hi = hdi(x, prob)
        return {"mean": float(x.mean()), "hdi_low": lo, "hdi_high": hi}

    p_save = float(np.mean(value > 0)) if b.cost_per_contact > 0 else float(np.mean(avoided > 0))
    return {
        "metric": IMPACT_METRIC,
        "contacts_avoided_per_month": summ(avoided),
        "value_per_month": summ(value),
        "prob_saves": p_save,
        "currency": b.currency,
        "cost_per_contact": float(b.cost_per_contact),
        "contacts_per_month": float(b.contacts_per_month),
        "hdi_prob": float(prob),
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


# ---- The recommendation --------------------------------------------------------------------------


def _pilot_weeks(spec: Spec) -> float | None:
    p = spec.periods.pilot
    if p is None:
        return None
    return ((p.end - p.start).days + 1) / 7.0


def _extension(
    spec: Spec, results: list[MetricResult], verdicts: dict[str, Verdict], unsure: list[str], weeks: float | None
) -> dict[str, Any]:
    """The data that would settle the inconclusive primaries ``unsure`` (see module doc)."""
    factor = max(verdicts[m].more_data_factor or 1.0 for m in unsure)
    w = weeks if weeks is not None else _pilot_weeks(spec)
    units = [n for r in results if r.metric in unsure for n in r.n_units.values()]
    per_arm = min(units) if units else None
    extra = factor - 1.0
    return {
        "metrics": unsure,
        "factor": factor,
        "current_weeks": w,
        "more_weeks": None if w is None else math.ceil(extra * w),
        "current_agents_per_arm": per_arm,
        "more_agents_per_arm": None if per_arm is None else math.ceil(extra * per_arm),
        "practical": factor <= MAX_PRACTICAL_FACTOR,
    }


def action_for(g: Groups) -> Action:
    """The overall action from the groups of verdicts (the rules in the module doc)."""
    if g.not_converged:
        return "none"
    if g.improved and (g.worse or g.vetoes):
        return "iterate"
    if g.worse or g.vetoes:
        return "stop"
    if g.improved:
        return "scale_up"
    if g.unsure:
        return "extend"
    return "stop"  # every primary no_change


def decide(
    spec: Spec,
    results: list[MetricResult],
    health: list[HealthCheck] | None = None,
    *,
    weeks: float | None = None,
) -> Recommendation:
    """Verdict per metric, one overall action, business impact and segments: codes and numbers.

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
        Weeks of pilot data behind the results (for the extension estimate); default: the length
        of the spec's pilot period.

    Returns
    -------
    Recommendation
        The rules are in this module's docstring. Its words are empty: pass it to
        :func:`qmsprint.present.text.explain` for the headline, reasons and caveats.

    """
    verdicts = {r.metric: verdict_for(spec, r) for r in results}
    g = groups(verdicts)
    return Recommendation(
        action=action_for(g),
        verdicts=verdicts,
        impact=business_impact(spec, results),
        segments=segment_summary(spec, results),
        extend=_extension(spec, results, verdicts, g.unsure, weeks) if g.unsure else None,
        thresholds=spec.decision.model_dump(),
    )
