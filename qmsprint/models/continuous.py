"""Handle time: lognormal with an exact likelihood from per-cell sufficient statistics.

For a cell with ``n`` interactions, ``S1 = sum(log t)`` and ``S2 = sum(log t ^ 2)``, the lognormal
log-likelihood (up to the constant Jacobian ``-sum(log t)``) is::

    -n log(sigma) - (SS + n (ybar - eta)^2) / (2 sigma^2),   ybar = S1 / n,  SS = S2 - S1^2 / n

which is exactly the row-by-row likelihood. It enters the model as ``pm.Potential`` (so the
posterior predictive check is done by hand in :func:`replicate_mean`). The mean handle time of a
cell is ``exp(eta + sigma^2 / 2)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from qmsprint.models.base import CumulativeForm, Family, PPCRow
from qmsprint.models.terms import block_predictor


def block_data(prefix: str, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Data containers: ``n``, ``ybar`` (mean log time) and ``ss`` (within-cell sum of squares)."""
    n = np.asarray(obs["n"], dtype="float64")
    s1 = np.asarray(obs["s1"], dtype="float64")
    s2 = np.asarray(obs["s2"], dtype="float64")
    ybar = s1 / n
    ss = np.maximum(s2 - s1 * ybar, 0.0)
    return {f"{prefix}__n": n, f"{prefix}__ybar": ybar, f"{prefix}__ss": ss}


def center(obs: dict[str, np.ndarray]) -> float:
    """Observed mean log handle time (the intercept prior's centre)."""
    return float(np.sum(obs["s1"]) / np.sum(obs["n"]))


def pooled_var(obs: dict[str, np.ndarray]) -> float:
    """Observed variance of log handle time."""
    n, s1, s2 = (float(np.sum(obs[k])) for k in ("n", "s1", "s2"))
    return max((s2 - s1 * s1 / n) / max(n - 1, 1.0), 1e-6)


def build(block: Any, data: dict[str, Any]) -> None:
    """Add the handle-time metric to the current PyMC model."""
    import pymc as pm
    import pytensor.tensor as pt

    p = block.prefix
    eta = block_predictor(block, data)
    sigma = pm.HalfNormal(f"{p}_sigma", block.priors["sigma_sd"])
    n, ybar, ss = data[f"{p}__n"], data[f"{p}__ybar"], data[f"{p}__ss"]
    loglik = -pt.sum(n) * pt.log(sigma) - pt.sum(ss + n * (ybar - eta) ** 2) / (2 * sigma**2)
    pm.Potential(f"{p}_loglik", loglik)


def parameters(prefix: str) -> list[str]:
    """Family-specific parameters behind the effects."""
    return [f"{prefix}_intercept", f"{prefix}_sigma"]


def mean_time(eta: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Mean handle time in seconds, ``exp(eta + sigma^2 / 2)``; ``sigma`` broadcasts over cells."""
    return np.exp(eta + 0.5 * sigma**2)


def replicate_mean(eta: np.ndarray, sigma: np.ndarray, n: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Replicated total handle time per cell (normal approximation to a sum of ``n`` lognormals)."""
    m = np.exp(eta + 0.5 * sigma**2)
    v = (np.exp(sigma**2) - 1.0) * np.exp(2 * eta + sigma**2)
    return rng.normal(n * m, np.sqrt(n * v))


def information(n: np.ndarray, var: float) -> np.ndarray:
    """Fisher information about each unit's mean log time, ``n / sigma^2``."""
    return np.asarray(n, float) / var


def initial_point(block: Any) -> dict[str, np.ndarray]:
    """No special starting values."""
    return {}


class Continuous(Family):
    """Lognormal on per-cell sums (statistic columns: sum of log values, sum of their squares, sum of values)."""

    name = "continuous"
    default_priors = {
        "effect_sd": 0.5,  # log-seconds: 0.5 ~ +-65%
        "intercept_sd": 1.5,  # around the observed mean log value
        "sigma_sd": 1.0,  # half-normal scale of the sd of log values
        "unit_sd": 0.3,
        "team_sd": 0.2,
        "site_sd": 0.2,
        "team_period_sd": 0.1,
        "site_period_sd": 0.1,
        "unit_period_sd": 0.1,
        "adjust_sd": 0.5,
        "segment_sd": 0.1,
        "group_sd": 0.5,
        "baseline_sd": 1.0,  # slope on each unit's baseline level (A/B with a baseline)
        "period_sd": 0.5,
    }
    typical_unit_sd = 0.1
    cell_parameters = ("sigma",)
    keys = ("mean",)
    signed_statistics = True

    def observed(self, n: np.ndarray, stats: np.ndarray) -> dict[str, np.ndarray]:
        """Observed sufficient statistics from the cell columns (see :class:`.base.Family`)."""
        stats = np.asarray(stats)
        s1, s2, total = (np.ascontiguousarray(stats[:, i]) for i in range(3))
        return {"n": np.asarray(n), "s1": s1, "s2": s2, "sum": total}

    def unit_information(self, obs: dict[str, np.ndarray], per_unit_n: np.ndarray) -> np.ndarray:
        """Fisher information about each unit's latent level."""
        return information(per_unit_n, pooled_var(obs))

    def group_estimates(
        self, obs: dict[str, np.ndarray], index: np.ndarray, n_groups: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per group: mean log value (minus the pooled one) and its sampling variance ``sigma^2 / n``."""
        n = np.bincount(index, weights=obs["n"], minlength=n_groups)
        s1 = np.bincount(index, weights=obs["s1"], minlength=n_groups)
        pooled = np.sum(obs["s1"]) / np.sum(obs["n"])
        with np.errstate(divide="ignore", invalid="ignore"):
            est = np.where(n > 0, s1 / n - pooled, np.nan)
            var = np.where(n > 0, pooled_var(obs) / n, np.inf)
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
        return parameters(prefix)

    def cell_values(
        self,
        eta: np.ndarray,
        params: Mapping[str, np.ndarray],
        keys: tuple[str, ...],
        form: Callable[[str], CumulativeForm],
    ) -> dict[str, np.ndarray]:
        """``mean``: the mean value of each cell, ``exp(eta + sigma^2 / 2)``."""
        return {"mean": mean_time(eta, params["sigma"][:, None])}

    def ppc(
        self,
        eta: np.ndarray,
        params: Mapping[str, np.ndarray],
        obs: dict[str, np.ndarray],
        masks: list[np.ndarray],
        rng: np.random.Generator,
    ) -> list[list[PPCRow]]:
        """Mean value per group: observed, and from replicated cell totals."""
        n = obs["n"].astype(float)
        tot = replicate_mean(eta, params["sigma"][:, None], n[None, :], rng)
        total = obs["sum"]
        return [
            [(None, float(total[mask].sum() / n[mask].sum()), tot[:, mask].sum(1) / n[mask].sum())] for mask in masks
        ]


FAMILY = Continuous()
