"""Check a suggested mapping with qmsprint's own validation, and read the sample's weekly volume.

The problems are exactly those ``qmsprint validate`` reports for an experiment file written from
the suggestion (:func:`qmsprint.setup.experiment_file.choices_from_suggestion`, no periods: every
row counts): :func:`qmsprint.data.prepare` runs on the export file itself when the suggestion
knows it, otherwise on a scratch Parquet copy of the sample (text columns, as a CSV export reads)
in a temporary folder that is deleted on return. The preview and the weekly volume are parsed with
the data layer's parsers, so they show the values as a run will read them.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import pandas as pd

from qmsprint import metrics as metric_registry
from qmsprint.data import prepare
from qmsprint.data.load import parse_timestamp, parsed_expr, rename_map
from qmsprint.errors import DataError, Problem, SpecError
from qmsprint.setup.experiment_file import available_metrics, build_spec_dict, choices_from_suggestion
from qmsprint.setup.score import ColumnMatch
from qmsprint.spec import Spec, parse_spec

if TYPE_CHECKING:  # pragma: no cover
    from qmsprint.setup.suggest import Suggestion

PREVIEW_ROWS = 10


def _con() -> Any:
    con = ibis.duckdb.connect()
    con.raw_sql("SET enable_progress_bar = false")
    return con


def sample_weekly(
    text: pd.DataFrame, mapping: dict[str, ColumnMatch], dayfirst: bool
) -> tuple[pd.DataFrame, dt.date | None, dt.date | None]:
    """Rows per week (``week`` the Monday) and arm in the sample, and its first and last day.

    ``arm`` is ``(all)`` without an arm column; rows whose timestamp cannot be read are left out.
    """
    empty = pd.DataFrame({"week": pd.Series(dtype="object"), "arm": pd.Series(dtype="string"),
                          "n": pd.Series(dtype="int64")})  # fmt: skip
    if "timestamp" not in mapping:
        return empty, None, None
    ts_col = mapping["timestamp"].column
    cols = {"ts": text[ts_col].astype("string")}
    if "arm" in mapping:
        cols["arm"] = text[mapping["arm"].column].astype("string")
    t = ibis.memtable(pd.DataFrame(cols))
    ts = parse_timestamp(t.ts, dayfirst)
    arm = t.arm.fill_null("(missing)") if "arm" in mapping else ibis.literal("(all)")
    t = t.select(ts=ts, arm=arm).filter(ibis._.ts.notnull())
    con = _con()
    weekly = con.execute(
        t.group_by(week=t.ts.truncate("W").date(), arm=t.arm).aggregate(n=t.count()).order_by(["week", "arm"])
    )
    if not len(weekly):
        return empty, None, None
    span = con.execute(t.aggregate(first=t.ts.min().date(), last=t.ts.max().date()))
    weekly["week"] = pd.to_datetime(weekly["week"]).dt.date
    weekly["arm"] = weekly["arm"].astype("string")
    weekly["n"] = weekly["n"].astype("int64")
    first, last = (pd.Timestamp(span[k].iloc[0]).date() for k in ("first", "last"))
    return weekly.reset_index(drop=True), first, last


def validation_spec(s: Suggestion, source: str | Path) -> Spec:
    """The spec ``validate`` would check: the suggestion taken as it is, reading ``source``.

    Raises
    ------
    SpecError
        If the suggestion cannot make a valid experiment file (e.g. an unusable CSAT scale).

    """
    choices = choices_from_suggestion(s, source=Path(source).resolve(), name="setup-check")
    return parse_spec(build_spec_dict(choices), base_dir=Path(source).resolve().parent)


def preview(spec: Spec, text: pd.DataFrame, rows: int = PREVIEW_ROWS) -> pd.DataFrame:
    """The first rows of the sample as qmsprint reads them: canonical names, parsed values."""
    head = text.head(rows).astype("string")
    mapping, _ = rename_map(spec, list(head.columns))
    t = ibis.memtable(head)
    parsed = parsed_expr(spec, t, mapping)
    cols = [c for c in parsed.columns if c in mapping]
    return _con().execute(parsed.select(*cols)).reset_index(drop=True)


def _write_scratch(text: pd.DataFrame, folder: Path) -> Path:
    """The sample as a Parquet file of text columns (a scratch copy; the caller deletes the folder)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = folder / "sample.parquet"
    pq.write_table(pa.Table.from_pandas(text.astype("string"), preserve_index=False), path)
    return path


def check_suggestion(s: Suggestion, text: pd.DataFrame) -> None:
    """Fill ``problems``, ``warnings`` and ``preview`` of a suggestion by running qmsprint's validation.

    Parameters
    ----------
    s
        The suggestion (changed in place).
    text
        The sample as text (:func:`qmsprint.setup.profile.as_text`).

    """
    if not available_metrics(s.columns):
        needed = [c for c in ("interaction_id", "timestamp", "agent_id", "arm") if c not in s.mapping]
        outcomes = sorted({m.column for m in metric_registry.registry().values() if m.column})
        s.problems = [
            Problem(
                "metrics",
                f"no outcome column found: map at least one of {', '.join(outcomes)}, or "
                "customer_id for repeat contacts",
            ),  # fmt: skip
            *(Problem(c, "required column is missing; map it to one of the export's columns") for c in needed),
        ]
        return
    with tempfile.TemporaryDirectory(prefix="qmsprint-setup-") as tmp:
        source = s.source if s.source is not None else _write_scratch(text, Path(tmp))
        try:
            spec = validation_spec(s, source)
        except SpecError as err:
            s.problems = list(err.problems) or [Problem("(experiment file)", err.message)]
            return
        try:
            s.preview = preview(spec, text)
        except Exception:  # noqa: BLE001 - the preview is a convenience; validation below reports the cause
            s.preview = None
        try:
            prepared = prepare(spec)
        except DataError as err:
            s.problems = list(err.problems) or [Problem(str(source), err.message)]
            return
        s.problems = []
        s.warnings = list(prepared.warnings)
