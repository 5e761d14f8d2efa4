"""Derived outcomes ("sale within 7 days", "churned within 30 days"): window, censoring, the three event sources."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _data_helpers import make_spec

from qmsprint import metrics
from qmsprint.data import load_frame, prepare
from qmsprint.errors import DataError

T0 = pd.Timestamp("2026-01-01 10:00:00")
DAY = pd.Timedelta(days=1)
END = pd.Timestamp("2026-02-28 12:00:00")  # last timestamp: Feb 27 is the last fully known day


@pytest.fixture(autouse=True)
def _clean_registry():
    before = set(metrics.names())
    yield
    for name in set(metrics.names()) - before:
        metrics.unregister(name)


def _rows() -> pd.DataFrame:
    r = []

    def add(cust, ts, sale=False, cancelled=None):
        r.append((cust, ts, "yes" if sale else "no", cancelled or ""))

    add("same_day", T0 + pd.Timedelta(hours=4))  # a contact later on the day of the sale ...
    add("same_day", T0, sale=True)  # ... and the contact with the sale (earlier that day)
    add("edge", T0)
    add("edge", T0 + 7 * DAY - pd.Timedelta(hours=9), sale=True)  # 7 calendar days later (01:00): counts
    add("late", T0)
    add("late", T0 + 8 * DAY, sale=True)  # 8 days later: outside the window
    add("before", T0 + 2 * DAY)
    add("before", T0 + DAY, sale=True)  # a sale the day before does not count
    add(None, T0)  # no customer id: unknown
    add("tail", END - 5 * DAY)  # window runs past Feb 27: censored
    add("tail2", END - 8 * DAY)  # window ends Feb 27: known
    add("churner", T0 + 3 * DAY, cancelled="2026-01-30")
    add("churner", T0 + 20 * DAY, cancelled="2026-01-30")
    add("stayer", T0 + 4 * DAY)
    add("last", END)
    df = pd.DataFrame(r, columns=["customer_id", "timestamp", "Sale", "Cancelled on"])
    df.insert(0, "interaction_id", [f"i{i}" for i in range(len(df))])
    df["agent_id"] = [f"a{i % 2}" for i in range(len(df))]
    df["arm"] = df["agent_id"].map({"a0": "old", "a1": "new"})
    df["csat"] = ""
    df["handle_time"] = 100.0
    return df


def _frame(tmp_path, entries, df=None, **over):
    (df if df is not None else _rows()).to_csv(tmp_path / "data.csv", index=False)
    spec = make_spec(tmp_path, metrics=[{"name": "csat"}, *entries], **over)
    f = load_frame(spec)  # rows in source order (interaction ids are pseudonymised)
    return f.set_axis([f"i{i}" for i in range(len(f))]), spec


def _plain(s):
    return {k: (None if pd.isna(v) else bool(v)) for k, v in s.items()}


def test_sale_within_7_days_from_a_flag_on_the_contacts(tmp_path):
    f, _ = _frame(tmp_path, [{"name": "sale_7d", "within_days": 7, "event_column": "Sale"}])
    got = _plain(f["sale_7d"])
    assert got["i0"] is True and got["i1"] is True  # an event on the day of the contact counts
    assert got["i2"] is True  # exactly 7 calendar days later
    assert got["i4"] is False  # 8 days later
    assert got["i6"] is False and got["i7"] is True  # the day before does not count; the sale itself does
    assert got["i8"] is None  # no customer id
    assert got["i9"] is None  # censored
    assert got["i10"] is False  # window ends on the last fully known day
    assert got["i14"] is None


def test_churn_within_30_days_from_a_date_column_and_from_an_events_file_agree(tmp_path):
    f, _ = _frame(tmp_path, [{"name": "churn_30d", "within_days": 30, "event_date_column": "Cancelled on"}])
    got = _plain(f["churn_30d"])
    assert got["i11"] is True and got["i12"] is True and got["i13"] is False
    events = pd.DataFrame({"Customer": ["churner"], "When": ["30/01/2026"]})
    events.to_csv(tmp_path / "churn.csv", index=False)
    entry = {
        "name": "churn_30d",
        "within_days": 30,
        "events": "churn.csv",
        "events_columns": {"customer_id": "Customer", "timestamp": "When"},
    }
    f2, _ = _frame(tmp_path, [entry], data={"dayfirst": True})
    assert _plain(f2["churn_30d"]) == got


def test_observed_until_sets_the_censoring_day(tmp_path):
    entry = {"name": "sale_7d", "within_days": 7, "event_column": "Sale", "observed_until": "2026-02-24"}
    f, _ = _frame(tmp_path, [entry])
    got = _plain(f["sale_7d"])
    assert got["i10"] is None  # Feb 20 + 7 days = Feb 27 > Feb 24
    assert got["i2"] is True


def test_windows_match_a_brute_force_on_a_random_log(tmp_path):
    rng = np.random.default_rng(4)
    n = 600
    ts = pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 60 * 86400, n), unit="s")
    df = pd.DataFrame(
        {
            "interaction_id": [f"i{i}" for i in range(n)],
            "customer_id": [f"c{k}" for k in rng.integers(0, 120, n)],
            "timestamp": ts,
            "Sale": np.where(rng.random(n) < 0.1, "yes", "no"),
            "agent_id": [f"a{i % 4}" for i in range(n)],
            "csat": "",
            "handle_time": 100.0,
        }
    )
    df["arm"] = df["agent_id"].map({"a0": "old", "a1": "new", "a2": "old", "a3": "new"})
    f, spec = _frame(tmp_path, [{"name": "sale_5d", "within_days": 5, "event_column": "Sale"}], df=df)
    day = (ts.normalize() - pd.Timestamp("1970-01-01")).days.to_numpy()
    last_known = day.max() - 1
    sale = df["Sale"].eq("yes").to_numpy()
    cust = df["customer_id"].to_numpy()
    expect = {}
    for i in range(n):
        if day[i] + 5 > last_known:
            expect[f"i{i}"] = None
            continue
        same = (cust == cust[i]) & sale & (day >= day[i]) & (day <= day[i] + 5)
        expect[f"i{i}"] = bool(same.any())
    assert _plain(f["sale_5d"]) == expect
    cells = prepare(spec).cells
    known = [v for v in expect.values() if v is not None]
    assert cells["sale_5d_n"].sum() == len(known) and cells["sale_5d_yes"].sum() == sum(known)


def test_an_unreadable_events_file_is_reported_with_its_rows_and_columns(tmp_path):
    pd.DataFrame({"customer_id": ["a", "b", "c"], "timestamp": ["2026-01-05", "soon", "later"]}).to_csv(
        tmp_path / "ev.csv", index=False
    )
    with pytest.raises(DataError) as err:
        _frame(tmp_path, [{"name": "churn_30d", "within_days": 30, "events": "ev.csv"}])
    (p,) = err.value.problems
    assert p.count == 2 and set(p.examples) == {"soon", "later"} and "metrics.churn_30d.events" in p.where
    with pytest.raises(DataError, match="no column 'When'"):
        _frame(
            tmp_path,
            [{"name": "churn_30d", "within_days": 30, "events": "ev.csv", "events_columns": {"timestamp": "When"}}],
        )
    with pytest.raises(DataError, match="events file not found"):
        _frame(tmp_path, [{"name": "churn_30d", "within_days": 30, "events": "missing.csv"}])


def test_a_censoring_warning_names_the_metric(tmp_path):
    _rows().to_csv(tmp_path / "data.csv", index=False)
    spec = make_spec(
        tmp_path, metrics=[{"name": "csat"}, {"name": "sale_7d", "within_days": 7, "event_column": "Sale"}]
    )
    warnings = [w for w in prepare(spec).warnings if w.where == "sale_7d"]
    assert len(warnings) == 1 and warnings[0].count == 3  # no customer id, censored, the last contact
