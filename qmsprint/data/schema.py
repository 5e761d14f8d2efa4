"""Validation of the interaction table: every problem at once, grouped, with rows and values.

Row-level rules (unparseable values, values outside their scale, missing ids) are declared once as
:class:`Rule` objects. :func:`scan` counts the offending rows of every rule in ONE aggregate query,
together with the row count, the last timestamp, the number of distinct interaction ids and the rows
with an unknown arm, so a valid table is read once; only failing rules cost a second query each (the
example row numbers, 1-based in file order, and raw values). Table-level rules (duplicate ids, a unit
in two arms, unknown or empty arms, periods without data) are aggregate queries, run in detail only
when the scan shows a problem (the unit-in-two-arms check always runs: it is one group-by). Warnings
(agents with few interactions) never stop a run; survey response (low, or unequal between arms) is a
health check (:mod:`qmsprint.health.response`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from qmsprint import metrics as metric_registry
from qmsprint.data.load import PAD, RAW, ROW, execute
from qmsprint.errors import Problem
from qmsprint.metrics.base import KIND_EXPECT, count_of
from qmsprint.spec import Spec
from qmsprint.words import counted

N_EXAMPLES = 5
FEW_INTERACTIONS = 30


@dataclass(frozen=True)
class Rule:
    """A row-level rule: ``bad(table)`` is true on offending rows."""

    column: str
    check: str
    expected: str
    bad: Callable[[ir.Table], ir.BooleanValue]

    @property
    def key(self) -> str:
        """Unique check name."""
        return f"{self.column}:{self.check}"


def _unparsed(col: str) -> Callable[[ir.Table], ir.BooleanValue]:
    def bad(t: ir.Table) -> ir.BooleanValue:
        raw = t[RAW + col].cast("string").strip()
        return raw.notnull() & (raw != "") & t[col].isnull()

    return bad


def _outside(col: str, lo: float, hi: float, integer: bool) -> Callable[[ir.Table], ir.BooleanValue]:
    def bad(t: ir.Table) -> ir.BooleanValue:
        v = t[col]
        out = (v < lo) | (v > hi)
        if integer:
            out = out | (v != v.round())
        return v.notnull() & out

    return bad


def _missing(col: str) -> Callable[[ir.Table], ir.BooleanValue]:
    def bad(t: ir.Table) -> ir.BooleanValue:
        if RAW + col in t.columns:  # an unreadable value is reported as such, not as missing
            raw = t[RAW + col].cast("string").strip()
            return t[col].isnull() & (raw.isnull() | (raw == ""))
        return t[col].isnull()

    return bad


def rules(spec: Spec, columns: list[str], required: set[str]) -> list[Rule]:
    """Row-level rules for the columns present in the parsed table."""
    out: list[Rule] = []
    parse_expect = {
        "timestamp": "a date/time (ISO like 2026-03-02 14:05:00, or "
        + ("day-first 02/03/2026 14:05" if spec.data.dayfirst else "month-first 03/02/2026 14:05; set data.dayfirst")
        + ")",
        "qa_score": "a number 0-100",
        "behavior_score": "a number 0-100",
        "auto_score": "a number 0-100",
        "tenure_months": "a number of months",
    }
    ranges = {
        "qa_score": (0, 100, False, "a QA score between 0 and 100"),
        "behavior_score": (0, 100, False, "a behavior score between 0 and 100"),
        "auto_score": (0, 100, False, "a full-coverage score between 0 and 100"),
        "tenure_months": (0, 1200, False, "a tenure between 0 and 1200 months"),
    }
    for metric in metric_registry.registry().values():
        for col, kind in metric.source_columns().items():  # a derived metric's event flag or date
            if col != metric.column:
                parse_expect.setdefault(col, KIND_EXPECT[kind])
        if metric.column:
            parse_expect.setdefault(metric.column, metric.column_expect(spec))
            rng = metric.column_range(spec)
            if rng is not None:
                ranges.setdefault(metric.column, rng)
    for col in columns:
        if RAW + col in columns:
            expect = parse_expect.get(col, "pass/fail, yes/no, 1/0 or points")
            out.append(Rule(col, "parse", f"could not read the value: expected {expect}", _unparsed(col)))
    for col in ("interaction_id", "agent_id", "timestamp", "arm"):
        if col in columns and col in required:
            what = "a date/time" if col == "timestamp" else "a value"
            out.append(
                Rule(col, "missing", f"every row needs {what} in this column (empty cells found)", _missing(col))
            )
    for col, (a, b, integer, expect) in ranges.items():
        if col in columns:
            out.append(
                Rule(col, "range", f"outside the allowed values: expected {expect}", _outside(col, a, b, integer))
            )
    return out


@dataclass(frozen=True)
class Scan:
    """What one pass over the parsed table found.

    Attributes
    ----------
    rows
        Rows in the source.
    last
        Last timestamp in the data (``None`` when there is none).
    bad
        Rule key -> number of offending rows.
    duplicate_ids
        Some interaction id appears more than once.
    unknown_arms
        Rows whose arm is neither the control nor the treatment arm.
    clean
        Text columns with a ``_pad_<col>`` flag (:func:`qmsprint.data.load.parsed_expr`) where no
        value needs stripping.

    """

    rows: int
    last: dt.datetime | None
    bad: dict[str, int]
    duplicate_ids: bool = False
    unknown_arms: int = 0
    clean: frozenset[str] = frozenset()


def _int(v: Any) -> int:
    return 0 if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA else int(v)


def scan(con: Any, table: ir.Table, rs: list[Rule], label: str, known_arms: list[str] | None = None) -> Scan:
    """Count rows, every rule's offending rows, distinct ids and unknown arms in one aggregate query."""
    aggs: dict[str, ir.Value] = {"rows": table.count().cast("int64")}
    for i, r in enumerate(rs):
        aggs[f"n{i}"] = count_of(r.bad(table))
    if "timestamp" in table.columns:
        aggs["last"] = table.timestamp.max()
    if "interaction_id" in table.columns:
        aggs["ids"] = table.interaction_id.count().cast("int64")
        aggs["distinct_ids"] = table.interaction_id.nunique().cast("int64")
    if known_arms and "arm" in table.columns:
        aggs["unknown_arms"] = count_of(table.arm.notnull() & ~table.arm.isin(known_arms))
    flags = [c for c in table.columns if c.startswith(PAD)]
    for c in flags:
        aggs[c] = count_of(table[c])
    row = execute(con, table.aggregate(**aggs), "read the data", label).iloc[0]
    last = row.get("last")
    return Scan(
        rows=_int(row["rows"]),
        last=None if last is None or pd.isna(last) else pd.Timestamp(last).to_pydatetime(),
        bad={r.key: _int(row[f"n{i}"]) for i, r in enumerate(rs)},
        duplicate_ids="ids" in row and _int(row["distinct_ids"]) < _int(row["ids"]),
        unknown_arms=_int(row.get("unknown_arms")),
        clean=frozenset(c[len(PAD) :] for c in flags if _int(row[c]) == 0),
    )


