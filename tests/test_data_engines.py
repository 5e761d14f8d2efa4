"""Where the data lives: DuckDB sized from the machine, one validation pass, Spark (local and Spark
Connect) and a real PostgreSQL warehouse, each giving the cells DuckDB gives."""

from __future__ import annotations

import datetime as dt
import shutil

import ibis
import pandas as pd
import pytest
from _data_helpers import base_rows, make_spec
from _postgres import postgres_server, server_binaries

import qmsprint.data.load as load_mod
import qmsprint.data.schema as schema_mod
from qmsprint.data import engine, prepare
from qmsprint.errors import DataError, SpecError

SIM_SPEC = {
    "arms": {"control": "checklist", "treatment": "behavior"},
    "periods": {
        "baseline": {"start": dt.date(2026, 1, 5), "end": dt.date(2026, 1, 17)},
        "pilot": {"start": dt.date(2026, 1, 19), "end": dt.date(2026, 2, 15)},
    },
    "metrics": [{"name": "csat"}, {"name": "fcr", "source": "no_repeat"}, {"name": "nps"}, {"name": "handle_time"}],
    "repeat_contacts": {"window_days": 5, "same_reason": True},
}


@pytest.fixture(scope="module")
def sim_frame() -> pd.DataFrame:
    from qmsprint.simulate import SimConfig, simulate

    sim = simulate(SimConfig(n_agents=8, n_teams=2, interactions_per_agent=40, weeks=4, baseline_weeks=2, seed=4))
    return sim.frame


def _same(a, b) -> None:
    """Two PreparedData hold the same cells, weekly totals, counts and warnings."""
    pd.testing.assert_frame_equal(a.cells, b.cells, check_dtype=False)
    pd.testing.assert_frame_equal(a.weekly, b.weekly, check_dtype=False)
    assert (a.rows_read, a.rows_used, a.rows_outside_periods, a.repeat_censored) == (
        b.rows_read,
        b.rows_used,
        b.rows_outside_periods,
        b.repeat_censored,
    )
    assert [w.message for w in a.warnings] == [w.message for w in b.warnings]


def _problems(err: DataError) -> list[tuple]:
    return sorted((p.where, p.message, p.count, p.rows, p.examples) for p in err.problems)


# ------------------------------------------------------------------------------------------- DuckDB


def test_duckdb_threads_and_memory_limit_come_from_the_machine(monkeypatch, tmp_path):
    monkeypatch.delenv("QMSPRINT_DUCKDB_MEMORY", raising=False)
    monkeypatch.setattr(engine, "machine_resources", lambda: (2, 24 << 30))
    # half of what is available: at 100M interactions 2 GiB ran out of memory (bench_data.py)
    assert engine.duckdb_settings() == {"threads": "2", "memory_limit": "12288MiB"}
    monkeypatch.setattr(engine, "machine_resources", lambda: (8, 6 << 30))
    assert engine.duckdb_settings()["memory_limit"] == "3072MiB"
    monkeypatch.setattr(engine, "machine_resources", lambda: (1, 200 << 20))
    assert engine.duckdb_settings()["memory_limit"] == "256MiB"  # a floor
    monkeypatch.setenv("QMSPRINT_DUCKDB_MEMORY", "5GB")
    assert engine.duckdb_settings()["memory_limit"] == "5GB"
    monkeypatch.delenv("QMSPRINT_DUCKDB_MEMORY")
    monkeypatch.setattr(engine, "machine_resources", lambda: (3, 6 << 30))
    base_rows().to_parquet(tmp_path / "d.parquet")
    con = load_mod.open_source(make_spec(tmp_path, "d.parquet")).con
    threads, limit = con.raw_sql("select current_setting('threads'), current_setting('memory_limit')").fetchone()
    assert int(threads) == 3 and limit.replace(" ", "") in ("3.0GiB", "3GiB", "3072.0MiB")
    real_threads, real_memory = engine.machine_resources()
    assert real_threads >= 1 and real_memory > 0


def test_a_valid_table_is_read_once_to_validate_and_reduced_without_wide_copies(tmp_path, monkeypatch):
    base_rows(200).to_parquet(tmp_path / "d.parquet")
    queries: list[str] = []
    real = load_mod.execute

    def counting(con, expr, what, label):
        queries.append(what)
        return real(con, expr, what, label)

    monkeypatch.setattr(schema_mod, "execute", counting)
    created: list[str] = []
    real_create = ibis.backends.duckdb.Backend.create_table

    def create(self, name, obj=None, **kw):
        created.append(name)
        return real_create(self, name, obj, **kw)

    monkeypatch.setattr(ibis.backends.duckdb.Backend, "create_table", create)
    prepare(make_spec(tmp_path, "d.parquet"))
    # one aggregate for every row rule, ids, arms and padding; one group-by for units in two arms
    assert queries == ["read the data", "validate the data"]
    assert created == [n for n in created if n.startswith("_qms_repeats_")] and len(created) == 1  # row numbers only


