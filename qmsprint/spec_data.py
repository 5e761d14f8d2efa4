"""Checks of the experiment file's ``[data]`` table: a file, a database or Spark, where Spark runs, column names.

Kept out of :mod:`qmsprint.spec` (which defines the keys in ``DataSource``) so that module stays small.
"""

from __future__ import annotations

from typing import Any

from qmsprint.errors import Problem

__all__ = ["data_problems"]


def data_problems(data: dict[str, Any], canonical: tuple[str, ...], item_prefix: str) -> list[Problem]:
    """Every problem of ``[data]`` at once: source, connection, table, engine, spark_remote, column names.

    ``canonical`` are qmsprint's column names (``[data.columns]`` keys may also be checklist items
    named ``<item_prefix><name>``).
    """
    problems = _source_problems(data)
    cols = data.get("columns")
    if isinstance(cols, dict):
        for canon in cols:
            if canon not in canonical and not str(canon).startswith(item_prefix):
                problems.append(
                    Problem(
                        f"data.columns.{canon}",
                        "unknown qmsprint column; expected one of "
                        + ", ".join(canonical)
                        + f" or a checklist item '{item_prefix}<name>'",
                    )
                )
    return problems


def _source_problems(data: dict[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    has_file = bool(data.get("source"))
    has_db = bool(data.get("connection"))
    spark = data.get("engine") == "spark"
    if spark:
        problems += _spark_problems(data)
    elif has_file == has_db:
        problems.append(
            Problem("data", "give exactly one of data.source (file/glob) or data.connection (+ data.table)")
        )
    if has_db and not data.get("table"):
        problems.append(Problem("data.table", "a database connection needs the table to read"))
    if has_db and isinstance(data.get("connection"), str) and "://" not in data["connection"]:
        problems.append(
            Problem(
                "data.connection",
                "expected a database URL like postgres://user@host:5432/dbname or duckdb:///path/to/file.db",
            )
        )
    if data.get("spark_remote") and not spark:
        problems.append(Problem("data.spark_remote", 'a Spark Connect URL needs data.engine = "spark"'))
    return problems


def _spark_problems(data: dict[str, Any]) -> list[Problem]:
    """``engine = "spark"``: files or a Spark table (not a database connection), a Spark Connect URL."""
    problems = []
    if data.get("connection"):
        problems.append(
            Problem(
                "data.connection",
                'engine = "spark" reads data.source (files or a glob) or data.table (a table in Spark\'s catalog); '
                "a database connection is read by the database itself: drop data.engine",
            )
        )
    elif bool(data.get("source")) == bool(data.get("table")):
        problems.append(
            Problem("data", 'with engine = "spark" give exactly one of data.source (files/glob) or data.table')
        )
    remote = data.get("spark_remote")
    if isinstance(remote, str) and not remote.startswith("sc://"):
        problems.append(
            Problem("data.spark_remote", f"expected a Spark Connect URL like sc://host:15002 (got {remote!r})")
        )
    return problems
