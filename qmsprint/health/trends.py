"""Parallel trends (DiD): were the two groups already drifting apart before the pilot.

``parallel_trends``
    Per metric, the weekly baseline gap between the groups is regressed on the week
    (:func:`qmsprint.stats.trend_slope`): its slope (per week, with a t interval) times the
    distance in weeks between the centres of the baseline and the pilot is the bias the DiD would
    carry if the gap kept drifting. Alert when the slope is clearly non-zero (p < 0.01) and that
    bias is at least half the metric's ``min_effect``; warn at p < 0.05. The weekly series are in
    ``data`` for a plot.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from qmsprint.health.base import STATUS_ORDER, fmt_p, json_float, worst
from qmsprint.health.tables import weekly_gap
from qmsprint.results import HealthCheck
from qmsprint.spec import Spec
from qmsprint.stats import trend_slope

__all__ = ["TRENDS_ALERT_P", "TRENDS_WARN_P", "check_parallel_trends"]

TRENDS_ALERT_P = 0.01
TRENDS_WARN_P = 0.05


def _week_index(weeks: pd.Series) -> np.ndarray:
    """Weeks since the first one (0, 1, 2, ...) of a series of dates."""
    w = pd.to_datetime(weeks)
    return ((w - w.min()).dt.days / 7.0).to_numpy()


def _centre_distance_weeks(spec: Spec, weekly: pd.DataFrame) -> float:
    """Weeks between the centres of the baseline and pilot periods."""
    p = spec.periods
    if p.baseline is not None and p.pilot is not None:
        cb = pd.Timestamp(p.baseline.start) + (pd.Timestamp(p.baseline.end) - pd.Timestamp(p.baseline.start)) / 2
        cp = pd.Timestamp(p.pilot.start) + (pd.Timestamp(p.pilot.end) - pd.Timestamp(p.pilot.start)) / 2
        return (cp - cb).days / 7.0
    wk = pd.to_datetime(weekly["week"])
    b, pl = wk[weekly["period"] == "baseline"], wk[weekly["period"] == "pilot"]
    if len(b) and len(pl):
        return ((pl.min() + (pl.max() - pl.min()) / 2) - (b.min() + (b.max() - b.min()) / 2)).days / 7.0
    return float("nan")


def _trend_status(p: float, rel: float) -> str:
    if np.isfinite(p):
        if p < TRENDS_ALERT_P and rel >= 0.5:
            return "alert"
        if p < TRENDS_WARN_P:
            return "warn"
    return "ok"


def check_parallel_trends(weekly: pd.DataFrame, spec: Spec) -> HealthCheck:
    """Parallel pre-trends of the two groups (DiD): slope of the weekly baseline gap per metric."""
    distance = _centre_distance_weeks(spec, weekly)
    series: dict[str, Any] = {}
    statuses, worst_text, worst_key = [], "", (-1, -1.0)
    for m in spec.metrics:
        gap = weekly_gap(weekly, spec, m.name)
        if gap is None or len(gap) < 3:
            continue
        x = _week_index(gap["week"])
        fit = trend_slope(x, gap["gap"].to_numpy())
        bias = fit["slope"] * distance if np.isfinite(distance) else float("nan")
        rel = abs(bias) / m.threshold if np.isfinite(bias) else float("nan")
        st = _trend_status(fit["p"], rel)
        statuses.append(st)
        unit = m.info.unit
        text = (
            f"{m.info.label}: the baseline gap between groups drifts by {fit['slope']:+.3g} {unit} per week "
            f"(95% interval {fit['low']:+.3g} to {fit['high']:+.3g}, {fmt_p(fit['p'])}), "
            f"a bias of about {bias:+.3g} {unit} on the DiD if it continued (min_effect {m.threshold:g})"
        )
        key = (STATUS_ORDER[st], rel if np.isfinite(rel) else 0.0)
        if key > worst_key:
            worst_key, worst_text = key, text
        fitted = fit.get("intercept", np.nan) + fit["slope"] * x
        series[m.name] = {
            "weeks": [str(pd.Timestamp(w).date()) for w in gap["week"]],
            "control": [json_float(v) for v in gap["control"]],
            "treatment": [json_float(v) for v in gap["treatment"]],
            "gap": [json_float(v) for v in gap["gap"]],
            "fitted_gap": [json_float(v) for v in fitted],
            "slope_per_week": json_float(fit["slope"]),
            "slope_low": json_float(fit["low"]),
            "slope_high": json_float(fit["high"]),
            "p": json_float(fit["p"]),
            "projected_bias": json_float(bias),
            "min_effect": m.threshold,
            "unit": unit,
            "status": st,
        }
    if not series:
        return HealthCheck(
            "parallel_trends", "ok", "Parallel trends not checked: fewer than 3 baseline weeks with both groups.", {}
        )
    status = worst(statuses)
    msg = worst_text + (
        ": the groups were already drifting apart, so the DiD may be biased." if status != "ok" else "."
    )
    return HealthCheck(
        "parallel_trends", status, msg, {"metrics": series, "centre_distance_weeks": json_float(distance)}
    )
