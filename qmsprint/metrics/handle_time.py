"""Handle time: seconds per interaction, a guardrail (positive and skewed).

Modelled as a log-link gamma on each cell's count, sum and sum of logs (:mod:`qmsprint.models.gamma`):
the effect on the mean in seconds stays right when handle times are not gamma (skewed, with a
fixed step added, mixtures); the sum of squares sets the interval width to the values' own variance.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from qmsprint.metrics.base import MetricDef, Scale, WeeklyView, count_of, sum_of

if TYPE_CHECKING:  # pragma: no cover
    import ibis.expr.types as ir

    from qmsprint.spec import BaselineRates, Metric, Spec


class HandleTime(MetricDef):
    """Average handle time in seconds (rows with a positive time)."""

    name = "handle_time"
    label = "Handle time"
    family = "gamma"
    direction = "lower"
    unit = "seconds"
    default_min_effect = 15.0
    column = "handle_time"
    column_kind = "number"
    scales = (
        Scale("mean", "seconds", "mean", label="average handle time"),
        Scale("relative", "%", "mean", relative=True),
    )
    weekly = WeeklyView("ht_sum", "ht_n", 1.0, "average handle time (s)")
    balance_label = "Baseline handle time (s)"

    def column_expect(self, spec: Spec) -> str:
        return "a number of seconds"

    def column_range(self, spec: Spec) -> tuple[float, float, bool, str] | None:
        return 1e-9, math.inf, False, "a handle time above 0 seconds"

    def cell_columns(self, spec: Spec) -> tuple[str, list[str]]:
        return "ht_n", ["ht_sum", "lht_sum", "ht_sumsq"]

    def cell_aggregates(self, t: ir.Table, spec: Spec) -> dict[str, ir.Value]:
        import ibis  # the data layer's; a share reads run folders without it

        ht = t.handle_time.cast("float64")
        good = ht.notnull() & (ht > 0)
        lht = ibis.ifelse(good, ht.ln(), ibis.null("float64"))
        return {
            "ht_n": count_of(good),
            "ht_sum": sum_of(ibis.ifelse(good, ht, 0.0)),
            "ht_sumsq": sum_of(ibis.ifelse(good, ht * ht, 0.0)),
            "lht_sum": sum_of(lht),
            "lht_sumsq": sum_of(lht * lht),
        }

    def weekly_aggregates(self, t: ir.Table, spec: Spec) -> dict[str, ir.Value]:
        import ibis

        ht = t.handle_time.cast("float64")
        good = ht.notnull() & (ht > 0)
        return {"ht_n": count_of(good), "ht_sum": sum_of(ibis.ifelse(good, ht, 0.0))}

    def stated_baseline(self, rates: BaselineRates, m: Metric, spec: Spec):  # noqa: ANN201 - see base
        if rates.handle_time_mean is None or rates.handle_time_sd is None:
            return "handle_time_mean", "handle_time_mean and handle_time_sd needed"
        return np.array([]), np.array([]), 1.0, float(rates.handle_time_mean), float(rates.handle_time_sd)


METRIC = HandleTime()
