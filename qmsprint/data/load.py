"""Reading interactions: files and globs (CSV / Parquet, read by DuckDB directly) or a database table.

Also renaming by the spec's ``[data.columns]`` and parsing the common formats of client exports
into the canonical types (see ARCHITECTURE.md "Canonical interaction table").
"""

from __future__ import annotations

import glob
import hashlib
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from qmsprint import metrics as metric_registry
from qmsprint.data.engine import configure
from qmsprint.errors import DataError, Problem
from qmsprint.metrics.base import COLUMN_TYPES
from qmsprint.spec import ITEM_PREFIX, Spec, canonical_columns

ROW = "_row"  # 1-based row number in the source (files concatenated in sorted path order)
RAW = "_raw_"  # prefix of the raw text of parsed columns, kept for error messages

ID_COLUMNS = ("interaction_id", "customer_id", "agent_id")
CATEGORY_COLUMNS = ("team", "site", "channel", "contact_reason")
NUMBER_COLUMNS = ("qa_score", "behavior_score", "auto_score", "tenure_months")  # non-metric numbers
MISSING_CATEGORY = "(missing)"
ABSENT_CATEGORY = "(none)"

TRUE_WORDS = ("yes", "y", "true", "t", "1", "1.0", "pass", "passed", "resolved", "ja", "oui", "si", "sí")
FALSE_WORDS = ("no", "n", "false", "f", "0", "0.0", "fail", "failed", "not resolved", "unresolved", "nein", "non")
_DATE_PAT = r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})(.*)$"
_NUM_PAT = r"^\s*([+-]?\d+(?:[.,]\d+)?)"
_CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz")
_PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")


