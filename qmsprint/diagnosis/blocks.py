"""The parts of a diagnosis as model blocks: cells, design matrices, and fitting them.

Every part of the diagnosis (the R-squared of a score, the item effects, the root causes; per
outcome) is an :class:`OutcomeBlock`: cells with trials and counts, a design matrix of fixed
effects and agent random effects (a :class:`qmsprint.models.diagnosis.DiagnosisPart`), plus what
is needed to read its posterior. :func:`fit_blocks` fits them with the spec's sampler settings.

Item effects are within-agent associations (Mundlak 1978): besides each item's pass (0/1), the
item model has the agent's pass rate of the item (per program, when the rows hold two) as a
covariate, so an item's coefficient compares an agent's passed and failed interactions only;
agents who pass an item more often and have better customers for other reasons (skill, team, the
program they are on) do not make it look good. With both programs in the rows, every part also
adjusts for the program (:mod:`.program`). Handle time is fitted as a normal on each cell's sum
and sum of squares of standardized seconds, so its item effects read as seconds per call.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from qmsprint.diagnosis.prepare import DiagnosisData, Outcome, item_patterns, outcome_cells
from qmsprint.models.diagnosis import LARGE_PART_ACCEPT, DiagnosisPart, Factor, fit_parts, part_accept
from qmsprint.progress import Progress
from qmsprint.results import Diagnostics
from qmsprint.spec import ITEM_PREFIX, Spec
from qmsprint.spec_sampler import DIAGNOSIS_TARGET_ACCEPT

SCORE_BINS = 20  # continuous scores are grouped into this many quantile bins (cells), QA values kept as they are
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
    for c in p.adjust:
        d[c] = df[c]
    keys = ["agent_id", *p.adjust, "bin"]
    cells, n, y = outcome_cells(d, keys, o)
    d = d[d[o.column].notna()]
    x = d.groupby(keys, observed=True, sort=True)["x"].mean().to_numpy(float)
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
    X = np.column_stack([xw, xb, *[cells[c].to_numpy(float) for c in p.adjust]])
    idx = p.agents.get_indexer(cells["agent_id"])
    coefs = ["within", "between", *p.adjust]
    return OutcomeBlock(key, "r2", o, info, DiagnosisPart(key, o.family, coefs, X, idx, n, y, between_slope=True))


def _dummies(values: pd.Series, levels: list[str]) -> np.ndarray | None:
    """Reference-coded indicators of ``levels[1:]``."""
    return np.column_stack([(values == lv).to_numpy(float) for lv in levels[1:]]) if len(levels) > 1 else None


def _mix_levels(p: DiagnosisData, col: str) -> list[str]:
    """Levels of a mix factor, the most frequent first (the reference)."""
    return p.df[col].value_counts().index.tolist()


def _mix_shares(d: pd.DataFrame, keys: list[str], cells: pd.DataFrame, col: str, levels: list[str]) -> np.ndarray:
    """Each cell's share of rows at each of ``levels`` of ``col`` (cells in :func:`.prepare.outcome_cells` order)."""
    hits = pd.DataFrame({lv: (d[col] == lv).to_numpy(float) for lv in levels}, index=d.index)
    shares = hits.groupby([d[k] for k in keys], observed=True, sort=True).mean()
    return shares.reindex(pd.MultiIndex.from_frame(cells[keys])).to_numpy(float)


