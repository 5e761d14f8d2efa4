"""Ordinal outcomes (CSAT, NPS): cumulative logit with ordered cutpoints, on level counts per cell.

``P(Y <= k | cell c) = logistic(cut_k - eta_c)``; ``eta_c`` from :func:`.terms.block_predictor`
without an intercept. The likelihood is the multinomial of the level counts of each cell (the
``pm.OrderedMultinomial`` log-likelihood without its constant multinomial coefficient), written
so that it costs one log-sigmoid per cell and cutpoint with data next to it (:mod:`.kernels`). With
``sigma(x) = 1 / (1 + exp(-x))`` and ``D_cj = cut_j - eta_c``, the level probabilities are
``p_0 = sigma(D_0)``, ``p_K-1 = sigma(-D_K-2)`` and, for middle levels,
``p_k = sigma(D_k) - sigma(D_k-1) = sigma(D_k) sigma(-D_k-1) (1 - exp(cut_k-1 - cut_k))``, so::

    log L = sum_cj (n_cj + n_c,j+1) log sigma(D_cj) - sum_cj n_c,j+1 D_cj
            + sum_k N_k log(1 - exp(cut_k-1 - cut_k))            (k = middle levels)

where ``n_ck`` are the counts and ``N_k`` their column totals. Only the (cell, cutpoint) pairs with
``n_cj + n_c,j+1 > 0`` enter the first sum (about half of them for NPS's 11 levels).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from scipy.special import expit

from qmsprint.models.base import CumulativeForm, Family, PPCRow
from qmsprint.models.terms import block_predictor


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

    from qmsprint.models.kernels import weighted_softplus_pairs

    p = prefix
    # log sigma(cut_j - eta_c) = -softplus(eta_c - cut_j): one vectorised pass over the pairs (.kernels)
    ll = -weighted_softplus_pairs(eta, cut, data[f"{p}__pair_cell"], data[f"{p}__pair_cut"], data[f"{p}__pair_w"])
    ll = ll - pt.dot(data[f"{p}__upper_cut"], cut) + pt.dot(data[f"{p}__upper_cell"], eta)
    return ll + pt.sum(data[f"{p}__middle"] * pt.log1mexp(cut[:-1] - cut[1:]))


def build(block: Any, data: dict[str, Any]) -> None:
    """Add one ordinal metric to the current PyMC model."""
    import pymc as pm

    p = block.prefix
    n_levels = block.obs["counts"].shape[1]
    eta = block_predictor(block, data)
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


class Ordinal(Family):
    """Cumulative logit on level counts (statistic columns: one count per level, in level order)."""

    name = "ordinal"
    intercept = False
    default_priors = {
        "effect_sd": 1.0,  # treatment effect, log-odds
        "cutpoint_sd": 3.0,
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
    cell_parameters = ("cut",)

    def observed(self, n: np.ndarray, stats: np.ndarray) -> dict[str, np.ndarray]:
        """Observed sufficient statistics from the cell columns (see :class:`.base.Family`)."""
        return {"counts": np.asarray(stats).astype("int64")}

    def unit_information(self, obs: dict[str, np.ndarray], per_unit_n: np.ndarray) -> np.ndarray:
        """Fisher information about each unit's latent level."""
        return per_unit_n * information(obs["counts"])

    def group_estimates(
        self, obs: dict[str, np.ndarray], index: np.ndarray, n_groups: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per group: one scoring step for a location shift from the pooled level shares, and its variance.

        With pooled cutpoints ``c_k = logit(P(Y <= k))`` and logistic density ``f``, a level-``k``
        answer scores ``s_k = (f(c_k-1) - f(c_k)) / pi_k``; a group's estimate is ``sum n_k s_k / I``
        with ``I = n sum pi_k s_k^2`` (Whitehead 1993).
        """
        counts = np.asarray(obs["counts"], float)
        tot = counts.sum(axis=0)
        pi = tot / max(tot.sum(), 1.0)
        cum = np.clip(np.cumsum(pi)[:-1], 1e-9, 1 - 1e-9)
        f = np.concatenate([[0.0], cum * (1 - cum), [0.0]])  # logistic density at the cutpoints
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.where(pi > 0, (f[:-1] - f[1:]) / pi, 0.0)
        per_group = np.zeros((n_groups, counts.shape[1]))
        np.add.at(per_group, index, counts)
        n = per_group.sum(axis=1)
        info = n * float(np.sum(pi * s**2))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(info > 0, per_group @ s / info, np.nan), np.where(info > 0, 1.0 / info, np.inf)

    def block_data(self, prefix: str, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Data containers of the likelihood."""
        return block_data(prefix, obs)

    def shape_key(self, obs: dict[str, np.ndarray]) -> int:
        """Number of levels (fixes the compiled shape)."""
        return int(obs["counts"].shape[1])

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
        """Each key as ``a + sum_j w_j P(Y <= j)``, evaluating only the cutpoints the keys need."""
        cut = params["cut"]
        forms = {k: form(k) for k in keys}
        needed = sorted({j for _, w in forms.values() for j in w})
        cdf = {j: expit(cut[:, j][:, None] - eta) for j in needed}
        out = {}
        for k, (a, w) in forms.items():
            terms = [wj * cdf[j] for j, wj in w.items()]
            out[k] = a + sum(terms) if terms else np.full(eta.shape, float(a))
        return out

    def ppc(
        self,
        eta: np.ndarray,
        params: Mapping[str, np.ndarray],
        obs: dict[str, np.ndarray],
        masks: list[np.ndarray],
        rng: np.random.Generator,
    ) -> list[list[PPCRow]]:
        """Level shares per group: observed, and from multinomial replicates of every cell."""
        counts = obs["counts"]
        probs = np.clip(level_probs(eta, params["cut"]), 0.0, 1.0)
        probs = probs / probs.sum(-1, keepdims=True)
        n = counts.sum(axis=1)
        reps = rng.multinomial(np.broadcast_to(n, probs.shape[:2]), probs)
        out = []
        for mask in masks:
            oc = counts[mask].sum(0)
            rc = reps[:, mask].sum(1)
            out.append([(k, float(oc[k] / oc.sum()), rc[:, k] / rc.sum(1)) for k in range(counts.shape[1])])
        return out


FAMILY = Ordinal()
