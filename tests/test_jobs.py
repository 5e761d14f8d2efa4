"""Runs started from the app run in a worker process: status, one at a time, cancel, failure, a dead worker.

The worker is the real one (``python -m qmsprint.api.worker``) on the small simulated pilot; the
runs are cancelled or fail before any long sampling, except the slow test that runs to the end.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from qmsprint import api
from qmsprint.api import jobs

pytestmark = pytest.mark.slow  # each test starts a worker process (imports and data preparation: seconds)


def _toml(small_spec, *, source: str | None = None, draws: int = 100_000, metrics: str = "csat") -> str:
    p = small_spec.periods
    src = source or str(small_spec.data.source)
    body = "".join(f'[[metrics]]\nname = "{m}"\n' for m in metrics.split(","))
    return (
        f'name = "background"\ndesign = "ab"\n[arms]\ncontrol = "checklist"\ntreatment = "behavior"\n'
        f"[data]\nsource = {src!r}\n[periods]\n"
        f"baseline = {{ start = {p.baseline.start}, end = {p.baseline.end} }}\n"
        f"pilot = {{ start = {p.pilot.start}, end = {p.pilot.end} }}\n"
        f"{body}[sampler]\ndraws = {draws}\ntune = 100\nchains = 2\n"
    )


def _wait(runs: Path, until, timeout: float = 300) -> api.Job:
    deadline = time.monotonic() + timeout
    job = api.current_job(runs)
    while time.monotonic() < deadline:
        job = api.current_job(runs)
        if job is not None and until(job):
            return job
        time.sleep(0.3)
    raise AssertionError(f"timed out; last status: {job}")


def _no_runs(runs: Path) -> None:
    left = [p.name for p in runs.iterdir() if p.name != ".qmsprint-jobs"]
    assert left == [], left  # no run folder, no hidden half-written one


def test_a_background_run_reports_progress_runs_alone_and_cancels_cleanly(tmp_path, small_spec):
    runs = tmp_path / "runs"
    job = api.start_run(runs, spec_text=_toml(small_spec), name="background", key_dir=tmp_path)
    assert job.active and job.name == "background" and (job.folder / "inputs" / "experiment.toml").is_file()
    job = _wait(runs, lambda j: j.state == "running" and "sampling" in j.message)  # the sampler runs now
    assert 0.0 < job.fraction < 1.0 and job.pid and job.elapsed() > 0
    with pytest.raises(api.JobRunning, match="already going"):  # one run at a time per runs folder
        api.start_run(runs, spec_text=_toml(small_spec), name="second")
    t0 = time.monotonic()
    job = api.cancel_job(job, wait=30)
    assert job.state == "cancelled", job
    assert time.monotonic() - t0 < 15
    assert not jobs._alive(job.pid)
    _no_runs(runs)
    assert not (job.folder / "inputs").exists()  # the uploaded files are gone with the run
    api.dismiss_job(job)
    assert api.current_job(runs) is None


def test_a_run_that_fails_says_why_with_every_problem(tmp_path, small_spec):
    bad = tmp_path / "bad.csv"
    bad.write_text("interaction_id,when,agent\n1,yesterday,a\n")
    runs = tmp_path / "runs"
    api.start_run(runs, spec_text=_toml(small_spec, source=str(bad)), name="broken")
    job = _wait(runs, lambda j: not j.active, timeout=120)
    assert job.state == "failed" and "invalid data" in job.error
    assert job.problems and {p.where for p in job.problems} >= {"timestamp"}
    _no_runs(runs)
    api.start_run(runs, spec_text=_toml(small_spec, source=str(bad)), name="again")  # an ended job is replaced
    assert api.current_job(runs).name == "again"


def test_a_worker_killed_without_a_word_is_reported_as_failed(tmp_path, small_spec):
    runs = tmp_path / "runs"
    job = api.start_run(runs, spec_text=_toml(small_spec), name="killed")
    job = _wait(runs, lambda j: j.state == "running")
    os.killpg(job.pid, signal.SIGKILL)
    job = _wait(runs, lambda j: not j.active, timeout=30)
    assert job.state == "failed" and "stopped unexpectedly" in job.error
    api.start_run(runs, spec_text=_toml(small_spec), name="next")  # the lock does not outlive the worker
    api.cancel_job(api.current_job(runs), wait=30)


def test_a_background_run_writes_its_run_folder(tmp_path, small_spec):
    runs = tmp_path / "runs"
    upload = ("pilot.toml", _toml(small_spec, draws=100, metrics="csat").encode())
    data = ("pilot.parquet", Path(small_spec.data.source).read_bytes())
    api.start_run(runs, upload=upload, data=data, name="complete", diagnosis=False, key_dir=tmp_path)
    job = _wait(runs, lambda j: not j.active, timeout=900)
    assert job.state == "done", (job.error, job.problems)
    assert job.run is not None and job.run.parent == runs.resolve() and job.fraction == 1.0
    run = api.open_folder(job.run)
    assert run.spec.name == "background" and [r.metric for r in run.results] == ["csat"]
    assert not (job.folder / "inputs").exists()
