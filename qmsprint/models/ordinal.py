"""Ordinal outcomes (CSAT, NPS): cumulative logit with ordered cutpoints, on level counts per cell.

``P(Y <= k | cell c) = logistic(cut_k - eta_c)``; ``eta_c`` from :func:`.terms.linear_predictor`
without an intercept. The likelihood is ``pm.OrderedMultinomial`` on the level counts of each cell.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit

from qmsprint.models.terms import linear_predictor


def block_data(prefix: str, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Data containers of the ordinal likelihood: ``counts`` (cells x levels) and ``n``."""
    counts = np.asarray(obs["counts"], dtype="int64")
    return {f"{prefix}__counts": counts, f"{prefix}__n": counts.sum(axis=1)}


def build(block: Any, data: dict[str, Any]) -> None:
    """Add one ordinal metric to the current PyMC model."""
    import pymc as pm

    p = block.prefix
    n_levels = block.obs["counts"].shape[1]
    eta = linear_predictor(
        p,
        block.design,
        data,
        block.priors,
        centred=block.centred,
        intercept=False,
        **block.effect_args(data),
    )
    init = np.linspace(-2.0, 2.0, n_levels - 1)
    cut = pm.Normal(
        f"{p}_cut",
        mu=0.0,
        sigma=block.priors["cutpoint_sd"],
        shape=n_levels - 1,
        transform=pm.distributions.transforms.ordered,
        initval=init,
    )
    pm.OrderedMultinomial(f"{p}_obs", eta=eta, cutpoints=cut, n=data[f"{p}__n"], observed=data[f"{p}__counts"])


def parameters(prefix: str) -> list[str]:
    """Family-specific parameters behind the effects."""
    return [f"{prefix}_cut"]


def level_probs(eta: np.ndarray, cut: np.ndarray) -> np.ndarray:
    """Level probabilities.

    Parameters
    ----------
    eta
        Latent predictor, shape (draws, cells).
    cut
        Cutpoints, shape (draws, levels - 1).

    Returns
    -------
    np.ndarray
        Shape (draws, cells, levels).

    """
    cdf = expit(cut[:, None, :] - eta[:, :, None])
    d, c = eta.shape
    ones = np.ones((d, c, 1))
    zeros = np.zeros((d, c, 1))
    full = np.concatenate([zeros, cdf, ones], axis=2)
    return np.diff(full, axis=2)


def information(counts: np.ndarray) -> float:
    """Fisher information per observation about the location of a proportional-odds model.

    Whitehead (1993): ``(1 - sum_k pi_k^3) / 3`` with ``pi_k`` the level shares.
    """
    tot = counts.sum()
    if tot <= 0:
        return 0.0
    pi = counts.sum(axis=0) / tot
    return float((1.0 - np.sum(pi**3)) / 3.0)
