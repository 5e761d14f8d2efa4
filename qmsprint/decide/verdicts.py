"""Per-metric verdicts (:func:`verdict_for`) with the numbers behind them and the data that would settle them.

How much more data (``more_data_factor``)
-----------------------------------------
With posterior mean ``m`` and sd ``s`` of the improvement ``g`` (assumed to stay where they are),
the data must grow until the sd reaches ``s*``, a factor ``(s / s*)^2`` of the variance:

* an inconclusive metric: ``s* = |m| / z(prob_improve)`` for improved / worse, and, when
  ``|m| < rope``, the ``s*`` solving ``Phi((rope - m) / s*) - Phi((-rope - m) / s*) = prob_equivalent``
  for no change (the smallest factor over the verdicts in reach);
* an improvement short of the meaningful bar: ``s* = (m - delta) / z(prob_meaningful)`` when
  ``m > delta``, or the ``s*`` whose expected shortfall is ``max_expected_loss * delta`` when
  ``m > delta (1 - max_expected_loss)`` (the smaller factor); out of reach otherwise (``None``);
* a guardrail at risk: ``s* = (rope + m) / z(1 - guardrail_max_risk)`` when its mean harm is inside
  the margin (``m > -rope``); out of reach otherwise.

Factors are at least 1 and capped at :data:`MAX_FACTOR`. How a factor translates into weeks and
agents is :mod:`qmsprint.decide.extend`'s business.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import optimize, stats

from qmsprint.decide import rules
from qmsprint.results import MetricResult
from qmsprint.spec import Spec
from qmsprint.stats import hdi

MAX_FACTOR = 100.0  # factors are capped here (the effect is indistinguishable from the threshold)


@dataclass(frozen=True)
class Verdict:
    """The verdict on one metric, with the probabilities behind it.

    Probabilities are direction-aware: ``prob_better`` is the probability that the new program
    is better at all, ``prob_meaningful`` better by at least ``min_effect``, ``prob_equivalent``
    inside the ROPE, ``prob_worse`` worse at all, ``prob_harm`` worse beyond the ROPE;
    ``expected_shortfall`` is E[max(0, min_effect - improvement)] in ``unit``. ``meaningful``
    says whether an improvement clears the bar for scaling up (``prob_meaningful`` or the
    shortfall), ``guardrail`` is ``holds`` / ``at_risk`` / ``veto`` for guardrails (empty
    otherwise). ``mean``/``hdi_*`` are the effect (treatment - control) in ``unit``.
    ``reachable``: more data could make an improvement meaningful at its current mean;
    ``settleable``: more data could clear a guardrail at risk (its mean harm is inside the margin).
    ``more_data_factor`` is the factor of the data so far that would settle what is open about
    the metric (None when nothing is open, or when more data cannot settle it at the current
    mean). ``sentence`` is empty until :func:`qmsprint.present.text.explain` words the verdict.
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
    expected_shortfall: float = float("nan")
    meaningful: bool = False
    guardrail: str = ""
    reachable: bool = False
    settleable: bool = False
    sd: float = float("nan")

    @property
    def improvement(self) -> float:
        """Posterior mean of the improvement (the effect with its sign flipped where lower is better)."""
        return self.mean if self.better == "higher" else -self.mean

    @property
    def at_risk(self) -> bool:
        """A guardrail neither cleared nor vetoed: P(harm beyond its margin) above ``guardrail_max_risk``."""
        return self.guardrail == "at_risk"

    @property
    def holds(self) -> bool:
        """A guardrail whose harm beyond its margin is at most ``guardrail_max_risk`` likely."""
        return self.guardrail == "holds"

    def to_dict(self) -> dict[str, Any]:
        """Plain dict."""
        return asdict(self)


def draws_of(r: MetricResult) -> np.ndarray:
    """Headline effect draws; a normal approximation from the HDI when none are stored."""
    d = np.asarray(r.draws, dtype=float).ravel() if r.draws is not None else np.array([])
    d = d[np.isfinite(d)]
    if len(d) >= 2:
        return d
    h = r.headline
    z = stats.norm.ppf(0.5 + h.hdi_prob / 2)
    sd = max((h.hdi_high - h.hdi_low) / (2 * z), 1e-12)
    return stats.norm.ppf(np.linspace(0.0005, 0.9995, 2000), loc=h.mean, scale=sd)


