"""A runs folder holds run folders and diagnosis folders: list them, open either kind."""

from __future__ import annotations

import json
from pathlib import Path

from qmsprint.store.common import FORMAT, MANIFEST
from qmsprint.store.diagnosis import (
    DIAGNOSIS_FORMAT,
    DiagnosisFolder,
    diagnosis_created,
    is_diagnosis_folder,
    load_diagnosis,
)
from qmsprint.store.runs_read import RunBundle, load_run


def list_runs(runs_dir: str | Path, *, diagnoses: bool = False) -> list[Path]:
    """Run folders under ``runs_dir`` (those with a qmsprint manifest), newest first.

    With ``diagnoses``, diagnosis folders written by ``qmsprint diagnose`` are listed too.
    Damaged runs are listed too (loading them gives the error); hidden temporary folders are not.
    """
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    found: list[tuple[str, str, Path]] = []
    for p in root.iterdir():
        if not p.is_dir() or p.name.startswith("."):
            continue
        mf = p / MANIFEST
        if not mf.is_file():
            if diagnoses and is_diagnosis_folder(p):
                found.append((diagnosis_created(p), p.name, p))
            continue
        try:
            m = json.loads(mf.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            m = {"format": FORMAT}
        if isinstance(m, dict) and m.get("format") == FORMAT:
            found.append((str(m.get("created", "")), p.name, p))
        elif diagnoses and isinstance(m, dict) and m.get("format") == DIAGNOSIS_FORMAT and is_diagnosis_folder(p):
            found.append((diagnosis_created(p), p.name, p))
    return [p for *_, p in sorted(found, key=lambda t: (t[0], t[1]), reverse=True)]


def open_folder(path: str | Path) -> RunBundle | DiagnosisFolder:
    """A run bundle (:func:`load_run`) or, for a ``qmsprint diagnose`` folder, :func:`load_diagnosis`."""
    return load_diagnosis(path) if is_diagnosis_folder(path) else load_run(path)
