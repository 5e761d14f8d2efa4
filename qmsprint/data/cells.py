"""Reduction of interactions to cells (sufficient statistics), one Ibis expression.

The same expression runs on DuckDB (default) and on PySpark; see ARCHITECTURE.md "Cells".
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from qmsprint.spec import Spec

CELL_KEYS = ("agent_id", "team", "site", "arm", "period", "channel", "contact_reason")
WEEKLY_KEYS = ("arm", "period", "week")


def fcr_source(spec: Spec) -> str:
    """``column`` or ``no_repeat``: where ``fcr_yes`` comes from."""
    for m in spec.metrics:
        if m.name == "fcr":
            return m.source
    return "column"


def _count(cond: ir.BooleanValue) -> ir.IntegerValue:
    return ibis.ifelse(cond.fill_null(False), 1, 0).sum().fill_null(0).cast("int64")


def _sum(v: ir.NumericValue) -> ir.FloatingValue:
    return v.cast("float64").sum().fill_null(0.0)


def _fcr(t: ir.Table, spec: Spec) -> tuple[ir.BooleanValue, ir.BooleanValue]:
    """(FCR known, FCR yes). ``no_repeat``: known where repeat_contact is, yes where it is false.

    Written without ``~repeat_contact``: Ibis 12 renders ``(~x).notnull()`` as
    ``NOT (x) IS NOT NULL``, which SQL reads as ``NOT (x IS NOT NULL)``.
    """
    if fcr_source(spec) == "no_repeat":
        return t.repeat_contact.notnull(), t.repeat_contact == False  # noqa: E712 - SQL comparison
    return t.fcr.notnull(), t.fcr


def cells_expr(table: ir.Table, spec: Spec) -> ir.Table:
    """Cells: one row per agent x team x site x arm x period x channel x contact reason.

    Parameters
    ----------
    table
        Canonical interaction table with ``period`` and ``repeat_contact`` (rows in periods only).
    spec
        The experiment spec (CSAT scale, FCR source).

    Returns
    -------
    ibis Table
        Columns ``CELL_KEYS``, ``n``, ``csat_n``, ``csat_<level>``, ``nps_n``, ``nps_0``..``nps_10``,
        ``fcr_n``, ``fcr_yes``, ``repeat_n``, ``repeat_yes``, ``ht_n``, ``ht_sum``, ``ht_sumsq``,
        ``lht_sum``, ``lht_sumsq``, ``qa_n``, ``qa_sum``, ``behavior_n``, ``behavior_sum``,
        ``tenure_n``, ``tenure_sum`` (all counts int64, sums float64), sorted by the keys.

    """
    t = table
    lo, hi = spec.csat_scale
    fcr_known, fcr_yes = _fcr(t, spec)
    ht = t.handle_time.cast("float64")
    good_ht = ht.notnull() & (ht > 0)
    lht = ibis.ifelse(good_ht, ht.ln(), ibis.null("float64"))
    aggs: dict[str, ir.Value] = {"n": t.count().cast("int64"), "csat_n": _count(t.csat.notnull())}
    for lv in range(lo, hi + 1):
        aggs[f"csat_{lv}"] = _count(t.csat == lv)
    aggs["nps_n"] = _count(t.nps.notnull())
    for lv in range(11):
        aggs[f"nps_{lv}"] = _count(t.nps == lv)
    aggs["fcr_n"] = _count(fcr_known)
    aggs["fcr_yes"] = _count(fcr_yes)
    aggs["repeat_n"] = _count(t.repeat_contact.notnull())
    aggs["repeat_yes"] = _count(t.repeat_contact)
    aggs["ht_n"] = _count(good_ht)
    aggs["ht_sum"] = _sum(ibis.ifelse(good_ht, ht, 0.0))
    aggs["ht_sumsq"] = _sum(ibis.ifelse(good_ht, ht * ht, 0.0))
    aggs["lht_sum"] = _sum(lht)
    aggs["lht_sumsq"] = _sum(lht * lht)
    for name, col in (("qa", "qa_score"), ("behavior", "behavior_score"), ("tenure", "tenure_months")):
        v = t[col].cast("float64")
        aggs[f"{name}_n"] = _count(v.notnull())
        aggs[f"{name}_sum"] = _sum(v)
    return t.group_by(list(CELL_KEYS)).aggregate(**aggs).order_by(list(CELL_KEYS))


def weekly_expr(table: ir.Table, spec: Spec) -> ir.Table:
    """Weekly totals per arm x period x week (``week`` = the Monday, a date)."""
    t = table.mutate(week=table.timestamp.truncate("W").date())
    fcr_known, fcr_yes = _fcr(t, spec)
    ht = t.handle_time.cast("float64")
    good_ht = ht.notnull() & (ht > 0)
    return (
        t.group_by(list(WEEKLY_KEYS))
        .aggregate(
            n=t.count().cast("int64"),
            csat_n=_count(t.csat.notnull()),
            csat_sum=_sum(t.csat),
            nps_n=_count(t.nps.notnull()),
            nps_promoters=_count(t.nps >= 9),
            nps_detractors=_count(t.nps <= 6),
            fcr_n=_count(fcr_known),
            fcr_yes=_count(fcr_yes),
            repeat_n=_count(t.repeat_contact.notnull()),
            repeat_yes=_count(t.repeat_contact),
            ht_n=_count(good_ht),
            ht_sum=_sum(ibis.ifelse(good_ht, ht, 0.0)),
        )
        .order_by(list(WEEKLY_KEYS))
    )
