"""Seeded simulator of contact-center interaction tables with known true effects.

The tests' ground truth: every estimator in qmsprint is checked against data generated here.

Generative model
----------------
Agents are nested in teams, teams in sites. Each interaction ``i`` handled by agent ``a`` of team
``t`` has a latent *experience* predictor (logit scale)::

    core_i = u_a + v_t + s_site + channel_i + reason_i + season(week_i)
             + sum_k item_effect_k (pass_ik - pass_rate_k) + behavior_weight * e_i
             + [DiD] group_offset * treated_group + period_shock * pilot

with agent effects ``u_a = agent_sd * z_a`` and team effects ``v_t ~ Normal(0, team_sd)``;
``e_i`` is the interaction-level part of the behavior score (``behavior_score = 65 + 12 q_i``,
``q_i = 0.6 z_a + 0.8 e_i``, clipped to 0-100). Checklist items pass with their own rates (a bit
more often for better agents); ``qa_score`` is the percentage of items passed. Some items raise
CSAT, some are noise, some hurt (and prolong the call).

``T_i = 1`` when the interaction is handled by a unit on the new program during the pilot period.
Outcomes, given ``core_i`` (independent draws):

* CSAT: ordered logit on ``core_i + csat_effect T_i`` with ``csat_cutpoints`` over the scale;
* NPS 0-10: ordered logit on ``core_i + nps_effect T_i`` with ``nps_cutpoints``;
* FCR (survey question): ``logit p = fcr_base + 0.6 core_i + fcr_effect T_i``;
* repeat contact: ``logit p = repeat_base - 0.5 core_i + reason_repeat_i + repeat_effect T_i``;
  each interaction spawns a follow-up contact of the same customer (same contact reason with
  probability 0.8, a random agent of the same team) after a delay strictly inside
  ``(0, repeat_window_days)`` days with that probability; follow-ups can spawn follow-ups.
  Every chain has its own customer id, so the data's repeat contacts (window ``repeat_window_days``)
  are exactly the spawned follow-ups, except where the window is censored at the end of the data;
* handle time: ``log ht = log(ht_median) + channel_ht + reason_ht + agent_ht + items_ht
  + handle_time_effect T_i + Normal(0, ht_sd)`` seconds.

Survey response (CSAT, and NPS for ``nps_answer_share`` of the respondents, FCR for all of them)
is missing at random with ``response_rate[0]`` for the control group and, during the pilot,
``response_rate[1]`` for the treated group.

Designs: ``ab`` randomizes units (agents, or teams with ``unit="team"``; agents within teams)
to the two arms for the whole data; both arms run over the same pilot period after a baseline in
which everybody is on the old program. ``did`` lets whole teams switch at the pilot start; the
treated teams differ at baseline (``did_group_offset``) and everyone shifts in the pilot
(``did_period_shock``). The ``arm`` column always holds the unit's group.

Truth (``Simulation.truth``)
----------------------------
``truth["effects"][metric][scale]`` is the **expected** difference between the new and the
current program, averaged over the pilot-period interactions of the design's population (A/B: all
units; DiD: the treated units), computed from probabilities and expectations given each
interaction's latent predictor, not from sampled outcomes. With ``eta0_i`` the predictor without
treatment and ``eta1_i = eta0_i + effect``:

* ``csat``: ``mean`` = mean_i(E[y|eta1_i] - E[y|eta0_i]) points; ``top2box`` = mean_i(P(top two
  levels|eta1) - P(...|eta0)) in pp;
* ``nps``: ``nps`` = 100 (mean P(9-10) - mean P(0-6)) difference in NPS points; ``promoters``,
  ``passives``, ``detractors`` in pp;
* ``fcr``, ``repeat_contact``: ``rate`` = difference of mean probabilities in pp; ``relative`` =
  100 (r1 - r0) / r0 in % with ``r0, r1`` the mean probabilities;
* ``handle_time``: ``mean`` = mean_i(E[ht|eta1] - E[ht|eta0]) seconds (lognormal means);
  ``relative`` in %.

``truth["control"][metric][scale]`` / ``truth["treatment"][metric][scale]`` hold the two means.
``truth["latent"]`` has the latent parameters (effects, cutpoints, agent/team sd, bases);
``truth["repeat_share"]`` the share of uncensored interactions (window ``(t, t + W]``, censored
when ``t + W`` is after the last timestamp) that have a repeat contact in the data, overall and
``by_period_arm``; ``truth["response_rates"]`` the realised CSAT response share by period and arm;
``truth["items"]`` each item's pass rate and effects; ``truth["periods"]`` the period dates.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.special import expit

from qmsprint.stats import ordinal_exceedance

CHANNELS = ("voice", "chat", "email", "messaging")
REASONS = ("billing", "technical", "account", "moving", "cancellation", "other")


@dataclass(frozen=True)
class SimItem:
    """One checklist item: pass rate, effect on the CSAT latent scale, handle-time effect (log)."""

    name: str
    pass_rate: float
    csat_effect: float
    ht_effect: float = 0.0


DEFAULT_ITEMS = (
    SimItem("greeting", 0.93, 0.05),
    SimItem("verified_identity", 0.90, 0.0),
    SimItem("name_used_3x", 0.82, 0.0),
    SimItem("empathy_statement", 0.72, 0.30),
    SimItem("confirmed_resolution", 0.75, 0.40),
    SimItem("explained_next_steps", 0.70, 0.30),
    SimItem("offered_upsell", 0.60, -0.25, 0.08),
    SimItem("read_full_disclosure", 0.85, -0.10, 0.05),
)


@dataclass(frozen=True)
class SimConfig:
    """Settings of one simulated pilot (all effects on the latent scale).

    Parameters
    ----------
    design
        ``ab`` or ``did``.
    n_agents, n_teams, n_sites
        Agents are spread evenly over teams, teams over sites.
    interactions_per_agent
        First contacts per agent per week-period block: each agent gets this many first contacts in
        the pilot period and (pro rata by weeks) in the baseline; follow-up (repeat) contacts come
        on top (about ``repeat rate`` more).
    weeks, baseline_weeks
        Length of the pilot and of the baseline before it (0: no baseline; DiD needs one).
    start
        First day of the data (the baseline's, else the pilot's); a Monday keeps weeks aligned.
    arms
        ``(control, treatment)`` values of the ``arm`` column.
    unit
        What is randomized / switched: ``agent`` or ``team`` (DiD always switches teams).
    treated_share
        Share of units on the new program.
    csat_effect, nps_effect, fcr_effect, repeat_effect
        Treatment effects on the logit scale (repeat: negative = fewer repeats).
    handle_time_effect
        Treatment effect on log handle time.
    agent_sd, team_sd, site_sd
        Random-effect standard deviations of the latent experience predictor.
    response_rate
        Survey response probability ``(control group, treated group in the pilot)``.
    nps_answer_share
        Share of survey respondents who also answer the NPS question.

    """

    design: Literal["ab", "did"] = "ab"
    n_agents: int = 60
    n_teams: int = 6
    n_sites: int = 2
    interactions_per_agent: int = 200
    weeks: int = 12
    baseline_weeks: int = 8
    start: dt.date = dt.date(2026, 1, 5)
    arms: tuple[str, str] = ("checklist", "behavior")
    unit: Literal["agent", "team"] = "agent"
    treated_share: float = 0.5
    csat_scale: tuple[int, int] = (1, 5)
    csat_cutpoints: tuple[float, ...] = (-3.6, -2.6, -1.3, 0.5)
    nps_cutpoints: tuple[float, ...] = (-4.6, -4.2, -3.8, -3.4, -3.0, -2.5, -1.8, -1.0, 0.2, 1.4)
    csat_effect: float = 0.25
    nps_effect: float = 0.25
    fcr_effect: float = 0.15
    repeat_effect: float = -0.2
    handle_time_effect: float = 0.02
    agent_sd: float = 0.35
    team_sd: float = 0.15
    site_sd: float = 0.05
    fcr_base: float = 1.2
    repeat_base: float = -1.75
    ht_median: float = 360.0
    ht_sd: float = 0.5
    response_rate: tuple[float, float] = (0.2, 0.2)
    nps_answer_share: float = 0.85
    repeat_window_days: int = 7
    behavior_weight: float = 0.35
    season_amplitude: float = 0.08
    did_group_offset: float = -0.15
    did_period_shock: float = 0.10
    channel_mix: tuple[float, ...] = (0.50, 0.25, 0.10, 0.15)
    reason_mix: tuple[float, ...] = (0.28, 0.24, 0.16, 0.10, 0.08, 0.14)
    items: tuple[SimItem, ...] = DEFAULT_ITEMS
    include_nps: bool = True
    include_fcr: bool = True
    seed: int = 1

    def __post_init__(self) -> None:
        if self.design not in ("ab", "did"):
            raise ValueError(f"design must be 'ab' or 'did' (got {self.design!r})")
        if self.design == "did" and self.baseline_weeks < 1:
            raise ValueError("a DiD simulation needs baseline_weeks >= 1")
        if self.n_agents < 2 or self.n_teams < 1 or self.n_agents < self.n_teams:
            raise ValueError("need n_agents >= 2 and n_teams <= n_agents")
        if len(self.csat_cutpoints) != self.csat_scale[1] - self.csat_scale[0]:
            raise ValueError("csat_cutpoints needs one cutpoint fewer than the scale has levels")
        if len(self.nps_cutpoints) != 10:
            raise ValueError("nps_cutpoints needs 10 cutpoints (levels 0-10)")


@dataclass
class Simulation:
    """A simulated interaction table and its ground truth.

    Attributes
    ----------
    frame
        Canonical interaction table (both periods), see ARCHITECTURE.md.
    truth
        Ground truth, see the module docstring.
    config
        The configuration used.

    """

    frame: pd.DataFrame
    truth: dict[str, Any]
    config: SimConfig = field(default_factory=SimConfig)


# ------------------------------------------------------------------------------------ helpers

_CH_EFF = np.array([0.0, -0.10, -0.35, 0.05])
_CH_HT = np.log(np.array([1.0, 1.45, 0.9, 1.6]))
_RS_EFF = np.array([-0.30, -0.20, 0.15, 0.0, -0.45, 0.20])
_RS_REP = np.array([0.10, 0.35, -0.20, -0.10, 0.25, -0.30])
_RS_HT = np.log(np.array([1.0, 1.3, 0.8, 1.1, 1.2, 0.85]))
_DAY_W = np.array([1.15, 1.1, 1.05, 1.0, 0.95, 0.45, 0.3])


def _ordinal_draw(eta: np.ndarray, cuts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return (eta[:, None] + rng.logistic(size=len(eta))[:, None] > cuts[None, :]).sum(1)


class _World:
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


def _features(world: _World, agent, ch, rs, sec, rng) -> dict[str, np.ndarray]:
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


def simulate(cfg: SimConfig | None = None) -> Simulation:
    """Simulate one pilot.

    Parameters
    ----------
    cfg
        Settings; default :class:`SimConfig`.

    Returns
    -------
    Simulation
        ``frame`` (canonical interaction table, both periods, sorted by time) and ``truth``.

    """
    cfg = cfg or SimConfig()
    rng = np.random.default_rng(cfg.seed)
    world = _World(cfg, rng)
    W = cfg.repeat_window_days * 86400.0
    ch_p = np.asarray(cfg.channel_mix, float) / sum(cfg.channel_mix)
    rs_p = np.asarray(cfg.reason_mix, float) / sum(cfg.reason_mix)

    agent, sec = world.first_contacts(rng)
    n = len(agent)
    cust = np.arange(n)
    ch = rng.choice(len(CHANNELS), n, p=ch_p)
    rs = rng.choice(len(REASONS), n, p=rs_p)
    batches = []
    gen = 0
    while n and gen < 12:
        f = _features(world, agent, ch, rs, sec, rng)
        p_rep = expit(f["rep0"] + cfg.repeat_effect * f["treat"])
        spawn = rng.random(n) < p_rep
        delay = W * np.clip(rng.beta(1.1, 2.2, n), 0.002, 0.998)
        delay = np.floor(delay)
        child_sec = sec + delay
        keep_child = spawn & (child_sec < world.end_s)
        batches.append({"agent": agent, "sec": sec, "cust": cust, "ch": ch, "rs": rs, "spawn": spawn, **f})
        idx = np.flatnonzero(keep_child)
        m = len(idx)
        same = rng.random(m) < 0.8
        new_rs = np.where(same, rs[idx], rng.choice(len(REASONS), m, p=rs_p))
        new_ch = np.where(rng.random(m) < 0.5, ch[idx], rng.choice(len(CHANNELS), m, p=ch_p))
        team = world.agent_team[agent[idx]]
        # a random agent of the same team (agents of team t are t, t + n_teams, ...)
        size = (cfg.n_agents - team + cfg.n_teams - 1) // cfg.n_teams
        new_agent = team + cfg.n_teams * np.floor(rng.random(m) * size).astype(int)
        agent, sec, cust, ch, rs, n = new_agent, child_sec[idx], cust[idx], new_ch, new_rs, m
        gen += 1

    def cat(key):
        return np.concatenate([b[key] for b in batches])

    agent, sec, cust, ch, rs = cat("agent"), cat("sec"), cat("cust"), cat("ch"), cat("rs")
    team, pilot, group, treat = cat("team"), cat("pilot"), cat("group"), cat("treat")
    core, rep0, lht0, behavior = cat("core"), cat("rep0"), cat("lht0"), cat("behavior")
    items = {it.name: np.concatenate([b["items"][it.name] for b in batches]) for it in cfg.items}
    # the data's repeat contact: a follow-up within the window that is in the data
    spawn = cat("spawn")
    N = len(agent)
    # follow-ups were kept only when inside the data: recompute from the table itself below
    order = np.lexsort((cust, sec))
    agent, sec, cust, ch, rs = agent[order], sec[order], cust[order], ch[order], rs[order]
    team, pilot, group, treat = team[order], pilot[order], group[order], treat[order]
    core, rep0, lht0, behavior, spawn = core[order], rep0[order], lht0[order], behavior[order], spawn[order]
    items = {k: v[order] for k, v in items.items()}

    lo, hi = cfg.csat_scale
    csat_cuts = np.asarray(cfg.csat_cutpoints, float)
    nps_cuts = np.asarray(cfg.nps_cutpoints, float)
    eta_c = core + cfg.csat_effect * treat
    eta_n = core + cfg.nps_effect * treat
    fcr_lin = cfg.fcr_base + 0.6 * core + cfg.fcr_effect * treat
    csat = lo + _ordinal_draw(eta_c, csat_cuts, rng)
    nps = _ordinal_draw(eta_n, nps_cuts, rng)
    fcr = rng.random(N) < expit(fcr_lin)
    lht = lht0 + cfg.handle_time_effect * treat
    ht = np.exp(lht + rng.normal(0, cfg.ht_sd, N))
    rate = np.where(group & pilot, cfg.response_rate[1], cfg.response_rate[0])
    respond = rng.random(N) < rate
    nps_ans = respond & (rng.random(N) < cfg.nps_answer_share)

    ts = world.t0 + pd.to_timedelta(sec.astype(np.int64), unit="s")
    ctrl, trt = cfg.arms
    agent_ids = np.array([f"A{a:04d}" for a in range(cfg.n_agents)])
    team_ids = np.array([f"T{t:02d}" for t in range(cfg.n_teams)])
    site_ids = np.array([f"S{s}" for s in range(max(1, cfg.n_sites))])
    qa = 100 * np.column_stack([items[it.name] for it in cfg.items]).mean(1) if cfg.items else np.full(N, np.nan)
    frame = pd.DataFrame(
        {
            "interaction_id": pd.array([f"I{i:08d}" for i in range(N)], dtype="string"),
            "timestamp": ts,
            "customer_id": pd.array([f"C{c:08d}" for c in cust], dtype="string"),
            "agent_id": pd.array(agent_ids[agent], dtype="string"),
            "team": pd.array(team_ids[team], dtype="string"),
            "site": pd.array(site_ids[world.team_site[team]], dtype="string"),
            "channel": pd.array(np.array(CHANNELS)[ch], dtype="string"),
            "contact_reason": pd.array(np.array(REASONS)[rs], dtype="string"),
            "arm": pd.array(np.where(world.agent_treated[agent], trt, ctrl), dtype="string"),
            "qa_score": np.round(qa, 2),
        }
    )
    for it in cfg.items:
        frame[f"item_{it.name}"] = items[it.name].astype(np.int8)
    frame["behavior_score"] = np.round(behavior, 1)
    frame["csat"] = pd.array(np.where(respond, csat, pd.NA), dtype="Int64")
    if cfg.include_nps:
        frame["nps"] = pd.array(np.where(nps_ans, nps, pd.NA), dtype="Int64")
    if cfg.include_fcr:
        frame["fcr"] = pd.array(np.where(respond, fcr, pd.NA), dtype="boolean")
    frame["handle_time"] = np.round(ht, 1)
    frame["tenure_months"] = world.tenure[agent]

    # ---------------------------------------------------------------- truth
    pop = pilot & (True if cfg.design == "ab" else group)
    pop = np.asarray(pop, bool)
    e0 = core[pop]

    def ord_stats(eta, cuts):
        ge = ordinal_exceedance(eta, cuts)
        return ge

    g0c, g1c = ord_stats(e0, csat_cuts), ord_stats(e0 + cfg.csat_effect, csat_cuts)
    g0n, g1n = ord_stats(e0, nps_cuts), ord_stats(e0 + cfg.nps_effect, nps_cuts)

    def csat_scales(ge):
        return {"mean": float(lo + ge.sum(1).mean()), "top2box": float(100 * ge[:, -2].mean())}

    def nps_scales(ge):
        prom = ge[:, 8].mean()
        detr = 1 - ge[:, 6].mean()
        return {
            "nps": float(100 * (prom - detr)),
            "promoters": float(100 * prom),
            "passives": float(100 * (1 - prom - detr)),
            "detractors": float(100 * detr),
        }

    def rate_scales(p):
        return {"rate": float(100 * p.mean())}

    fl0 = cfg.fcr_base + 0.6 * e0
    rl0 = rep0[pop]
    l0 = lht0[pop] + cfg.ht_sd**2 / 2
    control = {
        "csat": csat_scales(g0c),
        "nps": nps_scales(g0n),
        "fcr": rate_scales(expit(fl0)),
        "repeat_contact": rate_scales(expit(rl0)),
        "handle_time": {"mean": float(np.exp(l0).mean())},
    }
    treatment = {
        "csat": csat_scales(g1c),
        "nps": nps_scales(g1n),
        "fcr": rate_scales(expit(fl0 + cfg.fcr_effect)),
        "repeat_contact": rate_scales(expit(rl0 + cfg.repeat_effect)),
        "handle_time": {"mean": float(np.exp(l0 + cfg.handle_time_effect).mean())},
    }
    effects: dict[str, dict[str, float]] = {}
    for m in control:
        effects[m] = {k: treatment[m][k] - control[m][k] for k in control[m]}
    for m, k in (("fcr", "rate"), ("repeat_contact", "rate"), ("handle_time", "mean")):
        effects[m]["relative"] = 100 * (treatment[m][k] - control[m][k]) / control[m][k]

    # repeat share as the data layer defines it
    rep_data, censored = _repeat_in_data(sec, cust, W)
    periods = {
        "baseline": (
            {"start": str(world.t0.date()), "end": str((world.pilot_start - pd.Timedelta(days=1)).date())}
            if cfg.baseline_weeks
            else None
        ),
        "pilot": {"start": str(world.pilot_start.date()), "end": str((world.end - pd.Timedelta(days=1)).date())},
    }
    period = np.where(pilot, "pilot", "baseline")
    arm = np.where(world.agent_treated[agent], trt, ctrl)
    by: dict[str, dict[str, float]] = {}
    resp_by: dict[str, dict[str, float]] = {}
    for pname in ("baseline", "pilot"):
        for a in (ctrl, trt):
            mk = (period == pname) & (arm == a)
            if mk.any():
                unc = mk & ~censored
                by.setdefault(pname, {})[a] = float(rep_data[unc].mean()) if unc.any() else float("nan")
                resp_by.setdefault(pname, {})[a] = float(respond[mk].mean())
    truth: dict[str, Any] = {
        "design": cfg.design,
        "unit": "team" if cfg.design == "did" else cfg.unit,
        "arms": {"control": ctrl, "treatment": trt},
        "population": "all units" if cfg.design == "ab" else "treated units",
        "n_pilot_interactions": int(pop.sum()),
        "effects": effects,
        "control": control,
        "treatment": treatment,
        "latent": {
            "csat_effect": cfg.csat_effect,
            "nps_effect": cfg.nps_effect,
            "fcr_effect": cfg.fcr_effect,
            "repeat_effect": cfg.repeat_effect,
            "handle_time_effect": cfg.handle_time_effect,
            "csat_cutpoints": list(cfg.csat_cutpoints),
            "nps_cutpoints": list(cfg.nps_cutpoints),
            "agent_sd": cfg.agent_sd,
            "team_sd": cfg.team_sd,
            "site_sd": cfg.site_sd,
            "ht_sd": cfg.ht_sd,
            "fcr_base": cfg.fcr_base,
            "repeat_base": cfg.repeat_base,
            "did_group_offset": cfg.did_group_offset if cfg.design == "did" else 0.0,
            "did_period_shock": cfg.did_period_shock if cfg.design == "did" else 0.0,
        },
        "repeat_share": {
            "overall": float(rep_data[~censored].mean()) if (~censored).any() else float("nan"),
            "censored": int(censored.sum()),
            "window_days": cfg.repeat_window_days,
            "by_period_arm": by,
        },
        "response_rates": {"configured": list(cfg.response_rate), "by_period_arm": resp_by},
        "items": {
            it.name: {
                "pass_rate": float(items[it.name].mean()),
                "csat_effect": it.csat_effect,
                "ht_effect": it.ht_effect,
                "label": "matters" if it.csat_effect >= 0.1 else ("hurts" if it.csat_effect <= -0.1 else "noise"),
            }
            for it in cfg.items
        },
        "behavior_weight": cfg.behavior_weight,
        "periods": periods,
        "treated_units": sorted(
            set(team_ids[world.agent_team[world.agent_treated]])
            if (cfg.design == "did" or cfg.unit == "team")
            else set(agent_ids[world.agent_treated])
        ),
        "n_interactions": int(N),
        "seed": cfg.seed,
    }
    return Simulation(frame=frame, truth=truth, config=cfg)


def _repeat_in_data(sec: np.ndarray, cust: np.ndarray, window: float) -> tuple[np.ndarray, np.ndarray]:
    """Repeat contact as the data layer derives it: another contact of the customer in (t, t + W].

    Censored when ``t + W`` is after the last timestamp of the data.
    """
    order = np.lexsort((sec, cust))
    s, c = sec[order], cust[order]
    n = len(s)
    start = np.ones(n, bool)
    start[1:] = (c[1:] != c[:-1]) | (s[1:] != s[:-1])
    run = np.cumsum(start) - 1
    starts = np.flatnonzero(start)
    nxt_idx = np.append(starts[1:], n)[run]  # first row of the next (customer, time) run
    ok = nxt_idx < n
    nxt = np.full(n, np.inf)
    same = np.zeros(n, bool)
    same[ok] = c[nxt_idx[ok]] == c[ok]
    nxt[same] = s[nxt_idx[same]]
    rep_sorted = (nxt - s) <= window
    cens_sorted = s + window > s.max()
    rep, cens = np.empty(n, bool), np.empty(n, bool)
    rep[order], cens[order] = rep_sorted, cens_sorted
    return rep, cens


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, dt.date):
        return o.isoformat()
    return str(o)


def write_simulation(sim: Simulation, path: str | Path) -> list[Path]:
    """Write the data (``.parquet`` or ``.csv``) and ``<stem>.truth.json`` beside it.

    Both files are written to temporary names in the same folder and moved into place only
    when both are complete (:func:`qmsprint.store.write_files_atomic`).

    Returns
    -------
    list of Path
        The data file and the truth file.

    """
    from qmsprint.store import write_csv, write_files_atomic, write_parquet

    path = Path(path)
    if path.suffix.lower() not in (".parquet", ".csv"):
        raise ValueError(f"expected a .parquet or .csv path (got {path.name})")
    truth_path = path.with_name(path.stem + ".truth.json")
    cfg = asdict(sim.config)
    cfg["items"] = [asdict(i) if not isinstance(i, dict) else i for i in sim.config.items]
    payload = {**sim.truth, "config": cfg}

    def data(tmp: Path) -> None:
        if path.suffix.lower() == ".parquet":
            write_parquet(sim.frame, tmp, compression="zstd")
        else:
            write_csv(sim.frame, tmp)

    truth = json.dumps(payload, indent=2, default=_json_default) + "\n"
    return write_files_atomic({path: data, truth_path: truth})
