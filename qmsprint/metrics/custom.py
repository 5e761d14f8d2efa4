"""Custom outcome metrics declared in the experiment file: one factory per type.

An experiment file can declare an outcome qmsprint does not know, with the same models,
decisions, report and app as the built-in ones::

    [[metrics]]
    name = "retained_90d"            # any name (letters, digits, _)
    column = "Retained 90 days"      # the client's column
    type = "binary"                  # binary | ordinal (with levels) | count | continuous
    label = "Customers retained 90 days"
    direction = "higher"
    min_effect = 1.0                 # pp for binary; points for ordinal; units for count / continuous
    value_per_unit = 400.0           # value of one retained customer (joins the business impact)

or derive a binary outcome from the contact log, like repeat contacts (:mod:`qmsprint.data.derived`)::

    [[metrics]]
    name = "churn_30d"
    label = "Customers churned within 30 days"
    direction = "lower"
    within_days = 30
    event_date_column = "Cancellation date"   # or event_column = "Cancelled" (a yes/no flag on the
                                              # contact where it happened), or events = "churn.csv"

Each type maps to a registered model family (:mod:`qmsprint.models`): ``binary`` -> ``binomial``
(rate in pp, relative change in %), ``ordinal`` -> ``ordinal`` (mean in points and the top-2-box
share in pp), ``count`` -> ``counts`` (negative binomial: mean per contact and relative change),
``continuous`` -> ``gamma`` (positive values such as a cost: mean and relative change).

:func:`qmsprint.metrics.custom_entries.register_entries` builds one of these for every custom
``[[metrics]]`` entry of a raw experiment file and registers it, before the spec checks metric
names (:func:`qmsprint.spec.parse_spec`); it also maps the client's column to the metric's
canonical column (the metric's name) in ``[data.columns]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from qmsprint.metrics.base import BINARY_VALUES, MetricDef, Scale, WeeklyView, count_of, sum_of

if TYPE_CHECKING:  # pragma: no cover
    import ibis.expr.types as ir

    from qmsprint.spec import BaselineRates, Metric, Spec

TYPES = ("binary", "ordinal", "count", "continuous")
FAMILY_OF_TYPE = {"binary": "binomial", "ordinal": "ordinal", "count": "counts", "continuous": "gamma"}
DERIVED_SOURCES = ("event_column", "event_date_column", "events")
EVENT_SUFFIX = "__event"  # canonical column of a derived metric's yes/no event flag
DATE_SUFFIX = "__date"  # canonical column of a derived metric's event date


@dataclass(frozen=True)
class Derivation:
    """How a derived binary outcome is computed from the contact log (:mod:`qmsprint.data.derived`).

    Attributes
    ----------
    within_days
        Window: an interaction at time ``t`` has the outcome when the customer has an event at
        a time ``s`` with ``t <= s <= t + within_days`` days.
    source
        ``event_column`` (a yes/no flag on the interaction where the event happened),
        ``event_date_column`` (the date of the customer's event on their rows) or ``events``
        (a separate file listing events: customer id and date).
    column
        Canonical column of the flag or date (``<name>__event`` / ``<name>__date``), or None.
    events
        Path of the events file (relative to the experiment file), or None.
    events_columns
        Columns of the events file: ``customer_id`` and ``timestamp`` (default: those names).
    observed_until
        Last day events are known for (ISO date); default: the last timestamp of the contact log.

    """

    within_days: int
    source: str
    column: str | None = None
    events: str | None = None
    events_columns: tuple[tuple[str, str], ...] = (("customer_id", "customer_id"), ("timestamp", "timestamp"))
    observed_until: str | None = None

    @property
    def events_map(self) -> dict[str, str]:
        """Events-file columns: ``customer_id`` and ``timestamp`` -> the file's column names."""
        return dict(self.events_columns)


class CustomMetric(MetricDef):
    """A metric declared in an experiment file (see the module docstring); one subclass per type."""

    type: str = ""
    derivation: Derivation | None = None

    def __init__(self, entry: dict[str, Any]) -> None:
        self.name = str(entry["name"])
        self.label = str(entry.get("label") or self.name.replace("_", " ").capitalize())
        plural = entry.get("plural")
        self.plural = bool(plural) if plural is not None else _reads_plural(self.label)
        self.direction = entry.get("direction") or "higher"
        self.survey = bool(entry.get("survey", False))
        self.column = self.name
        self.baseline = entry.get("baseline")
        self.baseline_sd = entry.get("baseline_sd")
        self.balance_label = f"Baseline {self.subject()}"
        self.entry = dict(entry)

    # ---- cells ----------------------------------------------------------------------------

    @property
    def count_column(self) -> str:
        """Cell column: observations of this metric per cell."""
        return f"{self.name}_n"

    def _value(self, t: ir.Table) -> ir.Value | None:
        """The metric's column in ``t`` (None when the table does not have it, e.g. another spec's)."""
        return t[self.name] if self.name in t.columns else None

    def stated_baseline(self, rates: BaselineRates, m: Metric, spec: Spec):  # noqa: ANN201 - see base
        return "baseline_rates", (
            f"the custom metric {self.name} states its baseline in its own [[metrics]] entry "
            "(baseline, and baseline_sd for count / continuous metrics)"
        )

    def __repr__(self) -> str:
        return f"<custom metric {self.name}: {self.type}, {self.family}, {self.unit}>"


class BinaryMetric(CustomMetric):
    """Yes/no outcome per interaction (retained, sale made, churned): a rate in pp."""

    type = "binary"
    family = "binomial"
    unit = "pp"
    default_min_effect = 1.0
    column_kind = "bool"

    def __init__(self, entry: dict[str, Any]) -> None:
        super().__init__(entry)
        self.scales = (
            Scale("rate", "pp", "rate", label=f"{self.subject()} rate"),
            Scale("relative", "%", "rate", relative=True),
        )
        self.weekly = WeeklyView(f"{self.name}_yes", self.count_column, 100.0, f"{self.label} (%)")
        self.balance_label = f"Baseline {self.subject()} (%)"

    def cell_columns(self, spec: Spec) -> tuple[str, list[str]]:
        return self.count_column, [f"{self.name}_yes"]

    def cell_aggregates(self, t: ir.Table, spec: Spec) -> dict[str, ir.Value]:
        v = self._value(t)
        if v is None:
            return {}
        return {self.count_column: count_of(v.notnull()), f"{self.name}_yes": count_of(v)}

    def weekly_aggregates(self, t: ir.Table, spec: Spec) -> dict[str, ir.Value]:
        return self.cell_aggregates(t, spec)

    def observations(self, frame: pd.DataFrame, m: Metric, spec: Spec) -> tuple[pd.Series, np.ndarray] | None:
        if self.name not in frame:
            return None
        v = frame[self.name]
        return v.astype("float").where(v.notna()), BINARY_VALUES

    def stated_baseline(self, rates: BaselineRates, m: Metric, spec: Spec):  # noqa: ANN201 - see base
        p = self.baseline
        if p is None:
            return super().stated_baseline(rates, m, spec)
        return BINARY_VALUES, np.array([1 - p, p]), rates.response_rate if self.survey else 1.0, None, None


class DerivedBinaryMetric(BinaryMetric):
    """A yes/no outcome derived from the contact log within a window (:mod:`qmsprint.data.derived`)."""

    def __init__(self, entry: dict[str, Any], derivation: Derivation) -> None:
        super().__init__(entry)
        self.derivation = derivation
        self.column = None  # derived, like repeat contacts
        self.column_kind = None

    def source_columns(self) -> dict[str, str]:
        d = self.derivation
        assert d is not None
        if d.column is None:
            return {}
        return {d.column: "bool" if d.source == "event_column" else "timestamp"}

    def inputs(self, m: Metric) -> tuple[str, ...]:
        d = self.derivation
        assert d is not None
        return ("customer_id",) + ((d.column,) if d.column else ())


class OrdinalMetric(CustomMetric):
    """Ordered answers on consecutive whole-number levels: mean in points, top-2-box share in pp."""

    type = "ordinal"
    family = "ordinal"
    unit = "points"
    default_min_effect = 0.1
    column_kind = "level"

    def __init__(self, entry: dict[str, Any]) -> None:
        super().__init__(entry)
        self._levels = tuple(int(v) for v in entry["levels"])
        self.scales = (
            Scale("mean", "points", "mean", label=f"average {self.subject()}"),
            Scale("top2box", "pp", "top2box", label="top-2-box share"),
        )
        self.weekly = WeeklyView(f"{self.name}_sum", self.count_column, 1.0, f"average {self.subject()}")
        self.balance_label = f"Baseline {self.subject()} (mean)"

    def levels(self, spec: Spec) -> tuple[int, ...]:
        return self._levels

    def cumulative_form(self, key: str, spec: Spec) -> tuple[float, dict[int, float]]:
        lv = np.asarray(self._levels, dtype=float)
        if key == "mean":  # mean = l_max - sum_j (l_j+1 - l_j) P(Y <= l_j)
            return float(lv[-1]), {j: -float(step) for j, step in enumerate(np.diff(lv))}
        if key == "top2box":  # P(Y >= second-highest level)
            return 100.0, ({len(lv) - 3: -100.0} if len(lv) >= 3 else {})
        raise KeyError(key)

    def column_range(self, spec: Spec) -> tuple[float, float, bool, str] | None:
        lo, hi = self._levels[0], self._levels[-1]
        return lo, hi, True, f"whole numbers {lo}-{hi} (the levels of {self.name})"

    def cell_columns(self, spec: Spec) -> tuple[str, list[str]]:
        return self.count_column, [f"{self.name}_{k}" for k in self._levels]

    def cell_aggregates(self, t: ir.Table, spec: Spec) -> dict[str, ir.Value]:
        v = self._value(t)
        if v is None:
            return {}
        out: dict[str, ir.Value] = {self.count_column: count_of(v.notnull())}
        for lv in self._levels:
            out[f"{self.name}_{lv}"] = count_of(v == lv)
        return out

    def weekly_aggregates(self, t: ir.Table, spec: Spec) -> dict[str, ir.Value]:
        v = self._value(t)
        if v is None:
            return {}
        return {self.count_column: count_of(v.notnull()), f"{self.name}_sum": sum_of(v)}

    def observations(self, frame: pd.DataFrame, m: Metric, spec: Spec) -> tuple[pd.Series, np.ndarray] | None:
        if self.name not in frame:
            return None
        return pd.to_numeric(frame[self.name], errors="coerce"), np.array(self._levels, dtype=float)

    def stated_baseline(self, rates: BaselineRates, m: Metric, spec: Spec):  # noqa: ANN201 - see base
        from qmsprint.stats import discretized_normal_shares

        if self.baseline is None:
            return super().stated_baseline(rates, m, spec)
        lo, hi = self._levels[0], self._levels[-1]
        values = np.asarray(self._levels, dtype=float)
        shares = discretized_normal_shares(float(self.baseline), float(self.baseline_sd or 1.0), lo, hi)
        return values, shares, rates.response_rate if self.survey else 1.0, None, None


class _MeanMetric(CustomMetric):
    """A metric reported as its mean per interaction and the relative change (count, continuous)."""

    default_min_effect = 1.0
    column_kind = "number"

    def __init__(self, entry: dict[str, Any], default_unit: str) -> None:
        super().__init__(entry)
        self.unit = str(entry.get("unit") or default_unit)
        self.scales = (
            Scale("mean", self.unit, "mean", label=f"average {self.subject()}"),
            Scale("relative", "%", "mean", relative=True),
        )
        self.weekly = WeeklyView(f"{self.name}_sum", self.count_column, 1.0, f"average {self.subject()}")
        self.balance_label = f"Baseline {self.subject()} (mean)"

    def weekly_aggregates(self, t: ir.Table, spec: Spec) -> dict[str, ir.Value]:
        aggs = self.cell_aggregates(t, spec)
        return {k: aggs[k] for k in (self.count_column, f"{self.name}_sum") if k in aggs}

    def stated_baseline(self, rates: BaselineRates, m: Metric, spec: Spec):  # noqa: ANN201 - see base
        if self.baseline is None or self.baseline_sd is None:
            return super().stated_baseline(rates, m, spec)
        return (
            np.array([]),
            np.array([]),
            rates.response_rate if self.survey else 1.0,
            float(self.baseline),
            float(self.baseline_sd),
        )


class CountMetric(_MeanMetric):
    """Whole numbers >= 0 per interaction (products sold, follow-ups): negative binomial on cell sums."""

    type = "count"
    family = "counts"

    def __init__(self, entry: dict[str, Any]) -> None:
        super().__init__(entry, "per contact")

    def column_expect(self, spec: Spec) -> str:
        return "a whole number 0 or more"

    def column_range(self, spec: Spec) -> tuple[float, float, bool, str] | None:
        return 0, math.inf, True, "whole numbers 0 or more"

    def cell_columns(self, spec: Spec) -> tuple[str, list[str]]:
        return self.count_column, [f"{self.name}_sum", f"{self.name}_sumsq"]

    def cell_aggregates(self, t: ir.Table, spec: Spec) -> dict[str, ir.Value]:
        v = self._value(t)
        if v is None:
            return {}
        x = v.cast("float64")
        return {
            self.count_column: count_of(x.notnull()),
            f"{self.name}_sum": sum_of(x),
            f"{self.name}_sumsq": sum_of(x * x),
        }


class ContinuousMetric(_MeanMetric):
    """Positive amounts per interaction (a cost, a basket value): log-link gamma on cell sums."""

    type = "continuous"
    family = "gamma"

    def __init__(self, entry: dict[str, Any]) -> None:
        super().__init__(entry, "units")

    def column_expect(self, spec: Spec) -> str:
        return "a number above 0"

    def column_range(self, spec: Spec) -> tuple[float, float, bool, str] | None:
        return 1e-12, math.inf, False, "a positive number (the gamma model of a continuous metric needs values above 0)"

    def cell_columns(self, spec: Spec) -> tuple[str, list[str]]:
        return self.count_column, [f"{self.name}_sum", f"{self.name}_log_sum", f"{self.name}_sumsq"]

    def cell_aggregates(self, t: ir.Table, spec: Spec) -> dict[str, ir.Value]:
        import ibis

        v = self._value(t)
        if v is None:
            return {}
        x = v.cast("float64")
        good = x.notnull() & (x > 0)
        xv = ibis.ifelse(good, x, ibis.null("float64"))
        return {
            self.count_column: count_of(good),
            f"{self.name}_sum": sum_of(xv),
            f"{self.name}_log_sum": sum_of(xv.ln()),
            f"{self.name}_sumsq": sum_of(xv * xv),
        }


def _reads_plural(label: str) -> bool:
    """A label reads as a plural when its first word does (``Customers retained``, ``Sales``)."""
    first = label.split()[0].lower() if label.split() else ""
    return first.endswith("s") and not first.endswith(("ss", "us", "is"))
