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


class World:
    """Fixed structure: units, random effects, calendar."""

    def __init__(self, cfg: SimConfig, rng: np.random.Generator) -> None:
        self.cfg = cfg
        na, nt = cfg.n_agents, cfg.n_teams
        self.agent_team = np.arange(na) % nt
        self.team_site = np.arange(nt) % max(1, cfg.n_sites)
        self.z = rng.normal(0, 1, na)
        self.u = cfg.agent_sd * self.z
        self.v = rng.normal(0, cfg.team_sd, nt)
        self.s = rng.normal(0, cfg.site_sd, max(1, cfg.n_sites))
        self.agent_ht = rng.normal(0, 0.12, na)
        self.tenure = np.round(np.exp(rng.normal(np.log(20) + 0.25 * self.z, 0.8)), 1)
        # group assignment
        if cfg.design == "did" or cfg.unit == "team":
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
    """Per-interaction features: items, scores, latent predictor parts and handle-time terms."""
    cfg = world.cfg
    n = len(agent)
    team = world.agent_team[agent]
    pilot = sec >= world.pilot_start_s
    group = world.agent_treated[agent]
    treat = group & pilot
    week = (sec // (7 * 86400)).astype(int)
    items = {}
    item_eff = np.zeros(n)
    item_ht = np.zeros(n)
    for it in cfg.items:
        p = expit(np.log(it.pass_rate / (1 - it.pass_rate)) + 0.3 * world.z[agent])
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
    rep0 = cfg.repeat_base - 0.5 * core + _RS_REP[rs]
    lht0 = np.log(cfg.ht_median) + _CH_HT[ch] + _RS_HT[rs] + world.agent_ht[agent] + item_ht
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
