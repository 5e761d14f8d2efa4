"""What run folders share: the format constants, JSON writing, checksums and folder names."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FORMAT = "qmsprint-run"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
REQUIRED_FILES = (
    "spec.toml",
    "spec.json",
    "provenance.json",
    "warnings.json",
    "health.json",
    "cells.parquet",
    "weekly.parquet",
    "results.json",
    "effects.csv",
    "diagnostics.csv",
    "draws.npz",
    "recommendation.json",
)


def jsonable(x: Any) -> Any:
    """A JSON-able stand-in for ``x`` (numpy scalars and arrays, dates, paths, dataclasses, sets)."""
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, np.bool_):
        return bool(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, dt.date | dt.datetime | pd.Timestamp):
        return x.isoformat()
    if isinstance(x, Path):
        return str(x)
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return dataclasses.asdict(x)
    if isinstance(x, set | tuple):
        return list(x)
    return str(x)


def dumps(obj: Any) -> str:
    """``obj`` as indented JSON text (see :func:`jsonable`)."""
    return json.dumps(obj, indent=2, default=jsonable, ensure_ascii=False)


def sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def slug(name: str) -> str:
    """``name`` made safe for a folder name."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    return s or "run"
