"""The monitoring history beside the runs: two append-only JSON Lines files.

``<runs folder>/alerts.jsonl``
    One line per alert event of ``qmsprint monitor``: ``time``, ``pilot`` (the experiment's name),
    ``event`` (``raised`` or ``cleared``), ``kind`` (``srm``, ``guardrail``, ``response_gap``,
    ``contamination``, ``not_converged``, ``decisive_now``, ``invalid_data``), ``key`` (the kind, or
    ``<kind>:<metric>``), ``severity`` (``alert``, ``warn`` or ``info``), ``message``, ``metric``,
    ``run`` (the run folder the check wrote, if any) and ``check`` (its number).
``<runs folder>/monitor.jsonl``
    One line per check: ``time``, ``pilot``, ``check``, ``fingerprint`` and ``rows`` of the data,
    ``estimated`` and ``run``, ``converged``, ``action``, ``stop`` (the stopping rule's numbers),
    ``effects`` (per metric: the headline effect, its interval and probabilities), ``active`` (the
    alert keys active after the check), ``raised``, ``cleared``, ``exit_code`` and ``webhook``.

Lines are only ever appended, each whole: all lines of one call are written with a single
``write`` on a file opened for appending, under an exclusive lock, then flushed to disk. A damaged
line (a disk that filled up mid-line) is skipped on reading and counted.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from qmsprint.errors import BundleError
from qmsprint.store.common import jsonable

__all__ = ["ALERTS_FILE", "CHECKS_FILE", "append_alerts", "append_check", "read_alerts", "read_checks", "read_jsonl"]

ALERTS_FILE = "alerts.jsonl"
CHECKS_FILE = "monitor.jsonl"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[Any]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def append_jsonl(path: str | Path, records: Iterable[Mapping[str, Any]]) -> int:
    """Append records as JSON lines (one write, under a lock, flushed to disk); returns how many.

    Raises
    ------
    BundleError
        If the file cannot be written.

    """
    lines = "".join(json.dumps(dict(r), default=jsonable, sort_keys=True) + "\n" for r in records)
    if not lines:
        return 0
    try:
        with _locked(Path(path)) as fd:
            os.write(fd, lines.encode("utf-8"))
            os.fsync(fd)
    except OSError as err:
        raise BundleError(f"cannot append to {path}: {err}") from None
    return lines.count("\n")


def read_jsonl(path: str | Path) -> tuple[list[dict[str, Any]], int]:
    """(records, damaged lines skipped) of a JSON Lines file; no file is no records."""
    p = Path(path)
    if not p.is_file():
        return [], 0
    out, bad = [], 0
    for line in p.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            continue
        if isinstance(rec, dict):
            out.append(rec)
        else:
            bad += 1
    return out, bad


def append_alerts(runs_dir: str | Path, alerts: Iterable[Mapping[str, Any]]) -> int:
    """Append alert events to ``<runs_dir>/alerts.jsonl``."""
    return append_jsonl(Path(runs_dir) / ALERTS_FILE, alerts)


def append_check(runs_dir: str | Path, record: Mapping[str, Any]) -> None:
    """Append one check record to ``<runs_dir>/monitor.jsonl``."""
    append_jsonl(Path(runs_dir) / CHECKS_FILE, [record])


def _of(records: list[dict[str, Any]], pilot: str | None) -> list[dict[str, Any]]:
    return [r for r in records if pilot is None or r.get("pilot") == pilot]


def read_alerts(runs_dir: str | Path, pilot: str | None = None) -> list[dict[str, Any]]:
    """Alert events in ``<runs_dir>/alerts.jsonl`` (of one pilot), oldest first."""
    return _of(read_jsonl(Path(runs_dir) / ALERTS_FILE)[0], pilot)


def read_checks(runs_dir: str | Path, pilot: str | None = None) -> list[dict[str, Any]]:
    """Check records in ``<runs_dir>/monitor.jsonl`` (of one pilot), oldest first."""
    return _of(read_jsonl(Path(runs_dir) / CHECKS_FILE)[0], pilot)
