"""Spark as the engine (``[data] engine = "spark"``): validation, repeat contacts and cells run on Spark.

The same Ibis expressions as on DuckDB run on a SparkSession through Ibis' PySpark backend; only
the aggregates (validation counts, a few example rows when something is wrong, counts per period
and arm, the cells and the weekly totals) come back to Python.

Where Spark runs
    ``[data] spark_remote = "sc://host:15002"``: a Spark Connect server (a cluster); without it a
    local session (``local[<cores>]``, driver memory from the machine), or the session already
    active in this process (e.g. a notebook's). The session's time zone is set to UTC (timestamps
    without a zone are read as UTC, as on DuckDB). The session is left running for later calls.
What Spark reads
    ``[data] source``: a file, folder-free glob or URL (``s3a://``, ``hdfs://``, ``abfss://`` ...)
    of Parquet or CSV files, read by Spark itself (a cluster must be able to read the path).
    Local files are found and fingerprinted (sha256 of their bytes) here as with DuckDB; a URL is
    fingerprinted from the content. ``[data] table``: a table of Spark's catalog.
Row numbers (for messages about bad rows)
    Parquet: the reader's row index within each file (``_metadata.row_index``) plus the rows of the
    files before it in path order, as on DuckDB. CSV and catalog tables: numbered in the order
    Spark reads them (within each file for CSV).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import ibis

from qmsprint.data.engine import machine_resources
from qmsprint.data.load import (
    Source,
    _check_parquet_files,
    _csv_message,
    _files,
    _first_line,
    _format,
    _hash_files,
)
from qmsprint.data.warehouse import table_fingerprint
from qmsprint.errors import DataError, Problem
from qmsprint.spec import Spec

__all__ = ["open_spark_source", "spark_session"]

_views = itertools.count()
SCHEMES = ("s3://", "s3a://", "s3n://", "hdfs://", "gs://", "abfs://", "abfss://", "wasbs://", "dbfs:/", "file:/")


def spark_session(spec: Spec) -> Any:
    """The SparkSession for the spec: Spark Connect at ``data.spark_remote``, else local (or the active one).

    Raises
    ------
    DataError
        PySpark is not installed, or the session cannot start (no Java, unreachable server).

    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise DataError(
            "Spark is not available",
            [Problem("data.engine", "engine = \"spark\" needs PySpark: pip install 'qmsprint[spark]' (and Java 17)")],
        ) from None
    remote = spec.data.spark_remote
    try:
        if remote:
            session = SparkSession.builder.remote(remote).getOrCreate()
        else:
            session = SparkSession.getActiveSession()
            if session is None:
                threads, avail = machine_resources()
                driver_gb = max(1, min(8, avail // 3 >> 30))
                session = (
                    SparkSession.builder.master(f"local[{threads}]")
                    .appName("qmsprint")
                    .config("spark.driver.memory", f"{driver_gb}g")
                    .config("spark.ui.enabled", "false")
                    .config("spark.ui.showConsoleProgress", "false")
                    .config("spark.sql.shuffle.partitions", str(max(4, 4 * threads)))
                    .config("spark.sql.session.timeZone", "UTC")
                    .getOrCreate()
                )
                session.sparkContext.setLogLevel("ERROR")
        session.conf.set("spark.sql.session.timeZone", "UTC")
    except Exception as err:  # noqa: BLE001 - no Java, bad URL, server down
        where = "data.spark_remote" if remote else "data.engine"
        raise DataError("Spark is not available", [Problem(where, f"cannot start Spark: {_first_line(err)}")]) from None
    return session


def _is_url(text: str) -> bool:
    return text.startswith(SCHEMES) or ("://" in text and not Path(text).exists())


def _register(con: Any, df: Any) -> Any:
    name = f"qms_src_{next(_views)}"
    df.createOrReplaceTempView(name)
    return con.table(name)


def _numbered(df: Any, per_file: bool) -> Any:
    """``df`` with ``file_row_number`` (0-based, in Spark's read order) and ``filename``."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F  # noqa: N812

    df = df.withColumn("filename", F.col("_metadata.file_path") if per_file else F.lit("table"))
    order = Window.partitionBy("filename").orderBy(F.monotonically_increasing_id())
    return df.withColumn("file_row_number", F.row_number().over(order) - 1)


def _offsets(df: Any) -> dict[str, int]:
    """Rows before each file (files in path order), from Spark's counts per file."""
    counts = sorted((r["filename"], r["count"]) for r in df.groupBy("filename").count().collect())
    out, total = {}, 0
    for name, n in counts:
        out[name] = total
        total += n
    return out


def open_spark_source(spec: Spec) -> Source:
    """Open the spec's data in Spark (nothing is read into Python).

    Raises
    ------
    DataError
        As :func:`qmsprint.data.load.open_source`, plus Spark not available.

    """
    d = spec.data
    session = spark_session(spec)
    con = ibis.pyspark.connect(session)
    if d.table:
        try:
            df = _numbered(session.table(d.table), per_file=False)
        except Exception as err:  # noqa: BLE001
            msg = f"cannot read table {d.table!r} in Spark: {_first_line(err)}"
            raise DataError("cannot read the data", [Problem("data.table", msg)]) from None
        table = _register(con, df)
        return Source(con, table, table_fingerprint(con, table), f"Spark table {d.table}", [], {"table": 0})
    assert d.source
    if _is_url(d.source):
        locations, paths, label = [d.source], [], d.source
        kind = d.format
        if kind == "auto":
            kind = "csv" if d.source.lower().endswith((".csv", ".csv.gz", ".tsv", ".txt")) else "parquet"
    else:
        paths = _files(spec)
        kind = _format(spec, paths)
        locations = [str(p) for p in paths]
        label = ", ".join(p.name for p in paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        problems = (
            _check_parquet_files(paths)
            if kind == "parquet"
            else [Problem(str(p), "the file is empty") for p in paths if p.stat().st_size == 0]
        )
        if problems:
            raise DataError("cannot read the data", problems)
    try:
        if kind == "parquet":
            from pyspark.sql import functions as F  # noqa: N812

            df = session.read.parquet(*locations)
            df = df.withColumn("filename", F.col("_metadata.file_path"))
            df = df.withColumn("file_row_number", F.col("_metadata.row_index"))
        else:
            reader = session.read.option("header", True).option("inferSchema", False).option("mode", "PERMISSIVE")
            if d.delimiter:
                reader = reader.option("sep", d.delimiter)
            reader = reader.option("encoding", d.encoding)
            df = _numbered(reader.csv(locations), per_file=True)
        offsets = _offsets(df)
    except Exception as err:  # noqa: BLE001
        text = f"unreadable Parquet: {_first_line(err)}" if kind == "parquet" else _csv_message(err, d.encoding)
        raise DataError("cannot read the data", [Problem(label, text)]) from None
    if len(df.columns) <= 2:
        raise DataError("cannot read the data", [Problem(label, "the file has no columns (is it empty?)")])
    table = _register(con, df)
    fingerprint = _hash_files(paths) if paths else table_fingerprint(con, table)
    return Source(con, table, fingerprint, label, paths, offsets, reread=kind == "parquet")
