"""Table files: :func:`write_csv`, the one CSV writer every CSV qmsprint writes goes through.

Run folders (``effects.csv``, ``diagnostics.csv``), diagnosis tables, assignments, assurance
tables, ``qmsprint compare --out``, simulated data and the app's downloads all use it, so a
change to how qmsprint writes CSV (for example neutralising spreadsheet formulas) is made here
once. :func:`write_parquet` is its Parquet counterpart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd


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
    return df.to_csv(path, **kw)


def write_parquet(df: pd.DataFrame, path: str | Path, **kw: Any) -> None:
    """Write ``df`` as Parquet (without its index unless ``index=True`` is given).

    ``**kw`` are passed to :meth:`pandas.DataFrame.to_parquet` (e.g. ``compression``).
    """
    kw.setdefault("index", False)
    df.to_parquet(path, **kw)
