"""Ordinal outcomes (CSAT, NPS): cumulative logit with ordered cutpoints, on level counts per cell.

``P(Y <= k | cell c) = logistic(cut_k - eta_c)``; ``eta_c`` from :func:`.terms.linear_predictor`
without an intercept. The likelihood is the multinomial of the level counts of each cell (the
``pm.OrderedMultinomial`` log-likelihood without its constant multinomial coefficient), written
so that it costs one log-sigmoid per cell and cutpoint with data next to it. With
``sigma(x) = 1 / (1 + exp(-x))`` and ``D_cj = cut_j - eta_c``, the level probabilities are
``p_0 = sigma(D_0)``, ``p_K-1 = sigma(-D_K-2)`` and, for middle levels,
``p_k = sigma(D_k) - sigma(D_k-1) = sigma(D_k) sigma(-D_k-1) (1 - exp(cut_k-1 - cut_k))``, so::

    log L = sum_cj (n_cj + n_c,j+1) log sigma(D_cj) - sum_cj n_c,j+1 D_cj
            + sum_k N_k log(1 - exp(cut_k-1 - cut_k))            (k = middle levels)

where ``n_ck`` are the counts and ``N_k`` their column totals. Only the (cell, cutpoint) pairs with
``n_cj + n_c,j+1 > 0`` enter the first sum (about half of them for NPS's 11 levels).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit

from qmsprint.models.terms import linear_predictor


def block_data(prefix: str, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Data containers of the ordinal likelihood (:func:`pair_data` of the counts)."""
    return {f"{prefix}__{k}": v for k, v in pair_data(np.asarray(obs["counts"], dtype="int64")).items()}


def pair_data(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Arrays of :func:`loglik` for level counts (cells x levels).

    ``pair_cell`` / ``pair_cut`` index the (cell, cutpoint) pairs with data, ``pair_w`` is their
    ``n_cj + n_c,j+1``; ``upper_cell`` and ``upper_cut`` are the sums of ``n_c,j+1`` per cell and
    per cutpoint; ``middle`` the totals of the middle levels.
    """
    counts = np.asarray(counts, dtype="int64")
    both = counts[:, :-1] + counts[:, 1:]
    cell, cut = np.nonzero(both)
    upper = counts[:, 1:].astype("float64")
    return {
        "pair_cell": cell.astype("int64"),
        "pair_cut": cut.astype("int64"),
        "pair_w": both[cell, cut].astype("float64"),
        "upper_cell": upper.sum(axis=1),
        "upper_cut": upper.sum(axis=0),
        "middle": counts[:, 1:-1].sum(axis=0).astype("float64"),
    }


def initial_point(block: Any) -> dict[str, np.ndarray]:
    """Start the cutpoints spread over the latent scale (equal cutpoints are outside the support)."""
    return {f"{block.prefix}_cut": np.linspace(-2.0, 2.0, block.obs["counts"].shape[1] - 1)}


def loglik(eta: Any, cut: Any, data: dict[str, Any], prefix: str) -> Any:
    """Multinomial log-likelihood of the level counts, up to a constant (module docstring)."""
    import pytensor.tensor as pt

    p = prefix
    # log sigma(cut_j - eta_c) = -log1p(exp(eta_c) exp(-cut_j)): one log per pair, the exps are
    # per cell and per cutpoint (exact unless |eta| or |cut| exceed ~700 on the log-odds scale,
    # where the likelihood is -inf for all practical purposes)
    prod = pt.exp(eta)[data[f"{p}__pair_cell"]] * pt.exp(-cut)[data[f"{p}__pair_cut"]]
    ll = -pt.sum(data[f"{p}__pair_w"] * pt.log1p(prod))
    ll = ll - pt.dot(data[f"{p}__upper_cut"], cut) + pt.dot(data[f"{p}__upper_cell"], eta)
    return ll + pt.sum(data[f"{p}__middle"] * pt.log1mexp(cut[:-1] - cut[1:]))


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
    cut = pm.Normal(
        f"{p}_cut",
        mu=0.0,
        sigma=block.priors["cutpoint_sd"],
        shape=n_levels - 1,
        transform=pm.distributions.transforms.ordered,
    )
    pm.Potential(f"{p}_loglik", loglik(eta, cut, data, p))


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