@dataclass
class Source:
    """An opened data source.

    Attributes
    ----------
    con
        Ibis backend (DuckDB in-process for files).
    table
        The raw table as read, before renaming.
    fingerprint
        sha256 of the source file bytes in sorted path order, or of the table's content.
    label
        Human description (file names or ``connection:table``).
    paths
        The files read (empty for a database).

    """

    con: Any
    table: ir.Table
    fingerprint: str
    label: str
    paths: list[Path] = field(default_factory=list)
    row_offsets: dict[str, int] | None = None  # Parquet: rows before each file, for 1-based row numbers
    reread: bool = False  # typed columnar files: each query reads them again (no parsed copy is kept)


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _hash_files(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def _files(spec: Spec) -> list[Path]:
    assert spec.data.source
    pattern = spec.resolve(spec.data.source)
    text = str(pattern)
    if any(ch in text for ch in "*?["):
        paths = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        if not paths:
            raise DataError(
                "no data to read", [Problem("data.source", f"no file matches the pattern {text} (check the path)")]
            )
        return paths
    if not pattern.exists():
        raise DataError("no data to read", [Problem("data.source", f"data file not found: {text}")])
    if pattern.is_dir():
        raise DataError("no data to read", [Problem("data.source", f"{text} is a folder; give a file or a glob")])
    return [pattern]


def _format(spec: Spec, paths: list[Path]) -> str:
    if spec.data.format != "auto":
        return spec.data.format
    kinds = set()
    for p in paths:
        name = p.name.lower()
        if name.endswith(_PARQUET_SUFFIXES):
            kinds.add("parquet")
        elif name.endswith(_CSV_SUFFIXES):
            kinds.add("csv")
        else:
            with open(p, "rb") as fh:
                kinds.add("parquet" if fh.read(4) == b"PAR1" else "csv")
    if len(kinds) > 1:
        raise DataError(
            "cannot read the data",
            [Problem("data.source", "the pattern matches both CSV and Parquet files; set data.format or narrow it")],
        )
    return kinds.pop()


def _check_parquet_files(paths: list[Path]) -> list[Problem]:
    problems = []
    for p in paths:
        size = p.stat().st_size
        if size == 0:
            problems.append(Problem(str(p), "the file is empty"))
            continue
        with open(p, "rb") as fh:
            head = fh.read(4)
            fh.seek(max(0, size - 4))
            tail = fh.read(4)
        if head != b"PAR1":
            problems.append(Problem(str(p), "not a Parquet file (it does not start with the Parquet marker)"))
        elif tail != b"PAR1" or size < 12:
            problems.append(Problem(str(p), "the Parquet file is truncated or damaged (no footer at the end)"))
    return problems


def open_source(spec: Spec, con: Any | None = None) -> Source:
    """Open the spec's data source without loading it into Python.

    Raises
    ------
    DataError
        Missing file, glob matching nothing, empty or damaged file, unreadable database.

    """
    d = spec.data
    if d.engine == "spark":
        from qmsprint.data.spark import open_spark_source

        return open_spark_source(spec)
    if d.connection:
        from qmsprint.data.warehouse import open_database

        return open_database(spec)
    paths = _files(spec)
    kind = _format(spec, paths)
    label = ", ".join(p.name for p in paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
    con = con or ibis.duckdb.connect()
    configure(con)
    strs = [str(p) for p in paths]
    if kind == "parquet":
        problems = _check_parquet_files(paths)
        if problems:
            raise DataError("cannot read the data", problems)
        try:
            import pyarrow.parquet as pq

            offsets, total = {}, 0
            for p in strs:
                offsets[p] = total
                total += pq.read_metadata(p).num_rows
            table = con.read_parquet(strs, file_row_number=True, filename=True)
            # row numbers come from the reader, so rows need not keep their order (less memory)
            con.raw_sql("SET preserve_insertion_order = false")
        except Exception as err:  # noqa: BLE001
            raise DataError(
                "cannot read the data", [Problem(label, f"unreadable Parquet: {_first_line(err)}")]
            ) from None
        return Source(con, table, _hash_files(paths), label, paths, offsets, reread=True)
    else:
        empty = [p for p in paths if p.stat().st_size == 0]
        if empty:
            raise DataError("cannot read the data", [Problem(str(p), "the file is empty") for p in empty])
        kwargs: dict[str, Any] = {"all_varchar": True, "header": True}
        if d.delimiter:
            kwargs["delim"] = d.delimiter
        enc = d.encoding.lower().replace("_", "-")
        if enc not in ("utf-8", "utf8"):
            kwargs["encoding"] = {"latin1": "latin-1", "iso-8859-1": "latin-1", "utf16": "utf-16"}.get(enc, enc)
        try:
            table = con.read_csv(strs, **kwargs)
            n_cols = len(table.columns)
        except Exception as err:  # noqa: BLE001
            raise DataError("cannot read the data", [Problem(label, _csv_message(err, d.encoding))]) from None
        if n_cols == 0:
            raise DataError("cannot read the data", [Problem(label, "the file has no columns (is it empty?)")])
    return Source(con, table, _hash_files(paths), label, paths)


def _csv_message(err: BaseException, encoding: str) -> str:
    text = str(err)
    low = text.lower()
    if "unicode" in low or "encoding" in low or "utf" in low:
        return (
            f"the file is not valid {encoding} text; set data.encoding in the experiment file "
            f'(e.g. "latin-1" or "utf-16") ({_first_line(err)})'
        )
    if "empty" in low or "no rows" in low:
        return "the file is empty"
    return f"unreadable CSV file: {_first_line(err)}"


def execute(con: Any, expr: ir.Expr, what: str, label: str) -> Any:
    """Execute ``expr``; a read error becomes a :class:`DataError` instead of a traceback."""
    try:
        return con.execute(expr)
    except DataError:
        raise
    except Exception as err:  # noqa: BLE001
        msg = str(err)
        low = msg.lower()
        if "unicode" in low or "utf-8" in low or "encoding" in low:
            text = 'the file is not valid text in its encoding; set data.encoding (e.g. "latin-1")'
        elif "csv" in low or "column" in low and "expected" in low:
            text = "the CSV file is malformed (check the delimiter and quoting; set data.delimiter)"
        elif "parquet" in low or "magic" in low or "footer" in low:
            text = "the Parquet file is damaged"
        else:
            text = f"could not {what}"
        raise DataError("cannot read the data", [Problem(label, f"{text}: {_first_line(err)}")]) from None


# ------------------------------------------------------------------------------------ renaming


def rename_map(spec: Spec, columns: list[str]) -> tuple[dict[str, str], list[Problem]]:
    """Map canonical name -> source column, and problems for mapped columns that are absent."""
    problems = []
    mapping: dict[str, str] = {}
    mapped_sources = set(spec.data.columns.values())
    lower = {c.lower(): c for c in columns}
    for canon, src in spec.data.columns.items():
        if src in columns:
            mapping[canon] = src
        elif src.lower() in lower:
            mapping[canon] = lower[src.lower()]
        else:
            problems.append(
                Problem(
                    f"data.columns.{canon}",
                    f"the mapped column {src!r} is not in the data; the data has: " + ", ".join(columns[:40]),
                )
            )
    canonical = canonical_columns()
    for c in columns:
        if c in mapping.values() or c in mapped_sources:
            continue
        key = c if c in canonical or c.startswith(ITEM_PREFIX) else c.strip().lower()
        if (key in canonical or key.startswith(ITEM_PREFIX)) and key not in mapping and key != "repeat_contact":
            mapping[key] = c
    return mapping, problems


# ------------------------------------------------------------------------------------ parsing


def _is_string(col: ir.Value) -> bool:
    return col.type().is_string()


def may_pad(s: ir.StringValue) -> ir.BooleanValue:
    """The text is empty or its first or last character is a space or a control character."""
    return (s.ascii_str() <= 32) | (s.right(1).ascii_str() <= 32)


def _text(col: ir.Value) -> ir.StringValue:
    """The text without leading/trailing whitespace (space, tab, newline, CR, VT, FF).

    Stripping every value costs about 0.2 us each with DuckDB's multi-character ``trim``; a value
    whose first and last characters are above the space character (nearly all) is returned as
    it is, which gives the same result at a third of the cost.
    """
    s = col.cast("string")
    return ibis.ifelse(may_pad(s), s.strip(), s)


def parse_bool(col: ir.Value) -> ir.BooleanValue:
    """Yes/No, TRUE/FALSE, 1/0, Pass/Fail (any case) -> boolean; anything else -> null."""
    t = col.type()
    if t.is_boolean():
        return col
    if t.is_numeric():
        return ibis.ifelse(col == 1, True, ibis.ifelse(col == 0, False, ibis.null("boolean")))
    s = _text(col).lower()
    return ibis.ifelse(s.isin(TRUE_WORDS), True, ibis.ifelse(s.isin(FALSE_WORDS), False, ibis.null("boolean")))


def parse_number(col: ir.Value, *, leading: bool = False) -> ir.FloatingValue:
    """Number (``"4 - Satisfied"`` -> 4 when ``leading``; ``"85%"`` -> 85; ``"3,5"`` -> 3.5)."""
    t = col.type()
    if t.is_numeric():
        return col.cast("float64")
    if t.is_boolean():
        return col.cast("int8").cast("float64")
    s = _text(col)
    if leading:
        s = s.re_extract(_NUM_PAT, 1).nullif("")
    else:
        s = s.re_replace(r"\s*%$", "")
    return s.replace(",", ".").try_cast("float64")


def parse_item(col: ir.Value) -> ir.FloatingValue:
    """Checklist item: pass/fail words -> 1/0, or points as numbers."""
    if not _is_string(col):
        return parse_number(col)
    b = parse_bool(col)
    return ibis.coalesce(b.cast("int8").cast("float64"), parse_number(col))


def parse_timestamp(col: ir.Value, dayfirst: bool) -> ir.TimestampValue:
    """ISO timestamps/dates, or ``d/m/Y [time]`` (``dayfirst``) / ``m/d/Y [time]``; to whole seconds."""
    t = col.type()
    if t.is_timestamp():
        out = col.cast("timestamp")
    elif t.is_date():
        out = col.cast("timestamp")
    elif t.is_numeric():
        out = col.cast("int64").as_timestamp("s")
    else:
        s = _text(col)
        day, month = (1, 2) if dayfirst else (2, 1)
        iso = (
            s.re_extract(_DATE_PAT, 3)
            + "-"
            + s.re_extract(_DATE_PAT, month).lpad(2, "0")
            + "-"
            + s.re_extract(_DATE_PAT, day).lpad(2, "0")
            + s.re_extract(_DATE_PAT, 4)
        )
        out = ibis.coalesce(s.try_cast("timestamp"), iso.nullif("--00-00").try_cast("timestamp"))
    return out.truncate("s")


def parsers(spec: Spec) -> dict[str, Callable[[ir.Value], ir.Value]]:
    """Parser per canonical column."""
    p: dict[str, Callable[[ir.Value], ir.Value]] = {
        "timestamp": lambda c: parse_timestamp(c, spec.data.dayfirst),
    }
    for c in NUMBER_COLUMNS:
        p[c] = parse_number
    for m in metric_registry.registry().values():
        for col, kind in m.source_columns().items():
            p.setdefault(
                col,
                {
                    "level": lambda c: parse_number(c, leading=True),
                    "bool": parse_bool,
                    "number": parse_number,
                    "timestamp": lambda c: parse_timestamp(c, spec.data.dayfirst),
                }[kind],
            )
    for c in TEXT_COLUMNS:
        p[c] = lambda c: _text(c).nullif("")
    return p


TEXT_COLUMNS = ID_COLUMNS + CATEGORY_COLUMNS + ("arm",)
PAD = "_pad_"  # prefix of the flags "this text value may need stripping" (see parsed_expr)
FLAGGED = ("customer_id", "agent_id", "arm")  # text read by several queries (the others: once, in the cells)


def parsed_expr(
    spec: Spec,
    raw: ir.Table,
    mapping: dict[str, str],
    row_offsets: dict[str, int] | None = None,
    *,
    pad_flags: bool = False,
    clean: Collection[str] = (),
) -> ir.Table:
    """Canonical columns parsed from the raw table, plus ``_row`` and ``_raw_<col>`` for text inputs.

    Canonical columns absent from the data are added as typed nulls (categories as ``(none)``),
    so every later expression sees one schema.

    Id and category text is stripped of surrounding whitespace and empty text is null. With
    ``pad_flags`` the table also has ``_pad_<col>`` for the text columns several queries read
    (:data:`FLAGGED`): true where the value may need it (empty, or a space or control character
    first or last). Columns in
    ``clean`` (where no value needs it, as counted from those flags) are passed through as they
    are: the same values, without the per-row cleaning cost in every later query.
    """
    p = parsers(spec)
    if row_offsets is not None and "file_row_number" in raw.columns:
        # row numbers from the Parquet reader: parallel, no window over the whole table
        row = raw.file_row_number.cast("int64") + 1
        if len(row_offsets) > 1:
            row = row + ibis.cases(*[(raw.filename == f, off) for f, off in row_offsets.items()], else_=0)
    else:
        row = ibis.row_number() + 1
    cols: dict[str, ir.Value] = {ROW: row.cast("int64")}
    raws: dict[str, ir.Value] = {}
    flags: dict[str, ir.Value] = {}
    for canon, src in mapping.items():
        col = raw[src]
        if canon.startswith(ITEM_PREFIX):
            cols[canon] = parse_item(col)
        elif canon in TEXT_COLUMNS and canon in clean and _is_string(col):
            cols[canon] = col
        elif canon in p:
            cols[canon] = p[canon](col)
        else:  # pragma: no cover - rename_map only maps known names
            continue
        if canon in FLAGGED and pad_flags and _is_string(col):
            flags[PAD + canon] = may_pad(col)
        if _is_string(col) and canon not in TEXT_COLUMNS:
            raws[RAW + canon] = col
    return raw.select(**cols, **raws, **flags)


_BASE_TYPES = {
    "interaction_id": "string",
    "timestamp": "timestamp",
    "customer_id": "string",
    "agent_id": "string",
    "team": "string",
    "site": "string",
    "channel": "string",
    "contact_reason": "string",
    "arm": "string",
    "qa_score": "float64",
    "behavior_score": "float64",
    "auto_score": "float64",
    "tenure_months": "float64",
}


def canon_types() -> dict[str, str]:
    """Canonical column -> Ibis type: the base columns and every registered metric's input column."""
    out = dict(_BASE_TYPES)
    for m in metric_registry.registry().values():
        for col, kind in m.source_columns().items():
            out.setdefault(col, COLUMN_TYPES[kind])
    return out


def canonical_expr(t: ir.Table, items: list[str]) -> ir.Table:
    """The canonical table (typed, absent columns filled) from a validated parsed table."""
    out: dict[str, ir.Value] = {ROW: t[ROW]}
    for c, typ in canon_types().items():
        if c in t.columns:
            v = t[c]
            if c in CATEGORY_COLUMNS:
                v = v.fill_null(MISSING_CATEGORY)
            if typ == "int64":
                v = v.round().cast("int64")
            out[c] = v.cast(typ)
        elif c in CATEGORY_COLUMNS:
            out[c] = ibis.literal(ABSENT_CATEGORY, "string")
        else:
            out[c] = ibis.null(typ)
    for it in items:
        out[it] = t[it].cast("float64")
    return t.select(**out)
