"""Runs started from the app, in a process of their own: start, watch, cancel (one at a time per runs folder).

A run started from the app must not live in the Streamlit script: any click reruns the script
and would interrupt minutes of sampling. :func:`start_run` starts ``python -m qmsprint.api.worker``
in its own session, which runs :func:`qmsprint.api.run_pilot` and writes its progress and outcome
to ``status.json`` in the job's folder (:mod:`qmsprint.store.jobs`). The app polls
:func:`current_job`, so the run survives navigation, reloads and clicks; :func:`cancel_job`
sends SIGTERM, which stops the worker within seconds without a run folder (run folders are
written atomically). Only one job runs per runs folder at a time (:class:`JobRunning`
otherwise). A worker whose app stops is cancelled too.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qmsprint.errors import Problem, QmsprintError

STARTING, RUNNING, DONE, FAILED, CANCELLED = "starting", "running", "done", "failed", "cancelled"
ACTIVE = (STARTING, RUNNING)
START_TIMEOUT = 60.0  # a worker that has not reported after this long has died
KILL_AFTER = 20.0  # seconds after a cancel before the worker is killed


class JobRunning(QmsprintError):
    """A run is already going for this runs folder (one at a time)."""

    exit_code = 1


@dataclass(frozen=True)
class Job:
    """A run started from the app, as its status file says.

    Attributes
    ----------
    id, folder
        The job's id (sortable by start time) and its folder.
    name
        The pilot's name.
    state
        ``starting``, ``running``, ``done``, ``failed`` or ``cancelled``.
    message, fraction
        The last progress message and the share done.
    started, updated
        When it started and last reported (ISO timestamps).
    run
        The run folder written (``done`` only).
    converged
        Whether every fit met the convergence bars (``done`` only).
    error, problems
        What went wrong (``failed``): the message and the problems with where they are.
    cancel_requested
        A cancel was asked for and the worker has not stopped yet.
    pid
        The worker's process id.

    """

    id: str
    folder: Path
    name: str
    state: str
    message: str = ""
    fraction: float = 0.0
    started: str = ""
    updated: str = ""
    run: Path | None = None
    converged: bool | None = None
    error: str = ""
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    cancel_requested: bool = False
    pid: int | None = None

    @property
    def active(self) -> bool:
        """Still starting or running."""
        return self.state in ACTIVE

    def elapsed(self) -> float:
        """Seconds since it started (until its last report once it has ended)."""
        try:
            start = dt.datetime.fromisoformat(self.started)
        except ValueError:
            return 0.0
        end = dt.datetime.now() if self.active else dt.datetime.fromisoformat(self.updated or self.started)
        return max(0.0, (end - start).total_seconds())


def _now() -> str:
    return dt.datetime.now().isoformat(timespec="seconds")


def _problems(items: Any) -> list[Problem]:
    out = []
    for p in items or []:
        if isinstance(p, dict) and "where" in p and "message" in p:
            out.append(Problem(str(p["where"]), str(p["message"]), tuple(p.get("rows") or ()), p.get("count"),
                               tuple(str(x) for x in p.get("examples") or ())))  # fmt: skip
    return out


def _alive(pid: int | None) -> bool:
    """Whether process ``pid`` exists and has not ended (a zombie counts as ended)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def read_job(folder: Path) -> Job:
    """The job in ``folder``, as its status says; a worker that died without a word is ``failed``."""
    from qmsprint.store.jobs import CANCEL, REQUEST, STATUS, read_json

    request, status = read_json(folder / REQUEST), read_json(folder / STATUS)
    state = str(status.get("state") or STARTING)
    pid = status.get("pid") or request.get("pid")
    error = str(status.get("error") or "")
    cancel = (folder / CANCEL).exists()
    if state in ACTIVE and not _alive(pid):
        state, error = (CANCELLED, "") if cancel else (FAILED, error or "the run stopped unexpectedly")
    elif state == STARTING:
        try:
            age = (dt.datetime.now() - dt.datetime.fromisoformat(str(request.get("created")))).total_seconds()
        except (TypeError, ValueError):
            age = 0.0
        if age > START_TIMEOUT and not pid:
            state, error = FAILED, "the run did not start"
    run = status.get("run")
    return Job(
        id=folder.name,
        folder=folder,
        name=str(status.get("name") or request.get("name") or folder.name),
        state=state,
        message=str(status.get("message") or ""),
        fraction=float(status.get("fraction") or 0.0),
        started=str(status.get("started") or request.get("created") or ""),
        updated=str(status.get("updated") or ""),
        run=Path(run) if run else None,
        converged=status.get("converged"),
        error=error,
        problems=_problems(status.get("problems")),
        warnings=_problems(status.get("warnings")),
        cancel_requested=cancel and state in ACTIVE,
        pid=pid,
    )


