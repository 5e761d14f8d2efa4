"""QA evaluations with a chosen reliability: a handful of scored calls per agent and month.

:func:`sample_qa` turns a simulated pilot (where every interaction carries a checklist score)
into what a quality team produces: ``evaluations_per_month`` randomly chosen interactions per
agent and calendar month keep a ``qa_score``, the others have none, and the score of an
evaluated interaction is drawn so that an agent's monthly average has the chosen reliability.
With ``full_coverage_icc`` it also adds ``auto_score``: a score on every interaction (speech or
text analytics), with its own intraclass correlation.

Generative model
----------------
Agent ``a`` has a true QA level ``m_a ~ Normal(mean, sqrt(icc) sd)`` (the same in every month);
an evaluated interaction scores ``m_a + e``, ``e ~ Normal(0, sqrt(1 - icc) sd)``, rounded to 0.1
and clipped to 0-100 (with the defaults, clipping touches about one score in 10,000). ``icc`` is
chosen from the target reliability ``R`` of a monthly average of ``k = evaluations_per_month``
scores (Spearman-Brown): ``R = k icc / (1 + (k - 1) icc)``, so ``icc = R / (k - (k - 1) R)``.
``auto_score = m'_a + e'`` likewise on every interaction, ``m'_a = mean + sqrt(icc_full) sd z'_a``
with ``z'_a = 0.7 z_a + sqrt(0.51) w_a`` (correlated with the checklist level). Items and the
other columns are left as they are.

Truth (``truth["qa_reliability"]``): ``icc``, ``evaluations_per_month``, ``reliability`` (at
``k``), ``evaluations_for_0_8`` (Spearman-Brown, unrounded) and, with a full-coverage score,
``full`` with the same keys at that score's median interactions per agent and month, and
``agent_levels`` (each agent's true level ``m_a``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from qmsprint.simulate.config import Simulation


def icc_for(reliability: float, k: float) -> float:
    """Intraclass correlation of one score that gives ``reliability`` for an average of ``k`` (Spearman-Brown)."""
    return reliability / (k - (k - 1) * reliability)


def reliability_of(icc: float, k: float) -> float:
    """Reliability of an average of ``k`` scores with intraclass correlation ``icc`` (Spearman-Brown)."""
    return k * icc / (1 + (k - 1) * icc)


def needed_for(icc: float, target: float = 0.8) -> float:
    """Scores per average needed for ``target`` reliability (Spearman-Brown, unrounded)."""
    return target * (1 - icc) / (icc * (1 - target))


@dataclass(frozen=True)
class QASampling:
    """How QA evaluations are sampled and scored (see the module docstring)."""

    evaluations_per_month: int = 6
    reliability: float = 0.35
    mean: float = 75.0
    sd: float = 7.0
    full_coverage_icc: float | None = 0.05
    seed: int = 1

    def __post_init__(self) -> None:
        if self.evaluations_per_month < 1 or not 0 < self.reliability < 1 or not self.sd > 0:
            raise ValueError("need evaluations_per_month >= 1, 0 < reliability < 1 and sd > 0")
        if self.full_coverage_icc is not None and not 0 < self.full_coverage_icc < 1:
            raise ValueError("full_coverage_icc must be between 0 and 1")

    @property
    def icc(self) -> float:
        """Intraclass correlation of one evaluation's score."""
        return icc_for(self.reliability, self.evaluations_per_month)


def sample_qa(sim: Simulation, qa: QASampling | None = None) -> Simulation:
    """The simulation with sampled QA evaluations (and a full-coverage score) of a chosen reliability.

    Returns
    -------
    Simulation
        A new record: ``qa_score`` only on the evaluated interactions, ``auto_score`` on every
        interaction (with ``full_coverage_icc``), and ``truth["qa_reliability"]``.

    """
    qa = qa or QASampling()
    rng = np.random.default_rng([qa.seed, 30])
    frame = sim.frame.copy()
    agents = frame["agent_id"].astype(str)
    ua, ia = np.unique(agents.to_numpy(), return_inverse=True)
    month = pd.to_datetime(frame["timestamp"]).dt.to_period("M").astype(str)
    # evaluated: a random k of each agent's interactions in each month
    order = rng.permutation(len(frame))
    rank = pd.Series(order, index=frame.index).groupby([agents, month]).rank(method="first")
    evaluated = (rank <= qa.evaluations_per_month).to_numpy()
    z = rng.standard_normal(len(ua))
    icc = qa.icc
    level = qa.mean + math.sqrt(icc) * qa.sd * z
    score = level[ia] + math.sqrt(1 - icc) * qa.sd * rng.standard_normal(len(frame))
    frame["qa_score"] = np.where(evaluated, np.clip(np.round(score, 1), 0, 100), np.nan)
    truth = dict(sim.truth)
    rel = {
        "icc": icc,
        "evaluations_per_month": qa.evaluations_per_month,
        "reliability": qa.reliability,
        "evaluations_for_0_8": needed_for(icc),
        "agent_levels": {str(a): float(v) for a, v in zip(ua, level, strict=True)},
    }
    if qa.full_coverage_icc is not None:
        icc_f = qa.full_coverage_icc
        zf = 0.7 * z + math.sqrt(0.51) * rng.standard_normal(len(ua))
        auto = (
            qa.mean + math.sqrt(icc_f) * qa.sd * zf[ia] + math.sqrt(1 - icc_f) * qa.sd * rng.standard_normal(len(frame))
        )
        frame["auto_score"] = np.clip(np.round(auto, 1), 0, 100)
        k_full = float(frame.groupby([agents, month]).size().median())
        rel["full"] = {
            "icc": icc_f,
            "evaluations_per_month": k_full,
            "reliability": reliability_of(icc_f, k_full),
            "evaluations_for_0_8": needed_for(icc_f),
        }
    truth["qa_reliability"] = rel
    return Simulation(frame=frame, truth=truth, config=sim.config)
