"""Sharing a run with a client: the redacted copy, the share-mode downloads, and the deployable share folder."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from qmsprint import access, api
from qmsprint.store import load_run
from qmsprint.store import share_files as files
from qmsprint.ui import config

ROOT = Path(__file__).resolve().parents[1]
STRONG = "northwind reads the pilot results"

pytestmark = pytest.mark.slow  # every test here uses the small real run (one sampling per session)


def _all_text(folder: Path) -> str:
    parts = []
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.suffix in (".json", ".csv", ".toml", ".md", ".txt", ".html", ""):
            parts.append(p.read_text(encoding="utf-8", errors="replace"))
        elif p.suffix == ".parquet":
            parts.append(pd.read_parquet(p).astype(str).to_string())
    return "\n".join(parts)


@pytest.fixture(scope="module")
def redacted(small_run, tmp_path_factory):
    return api.redact(small_run, tmp_path_factory.mktemp("redacted") / small_run.name)


def test_the_redacted_copy_is_a_run_without_paths_people_or_comments(redacted, small_run, small_spec):
    run = load_run(redacted)  # a normal, verified run folder
    original = load_run(small_run)
    assert run.manifest["redacted"] is True and run.recommendation.to_dict() == original.recommendation.to_dict()
    text = _all_text(redacted)
    for secret in (str(small_spec.data.source), str(Path(small_spec.data.source).parent), str(small_run.parent)):
        assert secret not in text
    assert run.spec.data.source == "redacted" and run.spec.data.connection is None
    assert "platform" not in run.provenance["versions"] and run.provenance["data_source"] == "small_ab.parquet"
    assert "agent_id" not in run.cells and not any(c.startswith("tenure") for c in run.cells.columns)
    assert run.cells["n"].sum() == original.cells["n"].sum()  # the same counts, summed over agents
    assert not (redacted / "posterior").exists()
    assert "agent-" not in (redacted / "cells.parquet").read_bytes().decode("latin-1")
    html = api.report(redacted, redacted.parent / "report.html").read_text()
    assert original.recommendation.headline in html and str(small_spec.data.source) not in html


def test_the_key_never_travels_with_a_run(small_run, small_spec):
    from qmsprint.data.pseudonymise import engagement_key, key_file

    key = engagement_key(small_spec, create=False)
    assert key_file(small_spec).parent != small_run.parent
    for p in small_run.rglob("*"):
        assert not p.is_file() or key not in p.read_bytes(), p


def test_a_share_offers_the_report_and_the_effects_only(monkeypatch, small_run):
    monkeypatch.setenv(config.ENV_MODE, "share")
    monkeypatch.setenv(config.ENV_RUN, str(small_run))
    monkeypatch.setenv(config.ENV_RUNS_DIR, str(small_run.parent))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.secrets["password_hash"] = access.hash_password(STRONG)
    at.run()
    assert not at.sidebar.get("download_button")  # nothing before the login
    at.text_input(key="qmsprint_password").input(STRONG)
    next(b for b in at.button if b.label == "Log in").click().run()
    assert not at.exception
    assert [b.label for b in at.sidebar.get("download_button")] == ["HTML report", "Effects (CSV)"]
    assert not [e for e in at.sidebar.expander if "agent" in e.label.lower()]  # no way back to agents in a share


def test_the_share_folder_has_everything_to_deploy_and_nothing_more(small_run, tmp_path):
    out = tmp_path / "share-northwind"
    result = CliRunner().invoke(
        __import__("qmsprint.cli", fromlist=["app"]).app,
        ["share", str(small_run), "--out", str(out), "--allow-email", "ana@northwind.example",
         "--allow-domain", "northwind.example", "--client-name", "Northwind"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for rel in ("app.py", "requirements.txt", "Dockerfile", ".dockerignore", ".gitignore", "README.md",
                ".streamlit/config.toml", ".streamlit/secrets.example.toml", "qmsprint/ui/main.py",
                f"run/{small_run.name}/manifest.json"):  # fmt: skip
        assert (out / rel).is_file(), rel
    assert not (out / ".streamlit" / "secrets.toml").exists()
    load_run(out / "run" / small_run.name)
    # the app entry sets the share mode the app reads
    assert (files.ENV_MODE, files.ENV_RUN, files.ENV_RUNS_DIR) == (config.ENV_MODE, config.ENV_RUN, config.ENV_RUNS_DIR)
    # the secrets template carries the allowlist and no login to copy by mistake
    template = tomllib.loads((out / ".streamlit/secrets.example.toml").read_text())
    assert template["share"]["allowed_emails"] == ["ana@northwind.example"]
    assert template["share"]["allowed_domains"] == ["northwind.example"]
    assert access.login_method(template) is None
    conf = tomllib.loads((out / ".streamlit/config.toml").read_text())
    assert conf["server"]["address"] == "127.0.0.1" and conf["browser"]["gatherUsageStats"] is False
    assert conf["client"]["showErrorDetails"] == "none"
    reqs = [r for r in (out / "requirements.txt").read_text().splitlines() if r and not r.startswith("#")]
    assert all("==" in r for r in reqs) and any(r.startswith("streamlit[auth]==") for r in reqs)
    assert not any(r.split("=")[0].split("[")[0].lower() in ("pymc", "nutpie", "pytensor", "duckdb") for r in reqs)
    docker = (out / "Dockerfile").read_text()
    assert docker.startswith("#") and "FROM python:3.11-slim" in docker and "USER share" in docker
    assert "secrets.toml" not in docker.split("FROM", 1)[1].replace("-v ", "")  # mounted at run time, never copied
    assert ".streamlit/secrets.toml" in (out / ".dockerignore").read_text()
    readme = (out / "README.md").read_text()
    assert "reverse_proxy 127.0.0.1:8501" in readme and "Community Cloud" in readme and "hash-password" in readme
    assert str(tmp_path) not in _all_text(out / "run") and str(small_run.parent) not in readme


NOT_IN_A_SHARE = ("ibis", "duckdb", "pymc", "pytensor", "nutpie", "arviz", "typer")
OPEN_WITHOUT = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked}:
            raise ImportError(f"no module named {{name!r}} in a share")
sys.meta_path.insert(0, Block())
from qmsprint import metrics
from qmsprint.store import load_run
run = load_run(sys.argv[1])
print(sorted(metrics.names()), [r.metric for r in run.results])
"""


