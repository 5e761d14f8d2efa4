"""The simulated contact center: units, random effects, calendar and interaction features."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from qmsprint.simulate.config import SimConfig

_CH_EFF = np.array([0.0, -0.10, -0.35, 0.05])
_CH_HT = np.log(np.array([1.0, 1.45, 0.9, 1.6]))
_RS_EFF = np.array([-0.30, -0.20, 0.15, 0.0, -0.45, 0.20])
_RS_REP = np.array([0.10, 0.35, -0.20, -0.10, 0.25, -0.30])
_RS_HT = np.log(np.array([1.0, 1.3, 0.8, 1.1, 1.2, 0.85]))
_DAY_W = np.array([1.15, 1.1, 1.05, 1.0, 0.95, 0.45, 0.3])


def ordinal_draw(eta: np.ndarray, cuts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ordered-logit draws: the number of cutpoints each ``eta + logistic noise`` exceeds."""
    return (eta[:, None] + rng.logistic(size=len(eta))[:, None] > cuts[None, :]).sum(1)


def side_rng(cfg: SimConfig) -> np.random.Generator:
    """The second random stream: every draw the default settings do not make comes from here.

    The main stream (``default_rng(seed)``) makes exactly the draws it always made, so default
    settings reproduce earlier outputs byte for byte, and switching an option on (shocks, another
    handle-time family) keeps every other draw of the same seed (common random numbers).
    """
    return np.random.default_rng([cfg.seed, 14])


