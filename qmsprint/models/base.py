"""What a model family provides, declared once (the families register in :mod:`.families`).

A family is the likelihood of one kind of outcome fitted on cells (sufficient statistics) plus
the link back to the natural scale: :mod:`.ordinal` (cumulative logit on level counts),
:mod:`.binomial` (logit on successes / trials), :mod:`.gamma` (log-link gamma on sums of values
and of their logs), :mod:`.continuous` (lognormal on sums of log values). Everything that
differs between families goes through a :class:`Family` object, so the sampler, the experiments
and the effects never test family names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np

# an ordinal scale as a + sum_j w_j P(Y <= level_j): (a, {cutpoint index j: w_j})
CumulativeForm = tuple[float, dict[int, float]]
# one group's posterior predictive check: (level index or None, observed value, replicated draws)
PPCRow = tuple[int | None, float, np.ndarray]


class Family:
    """Base class of a model family; subclasses set the class attributes and the methods.

    Attributes
    ----------
    name
        Registry name (``ordinal``, ``binomial``, ``gamma``, ``continuous``).
    intercept
        Whether the linear predictor has an intercept (its prior is centred by :meth:`center`);
        ordinal models have none (the cutpoints carry it).
    default_priors
        Prior scales on the family's latent scale (``spec.model.priors`` may override them).
    typical_unit_sd
        Typical between-agent sd on the latent scale (only used to choose the parametrisation).
    cell_parameters
        Parameters (besides the linear predictor) the natural-scale cell values need, e.g. ``cut``.
    keys
        Natural-scale level keys the family evaluates (``rate``, ``mean``); empty when any key with
        a cumulative form is allowed (ordinal).
    signed_statistics
        Its cell statistics may be negative (sums of log values).

    """

    name: ClassVar[str]
    intercept: ClassVar[bool] = True
    default_priors: ClassVar[dict[str, float]]
    typical_unit_sd: ClassVar[float]
    cell_parameters: ClassVar[tuple[str, ...]] = ()
    keys: ClassVar[tuple[str, ...]] = ()
    signed_statistics: ClassVar[bool] = False

    # ---- from cells to the likelihood -------------------------------------------------------

    def observed(self, n: np.ndarray, stats: np.ndarray) -> dict[str, np.ndarray]:
        """Observed sufficient statistics from a cell count column and the statistic columns.

        Parameters
        ----------
        n
            Observations per cell (the metric's count column).
        stats
            The metric's statistic columns, shape (cells, columns), in the metric's order.

        """
        raise NotImplementedError

    def unit_information(self, obs: dict[str, np.ndarray], per_unit_n: np.ndarray) -> np.ndarray:
        """Fisher information about each unit's latent level (chooses the parametrisation)."""
        raise NotImplementedError

    def group_estimates(
        self, obs: dict[str, np.ndarray], index: np.ndarray, n_groups: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per group of cells: a latent-scale estimate of its level (relative to the pooled one) and its variance.

        ``index`` maps each cell to its group (0..n_groups-1). One scoring step from the pooled fit
        is enough: :func:`.priors.choose_levels` only needs moment estimates of each level's sd
        against the information per unit. Groups without data get ``nan`` and variance ``inf``.
        """
        raise NotImplementedError

    def block_data(self, prefix: str, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Data containers of the likelihood, named ``<prefix>__<what>``."""
        raise NotImplementedError

    def center(self, obs: dict[str, np.ndarray]) -> float:
        """Centre of the intercept prior (families with :attr:`intercept`)."""
        raise NotImplementedError

    def shape_key(self, obs: dict[str, np.ndarray]) -> int:
        """What besides the design fixes the compiled model's shape (ordinal: number of levels)."""
        return 0

    # ---- the PyMC model ---------------------------------------------------------------------

    def build(self, block: Any, data: dict[str, Any]) -> None:
        """Add one block (a :class:`~.sampling.ModelBlock`) to the current PyMC model."""
        raise NotImplementedError

    def initial_point(self, block: Any) -> dict[str, np.ndarray]:
        """Starting values the sampler needs."""
        return {}

    def parameters(self, prefix: str) -> list[str]:
        """Family-specific parameters behind the effects (for diagnostics)."""
        return []

    # ---- back to the natural scale ----------------------------------------------------------

    def cell_values(
        self,
        eta: np.ndarray,
        params: Mapping[str, np.ndarray],
        keys: tuple[str, ...],
        form: Callable[[str], CumulativeForm],
    ) -> dict[str, np.ndarray]:
        """Natural-scale level of each cell per draw, for each key.

        Parameters
        ----------
        eta
            Latent predictor, shape (draws, cells).
        params
            Draws of :attr:`cell_parameters` for the same draws (first axis).
        keys
            Level keys wanted (the metric's scales).
        form
            ``form(key)``: the key as a linear form of cumulative probabilities (ordinal only).

        """
        raise NotImplementedError

    def ppc(
        self,
        eta: np.ndarray,
        params: Mapping[str, np.ndarray],
        obs: dict[str, np.ndarray],
        masks: list[np.ndarray],
        rng: np.random.Generator,
    ) -> list[list[PPCRow]]:
        """Posterior predictive check per group of cells: observed vs replicated shares / rates / means.

        Replicates every cell once (``eta`` per draw and cell) and sums within each mask.
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<model family {self.name}>"
