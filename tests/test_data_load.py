"""Reading interactions: formats, column mapping, parsing, unreadable files (qmsprint.data)."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from _data_helpers import base_rows, make_spec

from qmsprint.data import load_frame, prepare
from qmsprint.errors import DataError


def _problems(err: DataError) -> str:
    return str(err)


def test_csv_and_parquet_give_the_same_table(tmp_path):
    df = base_rows()
    df.to_csv(tmp_path / "data.csv", index=False)
    df.to_parquet(tmp_path / "data.parquet")
    a = load_frame(make_spec(tmp_path, "data.csv"))
    b = load_frame(make_spec(tmp_path, "data.parquet"))
    assert len(a) == len(b) == 40
    pd.testing.assert_frame_equal(a, b)
    assert a["csat"].dtype == "Int64" and a["timestamp"].dtype.kind == "M"
    assert a["site"].eq("(none)").all()  # absent optional category
    assert a["nps"].isna().all()


def test_glob_reads_every_file_and_fingerprint_covers_the_bytes(tmp_path):
    df = base_rows()
    (tmp_path / "parts").mkdir()
    df.iloc[:20].to_csv(tmp_path / "parts" / "a.csv", index=False)
    df.iloc[20:].to_csv(tmp_path / "parts" / "b.csv", index=False)
    spec = make_spec(tmp_path, "parts/*.csv")
    p = prepare(spec)
    assert p.rows_read == 40 and p.rows_used == 40
    fp = p.fingerprint
    (tmp_path / "parts" / "b.csv").write_text((tmp_path / "parts" / "b.csv").read_text().replace("300.0", "301.0"))
    assert prepare(spec).fingerprint != fp
    assert len(fp) == 64


def test_column_mapping_and_client_formats(tmp_path):
    df = pd.DataFrame(
        {
            "Contact ID": ["x1", "x2", "x3", "x4"],
            "Start": ["05/01/2026 08:30", "06/01/2026 09:00:05", "2026-01-07T10:00:00", "13/01/2026"],
            "Cust": ["c1", "c2", "c3", "c4"],
            "Agent": ["a", "a", "b", "b"],
            "Group": ["old", "old", "new", "new"],
            "Survey Score": ["4 - Satisfied", "5 - Very satisfied", "", "1"],
            "Resolved": ["Yes", "no", "TRUE", "0"],
            "Handle (s)": ["300", "250.5", "100", "80"],
            "Greeting": ["Pass", "Fail", "1", "0"],
        }
    )
    df.to_csv(tmp_path / "export.csv", index=False)
    spec = make_spec(
        tmp_path,
        "export.csv",
        data={
            "dayfirst": True,
            "columns": {
                "interaction_id": "Contact ID",
                "timestamp": "Start",
                "customer_id": "Cust",
                "agent_id": "Agent",
                "arm": "Group",
                "csat": "Survey Score",
                "fcr": "Resolved",
                "handle_time": "Handle (s)",
                "item_greeting": "Greeting",
            },
        },
        metrics=[{"name": "csat"}, {"name": "fcr"}, {"name": "handle_time"}],
    )
    f = load_frame(spec)
    assert f["timestamp"].dt.strftime("%Y-%m-%d %H:%M:%S").tolist() == [
        "2026-01-05 08:30:00",
        "2026-01-06 09:00:05",
        "2026-01-07 10:00:00",
        "2026-01-13 00:00:00",
    ]
    assert f["csat"].tolist()[:2] == [4, 5] and pd.isna(f["csat"][2]) and f["csat"][3] == 1
    assert f["fcr"].tolist() == [True, False, True, False]
    assert f["handle_time"].tolist() == [300.0, 250.5, 100.0, 80.0]
    assert f["item_greeting"].tolist() == [1.0, 0.0, 1.0, 0.0]
    # month-first when dayfirst is off: 13/01/2026 is then no date
    spec2 = make_spec(tmp_path, "export.csv", data={"columns": dict(spec.data.columns)}, metrics=[{"name": "csat"}])
    with pytest.raises(DataError) as e:
        load_frame(spec2)
    assert len(e.value.problems) == 1
    p = e.value.problems[0]
    assert p.where == "timestamp" and p.rows == (4,) and p.examples == ("13/01/2026",) and "data.dayfirst" in p.message
    df.iloc[:3].to_csv(tmp_path / "export.csv", index=False)
    assert load_frame(spec2)["timestamp"][0] == pd.Timestamp("2026-05-01 08:30:00")


def test_database_table_source(tmp_path):
    db = tmp_path / "w.db"
    con = duckdb.connect(str(db))
    df = base_rows()  # noqa: F841 - read by DuckDB's replacement scan
    con.execute("create table interactions as select * from df")
    con.close()
    spec = make_spec(tmp_path, data={"connection": f"duckdb:///{db}", "table": "interactions"}, source=None)
    p = prepare(spec)
    assert p.rows_used == 40 and len(p.fingerprint) == 64


@pytest.mark.parametrize(
    ("make", "source", "expected"),
    [
        (lambda p: None, "missing.csv", "data file not found"),
        (lambda p: None, "nothing/*.parquet", "no file matches the pattern"),
        (lambda p: (p / "data.csv").write_text(""), "data.csv", "the file is empty"),
        (lambda p: (p / "data.parquet").write_bytes(b""), "data.parquet", "the file is empty"),
        (lambda p: (p / "data.parquet").write_text("a,b\n1,2\n"), "data.parquet", "not a Parquet file"),
    ],
)
def test_unreadable_sources_give_a_clear_error(tmp_path, make, source, expected):
    make(tmp_path)
    with pytest.raises(DataError) as e:
        prepare(make_spec(tmp_path, source))
    assert expected in _problems(e.value)


def test_truncated_parquet(tmp_path):
    base_rows().to_parquet(tmp_path / "full.parquet")
    data = (tmp_path / "full.parquet").read_bytes()
    (tmp_path / "data.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError) as e:
        prepare(make_spec(tmp_path, "data.parquet"))
    assert "truncated or damaged" in str(e.value)


def test_wrong_delimiter_is_explained(tmp_path):
    base_rows().to_csv(tmp_path / "data.csv", index=False, sep=";")
    with pytest.raises(DataError) as e:
        prepare(make_spec(tmp_path, "data.csv", data={"delimiter": ","}))
    msg = str(e.value)
    assert "delimiter looks wrong" in msg and "required column is missing" in msg


def test_wrong_encoding_is_explained(tmp_path):
    df = base_rows()
    df["team"] = "Équipe Zürich"
    (tmp_path / "data.csv").write_bytes(df.to_csv(index=False).encode("latin-1"))
    with pytest.raises(DataError) as e:
        prepare(make_spec(tmp_path, "data.csv"))
    assert "encoding" in str(e.value)
    ok = load_frame(make_spec(tmp_path, "data.csv", data={"encoding": "latin-1"}))
    assert ok["team"].iloc[0] == "Équipe Zürich"
