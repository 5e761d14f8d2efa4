"""Simulated pilots on disk: the data file and its ground truth beside it, written together."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from qmsprint.simulate import Simulation
from qmsprint.store.atomic import write_files_atomic
from qmsprint.store.csvfile import write_csv, write_parquet


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, dt.date):
        return o.isoformat()
    return str(o)


def write_simulation(sim: Simulation, path: str | Path) -> list[Path]:
    """Write the data (``.parquet`` or ``.csv``) and ``<stem>.truth.json`` beside it.

    Both files are written to temporary names in the same folder and moved into place only
    when both are complete (:func:`qmsprint.store.write_files_atomic`).

    Returns
    -------
    list of Path
        The data file and the truth file.

    """
    path = Path(path)
    if path.suffix.lower() not in (".parquet", ".csv"):
        raise ValueError(f"expected a .parquet or .csv path (got {path.name})")
    truth_path = path.with_name(path.stem + ".truth.json")
    cfg = asdict(sim.config)
    cfg["items"] = [asdict(i) if not isinstance(i, dict) else i for i in sim.config.items]
    payload = {**sim.truth, "config": cfg}

    def data(tmp: Path) -> None:
        if path.suffix.lower() == ".parquet":
            write_parquet(sim.frame, tmp, compression="zstd")
        else:
            write_csv(sim.frame, tmp)

    truth = json.dumps(payload, indent=2, default=_json_default) + "\n"
    return write_files_atomic({path: data, truth_path: truth})
