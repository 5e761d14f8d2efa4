"""Binary outcomes (FCR, repeat contact): binomial with logit link on (successes, trials) per cell.

The log-likelihood is ``sum_c y_c eta_c - n_c log(1 + exp(eta_c))``: ``pm.Binomial``'s without the
constant binomial coefficient, which would otherwise be recomputed at every gradient.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit

from qmsprint.models.terms import linear_predictor


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
    eta = linear_predictor(
        p,
        block.design,
        data,
        block.priors,
        centred=block.centred,
        intercept=True,
        **block.effect_args(data),
        center=data[f"{p}__center"],
    )
    pm.Potential(f"{p}_loglik", loglik(eta, data, p))


def loglik(eta: Any, data: dict[str, Any], prefix: str) -> Any:
    """Binomial log-likelihood with logit link, up to a constant."""
    import pytensor.tensor as pt

    # softplus(eta) = max(eta, 0) + log1p(exp(-|eta|)): stable, and its gradient reuses the exp
    # (faster here than pytensor's softplus, whose gradient computes a separate sigmoid)
    softplus = pt.maximum(eta, 0.0) + pt.log1p(pt.exp(-pt.abs(eta)))
    return pt.sum(data[f"{prefix}__y"] * eta - data[f"{prefix}__n"] * softplus)


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