def current_job(runs_dir: str | Path) -> Job | None:
    """The newest job of a runs folder (running or ended and not yet dismissed), or ``None``."""
    from qmsprint.store.jobs import job_folders

    folders = job_folders(runs_dir)
    return read_job(folders[-1]) if folders else None


def _reap(proc: subprocess.Popen) -> None:
    threading.Thread(target=proc.wait, name="qmsprint-job-reaper", daemon=True).start()


def start_run(
    runs_dir: str | Path,
    *,
    spec_file: str | Path | None = None,
    spec_text: str | None = None,
    upload: tuple[str, bytes] | None = None,
    data: tuple[str, bytes] | None = None,
    name: str = "",
    diagnosis: bool = True,
    key_dir: str | Path | None = None,
) -> Job:
    """Start :func:`qmsprint.api.run_pilot` in a worker process writing into ``runs_dir``.

    Give the experiment as ``spec_file`` (an existing file), ``spec_text`` (TOML; relative
    paths in it resolve against the job's folder, so give absolute ones) or ``upload`` (an
    uploaded experiment file ``(name, bytes)``). ``data`` (an uploaded data file) replaces the
    experiment's data source. ``key_dir`` holds the engagement's pseudonymisation key for a
    ``spec_text`` or ``upload`` (see :func:`qmsprint.api.spec_from_upload`). Validate first
    (:func:`qmsprint.api.validate`): the worker reports problems only when it fails.

    Raises
    ------
    JobRunning
        Another run is going for this runs folder.

    """
    from qmsprint.store.atomic import write_file_atomic
    from qmsprint.store.jobs import (
        INPUTS,
        REQUEST,
        STATUS,
        job_folders,
        jobs_lock,
        new_job_folder,
        open_log,
        remove_job,
        save_input,
        write_json,
    )

    if sum(x is not None for x in (spec_file, spec_text, upload)) != 1:
        raise ValueError("give exactly one of spec_file, spec_text or upload")
    runs_dir = Path(runs_dir).resolve()
    with jobs_lock(runs_dir):
        job = current_job(runs_dir)
        if job is not None and job.active:
            raise JobRunning(
                f"a run is already going ({job.name}, {100 * job.fraction:.0f}% done); wait for it to finish or "
                "cancel it, then start this one"
            )
        for old in job_folders(runs_dir):  # ended jobs are replaced by the new one
            remove_job(old)
        job_id = dt.datetime.now().strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        folder = new_job_folder(runs_dir, job_id)
        uploaded = None
        if spec_text is not None:
            uploaded = write_file_atomic(folder / INPUTS / "experiment.toml", spec_text)
        elif upload is not None:
            uploaded = save_input(folder, upload[0], upload[1])
        data_path = save_input(folder, data[0], data[1]) if data is not None else None
        request = {
            "spec_file": str(Path(spec_file).resolve()) if spec_file is not None else None,
            "spec_upload": str(uploaded) if uploaded is not None else None,
            "data": str(data_path) if data_path else None,
            "key_dir": str(Path(key_dir).resolve()) if key_dir is not None else None,
            "runs_dir": str(runs_dir),
            "diagnosis": diagnosis,
            "name": name,
            "created": _now(),
        }
        write_json(folder / REQUEST, request)
        write_json(folder / STATUS, {"state": STARTING, "name": name, "message": "starting", "fraction": 0.0,
                                     "started": request["created"], "updated": request["created"]})  # fmt: skip
        with open_log(folder) as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "qmsprint.api.worker", str(folder)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # clicks and reruns of the app never reach it
                env={**os.environ, "QMSPRINT_PARENT_PID": str(os.getpid())},
            )
        _reap(proc)
        request["pid"] = proc.pid
        write_json(folder / REQUEST, request)
    return read_job(folder)


def cancel_job(job: Job, *, wait: float = 0.0) -> Job:
    """Ask a running job to stop (SIGTERM: no run folder is written); with ``wait``, wait that long for it.

    A worker still running :data:`KILL_AFTER` seconds after the cancel was asked for is killed.
    """
    from qmsprint.store.jobs import CANCEL, mark_cancel

    if not job.active:
        return job
    first = not (job.folder / CANCEL).exists()
    if first:
        mark_cancel(job.folder)
    if job.pid and _alive(job.pid):
        asked = (job.folder / CANCEL).stat().st_mtime
        sig = signal.SIGKILL if time.time() - asked > KILL_AFTER else signal.SIGTERM
        try:
            os.killpg(job.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and _alive(job.pid):
        time.sleep(0.2)
    return read_job(job.folder)


def dismiss_job(job: Job) -> None:
    """Forget an ended job (its folder goes); a running job is left alone."""
    from qmsprint.store.jobs import remove_job

    if not read_job(job.folder).active:
        remove_job(job.folder)
