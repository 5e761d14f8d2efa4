"""How far an agent's monthly QA score can be trusted: reliability, evaluations needed, rank order.

An agent's monthly checklist score is the average of the few calls the quality team evaluated
that month. How much of the differences between agents' monthly scores reflects how they worked,
and how much which calls were picked? :func:`score_reliability` answers it for one score column
(the checklist ``qa_score``, the ``behavior_score``, and ``auto_score``: a score of every
interaction from speech or text analytics, when the data has one).

Model
-----
One-way random effects on agents: the ``i``-th score of agent ``g`` is ``y_gi = mu + b_g + e_gi``
with ``b_g ~ Normal(0, s_b)`` (how the agent works) and ``e_gi ~ Normal(0, s_e)`` (the call
picked, and how the agent did on it). The intraclass correlation ``icc = s_b^2 / (s_b^2 + s_e^2)``
is the share of one score's variance between agents. The reliability of an agent's monthly
average of ``k`` scores (``k`` = the median number per agent and month in the data) is
Spearman-Brown's ``R_k = k icc / (1 + (k - 1) icc)``: the share of the variance of monthly scores
that reflects differences between agents. The scores per agent and month needed for a
reliability ``R`` are ``R (1 - icc) / (icc (1 - R))``. Agents' levels are taken as stable over
the months of the data: an agent who works differently from month to month adds to ``s_e``, so
the reliability is then that of the monthly score as a measure of the agent's usual level (a
lower bound for its reliability as a measure of that month alone). Grouping by agent-months
instead would count each agent several times and give intervals that are too narrow.

The posterior of ``icc`` is exact under the model and computed on a grid: with a flat prior on
``icc``, Jeffreys' prior on the total variance ``s^2 = s_b^2 + s_e^2`` and a flat prior on ``mu``
(both integrated out analytically), and ``w_g = icc + (1 - icc) / n_g``::

    log p(icc | y) = -(N - G)/2 log(1 - icc) - 1/2 sum_g log w_g - 1/2 log sum_g 1/w_g
                     - (N - 1)/2 log(SSW / (1 - icc) + sum_g (ybar_g - mu_hat)^2 / w_g)

(``N`` scores of ``G`` agents with ``n_g`` scores each, ``SSW`` the within-agent sum of squares,
``mu_hat`` the weighted mean of the agents' means). Draws of ``icc`` (and of ``s^2`` from its
inverse-gamma conditional) give every derived number a posterior mean and HDI.

Rank order: in each month, agents are ranked by their monthly score; for two agents ``gap``
places apart (default 10), the chance that their true levels are in the same order is
``Phi(m / s)`` with ``m, s`` the mean and sd of the difference of their true levels given their
scores (each shrunk towards ``mu`` by ``lambda_g = s_b^2 / (s_b^2 + s_e^2 / n_g)``). The number
reported is the average over every such pair and month.

Scores from two programs (an export during a pilot) are centred on their program's mean first
(``program``): a program that moves every score would otherwise count as agent differences.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr

from qmsprint.stats import hdi

GRID = 2000  # grid points of icc (logit-spaced)
DRAWS = 4000
RANK_DRAWS = 1000  # draws the rank-order chance is computed on (a few agents x months x draws each)
TARGET = 0.8
RANK_GAP = 10
MIN_AGENTS = 5
RELIABILITY_COLUMNS = [
    "score", "n_scores", "n_agents", "n_months", "evaluations_per_month", "icc", "icc_low", "icc_high",
    "reliability", "reliability_low", "reliability_high", "target", "needed", "needed_low", "needed_high",
    "rank_gap", "prob_rank_order", "prob_rank_order_low", "prob_rank_order_high", "centred_by_program",
]  # fmt: skip


def spearman_brown(icc: np.ndarray | float, k: float) -> np.ndarray | float:
    """Reliability of an average of ``k`` scores with intraclass correlation ``icc``."""
    return k * np.asarray(icc) / (1 + (k - 1) * np.asarray(icc))


def needed(icc: np.ndarray | float, target: float = TARGET) -> np.ndarray | float:
    """Scores per average needed for a reliability of ``target`` (unrounded)."""
    icc = np.asarray(icc, float)
    return target * (1 - icc) / (icc * (1 - target))


def _month_codes(ts: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(index of each timestamp's calendar month, the months as ``YYYY-MM``), from integers: fast on millions."""
    t = pd.to_datetime(ts)
    code = (t.dt.year * 12 + t.dt.month - 1).to_numpy()
    uniq, inv = np.unique(code, return_inverse=True)
    return inv, np.array([f"{c // 12:04d}-{c % 12 + 1:02d}" for c in uniq])


