"""Diagnosis folders (``qmsprint diagnose``): ``diagnosis.json`` and one CSV per table, no manifest.

:func:`save_diagnosis` writes one atomically (:func:`~qmsprint.store.atomic.write_new_folder`, CSVs
through :func:`~qmsprint.store.csvfile.write_csv`); :func:`load_diagnosis` reads one.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from qmsprint.errors import BundleError
from qmsprint.spec import Spec
from qmsprint.store.atomic import unique_target, write_new_folder
from qmsprint.store.common import MANIFEST, slug
from qmsprint.store.csvfile import write_csv

DIAGNOSIS_FILE = "diagnosis.json"


def is_diagnosis_folder(path: str | Path) -> bool:
    """True for a folder written by ``qmsprint diagnose`` (a diagnosis, no run manifest)."""
    p = Path(path)
    return (p / DIAGNOSIS_FILE).is_file() and not (p / MANIFEST).exists()


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

    def write(folder: Path) -> list[str]:
        (folder / DIAGNOSIS_FILE).write_text(json.dumps(data, indent=2), encoding="utf-8")
        for name, table in tables.items():
            write_csv(table, folder / f"{name}.csv")
        return [DIAGNOSIS_FILE] + [f"{name}.csv" for name in tables]

    return write_new_folder(out_dir, write, "diagnoses")


def diagnosis_folder_name(spec: Spec, now: dt.datetime | None = None) -> Path:
    """A new folder for a diagnosis under the spec's runs folder (``<name>-diagnosis-<time>``)."""
    now = now or dt.datetime.now()
    return unique_target(spec.runs_dir, f"{slug(spec.name)}-diagnosis-{now:%Y%m%d-%H%M%S}")
