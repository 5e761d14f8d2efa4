"""Diagnosis folders (``qmsprint diagnose``): ``diagnosis.json``, one CSV per table and a manifest.

:func:`save_diagnosis` writes one atomically (:func:`~qmsprint.store.atomic.write_new_folder`, CSVs
through :func:`~qmsprint.store.csvfile.write_csv`): agent ids must be keyed pseudonyms (the data
layer made them), customer ids never appear, free text holds no absolute paths or connection
strings, and ``manifest.json`` (format ``qmsprint-diagnosis``) lists the sha256 of every file, as
in run folders. :func:`load_diagnosis` reads one and checks the manifest; folders written before
diagnosis folders had a manifest still open.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from qmsprint.errors import BundleError, Problem
from qmsprint.privacy import redact
from qmsprint.spec import Spec
from qmsprint.store.atomic import unique_target, write_new_folder
from qmsprint.store.common import MANIFEST, dumps, sha256, slug
from qmsprint.store.csvfile import write_csv
from qmsprint.store.personal import check_pseudonymised, stored_frame

DIAGNOSIS_FILE = "diagnosis.json"
DIAGNOSIS_FORMAT = "qmsprint-diagnosis"
DIAGNOSIS_FORMAT_VERSION = 1


def manifest_format(path: Path) -> str | None:
    """The ``format`` of the folder's ``manifest.json`` (``None`` without one; ``""`` when unreadable)."""
    mf = path / MANIFEST
    if not mf.is_file():
        return None
    try:
        m = json.loads(mf.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return ""
    return str(m.get("format", "")) if isinstance(m, dict) else ""


def is_diagnosis_folder(path: str | Path) -> bool:
    """True for a folder written by ``qmsprint diagnose`` (a diagnosis and a diagnosis manifest, or no manifest)."""
    p = Path(path)
    return (p / DIAGNOSIS_FILE).is_file() and manifest_format(p) in (None, DIAGNOSIS_FORMAT)


def diagnosis_created(path: Path, diagnosis: dict[str, Any] | None = None) -> str:
    """When a diagnosis was made (ISO text): its ``meta.created``, else the file's time.

    ``diagnosis`` is the folder's ``diagnosis.json`` when already read.
    """
    try:
        if diagnosis is None:
            diagnosis = json.loads((path / DIAGNOSIS_FILE).read_text(encoding="utf-8"))
        created = diagnosis.get("meta", {}).get("created")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        created = None
    if created:
        return str(created)
    try:
        return dt.datetime.fromtimestamp((path / DIAGNOSIS_FILE).stat().st_mtime).isoformat(timespec="seconds")
    except OSError:
        return ""


class DiagnosisFolder:
    """A diagnosis written by ``qmsprint diagnose`` (``diagnosis.json`` and one CSV per table).

    Attributes
    ----------
    path, name, created
        The folder, its name and when the diagnosis was made (ISO text).
    diagnosis
        The ``Diagnosis.to_dict()`` dict.
    spec
        dict with the experiment's ``name`` and ``client``.

    """

    def __init__(self, path: Path, diagnosis: dict[str, Any]) -> None:
        self.path = path
        self.diagnosis = diagnosis

    def __repr__(self) -> str:
        return f"DiagnosisFolder({str(self.path)!r})"

    @property
    def name(self) -> str:
        """Folder name."""
        return self.path.name

    @property
    def created(self) -> str:
        """When the diagnosis was made (ISO text)."""
        return diagnosis_created(self.path, self.diagnosis)

    @property
    def spec(self) -> dict[str, Any]:
        """The experiment's name and client, as far as the diagnosis records them."""
        meta = self.diagnosis.get("meta") or {}
        return {"name": meta.get("name") or self.name, "client": meta.get("client") or ""}


def load_diagnosis(path: str | Path) -> DiagnosisFolder:
    """Load a diagnosis folder written by ``qmsprint diagnose``.

    Raises
    ------
    BundleError
        For a missing folder, or a ``diagnosis.json`` that is missing, not JSON or lacks its tables.

    """
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"diagnosis folder not found: {path}")
    _verify(path)
    try:
        d = json.loads((path / DIAGNOSIS_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(
            f"{path} holds no {DIAGNOSIS_FILE}; expected a folder written by `qmsprint diagnose`"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BundleError(f"{path} is damaged: {DIAGNOSIS_FILE} cannot be read ({err})") from None
    missing = [
        k
        for k in ("meta", "r2", "items", "quadrant", "root_causes", "variance")
        if not isinstance(d, dict) or k not in d
    ]
    if missing:
        raise BundleError(f"{path} is damaged: {DIAGNOSIS_FILE} lacks {', '.join(missing)}")
    return DiagnosisFolder(path, d)


def save_diagnosis(data: Mapping[str, Any], tables: Mapping[str, pd.DataFrame], out_dir: str | Path) -> list[Path]:
    """Write ``diagnosis.json`` and one CSV per table (``<name>.csv``) into the new folder ``out_dir``.

    Parameters
    ----------
    data
        The JSON-able diagnosis (``Diagnosis.to_dict()``).
    tables
        Table name -> DataFrame, written in this order.
    out_dir
        The folder to create (see :func:`diagnosis_folder_name`).

    Returns
    -------
    list of Path
        ``diagnosis.json`` then the CSV files.

    Raises
    ------
    BundleError
        If ``out_dir`` already exists (nothing is overwritten) or cannot be written.

    """
    import qmsprint

    data = redact(json.loads(dumps(data)))  # no absolute paths or connection strings in its text
    quadrant = data.get("quadrant") if isinstance(data, dict) else None
    if isinstance(quadrant, list):
        check_pseudonymised([r.get("agent_id") for r in quadrant if isinstance(r, dict)], "diagnosis quadrant")
    safe = {name: stored_frame(table, f"{name} table") for name, table in tables.items()}

    def write(folder: Path) -> list[str]:
        (folder / DIAGNOSIS_FILE).write_text(json.dumps(data, indent=2), encoding="utf-8")
        for name, table in safe.items():
            write_csv(table, folder / f"{name}.csv")
        names = [DIAGNOSIS_FILE] + [f"{name}.csv" for name in safe]
        write_diagnosis_manifest(folder, names, qmsprint.__version__, (data.get("meta") or {}).get("created"))
        return names

    return write_new_folder(out_dir, write, "diagnoses")


def write_diagnosis_manifest(folder: Path, names: list[str], version: str, created: str | None = None) -> None:
    """``manifest.json`` of a diagnosis folder: format, versions, when, and the sha256 of each file in ``names``."""
    manifest = {
        "format": DIAGNOSIS_FORMAT,
        "format_version": DIAGNOSIS_FORMAT_VERSION,
        "qmsprint_version": version,
        "created": created or dt.datetime.now().isoformat(timespec="seconds"),
        "files": {n: sha256(folder / n) for n in names},
    }
    (folder / MANIFEST).write_text(dumps(manifest), encoding="utf-8")


def _verify(path: Path) -> None:
    """Check a diagnosis folder's manifest (when it has one): format, version and every file's hash."""
    if manifest_format(path) is None:
        return  # written before diagnosis folders had a manifest
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BundleError(f"{path} is damaged: {MANIFEST} is not valid JSON ({err})") from None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    version = manifest.get("format_version") if isinstance(manifest, dict) else None
    if manifest.get("format") != DIAGNOSIS_FORMAT or not isinstance(files, dict) or not isinstance(version, int):
        raise BundleError(f"{path} is damaged: {MANIFEST} is not a diagnosis manifest")
    if version > DIAGNOSIS_FORMAT_VERSION:
        raise BundleError(f"{path} was written by a newer qmsprint (diagnosis format {version}); upgrade qmsprint")
    problems = []
    for rel, digest in files.items():
        p = path / rel
        if not p.is_file():
            problems.append(Problem(rel, "file is missing"))
        elif sha256(p) != digest:
            problems.append(Problem(rel, "file was changed after the diagnosis was written (checksum mismatch)"))
    if problems:
        raise BundleError(f"{path} is damaged: {', '.join(p.where for p in problems)} changed or missing", problems)


def diagnosis_folder_name(spec: Spec, now: dt.datetime | None = None) -> Path:
    """A new folder for a diagnosis under the spec's runs folder (``<name>-diagnosis-<time>``)."""
    now = now or dt.datetime.now()
    return unique_target(spec.runs_dir, f"{slug(spec.name)}-diagnosis-{now:%Y%m%d-%H%M%S}")
