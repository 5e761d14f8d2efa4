"""Simulated pilots for the assurance: one metric's data at every size of the grid, with common random numbers.

For each of ``S`` simulated pilots (:func:`draw_parameters`):

1. the **true effect** is drawn from the design prior (natural scale, signed like the metric);
2. the **variance components** are drawn from their uncertainty: the baseline's between-agent,
   between-unit and unit x period variances are method-of-moments estimates from a limited number
   of agents and units, so each pilot gets ``V * df / chi2(df)`` (a scaled inverse chi-square
   around the estimate ``V`` of the variance of observed means, with ``df`` the agents or units
   minus one), less the sampling noise inside ``V``; stated rates count as ``STATED_DF`` units;
3. categorical metrics (ordinal and binary) are simulated on the latent ordered-logit scale of
   the baseline's level shares (:class:`LatentScale`): natural-scale variances become latent sds
   and the effect a latent shift whose expected natural-scale difference, over the agents, is
   the drawn effect; continuous metrics are simulated on their natural scale.

:func:`simulate_metric` then draws the pilot's data for the largest size of the grid, week by
week: per agent-week a Poisson number of observations (volume x response rate) and their level
counts (multinomial / binomial) or sums (normal), unit x period shocks for a DiD, and the
baseline period for a DiD. Every smaller size is a **nested part of the same pilot**: the first
units of each arm and the first weeks (common random numbers), so sizes differ only by the data
they add, and Monte Carlo noise does not reorder them.

:func:`approximate_posterior` analyses a size as the decision rule reads it, with a fast
approximation of the posterior of the effect: Welch's comparison of unit means (A/B) or unit
changes (DiD) as a Student-t posterior (flat prior). A slow test checks it against full fits.

:func:`closed_form` is the textbook power at exactly ``min_effect`` (noncentral t), kept as a
reference column of the plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from qmsprint.design.baseline import Baseline, MetricBaseline
from qmsprint.errors import DesignError, Problem
from qmsprint.spec import Spec
from qmsprint.stats import ordinal_probs, welch_rows

# Gauss-Hermite nodes and weights (probabilists'): expectations over a standard normal
GH_X, GH_W = np.polynomial.hermite_e.hermegauss(40)
GH_W = GH_W / GH_W.sum()
STATED_DF = 20  # stated variance components are as uncertain as estimates from 21 units
_SD_GRID = np.concatenate([[0.0], np.geomspace(1e-3, 20.0, 800)])


class LatentScale:
    """Latent (ordered-logit) view of a categorical metric: maps natural-scale moments to shifts."""

    def __init__(self, mb: MetricBaseline) -> None:
        shares = np.clip(mb.shares, 1e-6, None)
        shares = shares / shares.sum()
        cum = np.cumsum(shares)[:-1]
        self.cuts = special.logit(np.clip(cum, 1e-9, 1 - 1e-9))
        self.values = mb.values
        m = self.mean(_SD_GRID[:, None] * GH_X[None, :])
        self._var = np.maximum.accumulate(np.maximum(m**2 @ GH_W - (m @ GH_W) ** 2, 0.0))

    def mean(self, eta: np.ndarray) -> np.ndarray:
        """Expected natural-scale value at latent location(s) ``eta``."""
        return ordinal_probs(eta, self.cuts) @ self.values

    def sd_for_variance(self, target_var: float | np.ndarray) -> np.ndarray:
        """Latent SD ``s`` with ``Var_u(mean(u)) = target_var`` for ``u ~ Normal(0, s)`` (vectorized)."""
        t = np.asarray(target_var, float)
        return np.interp(np.maximum(t, 0.0), self._var, _SD_GRID)

    def shift_for_effect(self, effect: float | np.ndarray, sd: float | np.ndarray) -> np.ndarray:
        """Latent shift whose expected natural-scale effect over agents (latent sd ``sd``) is ``effect``.

        Vectorized bisection; raises :class:`DesignError` when an effect is beyond what the levels allow.
        """
        eff = np.atleast_1d(np.asarray(effect, float))
        s = np.broadcast_to(np.atleast_1d(np.asarray(sd, float)), eff.shape)
        nodes = s[:, None] * GH_X[None, :]
        base = self.mean(nodes) @ GH_W

        def f(d: np.ndarray) -> np.ndarray:
            return self.mean(nodes + d[:, None]) @ GH_W - base - eff

        lo, hi = np.full(eff.shape, -40.0), np.full(eff.shape, 40.0)
        if np.any(f(lo) > 0) or np.any(f(hi) < 0):
            bad = float(eff[(f(lo) > 0) | (f(hi) < 0)][0])
            raise DesignError(
                "cannot simulate the requested effect",
                [Problem("metrics", f"an effect of {bad:g} is outside what the baseline levels allow")],
            )
        for _ in range(45):
            mid = 0.5 * (lo + hi)
            up = f(mid) < 0
            lo, hi = np.where(up, mid, lo), np.where(up, hi, mid)
        out = 0.5 * (lo + hi)
        return out if np.ndim(effect) else out[:1]


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
    """Power at exactly ``effect`` (noncentral t) with the point estimates: a reference for the simulation."""
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
        power = float("nan")
    else:
        tq = stats.t.ppf(spec.decision.prob_improve, df)
        power = float(stats.nct.sf(tq, df, abs(effect) / se))
    return {"se": se, "obs_per_agent": m, "icc": icc_unit, "deff": deff, "power": power}


# --------------------------------------------------------------------------------------------
# Parameters of each simulated pilot
# --------------------------------------------------------------------------------------------


@dataclass
class MetricDraws:
    """Per simulated pilot: the true effect (natural scale) and the sds / shift the data are drawn with.

    ``s_unit``, ``s_agent``, ``s_period`` and ``shift`` are on the latent scale for categorical
    metrics and on the natural scale for continuous ones.
    """

    effect: np.ndarray
    s_unit: np.ndarray
    s_agent: np.ndarray
    s_period: np.ndarray
    shift: np.ndarray
    latent: LatentScale | None


def _inv_chi2(estimate: float, df: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` draws of a variance of observed means around ``estimate`` (scaled inverse chi-square, ``df``)."""
    if df < 1 or estimate <= 0:
        return np.full(n, max(estimate, 0.0))
    return estimate * df / rng.chisquare(df, n)


