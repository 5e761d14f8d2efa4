"""What qmsprint knows about one outcome metric, declared once.

A metric is a :class:`MetricDef` subclass in its own module of this package (``csat.py``,
``fcr.py``, ...). Class attributes say what the metric is (family, unit, label, direction, the
canonical column it is read from); the methods say how it is reduced to cells and weekly totals,
how it is read in a baseline and which scales its effect is reported on. Everything downstream
(data layer, models, design, health checks, decisions, app and report) asks the registry
(:mod:`qmsprint.metrics`) instead of testing metric names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    import ibis.expr.types as ir

    from qmsprint.spec import BaselineRates, Metric, Spec

Family = Literal["ordinal", "binomial", "gamma", "continuous"]
Direction = Literal["higher", "lower"]
ColumnKind = Literal["level", "bool", "number", "timestamp"]
# canonical (Ibis) type of an input column by how it is parsed
COLUMN_TYPES = {"level": "int64", "bool": "boolean", "number": "float64", "timestamp": "timestamp"}

BINARY_VALUES = np.array([0.0, 100.0])  # a binary outcome on its reported scale (pp)


@dataclass(frozen=True)
class Scale:
    """One scale an effect is reported on.

    Parameters
    ----------
    name
        Scale name (``mean``, ``top2box``, ``rate``, ``relative``, ``nps``, ...).
    unit
        Unit of effects on this scale (``points``, ``pp``, ``%``, ``seconds``, ...).
    key
        Level key the family's cell function evaluates (``mean``, ``top2box``, ``rate``, ...).
    relative
        Effect as a percentage of the control level.
    direction
        ``same`` as the metric, ``flip`` (detractors: fewer is better) or ``none`` (no good side).
    label
        Short label of the level on this scale (``top-2-box share``).

    """

    name: str
    unit: str
    key: str
    relative: bool = False
    direction: Literal["same", "flip", "none"] = "same"
    label: str = ""


@dataclass(frozen=True)
class WeeklyView:
    """How a metric's weekly level is read from the weekly table.

    ``value = factor * numerator / denominator``; a metric whose numerator is not one column
    overrides :meth:`MetricDef.weekly_numerator`.
    """

    numerator: str
    denominator: str
    factor: float
    label: str


class MetricDef:
    """Base class of a metric declaration; subclasses set the class attributes.

    Attributes
    ----------
    name
        Name used in experiment files (``[[metrics]] name = ...``).
    label
        Human label (``First contact resolution``).
    plural
        The label reads as a plural (``Repeat contacts fall``).
    family
        Model family registered in :mod:`qmsprint.models` (``ordinal``, ``binomial``, ``gamma``, ``continuous``).
    direction
        Default direction of improvement.
    unit
        Unit of the headline effect and of ``min_effect``.
    default_min_effect
        Default smallest effect worth acting on, in ``unit``.
    survey
        Answered by a customer survey (response rates are checked, ``reweight_by`` applies).
    column
        Canonical input column the metric is read from (None when derived, e.g. repeat contacts).
    column_kind
        How that column is parsed: ``level`` (integer, leading number of "4 - Satisfied"),
        ``bool`` or ``number``.
    scales
        Reported scales, headline first.
    weekly
        Weekly level view (trend charts and the parallel-trends check), or None.
    balance_label
        Row label in the baseline balance table.

    """

    name: ClassVar[str]
    label: ClassVar[str]
    plural: ClassVar[bool] = False
    family: ClassVar[Family]
    direction: ClassVar[Direction] = "higher"
    unit: ClassVar[str]
    default_min_effect: ClassVar[float]
    survey: ClassVar[bool] = False
    column: ClassVar[str | None] = None
    column_kind: ClassVar[ColumnKind | None] = None
    scales: ClassVar[tuple[Scale, ...]]
    weekly: ClassVar[WeeklyView | None] = None
    balance_label: ClassVar[str] = ""

    # ---- reading -------------------------------------------------------------------------

    @property
    def headline(self) -> Scale:
        """The scale decisions use (in the unit of ``min_effect``)."""
        return self.scales[0]

    def scale(self, name: str) -> Scale:
        """One reported scale by name."""
        for s in self.scales:
            if s.name == name:
                return s
        raise KeyError(f"{self.name} has no scale {name!r}; it has {', '.join(s.name for s in self.scales)}")

    def scale_direction(self, scale: str, better: Direction) -> Direction | None:
        """Direction of improvement on one scale, given the metric's direction in the spec."""
        d = self.scale(scale).direction
        if d == "none":
            return None
        if d == "flip":
            return "lower" if better == "higher" else "higher"
        return better

    def verbs(self, better: Direction) -> tuple[str, str]:
        """(verb for getting better, verb for getting worse), agreeing with the label in number."""
        if better == "lower":
            return ("fall", "rise") if self.plural else ("falls", "rises")
        return ("improve", "worsen") if self.plural else ("improves", "worsens")

    def subject(self) -> str:
        """The label as used mid-sentence: acronyms kept, other labels in lower case."""
        return self.label if self.label.isupper() else self.label.lower()

    def levels(self, spec: Spec) -> tuple[int, ...]:
        """Ordered response levels (ordinal metrics)."""
        return ()

    def cumulative_form(self, key: str, spec: Spec) -> tuple[float, dict[int, float]]:
        """An ordinal scale as ``a + sum_j w_j P(Y <= level_j)`` (cutpoint index j -> w_j).

        Every ordinal level key is linear in the cumulative probabilities, so effects evaluate
        only the cutpoints a scale needs (two of ten for NPS). Ordinal metrics override this.
        """
        raise NotImplementedError(f"{self.name} is not ordinal")

    # ---- data ----------------------------------------------------------------------------

    value_range: ClassVar[tuple[float, float]] = (-math.inf, math.inf)  # ``number`` columns: allowed values

    def column_type(self) -> str:
        """Canonical (Ibis) type of the input column: ``int64``, ``boolean`` or ``float64``."""
        return COLUMN_TYPES[self.column_kind or "number"]

    def source_columns(self) -> dict[str, ColumnKind]:
        """Canonical input columns read from the data and how each is parsed (default: ``column``).

        A derived metric (e.g. a custom "churned within 30 days", :mod:`qmsprint.metrics.custom`)
        may read other columns (an event flag or date) instead of a column of its own.
        """
        return {self.column: self.column_kind or "number"} if self.column else {}

    def column_expect(self, spec: Spec) -> str:
        """What a readable value of the input column looks like (for parse errors)."""
        if self.column_kind == "level":
            lv = self.levels(spec)
            return f"a whole number {lv[0]}-{lv[-1]} (labels like '4 - Satisfied' are fine) or empty"
        if self.column_kind == "bool":
            return "yes/no, true/false or 1/0, or empty"
        if self.column_kind == "timestamp":
            return "a date or date/time (ISO like 2026-03-02), or empty"
        return "a number"

    def column_range(self, spec: Spec) -> tuple[float, float, bool, str] | None:
        """(low, high, whole numbers only, what is expected) for the input column, or None."""
        if self.column_kind == "level":
            lv = self.levels(spec)
            return lv[0], lv[-1], True, f"whole numbers {lv[0]}-{lv[-1]}"
        if self.column_kind == "number" and self.value_range != (-math.inf, math.inf):
            lo, hi = self.value_range
            return lo, hi, False, f"a number from {lo:g} to {hi:g}"
        return None

    def inputs(self, m: Metric) -> tuple[str, ...]:
        """Canonical columns this metric needs in the data."""
        return (self.column,) if self.column else ()

    def cell_columns(self, spec: Spec) -> tuple[str, list[str]]:
        """(count column, statistic columns) the models read from the cells."""
        raise NotImplementedError

    def cell_aggregates(self, t: ir.Table, spec: Spec) -> dict[str, ir.Value]:
        """Ibis aggregates that add this metric's cell columns (see :func:`qmsprint.data.cells`)."""
        raise NotImplementedError

    def weekly_aggregates(self, t: ir.Table, spec: Spec) -> dict[str, ir.Value]:
        """Ibis aggregates of the weekly table for this metric."""
        return {}

    def weekly_numerator(self, weekly: pd.DataFrame) -> pd.Series | None:
        """Numerator of the weekly level (before ``factor``), or None when its columns are absent."""
        if self.weekly is None or self.weekly.numerator not in weekly:
            return None
        return weekly[self.weekly.numerator].astype(float)

    def weekly_level(self, weekly: pd.DataFrame) -> tuple[pd.Series, pd.Series] | None:
        """(numerator on the reported scale, denominator) per weekly row, or None."""
        w = self.weekly
        if w is None or weekly is None or w.denominator not in weekly:
            return None
        num = self.weekly_numerator(weekly)
        if num is None:
            return None
        return w.factor * num, weekly[w.denominator].astype(float)

    def observations(self, frame: pd.DataFrame, m: Metric, spec: Spec) -> tuple[pd.Series, np.ndarray] | None:
        """(values per interaction on the natural scale, level values or empty) from canonical rows."""
        col = self.column
        if col is None or col not in frame:
            return None
        if self.family == "binomial":
            v = frame[col]
            return v.astype("float").where(v.notna()) * 1.0, BINARY_VALUES
        return pd.to_numeric(frame[col], errors="coerce"), np.array([])

    def stated_baseline(
        self, rates: BaselineRates, m: Metric, spec: Spec
    ) -> tuple[np.ndarray, np.ndarray, float, float | None, float | None] | tuple[str, str]:
        """Baseline distribution from stated rates (``design_grid.baseline_rates``).

        Returns
        -------
        tuple
            ``(values, shares, response_rate, mean, sd)`` (``mean``/``sd`` only for continuous
            metrics, where ``values`` is empty), or ``(key, message)`` naming the missing rate.

        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<metric {self.name}: {self.family}, {self.unit}>"


KIND_EXPECT = {
    "level": "a whole number or empty",
    "bool": "yes/no, true/false or 1/0, or empty",
    "number": "a number",
    "timestamp": "a date or date/time (ISO like 2026-03-02), or empty",
}


def count_of(cond: ir.BooleanValue) -> ir.IntegerValue:
    """Number of rows where ``cond`` is true (nulls count as false), as int64.

    ``SUM(CAST(cond AS INT))`` (a null condition adds nothing): in DuckDB about 3x cheaper per
    aggregate than ``SUM(CASE WHEN COALESCE(cond, FALSE) THEN 1 ELSE 0 END)``, which matters with
    dozens of counts per cell over 10M rows.
    """
    return cond.sum().fill_null(0).cast("int64")


def sum_of(v: ir.NumericValue) -> ir.FloatingValue:
    """Sum of a column as float64, 0 when empty."""
    return v.cast("float64").sum().fill_null(0.0)


def level_shares_mean(values: np.ndarray, shares: Any) -> float:
    """Mean of a distribution over level values."""
    return float(np.asarray(shares) @ values)
