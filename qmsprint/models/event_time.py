"""Time terms of the roll-out designs: a hierarchical event study (waves) and an interrupted time series (prepost).

Staggered roll-out (``kind="waves"``). Cell ``c`` of agent ``a`` (team ``t``), of switching
unit ``k``, in calendar week ``w``::

    eta_c = b_a + X_c beta + W[w] + UW[k, w] + active_c (tau_pair[g_c, e_c] + sum_s dev_s[seg_sc])
    b_a   = mu + T[t] + sd_unit z_a                                 (hierarchical agent effects)
    T[t]  ~ Normal(0, team_sd)                                      (fixed scale: a handful of teams)
    W[0]  = 0,  W[w] ~ Normal(0, period_sd)                         (calendar-week effects)
    UW[k, w] = sd_unit_week z_kw                                    (switching unit x week variation)
    tau_pair[g, e] = theta[e] + d_ge,  d_ge ~ Normal(0, segment_sd) (wave g, e weeks after its switch)
    theta[e] = tau + r_e - mean(r),  r_0 = 0,  r_e = r_e-1 + s_e,  s_e ~ Normal(0, 0.1 effect_sd)

The event-time profile is a random walk (an effect that grows over the first weeks moves smoothly
from week to week) centred so that ``tau`` is its mean over the weeks since the switch.

``active_c`` is 1 for cells of a unit that has switched. The week effects ``W`` are learnt from the
cells not (yet) on the new program, the not-yet-switched and never-switched units, so every wave
is compared only with units still on the old program in the same week: the comparison of
Callaway & Sant'Anna (2021), written as Wooldridge's (2021) two-way fixed effects with one effect
per wave x weeks since the switch, with the agents, the unit x week variation and the wave x
event-time effects partially pooled. The plain two-way fixed-effects estimate (one ``tau`` for
all switched cells) uses already-switched units as controls and is biased when the effect
changes over time (Goodman-Bacon 2021); this model never does.

Before/after without a control group (``kind="prepost"``), cell ``c`` in week ``w``::

    eta_c = b_a + X_c beta + beta_trend t_w + sum_k (s_k sin(2 pi k w / P) + c_k cos(2 pi k w / P))
            + V[w] + post_c (tau + sum_s dev_s[seg_sc])
    V[w] = sd_week_noise z_w                                        (week-to-week variation)

with ``t_w`` the week rescaled to [-0.5, 0.5] over the data and ``P`` the seasonal cycle in weeks.
The effect is the level shift at the switch against the extrapolated trend and season: an
interrupted time series, only as good as that extrapolation (there is no control group).

:class:`EventCellDesign` carries the arrays; the families build it through
:func:`.terms.linear_predictor`, which hands over to :meth:`EventCellDesign.predictor`.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qmsprint.models.terms import CellDesign, adjusted

__all__ = ["EVENT_STEP", "EventCellDesign", "season_features"]

EVENT_STEP = 0.1  # prior sd of the week-to-week change of the event-time profile, as a share of effect_sd


def season_features(week: np.ndarray, period: float, harmonics: int) -> np.ndarray:
    """Sine / cosine columns of a seasonal cycle of ``period`` weeks (``2 * harmonics`` columns)."""
    w = np.asarray(week, float)
    cols = []
    for k in range(1, harmonics + 1):
        cols += [np.sin(2 * np.pi * k * w / period), np.cos(2 * np.pi * k * w / period)]
    return np.column_stack(cols) if cols else np.zeros((len(w), 0))


def _level(p: str, level: str, n: int, scale: float, centred: bool, mean: Any = 0.0) -> Any:
    """``n`` effects ``Normal(mean, sd)`` with ``sd ~ HalfNormal(scale)``, centred or non-centred."""
    import pymc as pm

    sd = pm.HalfNormal(f"{p}_sd_{level}", scale)
    if centred:
        return pm.Normal(f"{p}_{level}", mu=mean, sigma=sd, shape=n)
    z = pm.Normal(f"{p}_{level}_z", 0.0, 1.0, shape=n)
    return pm.Deterministic(f"{p}_{level}", mean + sd * z)


@dataclass
class EventCellDesign(CellDesign):
    """Design arrays of a roll-out design's weekly cells (``kind`` ``waves`` or ``prepost``).

    Parameters (besides :class:`~.terms.CellDesign`'s; ``active`` marks cells on the new program)
    ----------
    week
        Per cell: calendar week index (0 = the first week of the data).
    n_weeks
        Number of weeks.
    unit_week
        Waves, per cell: index of its switching unit x week variation (``n_unit_weeks`` of them).
    pair
        Waves, per cell: 0 off the new program, else 1 + the index of its wave x weeks-since-switch effect.
    pair_event
        Waves, per wave x event-time effect: its weeks-since-switch bin (``n_events`` bins).
    time
        Prepost, per week: the week rescaled to [-0.5, 0.5].
    season
        Prepost, per week: the seasonal sine / cosine columns (none: no season).
    trend
        Prepost: a linear trend.

    """

    week: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    n_weeks: int = 1
    unit_week: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    n_unit_weeks: int = 0
    pair: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    pair_event: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    n_events: int = 0
    time: np.ndarray = field(default_factory=lambda: np.zeros(0))
    season: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    trend: bool = True

    @property
    def waves(self) -> bool:
        """Staggered roll-out (else before/after)."""
        return self.kind == "waves"

    def shape_key(self) -> tuple:
        """What fixes the compiled model's shape."""
        return (
            *super().shape_key(),
            self.n_weeks,
            self.n_unit_weeks,
            len(self.pair_event),
            self.n_events,
            self.season.shape[1],
            self.trend,
        )

    def data(self, prefix: str) -> dict[str, np.ndarray]:
        """Arrays for ``pm.Data`` containers (the shared ones plus the time terms')."""
        p = prefix
        d = super().data(p)
        d.pop(f"{p}__unit_group", None)  # no arm groups: units switch over time (an unused container breaks with_data)
        if self.n_weeks > 1 or not self.waves:
            d[f"{p}__week"] = np.asarray(self.week, "int64")
        if self.waves:
            d.pop(f"{p}__active", None)  # the wave x event-time index carries it
            d[f"{p}__pair"] = np.asarray(self.pair, "int64")
            d[f"{p}__pair_event"] = np.asarray(self.pair_event, "int64")
            if self.n_unit_weeks:
                d[f"{p}__unit_week"] = np.asarray(self.unit_week, "int64")
        else:
            d[f"{p}__active"] = np.asarray(self.active, "float64")
            if self.trend:
                d[f"{p}__time"] = np.asarray(self.time, "float64")
            if self.season.shape[1]:
                d[f"{p}__season"] = np.ascontiguousarray(self.season, dtype="float64")
        return d

    def core_parameters(self, prefix: str) -> list[str]:
        """Parameters behind the reported effects (for diagnostics)."""
        p = prefix
        names = [f"{p}_effect"]
        if self.waves:
            names += [f"{p}_event_effect", f"{p}_pair_effect"]
            if self.n_unit_weeks:
                names.append(f"{p}_sd_unit_week")
        else:
            names += [f"{p}_sd_week_noise"] + ([f"{p}_trend"] if self.trend else [])
            if self.season.shape[1]:
                names.append(f"{p}_season")
        if self.n_weeks > 1:
            names.append(f"{p}_week_raw" if self.waves else f"{p}_week")
        names += [f"{p}_sd_unit"] if self.unit_effects else []
        names += [f"{p}_team"] if self.n_teams >= 2 else []
        if self.X.shape[1]:
            names.append(f"{p}_adjust")
        names += [f"{p}_seg{i}" for i in range(len(self.seg_levels))]
        return names

    def predictor(
        self,
        prefix: str,
        data: dict[str, Any],
        pri: dict[str, float],
        *,
        centred: Collection[str] | bool,
        intercept: bool,
        effect_mu: Any,
        effect_sd: Any,
        center: Any = 0.0,
    ) -> Any:
        """Add this design's terms to the current PyMC model and return ``eta`` per likelihood cell."""
        import pymc as pm
        import pytensor.tensor as pt

        p = prefix
        cset = {"unit"} if centred is True else set() if centred is False else set(centred)
        if isinstance(effect_sd, float) and math.isinf(effect_sd):
            tau = pm.Flat(f"{p}_effect")
        else:
            tau = pm.Normal(f"{p}_effect", mu=effect_mu, sigma=effect_sd)
        mu: Any = 0.0
        if intercept:
            raw = (
                pm.Flat(f"{p}_intercept_raw")
                if math.isinf(pri["intercept_sd"])
                else pri["intercept_sd"] * pm.Normal(f"{p}_intercept_raw", 0.0, 1.0)
            )
            mu = pm.Deterministic(f"{p}_intercept", center + raw)
        unit_mean = mu
        if self.n_teams >= 2:  # fixed prior scale: a hierarchical sd over a handful of teams makes a funnel
            team = pm.Normal(f"{p}_team", 0.0, pri["team_sd"], shape=self.n_teams)
            unit_mean = unit_mean + team[data[f"{p}__unit_team"]]
        if self.unit_effects:
            b = _level(p, "unit", self.n_units, pri["unit_sd"], "unit" in cset, unit_mean)
        else:
            b = pm.Deterministic(f"{p}_unit", unit_mean * pt.ones(self.n_units))
        eta = adjusted(p, self, data, pri, b[data[f"{p}__unit"]])
        period_sd = pri["period_sd"]
        spread_sd = pri.get("team_period_sd", pri["team_sd"])
        if self.waves:
            if self.n_weeks > 1:
                raw_w = pm.Normal(f"{p}_week_raw", 0.0, period_sd, shape=self.n_weeks - 1)
                week = pm.Deterministic(f"{p}_week", pt.concatenate([pt.zeros(1), raw_w]))
                eta = eta + week[data[f"{p}__week"]]
            if self.n_unit_weeks:
                uw = _level(p, "unit_week", self.n_unit_weeks, spread_sd, False)
                eta = eta + uw[data[f"{p}__unit_week"]]
            # event-time profile: a random walk over the weeks since the switch, centred on tau (fixed step
            # scale: a hierarchical sd over a few weeks makes a funnel)
            step_sd = EVENT_STEP * pri["effect_sd"] if math.isfinite(pri["effect_sd"]) else EVENT_STEP
            if self.n_events > 1:
                step = pm.Normal(f"{p}_event_step", 0.0, step_sd, shape=self.n_events - 1)
                steps = np.tril(np.ones((self.n_events, self.n_events - 1)), -1)  # walk_e = sum of steps before e
                walk = pt.dot(steps, step)
                theta = pm.Deterministic(f"{p}_event_effect", tau + walk - pt.mean(walk))
            else:
                theta = pm.Deterministic(f"{p}_event_effect", tau * pt.ones(1))
            wave_dev = pm.Normal(f"{p}_wave_dev", 0.0, pri["segment_sd"], shape=len(self.pair_event))
            pair_eff = pm.Deterministic(f"{p}_pair_effect", theta[data[f"{p}__pair_event"]] + wave_dev)
            eta = eta + pt.concatenate([pt.zeros(1), pair_eff])[data[f"{p}__pair"]]
        else:
            week = pt.zeros(self.n_weeks)
            if self.trend:
                week = week + pm.Normal(f"{p}_trend", 0.0, period_sd) * data[f"{p}__time"]
            if self.season.shape[1]:
                coef = pm.Normal(f"{p}_season", 0.0, 0.5 * period_sd, shape=self.season.shape[1])
                week = week + pt.dot(data[f"{p}__season"], coef)
            week = week + _level(p, "week_noise", self.n_weeks, spread_sd, False)
            week = pm.Deterministic(f"{p}_week", week)
            eta = eta + week[data[f"{p}__week"]] + tau * data[f"{p}__active"]
        for i, n_levels in enumerate(self.seg_levels):
            dev = pm.Normal(f"{p}_seg{i}", 0.0, pri["segment_sd"], shape=n_levels)
            eta = eta + pt.concatenate([pt.zeros(n_levels), dev])[data[f"{p}__seg{i}"]]
        return eta
