"""The keys a ``[[metrics]]`` entry may carry beyond the built-in ones: value and custom metrics.

:class:`MetricKeys` is the base of :class:`qmsprint.spec.Metric`; the custom metric itself is built
from these keys by :mod:`qmsprint.metrics.custom_entries` before the spec checks metric names.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from qmsprint.spec_base import Strict


class MetricKeys(Strict):
    """Optional keys of a ``[[metrics]]`` entry: its business value, and what declares a custom metric."""

    value_per_unit: float | None = Field(
        None,
        description="business value of one unit of improvement per contact (e.g. of one retained customer, "
        "or per point): its effect joins the business impact",
    )
    column: str | None = Field(None, description="custom metric: the client's column")
    type: Literal["binary", "ordinal", "count", "continuous"] | None = None
    label: str | None = None
    levels: list[int] | None = Field(None, description="ordinal custom metric: consecutive whole-number levels")
    unit: str | None = Field(None, description="count / continuous custom metric: unit of its values")
    plural: bool | None = None
    survey: bool | None = Field(None, description="answered by a customer survey (response is checked)")
    baseline: float | None = Field(None, description="stated baseline (rate 0-1 for binary, else mean) for design")
    baseline_sd: float | None = Field(None, gt=0)
    within_days: int | None = Field(None, ge=1, le=730, description="derived outcome: event within N days")
    event_column: str | None = Field(None, description="derived outcome: yes/no flag of the event on contacts")
    event_date_column: str | None = Field(None, description="derived outcome: date of the customer's event")
    events: str | None = Field(None, description="derived outcome: file of events (customer id, date)")
    events_columns: dict[str, str] | None = None
    observed_until: dt.date | None = Field(None, description="derived outcome: last day events are known for")
