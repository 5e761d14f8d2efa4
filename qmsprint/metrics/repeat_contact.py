"""Repeat contacts: the same customer contacts again within the spec's window (derived)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from qmsprint.metrics.base import BINARY_VALUES, MetricDef, Scale, WeeklyView, count_of

if TYPE_CHECKING:  # pragma: no cover
    import ibis.expr.types as ir

    from qmsprint.spec import BaselineRates, Metric, Spec


class RepeatContact(MetricDef):
    """Share of interactions followed by a repeat contact within the window."""

    name = "repeat_contact"
    label = "Repeat contacts"
    plural = True
    family = "binomial"
    direction = "lower"
    unit = "pp"
    default_min_effect = 1.0
    column = None  # derived from customer ids and timestamps (qmsprint.data.repeat)
    scales = (Scale("rate", "pp", "rate", label="repeat-contact rate"), Scale("relative", "%", "rate", relative=True))
    weekly = WeeklyView("repeat_yes", "repeat_n", 100.0, "repeat contacts (%)")
    balance_label = "Baseline repeat contacts (%)"

    def inputs(self, m: Metric) -> tuple[str, ...]:
        return ("customer_id",)

    def cell_columns(self, spec: Spec) -> tuple[str, list[str]]:
        return "repeat_n", ["repeat_yes"]

    def cell_aggregates(self, t: ir.Table, spec: Spec) -> dict[str, ir.Value]:
        return {"repeat_n": count_of(t.repeat_contact.notnull()), "repeat_yes": count_of(t.repeat_contact)}

    def weekly_aggregates(self, t: ir.Table, spec: Spec) -> dict[str, ir.Value]:
        return self.cell_aggregates(t, spec)

    def observations(self, frame: pd.DataFrame, m: Metric, spec: Spec) -> tuple[pd.Series, np.ndarray] | None:
        if "repeat_contact" not in frame:
            return None
        rc = frame["repeat_contact"]
        return rc.astype("float").where(rc.notna()), BINARY_VALUES

    def stated_baseline(self, rates: BaselineRates, m: Metric, spec: Spec):  # noqa: ANN201 - see base
        if rates.repeat_rate is None:
            return "repeat_rate", "needed for the repeat_contact metric"
        p = rates.repeat_rate
        return BINARY_VALUES, np.array([1 - p, p]), 1.0, None, None


METRIC = RepeatContact()
