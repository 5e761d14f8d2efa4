"""Keyed pseudonyms at the door: the key, HMAC in and out of the database, every sentence, back for the consultant."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import stat

import ibis
import pandas as pd
import pytest
from _data_helpers import base_rows, make_spec

from qmsprint.data import load_frame, prepare
from qmsprint.data.pseudonymise import (
    KEY_ENV,
    engagement_key,
    is_pseudonym,
    key_file,
    pseudonym,
    pseudonymise_ids,
    reveal,
)
from qmsprint.errors import SpecError
from qmsprint.health import check_health

REAL = ["a0", "a1", "a2", "a3"]


@pytest.fixture(autouse=True)
def _no_key_in_the_environment(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)


def _data(tmp_path, rows: pd.DataFrame | None = None):
    df = base_rows(200) if rows is None else rows
    df.to_csv(tmp_path / "data.csv", index=False)
    return make_spec(tmp_path)


# ------------------------------------------------------------------------------------------- the key


def test_the_key_is_made_once_beside_the_experiment_file_and_private(tmp_path):
    spec = make_spec(tmp_path)
    key = engagement_key(spec)
    path = key_file(spec)
    assert path == tmp_path / ".qmsprint" / "key" and len(key) == 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert engagement_key(spec) == key  # read back, not replaced
    assert not [p for p in path.parent.iterdir() if p.name != "key"]  # no temporary file left behind


def test_the_environment_key_wins_and_weak_or_exposed_keys_are_refused(tmp_path, monkeypatch):
    spec = make_spec(tmp_path)
    monkeypatch.setenv(KEY_ENV, "x" * 40)
    assert engagement_key(spec) == b"x" * 40 and not key_file(spec).exists()
    monkeypatch.setenv(KEY_ENV, "short")
    with pytest.raises(SpecError, match="too short"):
        engagement_key(spec)
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(SpecError, match="no pseudonymisation key"):
        engagement_key(spec, create=False)
    engagement_key(spec)
    os.chmod(key_file(spec), 0o644)
    with pytest.raises(SpecError, match="other users") as err:
        engagement_key(spec)
    assert "chmod 600" in str(err.value)


# ------------------------------------------------------------------------------------------- the pseudonyms


def test_pseudonyms_are_hmac_sha256_of_kind_and_id():
    key = b"k" * 40
    digest = hmac.new(key, b"agent:A0001", hashlib.sha256).hexdigest()
    assert pseudonym("A0001", key) == "agent-" + digest[:12]
    assert pseudonym("A0001", key, "customer") != pseudonym("A0001", key).replace("agent", "customer")
    assert is_pseudonym(pseudonym("1", key)) and not is_pseudonym("agent-001") and not is_pseudonym("A0001")


@pytest.mark.parametrize("path", ["lookup", "per row in DuckDB", "lookup of many on another backend"])
def test_the_database_and_python_agree(path, monkeypatch):
    key = b"database-key-0123456789abcdef0123456789"
    if path != "lookup":  # as with hundreds of thousands of distinct ids
        monkeypatch.setattr("qmsprint.data.pseudonymise.IN_PYTHON_MAX", 1)
    if path.endswith("backend"):  # no DuckDB sha256: every distinct value in Python, joined back
        monkeypatch.setattr("qmsprint.data.pseudonymise._in_database", lambda con: False)
    con = ibis.duckdb.connect()
    ids = ["A0001", "1", "é-ü", "", None, "A0001"]
    t = con.create_table("t", ibis.memtable(pd.DataFrame({"agent_id": ids, "customer_id": ids, "k": range(6)})))
    out = con.execute(pseudonymise_ids(con, t, key, ("agent_id", "customer_id")).order_by("k"))
    want = [None if v is None else pseudonym(v, key) for v in ids]
    assert [None if pd.isna(v) else v for v in out["agent_id"]] == want
    assert out["customer_id"].iloc[0] == pseudonym("A0001", key, "customer")


def test_pseudonyms_are_stable_across_runs_with_one_key_and_differ_with_another(tmp_path, monkeypatch):
    spec = _data(tmp_path)
    first = set(prepare(spec).cells["agent_id"])
    assert first == {pseudonym(a, engagement_key(spec)) for a in REAL}
    assert set(prepare(spec).cells["agent_id"]) == first  # a second run of the engagement
    assert set(load_frame(spec)["agent_id"]) == first  # diagnosis, design and assignment see the same ones
    monkeypatch.setenv(KEY_ENV, "another engagement's key, long enough to use")
    other = set(prepare(spec).cells["agent_id"])
    assert other.isdisjoint(first) and all(is_pseudonym(a) for a in other)


def test_checks_and_warnings_name_pseudonyms_only(tmp_path):
    """health.check_contamination's "e.g. <agent>" and the few-interactions warning were built from real ids."""
    df = base_rows(200)
    df.loc[df["agent_id"] == "a0", "team"] = ["t1", "t2"] * 25  # a0 changes team during the pilot
    df = df[(df["agent_id"] != "a1") | (df.index < 40)]  # a1 has 10 interactions
    spec = _data(tmp_path, df)
    prepared = prepare(spec)
    texts = [str(w) for w in prepared.warnings] + [c.message for c in check_health(spec, prepared)]
    texts += [str(c.data) for c in check_health(spec, prepared)]
    joined = "\n".join(texts)
    key = engagement_key(spec)
    assert f"(e.g. {pseudonym('a0', key)})" in joined  # the contamination check
    assert f"{pseudonym('a1', key)} (10)" in joined  # the few-interactions warning
    for a in REAL:
        assert not re.search(rf"\b{a}\b", joined), a  # whole words: a pseudonym's hex may contain "a2"


