"""Cells and weekly reduction: arithmetic against a hand computation; DuckDB vs PySpark equality."""

from __future__ import annotations

import math

import ibis
import numpy as np
import pandas as pd
import pytest
from _data_helpers import make_spec

from qmsprint.data import CELL_KEYS, cells_expr, load_frame, prepare, weekly_expr
from qmsprint.data.pseudonymise import engagement_key, pseudonyms
from qmsprint.data.repeat import derive


def _tiny(tmp_path):
    df = pd.DataFrame(
        {
            "interaction_id": ["1", "2", "3", "4", "5", "6"],
            "timestamp": [
                "2026-03-02 09:00:00",  # Monday
                "2026-03-03 09:00:00",
                "2026-03-08 23:00:00",  # Sunday: same week
                "2026-03-09 09:00:00",  # next Monday
                "2026-03-20 09:00:00",
                "2026-03-30 09:00:00",
            ],
            "customer_id": ["c1", "c1", "c2", "c3", "c4", "c5"],
            "agent_id": ["a", "a", "a", "b", "b", "b"],
            "team": ["t", "t", "t", "t", "t", "t"],
            "channel": ["voice", "voice", "chat", "voice", "voice", "voice"],
            "contact_reason": ["r"] * 6,
            "arm": ["old", "old", "old", "new", "new", "new"],
            "qa_score": [80, 90, "", 100, 50, 70],
            "behavior_score": [60, "", 70, 80, 90, 10],
            "csat": [5, "", 3, 4, 4, 1],
            "nps": [10, 6, "", 9, 7, 0],
            "fcr": ["yes", "no", "", "yes", "yes", "no"],
            "handle_time": [100, 200, 400, 300, 300, 50],
            "tenure_months": [12, 12, 12, 3, 3, 3],
        }
    )
    df.to_csv(tmp_path / "data.csv", index=False)
    return make_spec(tmp_path, metrics=[{"name": "csat"}, {"name": "nps"}, {"name": "fcr"}, {"name": "handle_time"}])


def test_cells_match_a_hand_computation(tmp_path):
    spec = _tiny(tmp_path)
    p = prepare(spec)
    real = {a: r for r, a in pseudonyms(["a", "b"], engagement_key(spec)).items()}  # cells carry keyed pseudonyms
    c = p.cells.assign(agent_id=p.cells["agent_id"].map(real)).set_index(["agent_id", "channel"])
    a = c.loc[("a", "voice")]
    assert (a["n"], a["csat_n"], a["csat_5"], a["csat_3"], a["nps_n"], a["nps_10"], a["nps_6"]) == (2, 1, 1, 0, 2, 1, 1)
    assert (a["fcr_n"], a["fcr_yes"], a["qa_n"], a["qa_sum"], a["behavior_n"], a["behavior_sum"]) == (
        2,
        1,
        2,
        170,
        1,
        60,
    )
    assert (a["ht_n"], a["ht_sum"], a["ht_sumsq"]) == (2, 300.0, 100.0**2 + 200.0**2)
    assert math.isclose(a["lht_sum"], math.log(100) + math.log(200))
    assert math.isclose(a["lht_sumsq"], math.log(100) ** 2 + math.log(200) ** 2)
    assert (a["tenure_n"], a["tenure_sum"]) == (2, 24.0)
    # customer c1 contacted again the next day: a repeat; the other contacts have none
    assert (a["repeat_n"], a["repeat_yes"]) == (2, 1)
    ach = c.loc[("a", "chat")]
    assert (ach["n"], ach["csat_3"], ach["qa_n"], ach["nps_n"], ach["fcr_n"]) == (1, 1, 0, 0, 0)
    b = c.loc[("b", "voice")]
    assert (b["n"], b["csat_n"], b["csat_4"], b["csat_1"], b["nps_9"], b["nps_7"], b["nps_0"]) == (3, 3, 2, 1, 1, 1, 1)
    assert (b["fcr_yes"], b["ht_sum"], b["qa_sum"], b["behavior_sum"]) == (2, 650.0, 220.0, 180.0)
    # the last contact's 7-day window runs past the end of the data: censored
    assert (b["repeat_n"], b["repeat_yes"]) == (2, 0) and p.repeat_censored == 1
    assert list(p.cells.columns[: len(CELL_KEYS)]) == list(CELL_KEYS)
    assert set(p.cells["site"]) == {"(none)"} and set(p.cells["period"]) == {"pilot"}
    w = p.weekly.set_index(["arm", "week"])
    old = w.loc[("old", pd.Timestamp("2026-03-02").date())]
    assert (old["n"], old["csat_n"], old["csat_sum"], old["nps_promoters"], old["nps_detractors"]) == (3, 2, 8, 1, 1)
    assert (old["fcr_n"], old["fcr_yes"], old["ht_n"], old["ht_sum"]) == (2, 1, 3, 700.0)
    assert w.loc[("new", pd.Timestamp("2026-03-09").date()), "n"] == 1
    assert p.weekly["n"].sum() == 6


