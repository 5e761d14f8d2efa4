"""From cells to one metric's model block: collapse, design arrays, observed statistics, priors.

What a metric contributes is read from the metric registry (``cell_columns``, ``survey``,
``family``) and its model family (``observed``, ``group_estimates``); what the design
contributes (periods, treatment flags, effect population) from the :class:`.designs.Design`.

Levels of the model follow the pilot: agents always; teams and sites when the data have at least
two of them with more than one member each (teams only with ``model.team_effects``, unless teams
or sites were randomized: the randomization unit and every level above it are always modelled),
with estimated sds, except levels above the randomization unit with fewer than
:data:`MIN_RANDOM_MEMBERS` members (a fixed prior scale); with a baseline and a pilot period (DiD),
team x period, site x period and agent x period shocks. An A/B pilot's baseline period enters as
each unit's baseline level (:func:`baseline_covariate`). The parametrisation of each level comes
from the data (:func:`qmsprint.models.priors.choose_levels`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from qmsprint.experiments.designs import Design
from qmsprint.models import CellDesign, Family, LevelChoice, ModelBlock, choose_levels, get_family, resolve_priors
from qmsprint.models.priors import moment_variance
from qmsprint.models.terms import LEVEL_LABELS
from qmsprint.spec import Spec
from qmsprint.stats import modal_by

UNIT_COLUMNS = {"agent": "agent_id", "team": "team", "site": "site"}
UNIT_LEVELS = {"agent": "unit", "team": "team", "site": "site"}
# fewer members than this: a level other than the randomization unit keeps a fixed prior scale
MIN_RANDOM_MEMBERS = 5


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
    eff_post: np.ndarray | None = None
    choices: dict[str, LevelChoice] = field(default_factory=dict)


def select_cells(spec: Spec, cells: pd.DataFrame, design: Design) -> pd.DataFrame:
    """Cells of the spec's two arms in the design's periods (arm and period as strings).

    An A/B design's optional baseline period is kept when ``model.baseline_adjust`` is on: its
    cells take each agent's pilot arm (everybody was on the old program then; an export may label
    the baseline with the old program's arm) and agents not in the pilot are left out.
    """
    arms = [spec.arms.control, spec.arms.treatment]
    optional = tuple(design.OPTIONAL_PERIODS) if spec.model.baseline_adjust else ()
    periods = [*design.PERIODS, *optional]
    used = cells[cells["period"].astype(str).isin(periods)].copy()
    used["arm"] = used["arm"].astype(str)
    used["period"] = used["period"].astype(str)
    extra = ~used["period"].isin(design.PERIODS)
    if extra.any():
        agent = used["agent_id"].astype(str)
        pilot = used[~extra & used["arm"].isin(arms)]
        by_agent = pilot.groupby([pilot["agent_id"].astype(str), "arm"])["n"].sum().reset_index()
        by_agent = by_agent.sort_values("n", ascending=False, kind="stable").drop_duplicates("agent_id")
        arm_of = dict(zip(by_agent["agent_id"], by_agent["arm"], strict=True))
        used.loc[extra, "arm"] = agent[extra].map(arm_of).fillna("")
    return used[used["arm"].isin(arms)].reset_index(drop=True)


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


def unit_table(spec: Spec, df: pd.DataFrame) -> pd.DataFrame:
    """One row per agent x arm (``_unit``): its arm, team, site (most frequent), interactions, group."""
    df = df.assign(_unit=df["agent_id"].astype(str) + "\x1f" + df["arm"].astype(str))
    site = df["site"] if "site" in df else pd.Series("", index=df.index)
    units = df.groupby("_unit", sort=True).agg(arm=("arm", "first"), n=("n", "sum"))
    units["team"] = modal_by(df["_unit"], df["team"].astype(str))
    units["site"] = modal_by(df["_unit"], site.astype(str))
    units = units[["arm", "team", "site", "n"]].reset_index()
    units["group"] = (units["arm"] == spec.arms.treatment).astype(int)
    return units


def _levels_of(spec: Spec, units: pd.DataFrame) -> tuple[bool, bool]:
    """(team effects, site effects): at least two members with more than one unit below them."""
    n_teams = units["team"].nunique()
    n_sites = units["site"].nunique()
    team_sizes = units.groupby("team").size()
    teams_per_site = units.groupby("site")["team"].nunique()
    above_unit = spec.unit in ("team", "site")
    has_teams = n_teams >= 2 and (team_sizes >= 2).any() and (spec.model.team_effects or spec.unit == "team")
    lower = teams_per_site if has_teams else units.groupby("site").size()
    has_sites = n_sites >= 2 and (lower >= 2).any() and (spec.model.team_effects or above_unit)
    return bool(has_teams), bool(has_sites)


def baseline_covariate(
    fam: Family,
    pre: pd.DataFrame,
    count: str,
    stats: list[str],
    unit_index: dict[str, int],
    units: pd.DataFrame,
    team_idx: np.ndarray,
) -> tuple[np.ndarray | None, str]:
    """Each unit's baseline level (latent scale, shrunken) from its baseline cells, and a note.

    The level is the family's one-step estimate per unit (:meth:`~qmsprint.models.Family.group_estimates`)
    shrunk by ``s2 / (s2 + v)`` (empirical Bayes, ``s2`` the moment variance between units within
    team x arm, ``v`` the unit's sampling variance), centred over the units; units without baseline
    data get 0. None (and a note) when the baseline shows no spread between units beyond noise.
    """
    pre = pre[pre[count].to_numpy() > 0]
    if pre.empty:
        return None, ""
    obs = fam.observed(pre[count].to_numpy(), pre[stats].to_numpy())
    idx = pre["_unit"].map(unit_index).to_numpy()
    ok = ~pd.isna(idx)
    try:
        est, var = fam.group_estimates({k: v[ok] for k, v in obs.items()}, idx[ok].astype("int64"), len(units))
    except NotImplementedError:
        return None, ""
    s2, k = moment_variance(est, var, team_idx * 2 + units["group"].to_numpy())
    if not (np.isfinite(s2) and s2 > 0 and k >= 3):
        return None, "baseline period not used: its unit levels differ no more than their noise"
    x = np.where(np.isfinite(est), est * s2 / (s2 + var), 0.0)
    x = x - x[np.isfinite(est)].mean()
    share = float(np.mean(np.isfinite(est)))
    return x, (
        f"each unit's baseline level enters the model with an estimated slope (CUPED-like; baseline spread "
        f"sd ~ {np.sqrt(s2):.3g} on the latent scale, {100 * share:.0f}% of units with baseline data)"
    )


def fixed_levels(spec: Spec, n_teams: int, n_sites: int) -> tuple[str, ...]:
    """Team / site levels (and their period shocks) with a fixed prior scale.

    Those with fewer than :data:`MIN_RANDOM_MEMBERS` members that are not the randomization unit: a
    handful of members cannot inform an sd; the randomization unit's sd drives the uncertainty and
    is always estimated.
    """
    out: list[str] = []
    for level, n in (("team", n_teams), ("site", n_sites)):
        if n >= 2 and n < MIN_RANDOM_MEMBERS and UNIT_LEVELS[spec.unit] != level:
            out += [level, f"{level}_period"]
    return tuple(out)


def clusters_per_arm(spec: Spec, units: pd.DataFrame) -> dict[str, int]:
    """Randomization units (``spec.unit``: agents, teams or sites) per arm, among units with data."""
    col = {"agent": "_unit", "team": "team", "site": "site"}[spec.unit]
    out = {}
    for arm in (spec.arms.control, spec.arms.treatment):
        out[arm] = int(units.loc[units["arm"] == arm, col].nunique())
    return out


def prepare_metric(
    spec: Spec, df: pd.DataFrame, metric: str, design: Design, prior: tuple[float, float] | None
) -> MetricBlock:
    """Collapse cells for one metric and build its model block."""
    info = spec.metric(metric).info
    count, stats = info.cell_columns(spec)
    fam = get_family(info.family)
    notes: list[str] = []
    df = df.assign(_unit=df["agent_id"].astype(str) + "\x1f" + df["arm"].astype(str))
    units = unit_table(spec, df)
    has_teams, has_sites = _levels_of(spec, units)
    teams = sorted(units["team"].unique())
    sites = sorted(units["site"].unique())
    unit_index = {u: i for i, u in enumerate(units["_unit"])}
    factor_cols = _factor_columns(spec, metric, has_teams)
    seg_cols = list(spec.segments)
    keys = ["_unit", "arm", "period", *dict.fromkeys([*factor_cols, *seg_cols])]
    sums = ["n", count, *stats]
    col = df[keys + [c for c in dict.fromkeys(sums)]].copy()
    for k in keys:
        col[k] = col[k].astype(str)
    cd = col.groupby(keys, sort=True, observed=True)[list(dict.fromkeys(sums))].sum().reset_index()
    pre = cd[~cd["period"].isin(design.PERIODS)]  # an A/B pilot's baseline: a covariate, not modelled cells
    cd = cd[cd["period"].isin(design.PERIODS)].reset_index(drop=True)
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
    site_idx = units["site"].map({s: i for i, s in enumerate(sites)}).to_numpy()
    lik_mask = cd[count].to_numpy() > 0
    lik = cd[lik_mask].reset_index(drop=True)
    n_periods = 2 if lik["period"].nunique() >= 2 else 1
    fixed = fixed_levels(spec, len(teams) if has_teams else 1, len(sites) if has_sites else 1)
    covariate, cov_note = baseline_covariate(fam, pre, count, stats, unit_index, units, team_idx)
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
        unit_site=site_idx if has_sites else np.zeros(len(units), dtype=int),
        n_sites=len(sites) if has_sites else 1,
        periods=n_periods,
        fixed=fixed,
        unit_covariate=covariate,
    )
    obs = fam.observed(lik[count].to_numpy(), lik[stats].to_numpy())
    pri = resolve_priors(fam.name, metric, dict(spec.model.priors))
    choices = choose_levels(fam.name, arrays, obs)
    notes.append(parametrisation_note(choices, fixed))
    if cov_note:
        notes.append(cov_note)
    if not has_teams and spec.model.team_effects:
        notes.append("no team effects: the data have fewer than two teams with more than one agent")
    if prior is not None:
        notes.append(f"prior on the latent effect from an earlier run: Normal({prior[0]:.3g}, {prior[1]:.3g})")
    block = ModelBlock(
        name=metric,
        family=fam.name,
        design=arrays,
        obs=obs,
        priors=pri,
        centred=[lv for lv, c in choices.items() if c.centred],
        effect_prior=prior,
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
        eff_post=post[pop],
        choices=choices,
    )


def parametrisation_note(choices: dict[str, LevelChoice], fixed: tuple[str, ...] = ()) -> str:
    """One sentence: which levels are modelled, their moment sds and the form chosen for each."""
    parts = []
    for lv, c in choices.items():
        if lv in fixed:
            parts.append(f"{LEVEL_LABELS[lv]} effects with a fixed prior scale (few members)")
            continue
        form = "centred" if c.centred else "non-centred"
        sd = f"sd ~ {c.sd:.3g}" if np.isfinite(c.sd) else "sd not estimable"
        se = f", {c.se:.3g} per member" if np.isfinite(c.se) else ""
        parts.append(f"{LEVEL_LABELS[lv]} effects {form} ({sd}{se})")
    return "random effects with estimated sds, parametrisation from the data: " + "; ".join(parts)