def check_rows(
    con: Any, table: ir.Table, rs: list[Rule], label: str, counts: dict[str, int] | None = None
) -> list[Problem]:
    """One :class:`Problem` per failing rule with count, example rows and values.

    ``counts`` (rule key -> offending rows) comes from :func:`scan`; without it one aggregate
    query counts them. Examples are fetched only for rules with offending rows.
    """
    if not rs:
        return []
    if counts is None:
        counts = scan(con, table, rs, label).bad
    problems = []
    for r in rs:
        n = counts.get(r.key, 0)
        if n == 0:
            continue
        shown = RAW + r.column if RAW + r.column in table.columns else r.column
        ex = execute(
            con,
            table.filter(r.bad(table).fill_null(False)).order_by(ROW).select(ROW, shown).limit(N_EXAMPLES),
            "validate the data",
            label,
        )
        problems.append(
            Problem(
                r.column,
                r.expected,
                rows=tuple(int(x) for x in ex[ROW]),
                count=n,
                examples=tuple("" if v is None else str(v) for v in ex[shown]),
            )
        )
    return problems


def check_duplicates(con: Any, t: ir.Table, label: str) -> list[Problem]:
    """Interaction ids that appear more than once."""
    if "interaction_id" not in t.columns:
        return []
    g = t.filter(t.interaction_id.notnull()).group_by("interaction_id").aggregate(k=ibis._.count(), r=t[ROW].min())
    dup = g.filter(g.k > 1)
    stats = execute(con, dup.aggregate(ids=dup.count(), rows=dup.k.sum()), "validate the data", label)
    n_ids = int(stats["ids"].iloc[0] or 0)
    if not n_ids:
        return []
    ex = execute(con, dup.order_by("r").limit(N_EXAMPLES), "validate the data", label)
    return [
        Problem(
            "interaction_id",
            f"duplicate interaction ids: {counted(n_ids, 'id')} {'appears' if n_ids == 1 else 'appear'} more than "
            "once; expected one row per interaction",
            rows=tuple(int(x) for x in ex["r"]),
            count=int(stats["rows"].iloc[0]),
            examples=tuple(str(x) for x in ex["interaction_id"]),
        )
    ]


