"""Counts per interaction (products sold, follow-ups): negative binomial with log link, from cell sums.

With mean ``mu_c = exp(eta_c)`` per interaction and shape ``r`` (variance ``mu + mu^2 / r``), the
sum ``S_c`` of a cell's ``n_c`` independent counts is negative binomial with mean ``n_c mu_c`` and
shape ``n_c r``: its log-likelihood is, up to a constant,

    S_c eta_c - (n_c r + S_c) log(r + exp(eta_c))

exactly the distribution of the cell sum (:func:`loglik`; :func:`pymc.NegativeBinomial` on the sums
gives the same posterior). The over-dispersion ``1 / r`` is read from the counts themselves: the
within-cell variance (from each cell's sum of squares) against the cell mean, pooled by the
method of moments (:func:`dispersion`); a cell sum alone says little about it, and the agent
effects would absorb it. For a fixed ``r`` the score in ``eta`` is zero where the fitted mean
equals the observed one, so the mean effect stays consistent when the counts are not negative
binomial; ``r`` near infinity is the Poisson model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from qmsprint.models.base import CumulativeForm, Family, PPCRow
from qmsprint.models.terms import block_predictor

MAX_SHAPE = 1e6  # shape used when the counts show no over-dispersion (Poisson limit)


def dispersion(obs: dict[str, np.ndarray]) -> float:
    """Method-of-moments over-dispersion ``1 / r`` from the cells' within-cell variance (0: Poisson).

    ``sum_c (n_c - 1) (s2_c - m_c) / sum_c (n_c - 1) m_c^2`` over cells with at least two counts,
    with ``m_c`` and ``s2_c`` the cell's mean and variance; 0 without such cells or sums of squares.
    """
    if "sumsq" not in obs:
        return 0.0
    n = np.asarray(obs["n"], float)
    ok = n >= 2
    if not ok.any():
        return 0.0
    m = obs["sum"][ok] / n[ok]
    s2 = np.maximum(obs["sumsq"][ok] - obs["sum"][ok] * m, 0.0) / (n[ok] - 1)
    den = float(np.sum((n[ok] - 1) * m**2))
    if den <= 0:
        return 0.0
    return max(0.0, float(np.sum((n[ok] - 1) * (s2 - m)) / den))


def shape(obs: dict[str, np.ndarray]) -> float:
    """Shape ``r`` of the per-interaction negative binomial (``MAX_SHAPE`` without over-dispersion)."""
    phi = dispersion(obs)
    return float(min(MAX_SHAPE, 1.0 / phi)) if phi > 1.0 / MAX_SHAPE else MAX_SHAPE


def pooled_mean(obs: dict[str, np.ndarray]) -> float:
    """Pooled mean count per interaction, kept off zero."""
    return float((np.sum(obs["sum"]) + 0.5) / (np.sum(obs["n"]) + 1.0))


def block_data(prefix: str, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Data containers: ``n`` and ``sum`` per cell, and the shape ``r``."""
    return {
        f"{prefix}__n": np.asarray(obs["n"], dtype="float64"),
        f"{prefix}__sum": np.asarray(obs["sum"], dtype="float64"),
        f"{prefix}__shape": np.asarray(shape(obs)),
    }


def center(obs: dict[str, np.ndarray]) -> float:
    """Log of the pooled mean count (the intercept prior's centre)."""
    return float(np.log(pooled_mean(obs)))


def loglik(eta: Any, data: dict[str, Any], prefix: str) -> Any:
    """Negative binomial log-likelihood of every cell sum (module docstring), up to a constant."""
    import pytensor.tensor as pt

    p = prefix
    n, total, r = data[f"{p}__n"], data[f"{p}__sum"], data[f"{p}__shape"]
    return pt.sum(total * eta - (n * r + total) * pt.logaddexp(pt.log(r), eta))


def build(block: Any, data: dict[str, Any]) -> None:
    """Add one counts metric to the current PyMC model."""
    import pymc as pm

    p = block.prefix
    eta = block_predictor(block, data)
    pm.Potential(f"{p}_loglik", loglik(eta, data, p))