class World:
    """Fixed structure: units, random effects, shocks, calendar."""

    def __init__(self, cfg: SimConfig, rng: np.random.Generator) -> None:
        self.cfg = cfg
        na, nt, ns = cfg.n_agents, cfg.n_teams, max(1, cfg.n_sites)
        self.agent_team = np.arange(na) % nt
        self.team_site = np.arange(nt) % ns
        self.z = rng.normal(0, 1, na)
        self.u = cfg.agent_sd * self.z
        self.v = rng.normal(0, cfg.team_sd, nt)
        self.s = rng.normal(0, cfg.site_sd, ns)
        self.agent_ht = rng.normal(0, cfg.agent_sd_for("handle_time"), na)
        self.tenure = np.round(np.exp(rng.normal(np.log(20) + 0.25 * self.z, 0.8)), 1)
        # shocks (second stream, always drawn in this order so each option keeps the others' draws);
        # period index 0 = baseline, 1 = pilot; weeks counted from the first day of the data
        self.side = side_rng(cfg)
        g, n_weeks = self.side, cfg.baseline_weeks + cfg.weeks
        self.team_period = cfg.team_period_sd * g.standard_normal((nt, 2))
        self.team_week = cfg.team_week_sd * g.standard_normal((nt, n_weeks))
        self.site_period = cfg.site_period_sd * g.standard_normal((ns, 2))
        self.agent_period = cfg.agent_period_sd * g.standard_normal((na, 2))
        self.ht_team = cfg.ht_team_sd * g.standard_normal(nt)
        self.ht_team_period = cfg.ht_team_period_sd * g.standard_normal((nt, 2))
        self.ht_agent_period = cfg.ht_agent_period_sd * g.standard_normal((na, 2))
        self.has_shocks = max(cfg.team_period_sd, cfg.team_week_sd, cfg.site_period_sd, cfg.agent_period_sd) > 0
        self.has_ht_terms = max(cfg.ht_team_sd, cfg.ht_team_period_sd, cfg.ht_agent_period_sd) > 0
        # group assignment
        self.agent_wave = np.full(na, -1)  # waves / prepost: wave of each agent's unit (-1: never switches)
        if cfg.design in ("waves", "prepost"):
            self.agent_wave = self._waves(rng)
            self.agent_treated = self.agent_wave >= 0
        elif cfg.unit == "site":  # whole sites (A/B and DiD)
            k = max(1, min(ns - 1, round(ns * cfg.treated_share)))
            sites = rng.permutation(ns)[:k]
            self.agent_treated = np.isin(self.team_site[self.agent_team], sites)
        elif cfg.design == "did" or cfg.unit == "team":
            k = max(1, min(nt - 1, round(nt * cfg.treated_share))) if nt > 1 else 1
            teams = rng.permutation(nt)[:k]
            self.agent_treated = np.isin(self.agent_team, teams)
        else:
            treated = np.zeros(na, bool)
            for t in range(nt):  # agents randomized within teams
                members = np.flatnonzero(self.agent_team == t)
                k = int(round(len(members) * cfg.treated_share))
                treated[rng.permutation(members)[:k]] = True
            if not treated.any() or treated.all():
                treated[:] = False
                treated[rng.permutation(na)[: max(1, na // 2)]] = True
            self.agent_treated = treated
        self.t0 = pd.Timestamp(cfg.start)
        self.pilot_start = self.t0 + pd.Timedelta(days=7 * cfg.baseline_weeks)
        self.end = self.pilot_start + pd.Timedelta(days=7 * cfg.weeks)  # exclusive
        self.total_days = (self.end - self.t0).days
        self.pilot_start_s = (self.pilot_start - self.t0).total_seconds()
        self.end_s = float(self.total_days * 86400)
        # waves / prepost: second of the data on which each agent's unit switches (inf: never)
        self.agent_switch_s: np.ndarray | None = None
        if cfg.design in ("waves", "prepost"):
            offsets = np.asarray(cfg.wave_weeks if cfg.design == "waves" else (0,), float) * 7 * 86400
            self.agent_switch_s = np.where(
                self.agent_wave >= 0, self.pilot_start_s + offsets[np.maximum(self.agent_wave, 0)], np.inf
            )

    def _waves(self, rng: np.random.Generator) -> np.ndarray:
        """Wave of each agent's unit (teams, or sites with ``unit="site"``); -1 for units that never switch.

        ``round(treated_share * units)`` units switch, spread evenly over the waves at random; in a
        before/after pilot every unit switches at the pilot start (wave 0).
        """
        cfg = self.cfg
        if cfg.design == "prepost":
            return np.zeros(cfg.n_agents, int)
        unit_of = self.team_site[self.agent_team] if cfg.unit == "site" else self.agent_team
        n = int(unit_of.max()) + 1
        k = max(1, min(n, round(n * cfg.treated_share)))
        wave = np.full(n, -1)
        wave[rng.permutation(n)[:k]] = np.arange(k) % len(cfg.wave_weeks)
        return wave[unit_of]

    @property
    def unit(self) -> str:
        """The assignment unit: ``site``, ``team`` (team randomization and DiD) or ``agent``."""
        if self.cfg.unit == "site":
            return "site"
        return "team" if (self.cfg.design in ("did", "waves", "prepost") or self.cfg.unit == "team") else "agent"

    def core_for(self, metric: str, core: np.ndarray, agent: np.ndarray) -> np.ndarray:
        """The experience predictor of one metric: ``core`` with that metric's own agent sd.

        ``core`` itself when ``agent_sd_by_metric`` has no entry for the metric.
        """
        if metric not in dict(self.cfg.agent_sd_by_metric):  # type: ignore[arg-type]
            return core
        return core - self.u[agent] + self.cfg.agent_sd_for(metric) * self.z[agent]

    def first_contacts(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(agent, second of the data) of every first contact, by period and weekday weights."""
        cfg = self.cfg
        blocks = [(0, cfg.baseline_weeks), (cfg.baseline_weeks, cfg.weeks)]
        agents, secs = [], []
        for w0, nw in blocks:
            if nw <= 0:
                continue
            per = max(1, round(cfg.interactions_per_agent * nw / cfg.weeks))
            n = per * cfg.n_agents
            days = np.arange(7 * nw)
            week = days // 7 + w0
            w = _DAY_W[days % 7] * (1 + 0.15 * np.cos(2 * np.pi * week / 13))
            d = rng.choice(days, size=n, p=w / w.sum()) + 7 * w0
            sec = d * 86400 + rng.integers(8 * 3600, 20 * 3600, n)
            agents.append(np.repeat(np.arange(cfg.n_agents), per))
            secs.append(sec.astype(float))
        return np.concatenate(agents), np.concatenate(secs)


def features(world: World, agent, ch, rs, sec, rng) -> dict[str, np.ndarray]:  # noqa: ANN001
    """Per-interaction features: items, scores, latent predictor parts (with shocks) and handle-time terms."""
    cfg = world.cfg
    n = len(agent)
    team = world.agent_team[agent]
    pilot = sec >= world.pilot_start_s
    group = world.agent_treated[agent]
    treat = group & pilot
    if world.agent_switch_s is not None:  # waves / prepost: from the unit's switch day, growing over the first weeks
        since = sec - world.agent_switch_s[agent]
        weeks_on = np.floor(np.where(since >= 0, since, 0.0) / (7 * 86400))
        treat = np.where(since >= 0, np.minimum(1.0, (weeks_on + 1) / cfg.effect_ramp_weeks), 0.0)
    week = (sec // (7 * 86400)).astype(int)
    items = {}
    item_eff = np.zeros(n)
    item_ht = np.zeros(n)
    for it in cfg.items:
        p = expit(np.log(it.pass_rate / (1 - it.pass_rate)) + cfg.item_agent_loading * world.z[agent])
        passed = rng.random(n) < p
        items[it.name] = passed
        item_eff += it.csat_effect * (passed - it.pass_rate)
        item_ht += it.ht_effect * passed
    e = rng.normal(0, 1, n)
    q = 0.6 * world.z[agent] + 0.8 * e
    core = (
        world.u[agent]
        + world.v[team]
        + world.s[world.team_site[team]]
        + _CH_EFF[ch]
        + _RS_EFF[rs]
        + cfg.season_amplitude * np.sin(2 * np.pi * week / 13)
        + item_eff
        + cfg.behavior_weight * e
    )
    if cfg.design == "did":
        core = core + cfg.did_group_offset * group + cfg.did_period_shock * pilot
    if cfg.trend_per_week:
        core = core + cfg.trend_per_week * week
    per = pilot.astype(np.intp)
    if world.has_shocks:
        site = world.team_site[team]
        core = core + (
            world.team_period[team, per]
            + world.team_week[team, week]
            + world.site_period[site, per]
            + world.agent_period[agent, per]
        )
    rep0 = cfg.repeat_base - 0.5 * world.core_for("repeat_contact", core, agent) + _RS_REP[rs]
    lht0 = np.log(cfg.ht_median) + _CH_HT[ch] + _RS_HT[rs] + world.agent_ht[agent] + item_ht
    if world.has_ht_terms:
        lht0 = lht0 + world.ht_team[team] + world.ht_team_period[team, per] + world.ht_agent_period[agent, per]
    return {
        "team": team,
        "pilot": pilot,
        "group": group,
        "treat": treat,
        "items": items,
        "behavior": np.clip(65 + 12 * q, 0, 100),
        "core": core,
        "rep0": rep0,
        "lht0": lht0,
    }