def check_arms(con: Any, t: ir.Table, spec: Spec, label: str, unknown: int | None = None) -> list[Problem]:
    """Unknown arm values, and units (or agents, in A/B) recorded in more than one arm.

    ``unknown`` is the number of rows with an unknown arm if already counted (:func:`scan`): when
    it is 0 the query listing them is skipped.
    """
    if "arm" not in t.columns:
        return []
    problems: list[Problem] = []
    known = [spec.arms.control, spec.arms.treatment]
    df = pd.DataFrame()
    if unknown is None or unknown > 0:
        other = t.filter(t.arm.notnull() & ~t.arm.isin(known))
        g = other.group_by("arm").aggregate(k=ibis._.count(), r=other[ROW].min()).order_by("r")
        df = execute(con, g, "validate the data", label)
    if len(df):
        problems.append(
            Problem(
                "arm",
                f"arm values not in the experiment file: expected {known[0]!r} (control) or {known[1]!r} (treatment)",
                rows=tuple(int(x) for x in df["r"].head(N_EXAMPLES)),
                count=int(df["k"].sum()),
                examples=tuple(str(x) for x in df["arm"].head(N_EXAMPLES)),
            )
        )
    units = [spec.unit] + (["agent_id"] if spec.design == "ab" and spec.unit != "agent" else [])
    if spec.design in ("waves", "prepost"):  # units switch arm by design (qmsprint.data.rollout)
        units = []
    for u in units:
        col = "agent_id" if u == "agent" else u
        if col not in t.columns:
            continue
        s = t.filter(t.arm.isin(known) & t[col].notnull())
        g = s.group_by(col).aggregate(lo=s.arm.min(), hi=s.arm.max(), k=ibis._.count(), r=s[ROW].min())
        multi = g.filter(g.lo != g.hi)  # more than one arm (cheaper than a distinct count)
        df = execute(con, multi.order_by("r"), "validate the data", label)
        if len(df):
            word = {"agent_id": "agent", "team": "team", "site": "site"}[col]
            problems.append(
                Problem(
                    col,
                    f"{counted(len(df), word)} {'appears' if len(df) == 1 else 'appear'} in more than one arm; "
                    f"each {word} must stay in one arm (randomization unit: {spec.unit})",
                    rows=tuple(int(x) for x in df["r"].head(N_EXAMPLES)),
                    count=int(df["k"].sum()),
                    examples=tuple(str(x) for x in df[col].head(N_EXAMPLES)),
                )
            )
    return problems


def check_periods(counts: dict[tuple[str, str | None], int], spec: Spec, arm_known: bool) -> list[Problem]:
    """Periods without data and arms without data in a period the design needs.

    ``counts`` maps ``(period, arm)`` to the number of rows used.
    """
    problems = []
    needed = []
    if spec.periods.baseline is not None:
        needed.append(("baseline", spec.periods.baseline))
    if spec.periods.pilot is not None:
        needed.append(("pilot", spec.periods.pilot))
    names = [n for n, _ in needed] or ["pilot"]
    for name, per in needed:
        if not any(v for (p, _), v in counts.items() if p == name):
            problems.append(
                Problem(
                    f"periods.{name}",
                    f"no interactions in the {name} period {per.start} to {per.end}; check the dates or the data",
                )
            )
    if arm_known:
        arm_periods = ["pilot"] + (["baseline"] if spec.design == "did" else [])
        for name in arm_periods:
            if name not in names or not any(v for (p, _), v in counts.items() if p == name):
                continue
            for role, arm in (("control", spec.arms.control), ("treatment", spec.arms.treatment)):
                if not counts.get((name, arm)):
                    problems.append(
                        Problem(
                            f"arms.{role}",
                            f"the {role} arm {arm!r} has no interactions in the {name} period; "
                            "check arms in the experiment file against the data's arm column",
                        )
                    )
    return problems


def few_interactions_warning(per_agent: Any) -> list[Problem]:
    """Agents with fewer than :data:`FEW_INTERACTIONS` interactions (frame ``agent_id``, ``n``)."""
    few = per_agent[per_agent["n"] < FEW_INTERACTIONS].sort_values("n")
    if not len(few):
        return []
    return [
        Problem(
            "agent_id",
            f"{counted(len(few), 'agent')} {'has' if len(few) == 1 else 'have'} fewer than {FEW_INTERACTIONS} "
            "interactions; their estimates lean on the others",
            count=int(len(few)),
            examples=tuple(
                f"{a} ({n})" for a, n in zip(few["agent_id"].head(N_EXAMPLES), few["n"].head(N_EXAMPLES), strict=True)
            ),
        )
    ]