def items_block(p: DiagnosisData, o: Outcome) -> OutcomeBlock:
    """Within-agent item effects on outcome ``o``, adjusted for each other, the program, channel and contact reason.

    Columns of the design: each item's pass minus the agent's pass rate of it (the within-agent
    effects, read as the item effects), the agent's pass rates (between agents), the program
    columns, then the cell's shares of channels and contact reasons. Pass rates are per agent (and
    program) over the rows with the outcome.

    Cells are agent (x program) x item pattern, not also x channel x contact reason: channel and
    reason enter as each cell's mix (the share of its rows in each level but the reference), which
    adjusts the item effects for items passed more often in some channels or reasons. On the
    bundled data this is 3-4x fewer cells (repeat contacts: 58,759 -> 13,568) for the same item
    effects (tests/test_diagnosis_cells.py checks them against the truth with confounded mixes).
    """
    items = p.fit_items
    df = p.df.dropna(subset=[*items, o.column])
    group = ["agent_id", *p.adjust]
    d = df[[*group, "channel", "contact_reason", o.column]].copy()
    d["pattern"], bits = item_patterns(df, items)
    scale = (0.0, 1.0)
    if o.family == "gaussian":
        v = df[o.column].astype(float)
        scale = (float(v.mean()), float(v.std()) or 1.0)
    keys = [*group, "pattern"]
    cells, n, y = outcome_cells(d, keys, o, scale)
    rates = df.groupby(group, observed=True, sort=True)[items].mean().reset_index()
    rate = cells[group].merge(rates, on=group, how="left")[items].to_numpy(float)
    group_code = cells.groupby(group, observed=True, sort=True).ngroup().to_numpy()
    rate_table = np.zeros((group_code.max() + 1, len(items)))
    rate_table[group_code] = rate
    patterns, pattern_code = np.unique(cells["pattern"].to_numpy(dtype="int64"), return_inverse=True)
    pattern_table = ((patterns[:, None] & bits) > 0).astype(float)
    passed = pattern_table[pattern_code]
    names = [c[len(ITEM_PREFIX) :] for c in items]
    coefs = list(names) + [f"{name} (agent rate)" for name in names] + list(p.adjust)
    mats = [passed - rate, rate, *[cells[[c]].to_numpy(float) for c in p.adjust]]
    for col in ("channel", "contact_reason"):
        levels = _mix_levels(p, col)
        if len(levels) > 1:
            mats.append(_mix_shares(d, keys, cells, col, levels[1:]))
            coefs += [f"{col}={lv}" for lv in levels[1:]]
    info = {"items": names, "n_obs": int(n.sum()), "n_agents": int(cells["agent_id"].nunique()), "scale": scale}
    key = f"{o.name}/items"
    idx = p.agents.get_indexer(cells["agent_id"])
    k = len(items)
    factors = (  # the item columns as lookups: pass by pattern, minus (and, between) the agent's rate
        Factor(tuple(range(k)), pattern_code, pattern_table),
        Factor(tuple(range(2 * k)), group_code, np.hstack([-rate_table, rate_table])),
    )
    part = DiagnosisPart(key, o.family, coefs, np.hstack(mats), idx, n, y, spread=("sd_agent",), factors=factors)
    return OutcomeBlock(key, "items", o, info, part)


def root_cause_block(p: DiagnosisData, o: Outcome) -> OutcomeBlock:
    """Agents, channels and contact reasons as sources of outcome ``o``'s variance (adjusted for the program)."""
    cells, n, y = outcome_cells(p.df, ["agent_id", "channel", "contact_reason", *p.adjust], o)
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
    for c in p.adjust:
        mats.append(cells[[c]].to_numpy(float))
        coefs.append(c)
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
    if p.time is not None and p.fit_items:  # what each item costs in handle time
        blocks.append(items_block(p, p.time))
    return blocks


def large_accept(spec: Spec) -> float | None:
    """Target accept of a large part's first sampling: None (the spec's, as every part) when the spec sets one."""
    return LARGE_PART_ACCEPT if spec.sampler.target_accept is None else None


def first_accept(b: OutcomeBlock, spec: Spec) -> float:
    """Target accept of block ``b``'s first sampling (:func:`qmsprint.models.diagnosis.part_accept`)."""
    return part_accept(b.arrays, spec.sampler.accept(DIAGNOSIS_TARGET_ACCEPT), large_accept(spec))


def fit_blocks(
    blocks: list[OutcomeBlock], spec: Spec, draws: int, tune: int, progress: Progress
) -> Iterator[tuple[OutcomeBlock, Any, Diagnostics]]:
    """Fit every block in turn with the spec's sampler (:func:`qmsprint.models.diagnosis.fit_parts`).

    Target accept: the spec's for every part when it sets one; else
    :data:`qmsprint.spec_sampler.DIAGNOSIS_TARGET_ACCEPT`, and a large part's first sampling at
    :data:`qmsprint.models.diagnosis.LARGE_PART_ACCEPT`.

    Yields (block, posterior, diagnostics); block ``k`` is sampled with seed ``spec.sampler.seed + k``.
    """
    s = spec.sampler
    fits = fit_parts(
        [b.arrays for b in blocks],
        draws=draws,
        tune=tune,
        chains=s.chains,
        seed=s.seed,
        target_accept=s.accept(DIAGNOSIS_TARGET_ACCEPT),
        large_accept=large_accept(spec),
        backend=s.backend,
        progress=progress,
    )
    for b, (_, idata, diag) in zip(blocks, fits, strict=True):
        yield b, idata, diag
