"""`make demo-runs` (what `make demo` does before the app): the two demo runs side by side.

A stand-in ``qmsprint`` (a shell script in a temporary BIN) records when each run starts and ends,
so the recipe's order, overlap, output, exit codes and Ctrl+C are checked without sampling.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FAKE = """#!/bin/bash
spec="$2"
trap 'echo "stopped $spec" >> "$FAKE_LOG"; exit 130' TERM
echo "start $spec $(date +%s.%N) $*" >> "$FAKE_LOG"
echo "niceness $spec $(nice)" >> "$FAKE_LOG"
echo "progress of $spec"
for _ in $(seq 1 "${FAKE_TICKS:-5}"); do sleep 0.2; done
echo "end $spec $(date +%s.%N)" >> "$FAKE_LOG"
echo "summary of $spec"
case "$spec" in *second*) exit "${FAKE_SECOND_CODE:-0}";; *) exit "${FAKE_FIRST_CODE:-0}";; esac
"""

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


@pytest.fixture
def fake(tmp_path: Path) -> dict:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "qmsprint"
    script.write_text(FAKE)
    script.chmod(0o755)
    stamp = tmp_path / "installed"
    stamp.touch()  # newer than pyproject.toml: the recipe's install step has nothing to do
    log = tmp_path / "runs.log"
    args = ["make", "-s", "-C", str(ROOT), "demo-runs", f"BIN={bin_dir}", f"STAMP={stamp}",
            "DEMO_SPEC=first.toml", "DEMO_SECOND=second.toml"]  # fmt: skip
    # not the settings of a make that runs this suite (`make test`)
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    return {"args": args, "log": log, "env": {**env, "FAKE_LOG": str(log)}}


def _events(log: Path) -> dict[str, float]:
    out = {}
    for line in log.read_text().splitlines():
        what, spec, *rest = line.split()
        out[f"{what} {spec}"] = float(rest[0]) if rest else 0.0
    return out


def test_the_two_runs_overlap_and_the_second_ones_output_follows(fake):
    env = {**fake["env"], "FAKE_SECOND_CODE": "4", "FAKE_TICKS": "15"}  # 4: a fit missed the bars, still written
    out = subprocess.run(fake["args"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    ev = _events(fake["log"])
    assert ev["start second.toml"] < ev["start first.toml"] < ev["end second.toml"]  # side by side
    assert ev["start first.toml"] - ev["start second.toml"] >= 1.9  # the one the app opens is the newest
    assert "--no-diagnosis" in fake["log"].read_text().splitlines()[0]
    assert ev["niceness second.toml"] - ev["niceness first.toml"] == 10  # the shorter run yields the cores
    text = out.stdout
    assert text.index("progress of first.toml") < text.index("summary of first.toml") < text.index("second.toml:")
    assert text.index("second.toml:") < text.index("progress of second.toml") < text.index("summary of second.toml")


@pytest.mark.parametrize(("first", "second"), [("0", "1"), ("2", "0")])
def test_a_failed_run_fails_make_demo_and_says_which(fake, first, second):
    env = {**fake["env"], "FAKE_FIRST_CODE": first, "FAKE_SECOND_CODE": second}
    out = subprocess.run(fake["args"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert f"first.toml: exit {first}, second.toml: exit {second}" in out.stderr
    assert "summary of second.toml" in out.stdout  # its output is shown all the same


def test_ctrl_c_stops_both_runs(fake):
    env = {**fake["env"], "FAKE_TICKS": "150"}
    proc = subprocess.Popen(fake["args"], env=env, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    deadline = time.monotonic() + 20
    while "start first.toml" not in (fake["log"].read_text() if fake["log"].exists() else ""):
        assert time.monotonic() < deadline, "the first run did not start"
        time.sleep(0.1)
    t0 = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl+C sends to the terminal's foreground group
    proc.communicate(timeout=20)
    assert proc.returncode != 0
    assert time.monotonic() - t0 < 10
    ev = _events(fake["log"])
    assert "stopped second.toml" in ev  # the background run ignores SIGINT: it was sent SIGTERM
    assert "end second.toml" not in ev and "end first.toml" not in ev