def draw_parameters(
    mb: MetricBaseline,
    base: Baseline,
    spec: Spec,
    prior: tuple[float, float],
    n: int,
    rng: np.random.Generator,
) -> MetricDraws:
    """Effects from the design prior ``prior`` (mean, sd; natural scale), variance components from their uncertainty."""
    effect = rng.normal(prior[0], prior[1], n) if prior[1] > 0 else np.full(n, float(prior[0]))
    s2 = mb.sd_within**2
    stated = base.source != "data"
    m_bar = max(base.volume * base.baseline_weeks * mb.response_rate, 1e-9)  # baseline observations per agent
    noise = 0.0 if stated else s2 / m_bar
    a = 1.0 if spec.unit == "agent" else max(1.0, base.agents_per_unit)
    n_agents, n_units = (STATED_DF + 1, STATED_DF + 1) if stated else (base.n_agents, base.n_units)
    if spec.unit == "agent":
        t_agent = np.zeros(n)
        t_unit = np.maximum(_inv_chi2(mb.tau_unit**2 + noise, n_agents - 1, n, rng) - noise, 0.0)
    else:
        within_df = (n_agents - n_units) if not stated else STATED_DF
        t_agent = np.maximum(_inv_chi2(mb.tau_agent**2 + noise, within_df, n, rng) - noise, 0.0)
        est_u = mb.tau_unit**2 + (mb.tau_agent**2 + noise) / a
        t_unit = np.maximum(_inv_chi2(est_u, n_units - 1, n, rng) - (t_agent + noise) / a, 0.0)
    t_period = np.zeros(n)
    if spec.design == "did":
        half_noise = 0.0 if stated else 4 * s2 / (m_bar * a)
        t_period = np.maximum(_inv_chi2(2 * mb.tau_period**2 + half_noise, n_units - 1, n, rng) - half_noise, 0.0) / 2
    if mb.categorical:
        latent = LatentScale(mb)
        s_tot = latent.sd_for_variance(t_unit + t_agent)
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(t_unit + t_agent > 0, t_unit / (t_unit + t_agent), 1.0)
        shift = latent.shift_for_effect(effect, s_tot)
        return MetricDraws(
            effect, s_tot * np.sqrt(frac), s_tot * np.sqrt(1 - frac), latent.sd_for_variance(t_period), shift, latent
        )
    return MetricDraws(effect, np.sqrt(t_unit), np.sqrt(t_agent), np.sqrt(t_period), effect.copy(), None)


# --------------------------------------------------------------------------------------------
# The pilots' data, nested over sizes
# --------------------------------------------------------------------------------------------


@dataclass
class SimulatedMetric:
    """One metric's simulated pilots at the largest size (treatment units first, then control units).

    Attributes
    ----------
    pilot_sum, pilot_n
        Per pilot, unit and week: sum of the observations (natural scale) and their number up to the
        end of that week (cumulative), shape (S, U, W).
    base_sum, base_n
        Per pilot and unit in the baseline period (DiD), shape (S, U); None for an A/B.
    units_t, units_c, agents_per_unit
        Units per arm at the largest size and agents per unit.
    levels
        With ``keep_levels``: level counts per pilot, agent and week, shape (S, A, W, L) (A = U x
        agents per unit; binary metrics: L = 2), for building cells in tests.

    """

    pilot_sum: np.ndarray
    pilot_n: np.ndarray
    base_sum: np.ndarray | None
    base_n: np.ndarray | None
    units_t: int
    units_c: int
    agents_per_unit: int
    levels: np.ndarray | None = None


