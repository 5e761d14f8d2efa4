"""Difference-in-differences design: some units switch to the new program in the pilot period.

Both periods are modelled: a baseline group difference ``delta``, a period shock ``gamma``,
agent effects carried across periods, and the group x period interaction ``tau`` (the latent
treatment effect). The effect population is the treated units' pilot-period cells (the effect
on the treated).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

KIND = "did"
PERIODS = ("baseline", "pilot")


def flags(df: pd.DataFrame, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(post, active)`` per collapsed cell: pilot period, and treated unit x pilot period."""
    post = (df["period"] == "pilot").to_numpy().astype(float)
    return post, post * group


def population(df: pd.DataFrame, group: np.ndarray) -> np.ndarray:
    """Mask of the cells the effect is averaged over: treated units in the pilot period."""
    return (df["period"] == "pilot").to_numpy() & (group == 1)
