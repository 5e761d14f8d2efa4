"""CSAT: post-contact satisfaction survey on an ordinal scale (1-5 by default)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from qmsprint.metrics.base import MetricDef, Scale, WeeklyView, count_of, sum_of

if TYPE_CHECKING:  # pragma: no cover
    import ibis.expr.types as ir

    from qmsprint.spec import BaselineRates, Metric, Spec


class CSAT(MetricDef):
    """Customer satisfaction, ordinal levels from the spec's ``csat_scale``."""

    name = "csat"
    label = "CSAT"
    family = "ordinal"
    direction = "higher"
    unit = "points"
    default_min_effect = 0.1
    survey = True
    column = "csat"
    column_kind = "level"
    scales = (
        Scale("mean", "points", "mean", label="average CSAT"),
        Scale("top2box", "pp", "top2box", label="top-2-box share"),
    )
    weekly = WeeklyView("csat_sum", "csat_n", 1.0, "average CSAT")
    balance_label = "Baseline CSAT (mean)"

    def levels(self, spec: Spec) -> tuple[int, ...]:
        lo, hi = spec.csat_scale
        return tuple(range(lo, hi + 1))

    def cumulative_form(self, key: str, spec: Spec) -> tuple[float, dict[int, float]]:
        lv = np.asarray(self.levels(spec), dtype=float)
        if key == "mean":  # mean = l_max - sum_j (l_j+1 - l_j) P(Y <= l_j)
            return float(lv[-1]), {j: -float(step) for j, step in enumerate(np.diff(lv))}
        if key == "top2box":  # P(Y >= second-highest level) = 1 - P(Y <= third-highest)
            return 100.0, ({len(lv) - 3: -100.0} if len(lv) >= 3 else {})
        raise KeyError(key)

    def column_range(self, spec: Spec) -> tuple[float, float, bool, str] | None:
        lo, hi = spec.csat_scale
        return lo, hi, True, f"whole numbers on the CSAT scale {lo}-{hi} (csat_scale in the spec)"

    def cell_columns(self, spec: Spec) -> tuple[str, list[str]]:
        return "csat_n", [f"csat_{k}" for k in self.levels(spec)]

    def cell_aggregates(self, t: ir.Table, spec: Spec) -> dict[str, ir.Value]:
        out: dict[str, ir.Value] = {"csat_n": count_of(t.csat.notnull())}
        for lv in self.levels(spec):
            out[f"csat_{lv}"] = count_of(t.csat == lv)
        return out

    def weekly_aggregates(self, t: ir.Table, spec: Spec) -> dict[str, ir.Value]:
        return {"csat_n": count_of(t.csat.notnull()), "csat_sum": sum_of(t.csat)}

    def observations(self, frame: pd.DataFrame, m: Metric, spec: Spec) -> tuple[pd.Series, np.ndarray] | None:
        if "csat" not in frame:
            return None
        return pd.to_numeric(frame["csat"], errors="coerce"), np.array(self.levels(spec), dtype=float)

    def stated_baseline(self, rates: BaselineRates, m: Metric, spec: Spec):  # noqa: ANN201 - see base
        from qmsprint.stats import discretized_normal_shares

        lo, hi = spec.csat_scale
        if rates.csat_mean is None:
            return "csat_mean", "needed for the csat metric"
        if not lo < rates.csat_mean < hi:
            return "csat_mean", f"must lie inside the scale {lo}-{hi}"
        values = np.arange(lo, hi + 1, dtype=float)
        shares = discretized_normal_shares(rates.csat_mean, rates.csat_sd or 1.0, lo, hi)
        return values, shares, rates.response_rate, None, None


METRIC = CSAT()