def test_parquet_text_with_spaces_or_empty_values_reads_as_in_a_csv(tmp_path):
    df = base_rows(60)
    df.to_parquet(tmp_path / "clean.parquet")
    padded = df.copy()
    padded["agent_id"] = " " + padded["agent_id"] + "\t"  # every agent id padded
    padded.loc[::7, "arm"] = padded.loc[::7, "arm"] + "  "  # some arms
    padded.loc[3, "customer_id"] = "\n" + padded.loc[3, "customer_id"]
    padded.to_parquet(tmp_path / "padded.parquet")
    padded.to_csv(tmp_path / "padded.csv", index=False)
    clean = prepare(make_spec(tmp_path, "clean.parquet"))
    _same(clean, prepare(make_spec(tmp_path, "padded.parquet")))
    _same(clean, prepare(make_spec(tmp_path, "padded.csv")))
    empty = padded.copy()
    empty.loc[5, "customer_id"] = "  "  # blank: no customer, so no repeat-contact outcome
    empty.loc[6, "team"] = ""
    empty.to_parquet(tmp_path / "empty.parquet")
    empty.to_csv(tmp_path / "empty.csv", index=False)
    a, b = prepare(make_spec(tmp_path, "empty.parquet")), prepare(make_spec(tmp_path, "empty.csv"))
    _same(a, b)
    assert "(missing)" in set(a.cells["team"]) and a.cells["repeat_n"].sum() == clean.cells["repeat_n"].sum() - 1


def test_data_engine_and_connection_keys_are_checked(tmp_path):
    ok = make_spec(tmp_path, "d.parquet", data={"engine": "spark", "spark_remote": "sc://spark.example:15002"})
    assert ok.data.engine == "spark" and ok.data.spark_remote == "sc://spark.example:15002"
    assert make_spec(tmp_path, None, data={"engine": "spark", "table": "db.interactions"}).data.table

    def problems(**data):
        with pytest.raises(SpecError) as e:
            make_spec(tmp_path, data.pop("source", "d.parquet"), data=data)
        return {p.where: p.message for p in e.value.problems}

    assert "duckdb" in problems(engine="pandas")["data.engine"]
    assert "sc://host:15002" in problems(engine="spark", spark_remote="http://x:15002")["data.spark_remote"]
    assert 'needs data.engine = "spark"' in problems(spark_remote="sc://x:15002")["data.spark_remote"]
    assert (
        "drop data.engine"
        in problems(engine="spark", source=None, connection="postgres://h/db", table="t")["data.connection"]
    )
    assert "exactly one" in problems(engine="spark", table="t")["data"]
    assert "postgres://" in problems(source=None, connection="warehouse", table="t")["data.connection"]


# ------------------------------------------------------------------------------------------- Spark


def _java_and_pyspark() -> None:
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("no Java on this machine (`make system-deps` installs default-jre-headless)")


@pytest.fixture
def spark_cleanup():
    yield
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    if session is not None:
        session.stop()


@pytest.mark.spark
@pytest.mark.slow
def test_spark_engine_validates_and_reduces_on_spark_like_duckdb(tmp_path, sim_frame, spark_cleanup):
    _java_and_pyspark()
    (tmp_path / "p").mkdir()
    half = len(sim_frame) // 2
    sim_frame.iloc[:half].to_parquet(tmp_path / "p" / "a.parquet", index=False)
    sim_frame.iloc[half:].to_parquet(tmp_path / "p" / "b.parquet", index=False)
    duck = prepare(make_spec(tmp_path, "p/*.parquet", **SIM_SPEC))
    spark = prepare(make_spec(tmp_path, "p/*.parquet", data={"engine": "spark"}, **SIM_SPEC))
    _same(duck, spark)
    assert spark.fingerprint == duck.fingerprint and spark.cells["repeat_yes"].sum() > 0
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    assert session is not None and session.conf.get("spark.sql.session.timeZone") == "UTC"
    # bad values in the second file: the same problems, with row numbers across the files
    bad = sim_frame.copy()
    bad.loc[half + 3, "csat"] = 9
    bad.loc[half + 10, "agent_id"] = None
    bad.loc[half + 11, "interaction_id"] = bad.loc[2, "interaction_id"]
    bad.iloc[:half].to_parquet(tmp_path / "p" / "a.parquet", index=False)
    bad.iloc[half:].to_parquet(tmp_path / "p" / "b.parquet", index=False)
    errors = []
    for data in ({}, {"engine": "spark"}):
        with pytest.raises(DataError) as e:
            prepare(make_spec(tmp_path, "p/*.parquet", data=data, **SIM_SPEC))
        errors.append(_problems(e.value))
    assert errors[0] == errors[1] and len(errors[0]) == 3
    assert ("csat", half + 4) in {(w, r[0]) for w, _, _, r, _ in errors[1]}
    # a CSV source on Spark
    sim_frame.to_csv(tmp_path / "sim.csv", index=False)
    _same(prepare(make_spec(tmp_path, "sim.csv", **SIM_SPEC)),
          prepare(make_spec(tmp_path, "sim.csv", data={"engine": "spark"}, **SIM_SPEC)))  # fmt: skip


