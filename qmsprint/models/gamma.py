"""Positive skewed measures (handle time): gamma with log link, exact likelihood from cell sums.

With mean ``mu_c = exp(eta_c)`` and shape ``a``, a cell of ``n`` values with ``S_t = sum t`` and
``S_log = sum log t`` has the log-likelihood (STACK.md)::

    n a log(a / mu) - n lgamma(a) + (a - 1) S_log - (a / mu) S_t

exactly the sum of the row-by-row gamma log-densities. The mean of a cell is ``exp(eta)``: the
effect on the mean is read off the linear predictor, not off a tail-dependent transform (a
lognormal's ``exp(eta + sigma^2 / 2)``). As a quasi-likelihood the score in ``eta`` is
``a (S_t / mu - n)``, zero where the fitted mean equals the observed mean, whatever the true
distribution of the values (skewed, shifted by a fixed step, mixtures): the mean effect stays
consistent (McCullagh & Nelder 1989, ch. 8). The shape ``a`` sets the width: it is estimated
from ``S_log``; when the within-cell variance of the values (from the cells' sums of squares)
differs from the gamma's ``mu^2 / a``, the likelihood is tempered by the ratio
(:func:`dispersion_factor`), so intervals keep the width the values' own variance gives them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from scipy.special import digamma, polygamma

from qmsprint.models.base import CumulativeForm, Family, PPCRow
from qmsprint.models.terms import block_predictor


def shape_estimate(obs: dict[str, np.ndarray]) -> float:
    """Maximum-likelihood gamma shape given each cell's mean (Newton on ``log a - psi(a) = s``).

    ``s`` is the pooled ``log(mean) - mean(log)`` within cells (weights n).
    """
    n = np.asarray(obs["n"], float)
    ok = n > 0
    s = float(np.sum(n[ok] * np.log(obs["sum"][ok] / n[ok]) - obs["slog"][ok]) / max(np.sum(n[ok]), 1.0))
    n_tot = np.sum(n[ok])
    n_cells = int(ok.sum())
    # the cell means use one degree of freedom each: scale s up to the within-cell information
    s = s * n_tot / max(n_tot - n_cells, 1.0)
    if not np.isfinite(s) or s <= 1e-8:
        return 1e4
    a = (3 - s + np.sqrt((s - 3) ** 2 + 24 * s)) / (12 * s)  # Minka's start
    for _ in range(20):
        step = (np.log(a) - digamma(a) - s) / (1 / a - polygamma(1, a))
        a = max(a - step, 1e-3)
    return float(a)


def within_cv2(obs: dict[str, np.ndarray]) -> float | None:
    """Pooled within-cell squared coefficient of variation from the sums of squares (None without them)."""
    if "sumsq" not in obs:
        return None
    n = np.asarray(obs["n"], float)
    ok = n >= 2
    if not ok.any():
        return None
    mean = obs["sum"][ok] / n[ok]
    ss = np.maximum(obs["sumsq"][ok] - obs["sum"][ok] * mean, 0.0)
    return float(np.sum(ss / mean**2) / np.sum(n[ok] - 1))


TEMPER_RANGE = (0.1, 3.0)


def dispersion_factor(obs: dict[str, np.ndarray]) -> float:
    """Likelihood temperature ``(1 / a) / CV^2``: the gamma's variance over the values' (1 on gamma data).

    ``a`` from :func:`shape_estimate`, ``CV^2`` from :func:`within_cv2`. Tempering the
    log-likelihood by it gives the posterior of the mean the quasi-likelihood (sandwich) width
    ``CV^2 / n`` when the values are not gamma: below 1 (wider) for heavy tails and mixtures,
    above 1 for values with a fixed step added. Clipped to :data:`TEMPER_RANGE`.
    """
    cv2 = within_cv2(obs)
    if cv2 is None or not cv2 > 0:
        return 1.0
    return float(np.clip((1.0 / shape_estimate(obs)) / cv2, *TEMPER_RANGE))


def block_data(prefix: str, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Data containers: ``n``, ``sum`` (of values), ``slog`` (sum of their logs) per cell, and the temperature."""
    return {
        f"{prefix}__n": np.asarray(obs["n"], dtype="float64"),
        f"{prefix}__sum": np.asarray(obs["sum"], dtype="float64"),
        f"{prefix}__slog": np.asarray(obs["slog"], dtype="float64"),
        f"{prefix}__temper": np.asarray(dispersion_factor(obs)),
    }


def center(obs: dict[str, np.ndarray]) -> float:
    """Log of the observed mean (the intercept prior's centre)."""
    return float(np.log(np.sum(obs["sum"]) / np.sum(obs["n"])))


# Stirling's series for log Gamma(z): coefficients of 1/z, 1/z^3, ... (B_2k / (2k (2k - 1)))
_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188)
_SHIFT = 8


