"""The parts of a diagnosis as model blocks: cells, design matrices, and fitting them.

Every part of the diagnosis (the R-squared of a score, the item effects, the root causes; per
outcome) is an :class:`OutcomeBlock`: cells with trials and counts, a design matrix of fixed
effects and agent random effects (a :class:`qmsprint.models.diagnosis.DiagnosisPart`), plus what
is needed to read its posterior. :func:`fit_blocks` fits them with the spec's sampler settings.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from qmsprint.diagnosis.prepare import DiagnosisData, Outcome, item_patterns, outcome_cells
from qmsprint.models.diagnosis import DiagnosisPart, fit_parts
from qmsprint.progress import Progress
from qmsprint.results import Diagnostics
from qmsprint.spec import ITEM_PREFIX, Spec

SCORE_BINS = 20  # continuous scores are grouped into this many quantile bins (cells), QA values kept as they are
# Diagnosis parts centre agent effects from a median Fisher information per agent of 20 (x the
# typical agent sd 0.3 squared): they have no treatment effect to form a ridge with, and on the
# bundled data centring already pays at about 50 (CSAT vs QA score: bulk ESS 1,103 vs 653).
CENTRED_RATIO = 20.0 * 0.3**2

BlockKind = Literal["r2", "items", "rc"]


@dataclass
class OutcomeBlock:
    """One part of the diagnosis: its model's arrays and how to read its posterior.

    Attributes
    ----------
    key
        ``<outcome>/<part>`` (``csat/qa_score``, ``csat/items``, ``csat/root_causes``).
    kind
        ``r2`` (a score's R-squared), ``items`` or ``rc`` (root causes).
    outcome
        The outcome explained.
    info
        What reading the posterior needs (variances of the score, item names, factor levels
        and weights, counts).
    arrays
        The model's cells and design (agent codes index :attr:`DiagnosisData.agents`).

    """

    key: str
    kind: BlockKind
    outcome: Outcome
    info: dict[str, Any]
    arrays: DiagnosisPart

    @property
    def agents(self) -> tuple[np.ndarray, np.ndarray]:
        """(positions in :attr:`DiagnosisData.agents` of the block's agents, each cell's index into them)."""
        return self.arrays.agents


def _weighted_var(x: np.ndarray, w: np.ndarray) -> float:
    m = np.average(x, weights=w)
    return float(np.average((x - m) ** 2, weights=w))


def r2_block(p: DiagnosisData, o: Outcome, score: str) -> OutcomeBlock:
    """How much of outcome ``o`` the score explains: within- and between-agent slopes of the standardized score."""
    df = p.df[p.df[score].notna()]
    s = df[score].astype(float)
    mu, sd = float(s.mean()), float(s.std())
    if not sd > 0:
        sd = 1.0
    z = (s - mu) / sd
    xbar = z.groupby(df["agent_id"]).mean()
    if s.nunique() > SCORE_BINS:
        # cells by score bin; each cell uses the mean standardized score of its rows
        bins = pd.Series(pd.qcut(s, SCORE_BINS, labels=False, duplicates="drop"), index=s.index)
    else:
        bins = s
    d = pd.DataFrame({"agent_id": df["agent_id"], "bin": bins, "x": z, o.column: df[o.column]})
    cells, n, y = outcome_cells(d, ["agent_id", "bin"], o)
    d = d[d[o.column].notna()]
    x = d.groupby(["agent_id", "bin"], observed=True, sort=True)["x"].mean().to_numpy(float)
    xb = xbar.reindex(cells["agent_id"]).to_numpy(float)
    xw = x - xb
    w = n.astype(float)
    mw, mb = np.average(xw, weights=w), np.average(xb, weights=w)
    in_cells = np.isin(xbar.index, cells["agent_id"].unique())
    info = {
        "score": score,
        "var_w": _weighted_var(xw, w),
        "var_b": _weighted_var(xb, w),
        "cov_wb": float(np.average((xw - mw) * (xb - mb), weights=w)),
        "var_b_agents": float(np.var(xbar.to_numpy(float)[in_cells])),
        "n_obs": int(n.sum()),
        "n_agents": int(cells["agent_id"].nunique()),
    }
    key = f"{o.name}/{score}"
    X = np.column_stack([xw, xb])
    idx = p.agents.get_indexer(cells["agent_id"])
    return OutcomeBlock(
        key, "r2", o, info, DiagnosisPart(key, o.family, ["within", "between"], X, idx, n, y, between_slope=True)
    )


def _dummies(values: pd.Series, levels: list[str]) -> np.ndarray | None:
    """Reference-coded indicators of ``levels[1:]``."""
    return np.column_stack([(values == lv).to_numpy(float) for lv in levels[1:]]) if len(levels) > 1 else None


def _mix_levels(p: DiagnosisData, col: str) -> list[str]:
    """Levels of a mix factor, the most frequent first (the reference)."""
    return p.df[col].value_counts().index.tolist()


def items_block(p: DiagnosisData, o: Outcome) -> OutcomeBlock:
    """Item effects on outcome ``o``, adjusted for each other, channel and contact reason."""
    items = p.fit_items
    df = p.df.dropna(subset=items)
    d = df[["agent_id", "channel", "contact_reason", o.column]].copy()
    d["pattern"], bits = item_patterns(df, items)
    cells, n, y = outcome_cells(d, ["agent_id", "pattern", "channel", "contact_reason"], o)
    X = ((cells["pattern"].to_numpy(dtype="int64")[:, None] & bits) > 0).astype(float)
    names = [c[len(ITEM_PREFIX) :] for c in items]
    coefs = list(names)
    mats = [X]
    for col in ("channel", "contact_reason"):
        levels = _mix_levels(p, col)
        m = _dummies(cells[col], levels)
        if m is not None:
            mats.append(m)
            coefs += [f"{col}={lv}" for lv in levels[1:]]
    info = {"items": names, "n_obs": int(n.sum()), "n_agents": int(cells["agent_id"].nunique())}
    key = f"{o.name}/items"
    idx = p.agents.get_indexer(cells["agent_id"])
    return OutcomeBlock(key, "items", o, info, DiagnosisPart(key, o.family, coefs, np.hstack(mats), idx, n, y))


def root_cause_block(p: DiagnosisData, o: Outcome) -> OutcomeBlock:
    """Agents, channels and contact reasons as sources of outcome ``o``'s variance."""
    cells, n, y = outcome_cells(p.df, ["agent_id", "channel", "contact_reason"], o)
    mats, coefs, info = [], [], {}
    w = pd.Series(n.astype(float), index=cells.index)
    for col, short in (("channel", "channel"), ("contact_reason", "reason")):
        levels = _mix_levels(p, col)
        m = _dummies(cells[col], levels)
        if m is not None:
            mats.append(m)
            coefs += [f"{col}={lv}" for lv in levels[1:]]
        info[f"{short}s"] = levels
        info[f"w_{short}"] = w.groupby(cells[col]).sum().reindex(levels).fillna(0).to_numpy(float)
    info["w_agent"] = w.groupby(cells["agent_id"]).sum().reindex(p.agents).fillna(0).to_numpy(float)
    info["n_obs"] = int(n.sum())
    info["n_agents"] = int(cells["agent_id"].nunique())
    X = np.hstack(mats) if mats else np.zeros((len(cells), 0))
    key = f"{o.name}/root_causes"
    idx = p.agents.get_indexer(cells["agent_id"])
    return OutcomeBlock(key, "rc", o, info, DiagnosisPart(key, o.family, coefs, X, idx, n, y))


def outcome_blocks(p: DiagnosisData) -> list[OutcomeBlock]:
    """Every block of the diagnosis, outcome by outcome: each score's R-squared, the items, the root causes."""
    blocks: list[OutcomeBlock] = []
    for o in p.outcomes:
        blocks += [r2_block(p, o, score) for score in p.scores]
        if p.fit_items:
            blocks.append(items_block(p, o))
        blocks.append(root_cause_block(p, o))
    return blocks


def fit_blocks(
    blocks: list[OutcomeBlock], spec: Spec, draws: int, tune: int, progress: Progress
) -> Iterator[tuple[OutcomeBlock, Any, Diagnostics]]:
    """Fit every block in turn with the spec's sampler (:func:`qmsprint.models.diagnosis.fit_parts`).

    Yields (block, posterior, diagnostics); block ``k`` is sampled with seed ``spec.sampler.seed + k``.
    """
    s = spec.sampler
    fits = fit_parts(
        [b.arrays for b in blocks],
        draws=draws,
        tune=tune,
        chains=s.chains,
        seed=s.seed,
        target_accept=s.target_accept,
        backend=s.backend,
        centred_ratio=CENTRED_RATIO,
        progress=progress,
    )
    for b, (_, idata, diag) in zip(blocks, fits, strict=True):
        yield b, idata, diag
