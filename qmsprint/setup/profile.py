"""What the values of each column of a client export look like.

Values are read as text (as the data layer reads a CSV export) and parsed with the data layer's
own parsers (:func:`qmsprint.data.load.parse_timestamp`, ``parse_number``, ``parse_bool``) inside
an in-process DuckDB, so a column that looks like dates here is read as dates by ``validate``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd

from qmsprint.data.load import parse_bool, parse_number, parse_timestamp

N_TOP = 5
PROFILE_ROWS = 20_000  # rows whose values are parsed (evenly spaced over longer samples)
PASS_FAIL = ("pass", "fail", "passed", "failed", "met", "not met", "partially met")
_DURATION = r"^\d{1,3}:\d{2}(:\d{2})?$"
_DATE_LIKE = r"\d{1,4}[/.\-]\d{1,2}[/.\-]\d{1,4}"


@dataclass(frozen=True)
class ColumnProfile:
    """Counts of how the non-empty values of one column parse.

    Attributes
    ----------
    name
        Column name as in the export.
    filled
        Non-empty values (the other counts are out of these).
    distinct
        Distinct non-empty values.
    top
        Most common values with their counts.
    ts_dayfirst, ts_monthfirst
        Values read as a date/time with ``dayfirst`` true / false.
    ts_midnight
        Dates (as read the better way) at exactly midnight: a date without time of day.
    number
        Values read as a number (``85%``, ``3,5``).
    leading
        Values with a leading number (``4 - Satisfied``).
    whole
        Leading numbers that are whole numbers.
    labelled
        Values with a leading number followed by a label.
    boolean
        Values read as yes/no.
    passfail
        Pass/fail words.
    duration
        Clock-style durations (``05:30``, ``01:02:03``).
    lead_min, lead_max
        Range of the leading numbers (None without any).
    num_min, num_median, num_max
        Range and median of the numbers (None without any).

    """

    name: str
    filled: int
    distinct: int
    top: tuple[tuple[str, int], ...]
    ts_dayfirst: int = 0
    ts_monthfirst: int = 0
    ts_midnight: int = 0
    number: int = 0
    leading: int = 0
    whole: int = 0
    labelled: int = 0
    boolean: int = 0
    passfail: int = 0
    duration: int = 0
    lead_min: float | None = None
    lead_max: float | None = None
    num_min: float | None = None
    num_median: float | None = None
    num_max: float | None = None

    def share(self, count: int) -> float:
        """``count`` as a share of the non-empty values (0 for an empty column)."""
        return count / self.filled if self.filled else 0.0

    @property
    def timestamps(self) -> float:
        """Share of values read as a date/time (the better of day-first and month-first)."""
        return self.share(max(self.ts_dayfirst, self.ts_monthfirst))

    @property
    def dayfirst(self) -> bool:
        """Day-first reads more values (a day above 12 rules month-first out)."""
        return self.ts_dayfirst > self.ts_monthfirst

    @property
    def distinct_ratio(self) -> float:
        """Distinct values per non-empty value."""
        return self.distinct / self.filled if self.filled else 0.0

    def examples(self, k: int = 3) -> str:
        """A few of the most common values, quoted."""
        return ", ".join(repr(v) for v, _ in self.top[:k])


def as_text(sample: pd.DataFrame) -> pd.DataFrame:
    """The sample with every column as text (missing stays missing), names as strings, first of duplicates."""
    out = {}
    for i, c in enumerate(sample.columns):
        name = str(c)
        if name in out:
            continue
        col = sample.iloc[:, i]
        if pd.api.types.is_datetime64_any_dtype(col):
            text = col.dt.strftime("%Y-%m-%d %H:%M:%S").astype("string")
        else:
            text = col.astype("string")
        out[name] = text.str.strip().replace("", pd.NA)
    return pd.DataFrame(out)


def _count(cond: ir.BooleanValue) -> ir.IntegerValue:
    return ibis.ifelse(cond.fill_null(False), 1, 0).sum().fill_null(0)


def _may_hold_dates(col: pd.Series) -> bool:
    """Some of the first values look like a date (only such columns are parsed as dates: it is slow)."""
    head = col.dropna().head(200).astype(str)
    return bool(head.str.contains(_DATE_LIKE, regex=True).any())


def _parsed(t: ir.Table, i: int, col: str, dates: bool) -> dict[str, ir.Value]:
    """Each value of one column parsed every way the data layer can read it."""
    s = t[col]
    none = ibis.null("timestamp")
    return {
        f"s{i}": s,
        f"d1_{i}": parse_timestamp(s, True) if dates else none,
        f"d0_{i}": parse_timestamp(s, False) if dates else none,
        f"num{i}": parse_number(s),
        f"lead{i}": parse_number(s, leading=True),
        f"bool{i}": parse_bool(s),
    }


def _aggregates(p: ir.Table, i: int) -> dict[str, ir.Value]:
    """Counts and ranges over one column's parsed values."""
    s, d1, d0, num, lead = p[f"s{i}"], p[f"d1_{i}"], p[f"d0_{i}"], p[f"num{i}"], p[f"lead{i}"]
    best = ibis.coalesce(d1, d0)
    return {
        f"c{i}_ts_dayfirst": _count(d1.notnull()),
        f"c{i}_ts_monthfirst": _count(d0.notnull()),
        f"c{i}_ts_midnight": _count(best.notnull() & (best.hour() == 0) & (best.minute() == 0) & (best.second() == 0)),
        f"c{i}_number": _count(num.notnull()),
        f"c{i}_leading": _count(lead.notnull()),
        f"c{i}_whole": _count(lead.notnull() & (lead == lead.round())),
        f"c{i}_labelled": _count(lead.notnull() & num.isnull() & s.re_search("[A-Za-z]")),
        f"c{i}_boolean": _count(p[f"bool{i}"].notnull()),
        f"c{i}_passfail": _count(s.lower().isin(PASS_FAIL)),
        f"c{i}_duration": _count(s.re_search(_DURATION)),
        f"c{i}_lead_min": lead.min(),
        f"c{i}_lead_max": lead.max(),
        f"c{i}_num_min": num.min(),
        f"c{i}_num_median": num.median(),
        f"c{i}_num_max": num.max(),
    }


