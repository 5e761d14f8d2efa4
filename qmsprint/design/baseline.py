"""Baseline of a pilot design: what the data (or stated rates) say about each metric before the pilot.

Per metric (:class:`MetricBaseline`): the distribution of an interaction's outcome on its
natural scale (ordinal levels mapped to their values, binary outcomes as 0/100 so effects are in
pp, continuous metrics by mean and SD), the survey response rate, and the variance components the
assurance needs: between-agent variance of true agent means (one-way method of moments; ICC =
tau^2 / (tau^2 + sigma^2)), for team/site units its between-unit part, and for DiD the unit x
period variance (from the two halves of the baseline: how much units' levels move on their own).
Per pilot (:class:`Baseline`): volume per agent-week, agents per unit and baseline weeks.

How a metric is read from rows or from ``design_grid.baseline_rates`` is the metric's own
business (:meth:`~qmsprint.metrics.base.MetricDef.observations`,
:meth:`~qmsprint.metrics.base.MetricDef.stated_baseline`); this module only asks the registry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from qmsprint import metrics as metric_registry
from qmsprint.errors import DataError, DesignError, Problem
from qmsprint.health import unit_column
from qmsprint.metrics import MetricDef
from qmsprint.spec import BaselineRates, Spec


@dataclass
class MetricBaseline:
    """What the baseline says about one metric (natural scale: points, NPS points, pp, seconds).

    Attributes
    ----------
    metric
        Metric name.
    values, shares
        Categorical metrics: the value of each level and its baseline share (empty for continuous metrics).
    mean, sd_within
        Mean of an observation and the SD of observations around their agent's mean.
    tau_unit, tau_agent, tau_period
        SD of true unit means, of agents within a unit (team/site units; 0 for agents) and of
        unit x period shocks (DiD).
    response_rate
        Share of interactions with an observation of this metric.

    """

    metric: str
    values: np.ndarray
    shares: np.ndarray
    mean: float
    sd_within: float
    tau_unit: float
    tau_agent: float
    tau_period: float
    response_rate: float

    @property
    def categorical(self) -> bool:
        """True for level-count metrics (ordinal and binary ones)."""
        return len(self.values) > 0

    @property
    def icc(self) -> float:
        """Share of the outcome's variance between agents."""
        tau2 = self.tau_unit**2 + self.tau_agent**2
        tot = tau2 + self.sd_within**2
        return tau2 / tot if tot > 0 else 0.0

    def level_shares(self) -> dict[str, float]:
        """Share of each level by its value, for ordinal metrics whose levels are their values (CSAT).

        Empty for binary metrics and for ordinal metrics that map several answers to one value
        (NPS: 0-6 all count -100).
        """
        if not self.categorical or metric_registry.get(self.metric).family != "ordinal":
            return {}
        if len(np.unique(self.values)) < len(self.values):
            return {}
        return {str(v): float(s) for v, s in zip(self.values, self.shares, strict=True)}

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {
            "metric": self.metric,
            "mean": self.mean,
            "sd_within": self.sd_within,
            "tau_unit": self.tau_unit,
            "tau_agent": self.tau_agent,
            "tau_period": self.tau_period,
            "icc": self.icc,
            "response_rate": self.response_rate,
            "levels": self.level_shares(),
        }


@dataclass
class Baseline:
    """Baseline parameters the design simulates from.

    Attributes
    ----------
    volume
        Interactions per agent-week.
    agents_per_unit
        Agents per randomized unit (1 for agents).
    baseline_weeks
        Weeks of baseline data (DiD compares the pilot with it).
    metrics
        :class:`MetricBaseline` per metric.
    source
        ``data`` or ``stated rates``.
    n_agents, n_units
        Agents and units behind the estimates (0 for stated rates).
    notes
        Caveats (metrics without a baseline).

    """

    volume: float
    agents_per_unit: float
    baseline_weeks: float
    metrics: dict[str, MetricBaseline]
    source: str
    n_agents: int = 0
    n_units: int = 0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {
            "volume_per_agent_week": self.volume,
            "agents_per_unit": self.agents_per_unit,
            "baseline_weeks": self.baseline_weeks,
            "source": self.source,
            "n_agents": self.n_agents,
            "n_units": self.n_units,
            "metrics": {k: v.to_dict() for k, v in self.metrics.items()},
        }


# --------------------------------------------------------------------------------------------
# Observations on the natural scale
# --------------------------------------------------------------------------------------------


