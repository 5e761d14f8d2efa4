"""Assurance of one metric in one grid cell (k agents per arm x w weeks): closed form and simulation.

Closed form (:func:`closed_form`)
    The analysis compares unit means (A/B) or unit changes (DiD) between arms, so
    ``Var(unit mean) = tau_u^2 + (tau_a^2 + sigma^2 / m) / a`` (m observations per agent, a agents
    per unit; for agents ``tau_u^2 + sigma^2 / m``, i.e. the design effect ``DEFF = 1 + (m - 1) ICC``),
    DiD ``2 tau_p^2 + sigma^2 (1/m_pilot + 1/m_base) / a``; ``se = sqrt(Var (1/G_t + 1/G_c))`` and
    assurance ``P(T' >= t_q)`` with ``T'`` noncentral t (df ``G_t + G_c - 2``, noncentrality
    ``min_effect / se``).
Simulation (:func:`simulate_cell`)
    Pilots are drawn from the fitted baseline on the latent scale: ordered-logit shifts for
    categorical metrics (unit, agent and unit x period effects; the treatment shift solved so the
    expected natural-scale difference is exactly ``min_effect``), normal means for continuous
    metrics, Poisson volumes and binomial survey response. Each pilot is analysed like the
    decision rule reads it: a conjugate normal analysis of unit means (flat prior, Student-t
    posterior with Welch degrees of freedom); decisive when ``P(improvement) >= prob_improve``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats

from qmsprint.design.baseline import Baseline, MetricBaseline
from qmsprint.errors import DesignError, Problem
from qmsprint.spec import Spec
from qmsprint.stats import ordinal_probs, welch_rows

# Gauss-Hermite nodes and weights (probabilists'): expectations over a standard normal
GH_X, GH_W = np.polynomial.hermite_e.hermegauss(40)
GH_W = GH_W / GH_W.sum()


class LatentScale:
    """Latent (ordered-logit) view of a categorical metric: maps natural-scale moments to shifts."""

    def __init__(self, mb: MetricBaseline) -> None:
        shares = np.clip(mb.shares, 1e-6, None)
        shares = shares / shares.sum()
        cum = np.cumsum(shares)[:-1]
        self.cuts = special.logit(np.clip(cum, 1e-9, 1 - 1e-9))
        self.values = mb.values

    def mean(self, eta: np.ndarray) -> np.ndarray:
        """Expected natural-scale value at latent location(s) ``eta``."""
        return ordinal_probs(eta, self.cuts) @ self.values

    def sd_for_variance(self, target_var: float) -> float:
        """Latent SD ``s`` with ``Var_u(mean(u)) = target_var`` for ``u ~ Normal(0, s)``."""
        if target_var <= 0:
            return 0.0

        def var(s: float) -> float:
            m = self.mean(s * GH_X)
            return float(GH_W @ m**2 - (GH_W @ m) ** 2)

        hi = 1.0
        while var(hi) < target_var and hi < 20:
            hi *= 2
        if var(hi) < target_var:
            return hi
        return float(optimize.brentq(lambda s: var(s) - target_var, 0.0, hi, xtol=1e-6))

    def shift_for_effect(self, effect: float, sd: float) -> float:
        """Latent shift whose expected natural-scale effect (over agents) is ``effect``."""
        base = float(GH_W @ self.mean(sd * GH_X))

        def f(d: float) -> float:
            return float(GH_W @ self.mean(sd * GH_X + d)) - base - effect

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


@dataclass(frozen=True)
class GridCell:
    """One size of the grid: agents per arm, weeks, and the units per arm they make."""

    agents_per_arm: int
    weeks: int
    units_t: int
    units_c: int
    agents_per_unit: int


def grid_cell(spec: Spec, k: int, w: int, base: Baseline) -> GridCell:
    """Units per arm for ``k`` agents per arm (split by ``arms.planned_split``) over ``w`` weeks."""
    total = 2 * k
    agents_t = max(1, round(total * spec.arms.planned_split))
    agents_c = max(1, total - agents_t)
    a = 1 if spec.unit == "agent" else max(1, round(base.agents_per_unit))
    return GridCell(k, w, max(1, math.ceil(agents_t / a)), max(1, math.ceil(agents_c / a)), a)


def _unit_var(mb: MetricBaseline, base: Baseline, spec: Spec, cell: GridCell) -> tuple[float, float]:
    """Variance of one unit's mean (A/B) or change (DiD), and observations per agent in the pilot."""
    m = base.volume * cell.weeks * mb.response_rate
    s2 = mb.sd_within**2
    if spec.design == "did":
        mb_base = base.volume * base.baseline_weeks * mb.response_rate
        var = 2 * mb.tau_period**2 + s2 * (1 / max(m, 1e-9) + 1 / max(mb_base, 1e-9)) / cell.agents_per_unit
    else:
        var = mb.tau_unit**2 + (mb.tau_agent**2 + s2 / max(m, 1e-9)) / cell.agents_per_unit
    return var, m


def closed_form(mb: MetricBaseline, base: Baseline, spec: Spec, cell: GridCell, effect: float) -> dict[str, float]:
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


def _simulate_arm(
    mb: MetricBaseline,
    latent: LatentScale | None,
    base: Baseline,
    spec: Spec,
    cell: GridCell,
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
            counts = rng.multinomial(obs, ordinal_probs(eta, latent.cuts))
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
    cell: GridCell,
    effect: float,
    sims: int,
    rng: np.random.Generator,
) -> dict[str, float]:
    """Simulated assurance of one metric in one grid cell: share of simulated pilots that are decisive."""
    if mb.categorical:
        latent = LatentScale(mb)
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
    diff, se, df = welch_rows(y_t, y_c)
    sign = 1.0 if effect >= 0 else -1.0
    hits = decisive(diff, se, df, sign, spec.decision.prob_improve)
    a = float(hits.mean())
    return {
        "assurance": a,
        "assurance_se": math.sqrt(max(a * (1 - a), 0.25 / sims) / sims),
        "mean_estimate": float(np.nanmean(diff)),
    }
