"""Data layer: load, validate, derive repeat contacts and periods, reduce to cells.

Public API (see ARCHITECTURE.md "Interfaces"): :func:`prepare` -> :class:`PreparedData`,
:func:`load_frame`, :func:`cells_expr`, :func:`weekly_expr`.

Everything runs inside DuckDB (in-process) through Ibis: files and globs are read by DuckDB
directly, never through pandas; only the cells (and, for :func:`load_frame`, the rows asked for)
come back to Python. The same Ibis expressions run on Spark (``[data] engine = "spark"``) or in a
SQL warehouse (``[data] connection``). Nothing wide is materialised: the source is read by one
validation pass (:func:`qmsprint.data.schema.scan`), one narrow repeat-contact window whose row
numbers are kept, one count per period and arm, and one query each for cells and weekly totals.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import ibis.expr.types as ir
import pandas as pd

from qmsprint import metrics as metric_registry
from qmsprint.data.cells import CELL_KEYS, cells_expr, weekly_expr
from qmsprint.data.coverage import missing_value_warnings
from qmsprint.data.derived import censored_warnings, derivations, derived_columns, hit_rows, with_derived
from qmsprint.data.load import (
    ROW,
    Source,
    canon_types,
    canonical_expr,
    execute,
    open_source,
    parsed_expr,
    rename_map,
)
from qmsprint.data.pseudonymise import engagement_key, pseudonymise_ids
from qmsprint.data.repeat import censored as is_censored
from qmsprint.data.repeat import derive, repeat_rows
from qmsprint.data.rollout import WEEKLY_DESIGNS, derives_arm, with_rollout_arm
from qmsprint.data.schema import (
    check_arms,
    check_duplicates,
    check_periods,
    check_rows,
    few_interactions_warning,
    rules,
    scan,
)
from qmsprint.errors import DataError, Problem
from qmsprint.metrics.base import count_of
from qmsprint.progress import Progress, silent
from qmsprint.spec import ITEM_PREFIX, Spec
from qmsprint.words import counted

__all__ = [
    "CELL_KEYS",
    "PreparedData",
    "cells_expr",
    "load_frame",
    "load_history",
    "prepare",
    "required_columns",
    "weekly_expr",
]

_counter = itertools.count()


def required_columns(spec: Spec, *, need_arm: bool = True) -> list[str]:
    """Canonical columns the spec needs in the data (depends on metrics, unit, segments)."""
    req = ["interaction_id", "timestamp", "agent_id"]
    if need_arm and not derives_arm(spec):
        req.append("arm")
    for m in spec.metrics:
        req += [c for c in m.info.inputs(m) if c not in req]
    wanted = set(spec.segments) | set(spec.model.adjust_for) | set(spec.model.reweight_by)
    if spec.unit in ("team", "site"):
        wanted.add(spec.unit)
    if spec.repeat_contacts.same_reason:
        wanted.add("contact_reason")
    req += [c for c in ("team", "site", "channel", "contact_reason") if c in wanted]
    return req


@dataclass
class PreparedData:
    """Validated, reduced data ready for the models.

    Attributes
    ----------
    cells
        Sufficient statistics, one row per agent x team x site x arm x period x channel x contact
        reason (ARCHITECTURE.md "Cells").
    weekly
        One row per arm x period x week (``week`` = Monday).
    warnings
        Things to know that do not stop the run (few interactions, dropped rows; survey response is a health check).
    rows_read, rows_used, rows_outside_periods
        Rows in the source; rows in the periods (used); rows dropped as outside both periods.
    repeat_censored
        Used rows whose repeat-contact window runs past the end of the data (``repeat_contact`` null).
    fingerprint
        sha256 of the source file bytes (sorted path order) or of the table's content.
    items
        Checklist item columns (``item_<name>``).
    source
        Human description of the source.

    """

    cells: pd.DataFrame
    weekly: pd.DataFrame
    warnings: list[Problem]
    rows_read: int
    rows_used: int
    rows_outside_periods: int
    repeat_censored: int
    fingerprint: str
    items: list[str] = field(default_factory=list)
    source: str = ""

    def summary(self) -> str:
        """A few lines a consultant can read: rows, periods, arms, units, warnings."""
        c = self.cells
        lines = [
            f"data: {self.source} (sha256 {self.fingerprint[:12]})",
            f"rows read {self.rows_read:,}; used {self.rows_used:,}; "
            f"outside the periods {self.rows_outside_periods:,}; "
            f"repeat-contact window censored at the end of the data {self.repeat_censored:,}",
        ]
        if len(c):
            for (period, arm), g in c.groupby(["period", "arm"], sort=True, dropna=False):
                resp = g["csat_n"].sum() / g["n"].sum() if g["n"].sum() else float("nan")
                lines.append(
                    f"  {period} / {arm}: {int(g['n'].sum()):,} interactions, {g['agent_id'].nunique()} agents, "
                    f"{g['team'].nunique()} teams, CSAT response {resp:.1%}"
                )
        if self.items:
            lines.append(f"checklist items: {', '.join(i[len(ITEM_PREFIX) :] for i in self.items)}")
        if self.warnings:
            lines.append(counted(len(self.warnings), "warning"))
        return "\n".join(lines)


@dataclass
class _Loaded:
    src: Source
    con: Any
    rows: ir.Table  # canonical + period + repeat_contact, all rows (period null outside)
    used: ir.Table
    items: list[str]
    rows_read: int
    rows_used: int
    rows_outside: int
    counts: dict[tuple[str, str | None], int]
    notes: list[Problem]
    censored: int = 0


def _hint_delimiter(columns: list[str]) -> str:
    if len(columns) == 1 and any(ch in columns[0] for ch in ";,\t|"):
        return (
            f" The file was read as a single column {columns[0][:60]!r}: the delimiter looks wrong; "
            'set data.delimiter (e.g. ";").'
        )
    return ""


def _materialize(con: Any, expr: ir.Table, name: str, label: str) -> ir.Table:
    try:
        if getattr(con, "name", "") == "pyspark":  # no temporary tables on Spark: a cached view
            con.execute(expr.limit(0))  # registers the in-memory tables the expression uses
            cached = expr.cache()
            con.execute(cached.count())
            return cached
        return con.create_table(name, expr, temp=True)
    except Exception as err:  # noqa: BLE001
        execute(con, expr.limit(0), "read the data", label)  # re-raise a read error as DataError
        raise DataError(
            "cannot read the data", [Problem(label, f"could not read the data: {str(err).splitlines()[0]}")]
        ) from None


def _cell_inputs() -> tuple[str, ...]:
    """Columns the reduction to cells reads (besides the cell keys)."""
    metric_cols = [m.column for m in metric_registry.registry().values() if m.column]
    return ("timestamp", "customer_id", *dict.fromkeys(metric_cols), "qa_score", "behavior_score", "tenure_months")


def _load(
    spec: Spec,
    *,
    need_arm: bool = True,
    arms_in_data: bool = True,
    narrow: bool = False,
    progress: Progress = silent,
) -> _Loaded:
    progress("reading the data", 0.0)
    src = open_source(spec)
    con, raw = src.con, src.table
    columns = [c for c in raw.columns if not (src.row_offsets is not None and c in ("file_row_number", "filename"))]
    mapping, problems = rename_map(spec, columns)
    req = required_columns(spec, need_arm=need_arm)
    missing = [c for c in req if c not in mapping]
    for c in missing:
        problems.append(
            Problem(
                c,
                "required column is missing (the experiment file's metrics/unit/segments need it); map it in "
                "[data.columns] as " + f'{c} = "<your column>". The data has: ' + ", ".join(columns[:40]),
            )
        )
    if problems:
        hint = _hint_delimiter(columns)
        raise DataError(f"invalid data in {src.label}." + hint if hint else f"invalid data in {src.label}", problems)
    items = sorted(c for c in mapping if c.startswith(ITEM_PREFIX))
    k = next(_counter)
    reread = src.reread  # Parquet is read again by each query; other sources are parsed once, kept
    parsed = parsed_expr(spec, raw, mapping, src.row_offsets, pad_flags=reread)
    if not reread:
        parsed = _materialize(con, parsed, f"_qms_parsed_{k}", src.label)
    progress("validating", 0.2)
    rs = rules(spec, list(parsed.columns), set(req))
    known = [spec.arms.control, spec.arms.treatment] if "arm" in mapping else None
    sc = scan(con, parsed, rs, src.label, known_arms=known)  # one pass over the data
    if sc.rows == 0:
        raise DataError(f"invalid data in {src.label}", [Problem(src.label, "the data has no rows")])
    if reread:  # text columns without surrounding spaces or empty values are read as they are from now on
        parsed = parsed_expr(spec, raw, mapping, src.row_offsets, clean=sc.clean)
    problems = check_rows(con, parsed, rs, src.label, counts=sc.bad)
    if sc.duplicate_ids:
        problems += check_duplicates(con, parsed, src.label)
    if "arm" in mapping:
        problems += check_arms(con, parsed, spec, src.label, unknown=sc.unknown_arms)
    notes: list[Problem] = []
    if any(c.strip().lower() == "repeat_contact" for c in columns):
        notes.append(
            Problem(
                "repeat_contact",
                "the data's own repeat_contact column is ignored; repeat contacts are derived from customer ids "
                "and timestamps with the experiment file's window",
            )
        )
    if problems:
        raise DataError(f"invalid data in {src.label}", problems)
    derived_hits = {  # derived outcomes (churn, sales within N days): on the ids as read, before pseudonyms
        name: _materialize(
            con, hit_rows(canonical_expr(parsed, items), spec, name, d, con), f"_qms_derived{i}_{k}", src.label
        )
        for i, (name, d) in enumerate(derivations(spec).items())
    }
    parsed = pseudonymise_ids(con, parsed, engagement_key(spec))  # keyed, before any check, warning or text
    progress("repeat contacts and periods", 0.45)
    canon = canonical_expr(parsed, items)
    repeats = _materialize(con, repeat_rows(canon, spec), f"_qms_repeats_{k}", src.label)
    rows = with_rollout_arm(derive(canon, spec, sc.last, repeats), spec)
    rows = with_derived(rows, spec, derived_hits, sc.last)
    if narrow:  # only what the reduction needs
        rows = rows.select(*CELL_KEYS, *_cell_inputs(), "repeat_contact", *derived_columns(spec))
    censored = is_censored(rows, spec, sc.last) & rows.customer_id.notnull()  # = null repeat_contact, no join
    cnt = execute(
        con,
        rows.group_by(["period", "arm"]).aggregate(n=rows.count(), censored=count_of(censored)),
        "count rows",
        src.label,
    )
    counts = {
        (p if isinstance(p, str) else None, a if isinstance(a, str) else None): int(n)
        for p, a, n in zip(cnt["period"], cnt["arm"], cnt["n"], strict=True)
    }
    rows_read = sc.rows
    n_censored = int(sum(c for p, c in zip(cnt["period"], cnt["censored"], strict=True) if isinstance(p, str)))
    rows_outside = sum(v for (p, _), v in counts.items() if p is None)
    known = arms_in_data and "arm" in mapping and spec.design not in WEEKLY_DESIGNS  # rolled-out arms: experiments
    period_problems = check_periods(counts, spec, arm_known=known)
    if period_problems:
        raise DataError(f"invalid data in {src.label}", period_problems)
    used = rows.filter(rows.period.notnull())
    if rows_outside:
        notes.append(
            Problem(
                "periods",
                f"{rows_outside:,} interactions outside the baseline and pilot periods were left out",
                count=rows_outside,
            )
        )
    return _Loaded(
        src, con, rows, used, items, rows_read, rows_read - rows_outside, rows_outside, counts, notes, n_censored
    )


def prepare(spec: Spec, *, progress: Progress | None = None) -> PreparedData:
    """Load, validate, derive periods and repeat contacts, and reduce to cells.

    Parameters
    ----------
    spec
        The experiment spec (data source, column mapping, periods, metrics, window).
    progress
        Optional ``progress(message, fraction)`` callback.

    Returns
    -------
    PreparedData

    Raises
    ------
    DataError
        Unreadable source, missing columns, or invalid values: every problem at once.

    """
    progress = progress or silent
    ld = _load(spec, narrow=True, progress=progress)
    con, label = ld.con, ld.src.label
    progress("reducing to cells", 0.7)
    cells = execute(con, cells_expr(ld.used, spec), "reduce the data", label)
    weekly = execute(con, weekly_expr(ld.used, spec), "reduce the data", label)
    censored = ld.censored
    cells = _tidy(cells)
    weekly["week"] = pd.to_datetime(weekly["week"]).dt.date
    warnings = list(ld.notes)
    if censored:
        warnings.append(
            Problem(
                "repeat_contact",
                f"{censored:,} interactions in the last {spec.repeat_contacts.window_days} days of the data have an "
                "incomplete repeat-contact window; they are left out of repeat-contact counts (censored)",
                count=censored,
            )
        )
    warnings += missing_value_warnings(spec, cells, censored)
    warnings += censored_warnings(spec, cells)
    warnings += few_interactions_warning(cells.groupby("agent_id", as_index=False)["n"].sum())
    progress("data ready", 1.0)
    return PreparedData(
        cells=cells,
        weekly=weekly,
        warnings=warnings,
        rows_read=ld.rows_read,
        rows_used=ld.rows_used,
        rows_outside_periods=ld.rows_outside,
        repeat_censored=censored,
        fingerprint=ld.src.fingerprint,
        items=ld.items,
        source=label,
    )


def _tidy(cells: pd.DataFrame) -> pd.DataFrame:
    keys = [*CELL_KEYS, *(["week"] if "week" in cells else [])]  # week: the roll-out designs' cells
    for c in keys:
        cells[c] = cells[c].astype("string")
    for c in cells.columns:
        if c not in keys:
            kind = "float64" if c.endswith(("_sum", "_sumsq")) else "int64"
            cells[c] = cells[c].fillna(0).astype(kind)
    return cells.reset_index(drop=True)


def load_frame(spec: Spec, *, period: str | None = None, history: bool = False) -> pd.DataFrame:
    """The validated canonical interaction table with ``period`` and ``repeat_contact``.

    Parameters
    ----------
    spec
        The experiment spec.
    period
        ``baseline`` or ``pilot`` for one period only; ``None`` for both (rows outside dropped).
        With ``period="baseline"`` the ``arm`` column may be absent (design and assignment happen
        before units have arms); it is then all null.
    history
        The rows come from before any pilot (diagnosis, design, assignment): the ``arm`` column
        is optional and the arms need not both have data.

    Returns
    -------
    pandas.DataFrame
        Canonical columns (absent optional ones as nulls / ``(none)``), ``item_*``, ``period``,
        ``repeat_contact``, in source row order.

    Raises
    ------
    DataError
        As :func:`prepare`.

    """
    if period not in (None, "baseline", "pilot"):
        raise ValueError(f"period must be 'baseline', 'pilot' or None (got {period!r})")
    ld = _load(spec, need_arm=period != "baseline" and not history, arms_in_data=not history)
    t = ld.used if period is None else ld.used.filter(ld.used.period == period)
    types = canon_types()
    cols = list(types) + ld.items + ["period", "repeat_contact", *derived_columns(spec)]
    df = execute(ld.con, t.order_by(ROW).select(*cols), "read the data", ld.src.label)
    for c, typ in types.items():
        if typ == "string":
            df[c] = df[c].astype("string")
        elif typ == "int64":
            df[c] = df[c].astype("Int64")
        elif typ == "boolean":
            df[c] = df[c].astype("boolean")
    df["period"] = df["period"].astype("string")
    df["repeat_contact"] = df["repeat_contact"].astype("boolean")
    for c in derived_columns(spec):
        df[c] = df[c].astype("boolean")
    return df.reset_index(drop=True)


def load_history(spec: Spec) -> tuple[pd.DataFrame, str]:
    """Interactions from before the pilot: the baseline period if the spec has one, else all rows.

    For diagnosis, design and assignment, which happen before (or regardless of) a pilot: the
    pilot period is dropped from the spec first (before a pilot starts it has no data), and arms
    are not required.

    Returns
    -------
    tuple[pandas.DataFrame, str]
        The rows (as :func:`load_frame`) and a label of what they cover.

    Raises
    ------
    DataError
        As :func:`prepare`.

    """
    b = spec.periods.baseline
    if b is None:
        return load_frame(spec, history=True), "all rows"
    before = spec.model_copy(update={"periods": spec.periods.model_copy(update={"pilot": None})})
    return load_frame(before, period="baseline", history=True), f"baseline period {b.start} to {b.end}"
