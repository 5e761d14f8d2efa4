"""A table in a SQL database or warehouse (``[data] connection`` + ``table``), read where it lives.

``ibis.connect`` opens the URL (``postgres://user@host:5432/db`` needs the ``warehouse`` extra:
``pip install 'qmsprint[warehouse]'``; ``duckdb:///file.db`` works out of the box), and every
validation, repeat-contact and reduction query runs in the database: only aggregates come back.
PostgreSQL is tested against a real server. A password in the URL is never shown (labels and
messages carry ``***``); better, leave it out and let the driver read ``PGPASSWORD`` or
``~/.pgpass``.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import ibis
import ibis.expr.types as ir

from qmsprint.data.engine import configure
from qmsprint.data.load import Source, _first_line
from qmsprint.errors import DataError, Problem
from qmsprint.spec import Spec

__all__ = ["open_database", "redact_url", "table_fingerprint"]


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***``."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if not password:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{password}@", ":***@", 1)))


def _driver_hint(err: BaseException) -> str:
    if isinstance(err, ImportError) or "no module named" in str(err).lower():
        return " (the database driver is missing: pip install 'qmsprint[warehouse]')"
    return ""


def table_fingerprint(backend: Any, table: ir.Table) -> str:
    """sha256 over the table's schema, row count and an order-free hash of its rows (one query)."""
    h = hashlib.sha256(str(table.schema()).encode())
    try:
        parts = {"n": table.count()}
        for i, c in enumerate(table.columns):
            parts[f"p{i}"] = table[c].hash().cast("decimal(38, 0)").sum()
        values = backend.execute(table.aggregate(**parts))
        h.update(repr(values.iloc[0].tolist()).encode())
    except Exception:  # noqa: BLE001 - a backend without hash(): fall back to the row count
        h.update(str(backend.execute(table.count())).encode())
    return h.hexdigest()


def open_database(spec: Spec) -> Source:
    """Open ``data.table`` at ``data.connection`` (nothing is read into Python but a fingerprint).

    Raises
    ------
    DataError
        Unreachable database, unknown table, missing driver (the message names the extra to install).

    """
    d = spec.data
    assert d.connection
    where = redact_url(d.connection)
    try:
        backend = ibis.connect(d.connection)
        table = backend.table(d.table)
    except Exception as err:  # noqa: BLE001 - any driver error becomes a clear message
        text = _first_line(err).replace(d.connection, where)
        raise DataError(
            "cannot read the data",
            [Problem("data.connection", f"cannot open table {d.table!r} at {where}: {text}{_driver_hint(err)}")],
        ) from None
    configure(backend)
    return Source(backend, table, table_fingerprint(backend, table), f"{where} table {d.table}")
