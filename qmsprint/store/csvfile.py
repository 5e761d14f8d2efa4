"""Table files: :func:`write_csv`, the one CSV writer every CSV qmsprint writes goes through.

Run folders (``effects.csv``, ``diagnostics.csv``), diagnosis tables, assignments, assurance
tables, ``qmsprint compare --out``, simulated data and the app's downloads all use it.

Spreadsheet formulas are neutralised: a text cell (or column name) that starts with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return gets a leading ``'`` (OWASP's advice against CSV
injection), so a team called ``=HYPERLINK("http://x.example","A")`` opens as text, not as a
link. Numbers are written as numbers (``-0.12`` stays a number). :func:`read_csv` undoes the
quote for files qmsprint reads back. :func:`redact_frame` removes paths and connection strings
from text cells (:func:`qmsprint.privacy.redact_text`). :func:`write_parquet` is the Parquet
counterpart.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pandas as pd

from qmsprint.privacy import redact_text


def write_csv(df: pd.DataFrame, path: str | Path | None = None, **kw: Any) -> str | None:
    """Write ``df`` as CSV (without its index unless ``index=True`` is given).

    Parameters
    ----------
    df
        The table.
    path
        File to write; ``None`` returns the CSV text instead (for downloads).
    **kw
        Passed to :meth:`pandas.DataFrame.to_csv`.

    Returns
    -------
    str or None
        The CSV text when ``path`` is None.

    """
    kw.setdefault("index", False)
    safe = neutralise(df)
    if _has_carriage_return(safe):  # the csv module quotes only the line terminator ("\n"): quote text
        kw.setdefault("quoting", csv.QUOTE_NONNUMERIC)
    return safe.to_csv(path, **kw)


def _has_carriage_return(df: pd.DataFrame) -> bool:
    names = any(isinstance(c, str) and "\r" in c for c in df.columns)
    return names or any(
        df[c].map(lambda v: isinstance(v, str) and "\r" in v, na_action="ignore").fillna(False).astype(bool).any()
        for c in df.columns
        if df[c].dtype == object or pd.api.types.is_string_dtype(df[c])
    )


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def neutralise_text(value: Any) -> Any:
    """``value`` with a leading ``'`` when it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return QUOTE + value
    return value


def neutralise(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells, column names and index labels cannot start a formula."""
    out = df.copy()
    for c in out.columns:
        s = out[c]
        if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)
                or pd.api.types.is_datetime64_any_dtype(s)):  # fmt: skip
            out[c] = s.map(neutralise_text, na_action="ignore")
    out.columns = [neutralise_text(c) if isinstance(c, str) else c for c in out.columns]
    if not isinstance(out.index, pd.RangeIndex):
        out.index = out.index.map(neutralise_text)
    return out


def _unquote(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(QUOTE) and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


def read_csv(path: str | Path, **kw: Any) -> pd.DataFrame:
    """Read a CSV written by :func:`write_csv`, removing the quote that neutralised formulas."""
    df = pd.read_csv(path, **kw)
    for c in df.columns:
        if df[c].dtype == object or pd.api.types.is_string_dtype(df[c]):
            df[c] = df[c].map(_unquote, na_action="ignore")
    df.columns = [_unquote(c) for c in df.columns]
    return df


def redact_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with no absolute paths, connection strings or passwords in its text cells."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object or pd.api.types.is_string_dtype(out[c]):
            out[c] = out[c].map(lambda v: redact_text(v) if isinstance(v, str) else v, na_action="ignore")
    return out


def write_parquet(df: pd.DataFrame, path: str | Path, **kw: Any) -> None:
    """Write ``df`` as Parquet (without its index unless ``index=True`` is given).

    ``**kw`` are passed to :meth:`pandas.DataFrame.to_parquet` (e.g. ``compression``).
    """
    kw.setdefault("index", False)
    df.to_parquet(path, **kw)
