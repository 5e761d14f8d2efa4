"""Intervals and small distribution helpers."""

from __future__ import annotations

import math

import numpy as np


def hdi(draws: np.ndarray, prob: float) -> tuple[float, float]:
    """Highest-density interval of 1-d draws: the shortest interval holding ``prob`` of them.

    Non-finite draws are dropped; an empty sample gives ``(nan, nan)``. Equal to ArviZ's
    ``az.hdi`` on a 1-d sample (same shortest-window rule), without its overhead.
    """
    x = np.sort(np.asarray(draws, dtype=float).ravel())
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return float("nan"), float("nan")
    if n == 1:
        return float(x[0]), float(x[0])
    k = max(1, min(n - 1, int(math.floor(prob * n))))
    widths = x[k:] - x[: n - k]
    i = int(np.argmin(widths))
    return float(x[i]), float(x[i + k])


def discretized_normal_shares(mean: float, sd: float, lo: int, hi: int) -> np.ndarray:
    """Level shares of a latent normal cut at the midpoints of ``lo..hi``, matching ``mean`` and ``sd``.

    The latent mean and sd are solved so that the discrete distribution on the levels has the
    given mean and standard deviation (least squares).
    """
    from scipy import optimize, stats

    levels = np.arange(lo, hi + 1, dtype=float)
    edges = (levels[:-1] + levels[1:]) / 2

    def shares(p: np.ndarray) -> np.ndarray:
        cdf = stats.norm.cdf((edges - p[0]) / np.exp(p[1]))
        return np.diff(np.concatenate([[0.0], cdf, [1.0]]))

    def loss(p: np.ndarray) -> np.ndarray:
        s = shares(p)
        mu = s @ levels
        return np.array([mu - mean, math.sqrt(max(1e-12, s @ levels**2 - mu**2)) - sd])

    res = optimize.least_squares(loss, x0=[mean, math.log(sd)])
    return shares(res.x)


def ordinal_exceedance(eta: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Cumulative-logit ``P(y > level k) = expit(eta - c_k)`` for each cutpoint: shape ``eta.shape + (K - 1,)``."""
    from scipy.special import expit

    return expit(np.asarray(eta, dtype=float)[..., None] - np.asarray(cuts, dtype=float))


def ordinal_probs(eta: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Cumulative-logit level probabilities ``P(y = k)``: shape ``eta.shape + (K,)``."""
    cum = 1.0 - ordinal_exceedance(eta, cuts)  # P(y <= k)
    ones = np.ones(cum.shape[:-1] + (1,))
    return np.diff(np.concatenate([0 * ones, cum, ones], axis=-1), axis=-1).clip(0, 1)
