"""Designing a pilot: how many agents and weeks (assurance), who gets the new program (assignment).

Assurance (:func:`plan_pilot`)
------------------------------
The question a consultant must answer before a pilot: *with k agents per arm for w weeks, how
likely is the pilot to end with a decisive result?* Here "decisive" means what the decision rule
needs: if the new program improves a metric by exactly its ``min_effect`` (the smallest effect
worth acting on), the pilot's posterior probability of an improvement reaches
``decision.prob_improve``. Assurance is that probability, for each metric and each cell of the
grid ``design_grid.agents_per_arm`` x ``design_grid.weeks``; the overall assurance of a size is
the smallest over the primary metrics (each must reach a verdict on its own), and the recommended
size is the cheapest (agents x weeks) whose overall assurance reaches
``design_grid.target_assurance``.

1. **Baseline.** From the baseline period of the data (or the stated
   ``design_grid.baseline_rates``): per metric the distribution of an interaction's outcome
   (CSAT and NPS levels, FCR and repeat contacts as 0/100 so effects are in pp, handle time's mean
   and SD), the survey response rate, the volume per agent-week, the between-agent variance of
   true agent means (one-way method of moments; ICC = tau^2 / (tau^2 + sigma^2)), for team/site
   units its between-unit part, and for DiD the unit x period variance (from the two halves of
   the baseline: how much units' levels move on their own).
2. **Closed form.** The analysis compares unit means (A/B) or unit changes (DiD) between arms, so
   ``Var(unit mean) = tau_u^2 + (tau_a^2 + sigma^2 / m) / a`` (m observations per agent, a agents
   per unit; for agents ``tau_u^2 + sigma^2 / m``, i.e. the design effect
   ``DEFF = 1 + (m - 1) ICC``), DiD ``2 tau_p^2 + sigma^2 (1/m_pilot + 1/m_base) / a``;
   ``se = sqrt(Var (1/G_t + 1/G_c))`` and assurance ``P(T' >= t_q)`` with ``T'`` noncentral t
   (df ``G_t + G_c - 2``, noncentrality ``min_effect / se``).
3. **Simulation.** ``design_grid.simulations`` pilots per grid cell are drawn from the fitted
   baseline on the latent scale: ordered-logit shifts for CSAT/NPS/FCR/repeat (unit, agent and
   unit x period effects; the treatment shift solved so the expected natural-scale difference is
   exactly ``min_effect``), normal means for handle time, Poisson volumes and binomial survey
   response. Each pilot is analysed like the decision rule reads it: a conjugate normal
   analysis of unit means (flat prior, Student-t posterior with Welch degrees of freedom);
   decisive when ``P(improvement) >= prob_improve``. The simulated assurance (with its Monte-Carlo
   standard error) refines the closed form; the recommendation uses it.

Assignment (:func:`assign_units`)
---------------------------------
Units (``unit``: agent, team or site) are randomized within strata (``design_grid.strata``,
default team; strata equal to or finer than the unit are ignored) and, inside each stratum,
within blocks of units with similar baseline performance: units are sorted by a score (the mean
of the z-scores of their baseline outcomes among the spec's metrics, in the good direction,
blended 2:1 with tenure's z-score where tenure is known), cut into blocks of ``b`` units (b the
denominator of ``planned_split``, e.g. pairs for 50/50) and each block gets exactly
``b x planned_split`` treated units at random. Units left over in each stratum are pooled,
sorted and blocked again, so every stratum's treated count is within one unit of its planned
share. The seed (default ``sampler.seed``) makes the assignment reproducible. The balance table
holds baseline CSAT, NPS, FCR, repeat rate, handle time, volume, QA score and tenure by arm with
standardized differences ``d``; ``|d| > 0.1`` is flagged ``check`` and ``|d| > 0.2``
``imbalanced`` (Austin 2009's conventions).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from qmsprint import metrics as metric_registry
from qmsprint.errors import BundleError, DataError, DesignError, Problem
from qmsprint.health import BALANCE_VARIABLES, standardized_differences
from qmsprint.progress import Progress, silent
from qmsprint.spec import BaselineRates, Metric, Spec

if TYPE_CHECKING:  # pragma: no cover
    import plotly.graph_objects as go

NPS_VALUES = np.array([-100.0] * 7 + [0.0] * 2 + [100.0] * 2)
BINARY_VALUES = np.array([0.0, 100.0])
_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(40)
_GH_W = _GH_W / _GH_W.sum()
UNIT_COLUMNS = {"agent": "agent_id", "team": "team", "site": "site"}


# --------------------------------------------------------------------------------------------
# Baseline of one metric
# --------------------------------------------------------------------------------------------


@dataclass
class MetricBaseline:
    """What the baseline says about one metric (natural scale: points, NPS points, pp, seconds).

    Attributes
    ----------
    metric
        Metric name.
    values, shares
        Categorical metrics: the value of each level and its baseline share (empty for handle time).
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
        """True for level-count metrics (CSAT, NPS, FCR, repeat contacts)."""
        return len(self.values) > 0

    @property
    def icc(self) -> float:
        """Share of the outcome's variance between agents."""
        tau2 = self.tau_unit**2 + self.tau_agent**2
        tot = tau2 + self.sd_within**2
        return tau2 / tot if tot > 0 else 0.0

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
            "levels": {str(v): float(s) for v, s in zip(self.values, self.shares, strict=True)}
            if self.categorical and self.metric == "csat"
            else {},
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


