"""Reduction of interactions to cells (sufficient statistics), one Ibis expression.

The same expression runs on DuckDB (default) and on PySpark; see ARCHITECTURE.md "Cells".
Each metric adds its own columns (:meth:`qmsprint.metrics.MetricDef.cell_aggregates`), so a new
metric needs no change here.
"""

from __future__ import annotations

import ibis.expr.types as ir

from qmsprint import metrics as metric_registry
from qmsprint.metrics.base import count_of, sum_of
from qmsprint.spec import Spec
from qmsprint.spec_rollout import WEEKLY_DESIGNS

__all__ = ["CELL_KEYS", "WEEKLY_KEYS", "cells_expr", "weekly_expr"]

CELL_KEYS = ("agent_id", "team", "site", "arm", "period", "channel", "contact_reason")
WEEKLY_KEYS = ("arm", "period", "week")


def _metric_aggregates(t: ir.Table, spec: Spec, weekly: bool) -> dict[str, ir.Value]:
    out: dict[str, ir.Value] = {}
    for metric in metric_registry.registry().values():
        if metric.column is not None and metric.column not in t.columns:
            continue
        aggs = metric.weekly_aggregates(t, spec) if weekly else metric.cell_aggregates(t, spec)
        for k, v in aggs.items():
            out.setdefault(k, v)
    return out


def cells_expr(table: ir.Table, spec: Spec) -> ir.Table:
    """Cells: one row per agent x team x site x arm x period x channel x contact reason (x week).

    The roll-out designs (``waves``, ``prepost``) add ``week`` (the Monday, ISO text) to the keys.

    Parameters
    ----------
    table
        Canonical interaction table with ``period`` and ``repeat_contact`` (rows in periods only).
    spec
        The experiment spec (CSAT scale, FCR source).

    Returns
    -------
    ibis Table
        Columns ``CELL_KEYS``, ``n``, every registered metric's cell columns (for the built-ins
        ``csat_n``, ``csat_<level>``, ``nps_n``, ``nps_0``..``nps_10``, ``fcr_n``, ``fcr_yes``,
        ``repeat_n``, ``repeat_yes``, ``ht_n``, ``ht_sum``, ``ht_sumsq``, ``lht_sum``,
        ``lht_sumsq``), then ``qa_n``, ``qa_sum``, ``behavior_n``, ``behavior_sum``,
        ``tenure_n``, ``tenure_sum`` (all counts int64, sums float64), sorted by the keys.

    """
    t = table
    keys = list(CELL_KEYS)
    if spec.design in WEEKLY_DESIGNS:  # roll-out designs: one cell per week too (the Monday, ISO text)
        t = t.mutate(week=t.timestamp.truncate("W").date().cast("string"))
        keys.append("week")
    aggs: dict[str, ir.Value] = {"n": t.count().cast("int64"), **_metric_aggregates(t, spec, weekly=False)}
    for name, col in (("qa", "qa_score"), ("behavior", "behavior_score"), ("tenure", "tenure_months")):
        v = t[col].cast("float64")
        aggs[f"{name}_n"] = count_of(v.notnull())
        aggs[f"{name}_sum"] = sum_of(v)
    return t.group_by(keys).aggregate(**aggs).order_by(keys)


def weekly_expr(table: ir.Table, spec: Spec) -> ir.Table:
    """Weekly totals per arm x period x week (``week`` = the Monday, a date): ``n`` and each metric's weekly columns."""
    t = table.mutate(week=table.timestamp.truncate("W").date())
    aggs = {"n": t.count().cast("int64"), **_metric_aggregates(t, spec, weekly=True)}
    return t.group_by(list(WEEKLY_KEYS)).aggregate(**aggs).order_by(list(WEEKLY_KEYS))
