"""A/B design: units randomized to the old or the new program over the same (pilot) period.

Only pilot-period cells are modelled; agents are centred on their arm's mean, so the arm
difference ``tau`` is the latent treatment effect. The effect population is every pilot cell.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
import pandas as pd


class AB:
    """A/B: the arm difference over the pilot period (implements :class:`.designs.Design`)."""

    KIND: Literal["ab"] = "ab"
    PERIODS = ("pilot",)

    def flags(self, cells: pd.DataFrame, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(post, active)`` per collapsed cell: all cells are pilot; active = treated unit."""
        post = np.ones(len(cells))
        return post, group.astype(float)

    def population(self, cells: pd.DataFrame, group: np.ndarray) -> np.ndarray:  # noqa: ARG002
        """Mask of the cells the effect is averaged over: every pilot-period cell."""
        return (cells["period"] == "pilot").to_numpy()

    def untreated(
        self, base: np.ndarray, draws: Callable[[str], np.ndarray], group: np.ndarray, post: np.ndarray
    ) -> np.ndarray:
        """Agent effects include the arm difference: take ``tau`` off the treated units' cells."""
        return base - draws("effect")[:, None] * group[None, :]

    def treated(self, group: np.ndarray, active: np.ndarray) -> np.ndarray:
        """Treated units' cells."""
        return group

    def arm_groups(self, cells: pd.DataFrame, control: str, treatment: str) -> tuple[np.ndarray, list[str]]:
        """Cells grouped by arm."""
        return cells["arm"].to_numpy(), [control, treatment]