def _ordinal_probs(eta: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Level probabilities of a cumulative-logit model, shape ``eta.shape + (K,)``."""
    eta = np.asarray(eta, float)[..., None]
    cum = special.expit(cuts - eta)
    ones = np.ones(eta.shape)
    return np.diff(np.concatenate([0 * ones, cum, ones], axis=-1), axis=-1).clip(0, 1)


class _Latent:
    """Latent (ordered-logit) view of a categorical metric: maps natural-scale moments to shifts."""

    def __init__(self, mb: MetricBaseline) -> None:
        shares = np.clip(mb.shares, 1e-6, None)
        shares = shares / shares.sum()
        cum = np.cumsum(shares)[:-1]
        self.cuts = special.logit(np.clip(cum, 1e-9, 1 - 1e-9))
        self.values = mb.values

    def mean(self, eta: np.ndarray) -> np.ndarray:
        return _ordinal_probs(eta, self.cuts) @ self.values

    def sd_for_variance(self, target_var: float) -> float:
        """Latent SD ``s`` with ``Var_u(mean(u)) = target_var`` for ``u ~ Normal(0, s)``."""
        if target_var <= 0:
            return 0.0

        def var(s: float) -> float:
            m = self.mean(s * _GH_X)
            return float(_GH_W @ m**2 - (_GH_W @ m) ** 2)

        hi = 1.0
        while var(hi) < target_var and hi < 20:
            hi *= 2
        if var(hi) < target_var:
            return hi
        return float(optimize.brentq(lambda s: var(s) - target_var, 0.0, hi, xtol=1e-6))

    def shift_for_effect(self, effect: float, sd: float) -> float:
        """Latent shift whose expected natural-scale effect (over agents) is ``effect``."""
        base = float(_GH_W @ self.mean(sd * _GH_X))

        def f(d: float) -> float:
            return float(_GH_W @ self.mean(sd * _GH_X + d)) - base - effect

        lo, hi = -1.0, 1.0
        while f(lo) > 0 and lo > -40:
            lo *= 2
        while f(hi) < 0 and hi < 40:
            hi *= 2
        if f(lo) > 0 or f(hi) < 0:
            raise DesignError(
                "cannot simulate the requested effect",
                [Problem("metrics", f"an effect of {effect:g} is outside what the baseline levels allow")],
            )
        return float(optimize.brentq(f, lo, hi, xtol=1e-8))


# --------------------------------------------------------------------------------------------
# Baseline from data
# --------------------------------------------------------------------------------------------


def _observations(frame: pd.DataFrame, metric: Metric, spec: Spec) -> tuple[pd.Series, np.ndarray] | None:
    """(values per interaction on the natural scale, level values or empty) for one metric."""
    name = metric.name
    if name == "csat" and "csat" in frame:
        lo, hi = spec.csat_scale
        return pd.to_numeric(frame["csat"], errors="coerce"), np.arange(lo, hi + 1, dtype=float)
    if name == "nps" and "nps" in frame:
        raw = pd.to_numeric(frame["nps"], errors="coerce")
        return raw, NPS_VALUES
    if name == "fcr":
        if metric.source == "no_repeat" and "repeat_contact" in frame:
            rc = frame["repeat_contact"]
            return (1.0 - rc.astype("float")).where(rc.notna()), BINARY_VALUES
        if "fcr" in frame:
            f = frame["fcr"]
            return f.astype("float").where(f.notna()), BINARY_VALUES
    if name == "repeat_contact" and "repeat_contact" in frame:
        rc = frame["repeat_contact"]
        return rc.astype("float").where(rc.notna()), BINARY_VALUES
    if name == "handle_time" and "handle_time" in frame:
        return pd.to_numeric(frame["handle_time"], errors="coerce"), np.array([])
    return None


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
    unit = UNIT_COLUMNS[spec.unit]
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
        obs = _observations(f, m, spec)
        if obs is None:
            notes.append(f"{m.name}: no column in the baseline data")
            continue
        y, values = obs
        ok = y.notna().to_numpy()
        if ok.sum() < 20:
            notes.append(f"{m.name}: only {int(ok.sum())} baseline observations")
            continue
        yv = y.to_numpy(float)[ok]
        if len(values) and m.name == "nps":
            idx = np.clip(np.round(yv).astype(int), 0, 10)
            shares = np.bincount(idx, minlength=11) / len(idx)
            yv = NPS_VALUES[idx]
        elif len(values) and m.name == "csat":
            lo = spec.csat_scale[0]
            idx = np.clip(np.round(yv).astype(int) - lo, 0, len(values) - 1)
            shares = np.bincount(idx, minlength=len(values)) / len(idx)
            yv = values[idx]
        elif len(values):
            yv = 100.0 * yv
            shares = np.array([1 - yv.mean() / 100, yv.mean() / 100])
        else:
            shares = np.array([])
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


def _csat_shares(mean: float, sd: float, lo: int, hi: int) -> np.ndarray:
    """Level shares of a discretized latent normal with the given mean and SD on the scale."""
    levels = np.arange(lo, hi + 1, dtype=float)
    edges = (levels[:-1] + levels[1:]) / 2

    def shares(p: np.ndarray) -> np.ndarray:
        cdf = stats.norm.cdf((edges - p[0]) / np.exp(p[1]))
        return np.diff(np.concatenate([[0.0], cdf, [1.0]]))

    def loss(p: np.ndarray) -> np.ndarray:
        s = shares(p)
        mu = s @ levels
        return np.array([mu - mean, math.sqrt(max(1e-12, s @ levels**2 - mu**2)) - sd])

    res = optimize.least_squares(loss, x0=[mean, math.log(sd)])
    return shares(res.x)


def baseline_from_rates(rates: BaselineRates, spec: Spec) -> Baseline:
    """Baseline parameters from stated rates (``design_grid.baseline_rates``).

    Raises
    ------
    DesignError
        Listing every metric of the spec whose rate is missing.

    """
    out: dict[str, MetricBaseline] = {}
    problems = []
    lo, hi = spec.csat_scale
    for m in spec.metrics:
        values: np.ndarray
        rr = 1.0
        if m.name == "csat":
            if rates.csat_mean is None:
                problems.append(Problem("design_grid.baseline_rates.csat_mean", "needed for the csat metric"))
                continue
            if not lo < rates.csat_mean < hi:
                problems.append(Problem("design_grid.baseline_rates.csat_mean", f"must lie inside the scale {lo}-{hi}"))
                continue
            values = np.arange(lo, hi + 1, dtype=float)
            shares = _csat_shares(rates.csat_mean, rates.csat_sd or 1.0, lo, hi)
            rr = rates.response_rate
        elif m.name == "nps":
            if rates.nps_promoters is None or rates.nps_detractors is None:
                problems.append(
                    Problem("design_grid.baseline_rates.nps_promoters", "nps_promoters and nps_detractors needed")
                )
                continue
            passive = 1 - rates.nps_promoters - rates.nps_detractors
            if passive < 0:
                problems.append(Problem("design_grid.baseline_rates.nps_promoters", "promoters + detractors > 1"))
                continue
            values = NPS_VALUES
            shares = np.array([rates.nps_detractors / 7] * 7 + [passive / 2] * 2 + [rates.nps_promoters / 2] * 2)
            rr = rates.response_rate
        elif m.name in ("fcr", "repeat_contact"):
            key = "fcr_rate" if m.name == "fcr" else "repeat_rate"
            p = getattr(rates, key)
            if p is None:
                problems.append(Problem(f"design_grid.baseline_rates.{key}", f"needed for the {m.name} metric"))
                continue
            values = BINARY_VALUES
            shares = np.array([1 - p, p])
            if m.name == "fcr" and m.source == "column":
                rr = rates.response_rate
        else:  # handle_time
            if rates.handle_time_mean is None or rates.handle_time_sd is None:
                problems.append(
                    Problem("design_grid.baseline_rates.handle_time_mean", "handle_time_mean and handle_time_sd needed")
                )
                continue
            values = np.array([])
            shares = np.array([])
        if len(values):
            mean = float(shares @ values)
            total_var = float(shares @ values**2 - mean**2)
        else:
            mean = float(rates.handle_time_mean)
            total_var = float(rates.handle_time_sd) ** 2
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


# --------------------------------------------------------------------------------------------
# Closed form and simulation for one grid cell
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cell:
    agents_per_arm: int
    weeks: int
    units_t: int
    units_c: int
    agents_per_unit: int


def _grid_cell(spec: Spec, k: int, w: int, base: Baseline) -> _Cell:
    total = 2 * k
    agents_t = max(1, round(total * spec.arms.planned_split))
    agents_c = max(1, total - agents_t)
    a = 1 if spec.unit == "agent" else max(1, round(base.agents_per_unit))
    return _Cell(k, w, max(1, math.ceil(agents_t / a)), max(1, math.ceil(agents_c / a)), a)


def _unit_var(mb: MetricBaseline, base: Baseline, spec: Spec, cell: _Cell) -> tuple[float, float]:
    """Variance of one unit's mean (A/B) or change (DiD), and observations per agent in the pilot."""
    m = base.volume * cell.weeks * mb.response_rate
    s2 = mb.sd_within**2
    if spec.design == "did":
        mb_base = base.volume * base.baseline_weeks * mb.response_rate
        var = 2 * mb.tau_period**2 + s2 * (1 / max(m, 1e-9) + 1 / max(mb_base, 1e-9)) / cell.agents_per_unit
    else:
        var = mb.tau_unit**2 + (mb.tau_agent**2 + s2 / max(m, 1e-9)) / cell.agents_per_unit
    return var, m


def closed_form(mb: MetricBaseline, base: Baseline, spec: Spec, cell: _Cell, effect: float) -> dict[str, float]:
    """Closed-form assurance of one metric in one grid cell (noncentral t)."""
    var, m = _unit_var(mb, base, spec, cell)
    gt, gc = cell.units_t, cell.units_c
    se = math.sqrt(var * (1 / gt + 1 / gc))
    df = gt + gc - 2
    # the clustering that matters: unit levels (A/B), unit x period shocks (DiD: levels cancel)
    tau2 = mb.tau_period**2 if spec.design == "did" else mb.tau_unit**2
    icc_unit = tau2 / (tau2 + mb.sd_within**2) if mb.sd_within > 0 else 0.0
    obs_unit = m * cell.agents_per_unit
    deff = 1 + (obs_unit - 1) * icc_unit
    if df < 1 or se <= 0:
        assurance = float("nan")
    else:
        tq = stats.t.ppf(spec.decision.prob_improve, df)
        assurance = float(stats.nct.sf(tq, df, abs(effect) / se))
    return {"se": se, "obs_per_agent": m, "icc": icc_unit, "deff": deff, "assurance": assurance}


def decisive(diff: np.ndarray, se: np.ndarray, df: np.ndarray, sign: float, prob: float) -> np.ndarray:
    """Whether each analysed pilot reaches ``P(improvement) >= prob`` (flat-prior t posterior)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        p_better = stats.t.cdf(sign * diff / se, df)
    return np.nan_to_num(p_better, nan=0.0) >= prob


def analyse_units(y_t: np.ndarray, y_c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Welch comparison of unit means, row-wise over simulated pilots (NaN units ignored).

    Parameters
    ----------
    y_t, y_c
        Arrays ``(pilots, units)`` of unit means (A/B) or changes (DiD).

    Returns
    -------
    (difference, standard error, degrees of freedom), each of shape ``(pilots,)``.

    """
    nt = np.sum(np.isfinite(y_t), axis=1)
    nc = np.sum(np.isfinite(y_c), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mt, mc = np.nanmean(y_t, axis=1), np.nanmean(y_c, axis=1)
        vt = np.nanvar(y_t, axis=1, ddof=1) / nt
        vc = np.nanvar(y_c, axis=1, ddof=1) / nc
        se = np.sqrt(vt + vc)
        df = (vt + vc) ** 2 / (vt**2 / (nt - 1) + vc**2 / (nc - 1))
    return mt - mc, se, df


def _simulate_arm(
    mb: MetricBaseline,
    latent: _Latent | None,
    base: Baseline,
    spec: Spec,
    cell: _Cell,
    n_units: int,
    shift: float,
    sds: tuple[float, float, float],
    sims: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Unit means (A/B) or unit changes (DiD) of one arm in ``sims`` simulated pilots."""
    s_unit, s_agent, s_period = sds
    a = cell.agents_per_unit
    shape = (sims, n_units, a)
    u = rng.normal(0, 1, (sims, n_units, 1)) * s_unit + rng.normal(0, 1, shape) * s_agent
    periods = [("pilot", cell.weeks, shift)]
    if spec.design == "did":
        periods.append(("baseline", base.baseline_weeks, 0.0))
    means = []
    for _, weeks, d in periods:
        eta = u + d + rng.normal(0, 1, (sims, n_units, 1)) * s_period
        n = rng.poisson(base.volume * weeks, shape)
        obs = rng.binomial(n, mb.response_rate) if mb.response_rate < 1 else n
        if latent is not None:
            counts = rng.multinomial(obs, _ordinal_probs(eta, latent.cuts))
            total = counts @ latent.values
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                noise = rng.normal(0, 1, shape) * mb.sd_within / np.sqrt(np.maximum(obs, 1))
            total = (mb.mean + eta + noise) * obs
        n_obs = obs.sum(axis=2)
        with np.errstate(divide="ignore", invalid="ignore"):
            means.append(np.where(n_obs > 0, total.sum(axis=2) / n_obs, np.nan))
    return means[0] - means[1] if spec.design == "did" else means[0]


def simulate_cell(
    mb: MetricBaseline,
    base: Baseline,
    spec: Spec,
    cell: _Cell,
    effect: float,
    sims: int,
    rng: np.random.Generator,
) -> dict[str, float]:
    """Simulated assurance of one metric in one grid cell: share of simulated pilots that are decisive."""
    if mb.categorical:
        latent = _Latent(mb)
        s_tot = latent.sd_for_variance(mb.tau_unit**2 + mb.tau_agent**2)
        frac = mb.tau_unit**2 / (mb.tau_unit**2 + mb.tau_agent**2) if (mb.tau_unit + mb.tau_agent) > 0 else 1.0
        s_unit, s_agent = s_tot * math.sqrt(frac), s_tot * math.sqrt(1 - frac)
        s_period = latent.sd_for_variance(mb.tau_period**2)
        shift = latent.shift_for_effect(effect, s_tot)
    else:
        latent = None
        s_unit, s_agent, s_period, shift = mb.tau_unit, mb.tau_agent, mb.tau_period, effect
    sds = (s_unit, s_agent, s_period)
    y_t = _simulate_arm(mb, latent, base, spec, cell, cell.units_t, shift, sds, sims, rng)
    y_c = _simulate_arm(mb, latent, base, spec, cell, cell.units_c, 0.0, sds, sims, rng)
    diff, se, df = analyse_units(y_t, y_c)
    sign = 1.0 if effect >= 0 else -1.0
    hits = decisive(diff, se, df, sign, spec.decision.prob_improve)
    a = float(hits.mean())
    return {
        "assurance": a,
        "assurance_se": math.sqrt(max(a * (1 - a), 0.25 / sims) / sims),
        "mean_estimate": float(np.nanmean(diff)),
    }


# --------------------------------------------------------------------------------------------
# Plan
# --------------------------------------------------------------------------------------------


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(df.to_json(orient="records"))


@dataclass
class PlanResult:
    """What :func:`plan_pilot` found.

    Attributes
    ----------
    table
        One row per metric x agents per arm x weeks, plus ``metric = "overall"`` rows (the smallest
        assurance over the primary metrics): ``assurance`` (simulated) with ``assurance_se``,
        ``assurance_closed`` (closed form), units per arm, cost in agent-weeks, observations per
        agent, ICC (between units for A/B; of unit x period shocks for DiD, where stable unit
        levels cancel) and design effect ``1 + (m - 1) ICC`` with ``m`` observations per unit, and
        ``reaches_target``.
    recommended
        The cheapest size reaching the target (``agents_per_arm``, ``weeks``, ``assurance``,
        ``cost``), or None when no size of the grid does.
    baseline
        The fitted baseline parameters.
    meta
        Design, unit, target, decision threshold, simulations, seed.
    notes
        Caveats (metrics without baseline, grid cells with too few units).

    """

    table: pd.DataFrame
    recommended: dict[str, Any] | None
    baseline: Baseline
    meta: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def summary_text(self) -> str:
        """Plain-language summary with the recommended size."""
        m = self.meta
        lines = [
            f"Pilot design for '{m['name']}' ({m['design'].upper()}, randomizing {m['unit']}s): chance that the "
            f"pilot ends decisively (P(improvement) >= {m['prob_improve']:.0%}) if each metric improves by its "
            f"min_effect; baseline from {self.baseline.source}.",
        ]
        rec = self.recommended
        target = m["target_assurance"]
        if rec is not None:
            lines.append(
                f"Recommended: {rec['agents_per_arm']} agents per arm for {rec['weeks']} weeks "
                f"({rec['cost']:.0f} agent-weeks): {rec['assurance']:.0%} assurance on the primary metrics "
                f"(target {target:.0%}; closed form {rec['assurance_closed']:.0%})."
            )
        else:
            over = self.table[self.table["metric"] == "overall"]
            best = over.loc[over["assurance"].idxmax()] if over["assurance"].notna().any() else None
            text = f"No size in the grid reaches the target assurance of {target:.0%}"
            if best is not None:
                text += (
                    f"; the best is {int(best['agents_per_arm'])} agents per arm for {int(best['weeks'])} weeks "
                    f"({best['assurance']:.0%}). Add more agents or weeks to design_grid"
                )
            lines.append(text + ".")
        per = self.table[(self.table["metric"] != "overall")]
        over = self.table[self.table["metric"] == "overall"]
        at = rec
        if at is None and over["assurance"].notna().any():
            best = over.loc[over["assurance"].idxmax()]
            at = {"agents_per_arm": best["agents_per_arm"], "weeks": best["weeks"]}
        if at is not None:
            per = per[(per["agents_per_arm"] == at["agents_per_arm"]) & (per["weeks"] == at["weeks"])]
            for _, r in per.iterrows():
                lines.append(
                    f"  {metric_registry.get(r['metric']).label} ({r['role']}): {r['assurance']:.0%} to detect "
                    f"{r['min_effect']:g} {metric_registry.get(r['metric']).unit} "
                    f"(ICC {r['icc']:.3f}, design effect {r['deff']:.1f})"
                )
        for note in self.notes:
            lines.append(f"Note: {note}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (``design.json`` of a run bundle)."""
        return {
            "meta": json.loads(json.dumps(self.meta, default=str)),
            "recommended": self.recommended,
            "baseline": self.baseline.to_dict(),
            "table": _records(self.table),
            "notes": list(self.notes),
            "summary": self.summary_text(),
        }

    def figure(self) -> go.Figure:
        """Plotly figure: assurance by agents per arm, one line per number of weeks, per metric."""
        import plotly.express as px

        d = self.table.copy()
        d["panel"] = d["metric"].map(lambda x: "Overall (primary)" if x == "overall" else metric_registry.get(x).label)
        d["weeks_label"] = d["weeks"].astype(str) + " weeks"
        d["pct"] = 100 * d["assurance"]
        fig = px.line(
            d,
            x="agents_per_arm",
            y="pct",
            color="weeks_label",
            facet_col="panel",
            facet_col_wrap=3,
            markers=True,
            labels={"agents_per_arm": "agents per arm", "pct": "assurance (%)", "weeks_label": "pilot length"},
            title="Chance the pilot ends decisively (simulated assurance)",
        )
        fig.add_hline(
            y=100 * self.meta["target_assurance"],
            line_dash="dash",
            annotation_text=f"target {self.meta['target_assurance']:.0%}",
        )
        fig.update_yaxes(range=[0, 105])
        return fig

    def save(self, out_dir: str | Path) -> list[Path]:
        """Write ``design.json``, ``assurance.csv`` and ``assurance.html`` into a new folder.

        Raises
        ------
        BundleError
            If ``out_dir`` already exists (nothing is overwritten).

        """
        from qmsprint.bundle import write_new_folder

        def write(folder: Path) -> list[str]:
            (folder / "design.json").write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")
            self.table.to_csv(folder / "assurance.csv", index=False)
            self.figure().write_html(folder / "assurance.html", include_plotlyjs=True, full_html=True)
            return ["design.json", "assurance.csv", "assurance.html"]

        return write_new_folder(out_dir, write, "designs")


def _history(spec: Spec) -> pd.DataFrame:
    """Interactions the design and assignment learn from: the baseline period, else all rows."""
    from qmsprint.data import load_history

    return load_history(spec)[0]


def _load_baseline_frame(spec: Spec) -> tuple[pd.DataFrame | None, str]:
    try:
        return _history(spec), ""
    except DataError as err:
        return None, str(err).splitlines()[0]


def plan_pilot(
    spec: Spec,
    *,
    progress: Progress | None = None,
    baseline: pd.DataFrame | Baseline | None = None,
    simulations: int | None = None,
    seed: int | None = None,
) -> PlanResult:
    """Assurance for the grid of agents per arm x weeks and the recommended pilot size.

    Parameters
    ----------
    spec
        The pilot's spec: metrics with ``min_effect``, ``decision.prob_improve``, ``design_grid``.
    progress
        Optional ``progress(message, fraction)`` callback.
    baseline
        Baseline interactions (canonical columns) or a fitted :class:`Baseline`; default: the
        baseline period of the spec's data, else ``design_grid.baseline_rates``.
    simulations
        Simulated pilots per grid cell (default ``design_grid.simulations``).
    seed
        Random seed (default ``sampler.seed``).

    Returns
    -------
    PlanResult

    Raises
    ------
    DesignError
        No baseline data and no stated rates, a primary metric without a baseline, or no grid
        cell with at least two units per arm.

    """
    progress = progress or silent
    ds = spec.design_settings
    sims = simulations or ds.simulations
    seed = spec.sampler.seed if seed is None else seed
    notes: list[str] = []
    progress("estimating the baseline", 0.0)
    if isinstance(baseline, Baseline):
        base = baseline
    else:
        frame, why = (baseline, "") if baseline is not None else _load_baseline_frame(spec)
        base = None
        if frame is not None and len(frame):
            base = fit_baseline(frame, spec)
            if ds.baseline_rates is not None:
                missing = [m for m in spec.metrics if m.name not in base.metrics]
                if missing:
                    stated = baseline_from_rates(ds.baseline_rates, spec.model_copy(update={"metrics": missing}))
                    base.metrics.update(stated.metrics)
                    notes.append(
                        f"stated rates used for {', '.join(m.name for m in missing)} (not in the baseline data)"
                    )
        elif ds.baseline_rates is not None:
            base = baseline_from_rates(ds.baseline_rates, spec)
            if why:
                notes.append(f"no baseline data ({why}); using the stated rates")
        else:
            raise DesignError(
                "cannot plan the pilot: no baseline data and no stated rates",
                [
                    Problem("data", why or "no baseline interactions"),
                    Problem("design_grid.baseline_rates", "state the baseline rates when there is no baseline data"),
                ],
            )
    notes += base.notes
    missing_primary = [m.name for m in spec.primary if m.name not in base.metrics]
    if missing_primary:
        raise DesignError(
            "cannot plan the pilot: primary metrics without a baseline",
            [
                Problem(f"metrics.{n}", "no baseline observations; add them to the data or design_grid.baseline_rates")
                for n in missing_primary
            ],
        )
    rng = np.random.default_rng(seed)
    rows = []
    metrics = [m for m in spec.metrics if m.name in base.metrics]
    grid = [(k, w) for k in sorted(set(ds.agents_per_arm)) for w in sorted(set(ds.weeks))]
    total = len(grid) * len(metrics)
    done = 0
    for k, w in grid:
        cell = _grid_cell(spec, k, w, base)
        for m in metrics:
            mb = base.metrics[m.name]
            effect = m.threshold if m.better == "higher" else -m.threshold
            cf = closed_form(mb, base, spec, cell, effect)
            row = {
                "metric": m.name,
                "role": m.role,
                "min_effect": m.threshold,
                "agents_per_arm": k,
                "weeks": w,
                "units_treatment": cell.units_t,
                "units_control": cell.units_c,
                "agents_total": (cell.units_t + cell.units_c) * cell.agents_per_unit,
                "cost": (cell.units_t + cell.units_c) * cell.agents_per_unit * w,
                "obs_per_agent": cf["obs_per_agent"],
                "icc": cf["icc"],
                "deff": cf["deff"],
                "se_closed": cf["se"],
                "assurance_closed": cf["assurance"],
                "assurance": float("nan"),
                "assurance_se": float("nan"),
            }
            if cell.units_t >= 2 and cell.units_c >= 2:
                sim = simulate_cell(mb, base, spec, cell, effect, sims, rng)
                row["assurance"], row["assurance_se"] = sim["assurance"], sim["assurance_se"]
            rows.append(row)
            done += 1
            progress(f"simulated {metric_registry.get(m.name).label}: {k} agents per arm x {w} weeks", done / total)
    table = pd.DataFrame(rows)
    if table["assurance"].isna().all():
        raise DesignError(
            "cannot plan the pilot: every size in the grid has fewer than two units per arm",
            [Problem("design_grid.agents_per_arm", f"too few agents for {spec.unit} randomization")],
        )
    if table["assurance"].isna().any():
        notes.append("grid sizes with fewer than two units per arm are not simulated")
    primary = {m.name for m in spec.primary}
    pt = table[table["metric"].isin(primary)]
    over = (
        pt.groupby(["agents_per_arm", "weeks"], sort=True)
        .agg(
            assurance=("assurance", "min"),
            assurance_closed=("assurance_closed", "min"),
            units_treatment=("units_treatment", "first"),
            units_control=("units_control", "first"),
            agents_total=("agents_total", "first"),
            cost=("cost", "first"),
        )
        .reset_index()
    )
    limiting = []
    for _, g in pt.groupby(["agents_per_arm", "weeks"], sort=True):
        g = g[g["assurance"].notna()]
        limiting.append(g.loc[g["assurance"].idxmin(), "assurance_se"] if len(g) else np.nan)
    over["assurance_se"] = limiting
    over["metric"], over["role"] = "overall", "primary"
    table = pd.concat([table, over], ignore_index=True)
    table["reaches_target"] = table["assurance"] >= ds.target_assurance
    ok = table[(table["metric"] == "overall") & table["reaches_target"]]
    recommended = None
    if len(ok):
        best = ok.sort_values(["cost", "weeks", "agents_per_arm"]).iloc[0]
        recommended = {
            "agents_per_arm": int(best["agents_per_arm"]),
            "weeks": int(best["weeks"]),
            "assurance": float(best["assurance"]),
            "assurance_closed": float(best["assurance_closed"]),
            "cost": float(best["cost"]),
            "units_treatment": int(best["units_treatment"]),
            "units_control": int(best["units_control"]),
        }
    meta = {
        "name": spec.name,
        "design": spec.design,
        "unit": spec.unit,
        "prob_improve": spec.decision.prob_improve,
        "target_assurance": ds.target_assurance,
        "simulations": sims,
        "seed": seed,
        "primary": sorted(primary),
    }
    progress("design done", 1.0)
    return PlanResult(table=table, recommended=recommended, baseline=base, meta=meta, notes=notes)


# --------------------------------------------------------------------------------------------
# Assignment
# --------------------------------------------------------------------------------------------


def _mode(s: pd.Series) -> Any:
    s = s.dropna()
    return s.mode().iat[0] if len(s) else None


def unit_frame(frame: pd.DataFrame, spec: Spec) -> pd.DataFrame:
    """One row per unit with its strata attributes and baseline covariates, from interaction rows.

    Columns: ``unit``, ``team``/``site`` (modal), ``volume``, and where the data has them ``csat``,
    ``nps``, ``fcr``, ``repeat_contact`` (pp), ``handle_time``, ``qa_score``, ``tenure_months``.
    """
    unit = UNIT_COLUMNS[spec.unit]
    f = frame.copy()
    f["_unit"] = f[unit].astype(str)
    g = f.groupby("_unit", sort=True)
    out = pd.DataFrame(index=g.size().index)
    out["volume"] = g.size().astype(float)
    for col in ("team", "site"):
        if col in f and col != unit:
            out[col] = g[col].agg(_mode)
    for m in spec.metrics:
        obs = _observations(f, m, spec)
        if obs is None:
            continue
        y = obs[0]
        if m.name == "nps":
            y = pd.Series(NPS_VALUES[np.clip(y.fillna(0).round().astype(int), 0, 10)], index=y.index).where(y.notna())
        elif m.name in ("fcr", "repeat_contact"):
            y = 100 * y
        out[m.name] = y.groupby(f["_unit"]).mean()
    for col in ("qa_score", "tenure_months", "csat", "fcr", "handle_time"):
        if col in f and col not in out:
            y = f[col].astype(float) * (100 if col == "fcr" else 1)
            out[col] = y.groupby(f["_unit"]).mean()
    out.index.name = "unit"
    return out.reset_index()


def _zscore(x: pd.Series) -> pd.Series:
    sd = x.std(ddof=0)
    z = (x - x.mean()) / sd if sd and np.isfinite(sd) and sd > 0 else x * 0.0
    return z.fillna(0.0)


def _score(units: pd.DataFrame, spec: Spec) -> pd.Series:
    parts = []
    for m in spec.metrics:
        if m.name in units and units[m.name].notna().any():
            z = _zscore(units[m.name])
            parts.append(z if m.better == "higher" else -z)
    perf = _zscore(sum(parts) / len(parts)) if parts else pd.Series(0.0, index=units.index)
    if "tenure_months" in units and units["tenure_months"].notna().any():
        return (2 * perf + _zscore(units["tenure_months"])) / 3
    return perf


@dataclass
class AssignmentResult:
    """What :func:`assign_units` produced.

    Attributes
    ----------
    assignment
        One row per unit: the unit id (column named after the unit: ``agent_id``, ``team``,
        ``site``), ``team``/``site`` where known, ``stratum``, ``block``, ``arm`` (the spec's arm
        value) and ``program`` (its label).
    balance
        Standardized differences of baseline covariates between arms
        (see :func:`qmsprint.health.standardized_differences`).
    units
        The unit table with covariates, score and arm.
    seed
        Seed used.
    meta
        Counts by arm and stratum, strata used.
    notes
        Caveats.

    """

    assignment: pd.DataFrame
    balance: pd.DataFrame
    units: pd.DataFrame
    seed: int
    meta: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def summary_text(self) -> str:
        """Plain-language summary: counts by arm, strata and the balance verdict."""
        m = self.meta
        lines = [
            f"Assigned {m['n_units']} {m['unit']}s (seed {self.seed}): {m['treatment']} to "
            f"{m['treatment_label']} and {m['control']} to {m['control_label']}, "
            + (f"stratified by {', '.join(m['strata'])} " if m["strata"] else "")
            + "in blocks of similar baseline performance.",
        ]
        b = self.balance[self.balance["std_diff"].notna()]
        if len(b):
            worst = b.loc[b["std_diff"].abs().idxmax()]
            flagged = b[b["flag"] != ""]
            lines.append(
                f"Balance: largest standardized difference {worst['std_diff']:+.2f} ({worst['label']}); "
                + (
                    f"{len(flagged)} variable(s) above |d| = 0.1: {', '.join(flagged['label'])}."
                    if len(flagged)
                    else "all variables within |d| <= 0.1."
                )
            )
        for note in self.notes:
            lines.append(f"Note: {note}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {
            "meta": json.loads(json.dumps(self.meta, default=str)),
            "seed": self.seed,
            "assignment": _records(self.assignment),
            "balance": _records(self.balance),
            "notes": list(self.notes),
            "summary": self.summary_text(),
        }

    def save(self, out_csv: str | Path) -> list[Path]:
        """Write the assignment CSV and ``<stem>.balance.csv`` beside it; never overwrites.

        Raises
        ------
        BundleError
            If either file exists.

        """
        out = Path(out_csv)
        bal = out.with_name(f"{out.stem}.balance.csv")
        existing = [p for p in (out, bal) if p.exists()]
        if existing:
            raise BundleError(
                "assignment not written: would overwrite",
                [Problem(str(p), "already exists; choose a new file name") for p in existing],
            )
        out.parent.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        try:
            for path, df in ((out, self.assignment), (bal, self.balance)):
                fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
                os.close(fd)
                df.to_csv(tmp, index=False)
                try:
                    os.link(tmp, path)  # fails if the file appeared meanwhile: never overwrite
                finally:
                    os.unlink(tmp)
                written.append(path)
        except OSError as err:
            for p in written:
                p.unlink(missing_ok=True)
            raise BundleError(f"could not write {out}: {err}") from None
        return written


def assign_units(spec: Spec, *, seed: int | None = None, frame: pd.DataFrame | None = None) -> AssignmentResult:
    """Randomize units to arms, stratified and blocked on baseline performance, with a balance table.

    Parameters
    ----------
    spec
        The pilot's spec (``unit``, ``arms.planned_split``, ``design_grid.strata``).
    seed
        Random seed (default ``sampler.seed``); the same seed gives the same assignment.
    frame
        Interaction rows to take the units and their baseline from (default: the spec's data,
        baseline period when there is one).

    Returns
    -------
    AssignmentResult

    Raises
    ------
    DesignError
        Unknown strata columns, a stratum with fewer units than arms, or fewer than two units.

    """
    seed = spec.sampler.seed if seed is None else int(seed)
    if frame is None:
        frame = _history(spec)
    unit = UNIT_COLUMNS[spec.unit]
    problems: list[Problem] = []
    if unit not in frame:
        problems.append(Problem(f"data.{unit}", f"column needed to assign {spec.unit}s is missing"))
    finer = {"agent": set(), "team": {"team"}, "site": {"team", "site"}}[spec.unit]
    strata = [s for s in spec.design_settings.strata if s not in finer]
    notes = []
    ignored = [s for s in spec.design_settings.strata if s in finer]
    if ignored:
        notes.append(f"strata {', '.join(ignored)} ignored: not coarser than the unit ({spec.unit})")
    for s in strata:
        if s not in frame:
            problems.append(Problem(f"design_grid.strata.{s}", "no such column in the data"))
    if problems:
        raise DesignError("cannot assign units", problems)
    units = unit_frame(frame, spec)
    for s in strata:
        if s not in units:
            modal = frame.assign(_u=frame[unit].astype(str)).groupby("_u")[s].agg(_mode)
            units[s] = units["unit"].map(modal)
        units[s] = units[s].fillna("(missing)").astype(str)
    units["stratum"] = units[strata].astype(str).agg(" / ".join, axis=1) if strata else "all"
    sizes = units.groupby("stratum").size()
    small = sizes[sizes < 2]
    if len(units) < 2:
        problems.append(Problem("data", f"{len(units)} {spec.unit}(s) found; at least 2 are needed (one per arm)"))
    for name, n in small.items():
        problems.append(Problem(f"stratum {name}", f"{n} {spec.unit}; at least 2 are needed (one per arm)"))
    if problems:
        raise DesignError("cannot assign units: too few units", problems)

    rng = np.random.default_rng(seed)
    units["score"] = _score(units, spec)
    frac = Fraction(spec.arms.planned_split).limit_denominator(10)
    b, t_per_block = frac.denominator, frac.numerator
    if abs(float(frac) - spec.arms.planned_split) > 1e-9:
        notes.append(f"planned split {spec.arms.planned_split} approximated by {frac} within blocks")
    treated = pd.Series(False, index=units.index)
    block_id = pd.Series("", index=units.index)
    leftovers: list[int] = []
    for name, sub in units.groupby("stratum", sort=True):
        order = sub.sort_values(["score", "unit"], kind="mergesort").index.to_numpy()
        full = len(order) // b * b
        for j in range(0, full, b):
            idx = order[j : j + b]
            pick = rng.permutation(b)[:t_per_block]
            treated[idx[pick]] = True
            block_id[idx] = f"{name}#{j // b + 1}"
        leftovers += list(order[full:])
    if leftovers:
        lo = units.loc[leftovers].sort_values(["score", "unit"], kind="mergesort").index.to_numpy()
        full = len(lo) // b * b
        for j in range(0, full, b):
            idx = lo[j : j + b]
            treated[idx[rng.permutation(b)[:t_per_block]]] = True
            block_id[idx] = f"pooled#{j // b + 1}"
        rest = lo[full:]
        if len(rest):
            expected = len(rest) * spec.arms.planned_split
            n_t = int(math.floor(expected) + (rng.random() < expected - math.floor(expected)))
            treated[rest[rng.permutation(len(rest))[:n_t]]] = True
            block_id[rest] = "pooled#rest"
    arms = spec.arms
    units["arm"] = np.where(treated, arms.treatment, arms.control)
    units["block"] = block_id
    units["program"] = np.where(treated, arms.treatment_display, arms.control_label)
    cols = ["unit"] + [c for c in ("team", "site") if c in units and c != unit] + ["stratum", "block", "arm", "program"]
    assignment = units[cols].rename(columns={"unit": unit}).sort_values(unit, kind="mergesort").reset_index(drop=True)
    balance = standardized_differences(units, "arm", arms.treatment, arms.control, BALANCE_VARIABLES)
    n_t, n_c = int(treated.sum()), int((~treated).sum())
    if min(n_t, n_c) < spec.decision.min_units_per_arm:
        notes.append(
            f"only {min(n_t, n_c)} {spec.unit}s in the smaller arm; decisions need at least "
            f"{spec.decision.min_units_per_arm} (decision.min_units_per_arm)"
        )
    by_stratum = units.groupby(["stratum", "arm"]).size().unstack(fill_value=0).reset_index().to_dict(orient="records")
    meta = {
        "unit": spec.unit,
        "n_units": len(units),
        "treatment": n_t,
        "control": n_c,
        "treatment_label": arms.treatment_display,
        "control_label": arms.control_label,
        "planned_split": arms.planned_split,
        "strata": strata,
        "by_stratum": by_stratum,
    }
    return AssignmentResult(assignment, balance, units, seed, meta, notes)
