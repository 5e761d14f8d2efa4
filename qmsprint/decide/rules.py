"""The decision rule itself, on arrays: verdicts, guardrail states, the meaningful bar and the action.

The same functions decide a run (:func:`qmsprint.decide.decide`, one posterior per metric, read
from its draws) and every simulated pilot of the assurance (:mod:`qmsprint.design.assurance`,
thousands of approximate posteriors at once), so the sizing plans for exactly the rule a run
applies. Everything is on the improvement scale ``g`` (the effect, sign flipped for metrics where
lower is better), in the metric's unit; ``delta`` is its ``min_effect`` and ``rope`` the region
of practical equivalence (``rope_fraction * delta``).

Numbers behind a call (:func:`numbers_from_draws`, :func:`numbers_from_t`)
    ``p_better`` P(g > 0), ``p_worse`` P(g < 0), ``p_meaningful`` P(g >= delta),
    ``p_equivalent`` P(|g| < rope), ``p_harm`` P(g < -rope), ``shortfall`` E[max(0, delta - g)]
    (the expected loss of shipping, measured from the smallest effect worth acting on: what is
    given up, on average, if the program is scaled and falls short of ``delta``; measured from 0 it
    would call a program that is surely better but surely too small to matter a safe win) and
    ``mean`` E[g].
Verdicts (:func:`verdict_codes`)
    ``no_change`` if ``p_equivalent >= prob_equivalent``, else ``improved`` if
    ``p_better >= prob_improve``, else ``worse`` if ``p_worse >= prob_improve``, else ``inconclusive``.
Meaningful (:func:`meaningful_mask`)
    ``p_meaningful >= prob_meaningful`` or ``shortfall <= max_expected_loss * delta``.
Guardrails as non-inferiority (:func:`guardrail_codes`)
    ``veto`` if ``p_harm >= guardrail_prob_worse``, ``holds`` if ``p_harm <= guardrail_max_risk``,
    else ``at_risk``.
The action (:func:`action_codes`), the first that applies
    ``none`` (a fit missed the convergence bars); ``iterate`` / ``stop`` when a primary metric is
    worse or a guardrail vetoes (iterate if another primary improved); ``stop`` when every primary
    shows no meaningful change; ``extend`` while a primary is inconclusive; ``iterate`` when some
    primaries improved and the others show no meaningful change; then, every primary improved:
    without one meaningful improvement ``extend`` if more data could show one at the current
    means (some improved mean above ``delta (1 - max_expected_loss)``), else ``iterate``; with a
    guardrail at risk ``extend`` if more data could clear it (its mean harm is inside the margin),
    else ``iterate``; otherwise ``scale_up``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

ACTIONS = ("scale_up", "extend", "iterate", "stop", "none")
DECISIVE = ("scale_up", "iterate", "stop")
MIN_DF = 3.0  # approximate t posteriors get at least this many degrees of freedom (finite shortfall)


def numbers_from_draws(g: np.ndarray, delta: float, rope: float) -> dict[str, float]:
    """The numbers behind a verdict from draws of the improvement ``g`` (see the module doc)."""
    g = np.asarray(g, float)
    return {
        "p_better": float(np.mean(g > 0)),
        "p_worse": float(np.mean(g < 0)),
        "p_meaningful": float(np.mean(g >= delta)),
        "p_equivalent": float(np.mean(np.abs(g) < rope)),
        "p_harm": float(np.mean(g < -rope)),
        "shortfall": float(np.mean(np.maximum(0.0, delta - g))),
        "mean": float(np.mean(g)),
        "sd": float(np.std(g, ddof=1)) if len(g) > 1 else 0.0,
    }


def t_shortfall(mean: np.ndarray, sd: np.ndarray, df: np.ndarray, delta: float) -> np.ndarray:
    """E[max(0, delta - g)] for ``g = mean + sd T``, T Student t with ``df`` (> 1) degrees of freedom.

    With ``c = (delta - mean) / sd``: ``sd ((df + c^2) / (df - 1) f(c) + c F(c))`` (normal as df -> inf:
    ``sd (phi(c) + c Phi(c))``).
    """
    sd = np.maximum(np.asarray(sd, float), 1e-300)
    c = (delta - np.asarray(mean, float)) / sd
    df = np.broadcast_to(np.asarray(df, float), c.shape)
    finite = np.isfinite(df)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(finite, (df + c**2) / (df - 1.0), 1.0)
    pdf = np.where(finite, stats.t.pdf(c, np.where(finite, df, 1.0)), stats.norm.pdf(c))
    cdf = np.where(finite, stats.t.cdf(c, np.where(finite, df, 1.0)), stats.norm.cdf(c))
    return sd * (ratio * pdf + c * cdf)


def numbers_from_t(
    mean: np.ndarray, sd: np.ndarray, df: np.ndarray | float, delta: float, rope: float
) -> dict[str, np.ndarray]:
    """The numbers behind a verdict for approximate posteriors ``g ~ mean + sd T_df`` (arrays, closed form)."""
    mean = np.asarray(mean, float)
    sd = np.maximum(np.asarray(sd, float), 1e-12)
    df = np.maximum(np.broadcast_to(np.asarray(df, float), mean.shape), MIN_DF)

    def cdf(x: np.ndarray) -> np.ndarray:
        return stats.t.cdf(x, df)

    return {
        "p_better": 1.0 - cdf(-mean / sd),
        "p_worse": cdf(-mean / sd),
        "p_meaningful": 1.0 - cdf((delta - mean) / sd),
        "p_equivalent": cdf((rope - mean) / sd) - cdf((-rope - mean) / sd),
        "p_harm": cdf((-rope - mean) / sd),
        "shortfall": t_shortfall(mean, sd, df, delta),
        "mean": mean,
        "sd": sd,
    }


def verdict_codes(n: dict[str, Any], dec: Any) -> np.ndarray:
    """``improved`` / ``no_change`` / ``worse`` / ``inconclusive`` per posterior (see the module doc)."""
    p_eq, p_b, p_w = (np.asarray(n[k], float) for k in ("p_equivalent", "p_better", "p_worse"))
    return np.where(
        p_eq >= dec.prob_equivalent,
        "no_change",
        np.where(p_b >= dec.prob_improve, "improved", np.where(p_w >= dec.prob_improve, "worse", "inconclusive")),
    )


def meaningful_mask(n: dict[str, Any], delta: float, dec: Any) -> np.ndarray:
    """Whether the improvement clears the bar for scaling up (probability or expected shortfall)."""
    return (np.asarray(n["p_meaningful"], float) >= dec.prob_meaningful) | (
        np.asarray(n["shortfall"], float) <= dec.max_expected_loss * delta
    )


def reachable_mask(mean: np.ndarray, delta: float, dec: Any) -> np.ndarray:
    """Whether more data could clear the meaningful bar if the mean improvement stays where it is."""
    return np.asarray(mean, float) > delta * (1.0 - dec.max_expected_loss)


def guardrail_codes(p_harm: np.ndarray, dec: Any) -> np.ndarray:
    """``veto`` / ``at_risk`` / ``holds`` per posterior of a guardrail (non-inferiority; see the module doc)."""
    p = np.asarray(p_harm, float)
    return np.where(p >= dec.guardrail_prob_worse, "veto", np.where(p <= dec.guardrail_max_risk, "holds", "at_risk"))


def settleable_mask(mean: np.ndarray, rope: float) -> np.ndarray:
    """Whether more data could show a guardrail holds: its mean harm is inside the tolerated margin."""
    return np.asarray(mean, float) > -rope


def primary_mask(roles: Sequence[str]) -> np.ndarray:
    """Which metrics decide: role ``primary``; all non-guardrails if none is; all metrics if all are guardrails."""
    r = np.asarray(list(roles))
    for mask in (r == "primary", r != "guardrail"):
        if mask.any():
            return mask
    return np.ones(len(r), bool)


def action_codes(
    roles: Sequence[str],
    verdict: np.ndarray,
    meaningful: np.ndarray,
    reachable: np.ndarray,
    guard: np.ndarray,
    settleable: np.ndarray,
    converged: np.ndarray | None = None,
) -> np.ndarray:
    """The action per posterior set (see the module doc).

    Parameters
    ----------
    roles
        Role of each metric (length M).
    verdict, meaningful, reachable, guard, settleable
        Arrays of shape (M, N): per metric and posterior set, the verdict code, the meaningful and
        reachable flags, the guardrail state (ignored for non-guardrails) and whether a guardrail
        at risk could be cleared by more data.
    converged
        (M, N) booleans, default all True.

    Returns
    -------
    numpy.ndarray
        N action codes.

    """
    verdict = np.atleast_2d(verdict)
    m, n = verdict.shape
    p = primary_mask(roles)[:, None]
    gr = (np.asarray(list(roles)) == "guardrail")[:, None]
    conv = np.ones((m, n), bool) if converged is None else np.atleast_2d(converged).astype(bool)

    def anyp(mask: np.ndarray) -> np.ndarray:
        return (mask & p).any(axis=0)

    improved = verdict == "improved"
    worse_or_veto = anyp(verdict == "worse") | (gr & (np.atleast_2d(guard) == "veto")).any(axis=0)
    at_risk = gr & (np.atleast_2d(guard) == "at_risk")
    meaningful_any = anyp(improved & np.atleast_2d(meaningful))
    reachable_any = anyp(improved & np.atleast_2d(reachable))
    stuck = (at_risk & ~np.atleast_2d(settleable)).any(axis=0)
    choices = [
        (~conv.all(axis=0), "none"),
        (worse_or_veto & anyp(improved), "iterate"),
        (worse_or_veto, "stop"),
        (~anyp(verdict != "no_change"), "stop"),
        (anyp(verdict == "inconclusive"), "extend"),
        (anyp(verdict == "no_change"), "iterate"),
        (~meaningful_any & reachable_any, "extend"),
        (~meaningful_any, "iterate"),
        (at_risk.any(axis=0) & stuck, "iterate"),
        (at_risk.any(axis=0), "extend"),
    ]
    out = np.full(n, "scale_up", dtype=object)
    done = np.zeros(n, bool)
    for cond, action in choices:
        hit = cond & ~done
        out[hit] = action
        done |= hit
    return out.astype(str)
