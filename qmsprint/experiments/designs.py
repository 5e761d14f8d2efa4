"""What an experimental design provides (:class:`Design`) and the registry of designs by name.

A design says which periods are modelled, which cells carry the new program and which cells the
effect is averaged over; the latent predictor with and without the new program is read from the
fitted parameters by :func:`qmsprint.models.terms.untreated`. :func:`qmsprint.experiments.estimate`
looks the spec's ``design`` up in :data:`DESIGNS`; nothing else tests a design's name.
"""

from __future__ import annotations

from typing import Literal, Protocol

import numpy as np
import pandas as pd

from qmsprint.experiments.ab import AB
from qmsprint.experiments.did import DiD
from qmsprint.experiments.prepost import PrePost
from qmsprint.experiments.waves import Waves


class Design(Protocol):
    """An experimental design (A/B, difference-in-differences).

    Attributes
    ----------
    KIND
        Structure of the model's linear predictor (:class:`qmsprint.models.CellDesign` ``kind``).
    PERIODS
        Periods whose cells are modelled, in order (the data must have them).
    OPTIONAL_PERIODS
        Periods modelled too when the data have them (A/B: the baseline).

    """

    KIND: Literal["ab", "did"]
    PERIODS: tuple[str, ...]
    OPTIONAL_PERIODS: tuple[str, ...]

    def flags(self, cells: pd.DataFrame, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(post, active)`` per collapsed cell: pilot period, and the new program active."""
        ...

    def population(self, cells: pd.DataFrame, group: np.ndarray) -> np.ndarray:
        """Mask of the cells the effect is averaged over."""
        ...

    def arm_groups(self, cells: pd.DataFrame, control: str, treatment: str) -> tuple[np.ndarray, list[str]]:
        """(group label per likelihood cell, labels in display order) for the predictive checks."""
        ...


DESIGNS: dict[str, Design] = {"ab": AB(), "did": DiD(), "waves": Waves(), "prepost": PrePost()}  # type: ignore[dict-item]


def get_design(name: str) -> Design:
    """The design called ``name``.

    Raises
    ------
    KeyError
        For an unknown name, listing the registered designs.

    """
    try:
        return DESIGNS[name]
    except KeyError:
        raise KeyError(f"unknown design {name!r}; expected one of {', '.join(DESIGNS)}") from None
