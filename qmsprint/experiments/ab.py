"""A/B design: units randomized to the old or the new program over the same (pilot) period.

The pilot period is modelled and, when the data have one (and ``model.baseline_adjust`` is on),
the baseline period before it: every unit is on the old program there, so each unit's baseline
level enters its agent effect and the pilot comparison is made against it (the hierarchical
counterpart of CUPED; :mod:`qmsprint.models.terms`). The effect population is every pilot cell.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd


class AB:
    """A/B: the arm difference over the pilot period (implements :class:`.designs.Design`)."""

    KIND: Literal["ab"] = "ab"
    PERIODS = ("pilot",)
    OPTIONAL_PERIODS = ("baseline",)

    def flags(self, cells: pd.DataFrame, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(post, active)`` per collapsed cell: pilot period, and treated unit x pilot period."""
        post = (cells["period"] == "pilot").to_numpy().astype(float)
        return post, post * group

    def population(self, cells: pd.DataFrame, group: np.ndarray) -> np.ndarray:  # noqa: ARG002
        """Mask of the cells the effect is averaged over: every pilot-period cell."""
        return (cells["period"] == "pilot").to_numpy()

    def arm_groups(self, cells: pd.DataFrame, control: str, treatment: str) -> tuple[np.ndarray, list[str]]:
        """Cells grouped by arm (pilot period; the baseline as ``<arm> baseline`` when modelled)."""
        period = cells["period"].to_numpy()
        labels = np.where(period == "pilot", cells["arm"].to_numpy(), cells["arm"] + " " + cells["period"])
        order = [control, treatment]
        if (period != "pilot").any():
            order = [f"{a} baseline" for a in (control, treatment)] + order
        return labels, order
