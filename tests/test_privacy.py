"""Redaction of paths and secrets, Markdown shown as text, private temporary space, diagnosis folders' manifest."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from qmsprint import privacy
from qmsprint.present.format import md

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("data file not found: /home/ana/northwind/export.csv", "data file not found: export.csv"),
        ("cannot open table t at postgresql://ana:s3cret@db.example:5432/cx", "cannot open table t at "
                                                                               "<database connection>"),
        ("duckdb:////srv/client/pilot.duckdb table interactions", "<database connection> table interactions"),
        ("Server=db;Uid=ana;Pwd=hunter2;", "Server=db;Uid=ana;Pwd=***;"),
        (r"read C:\Users\ana\export.csv", "read export.csv"),
        ("~/work/pilot.csv", "pilot.csv"),
        ("see https://u:p@results.example/x", "see https://results.example/x"),
        ("and/or 1/2 per week, pp/week, CSAT 4/5, top-2-box, runs/demo-ab", "and/or 1/2 per week, pp/week, CSAT 4/5, "
                                                                            "top-2-box, runs/demo-ab"),
    ],
)  # fmt: skip
def test_text_loses_paths_and_secrets_but_keeps_its_meaning(text, shown):
    assert privacy.redact_text(text) == shown
    assert privacy.redact({"k": [text, 3, None]}) == {"k": [shown, 3, None]}


def test_a_data_source_is_named_without_folders_or_credentials():
    assert privacy.describe_source("/srv/x/export-2026.parquet") == "export-2026.parquet"
    assert privacy.describe_source("data/*.csv") == "*.csv"
    db = privacy.describe_source(None, "postgresql+psycopg://ana:pw@db/cx", "calls")
    assert db == "postgresql database, table calls"


@pytest.mark.parametrize(
    "text",
    ["[x](http://evil.example)", "**b** _i_ `c`", "$x^2$", ":red[alert] :material/lock:", "# heading", "> quote",
     "1. list", "- item", "www.evil.example", "ana@client.example", "<b>h</b>", "=== \\ |a|b|"],
)  # fmt: skip
def test_markdown_is_escaped_so_text_shows_as_itself(text):
    import re

    escaped = md(text)
    assert re.sub(r"\\(.)", r"\1", escaped).replace("\u2060", "") == text  # nothing lost
    assert not re.search(r"(?<!\\)[`*_\[\]()#+\-.!|<>~$:=&]", escaped)  # every special character escaped
    assert "://" not in escaped and "www." not in escaped and "a@" not in escaped  # no automatic links


SPILL = (
    "import sys; from qmsprint import privacy; from qmsprint.spec import parse_spec; "
    "from qmsprint.data.load import open_source\n"
    "spec = parse_spec({'name': 't', 'design': 'ab', 'arms': {'control': 'a', 'treatment': 'b'}, "
    "'data': {'source': sys.argv[1]}, 'metrics': [{'name': 'csat'}]})\n"
    "con = open_source(spec).con\n"
    "print(con.raw_sql(\"SELECT current_setting('temp_directory')\").fetchone()[0])\n"
    "print(privacy.private_dir('upload'))\n"
)


def test_private_folders_are_the_users_own_and_removed_at_exit(tmp_path):
    (tmp_path / "d.csv").write_text("a,b\n1,2\n")
    out = subprocess.run([sys.executable, "-c", SPILL, str(tmp_path / "d.csv")], capture_output=True, text=True,
                         check=True, cwd=ROOT)  # fmt: skip
    spill, upload = (Path(line) for line in out.stdout.split())
    assert spill.name.startswith("qmsprint-duckdb-") and upload.name.startswith("qmsprint-upload-")
    assert spill.parent == Path(tempfile.gettempdir())
    assert not spill.exists() and not upload.exists()  # gone when the process ended


def test_the_spill_folder_is_private_while_in_use(tmp_path):
    from qmsprint.data.load import open_source
    from qmsprint.spec import parse_spec

    (tmp_path / "d.csv").write_text("a,b\n1,2\n")
    spec = parse_spec({"name": "t", "design": "ab", "arms": {"control": "a", "treatment": "b"},
                       "data": {"source": str(tmp_path / "d.csv")}, "metrics": [{"name": "csat"}]})  # fmt: skip
    con = open_source(spec).con
    spill = Path(con.raw_sql("SELECT current_setting('temp_directory')").fetchone()[0])
    assert spill == privacy.spill_dir() and stat.S_IMODE(spill.stat().st_mode) == 0o700
    assert spill.name != "qmsprint-duckdb"  # never the old shared folder
    folder = privacy.private_dir("upload")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    privacy.remove_private_dir(folder)
    assert not folder.exists()


def test_a_child_process_never_removes_its_parents_folders():
    folder = privacy.private_dir("upload")
    pid = os.fork()
    if pid == 0:  # the child exits through atexit
        os._exit(0 if privacy._remove_owned() is None else 1)
    os.waitpid(pid, 0)
    assert folder.exists()
    privacy.remove_private_dir(folder)


def test_diagnosis_folders_carry_a_manifest_and_pseudonyms_only(tmp_path, diagnosis_maker):
    from qmsprint.errors import BundleError
    from qmsprint.store import list_runs, load_diagnosis, open_folder, save_diagnosis

    d = diagnosis_maker()
    folder = save_diagnosis(d.to_dict(), d.tables(), tmp_path / "runs" / "diag")[0].parent
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["format"] == "qmsprint-diagnosis"
    assert set(manifest["files"]) == {"diagnosis.json", *(f"{t}.csv" for t in d.tables())}
    assert list_runs(tmp_path / "runs", diagnoses=True) == [folder] and list_runs(tmp_path / "runs") == []
    assert open_folder(folder).diagnosis["quadrant"][0]["agent_id"].startswith("agent-")
    (folder / "quadrant.csv").write_text("agent_id\nA000\n")
    with pytest.raises(BundleError, match="damaged: quadrant.csv"):
        load_diagnosis(folder)
    raw = d.to_dict()
    raw["quadrant"][0]["agent_id"] = "A000"
    with pytest.raises(BundleError, match="not pseudonyms"):
        save_diagnosis(raw, d.tables(), tmp_path / "raw")
    assert not (tmp_path / "raw").exists()
    raw["quadrant"][0]["agent_id"] = d.quadrant["agent_id"][0]
    raw["notes"] = ["read /home/ana/export.csv"]
    folder2 = save_diagnosis(raw, d.tables(), tmp_path / "noted")[0].parent
    assert load_diagnosis(folder2).diagnosis["notes"] == ["read export.csv"]


def test_diagnosis_folders_written_before_the_manifest_still_open(tmp_path, diagnosis_maker):
    from qmsprint.store import is_diagnosis_folder, load_diagnosis, save_diagnosis

    d = diagnosis_maker()
    folder = save_diagnosis(d.to_dict(), d.tables(), tmp_path / "old")[0].parent
    (folder / "manifest.json").unlink()
    assert is_diagnosis_folder(folder) and load_diagnosis(folder).diagnosis["meta"]["name"] == d.meta["name"]


def test_a_shared_diagnosis_keeps_no_agent_pseudonyms(tmp_path, diagnosis_folder):
    from qmsprint import api
    from qmsprint.store import load_diagnosis, read_csv

    out = api.redact(diagnosis_folder, tmp_path / "shared")
    folder = load_diagnosis(out)  # verified against its new manifest
    assert all("agent_id" not in row for row in folder.diagnosis["quadrant"])
    assert "agent_id" not in read_csv(out / "quadrant.csv") and len(read_csv(out / "quadrant.csv")) == 20
    assert "agent-" not in "".join(p.read_text() for p in out.iterdir())


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("postgresql://ana:s3cret@db:5432/cx", "postgresql://ana@db:5432/cx"),
        ("postgresql://ana:s3cret@db/cx?sslmode=require&password=x", "postgresql://ana@db/cx?sslmode=require"),
        ("postgresql://db/cx?password=x&sslmode=require", "postgresql://db/cx?sslmode=require"),
        ("host=db user=ana password=s3cret dbname=cx", "host=db user=ana dbname=cx"),
        ("Driver={X};Server=db;UID=ana;PWD=s3cret;Database=cx", "Driver={X};Server=db;UID=ana;Database=cx"),
        ("sc://spark:15002/;token=s3cret", "sc://spark:15002/"),
        ("postgresql://ana@db/cx", "postgresql://ana@db/cx"),
        ("duckdb:///srv/pilot.duckdb", "duckdb:///srv/pilot.duckdb"),
    ],
)
def test_a_connection_keeps_where_the_data_is_without_its_password(given, kept):
    assert privacy.without_password(given) == kept


def test_a_run_folder_keeps_no_database_password(tmp_path):
    from _data_helpers import make_spec
    from test_decide import SPEC, make_result

    from qmsprint.decide import decide
    from qmsprint.store import load_run, save_run

    url = "postgresql://ana:s3cret-pw@db.example:5432/cx?sslmode=require"
    toml = tmp_path / "pilot.toml"
    toml.write_text(f'name = "t"\n[data]\nconnection = "{url}"  # read-only user\ntable = "interactions"\n')
    spec = make_spec(tmp_path, None, data={"connection": url, "table": "interactions"}).model_copy(
        update={"source_path": toml}
    )
    rs = [make_result("csat", 0.3, 0.05)]
    run = save_run(spec, results=rs, recommendation=decide(SPEC, rs, []), runs_dir=tmp_path / "runs")
    for name in ("spec.toml", "spec.json"):
        text = (run / name).read_text(encoding="utf-8")
        assert "s3cret-pw" not in text and "postgresql://ana@db.example:5432/cx?sslmode=require" in text, name
    assert "# read-only user" in (run / "spec.toml").read_text(encoding="utf-8")  # the file as given, otherwise
    assert load_run(run).spec.data.connection == "postgresql://ana@db.example:5432/cx?sslmode=require"
