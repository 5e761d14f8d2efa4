"""Ctrl+C (SIGINT) and SIGTERM stop a run within seconds: exit code 130, no run folder.

The unit tests run small scripts under :func:`qmsprint.interrupt.stop_on_signals`; the slow ones
interrupt ``qmsprint run`` on a small pilot with the real sampler, once while nutpie compiles the
model (where numba drops a plain ``KeyboardInterrupt``) and once while its chains sample in
native threads.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

QMSPRINT = Path(sys.executable).parent / "qmsprint"


def _script(tmp_path: Path, body: str) -> subprocess.Popen:
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(body))
    return subprocess.Popen([sys.executable, str(path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for(proc: subprocess.Popen, text: str) -> str:
    seen = ""
    for line in proc.stdout:
        seen += line
        if text in line:
            time.sleep(0.5)  # past the print, into the loop
            return seen
    raise AssertionError(f"{text!r} never printed:\n{seen}")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_lost_inside_library_code_is_raised_again(tmp_path, sig):
    proc = _script(
        tmp_path,
        """
        import time
        from qmsprint.interrupt import stop_on_signals
        dropped = 0
        try:
            with stop_on_signals(grace=30):
                print("ready", flush=True)
                while True:
                    try:
                        time.sleep(0.05)
                    except KeyboardInterrupt:  # what a C extension does to it, in effect
                        dropped += 1
                        if dropped == 1:
                            print("dropped", flush=True)
                            continue
                        raise
        except KeyboardInterrupt:
            print(f"stopped after {dropped} interrupts", flush=True)
            raise SystemExit(130)
    """,
    )
    _wait_for(proc, "ready")
    t0 = time.monotonic()
    proc.send_signal(sig)
    out = proc.communicate(timeout=20)[0]
    assert proc.returncode == 130 and "stopped after 2 interrupts" in out, out
    assert time.monotonic() - t0 < 5


def test_a_block_that_never_stops_is_ended_after_the_grace_period(tmp_path):
    proc = _script(
        tmp_path,
        """
        import time
        from qmsprint.interrupt import stop_on_signals
        with stop_on_signals(grace=2):
            print("ready", flush=True)
            while True:
                try:
                    while True:  # the loop's back-edge, where a pending interrupt is raised, inside the try
                        time.sleep(0.05)
                except KeyboardInterrupt:
                    pass  # swallowed every time
    """,
    )
    _wait_for(proc, "ready")
    proc.send_signal(signal.SIGTERM)
    out = proc.communicate(timeout=20)[0]
    assert proc.returncode == 130 and "stopping now" in out


def test_outside_the_main_thread_the_block_just_runs():
    from qmsprint.interrupt import stop_on_signals

    seen = []

    def worker() -> None:
        with stop_on_signals() as state:
            seen.append(state.requested)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen == [None]


# ------------------------------------------------------------------------------ the real sampler


def _pilot(tmp_path: Path, small_spec, draws: int) -> Path:
    """An experiment file for the small pilot: CSAT only, ``draws`` per chain, runs under tmp_path/runs."""
    p = small_spec.periods
    spec = tmp_path / "pilot.toml"
    spec.write_text(
        f'name = "interrupted"\ndesign = "ab"\n[arms]\ncontrol = "checklist"\ntreatment = "behavior"\n'
        f"[data]\nsource = {str(small_spec.data.source)!r}\n[periods]\n"
        f"baseline = {{ start = {p.baseline.start}, end = {p.baseline.end} }}\n"
        f"pilot = {{ start = {p.pilot.start}, end = {p.pilot.end} }}\n"
        f'[[metrics]]\nname = "csat"\n[sampler]\ndraws = {draws}\ntune = 200\nchains = 2\n'
        f'[output]\nruns_dir = "runs"\n'
    )
    return spec


def _interrupt(spec: Path, sig: int, when: str, extra_wait: float) -> tuple[int, float, str]:
    """Start ``qmsprint run``, send ``sig`` ``extra_wait`` s after a progress line containing ``when``."""
    proc = subprocess.Popen([str(QMSPRINT), "run", str(spec), "--no-diagnosis"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    seen = ""
    try:
        for line in proc.stderr:
            seen += line
            if when in line:
                break
        else:
            raise AssertionError(f"no {when!r} line (exit {proc.wait()}):\n{seen}")
        time.sleep(extra_wait)
        t0 = time.monotonic()
        os.kill(proc.pid, sig)
        proc.wait(timeout=60)
        stopped = time.monotonic() - t0
        return proc.returncode, stopped, seen + proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_ctrl_c_while_the_model_compiles_stops_the_run(tmp_path, small_spec):
    spec = _pilot(tmp_path, small_spec, draws=300)
    code, seconds, err = _interrupt(spec, signal.SIGINT, "compiling and sampling", 1.0)
    assert code == 130, err[-3000:]
    assert seconds < 10, f"took {seconds:.1f} s to stop"
    assert "interrupted" in err and "nothing was written" in err
    runs = tmp_path / "runs"
    assert not runs.exists() or list(runs.iterdir()) == []  # no run folder, no hidden half-written one


@pytest.mark.slow
def test_sigterm_while_the_chains_sample_stops_the_run(tmp_path, small_spec):
    spec = _pilot(tmp_path, small_spec, draws=200_000)  # sampling outlasts the 10 s heartbeat
    code, seconds, err = _interrupt(spec, signal.SIGTERM, "still sampling", 0.0)
    assert code == 130, err[-3000:]
    assert seconds < 10, f"took {seconds:.1f} s to stop"
    runs = tmp_path / "runs"
    assert not runs.exists() or list(runs.iterdir()) == []