def agent_months(frame: pd.DataFrame, score: str, program: pd.Series | None = None) -> tuple[pd.DataFrame, bool] | None:
    """Per agent-month: ``agent_id``, ``month``, ``n``, ``mean``, ``ss`` (within sum of squares) of ``score``.

    Scores are centred on their ``program``'s mean first when ``program`` has two or more values.
    Returns ``(table, centred)``, or None without the columns or data.
    """
    if score not in frame or "agent_id" not in frame or "timestamp" not in frame:
        return None
    keep = (frame[score].notna() & frame["agent_id"].notna() & frame["timestamp"].notna()).to_numpy()
    if not keep.any():
        return None
    y = pd.to_numeric(frame.loc[keep, score], errors="coerce").to_numpy(float)
    centred = False
    if program is not None:
        prog_codes, prog_names = pd.factorize(program[keep].astype(str))
        if len(prog_names) > 1:
            means = np.bincount(prog_codes, weights=y) / np.bincount(prog_codes)
            y = y - means[prog_codes] + y.mean()
            centred = True
    agent_codes, agents = pd.factorize(frame.loc[keep, "agent_id"])
    month_idx, months = _month_codes(frame.loc[keep, "timestamp"])
    cell, first = np.unique(agent_codes.astype(np.int64) * len(months) + month_idx, return_inverse=True)
    n = np.bincount(first)
    mean = np.bincount(first, weights=y) / n
    sq = np.bincount(first, weights=y * y)
    out = pd.DataFrame(
        {
            "agent_id": np.asarray(agents.astype(str))[cell // len(months)],
            "month": months[cell % len(months)],
            "n": n,
            "mean": mean,
            "ss": np.maximum(sq - n * mean**2, 0.0),
        }
    )
    return out.sort_values(["agent_id", "month"]).reset_index(drop=True), centred


def by_agent(am: pd.DataFrame) -> pd.DataFrame:
    """Agent-months pooled per agent: ``n``, ``mean`` and within-agent sum of squares ``ss``."""
    tot = am.assign(s=am["n"] * am["mean"]).groupby("agent_id", sort=True)[["n", "s", "ss"]].sum()
    tot["mean"] = tot["s"] / tot["n"]
    dev = am["n"] * (am["mean"] - am["agent_id"].map(tot["mean"])) ** 2
    tot["ss"] = tot["ss"] + dev.groupby(am["agent_id"]).sum()
    return tot.drop(columns="s").reset_index()


def icc_posterior(n: np.ndarray, means: np.ndarray, ssw: float) -> tuple[np.ndarray, np.ndarray]:
    """(grid of icc, posterior probability of each grid point) of the one-way model (module docstring)."""
    n = np.asarray(n, float)
    N, G = n.sum(), len(n)
    z = np.linspace(-9.0, 9.0, GRID)
    icc = 1.0 / (1.0 + np.exp(-z))
    w = icc[:, None] + (1 - icc[:, None]) / n[None, :]
    inv = 1.0 / w
    mu = (inv * means[None, :]).sum(1) / inv.sum(1)
    q = (inv * (means[None, :] - mu[:, None]) ** 2).sum(1)
    logp = (
        -(N - G) / 2 * np.log1p(-icc)
        - 0.5 * np.log(w).sum(1)
        - 0.5 * np.log(inv.sum(1))
        - (N - 1) / 2 * np.log(ssw / (1 - icc) + q)
    )
    # flat prior on icc: grid points are logit-spaced, so weight by d icc / d z = icc (1 - icc)
    logp = logp + np.log(icc * (1 - icc))
    p = np.exp(logp - logp.max())
    return icc, p / p.sum()


def _draw_icc(icc: np.ndarray, p: np.ndarray, rng: np.random.Generator, draws: int) -> np.ndarray:
    """Draws from the grid posterior (inverse CDF, interpolated between grid points)."""
    cdf = np.cumsum(p)
    u = rng.random(draws) * cdf[-1]
    return np.interp(u, cdf, icc)


def _rank_order(am: pd.DataFrame, icc: np.ndarray, s2: np.ndarray, mu: np.ndarray, gap: int) -> np.ndarray:
    """Per draw: the average chance that agents ``gap`` places apart in a month are truly in that order."""
    sb2 = icc * s2
    se2 = (1 - icc) * s2
    num = np.zeros(len(icc))
    pairs = 0
    for _, m in am.groupby("month", sort=True):
        m = m.sort_values("mean", ascending=False)
        if len(m) <= gap:
            continue
        y, n = m["mean"].to_numpy(float), m["n"].to_numpy(float)
        hi, lo = np.arange(len(m) - gap), np.arange(gap, len(m))
        lam = sb2[:, None] / (sb2[:, None] + se2[:, None] / n[None, :])
        post_mean = mu[:, None] + lam * (y[None, :] - mu[:, None])
        post_var = lam * se2[:, None] / n[None, :]
        d_mean = post_mean[:, hi] - post_mean[:, lo]
        d_sd = np.sqrt(post_var[:, hi] + post_var[:, lo])
        num += ndtr(d_mean / d_sd).sum(1)
        pairs += len(hi)
    return num / pairs if pairs else np.full(len(icc), np.nan)


def score_reliability(
    frame: pd.DataFrame,
    score: str,
    *,
    program: pd.Series | None = None,
    prob: float = 0.94,
    target: float = TARGET,
    rank_gap: int = RANK_GAP,
    seed: int = 20,
) -> dict[str, Any] | None:
    """Reliability of agents' monthly averages of ``score`` (see the module docstring).

    Parameters
    ----------
    frame
        Rows with ``agent_id``, ``timestamp`` and the score (rows without a score are not evaluations).
    score
        The score column (``qa_score``, ``behavior_score``, ``auto_score``).
    program
        Per row, the program it ran under (e.g. arm x period); scores are centred per program.
    prob
        HDI probability.
    target
        Reliability the evaluations needed are computed for.
    rank_gap
        Rank distance of the agent pairs whose order is checked (at most the agents in a month - 1).
    seed
        Seed of the posterior draws.

    Returns
    -------
    dict or None
        One row of :data:`RELIABILITY_COLUMNS` (means and HDI bounds), plus ``draws`` (reliability
        per draw, for figures); None with fewer than :data:`MIN_AGENTS` agents or no repeated scores.

    """
    got = agent_months(frame, score, program)
    if got is None:
        return None
    am, centred = got
    n = am["n"].to_numpy(float)
    if am["agent_id"].nunique() < MIN_AGENTS or n.sum() - len(n) < 2 or len(am) < 3:
        return None
    ag = by_agent(am)
    na, means, ssw = ag["n"].to_numpy(float), ag["mean"].to_numpy(float), float(ag["ss"].sum())
    grid, p = icc_posterior(na, means, ssw)
    rng = np.random.default_rng(seed)
    icc = _draw_icc(grid, p, rng, DRAWS)
    # s^2 | icc ~ Inv-Gamma((N - 1) / 2, A / 2); mu at its weighted estimate
    inv = 1.0 / (icc[:, None] + (1 - icc[:, None]) / na[None, :])
    mu = (inv * means[None, :]).sum(1) / inv.sum(1)
    a = ssw / (1 - icc) + (inv * (means[None, :] - mu[:, None]) ** 2).sum(1)
    s2 = a / rng.chisquare(na.sum() - 1, DRAWS)
    k = float(np.median(n))
    rel = spearman_brown(icc, k)
    need = needed(icc, target)
    months_agents = am.groupby("month")["agent_id"].nunique()
    gap = int(max(1, min(rank_gap, int(months_agents.max()) - 1)))
    sub = np.linspace(0, DRAWS - 1, RANK_DRAWS).astype(int)  # enough draws for a mean and an HDI of a share
    order = _rank_order(am, icc[sub], s2[sub], mu[sub], gap)

    def summ(x: np.ndarray) -> tuple[float, float, float]:
        lo, hi = hdi(x, prob)
        return float(np.mean(x)), float(lo), float(hi)

    row: dict[str, Any] = {
        "score": score,
        "n_scores": int(n.sum()),
        "n_agents": int(am["agent_id"].nunique()),
        "n_months": int(am["month"].nunique()),
        "evaluations_per_month": k,
        "target": target,
        "rank_gap": gap,
        "centred_by_program": centred,
    }
    for key, x in (("icc", icc), ("reliability", rel), ("prob_rank_order", order)):
        row[key], row[f"{key}_low"], row[f"{key}_high"] = summ(x)
    lo, hi = hdi(need, prob)
    row["needed"], row["needed_low"], row["needed_high"] = float(np.median(need)), float(lo), float(hi)
    row["draws"] = icc
    return row


def reliability_table(
    frame: pd.DataFrame,
    scores: list[str],
    *,
    program: pd.Series | None = None,
    prob: float = 0.94,
    seed: int = 20,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """One row per score with enough data (:func:`score_reliability`), and each score's icc draws."""
    rows, draws = [], {}
    for k, score in enumerate(scores):
        r = score_reliability(frame, score, program=program, prob=prob, seed=seed + k)
        if r is not None:
            draws[score] = r.pop("draws")
            rows.append(r)
    return pd.DataFrame(rows, columns=RELIABILITY_COLUMNS), draws
