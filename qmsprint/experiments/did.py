"""Difference-in-differences design: some units switch to the new program in the pilot period.

Both periods are modelled: a baseline group difference ``delta``, a period shock ``gamma``,
agent effects carried across periods, team x period (site x period, agent x period) shocks with
estimated sds, and the group x period interaction ``tau`` (the latent treatment effect). The
effect population is the treated units' pilot-period cells (the effect on the treated).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd


class DiD:
    """Difference-in-differences: group x period interaction (implements :class:`.designs.Design`)."""

    KIND: Literal["did"] = "did"
    PERIODS = ("baseline", "pilot")
    OPTIONAL_PERIODS = ()

    def flags(self, cells: pd.DataFrame, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(post, active)`` per collapsed cell: pilot period, and treated unit x pilot period."""
        post = (cells["period"] == "pilot").to_numpy().astype(float)
        return post, post * group

    def population(self, cells: pd.DataFrame, group: np.ndarray) -> np.ndarray:
        """Mask of the cells the effect is averaged over: treated units in the pilot period."""
        return (cells["period"] == "pilot").to_numpy() & (group == 1)

    def arm_groups(self, cells: pd.DataFrame, control: str, treatment: str) -> tuple[np.ndarray, list[str]]:
        """Cells grouped by arm and period."""
        labels = (cells["arm"] + " " + cells["period"]).to_numpy()
        return labels, [f"{a} {p}" for a in (control, treatment) for p in self.PERIODS]
