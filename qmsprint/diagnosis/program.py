"""A diagnosis that is not fooled by a pilot: which program each row ran under, and how it is handled.

An export taken during a pilot holds both programs. Pooled, the new program's own effects
(it may lower an item's pass rate and raise NPS at the same time) would read as the item's
association with NPS. The diagnosis therefore uses only rows from before the pilot when the
experiment file has a baseline period (:func:`qmsprint.data.load_history`), and otherwise adjusts
every model for the program: ``_program`` is 1 where the new program ran (arm = treatment, in the
pilot period) and ``_pilot`` is 1 in the pilot period (when the rows span both periods). Item
effects are within-agent associations besides (:mod:`qmsprint.diagnosis.blocks`), so an agent's
program, team or skill cannot make an item look good or bad.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd

from qmsprint.spec import Spec

PROGRAM = "_program"
PILOT = "_pilot"
Handling = Literal["pre_pilot", "adjusted", "single"]


def program_columns(frame: pd.DataFrame, spec: Spec) -> pd.DataFrame:
    """0/1 columns ``_program`` and ``_pilot`` (only those that vary), indexed like ``frame``.

    ``_program`` is 1 on rows of the treatment arm in the pilot period (rows without a ``period``
    column count as pilot rows); ``_pilot`` is 1 in the pilot period. Empty without an ``arm``
    column or when only one program occurs.
    """
    out = pd.DataFrame(index=frame.index)
    if "arm" not in frame:
        return out
    pilot = frame["period"].astype("string").eq("pilot").fillna(False) if "period" in frame else None
    new = frame["arm"].astype("string").eq(spec.arms.treatment).fillna(False)
    if pilot is not None:
        new = new & pilot
    if new.nunique() < 2:
        return out
    out[PROGRAM] = new.astype(float)
    if pilot is not None and pilot.nunique() > 1:
        out[PILOT] = pilot.astype(float)
    return out


def handling(columns: pd.DataFrame, pre_pilot: bool) -> Handling:
    """How the rows meet the program: only pre-pilot rows, both programs adjusted for, or one program."""
    if len(columns.columns):
        return "adjusted"
    return "pre_pilot" if pre_pilot else "single"


def program_labels(columns: pd.DataFrame) -> pd.Series | None:
    """Per row: ``new`` / ``old`` program (x ``pilot`` / ``baseline``), for centring scores; None for one program."""
    if not len(columns.columns):
        return None
    label = columns[PROGRAM].map({1.0: "new", 0.0: "old"}).astype(str)
    if PILOT in columns:
        label = label + "/" + columns[PILOT].map({1.0: "pilot", 0.0: "baseline"}).astype(str)
    return label
