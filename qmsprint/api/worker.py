"""The process a run started from the app runs in: ``python -m qmsprint.api.worker JOB_FOLDER``.

Reads the job's request, runs :func:`qmsprint.api.run_pilot` and keeps ``status.json`` up to date
(progress at most a few times a second, then the outcome: ``done`` with the run folder,
``failed`` with the problems, or ``cancelled``). SIGTERM or SIGINT stop it within seconds with no
run folder (:func:`qmsprint.interrupt.stop_on_signals`); so does the end of the app that
started it (its process id is watched). The uploaded files of the request are deleted at the end.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import threading
import time
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import Any

from qmsprint.errors import QmsprintError

WRITE_EVERY = 0.5  # seconds between progress writes
PARENT_CHECK = 1.0  # seconds between checks that the app is still there


def _now() -> str:
    return dt.datetime.now().isoformat(timespec="seconds")


class StatusWriter:
    """Writes the job's ``status.json``: progress (throttled) and the outcome."""

    def __init__(self, folder: Path, name: str, started: str) -> None:
        self.folder = folder
        self.base: dict[str, Any] = {"name": name, "started": started, "pid": os.getpid()}
        self.last = 0.0
        self.lock = threading.Lock()

    def write(self, state: str, **fields: Any) -> None:
        """Write the status now."""
        from qmsprint.store.jobs import STATUS, write_json

        with self.lock:
            write_json(self.folder / STATUS, {**self.base, "state": state, "updated": _now(), **fields})
            self.last = time.monotonic()

    def progress(self, message: str, fraction: float) -> None:
        """A ``progress(message, fraction)`` callback for :func:`~qmsprint.api.run_pilot`."""
        if fraction < 1.0 and time.monotonic() - self.last < WRITE_EVERY:
            return
        self.write("running", message=message, fraction=max(0.0, min(1.0, float(fraction))))


def _watch_parent() -> None:
    """SIGTERM ourselves when the app that started us is gone."""
    import signal

    parent = int(os.environ.get("QMSPRINT_PARENT_PID") or 0)
    if not parent:
        return

    def watch() -> None:
        while True:
            time.sleep(PARENT_CHECK)
            try:
                os.kill(parent, 0)
            except ProcessLookupError:
                os.kill(os.getpid(), signal.SIGTERM)
                return
            except PermissionError:
                pass

    threading.Thread(target=watch, name="qmsprint-parent-watch", daemon=True).start()


def _spec(request: dict[str, Any], folder: Path) -> Any:
    """The job's spec: an experiment file on disk, or an uploaded one (with the engagement's key)."""
    from qmsprint.api import spec_from_upload
    from qmsprint.spec import load_spec
    from qmsprint.store.jobs import INPUTS

    if request.get("spec_file"):
        spec = load_spec(request["spec_file"])
    else:
        uploaded = Path(request["spec_upload"])
        spec = spec_from_upload(folder / INPUTS / "work", (uploaded.name, uploaded.read_bytes()),
                                key_dir=Path(request["key_dir"]) if request.get("key_dir") else None)  # fmt: skip
    if request.get("data"):
        data = spec.data.model_copy(update={"source": str(request["data"]), "connection": None, "table": None})
        spec = spec.model_copy(update={"data": data})
    return spec


def run_job(folder: Path) -> int:
    """Run the job in ``folder``; the exit code (0 done, 2-5 as the CLI's, 130 cancelled, 1 other)."""
    from qmsprint.interrupt import EXIT_INTERRUPTED, stop_on_signals
    from qmsprint.store.jobs import REQUEST, read_json, remove_inputs

    request = read_json(folder / REQUEST)
    status = StatusWriter(folder, str(request.get("name") or ""), str(request.get("created") or _now()))
    code = 1
    # The ending state is written after the uploads are removed: a job that reads as ended holds no inputs.
    end: tuple[str, dict[str, Any]] = ("failed", {"error": "the run stopped unexpectedly"})
    try:
        with stop_on_signals():
            _watch_parent()
            status.write("running", message="starting", fraction=0.0)
            from qmsprint.api import run_pilot

            spec = _spec(request, folder)
            status.base["name"] = status.base["name"] or spec.name
            outcome = run_pilot(spec, runs_dir=request["runs_dir"], progress=status.progress,
                                diagnosis=bool(request.get("diagnosis", True)))  # fmt: skip
            warnings = [asdict(w) for w in outcome.warnings]
            end = ("done", {"message": f"done: {outcome.path.name}", "fraction": 1.0, "run": str(outcome.path),
                            "converged": outcome.converged, "warnings": warnings})  # fmt: skip
            code = 0 if outcome.converged else 4
    except KeyboardInterrupt:
        end = ("cancelled", {"message": "cancelled: no run folder was written", "fraction": 0.0})
        code = EXIT_INTERRUPTED
    except QmsprintError as err:
        end = ("failed", {"error": err.message, "problems": [asdict(p) for p in err.problems]})
        code = err.exit_code
    except Exception as err:  # noqa: BLE001 - reported in the app, traceback in worker.log
        traceback.print_exc()
        end = ("failed", {"error": f"unexpected error: {type(err).__name__}: {err}"})
    finally:
        remove_inputs(folder)
        status.write(end[0], **end[1])
    return code


def main(argv: list[str] | None = None) -> None:
    """Entry point: ``python -m qmsprint.api.worker JOB_FOLDER``."""
    from qmsprint.interrupt import exit_now

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not Path(args[0]).is_dir():
        sys.stderr.write("usage: python -m qmsprint.api.worker JOB_FOLDER\n")
        sys.exit(2)
    exit_now(run_job(Path(args[0])))  # skips the slow final garbage collection of compiled models


if __name__ == "__main__":
    main()
