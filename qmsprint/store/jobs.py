"""Job folders: what a run started from the app asks for and how far it has got.

A job lives in a hidden folder of the runs folder (``<runs>/.qmsprint-jobs/<id>/``; hidden
folders are never listed as runs): ``job.json`` (the request), ``status.json`` (state, progress,
outcome; rewritten atomically by the worker), ``cancel`` (present once a cancel was asked for),
``worker.log`` and the files the request brought (an uploaded experiment or data file, removed
when the job ends). :mod:`qmsprint.api.jobs` starts and watches the worker processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from qmsprint.store.atomic import write_file_atomic
from qmsprint.store.common import dumps

JOBS_DIR = ".qmsprint-jobs"
REQUEST = "job.json"
STATUS = "status.json"
CANCEL = "cancel"
LOG = "worker.log"
INPUTS = "inputs"  # uploaded files of the request (removed when the job ends)


def jobs_root(runs_dir: str | Path) -> Path:
    """The hidden folder holding the job folders of a runs folder."""
    return Path(runs_dir) / JOBS_DIR


def new_job_folder(runs_dir: str | Path, job_id: str) -> Path:
    """Create the (private) folder of a new job."""
    folder = jobs_root(runs_dir) / job_id
    folder.mkdir(parents=True, exist_ok=False, mode=0o700)
    return folder


def job_folders(runs_dir: str | Path) -> list[Path]:
    """Job folders of a runs folder, oldest first (ids sort by creation time)."""
    root = jobs_root(runs_dir)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / REQUEST).is_file())


def write_json(path: Path, data: dict[str, Any]) -> Path:
    """Write a job's JSON file atomically (readers never see half a file)."""
    return write_file_atomic(path, dumps(data))


def read_json(path: Path) -> dict[str, Any]:
    """A job's JSON file, or an empty dict when it is missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def save_input(folder: Path, name: str, content: bytes) -> Path:
    """Keep an uploaded file for the job (under ``inputs/``; the name's folder part is dropped)."""
    return write_file_atomic(folder / INPUTS / Path(name).name, content)


def open_log(folder: Path) -> BinaryIO:
    """The job's log file, opened for appending (the worker's output goes there)."""
    return open(folder / LOG, "ab")  # noqa: SIM115 - the caller hands it to the worker and closes it


def mark_cancel(folder: Path) -> None:
    """Record that a cancel was asked for."""
    write_file_atomic(folder / CANCEL, "")


def remove_inputs(folder: Path) -> None:
    """Delete the uploaded files of a finished job (they may hold customer data)."""
    shutil.rmtree(folder / INPUTS, ignore_errors=True)


def remove_job(folder: Path) -> None:
    """Delete a finished job's folder."""
    shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def jobs_lock(runs_dir: str | Path) -> Iterator[None]:
    """Hold the runs folder's job lock (one job starts at a time, across app sessions and processes)."""
    root = jobs_root(runs_dir)
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(root / ".lock", "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
