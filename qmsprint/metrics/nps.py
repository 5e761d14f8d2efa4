"""NPS: likelihood to recommend, 0-10; NPS = % promoters (9-10) - % detractors (0-6)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from qmsprint.metrics.base import MetricDef, Scale, WeeklyView, count_of

if TYPE_CHECKING:  # pragma: no cover
    import ibis.expr.types as ir

    from qmsprint.spec import BaselineRates, Metric, Spec

# each answer's contribution to NPS on its -100..100 scale
NPS_VALUES = np.array([-100.0] * 7 + [0.0] * 2 + [100.0] * 2)


class NPS(MetricDef):
    """Net promoter score from the 0-10 survey answer."""

    name = "nps"
    label = "NPS"
    family = "ordinal"
    direction = "higher"
    unit = "NPS points"
    default_min_effect = 5.0
    survey = True
    column = "nps"
    column_kind = "level"
    scales = (
        Scale("nps", "NPS points", "nps", label="NPS"),
        Scale("promoters", "pp", "promoters", label="promoter share"),
        Scale("passives", "pp", "passives", direction="none", label="passive share"),
        Scale("detractors", "pp", "detractors", direction="flip", label="detractor share"),
    )
    weekly = WeeklyView("nps_promoters", "nps_n", 100.0, "NPS")
    balance_label = "Baseline NPS"

    def levels(self, spec: Spec) -> tuple[int, ...]:
        return tuple(range(11))

    def cumulative_form(self, key: str, spec: Spec) -> tuple[float, dict[int, float]]:
        # P(Y <= 6) are detractors, P(Y <= 8) - P(Y <= 6) passives, 1 - P(Y <= 8) promoters
        forms = {
            "nps": (100.0, {6: -100.0, 8: -100.0}),
            "promoters": (100.0, {8: -100.0}),
            "passives": (0.0, {6: -100.0, 8: 100.0}),
            "detractors": (0.0, {6: 100.0}),
        }
        return forms[key]

    def cell_columns(self, spec: Spec) -> tuple[str, list[str]]:
        return "nps_n", [f"nps_{k}" for k in range(11)]

    def cell_aggregates(self, t: ir.Table, spec: Spec) -> dict[str, ir.Value]:
        out: dict[str, ir.Value] = {"nps_n": count_of(t.nps.notnull())}
        for lv in range(11):
            out[f"nps_{lv}"] = count_of(t.nps == lv)
        return out

    def weekly_aggregates(self, t: ir.Table, spec: Spec) -> dict[str, ir.Value]:
        return {
            "nps_n": count_of(t.nps.notnull()),
            "nps_promoters": count_of(t.nps >= 9),
            "nps_detractors": count_of(t.nps <= 6),
        }

    def weekly_numerator(self, weekly: pd.DataFrame) -> pd.Series | None:
        if not {"nps_promoters", "nps_detractors"} <= set(weekly.columns):
            return None
        return (weekly["nps_promoters"] - weekly["nps_detractors"]).astype(float)

    def observations(self, frame: pd.DataFrame, m: Metric, spec: Spec) -> tuple[pd.Series, np.ndarray] | None:
        if "nps" not in frame:
            return None
        return pd.to_numeric(frame["nps"], errors="coerce"), NPS_VALUES

    def stated_baseline(self, rates: BaselineRates, m: Metric, spec: Spec):  # noqa: ANN201 - see base
        if rates.nps_promoters is None or rates.nps_detractors is None:
            return "nps_promoters", "nps_promoters and nps_detractors needed"
        passive = 1 - rates.nps_promoters - rates.nps_detractors
        if passive < 0:
            return "nps_promoters", "promoters + detractors > 1"
        shares = np.array([rates.nps_detractors / 7] * 7 + [passive / 2] * 2 + [rates.nps_promoters / 2] * 2)
        return NPS_VALUES, shares, rates.response_rate, None, None


METRIC = NPS()