def test_short_ids_stay_apart_from_labels(tmp_path):
    """Agents "1".."4", a team called "1", arms "0"/"1" and CSAT levels "1".."5": only the agents change."""
    df = base_rows(200)
    df["agent_id"] = df["agent_id"].str[1:].map(lambda a: str(int(a) + 1))
    df["team"] = df["team"].map({"t1": "1", "t2": "2"})
    df["arm"] = df["arm"].map({"old": "0", "new": "1"})
    df.to_csv(tmp_path / "data.csv", index=False)
    spec = make_spec(tmp_path, arms={"control": "0", "treatment": "1"})
    cells = prepare(spec).cells
    assert sorted(cells["team"].unique()) == ["1", "2"] and sorted(cells["arm"].unique()) == ["0", "1"]
    assert all(is_pseudonym(a) for a in cells["agent_id"])
    assert {c for c in cells.columns if c.startswith("csat_")} >= {"csat_1", "csat_5", "csat_n"}
    assert int(cells["csat_1"].sum()) == 40


def test_the_consultant_can_map_pseudonyms_back_with_the_key(tmp_path, monkeypatch):
    spec = _data(tmp_path)
    shown = sorted(prepare(spec).cells["agent_id"].unique())
    table = reveal(spec)
    assert dict(zip(table["pseudonym"], table["agent_id"], strict=True)) == {
        pseudonym(a, engagement_key(spec)): a for a in REAL
    }
    assert list(reveal(spec, shown[:1])["pseudonym"]) == shown[:1]
    monkeypatch.setenv(KEY_ENV, "someone else's key that is long enough here")
    assert not set(reveal(spec)["pseudonym"]) & set(shown)  # without the key nothing maps back


def test_assignment_names_the_real_agents_for_operations(tmp_path):
    from qmsprint import api
    from qmsprint.store import read_csv

    df = base_rows(400)
    df["agent_id"] = [f"a{i % 8}" for i in range(len(df))]
    df["team"] = ["t1" if int(a[1:]) % 2 else "t2" for a in df["agent_id"]]
    df = df.drop(columns=["arm"])
    df.to_csv(tmp_path / "data.csv", index=False)
    spec = make_spec(tmp_path, periods={"baseline": {"start": "2026-01-01", "end": "2026-01-31"}})
    result, paths = api.assign(spec, out=tmp_path / "assignment.csv", seed=3)
    roster = read_csv(paths[0])
    assert sorted(roster["agent_id"]) == [f"a{i}" for i in range(8)]
    assert list(result.assignment["agent_id"]) == sorted(roster["agent_id"])
