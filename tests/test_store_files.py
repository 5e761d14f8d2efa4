"""The store's writers (qmsprint.store): atomic folders and files, the CSV writer, diagnosis folders."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest
from test_store import T0, write

from qmsprint.errors import BundleError
from qmsprint.store import (
    DiagnosisFolder,
    is_diagnosis_folder,
    list_runs,
    load_diagnosis,
    open_folder,
    save_diagnosis,
    write_csv,
    write_file_atomic,
    write_files_atomic,
    write_new_folder,
)


def names(folder):
    return sorted(p.name for p in folder.iterdir())


# ------------------------------------------------------------------ folders


def test_write_new_folder_is_atomic_and_refuses_an_existing_folder(tmp_path):
    def good(folder):
        (folder / "a.txt").write_text("a")
        return ["a.txt"]

    assert write_new_folder(tmp_path / "out", good, "things") == [tmp_path / "out" / "a.txt"]
    with pytest.raises(BundleError, match="already exists.*things are never overwritten"):
        write_new_folder(tmp_path / "out", good, "things")

    def broken(folder):
        (folder / "half.txt").write_text("half")
        raise ValueError("disk on fire")

    with pytest.raises(ValueError, match="disk on fire"):
        write_new_folder(tmp_path / "other", broken, "things")

    def unwritable(folder):
        raise PermissionError("read-only")

    with pytest.raises(BundleError, match="could not create"):
        write_new_folder(tmp_path / "third", unwritable, "things")
    assert names(tmp_path) == ["out"]  # no half folder, no hidden temp left


def test_a_run_folder_that_cannot_be_created_is_a_bundle_error(tmp_path):
    (tmp_path / "runs").write_text("a file where the runs folder should be")
    with pytest.raises(BundleError, match="cannot create a folder for runs"):
        write(tmp_path / "runs")
    assert names(tmp_path) == ["runs"]


# ------------------------------------------------------------------ single files


@pytest.mark.parametrize("content", [b"new", "new", lambda p: p.write_text("new")], ids=["bytes", "text", "callable"])
def test_write_file_atomic_writes_and_replaces(tmp_path, content):
    target = tmp_path / "sub" / "f.txt"
    assert write_file_atomic(target, "old") == target
    assert write_file_atomic(target, content) == target
    assert target.read_text() == "new"
    assert names(target.parent) == ["f.txt"]


def test_a_failed_single_file_write_leaves_nothing_behind(tmp_path):
    target = tmp_path / "report.html"

    def half(path):
        path.write_text("<html>half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_file_atomic(target, half)
    assert names(tmp_path) == []  # no half file, no hidden temporary file
    target.write_text("earlier")
    with pytest.raises(OSError, match="disk full"):
        write_file_atomic(target, lambda p: (p.write_text("half"), _raise(OSError(28, "disk full"))))
    assert names(tmp_path) == ["report.html"] and target.read_text() == "earlier"


def _raise(err):
    raise err


def test_write_file_atomic_can_refuse_to_overwrite(tmp_path):
    target = tmp_path / "a.csv"
    target.write_text("mine")
    with pytest.raises(FileExistsError):
        write_file_atomic(target, "theirs", overwrite=False)
    assert target.read_text() == "mine" and names(tmp_path) == ["a.csv"]


def test_several_files_appear_together_or_not_at_all(tmp_path):
    a, b = tmp_path / "data.csv", tmp_path / "data.truth.json"
    with pytest.raises(RuntimeError):
        write_files_atomic({a: "x", b: lambda p: _raise(RuntimeError("late failure"))})
    assert names(tmp_path) == []  # the first file did not appear either
    assert write_files_atomic({a: "x", b: "{}"}) == [a, b]
    b.unlink()
    c = tmp_path / "c.txt"
    c.write_text("keep")
    with pytest.raises(FileExistsError):
        write_files_atomic({b: "{}", c: "new"}, overwrite=False)
    assert names(tmp_path) == ["c.txt", "data.csv"]  # b was placed, then removed again; c untouched
    assert c.read_text() == "keep"


def test_write_simulation_leaves_nothing_behind_on_failure(tmp_path, monkeypatch):
    from qmsprint.simulate import SimConfig, simulate
    from qmsprint.store import csvfile, write_simulation

    sim = simulate(SimConfig(n_agents=6, interactions_per_agent=20, seed=3))
    paths = write_simulation(sim, tmp_path / "s.csv")
    assert [p.name for p in paths] == ["s.csv", "s.truth.json"]
    assert pd.read_csv(paths[0]).shape[0] == len(sim.frame)

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(csvfile.pd.DataFrame, "to_parquet", boom)
    with pytest.raises(OSError, match="No space left"):
        write_simulation(sim, tmp_path / "other" / "t.parquet")
    assert names(tmp_path / "other") == []


def test_write_report_is_atomic(tmp_path, monkeypatch):
    from qmsprint.report import write_report

    run = write(tmp_path / "runs", now=T0)
    path = write_report(run)
    before = path.read_bytes()

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(BundleError, match="cannot write the report"):
        write_report(run)
    assert path.read_bytes() == before
    assert not [p for p in run.iterdir() if p.name.startswith(".")]


# ------------------------------------------------------------------ CSV


def test_write_csv_is_plain_csv_without_the_index(tmp_path):
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}, index=[5, 6])
    write_csv(df, tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text() == "a,b\n1,x\n2,y\n"
    assert write_csv(df) == "a,b\n1,x\n2,y\n"
    assert write_csv(df, index=True).startswith(",a,b\n5,")


# ------------------------------------------------------------------ diagnosis folders


def test_save_diagnosis_writes_json_and_one_csv_per_table(tmp_path):
    data = {"meta": {"name": "x", "client": "c", "created": "2026-01-01T00:00:00"}, "r2": [], "items": [],
            "quadrant": [], "root_causes": [], "variance": []}  # fmt: skip
    tables = {"r2": pd.DataFrame({"outcome": ["csat"], "mean": [0.1]}), "items": pd.DataFrame({"item": ["greet"]})}
    out = tmp_path / "runs" / "x-diagnosis-20260101-000000"
    paths = save_diagnosis(data, tables, out)
    assert paths == [out / "diagnosis.json", out / "r2.csv", out / "items.csv"]
    assert json.loads((out / "diagnosis.json").read_text()) == data
    assert (out / "r2.csv").read_text() == "outcome,mean\ncsat,0.1\n"
    assert load_diagnosis(out).spec == {"name": "x", "client": "c"}
    with pytest.raises(BundleError, match="already exists.*diagnoses are never overwritten"):
        save_diagnosis(data, tables, out)
    assert names(out.parent) == [out.name]


def test_diagnosis_folders_load_list_and_fail_clearly(diagnosis_folder, tmp_path):
    d = open_folder(diagnosis_folder)
    assert isinstance(d, DiagnosisFolder) and is_diagnosis_folder(diagnosis_folder)
    assert d.spec == {"name": "northwind-baseline", "client": "Northwind Telecom"}
    assert d.diagnosis["r2"] and d.created == d.diagnosis["meta"]["created"]
    runs = diagnosis_folder.parent
    assert list_runs(runs) == [] and list_runs(runs, diagnoses=True) == [diagnosis_folder]
    with pytest.raises(BundleError, match="holds no diagnosis.json"):
        load_diagnosis(tmp_path)
    with pytest.raises(BundleError, match="diagnosis folder not found"):
        load_diagnosis(tmp_path / "gone")
    (diagnosis_folder / "diagnosis.json").write_text('{"meta": {}, "r2": []}')
    with pytest.raises(BundleError, match="damaged: diagnosis.json changed"):  # the manifest notices
        load_diagnosis(diagnosis_folder)
    (diagnosis_folder / "manifest.json").unlink()  # as folders written before they had a manifest
    with pytest.raises(BundleError, match="lacks items, quadrant, root_causes, variance"):
        load_diagnosis(diagnosis_folder)
    with pytest.raises(BundleError, match="not a qmsprint run folder"):
        open_folder(tmp_path)  # neither kind: the run loader's message
