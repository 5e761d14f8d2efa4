"""A/B design: units randomized to the old or the new program over the same (pilot) period.

Only pilot-period cells are modelled; agents are centred on their arm's mean, so the arm
difference ``tau`` is the latent treatment effect. The effect population is every pilot cell.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

KIND = "ab"
PERIODS = ("pilot",)


def flags(df: pd.DataFrame, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(post, active)`` per collapsed cell: all cells are pilot; active = treated unit."""
    post = np.ones(len(df))
    return post, group.astype(float)


def population(df: pd.DataFrame, group: np.ndarray) -> np.ndarray:  # noqa: ARG001
    """Mask of the cells the effect is averaged over: every pilot-period cell."""
    return (df["period"] == "pilot").to_numpy()
