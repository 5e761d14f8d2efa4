"""Reading a client export for a suggestion, and the experiment file ``qmsprint init`` writes for it."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from qmsprint.errors import DataError, Problem
from qmsprint.setup.experiment_file import choices_from_suggestion, write_experiment_toml
from qmsprint.setup.suggest import Suggestion, suggest_mapping

SAMPLE_ROWS = 200_000  # rows read for the suggestion; validation reads the whole file
_SNIFF_BYTES = 64 * 1024
_DELIMITERS = ",;\t|"


@dataclass(frozen=True)
class Export:
    """Rows of a client export as text, and how the file is read.

    Attributes
    ----------
    frame
        The first rows, every value as text (empty cells missing).
    path
        The file.
    delimiter
        Field separator of a CSV file when not a comma (None: comma, or Parquet).
    encoding
        Text encoding of a CSV file.

    """

    frame: pd.DataFrame
    path: Path
    delimiter: str | None = None
    encoding: str = "utf-8"


def _encoding(head: bytes) -> str:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.start < len(head) - 4:  # not just a character cut at the end of the sniffed bytes
            return "latin-1"
    return "utf-8"


def _delimiter(text: str) -> str:
    lines = text.splitlines()[:20]
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=_DELIMITERS).delimiter
    except csv.Error:
        first = lines[0] if lines else ""
        return max(_DELIMITERS, key=first.count) if any(d in first for d in _DELIMITERS) else ","


def read_export(path: str | Path, *, rows: int | None = SAMPLE_ROWS) -> Export:
    """The first ``rows`` rows of a CSV or Parquet export, as text, with its delimiter and encoding.

    Raises
    ------
    DataError
        Missing, empty or unreadable file.

    """
    path = Path(path)
    if not path.is_file():
        raise DataError("no data to read", [Problem(str(path), "file not found")])
    with open(path, "rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if not head:
        raise DataError("cannot read the data", [Problem(str(path), "the file is empty")])
    try:
        if head[:4] == b"PAR1":
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(path)
            batches = []
            left = rows if rows is not None else pf.metadata.num_rows
            for batch in pf.iter_batches(batch_size=min(max(left, 1), 65536)):
                batches.append(batch.to_pandas())
                left -= batch.num_rows
                if left <= 0:
                    break
            frame = pd.concat(batches, ignore_index=True) if batches else pf.schema_arrow.empty_table().to_pandas()
            return Export(frame.head(rows) if rows is not None else frame, path)
        encoding = _encoding(head)
        delimiter = _delimiter(head.decode(encoding, errors="ignore"))
        frame = pd.read_csv(path, sep=delimiter, encoding=encoding, dtype=str, keep_default_na=False, na_values=[""],
                            nrows=rows, skipinitialspace=True)  # fmt: skip
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as err:
        raise DataError("cannot read the data", [Problem(str(path), f"unreadable file: {err}")]) from None
    return Export(frame, path, None if delimiter == "," else delimiter, encoding)


def suggest_file(path: str | Path, *, rows: int | None = SAMPLE_ROWS, check: bool = True) -> Suggestion:
    """:func:`~qmsprint.setup.suggest.suggest_mapping` on an export file (validation reads the whole file)."""
    ex = read_export(path, rows=rows)
    return suggest_mapping(ex.frame, source=ex.path, delimiter=ex.delimiter, encoding=ex.encoding, check=check)


def experiment_toml_for(export: str | Path, out: str | Path, *, name: str | None = None) -> tuple[str, Suggestion]:
    """The experiment file ``qmsprint init EXPORT --out FILE`` writes: the suggestion taken as it is.

    Parameters
    ----------
    export
        The client's CSV or Parquet file.
    out
        Where the experiment file will be written (the data path in it is relative to its folder).
    name
        Pilot name (default: from the export's file name).

    Returns
    -------
    tuple[str, Suggestion]
        The file's text (not written here) and the suggestion (its ``problems`` say what
        ``qmsprint validate`` will report).

    """
    s = suggest_file(export)
    choices = choices_from_suggestion(s, toml_dir=Path(out).resolve().parent, name=name)
    return write_experiment_toml(choices), s