def level_index(y: np.ndarray, info: MetricDef, spec: Spec, n_values: int) -> np.ndarray:
    """Index of each (non-missing) ordinal answer among the metric's levels, clipped to the scale."""
    lo = info.levels(spec)[0]
    return np.clip(np.round(y).astype(int) - lo, 0, n_values - 1)


def natural_values(y: pd.Series, values: np.ndarray, info: MetricDef, spec: Spec) -> pd.Series:
    """Observations on the metric's natural scale: ordinal answers as their level value, binary ones as 0/100.

    Parameters
    ----------
    y, values
        What :meth:`~qmsprint.metrics.base.MetricDef.observations` returned.
    info
        The metric.
    spec
        The pilot's spec (scale of ordinal metrics).

    """
    if not len(values):
        return y
    if info.family == "binomial":
        return 100 * y
    lo = info.levels(spec)[0]
    idx = level_index(y.fillna(lo).to_numpy(float), info, spec, len(values))
    return pd.Series(values[idx], index=y.index).where(y.notna())


# --------------------------------------------------------------------------------------------
# Baseline from data
# --------------------------------------------------------------------------------------------


def history_frame(spec: Spec) -> pd.DataFrame:
    """Interactions the design and assignment learn from: the baseline period, else all rows."""
    from qmsprint.data import load_history

    return load_history(spec)[0]


def load_baseline_frame(spec: Spec) -> tuple[pd.DataFrame | None, str]:
    """(:func:`history_frame`, "") or (None, the first line of why the data could not be read)."""
    try:
        return history_frame(spec), ""
    except DataError as err:
        return None, str(err).splitlines()[0]


def _weeks_of(frame: pd.DataFrame, spec: Spec) -> float:
    if spec.periods.baseline is not None:
        b = spec.periods.baseline
        return ((b.end - b.start).days + 1) / 7.0
    if "timestamp" in frame and len(frame):
        ts = pd.to_datetime(frame["timestamp"])
        return max(1.0, ((ts.max() - ts.min()).days + 1) / 7.0)
    return float("nan")


def _between_variance(means: np.ndarray, noise: np.ndarray) -> float:
    """Method-of-moments variance of true group means: var(observed means) - mean(sampling var)."""
    if len(means) < 2:
        return 0.0
    return max(0.0, float(np.var(means, ddof=1) - np.mean(noise)))


def _level_values(yv: np.ndarray, values: np.ndarray, info: MetricDef, spec: Spec) -> tuple[np.ndarray, np.ndarray]:
    """(observations on the natural scale, level shares) of the non-missing observations ``yv``."""
    if not len(values):
        return yv, np.array([])
    if info.family == "binomial":
        yv = 100.0 * yv
        return yv, np.array([1 - yv.mean() / 100, yv.mean() / 100])
    idx = level_index(yv, info, spec, len(values))
    return values[idx], np.bincount(idx, minlength=len(values)) / len(idx)


