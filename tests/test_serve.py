"""`qmsprint app`: starts headless with no prompt (terminal or not), prints its URL, stops when told.

The launcher becomes the Streamlit server, so stopping it (SIGTERM from a service manager,
Ctrl+C) stops the server and frees its port. The client-facing look comes from the command line
and ``.streamlit/config.toml``: toolbar in viewer mode, no usage statistics, error details hidden
in share mode.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

from qmsprint.serve import build_command, default_address, port_free, url_for
from qmsprint.ui.config import AppConfig

ROOT = Path(__file__).resolve().parents[1]
QMSPRINT = Path(sys.executable).parent / "qmsprint"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status


@pytest.fixture
def workspace(tmp_path):
    (tmp_path / "runs").mkdir()
    home = tmp_path / "home"  # no ~/.streamlit/credentials.toml: the first start a new user sees
    home.mkdir()
    return tmp_path, home


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_app_starts_with_stdin_closed_serves_200_and_stops_with_its_launcher(workspace, stop):
    folder, home = workspace
    port = _free_port()
    env = {**os.environ, "HOME": str(home)}
    env.pop("CI", None)
    proc = subprocess.Popen(
        [str(QMSPRINT), "app", "--runs-dir", str(folder / "runs"), "--port", str(port)],
        cwd=folder,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # like a service manager: no terminal, signals only to this process
    )
    proc.stdin.close()  # standard input closed: a prompt would read EOF and stop the server
    try:
        first = proc.stdout.readline()
        assert f"http://localhost:{port}" in first, first
        status, deadline = None, time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status = _get(f"http://localhost:{port}/")
                break
            except OSError:
                time.sleep(0.5)
        assert status == 200, f"no HTTP 200 (exit {proc.poll()})"
        assert _get(f"http://localhost:{port}/_stcore/health") == 200
        launcher = proc.pid
        os.kill(launcher, stop)  # stop the launcher, as a scheduler or Ctrl+C does
        proc.wait(timeout=30)
        assert not _listening(port), "the server still listens after its launcher was stopped"
        output = first + proc.stdout.read()
        assert "Email" not in output and "Welcome to Streamlit" not in output
        assert "skills" not in output.lower()  # no promotions in the terminal either
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_the_command_line_makes_a_client_facing_headless_app(tmp_path):
    bench = build_command(AppConfig(runs_dir=tmp_path), port=8600)
    share = build_command(AppConfig(mode="share", run_folder=tmp_path, runs_dir=tmp_path), port=8601)
    for cmd in (bench, share):
        opts = dict(zip(cmd[5::2], cmd[6::2], strict=False))
        assert opts["--server.headless"] == "true"
        assert opts["--browser.gatherUsageStats"] == "false"
        assert opts["--client.toolbarMode"] == "viewer"  # no Deploy button, no developer menu
    assert bench[bench.index("--client.showErrorDetails") + 1] == "full"  # the consultant sees what broke
    assert share[share.index("--client.showErrorDetails") + 1] == "none"  # a client never sees a traceback
    assert bench[bench.index("--server.address") + 1] == "localhost"
    assert share[share.index("--server.address") + 1] == "127.0.0.1"
    assert default_address(AppConfig(mode="share")) == "127.0.0.1"
    assert build_command(AppConfig(mode="share"), port=1, address="0.0.0.0")[8] == "0.0.0.0"
    assert url_for("0.0.0.0", 8501) == "http://localhost:8501" and url_for("10.0.0.5", 80) == "http://10.0.0.5:80"


def test_the_config_file_says_the_same_for_streamlit_run():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["headless"] is True
    assert config["browser"]["gatherUsageStats"] is False
    assert config["client"]["toolbarMode"] == "viewer"


def test_a_taken_port_is_refused_with_a_clear_message(tmp_path, monkeypatch):
    from qmsprint.errors import QmsprintError
    from qmsprint.serve import serve

    launched = []
    monkeypatch.setattr("qmsprint.serve.launch", lambda cmd, env: launched.append(cmd) or 0)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert not port_free("localhost", port)
        with pytest.raises(QmsprintError, match=f"port {port} is already in use"):
            serve(runs_dir=tmp_path, port=port)
    assert launched == []
    assert serve(runs_dir=tmp_path, port=port, data_dir=tmp_path / "d") == 0  # free again
    env_cmd = launched[0]
    assert env_cmd[env_cmd.index("--server.port") + 1] == str(port)
