"""Shared model terms: the design arrays of a metric's cells and the linear predictor.

Every family (:mod:`.ordinal`, :mod:`.binomial`, :mod:`.gamma`, :mod:`.continuous`) builds its
latent predictor per cell with :func:`linear_predictor`. With ``a`` the agent (unit) of cell ``c``,
``t`` its team, ``s`` its site and ``q`` its period (0 baseline, 1 pilot)::

    eta_c = b_a + X_c beta + active_c (tau + sum_s dev_s[seg_sc])                 (every design)
            + q_c (gamma + TP[t] + SP[s] + AP[a])                                    (two periods)
    b_a   = mu + g_a coef + beta x_a + T[t] + S[s] + sd_unit z_a                     (agent effects)

Levels (each ``Normal(0, sd_level)`` with ``sd_level ~ HalfNormal(<level>_sd)`` estimated):
agents ``b`` (``unit``), teams ``T`` (``team``), sites ``S`` (``site``), and with both periods the
unit x period shocks, written as each member's change from the baseline to the pilot period:
team x period ``TP`` (``team_period``), site x period ``SP`` (``site_period``) and agent x period
``AP`` (``unit_period``). A shock of sd ``s`` in each period moves a member's pilot level against
its baseline by ``sqrt(2) s``: that change is what the model estimates (a member's baseline shock
is part of its level ``b``, ``T`` or ``S``). Each level is centred or non-centred on its own
(:func:`.priors.choose_levels` decides from the data). A level listed in ``CellDesign.fixed``
(few members above the randomization unit, e.g. two sites) keeps its effects but with the fixed
prior scale ``<level>_sd`` instead of an estimated sd, which a handful of members cannot inform.
Every level but the agents' sums to zero (``pm.ZeroSumNormal``): the intercept and the period
change carry the members' mean, which removes the ridge between them and the same fit samples faster.

* A/B (``kind="ab"``, the pilot period): agents are centred on their arm's mean, ``coef = tau``
  and ``active`` does not enter (the arm difference is the effect). With a baseline period, each
  agent's baseline level ``x_a`` (a shrunken estimate from its baseline cells) enters its mean as
  ``beta x_a`` with an estimated slope: the hierarchical counterpart of CUPED. The pilot-period
  team (site) effects are the team x pilot-period shocks; ``beta`` shrinks towards 0 when baseline
  levels do not carry over. (A two-period A/B, ``periods=2``, is modelled like a DiD without the
  group difference.)
* Difference-in-differences (``kind="did"``): ``coef = delta`` (baseline group difference),
  ``active = g * q``, ``gamma`` the period shock.

``dev_s`` are treatment x segment deviations shrunk towards 0 by a fixed-scale prior, ``X`` the
adjustment dummies (channel / contact reason / segment main effects). Ordinal models have no
intercept (``mu = 0``: the cutpoints carry it). :func:`untreated` and :func:`treated_shift`
evaluate the same predictor from posterior draws for any cells (the readout's counterfactuals).

Models only see arrays; nothing here knows about files, arms or spec files.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

# random-effect levels in the order they are built; the prior scale of level L is ``<L>_sd``
LEVELS = ("unit", "team", "site", "team_period", "site_period", "unit_period")
LEVEL_LABELS = {
    "unit": "agent",
    "team": "team",
    "site": "site",
    "team_period": "team x period",
    "site_period": "site x period",
    "unit_period": "agent x period",
}


@dataclass
class CellDesign:
    """Design arrays of one metric's likelihood cells (all numpy).

    Parameters
    ----------
    kind
        ``ab`` or ``did``.
    unit
        Per cell: index of the unit (agent) it belongs to.
    post
        Per cell: 1 in the pilot period, 0 in the baseline (all 1 when only the pilot is modelled).
    active
        Per cell: 1 when the new program is active (treated unit, in the pilot period).
    X
        Per cell adjustment dummies, shape (cells, p).
    seg
        Per cell segment codes, shape (cells, number of segment columns).
    unit_group
        Per unit: 1 for the treatment arm / group.
    unit_team
        Per unit: team index (all 0 when there are no team effects).
    n_teams
        Number of teams (team effects only when >= 2).
    seg_levels
        Number of levels of each segment column.
    unit_effects
        Whether agent effects are in the model (False only in known-answer tests).
    x_blocks
        Sizes of the one-hot dummy blocks that make up ``X`` (one per adjustment factor, reference
        level dropped), or ``()`` when ``X`` is not made of such blocks. With blocks, the model
        looks the adjustment up per cell instead of multiplying by ``X``.
    unit_site
        Per unit: site index (None or all 0 without site effects).
    n_sites
        Number of sites (site effects only when >= 2).
    periods
        1 (pilot only) or 2 (baseline and pilot cells).
    period_effects
        With two periods: unit x period terms (team x period, site x period, agent x period).
    fixed
        Levels whose effects get the fixed prior scale ``<level>_sd`` (no sd parameter).
    omit
        Levels left out although the data have them (see :attr:`levels`).
    unit_covariate
        Per unit: a pre-period level (an A/B pilot's baseline, see :mod:`qmsprint.experiments.prepare`)
        that enters the agents' mean with an estimated slope ``baseline``; None without one.

    """

    kind: Literal["ab", "did"]
    unit: np.ndarray
    post: np.ndarray
    active: np.ndarray
    X: np.ndarray
    seg: np.ndarray
    unit_group: np.ndarray
    unit_team: np.ndarray
    n_teams: int = 1
    seg_levels: tuple[int, ...] = ()
    unit_effects: bool = True
    x_blocks: tuple[int, ...] = ()
    unit_site: np.ndarray | None = None
    n_sites: int = 1
    periods: int = 1
    period_effects: bool = True
    fixed: tuple[str, ...] = ()
    unit_covariate: np.ndarray | None = None
    omit: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind == "did":
            self.periods = 2
        if self.unit_site is None:
            self.unit_site = np.zeros(len(self.unit_group), dtype=int)

    @property
    def n_units(self) -> int:
        """Number of units."""
        return len(self.unit_group)

    @property
    def n_cells(self) -> int:
        """Number of likelihood cells."""
        return len(self.unit)

    @property
    def arm_centred(self) -> bool:
        """A/B on one period: agents are centred on their arm's mean and ``tau`` is the arm difference."""
        return self.kind == "ab" and self.periods == 1

    @property
    def levels(self) -> tuple[str, ...]:
        """Random-effect levels in the model (see :data:`LEVELS`)."""
        out = []
        if self.unit_effects:
            out.append("unit")
        if self.n_teams >= 2:
            out.append("team")
        if self.n_sites >= 2:
            out.append("site")
        if self.periods == 2 and self.period_effects:
            if self.n_teams >= 2:
                out.append("team_period")
            if self.n_sites >= 2:
                out.append("site_period")
            if self.unit_effects:
                out.append("unit_period")
        return tuple(lv for lv in out if lv not in self.omit)

    def level_size(self, level: str) -> int:
        """Number of effects of a level (a period level has one change per member)."""
        return {"unit": self.n_units, "team": self.n_teams, "site": self.n_sites}[level.split("_")[0]]

    def level_index(self, level: str, unit: np.ndarray | None = None) -> np.ndarray:
        """Index into a level's effects for cells of ``unit`` (default: the likelihood cells)."""
        u = np.asarray(self.unit if unit is None else unit, dtype="int64")
        owner = {"unit": u, "team": self.unit_team[u], "site": np.asarray(self.unit_site)[u]}[level.split("_")[0]]
        return np.asarray(owner, dtype="int64")

    def shape_key(self) -> tuple:
        """What fixes the compiled model's shape (data lengths may change freely)."""
        return (
            self.kind,
            self.n_units,
            self.n_teams if self.n_teams >= 2 else 1,
            self.n_sites if self.n_sites >= 2 else 1,
            self.periods,
            self.levels,
            tuple(self.fixed),
            tuple(self.omit),
            self.unit_covariate is not None,
            self.X.shape[1],
            tuple(self.seg_levels),
            self.unit_effects,
            tuple(self.x_blocks),
        )

    def data(self, prefix: str) -> dict[str, np.ndarray]:
        """Arrays to put in ``pm.Data`` containers, named ``<prefix>__<what>``."""
        d = {
            f"{prefix}__unit": self.unit.astype("int64"),
            f"{prefix}__unit_group": self.unit_group.astype("float64"),
        }
        if not self.arm_centred:
            d[f"{prefix}__active"] = self.active.astype("float64")
        if self.periods == 2:
            d[f"{prefix}__post"] = self.post.astype("float64")
        if self.n_teams >= 2:
            d[f"{prefix}__unit_team"] = self.unit_team.astype("int64")
        if self.n_sites >= 2:
            d[f"{prefix}__unit_site"] = np.asarray(self.unit_site).astype("int64")
        if self.unit_covariate is not None:
            d[f"{prefix}__unit_x"] = np.asarray(self.unit_covariate, dtype="float64")
        for level in ("team", "site"):
            if f"{level}_period" in self.levels:
                d[f"{prefix}__{level}_of_cell"] = self.level_index(level)
        if self.x_blocks:
            for i, code in enumerate(self.x_codes()):
                d[f"{prefix}__xcode{i}"] = code
        elif self.X.shape[1]:
            d[f"{prefix}__X"] = np.ascontiguousarray(self.X, dtype="float64")
        on = np.asarray(self.active, float)
        for i, levels in enumerate(self.seg_levels):
            # segment level, shifted past the untreated levels where the new program is active
            d[f"{prefix}__seg{i}"] = (self.seg[:, i] + levels * (on > 0)).astype("int64")
        return d

    def x_codes(self) -> list[np.ndarray]:
        """Per dummy block of ``X``: 0 for the reference level, else 1 + the column set in the block."""
        if sum(self.x_blocks) != self.X.shape[1]:
            raise ValueError(f"x_blocks {self.x_blocks} do not add up to the {self.X.shape[1]} columns of X")
        codes, off = [], 0
        for size in self.x_blocks:
            sub = np.asarray(self.X[:, off : off + size])
            if not (np.isin(sub, (0.0, 1.0)).all() and (sub.sum(axis=1) <= 1).all()):
                raise ValueError("X is not made of one-hot dummy blocks")
            codes.append(np.where(sub.any(axis=1), sub.argmax(axis=1) + 1, 0).astype("int64"))
            off += size
        return codes


def _level_effects(
    p: str, level: str, n: int, scale: float, centred: bool, mean: Any = 0.0, fixed: bool = False
) -> Any:
    """``n`` effects ``Normal(mean, sd)``, ``sd ~ HalfNormal(scale)``, centred or not (``fixed``: sd = scale).

    Every level but the agents' is drawn summing to zero (``pm.ZeroSumNormal``, ``sd`` that of the
    unconstrained effects): the members' mean is one more shift of the intercept (period change for
    a period level), whose wide prior absorbs it, so the fit is the same while the ridge between the
    intercept and the members' mean is gone (it slowed sampling most with few members).
    """
    import pymc as pm

    dist = pm.Normal if level == "unit" else pm.ZeroSumNormal
    if fixed:
        return mean + dist(f"{p}_{level}", sigma=scale, shape=n)
    sd = pm.HalfNormal(f"{p}_sd_{level}", scale)
    if centred:
        if level == "unit":
            return pm.Normal(f"{p}_{level}", mu=mean, sigma=sd, shape=n)
        return mean + dist(f"{p}_{level}", sigma=sd, shape=n)
    z = dist(f"{p}_{level}_z", sigma=1.0, shape=n)
    return pm.Deterministic(f"{p}_{level}", mean + sd * z)


def linear_predictor(
    prefix: str,
    design: CellDesign,
    data: dict[str, Any],
    pri: dict[str, float],
    *,
    centred: Collection[str] | bool,
    intercept: bool,
    effect_mu: Any,
    effect_sd: Any,
    center: Any = 0.0,
):
    """Add the shared latent-predictor terms of one metric to the current PyMC model.

    Parameters
    ----------
    prefix
        Metric name; every variable is named ``<prefix>_<what>``.
    design
        Shapes (see :class:`CellDesign`).
    data
        ``pm.Data`` containers from :meth:`CellDesign.data` (plus ``<prefix>__center``).
    pri
        Prior scales (:func:`.priors.resolve_priors`).
    centred
        Levels in the centred form (the others are non-centred); ``True`` / ``False`` = all / none.
    intercept
        Whether there is an intercept (False for ordinal models).
    effect_mu, effect_sd
        Prior mean and sd of the treatment effect (data containers or numbers; ``inf`` sd = flat).
    center
        Prior centre of the intercept.

    Returns
    -------
    TensorVariable
        ``eta`` per likelihood cell.

    """
    import pymc as pm
    import pytensor.tensor as pt

    custom = getattr(design, "predictor", None)
    if custom is not None:  # designs with their own time terms (qmsprint.models.event_time)
        args = {"centred": centred, "intercept": intercept, "effect_mu": effect_mu, "effect_sd": effect_sd}
        return custom(prefix, data, pri, center=center, **args)
    p = prefix
    levels = design.levels
    cset = set(levels) if centred is True else set() if centred is False else set(centred)
    if isinstance(effect_sd, float) and math.isinf(effect_sd):
        tau = pm.Flat(f"{p}_effect")
    else:
        tau = pm.Normal(f"{p}_effect", mu=effect_mu, sigma=effect_sd)
    if intercept:
        if math.isinf(pri["intercept_sd"]):
            mu = pm.Deterministic(f"{p}_intercept", center + pm.Flat(f"{p}_intercept_raw"))
        else:
            mu = pm.Deterministic(
                f"{p}_intercept", center + pri["intercept_sd"] * pm.Normal(f"{p}_intercept_raw", 0.0, 1.0)
            )
    else:
        mu = 0.0
    g = data[f"{p}__unit_group"]
    unit_mean = mu
    if design.kind == "did":
        unit_mean = unit_mean + g * pm.Normal(f"{p}_group", 0.0, pri["group_sd"])
    elif design.arm_centred:
        unit_mean = unit_mean + g * tau
    if design.unit_covariate is not None:
        unit_mean = unit_mean + pm.Normal(f"{p}_baseline", 0.0, pri["baseline_sd"]) * data[f"{p}__unit_x"]
    for level in ("team", "site"):
        if level in levels:
            eff = _level_effects(
                p, level, design.level_size(level), pri[f"{level}_sd"], level in cset, fixed=level in design.fixed
            )
            unit_mean = unit_mean + eff[data[f"{p}__unit_{level}"]]
    n_units = design.n_units
    if "unit" in levels:
        b = _level_effects(p, "unit", n_units, pri["unit_sd"], "unit" in cset, unit_mean)
    else:
        b = pm.Deterministic(f"{p}_unit", unit_mean * pt.ones(n_units))
    eta = adjusted(p, design, data, pri, b[data[f"{p}__unit"]])
    if design.periods == 2:
        change = pm.Normal(f"{p}_period", 0.0, pri["period_sd"])
        for level in levels:
            if level.endswith("_period"):
                owner = level.split("_")[0]
                eff = _level_effects(
                    p, level, design.level_size(level), pri[f"{level}_sd"], level in cset, fixed=level in design.fixed
                )
                idx = data[f"{p}__unit"] if owner == "unit" else data[f"{p}__{owner}_of_cell"]
                change = change + eff[idx]
        eta = eta + change * data[f"{p}__post"]
    if not design.arm_centred:
        eta = eta + tau * data[f"{p}__active"]
    for i, n_levels in enumerate(design.seg_levels):
        # fixed prior scale (a hierarchical sd over a few channels would make a funnel); the
        # deviation applies where the new program is active (codes >= n_levels, see CellDesign.data)
        dev = pm.Normal(f"{p}_seg{i}", 0.0, pri["segment_sd"], shape=n_levels)
        eta = eta + pt.concatenate([pt.zeros(n_levels), dev])[data[f"{p}__seg{i}"]]
    return eta


def adjusted(prefix: str, design: CellDesign, data: dict[str, Any], pri: dict[str, float], eta: Any) -> Any:
    """``eta`` plus the adjustment terms ``X beta`` (``beta ~ Normal(0, adjust_sd)``), when ``X`` has columns.

    With ``design.x_blocks`` (``X`` one-hot per factor) each factor's effect is looked up per cell
    (reference level = 0) instead of multiplying by ``X``.
    """
    import pymc as pm
    import pytensor.tensor as pt

    p = prefix
    k = design.X.shape[1]
    if not k:
        return eta
    beta = pm.Normal(f"{p}_adjust", 0.0, pri["adjust_sd"], shape=k)
    if not design.x_blocks:
        return eta + pt.dot(data[f"{p}__X"], beta)
    off = 0
    for i, size in enumerate(design.x_blocks):
        table = pt.concatenate([pt.zeros(1), beta[off : off + size]])
        eta = eta + table[data[f"{p}__xcode{i}"]]
        off += size
    return eta


def block_predictor(block: Any, data: dict[str, Any]) -> Any:
    """A model block's :func:`linear_predictor` (its design, priors, parametrisation and effect prior).

    With an intercept (its family's ``intercept``), its prior is centred on the block's
    ``<prefix>__center`` container.
    """
    p = block.prefix
    intercept = block.fam.intercept
    extra = {"center": data[f"{p}__center"]} if intercept else {}
    return linear_predictor(
        p,
        block.design,
        data,
        block.priors,
        centred=block.centred,
        intercept=intercept,
        **block.effect_args(data),
        **extra,
    )


Draws = Callable[[str], np.ndarray]  # parameter suffix (``effect``, ``period``, ``team_period``) -> draws


def untreated(design: CellDesign, draws: Draws, unit: np.ndarray, X: np.ndarray, post: np.ndarray) -> np.ndarray:
    """Latent predictor per (draw, cell) without the new program, for cells given by unit, dummies and period.

    The unit x period terms are the realised ones of each cell's team, site and agent in its period.
    """
    unit = np.asarray(unit, dtype="int64")
    base = draws("unit")[:, unit]
    if X.shape[1]:
        base = base + draws("adjust") @ np.asarray(X).T
    if design.arm_centred:
        base = base - draws("effect")[:, None] * design.unit_group[unit][None, :]
    if design.periods == 2:
        q = np.asarray(post, float)[None, :]
        change = np.repeat(draws("period")[:, None], len(unit), axis=1)
        for level in design.levels:
            if level.endswith("_period"):
                change = change + draws(level)[:, design.level_index(level.split("_")[0], unit)]
        base = base + change * q
    return base


def treated_shift(design: CellDesign, draws: Draws, seg: np.ndarray) -> np.ndarray:
    """Latent treatment effect per (draw, cell): ``tau`` plus the cell's segment deviations."""
    tau = draws("effect")
    delta = np.repeat(tau[:, None], len(seg), axis=1)
    for i in range(len(design.seg_levels)):
        delta = delta + draws(f"seg{i}")[:, np.asarray(seg)[:, i]]
    return delta


def spread_parameters(prefix: str, design: CellDesign) -> list[str]:
    """Names of the variance components (estimated level sds, team effects), checked with looser bars.

    Designs with their own terms (:mod:`qmsprint.models.event_time`) check every parameter with
    the strict bars (:func:`core_parameters`) and have none here.
    """
    if hasattr(design, "core_parameters"):
        return []
    names = [f"{prefix}_team"] if "team" in design.levels else []
    return names + [f"{prefix}_sd_{level}" for level in design.levels if level not in design.fixed]


def core_parameters(prefix: str, design: CellDesign) -> list[str]:
    """Names of the parameters the reported effects are computed from (strict bars; see :func:`spread_parameters`)."""
    if hasattr(design, "core_parameters"):  # designs with their own terms (qmsprint.models.event_time)
        return design.core_parameters(prefix)
    p = prefix
    names = [f"{p}_effect"]
    if design.kind == "did":
        names.append(f"{p}_group")
    if design.periods == 2:
        names.append(f"{p}_period")
    if design.unit_covariate is not None:
        names.append(f"{p}_baseline")
    if design.X.shape[1]:
        names.append(f"{p}_adjust")
    for i in range(len(design.seg_levels)):
        names.append(f"{p}_seg{i}")
    return names
