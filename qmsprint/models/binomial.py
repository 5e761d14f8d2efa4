"""Binary outcomes (FCR, repeat contact): binomial with logit link on (successes, trials) per cell.

The log-likelihood is ``sum_c y_c eta_c - n_c log(1 + exp(eta_c))``: ``pm.Binomial``'s without the
constant binomial coefficient, which would otherwise be recomputed at every gradient.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from scipy.special import expit

from qmsprint.models.base import CumulativeForm, Family, PPCRow
from qmsprint.models.terms import block_predictor


def block_data(prefix: str, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Data containers of the binomial likelihood: ``y`` successes and ``n`` trials per cell."""
    return {
        f"{prefix}__y": np.asarray(obs["y"], dtype="int64"),
        f"{prefix}__n": np.asarray(obs["n"], dtype="int64"),
    }


def center(obs: dict[str, np.ndarray]) -> float:
    """Observed pooled log-odds (the intercept prior's centre), shrunk away from 0 and 1."""
    y, n = float(np.sum(obs["y"])), float(np.sum(obs["n"]))
    p = (y + 0.5) / (n + 1.0)
    return float(np.log(p / (1 - p)))


def build(block: Any, data: dict[str, Any]) -> None:
    """Add one binomial metric to the current PyMC model."""
    import pymc as pm

    p = block.prefix
    eta = block_predictor(block, data)
    pm.Potential(f"{p}_loglik", loglik(eta, data, p))


def loglik(eta: Any, data: dict[str, Any], prefix: str) -> Any:
    """Binomial log-likelihood with logit link, up to a constant."""
    import pytensor.tensor as pt

    from qmsprint.models.kernels import weighted_softplus

    # sum n softplus(eta) and its gradient n sigmoid(eta) in one vectorised pass (.kernels)
    return pt.dot(data[f"{prefix}__y"], eta) - weighted_softplus(eta, data[f"{prefix}__n"])


def initial_point(block: Any) -> dict[str, np.ndarray]:
    """No special starting values."""
    return {}


def parameters(prefix: str) -> list[str]:
    """Family-specific parameters behind the effects."""
    return [f"{prefix}_intercept"]


def rate(eta: np.ndarray) -> np.ndarray:
    """Success probability from the latent predictor."""
    return expit(eta)


def information(y: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Fisher information about each unit's log-odds, ``n p (1 - p)`` at the pooled rate."""
    p = (np.sum(y) + 0.5) / (np.sum(n) + 1.0)
    return np.asarray(n, float) * p * (1 - p)


class Binomial(Family):
    """Logit link on successes / trials (statistic column: the successes)."""

    name = "binomial"
    default_priors = {
        "effect_sd": 1.0,  # treatment effect, log-odds (1.0 ~ +-20 pp around 50%)
        "intercept_sd": 2.5,  # around the observed overall log-odds
        "unit_sd": 0.5,  # half-normal scale of the sd of agent effects
        "team_sd": 0.3,  # half-normal scales of the sds of team and site effects
        "site_sd": 0.3,
        "team_period_sd": 0.3,  # unit x period shocks: a change of 0.2 (0.15 per period) is at the median
        "site_period_sd": 0.3,
        "unit_period_sd": 0.2,
        "adjust_sd": 1.0,  # channel / contact-reason effects
        "segment_sd": 0.25,  # sd of treatment x segment deviations (fixed scale)
        "group_sd": 1.0,  # DiD baseline group difference
        "baseline_sd": 1.0,  # slope on each unit's baseline level (A/B with a baseline)
        "period_sd": 1.0,  # DiD period shock
    }
    typical_unit_sd = 0.3
    keys = ("rate",)

    def observed(self, n: np.ndarray, stats: np.ndarray) -> dict[str, np.ndarray]:
        """Observed sufficient statistics from the cell columns (see :class:`.base.Family`)."""
        return {"y": np.asarray(stats)[:, 0], "n": np.asarray(n)}

    def unit_information(self, obs: dict[str, np.ndarray], per_unit_n: np.ndarray) -> np.ndarray:
        """Fisher information about each unit's latent level."""
        return information(obs["y"], per_unit_n)

    def group_estimates(
        self, obs: dict[str, np.ndarray], index: np.ndarray, n_groups: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per group: one scoring step from the pooled rate, ``(y - n p) / (n p (1 - p))``, and its variance."""
        n = np.bincount(index, weights=np.asarray(obs["n"], float), minlength=n_groups)
        y = np.bincount(index, weights=np.asarray(obs["y"], float), minlength=n_groups)
        p = (np.sum(obs["y"]) + 0.5) / (np.sum(obs["n"]) + 1.0)
        info = n * p * (1 - p)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(info > 0, (y - n * p) / info, np.nan), np.where(info > 0, 1.0 / info, np.inf)

    def block_data(self, prefix: str, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Data containers of the likelihood."""
        return block_data(prefix, obs)

    def center(self, obs: dict[str, np.ndarray]) -> float:
        """Centre of the intercept prior."""
        return center(obs)

    def build(self, block: Any, data: dict[str, Any]) -> None:
        """Add one block to the current PyMC model."""
        build(block, data)

    def parameters(self, prefix: str) -> list[str]:
        """Family-specific parameters behind the effects."""
        return parameters(prefix)

    def cell_values(
        self,
        eta: np.ndarray,
        params: Mapping[str, np.ndarray],
        keys: tuple[str, ...],
        form: Callable[[str], CumulativeForm],
    ) -> dict[str, np.ndarray]:
        """``rate``: the success probability in percent."""
        return {"rate": 100.0 * rate(eta)}

    def ppc(
        self,
        eta: np.ndarray,
        params: Mapping[str, np.ndarray],
        obs: dict[str, np.ndarray],
        masks: list[np.ndarray],
        rng: np.random.Generator,
    ) -> list[list[PPCRow]]:
        """Success rate (%) per group: observed, and from binomial replicates of every cell."""
        y, n = obs["y"], obs["n"]
        reps = rng.binomial(np.broadcast_to(n, eta.shape), rate(eta))
        return [
            [(None, float(100 * y[mask].sum() / n[mask].sum()), 100 * reps[:, mask].sum(1) / n[mask].sum())]
            for mask in masks
        ]


FAMILY = Binomial()