def _cap(f: float) -> float:
    return float(min(MAX_FACTOR, max(1.0, f)))


def more_data_factor(m: float, s: float, rope: float, p_imp: float, p_eq: float) -> float:
    """Factor of the current data that would settle an inconclusive metric if its mean stays at ``m``."""
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
    return _cap(min(factors)) if factors else MAX_FACTOR


def meaningful_factor(m: float, s: float, delta: float, p_m: float, max_loss: float) -> float | None:
    """Factor of the data that would make an improvement meaningful at mean ``m`` (None: out of reach)."""
    if s <= 0 or not np.isfinite(s):
        return None
    factors = []
    if m > delta:
        factors.append((stats.norm.ppf(p_m) * s / (m - delta)) ** 2)
    limit = max_loss * delta
    if m > delta - limit:

        def excess(sd: float) -> float:
            return float(rules.t_shortfall(np.array(m), np.array(sd), np.array(np.inf), delta)) - limit

        if excess(s) <= 0:
            factors.append(1.0)
        else:
            s_star = optimize.brentq(excess, 1e-12 * s, s, xtol=1e-12 * s + 1e-15)
            factors.append((s / s_star) ** 2)
    return _cap(min(factors)) if factors else None


def guardrail_factor(m: float, s: float, rope: float, max_risk: float) -> float | None:
    """Factor of the data that would clear a guardrail at mean improvement ``m`` (None: out of reach)."""
    if s <= 0 or not np.isfinite(s) or m <= -rope:
        return None
    return _cap((stats.norm.ppf(1 - max_risk) * s / (rope + m)) ** 2)


def verdict_for(spec: Spec, r: MetricResult) -> Verdict:
    """The verdict on one metric from its headline draws and the spec's thresholds (no sentence)."""
    m = spec.metric(r.metric)
    dec = spec.decision
    d = draws_of(r)
    sign = 1.0 if m.better == "higher" else -1.0
    delta = float(m.threshold)
    rope = dec.rope_fraction * delta
    n = rules.numbers_from_draws(sign * d, delta, rope)
    verdict = str(rules.verdict_codes(n, dec))
    guard = str(rules.guardrail_codes(n["p_harm"], dec)) if m.role == "guardrail" else ""
    meaningful = verdict == "improved" and bool(rules.meaningful_mask(n, delta, dec))
    g_mean, g_sd = n["mean"], n["sd"]
    factor: float | None = None
    if verdict == "inconclusive" and m.role != "guardrail":
        factor = more_data_factor(g_mean, g_sd, rope, dec.prob_improve, dec.prob_equivalent)
    elif verdict == "improved" and not meaningful and m.role != "guardrail":
        factor = meaningful_factor(g_mean, g_sd, delta, dec.prob_meaningful, dec.max_expected_loss)
    elif guard == "at_risk":
        factor = guardrail_factor(g_mean, g_sd, rope, dec.guardrail_max_risk)
    lo, hi = hdi(d, spec.model.hdi_prob)
    return Verdict(
        metric=r.metric,
        label=m.info.label,
        role=m.role,
        verdict=verdict,
        better=m.better,
        unit=r.headline.unit or m.info.unit,
        min_effect=delta,
        rope=float(rope),
        mean=float(d.mean()),
        hdi_low=lo,
        hdi_high=hi,
        hdi_prob=float(spec.model.hdi_prob),
        prob_better=n["p_better"],
        prob_meaningful=n["p_meaningful"],
        prob_equivalent=n["p_equivalent"],
        prob_worse=n["p_worse"],
        prob_harm=n["p_harm"],
        veto=guard == "veto",
        converged=bool(r.diagnostics.converged),
        more_data_factor=factor,
        expected_shortfall=n["shortfall"],
        meaningful=meaningful,
        guardrail=guard,
        reachable=bool(rules.reachable_mask(g_mean, delta, dec)),
        settleable=bool(rules.settleable_mask(g_mean, rope)),
        sd=g_sd,
    )