_COUNTS = ("ts_dayfirst", "ts_monthfirst", "ts_midnight", "number", "leading", "whole", "labelled", "boolean",
           "passfail", "duration")  # fmt: skip
_RANGES = ("lead_min", "lead_max", "num_min", "num_median", "num_max")


def _value(v: object) -> float | None:
    return None if v is None or pd.isna(v) else float(v)  # type: ignore[arg-type]


def profile_columns(text: pd.DataFrame, max_rows: int = PROFILE_ROWS) -> dict[str, ColumnProfile]:
    """Profile every column of a text frame (see :func:`as_text`), in one DuckDB query.

    Parameters
    ----------
    text
        The sample as text.
    max_rows
        Longer samples are profiled on evenly spaced rows (so dates still span the whole sample).

    Returns
    -------
    dict[str, ColumnProfile]
        By column name, in the frame's order.

    """
    if not len(text.columns):
        return {}
    if len(text) > max_rows:
        text = text.iloc[:: math.ceil(len(text) / max_rows)]
    safe = text.rename(columns={c: f"v{i}" for i, c in enumerate(text.columns)}).astype("string")
    con = ibis.duckdb.connect()
    con.raw_sql("SET enable_progress_bar = false")
    t = con.create_table("sample", ibis.memtable(safe), temp=True)
    cols: dict[str, ir.Value] = {}
    for i in range(len(text.columns)):
        cols.update(_parsed(t, i, f"v{i}", _may_hold_dates(text.iloc[:, i])))
    p = con.create_table("parsed", t.select(**cols), temp=True)  # parse once, then count
    aggs: dict[str, ir.Value] = {}
    for i in range(len(text.columns)):
        aggs.update(_aggregates(p, i))
    row = con.execute(p.aggregate(**aggs)).iloc[0]
    out = {}
    for i, name in enumerate(text.columns):
        col = text[name].dropna()
        counts = col.value_counts()
        top = tuple((str(v), int(n)) for v, n in counts.head(N_TOP).items())
        fields: dict[str, object] = {k: int(row[f"c{i}_{k}"] or 0) for k in _COUNTS}
        fields.update({k: _value(row[f"c{i}_{k}"]) for k in _RANGES})
        out[name] = ColumnProfile(name=name, filled=int(len(col)), distinct=int(len(counts)), top=top, **fields)
    return out