def _probabilities(latent: LatentScale, eta: np.ndarray, keep_levels: bool) -> tuple[np.ndarray, np.ndarray]:
    """(category probabilities at ``eta``, value of each category): levels with one value pooled unless kept."""
    p = ordinal_probs(eta, latent.cuts)
    if keep_levels:
        return p, latent.values
    values, inverse = np.unique(latent.values, return_inverse=True)
    return p @ np.eye(len(values))[inverse], values


def _outcomes(
    mb: MetricBaseline,
    probs: tuple[np.ndarray, np.ndarray] | None,
    eta: np.ndarray,
    n: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray | None]:
    """(sum of natural-scale observations, category counts or None) for ``n`` observations at latent ``eta``."""
    if probs is not None:
        p, values = probs
        # multinomial counts as a chain of binomials: category j among what categories j.. leave
        left, rest = n.copy(), np.ones(n.shape)
        counts = np.empty(n.shape + (p.shape[-1],), dtype=np.int64)
        for j in range(p.shape[-1] - 1):
            with np.errstate(invalid="ignore", divide="ignore"):
                q = np.clip(np.where(rest > 0, p[..., j] / rest, 0.0), 0.0, 1.0)
            counts[..., j] = rng.binomial(left, q)
            left = left - counts[..., j]
            rest = rest - p[..., j]
        counts[..., -1] = left
        return counts @ values, counts
    noise = rng.standard_normal(n.shape) * mb.sd_within * np.sqrt(n)
    return n * (mb.mean + eta) + noise, None


def simulate_metric(
    mb: MetricBaseline,
    base: Baseline,
    spec: Spec,
    draws: MetricDraws,
    largest: GridCell,
    weeks: int,
    rng: np.random.Generator,
    *,
    keep_levels: bool = False,
) -> SimulatedMetric:
    """The pilots' data at the largest size of the grid, week by week (see the module doc)."""
    s = len(draws.effect)
    gt, gc, a = largest.units_t, largest.units_c, largest.agents_per_unit
    u = gt + gc
    treated = np.repeat(np.r_[np.ones(gt), np.zeros(gc)], a)[None, :]
    level = np.repeat(rng.standard_normal((s, u)) * draws.s_unit[:, None], a, axis=1)
    level = level + rng.standard_normal((s, u * a)) * draws.s_agent[:, None]
    rate = base.volume * mb.response_rate
    eta_pilot = level + treated * draws.shift[:, None]
    if spec.design == "did":
        eta_pilot = eta_pilot + np.repeat(rng.standard_normal((s, u)) * draws.s_period[:, None], a, axis=1)
    lat = draws.latent
    probs = _probabilities(lat, eta_pilot, keep_levels) if lat is not None else None
    sums, counts, levels = [], [], []
    for _ in range(weeks):
        n = rng.poisson(rate, (s, u * a))
        total, lv = _outcomes(mb, probs, eta_pilot, n, rng)
        sums.append(total.reshape(s, u, a).sum(axis=2))
        counts.append(n.reshape(s, u, a).sum(axis=2))
        if keep_levels and lv is not None:
            levels.append(lv)
    base_sum = base_n = None
    if spec.design == "did":
        eta_base = level + np.repeat(rng.standard_normal((s, u)) * draws.s_period[:, None], a, axis=1)
        n = rng.poisson(rate * base.baseline_weeks, (s, u * a))
        total, _ = _outcomes(mb, _probabilities(lat, eta_base, False) if lat is not None else None, eta_base, n, rng)
        base_sum, base_n = total.reshape(s, u, a).sum(axis=2), n.reshape(s, u, a).sum(axis=2)
    return SimulatedMetric(
        pilot_sum=np.cumsum(np.stack(sums, axis=2), axis=2, dtype=float),
        pilot_n=np.cumsum(np.stack(counts, axis=2), axis=2, dtype=float),
        base_sum=None if base_sum is None else base_sum.astype(float),
        base_n=None if base_n is None else base_n.astype(float),
        units_t=gt,
        units_c=gc,
        agents_per_unit=a,
        levels=np.stack(levels, axis=2) if levels else None,
    )


def approximate_posterior(
    sim: SimulatedMetric, units_t: int, units_c: int, weeks: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, sd, degrees of freedom) of the approximate posterior of the effect at one size, per pilot.

    The first ``units_t`` treatment and ``units_c`` control units over the first ``weeks`` weeks;
    Welch's comparison of unit means (A/B) or of unit changes from the baseline (DiD).
    """
    tot = sim.pilot_sum[:, :, weeks - 1]
    n = sim.pilot_n[:, :, weeks - 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        y = np.where(n > 0, tot / n, np.nan)
        if sim.base_sum is not None:
            y = y - np.where(sim.base_n > 0, sim.base_sum / sim.base_n, np.nan)
    y_t = y[:, :units_t]
    y_c = y[:, sim.units_t : sim.units_t + units_c]
    return welch_rows(y_t, y_c)
