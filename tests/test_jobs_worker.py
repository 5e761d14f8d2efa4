"""The worker's ending, in process: a job that reads as ended no longer holds its uploaded files.

``tests/test_jobs.py`` runs the real worker process; here ``run_pilot`` is replaced so that the
order of the ending (uploads removed, then the final status) is checked without sampling.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

import qmsprint.api
from qmsprint.api import jobs, worker
from qmsprint.errors import QmsprintError
from qmsprint.store.jobs import INPUTS, REQUEST, save_input, write_json


def _job(tmp_path: Path) -> Path:
    folder = tmp_path / "job"
    save_input(folder, "pilot.parquet", b"customer rows")
    write_json(folder / REQUEST, {"name": "pilot", "created": "2026-12-04T10:00:00", "runs_dir": str(tmp_path)})
    return folder


def _outcome(tmp_path: Path):
    return SimpleNamespace(path=tmp_path / "run", converged=True, warnings=[])


def _raise(err: BaseException):
    def run(*_args, **_kwargs):
        raise err

    return run


@pytest.mark.parametrize(
    ("run", "state", "code"),
    [
        (lambda tmp: lambda *a, **k: _outcome(tmp), "done", 0),
        (lambda tmp: _raise(QmsprintError("the data file has problems")), "failed", 1),
        (lambda tmp: _raise(RuntimeError("boom")), "failed", 1),
        (lambda tmp: _raise(KeyboardInterrupt()), "cancelled", 130),
    ],
    ids=["done", "qmsprint-error", "unexpected-error", "cancelled"],
)
def test_the_final_status_is_written_after_the_uploads_are_gone(tmp_path, monkeypatch, run, state, code):
    folder = _job(tmp_path)
    monkeypatch.delenv("QMSPRINT_PARENT_PID", raising=False)
    monkeypatch.setattr(worker, "_spec", lambda request, folder: SimpleNamespace(name="pilot"))
    monkeypatch.setattr(qmsprint.api, "run_pilot", run(tmp_path))
    seen: list[tuple[str, bool]] = []
    write = worker.StatusWriter.write

    def spy(self, st, **fields):
        seen.append((st, (folder / INPUTS).exists()))
        write(self, st, **fields)

    monkeypatch.setattr(worker.StatusWriter, "write", spy)
    assert worker.run_job(folder) == code
    assert seen == [("running", True), (state, False)]
    job = jobs.read_job(folder)
    assert job.state == state and not (folder / INPUTS).exists()