def log_gamma(a: Any) -> Any:
    """``log Gamma(a)`` for ``a > 0`` from logs and divisions only (relative error below 1e-12).

    ``log Gamma(a) = log Gamma(a + 8) - sum_{j<8} log(a + j)``, and Stirling's series at
    ``z = a + 8 >= 8`` (five terms). PyTensor's ``gammaln`` is exact too, but its gradient is
    ``digamma``, which the numba backend calls from SciPy by address: a model using it cannot be
    kept in the compiled-model cache and is compiled again in every process.
    """
    import pytensor.tensor as pt

    z = a + _SHIFT
    inv = 1.0 / z
    inv2 = inv * inv
    series = 0.0
    for c in reversed(_STIRLING):
        series = series * inv2 + c
    shift = sum(pt.log(a + j) for j in range(_SHIFT))
    return (z - 0.5) * pt.log(z) - z + 0.5 * np.log(2 * np.pi) + series * inv - shift


def loglik(eta: Any, shape: Any, data: dict[str, Any], prefix: str) -> Any:
    """Gamma log-likelihood of every cell from its sums (module docstring), summed."""
    import pytensor.tensor as pt

    p = prefix
    n, total, slog = data[f"{p}__n"], data[f"{p}__sum"], data[f"{p}__slog"]
    n_all = pt.sum(n)
    kernel = pt.sum(n * eta + total * pt.exp(-eta))
    return n_all * (shape * pt.log(shape) - log_gamma(shape)) + (shape - 1) * pt.sum(slog) - shape * kernel


def build(block: Any, data: dict[str, Any]) -> None:
    """Add one gamma metric to the current PyMC model."""
    import pymc as pm

    p = block.prefix
    eta = block_predictor(block, data)
    # log-normal prior on the shape around 1 (exponential-like), wide: 95% between 0.14 and 7
    shape = pm.LogNormal(f"{p}_shape", 0.0, block.priors["shape_sd"])
    pm.Potential(f"{p}_loglik", data[f"{p}__temper"] * loglik(eta, shape, data, p))


def parameters(prefix: str) -> list[str]:
    """Family-specific parameters behind the effects."""
    return [f"{prefix}_intercept", f"{prefix}_shape"]


def initial_point(block: Any) -> dict[str, np.ndarray]:
    """Start the shape at its estimate (log scale), so that warm-up begins near the mode."""
    return {f"{block.prefix}_shape": np.asarray(shape_estimate(block.obs))}


class Gamma(Family):
    """Log-link gamma on per-cell sums (statistic columns: sum of values, sum of their logs[, sum of squares])."""

    name = "gamma"
    default_priors = {
        "effect_sd": 0.5,  # log of the mean: 0.5 ~ +-65%
        "intercept_sd": 1.5,  # around the log of the observed mean
        "shape_sd": 1.5,  # log-normal scale of the gamma shape
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
    typical_unit_sd = 0.1
    keys = ("mean",)
    cell_parameters = ("shape",)

    def observed(self, n: np.ndarray, stats: np.ndarray) -> dict[str, np.ndarray]:
        """``n``, ``sum`` (of values), ``slog`` (of their logs) and, with a third column, ``sumsq``."""
        stats = np.asarray(stats, dtype="float64")
        out = {"n": np.asarray(n, dtype="float64"), "sum": stats[:, 0].copy(), "slog": stats[:, 1].copy()}
        if stats.shape[1] > 2:
            out["sumsq"] = stats[:, 2].copy()
        return out

    def unit_information(self, obs: dict[str, np.ndarray], per_unit_n: np.ndarray) -> np.ndarray:
        """Fisher information about each unit's log mean, ``n a``."""
        return np.asarray(per_unit_n, float) * shape_estimate(obs) * dispersion_factor(obs)

    def group_estimates(
        self, obs: dict[str, np.ndarray], index: np.ndarray, n_groups: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per group: log of its mean (minus the pooled one) and its sampling variance ``1 / (n a)``."""
        n = np.bincount(index, weights=obs["n"], minlength=n_groups)
        s = np.bincount(index, weights=obs["sum"], minlength=n_groups)
        pooled = np.sum(obs["sum"]) / np.sum(obs["n"])
        with np.errstate(divide="ignore", invalid="ignore"):
            est = np.where(n > 0, np.log(np.maximum(s, 1e-300) / np.maximum(n, 1e-300)) - np.log(pooled), np.nan)
            var = np.where(n > 0, 1.0 / (n * shape_estimate(obs) * dispersion_factor(obs)), np.inf)
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

    def initial_point(self, block: Any) -> dict[str, np.ndarray]:
        """Starting values of the sampler."""
        return initial_point(block)

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
        """``mean``: the mean value of each cell, ``exp(eta)``."""
        return {"mean": np.exp(eta)}

    def ppc(
        self,
        eta: np.ndarray,
        params: Mapping[str, np.ndarray],
        obs: dict[str, np.ndarray],
        masks: list[np.ndarray],
        rng: np.random.Generator,
    ) -> list[list[PPCRow]]:
        """Mean value per group: observed, and from replicated cell totals (a sum of gammas is a gamma)."""
        n = obs["n"].astype(float)
        a = params["shape"][:, None]
        mu = np.exp(eta)
        tot = rng.gamma(np.maximum(n[None, :] * a, 1e-12), mu / a)
        total = obs["sum"]
        return [
            [(None, float(total[mask].sum() / n[mask].sum()), tot[:, mask].sum(1) / n[mask].sum())] for mask in masks
        ]


FAMILY = Gamma()
