"""First contact resolution: from a survey/disposition column, or as "no repeat contact"."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from qmsprint.metrics.base import BINARY_VALUES, MetricDef, Scale, WeeklyView, count_of

if TYPE_CHECKING:  # pragma: no cover
    import ibis.expr.types as ir

    from qmsprint.spec import BaselineRates, Metric, Spec


def source(spec: Spec) -> str:
    """``column`` or ``no_repeat``: where FCR comes from in this spec."""
    for m in spec.metrics:
        if m.name == "fcr":
            return m.source
    return "column"


def known_and_yes(t: ir.Table, spec: Spec) -> tuple[ir.BooleanValue, ir.BooleanValue]:
    """(FCR known, FCR yes). ``no_repeat``: known where repeat_contact is, yes where it is false.

    Written without ``~repeat_contact``: Ibis 12 renders ``(~x).notnull()`` as
    ``NOT (x) IS NOT NULL``, which SQL reads as ``NOT (x IS NOT NULL)``.
    """
    if source(spec) == "no_repeat":
        return t.repeat_contact.notnull(), t.repeat_contact == False  # noqa: E712 - SQL comparison
    return t.fcr.notnull(), t.fcr


class FCR(MetricDef):
    """First contact resolution rate."""

    name = "fcr"
    label = "First contact resolution"
    family = "binomial"
    direction = "higher"
    unit = "pp"
    default_min_effect = 2.0
    column = "fcr"
    column_kind = "bool"
    scales = (Scale("rate", "pp", "rate", label="FCR rate"), Scale("relative", "%", "rate", relative=True))
    weekly = WeeklyView("fcr_yes", "fcr_n", 100.0, "FCR (%)")
    balance_label = "Baseline FCR (%)"

    def inputs(self, m: Metric) -> tuple[str, ...]:
        return ("customer_id",) if m.source == "no_repeat" else ("fcr",)

    def cell_columns(self, spec: Spec) -> tuple[str, list[str]]:
        return "fcr_n", ["fcr_yes"]

    def cell_aggregates(self, t: ir.Table, spec: Spec) -> dict[str, ir.Value]:
        known, yes = known_and_yes(t, spec)
        return {"fcr_n": count_of(known), "fcr_yes": count_of(yes)}

    def weekly_aggregates(self, t: ir.Table, spec: Spec) -> dict[str, ir.Value]:
        return self.cell_aggregates(t, spec)

    def observations(self, frame: pd.DataFrame, m: Metric, spec: Spec) -> tuple[pd.Series, np.ndarray] | None:
        if m.source == "no_repeat":
            if "repeat_contact" not in frame:
                return None
            rc = frame["repeat_contact"]
            return (1.0 - rc.astype("float")).where(rc.notna()), BINARY_VALUES
        if "fcr" not in frame:
            return None
        f = frame["fcr"]
        return f.astype("float").where(f.notna()), BINARY_VALUES

    def stated_baseline(self, rates: BaselineRates, m: Metric, spec: Spec):  # noqa: ANN201 - see base
        if rates.fcr_rate is None:
            return "fcr_rate", "needed for the fcr metric"
        p = rates.fcr_rate
        rr = rates.response_rate if m.source == "column" else 1.0
        return BINARY_VALUES, np.array([1 - p, p]), rr, None, None


METRIC = FCR()
