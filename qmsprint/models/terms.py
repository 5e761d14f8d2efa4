"""Shared model terms: the design arrays of a metric's cells and the linear predictor.

Every family (:mod:`.ordinal`, :mod:`.binomial`, :mod:`.continuous`) builds its latent predictor
per cell with :func:`linear_predictor`::

    eta_c = b[unit_c] + X_c beta + gamma post_c + active_c (tau_did + sum_s dev_s[seg_sc])
    b_u   ~ Normal(mu + g_u coef + team[team_u], sd_unit)           (centred on the arm's mean)
    b_u   = mu + g_u coef + team[team_u] + sd_unit z_u, z_u ~ N(0, 1)  (non-centred)

with ``coef = tau`` (the treatment effect) in an A/B design (agents are centred on their arm's
mean) and ``coef = delta`` (the baseline group difference) in a DiD design, where ``tau`` enters
as the group x period interaction ``active_c = g_u * post_c`` and ``gamma`` is the period shock.
``dev_s`` are treatment x segment deviations shrunk towards 0 by a fixed-scale prior, ``X`` are the
adjustment dummies (channel / contact reason / segment main effects). Ordinal models have no
intercept (``mu = 0``: the cutpoints carry it).

Models only see arrays; nothing here knows about files, arms or spec files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np


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
        Per cell: 1 in the pilot period, 0 in the baseline (all 1 for A/B).
    active
        Per cell: 1 when the new program is active (A/B: treated unit; DiD: treated unit x pilot).
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
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_units(self) -> int:
        """Number of units."""
        return len(self.unit_group)

    @property
    def n_cells(self) -> int:
        """Number of likelihood cells."""
        return len(self.unit)

    def shape_key(self) -> tuple:
        """What fixes the compiled model's shape (data lengths may change freely)."""
        return (
            self.kind,
            self.n_units,
            self.n_teams if self.n_teams >= 2 else 1,
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
        if self.kind == "did":
            d[f"{prefix}__post"] = self.post.astype("float64")
            d[f"{prefix}__active"] = self.active.astype("float64")
        if self.n_teams >= 2:
            d[f"{prefix}__unit_team"] = self.unit_team.astype("int64")
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


def linear_predictor(
    prefix: str,
    design: CellDesign,
    data: dict[str, Any],
    pri: dict[str, float],
    *,
    centred: bool,
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
        Agent effects centred on their arm's mean (True) or non-centred.
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

    p = prefix
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
    if design.kind == "did":
        coef = pm.Normal(f"{p}_group", 0.0, pri["group_sd"])
    else:
        coef = tau
    unit_mean = mu + g * coef
    if design.n_teams >= 2:
        # fixed prior scale: a hierarchical sd over a handful of teams makes a funnel
        team = pm.Normal(f"{p}_team", 0.0, pri["team_sd"], shape=design.n_teams)
        unit_mean = unit_mean + team[data[f"{p}__unit_team"]]
    n_units = design.n_units
    if design.unit_effects:
        sd_unit = pm.HalfNormal(f"{p}_sd_unit", pri["unit_sd"])
        if centred:
            b = pm.Normal(f"{p}_unit", mu=unit_mean, sigma=sd_unit, shape=n_units)
        else:
            z = pm.Normal(f"{p}_unit_z", 0.0, 1.0, shape=n_units)
            b = pm.Deterministic(f"{p}_unit", unit_mean + sd_unit * z)
    else:
        b = pm.Deterministic(f"{p}_unit", unit_mean * pt.ones(n_units))
    eta = b[data[f"{p}__unit"]]
    k = design.X.shape[1]
    if k:
        beta = pm.Normal(f"{p}_adjust", 0.0, pri["adjust_sd"], shape=k)
        if design.x_blocks:
            # X is one-hot per factor: look each factor's effect up (reference level = 0)
            off = 0
            for i, size in enumerate(design.x_blocks):
                table = pt.concatenate([pt.zeros(1), beta[off : off + size]])
                eta = eta + table[data[f"{p}__xcode{i}"]]
                off += size
        else:
            eta = eta + pt.dot(data[f"{p}__X"], beta)
    if design.kind == "did":
        gamma = pm.Normal(f"{p}_period", 0.0, pri["period_sd"])
        eta = eta + gamma * data[f"{p}__post"] + tau * data[f"{p}__active"]
    for i, levels in enumerate(design.seg_levels):
        # fixed prior scale (a hierarchical sd over a few channels would make a funnel); the
        # deviation applies where the new program is active (codes >= levels, see CellDesign.data)
        dev = pm.Normal(f"{p}_seg{i}", 0.0, pri["segment_sd"], shape=levels)
        eta = eta + pt.concatenate([pt.zeros(levels), dev])[data[f"{p}__seg{i}"]]
    return eta


def core_parameters(prefix: str, design: CellDesign) -> list[str]:
    """Names of the scalar/vector parameters behind the reported effects (for diagnostics)."""
    p = prefix
    names = [f"{p}_effect"]
    if design.kind == "did":
        names += [f"{p}_group", f"{p}_period"]
    if design.n_teams >= 2:
        names.append(f"{p}_team")
    if design.unit_effects:
        names.append(f"{p}_sd_unit")
    if design.X.shape[1]:
        names.append(f"{p}_adjust")
    for i in range(len(design.seg_levels)):
        names.append(f"{p}_seg{i}")
    return names