def fit_baseline(frame: pd.DataFrame, spec: Spec) -> Baseline:
    """Estimate the design's baseline parameters from interaction rows (canonical columns).

    Parameters
    ----------
    frame
        Baseline interactions with ``agent_id``, the unit column, ``timestamp`` and the metrics' columns.
    spec
        The pilot's spec (metrics, unit, CSAT scale, baseline period).

    Returns
    -------
    Baseline

    Raises
    ------
    DesignError
        When the frame is empty or lacks the unit column.

    """
    unit = unit_column(spec)
    problems = []
    if frame is None or len(frame) == 0:
        problems.append(Problem("data", "no baseline interactions"))
    else:
        for col in {"agent_id", unit}:
            if col not in frame:
                problems.append(Problem(f"data.{col}", "column needed for the design is missing"))
    if problems:
        raise DesignError("cannot estimate the baseline for the design", problems)
    f = frame.reset_index(drop=True)
    agents = f["agent_id"].astype(str)
    units = f[unit].astype(str)
    agent_unit = pd.DataFrame({"a": agents, "u": units}).groupby("a")["u"].agg(lambda s: s.mode().iat[0])
    n_agents, n_units = agents.nunique(), units.nunique()
    weeks = _weeks_of(f, spec)
    volume = len(f) / n_agents / weeks
    ts = pd.to_datetime(f["timestamp"]) if "timestamp" in f else None
    half = (ts >= ts.quantile(0.5)).to_numpy() if ts is not None else None
    out: dict[str, MetricBaseline] = {}
    notes = []
    for m in spec.metrics:
        obs = m.info.observations(f, m, spec)
        if obs is None:
            notes.append(f"{m.name}: no column in the baseline data")
            continue
        y, values = obs
        ok = y.notna().to_numpy()
        if ok.sum() < 20:
            notes.append(f"{m.name}: only {int(ok.sum())} baseline observations")
            continue
        yv, shares = _level_values(y.to_numpy(float)[ok], values, m.info, spec)
        d = pd.DataFrame({"a": agents[ok].to_numpy(), "y": yv})
        g = d.groupby("a")["y"].agg(["mean", "var", "count"])
        pooled = float((g["var"].fillna(0) * (g["count"] - 1)).sum() / max(1, (g["count"] - 1).sum()))
        g2 = g[g["count"] >= 2]
        tau2_tot = _between_variance(g2["mean"].to_numpy(), pooled / g2["count"].to_numpy())
        tau2_agent = 0.0
        if spec.unit != "agent":
            g2 = g2.assign(u=agent_unit.reindex(g2.index).to_numpy())
            within = g2.groupby("u")["mean"].var(ddof=1).dropna()
            if len(within):
                sizes = g2.groupby("u").size().reindex(within.index)
                pooled_within = float((within * (sizes - 1)).sum() / (sizes - 1).sum())
                tau2_agent = max(0.0, pooled_within - float(np.mean(pooled / g2["count"])))
            tau2_agent = min(tau2_agent, tau2_tot)
        tau2_unit = tau2_tot - tau2_agent
        tau2_period = 0.0
        if spec.design == "did" and half is not None:
            h = pd.DataFrame({"u": units[ok].to_numpy(), "h": half[ok], "y": yv})
            hs = h.groupby(["u", "h"])["y"].agg(["mean", "count"]).unstack("h")
            hs = hs.dropna()
            if len(hs) >= 2 and (True in hs["mean"]) and (False in hs["mean"]):
                diff = hs["mean"][True] - hs["mean"][False]
                noise = pooled * (1 / hs["count"][True] + 1 / hs["count"][False])
                tau2_period = _between_variance(diff.to_numpy(), noise.to_numpy()) / 2
        out[m.name] = MetricBaseline(
            metric=m.name,
            values=values,
            shares=shares,
            mean=float(yv.mean()),
            sd_within=math.sqrt(pooled),
            tau_unit=math.sqrt(tau2_unit),
            tau_agent=math.sqrt(tau2_agent),
            tau_period=math.sqrt(tau2_period),
            response_rate=float(ok.mean()),
        )
    return Baseline(
        volume=float(volume),
        agents_per_unit=float(n_agents / n_units),
        baseline_weeks=float(weeks),
        metrics=out,
        source="data",
        n_agents=int(n_agents),
        n_units=int(n_units),
        notes=notes,
    )


# --------------------------------------------------------------------------------------------
# Baseline from stated rates
# --------------------------------------------------------------------------------------------


def baseline_from_rates(rates: BaselineRates, spec: Spec) -> Baseline:
    """Baseline parameters from stated rates (``design_grid.baseline_rates``).

    Raises
    ------
    DesignError
        Listing every metric of the spec whose rate is missing.

    """
    out: dict[str, MetricBaseline] = {}
    problems = []
    for m in spec.metrics:
        stated = m.info.stated_baseline(rates, m, spec)
        if len(stated) == 2:
            key, message = stated
            problems.append(Problem(f"design_grid.baseline_rates.{key}", message))
            continue
        values, shares, rr, mean_stated, sd_stated = stated
        if len(values):
            mean = float(shares @ values)
            total_var = float(shares @ values**2 - mean**2)
        else:
            mean = float(mean_stated)
            total_var = float(sd_stated) ** 2
        tau2 = rates.icc * total_var
        tau2_unit = tau2 * (rates.unit_share if spec.unit != "agent" else 1.0)
        out[m.name] = MetricBaseline(
            metric=m.name,
            values=values,
            shares=shares,
            mean=mean,
            sd_within=math.sqrt(total_var - tau2),
            tau_unit=math.sqrt(tau2_unit),
            tau_agent=math.sqrt(tau2 - tau2_unit),
            tau_period=math.sqrt(rates.period_icc * total_var),
            response_rate=float(rr),
        )
    if problems:
        raise DesignError("stated baseline rates are incomplete", problems)
    return Baseline(
        volume=rates.interactions_per_agent_week,
        agents_per_unit=rates.agents_per_unit if spec.unit != "agent" else 1.0,
        baseline_weeks=rates.baseline_weeks,
        metrics=out,
        source="stated rates",
    )