def _compare(a: pd.DataFrame, b: pd.DataFrame, keys: list[str]) -> None:
    a = a.sort_values(keys).reset_index(drop=True)
    b = b.sort_values(keys).reset_index(drop=True)
    assert list(a.columns) == list(b.columns)
    for col in a.columns:
        if col in keys:
            assert a[col].astype(str).tolist() == b[col].astype(str).tolist(), col
        else:
            np.testing.assert_allclose(a[col].astype(float), b[col].astype(float), rtol=1e-9, err_msg=col)


@pytest.mark.spark
@pytest.mark.slow
def test_the_same_expressions_give_identical_statistics_on_pyspark(tmp_path):
    pyspark = pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    from qmsprint.simulate import SimConfig, simulate
    from qmsprint.store import write_simulation

    sim = simulate(SimConfig(n_agents=8, n_teams=2, interactions_per_agent=40, weeks=4, baseline_weeks=2, seed=4))
    write_simulation(sim, tmp_path / "sim.parquet")
    import datetime as dt

    spec = make_spec(
        tmp_path,
        "sim.parquet",
        arms={"control": "checklist", "treatment": "behavior"},
        periods={
            "baseline": {"start": dt.date(2026, 1, 5), "end": dt.date(2026, 1, 17)},
            "pilot": {"start": dt.date(2026, 1, 19), "end": dt.date(2026, 2, 15)},
        },
        metrics=[{"name": "csat"}, {"name": "fcr", "source": "no_repeat"}, {"name": "nps"}],
        repeat_contacts={"window_days": 5, "same_reason": True},
    )
    canon = load_frame(spec).drop(columns=["period", "repeat_contact"])
    canon["timestamp"] = canon["timestamp"].astype("datetime64[us]")

    def run_all(con, table):
        rows = derive(table, spec)
        used = rows.filter(rows.period.notnull())
        return con.execute(cells_expr(used, spec)), con.execute(weekly_expr(used, spec))

    duck = ibis.duckdb.connect()
    d_cells, d_weekly = run_all(duck, duck.create_table("canon", ibis.memtable(canon)))
    session = (
        SparkSession.builder.master("local[1]")
        .appName("qmsprint-test")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .getOrCreate()
    )
    try:
        spark = ibis.pyspark.connect(session)
        canon.to_parquet(tmp_path / "canon.parquet", index=False)
        session.read.parquet(str(tmp_path / "canon.parquet")).createOrReplaceTempView("canon")
        s_cells, s_weekly = run_all(spark, spark.table("canon"))
    finally:
        session.stop()
    assert pyspark.__version__ and len(d_cells) > 50
    _compare(d_cells, s_cells, list(CELL_KEYS))
    d_weekly["week"] = pd.to_datetime(d_weekly["week"])
    s_weekly["week"] = pd.to_datetime(s_weekly["week"])
    _compare(d_weekly, s_weekly, ["arm", "period", "week"])
    assert d_cells["repeat_yes"].sum() > 0 and d_cells["fcr_yes"].sum() > 0
