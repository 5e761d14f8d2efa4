"""Posterior draws -> :class:`~qmsprint.results.Effect` on the scales people read.

Effects are counterfactual averages, computed per posterior draw: every cell of the population
(A/B: all pilot-period cells; DiD: the treated units' pilot-period cells) is evaluated under the
new program and under the old one, the natural-scale metric of each cell is averaged with the
cell's weight (interactions, or survey responses), and the effect is the difference of the two
averages. Nothing is read off a single coefficient.

Scales (``Effect.scale``) and units:

========== ============================ ==============
metric     scales (headline first)      unit
========== ============================ ==============
csat       ``mean``, ``top2box``        points, pp
nps        ``nps``, ``promoters``,      NPS points, pp
           ``passives``, ``detractors``
fcr        ``rate``, ``relative``       pp, %
repeat     ``rate``, ``relative``       pp, %
handle     ``mean``, ``relative``       seconds, %
========== ============================ ==============

For a ``relative`` effect, ``control`` and ``treatment`` are the levels of the underlying scale
(rate in % or seconds) and the effect is ``100 (treatment / control - 1)`` per draw.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from qmsprint.results import Effect
from qmsprint.stats import hdi

CHUNK = 256  # posterior draws per chunk when evaluating cells (bounds memory)

HEADLINE = {"csat": "mean", "nps": "nps", "fcr": "rate", "repeat_contact": "rate", "handle_time": "mean"}
UNITS = {
    ("csat", "mean"): "points",
    ("csat", "top2box"): "pp",
    ("nps", "nps"): "NPS points",
    ("nps", "promoters"): "pp",
    ("nps", "passives"): "pp",
    ("nps", "detractors"): "pp",
    ("fcr", "rate"): "pp",
    ("fcr", "relative"): "%",
    ("repeat_contact", "rate"): "pp",
    ("repeat_contact", "relative"): "%",
    ("handle_time", "mean"): "seconds",
    ("handle_time", "relative"): "%",
}


def summarize(
    metric: str,
    scale: str,
    control: np.ndarray,
    treatment: np.ndarray,
    *,
    better: str | None,
    threshold: float | None,
    hdi_prob: float,
    unit: str | None = None,
    relative: bool = False,
    segment: str | None = None,
    segment_value: str | None = None,
) -> Effect:
    """Summarise per-draw levels under each arm into an :class:`Effect`.

    Parameters
    ----------
    metric, scale
        Names (see the module table).
    control, treatment
        Per-draw levels of the metric under each program, on the scale's unit.
    better
        ``higher`` / ``lower``: direction of improvement; ``None`` when the scale has none
        (then ``prob_improve`` and ``expected_loss`` are ``nan``).
    threshold
        Smallest improvement worth acting on, in the scale's unit; ``None`` -> ``prob_meaningful`` is nan.
    hdi_prob
        HDI probability.
    unit
        Display unit; default from the module table.
    relative
        Effect is ``100 (treatment / control - 1)`` instead of ``treatment - control``.
    segment, segment_value
        Segment column and value, for per-segment effects.

    """
    c = np.asarray(control, float)
    t = np.asarray(treatment, float)
    diff = 100.0 * (t / c - 1.0) if relative else t - c
    lo, hi = hdi(diff, hdi_prob)
    if better is None:
        p_imp = loss = float("nan")
        p_mean = float("nan")
    else:
        improvement = diff if better == "higher" else -diff
        p_imp = float(np.mean(improvement > 0))
        loss = float(np.mean(np.maximum(0.0, -improvement)))
        p_mean = float("nan") if threshold is None else float(np.mean(improvement >= threshold))
    return Effect(
        metric=metric,
        scale=scale,
        unit=unit or UNITS.get((metric, scale), ""),
        mean=float(np.mean(diff)),
        hdi_low=lo,
        hdi_high=hi,
        hdi_prob=float(hdi_prob),
        prob_improve=p_imp,
        prob_meaningful=p_mean,
        expected_loss=loss,
        control=float(np.mean(c)),
        treatment=float(np.mean(t)),
        segment=segment,
        segment_value=segment_value,
    )


# --------------------------------------------------------------------------------------------
# Natural-scale levels of cells, averaged with weights, per draw
# --------------------------------------------------------------------------------------------

CellFn = Callable[[np.ndarray, slice], dict[str, np.ndarray]]


def weighted_levels(
    fn: CellFn, base: np.ndarray, delta: np.ndarray, weights: np.ndarray, groups: np.ndarray | None = None
) -> dict[str, dict[str, np.ndarray]]:
    """Counterfactual levels per draw.

    Parameters
    ----------
    fn
        ``fn(eta, draw_slice) -> {scale: value per (draw, cell)}``: natural-scale value of each cell.
    base
        Latent predictor of each cell without the new program, shape (draws, cells).
    delta
        Latent treatment effect of each cell, shape (draws, cells).
    weights
        Weight of each cell (interactions or responses).
    groups
        Optional group code per cell (e.g. a segment): then levels are per group, keyed
        ``(scale, group)``; else keyed ``scale``.

    Returns
    -------
    dict
        ``{"control": {key: draws}, "treatment": {key: draws}}``.

    """
    return weighted_levels_by(fn, base, delta, weights, [groups])[0]


def weighted_levels_by(
    fn: CellFn, base: np.ndarray, delta: np.ndarray, weights: np.ndarray, groupings: list[np.ndarray | None]
) -> list[dict[str, dict[str, np.ndarray]]]:
    """:func:`weighted_levels` for several groupings at once, evaluating the cells only once.

    ``groupings`` holds, per grouping, a group code per cell or ``None`` (all cells together).
    Returns one result per grouping, in order.
    """
    w = np.asarray(weights, float)
    n_draws = base.shape[0]
    cols: list[tuple[int, Any]] = []  # (grouping, group or None) of each weight column
    vecs = []
    for i, groups in enumerate(groupings):
        if groups is None:
            cols.append((i, None))
            vecs.append(w / w.sum())
            continue
        for g in np.unique(groups):
            wg = np.where(groups == g, w, 0.0)
            if wg.sum() > 0:
                cols.append((i, g))
                vecs.append(wg / wg.sum())
    wmat = np.column_stack(vecs) if vecs else np.zeros((len(w), 0))
    parts: dict[str, dict[str, list[np.ndarray]]] = {"control": {}, "treatment": {}}
    for start in range(0, n_draws, CHUNK):
        sl = slice(start, min(n_draws, start + CHUNK))
        for arm, eta in (("control", base[sl]), ("treatment", base[sl] + delta[sl])):
            for scale, v in fn(eta, sl).items():
                parts[arm].setdefault(scale, []).append(v @ wmat)
    out: list[dict[str, dict[str, np.ndarray]]] = [{"control": {}, "treatment": {}} for _ in groupings]
    for arm, by_scale in parts.items():
        for scale, chunks in by_scale.items():
            full = np.concatenate(chunks)
            for j, (i, g) in enumerate(cols):
                out[i][arm][scale if g is None else (scale, g)] = full[:, j]
    return out


def ordinal_cells(cut: np.ndarray, levels: np.ndarray, kind: str) -> CellFn:
    """Cell values of an ordinal metric: CSAT ``mean``/``top2box`` or NPS ``nps`` and the shares.

    Computed from the cumulative probabilities ``P(Y <= j) = logistic(cut_j - eta)`` that each
    value needs (two of ten for NPS), e.g. ``mean = l_max - sum_j (l_j+1 - l_j) P(Y <= j)``.
    """
    from scipy.special import expit

    levels = np.asarray(levels, float)
    steps = np.diff(levels)

    def cdf(eta: np.ndarray, sl: slice, j: int) -> np.ndarray:
        return expit(cut[sl, j][:, None] - eta)

    def fn(eta: np.ndarray, sl: slice) -> dict[str, np.ndarray]:
        if kind == "nps":
            det = cdf(eta, sl, 6)  # 0-6
            up_to_8 = cdf(eta, sl, 8)  # 0-8
            return {
                "nps": 100.0 * (1.0 - up_to_8 - det),
                "promoters": 100.0 * (1.0 - up_to_8),
                "passives": 100.0 * (up_to_8 - det),
                "detractors": 100.0 * det,
            }
        cdfs = [cdf(eta, sl, j) for j in range(len(steps))]
        mean = levels[-1] - sum(step * c for step, c in zip(steps, cdfs, strict=True))
        # top-2-box: P(Y >= second-highest level) = 1 - P(Y <= third-highest)
        top2 = 100.0 * (1.0 - cdfs[-2]) if len(cdfs) >= 2 else np.full(eta.shape, 100.0)
        return {"mean": mean, "top2box": top2}

    return fn


def binomial_cells() -> CellFn:
    """Cell values of a binary metric: ``rate`` in percent."""
    from scipy.special import expit

    def fn(eta: np.ndarray, sl: slice) -> dict[str, np.ndarray]:  # noqa: ARG001
        return {"rate": 100.0 * expit(eta)}

    return fn


def lognormal_cells(sigma: np.ndarray) -> CellFn:
    """Cell values of handle time: ``mean`` seconds, ``exp(eta + sigma^2 / 2)``."""

    def fn(eta: np.ndarray, sl: slice) -> dict[str, np.ndarray]:
        return {"mean": np.exp(eta + 0.5 * sigma[sl, None] ** 2)}

    return fn


def scales_of(metric: str) -> list[tuple[str, str, bool]]:
    """``(scale, level key, relative)`` of every reported scale of ``metric``, headline first."""
    if metric == "csat":
        return [("mean", "mean", False), ("top2box", "top2box", False)]
    if metric == "nps":
        return [(s, s, False) for s in ("nps", "promoters", "passives", "detractors")]
    if metric in ("fcr", "repeat_contact"):
        return [("rate", "rate", False), ("relative", "rate", True)]
    return [("mean", "mean", False), ("relative", "mean", True)]


def scale_direction(metric: str, scale: str, better: str) -> str | None:
    """Direction of improvement of one scale, given the metric's direction."""
    flip = {"higher": "lower", "lower": "higher"}
    if metric == "nps" and scale == "passives":
        return None
    if metric == "nps" and scale == "detractors":
        return flip[better]
    return better