@pytest.mark.spark
@pytest.mark.slow
def test_spark_connect_url_runs_the_same_on_a_spark_connect_server(tmp_path, sim_frame):
    _java_and_pyspark()
    pytest.importorskip("grpc", reason="Spark Connect needs pyspark[connect] (the spark extra installs it)")
    from pyspark.sql import SparkSession

    port = 15002  # PySpark's local Spark Connect server always listens on the default port
    if not _port_free(port):
        pytest.skip(f"port {port} is taken: cannot start a local Spark Connect server")
    server = (
        SparkSession.builder.remote("local[2]").config("spark.sql.shuffle.partitions", "4").getOrCreate()
    )  # starts a local Spark Connect server, as a cluster runs one
    try:
        sim_frame.to_parquet(tmp_path / "sim.parquet", index=False)
        duck = prepare(make_spec(tmp_path, "sim.parquet", **SIM_SPEC))
        remote = {"engine": "spark", "spark_remote": f"sc://localhost:{port}"}
        _same(duck, prepare(make_spec(tmp_path, "sim.parquet", data=remote, **SIM_SPEC)))
    finally:
        server.stop()


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# ------------------------------------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="module")
def postgres_url():
    pytest.importorskip("psycopg", reason="the warehouse extra (ibis-framework[postgres]) is not installed")
    bindir = server_binaries()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found; `make system-deps` installs postgresql")
    with postgres_server(bindir) as url:
        yield url


@pytest.mark.postgres
def test_a_postgresql_table_gives_the_cells_duckdb_gives(postgres_url, tmp_path, sim_frame):
    con = ibis.connect(postgres_url)
    con.create_table("interactions", sim_frame)
    sim_frame.to_parquet(tmp_path / "sim.parquet", index=False)
    duck = prepare(make_spec(tmp_path, "sim.parquet", **SIM_SPEC))
    spec = make_spec(tmp_path, None, data={"connection": postgres_url, "table": "interactions"}, **SIM_SPEC)
    pg = prepare(spec)
    _same(duck, pg)
    assert len(pg.fingerprint) == 64 and pg.fingerprint == prepare(spec).fingerprint
    assert pg.source == f"{postgres_url} table interactions"


@pytest.mark.postgres
def test_a_postgresql_table_is_validated_in_the_database(postgres_url, tmp_path):
    df = base_rows()
    df["csat"] = pd.to_numeric(df["csat"])
    df["timestamp"] = pd.to_datetime(df["timestamp"])
    df.loc[4, "csat"] = 9
    df.loc[6, "qa_score"] = 120.0
    df.loc[11, "agent_id"] = None
    df.loc[0, "arm"] = "pilot-x"
    con = ibis.connect(postgres_url)
    con.create_table("bad", df)
    df.to_parquet(tmp_path / "bad.parquet", index=False)
    errors = []
    for kw in ({"source": "bad.parquet"}, {"source": None, "data": {"connection": postgres_url, "table": "bad"}}):
        with pytest.raises(DataError) as e:
            prepare(make_spec(tmp_path, kw.pop("source"), **kw))
        errors.append({(p.where, p.message, p.count, p.examples) for p in e.value.problems})
    assert errors[0] == errors[1] and len(errors[0]) == 4


@pytest.mark.postgres
def test_a_password_in_the_connection_url_is_never_shown(postgres_url, tmp_path):
    con = ibis.connect(postgres_url)
    con.create_table("small", base_rows())
    with_password = postgres_url.replace("qms@", "qms:s3cret@")  # trust authentication ignores it
    p = prepare(make_spec(tmp_path, None, data={"connection": with_password, "table": "small"}))
    assert "s3cret" not in p.source and "qms:***@" in p.source
    with pytest.raises(DataError) as e:
        prepare(make_spec(tmp_path, None, data={"connection": with_password, "table": "missing_table"}))
    assert "s3cret" not in str(e.value) and "missing_table" in str(e.value)