def test_a_run_opens_with_only_what_a_share_installs(small_run):
    """The share's requirements hold no data layer or sampler: reading a run and the registry must not need them."""
    code = OPEN_WITHOUT.format(blocked=set(NOT_IN_A_SHARE))
    out = subprocess.run([sys.executable, "-c", code, str(small_run)], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "handle_time" in out.stdout and "repeat_contact" in out.stdout


def _wait(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the share exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as r:
            if r.status == 200:
                return
        time.sleep(0.5)
    raise RuntimeError(f"the share did not answer:\n{log.read_text()[-3000:]}")


CHECK = """
import sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("app.py", default_timeout=120)
at.secrets["password_hash"] = sys.argv[1]
at.run()
assert not at.exception, [e.value for e in at.exception]
assert "Please log in" in " ".join(str(m.value) for m in at.markdown)
at.text_input(key="qmsprint_password").input(sys.argv[2])
next(b for b in at.button if b.label == "Log in").click().run()
assert not at.exception, [e.value for e in at.exception]
offered = [b.label for b in at.sidebar.get("download_button")]
for page in ("metrics", "segments", "diagnosis", "design", "quality"):
    at.switch_page(f"qmsprint/ui/pages/{page}.py").run()
    assert not at.exception, (page, [e.value for e in at.exception])
print("pages ok", offered)
"""


def test_the_share_folder_installs_in_a_fresh_environment_and_serves(small_run, tmp_path):
    """pip install -r requirements.txt into a new venv, then `streamlit run app.py` in share mode with a password."""
    out = tmp_path / "share"
    api.share(small_run, out, allowed_domains=["northwind.example"])
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    pip = subprocess.run(
        [str(py), "-m", "pip", "install", "--disable-pip-version-check", "-q", "-r", str(out / "requirements.txt")],
        capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert pip.returncode == 0, pip.stderr[-3000:]
    stored = access.hash_password(STRONG)
    (out / ".streamlit" / "secrets.toml").write_text(f'password_hash = "{stored}"\n')
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["HOME"] = str(tmp_path)
    # only the share's own code and requirements: nothing of the consultant's environment is importable
    check = subprocess.run([str(py), "-c", CHECK, stored, STRONG], cwd=out, env=env, capture_output=True, text=True,
                           timeout=600)  # fmt: skip
    assert check.returncode == 0, (check.stdout[-2000:], check.stderr[-3000:])
    assert "pages ok ['HTML report', 'Effects (CSV)']" in check.stdout
    imported = subprocess.run([str(py), "-c", "import pymc"], env=env, capture_output=True)
    assert imported.returncode != 0  # the share needs no sampler
    port = _free_port()
    log = tmp_path / "share.log"
    with log.open("w") as sink:
        proc = subprocess.Popen([str(py), "-m", "streamlit", "run", "app.py", "--server.port", str(port)], cwd=out,
                                env=env, stdout=sink, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        _wait(f"http://127.0.0.1:{port}/_stcore/health", proc, log)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
            assert r.status == 200
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert "Traceback" not in log.read_text()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_reveal_is_for_the_workbench_only(monkeypatch, small_run, small_spec):
    table = api.reveal_agents(small_spec)
    assert set(table["agent_id"]) == set(pd.read_parquet(small_spec.data.source)["agent_id"].astype(str))
    assert set(load_run(small_run).cells["agent_id"]) <= set(table["pseudonym"])
    monkeypatch.setenv(config.ENV_MODE, "workbench")
    monkeypatch.setenv(config.ENV_RUN, str(small_run))
    monkeypatch.setenv(config.ENV_RUNS_DIR, str(small_run.parent))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert [e.label for e in at.sidebar.expander if "agent" in e.label.lower()] == ["Real agent ids (consultant only)"]
    json.dumps(table.to_dict())  # plain data
