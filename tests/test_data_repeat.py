"""Repeat contacts: window boundary (strictly after, at most exactly the window later), censoring, same reason."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from _data_helpers import make_spec

from qmsprint.data import load_frame, prepare

T0 = pd.Timestamp("2026-01-01 00:00:00")
DAY = pd.Timedelta(days=1)
SEC = pd.Timedelta(seconds=1)
END = pd.Timestamp("2026-01-31 00:00:00")


def _rows():
    r = []

    def add(cust, ts, reason="billing", agent="a0"):
        r.append((cust, ts, reason, agent))

    add("exact", T0)
    add("exact", T0 + 7 * DAY)  # exactly 7 days later: a repeat
    add("past", T0)
    add("past", T0 + 7 * DAY + SEC)  # one second past the window: not a repeat
    add("single", T0 + DAY)
    add("same_second", T0 + 2 * DAY)
    add("same_second", T0 + 2 * DAY)  # simultaneous contacts do not repeat each other
    add("reason", T0 + 3 * DAY, "billing")
    add("reason", T0 + 4 * DAY, "technical")  # a repeat unless the same reason is required
    add("edge_in", END - 7 * DAY)  # window ends exactly at the last timestamp: observed
    add("edge_out", END - 7 * DAY + SEC)  # window runs past the end: censored
    add("edge_out", END - 6 * DAY)  # ... even though a repeat is seen
    add("boundary", pd.Timestamp("2026-01-10 12:00:00"), agent="a1")  # baseline contact ...
    add("boundary", pd.Timestamp("2026-01-12 09:00:00"), agent="a1")  # ... repeated in the pilot
    add("last", END, agent="a1")
    df = pd.DataFrame(r, columns=["customer_id", "timestamp", "contact_reason", "agent_id"])
    df.insert(0, "interaction_id", [f"i{i}" for i in range(len(df))])
    df["arm"] = df["agent_id"].map({"a0": "old", "a1": "new"})
    df["csat"] = ""
    df["handle_time"] = 100.0
    return df


def _load(tmp_path, **over):
    df = _rows()
    df.to_csv(tmp_path / "data.csv", index=False)
    f = load_frame(make_spec(tmp_path, **over))
    return f.set_index("interaction_id")["repeat_contact"], df


def _plain(rep):
    return {k: (None if pd.isna(v) else bool(v)) for k, v in rep.items()}


def test_window_boundaries_and_censoring(tmp_path):
    rep, _ = _load(tmp_path)
    assert _plain(rep) == {
        "i0": True,  # exactly 7 days later
        "i1": False,
        "i2": False,  # 7 days + 1 second later
        "i3": False,
        "i4": False,  # one contact only
        "i5": False,  # same second
        "i6": False,
        "i7": True,  # next day, other reason
        "i8": False,
        "i9": False,  # window ends exactly at the last timestamp
        "i10": None,  # censored although a repeat is seen
        "i11": None,
        "i12": True,
        "i13": False,
        "i14": None,
    }


def test_same_reason_option(tmp_path):
    rep, _ = _load(tmp_path, repeat_contacts={"window_days": 7, "same_reason": True})
    got = _plain(rep)
    assert got["i7"] is False and got["i0"] is True and got["i12"] is True


def test_window_length_from_the_spec(tmp_path):
    rep, _ = _load(tmp_path, repeat_contacts={"window_days": 3})
    assert bool(rep["i0"]) is False  # 7 days later is outside a 3-day window
    assert bool(rep["i7"]) is True  # 1 day later
    # edge_in is now far from the end and not censored
    assert bool(rep["i9"]) is False


def test_repeats_cross_periods_and_censored_rows_are_counted(tmp_path):
    df = _rows()
    df.to_csv(tmp_path / "data.csv", index=False)
    spec = make_spec(
        tmp_path,
        periods={
            "baseline": {"start": dt.date(2026, 1, 1), "end": dt.date(2026, 1, 10)},
            "pilot": {"start": dt.date(2026, 1, 11), "end": dt.date(2026, 1, 31)},
        },
        metrics=[{"name": "repeat_contact"}, {"name": "fcr", "source": "no_repeat"}],
    )
    f = load_frame(spec).set_index("interaction_id")
    assert f.loc["i12", "period"] == "baseline" and bool(f.loc["i12", "repeat_contact"]) is True
    p = prepare(spec)
    assert p.repeat_censored == 3
    c = p.cells
    assert c["repeat_n"].sum() == len(df) - 3
    assert c["repeat_yes"].sum() == 3  # i0, i7, i12
    assert (c["fcr_n"] == c["repeat_n"]).all() and (c["fcr_yes"] == c["repeat_n"] - c["repeat_yes"]).all()
