"""From cells to one metric's model block: collapse, design arrays, observed statistics, priors.

What a metric contributes is read from the metric registry (``cell_columns``, ``survey``,
``family``) and its model family (``observed``, ``unit_information``); what the design
contributes (periods, treatment flags, effect population) from the :class:`.designs.Design`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from qmsprint.experiments.designs import Design
from qmsprint.models import CellDesign, ModelBlock, choose_centred, get_family, resolve_priors
from qmsprint.spec import Spec


@dataclass
class MetricBlock:
    """One metric's model block and what its results need."""

    metric: str
    block: ModelBlock
    design: Design
    eff: pd.DataFrame  # effect-population cells (collapsed)
    eff_unit: np.ndarray
    eff_X: np.ndarray
    eff_seg: np.ndarray
    eff_group: np.ndarray
    weights: np.ndarray
    lik: pd.DataFrame  # likelihood cells (collapsed), with arm/period labels
    seg_cols: list[str]
    seg_labels: list[list[str]]
    units: pd.DataFrame
    notes: list[str]


def select_cells(spec: Spec, cells: pd.DataFrame, design: Design) -> pd.DataFrame:
    """Cells of the spec's two arms in the design's periods (arm and period as strings)."""
    arms = [spec.arms.control, spec.arms.treatment]
    used = cells[cells["arm"].astype(str).isin(arms) & cells["period"].astype(str).isin(design.PERIODS)].copy()
    used["arm"] = used["arm"].astype(str)
    used["period"] = used["period"].astype(str)
    return used


def _factor_columns(spec: Spec, metric: str, has_teams: bool) -> list[str]:
    cols: list[str] = []
    extra = list(spec.model.adjust_for)
    if spec.metric(metric).info.survey:
        extra += list(spec.model.reweight_by)
    for s in spec.segments:
        if s == "team" and has_teams:
            continue
        extra.append(s)
    for c in extra:
        if c not in cols:
            cols.append(c)
    return cols


def _dummies(df: pd.DataFrame, cols: list[str], levels: dict[str, list[str]]) -> np.ndarray:
    blocks = []
    for c in cols:
        lv = levels[c]
        v = df[c].astype(str).to_numpy()
        for level in lv[1:]:
            blocks.append((v == level).astype(float))
    return np.column_stack(blocks) if blocks else np.zeros((len(df), 0))


def prepare_metric(
    spec: Spec, df: pd.DataFrame, metric: str, design: Design, prior: tuple[float, float] | None
) -> MetricBlock:
    """Collapse cells for one metric and build its model block."""
    info = spec.metric(metric).info
    count, stats = info.cell_columns(spec)
    fam = get_family(info.family)
    notes: list[str] = []
    trt = spec.arms.treatment
    df = df.assign(_unit=df["agent_id"].astype(str) + "\x1f" + df["arm"].astype(str))
    units = (
        df.groupby("_unit", sort=True)
        .agg(arm=("arm", "first"), team=("team", lambda s: s.astype(str).mode().iloc[0]), n=("n", "sum"))
        .reset_index()
    )
    units["group"] = (units["arm"] == trt).astype(int)
    teams = sorted(units["team"].unique())
    has_teams = spec.model.team_effects and len(teams) >= 2
    unit_index = {u: i for i, u in enumerate(units["_unit"])}
    factor_cols = _factor_columns(spec, metric, has_teams)
    seg_cols = list(spec.segments)
    keys = ["_unit", "arm", "period", *dict.fromkeys([*factor_cols, *seg_cols])]
    sums = ["n", count, *stats]
    col = df[keys + [c for c in dict.fromkeys(sums)]].copy()
    for k in keys:
        col[k] = col[k].astype(str)
    cd = col.groupby(keys, sort=True, observed=True)[list(dict.fromkeys(sums))].sum().reset_index()
    levels = {}
    for c in dict.fromkeys([*factor_cols, *seg_cols]):
        freq = cd.groupby(c)["n"].sum().sort_values(ascending=False, kind="stable")
        levels[c] = list(freq.index)
    group_of = units.set_index("_unit")["group"]
    cd_group = cd["_unit"].map(group_of).to_numpy().astype(float)
    post, active = design.flags(cd, cd_group)
    unit_idx = cd["_unit"].map(unit_index).to_numpy()
    X = _dummies(cd, factor_cols, levels)
    seg_levels = tuple(len(levels[s]) for s in seg_cols)
    seg = (
        np.column_stack([cd[s].map({v: i for i, v in enumerate(levels[s])}).to_numpy() for s in seg_cols])
        if seg_cols
        else np.zeros((len(cd), 0), dtype=int)
    )
    team_idx = units["team"].map({t: i for i, t in enumerate(teams)}).to_numpy()
    lik_mask = cd[count].to_numpy() > 0
    lik = cd[lik_mask].reset_index(drop=True)
    arrays = CellDesign(
        kind=design.KIND,
        unit=unit_idx[lik_mask],
        post=post[lik_mask],
        active=active[lik_mask],
        X=X[lik_mask],
        seg=seg[lik_mask],
        unit_group=units["group"].to_numpy(),
        unit_team=team_idx if has_teams else np.zeros(len(units), dtype=int),
        n_teams=len(teams) if has_teams else 1,
        seg_levels=seg_levels,
        x_blocks=tuple(len(levels[c]) - 1 for c in factor_cols),
    )
    # observed statistics and information per unit (for the parametrisation)
    per_unit_n = np.bincount(arrays.unit, weights=lik[count].to_numpy(), minlength=len(units))
    obs = fam.observed(lik[count].to_numpy(), lik[stats].to_numpy())
    pri = resolve_priors(fam.name, metric, dict(spec.model.priors))
    centred = choose_centred(fam.name, fam.unit_information(obs, per_unit_n))
    notes.append(
        f"agent effects {'centred on their arm mean' if centred else 'non-centred'} "
        f"(median {np.median(per_unit_n):.0f} observations per agent)"
    )
    if not has_teams and spec.model.team_effects:
        notes.append("no team effects: the data have fewer than two teams")
    if prior is not None:
        notes.append(f"prior on the latent effect from an earlier run: Normal({prior[0]:.3g}, {prior[1]:.3g})")
    block = ModelBlock(
        name=metric, family=fam.name, design=arrays, obs=obs, priors=pri, centred=centred, effect_prior=prior
    )
    pop = design.population(cd, cd_group)
    eff = cd[pop].reset_index(drop=True)
    # every effect is averaged over the population's interactions (weights n), as the estimand
    # "expected difference between programs over pilot-period interactions" asks; for survey
    # metrics reweight_by adds the channel / reason terms to the model so that the respondents'
    # mix is post-stratified to all customers' mix.
    weights = eff["n"].to_numpy().astype(float)
    if info.survey and spec.model.reweight_by:
        notes.append(
            f"{metric} post-stratified to all customers by {', '.join(spec.model.reweight_by)} "
            "(cells weighted by interactions, not responses)"
        )
    return MetricBlock(
        metric=metric,
        block=block,
        design=design,
        eff=eff,
        eff_unit=unit_idx[pop],
        eff_X=X[pop],
        eff_seg=seg[pop],
        eff_group=cd_group[pop],
        weights=weights,
        lik=lik,
        seg_cols=seg_cols,
        seg_labels=[levels[s] for s in seg_cols],
        units=units,
        notes=notes,
    )