def information(obs: dict[str, np.ndarray], per_unit_n: np.ndarray) -> np.ndarray:
    """Fisher information about each unit's log mean: ``n mu r / (r + mu)`` at the pooled mean."""
    mu, r = pooled_mean(obs), shape(obs)
    return np.asarray(per_unit_n, float) * mu * r / (r + mu)


class Counts(Family):
    """Log-link negative binomial on per-cell sums (statistic columns: sum of counts, sum of their squares)."""

    name = "counts"
    default_priors = {
        "effect_sd": 0.5,  # log of the mean: 0.5 ~ +-65%
        "intercept_sd": 2.0,  # around the log of the observed mean
        "unit_sd": 0.3,  # half-normal scales of the sds of agent, team, site effects (log scale)
        "team_sd": 0.2,
        "site_sd": 0.2,
        "team_period_sd": 0.1,  # unit x period shocks
        "site_period_sd": 0.1,
        "unit_period_sd": 0.1,
        "adjust_sd": 0.5,
        "segment_sd": 0.1,
        "group_sd": 0.5,
        "baseline_sd": 1.0,  # slope on each unit's baseline level (A/B with a baseline)
        "period_sd": 0.5,
    }
    typical_unit_sd = 0.2
    keys = ("mean",)

    def observed(self, n: np.ndarray, stats: np.ndarray) -> dict[str, np.ndarray]:
        """``n``, ``sum`` (of counts) and, with a second column, ``sumsq``."""
        stats = np.asarray(stats, dtype="float64")
        out = {"n": np.asarray(n, dtype="float64"), "sum": stats[:, 0].copy()}
        if stats.shape[1] > 1:
            out["sumsq"] = stats[:, 1].copy()
        return out

    def unit_information(self, obs: dict[str, np.ndarray], per_unit_n: np.ndarray) -> np.ndarray:
        """Fisher information about each unit's log mean."""
        return information(obs, per_unit_n)

    def group_estimates(
        self, obs: dict[str, np.ndarray], index: np.ndarray, n_groups: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per group: log of its mean (minus the pooled one) and its sampling variance."""
        n = np.bincount(index, weights=obs["n"], minlength=n_groups)
        s = np.bincount(index, weights=obs["sum"], minlength=n_groups)
        mu, r = pooled_mean(obs), shape(obs)
        with np.errstate(divide="ignore", invalid="ignore"):
            est = np.where(n > 0, np.log((s + 0.5) / (n + 1.0)) - np.log(mu), np.nan)
            var = np.where(n > 0, 1.0 / (n * mu * r / (r + mu)), np.inf)
        return est, var

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
        return [f"{prefix}_intercept"]

    def cell_values(
        self,
        eta: np.ndarray,
        params: Mapping[str, np.ndarray],
        keys: tuple[str, ...],
        form: Callable[[str], CumulativeForm],
    ) -> dict[str, np.ndarray]:
        """``mean``: the mean count per interaction of each cell, ``exp(eta)``."""
        return {"mean": np.exp(eta)}

    def ppc(
        self,
        eta: np.ndarray,
        params: Mapping[str, np.ndarray],
        obs: dict[str, np.ndarray],
        masks: list[np.ndarray],
        rng: np.random.Generator,
    ) -> list[list[PPCRow]]:
        """Mean count per group: observed, and from negative binomial replicates of every cell sum."""
        n = obs["n"].astype(float)
        r = shape(obs)
        mu = np.exp(eta) * n[None, :]
        big = n[None, :] * r
        ok = n[None, :] > 0
        reps = np.where(ok, rng.negative_binomial(np.maximum(big, 1e-12), big / (big + np.maximum(mu, 1e-300))), 0)
        total = obs["sum"]
        return [
            [(None, float(total[mask].sum() / n[mask].sum()), reps[:, mask].sum(1) / n[mask].sum())] for mask in masks
        ]


FAMILY = Counts()
