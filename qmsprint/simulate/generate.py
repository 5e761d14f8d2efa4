"""Draw a simulated pilot and compute its ground truth (see :mod:`qmsprint.simulate`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from qmsprint.simulate import handle_time
from qmsprint.simulate.config import CHANNELS, METRICS, REASONS, SimConfig, Simulation
from qmsprint.simulate.rollout import rollout_truth
from qmsprint.simulate.world import World, features, ordinal_draw
from qmsprint.stats import ordinal_exceedance


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
    world = World(cfg, rng)
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
        f = features(world, agent, ch, rs, sec, rng)
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
    core_c = world.core_for("csat", core, agent)
    core_n = world.core_for("nps", core, agent)
    core_f = world.core_for("fcr", core, agent)
    eta_c = core_c + cfg.csat_effect * treat
    eta_n = core_n + cfg.nps_effect * treat
    fcr_lin = cfg.fcr_base + 0.6 * core_f + cfg.fcr_effect * treat
    csat = lo + ordinal_draw(eta_c, csat_cuts, rng)
    nps = ordinal_draw(eta_n, nps_cuts, rng)
    fcr = rng.random(N) < expit(fcr_lin)
    lht = lht0 + cfg.handle_time_effect * treat
    ht = handle_time.draw(cfg, lht, rng.normal(0, cfg.ht_sd, N), world.side)
    on_new = group & pilot if world.agent_switch_s is None else treat > 0
    rate = np.where(on_new, cfg.response_rate[1], cfg.response_rate[0])
    if cfg.response_depends_on_outcome:  # happier customers answer more often (not at random)
        with np.errstate(divide="ignore"):
            rate = expit(logit(rate) + cfg.response_outcome_slope * (csat - csat.mean()))
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
            "arm": pd.array(np.where(_on_new(world, agent, treat), trt, ctrl), dtype="string"),
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
    frame["handle_time"] = np.round(ht, 1) if handle_time.is_default(cfg) else np.maximum(np.round(ht, 1), 0.1)
    frame["tenure_months"] = world.tenure[agent]

    # ---------------------------------------------------------------- truth
    rollout = world.agent_switch_s is not None  # waves / prepost: per-interaction switch and ramp
    pop = (treat > 0) if rollout else pilot & (True if cfg.design == "ab" else group)
    pop = np.asarray(pop, bool)

    def ord_stats(eta, cuts):
        ge = ordinal_exceedance(eta, cuts)
        return ge

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

    def truth_of(sel: np.ndarray) -> tuple[dict, dict, dict]:
        """(control, treatment, effects) averaged over the population's interactions ``sel``."""
        w = treat[pop][sel] if rollout else 1.0  # share of the full effect each interaction gets
        e0, e0n, e0f = core_c[pop][sel], core_n[pop][sel], core_f[pop][sel]
        g0c, g1c = ord_stats(e0, csat_cuts), ord_stats(e0 + cfg.csat_effect * w, csat_cuts)
        g0n, g1n = ord_stats(e0n, nps_cuts), ord_stats(e0n + cfg.nps_effect * w, nps_cuts)
        fl0 = cfg.fcr_base + 0.6 * e0f
        rl0 = rep0[pop][sel]
        l0 = lht0[pop][sel]
        control = {
            "csat": csat_scales(g0c),
            "nps": nps_scales(g0n),
            "fcr": rate_scales(expit(fl0)),
            "repeat_contact": rate_scales(expit(rl0)),
            "handle_time": {"mean": float(handle_time.expected(cfg, l0).mean())},
        }
        treatment = {
            "csat": csat_scales(g1c),
            "nps": nps_scales(g1n),
            "fcr": rate_scales(expit(fl0 + cfg.fcr_effect * w)),
            "repeat_contact": rate_scales(expit(rl0 + cfg.repeat_effect * w)),
            "handle_time": {"mean": float(handle_time.expected(cfg, l0, cfg.handle_time_effect * w).mean())},
        }
        effects: dict[str, dict[str, float]] = {}
        for m in control:
            effects[m] = {k: treatment[m][k] - control[m][k] for k in control[m]}
        for m, k in (("fcr", "rate"), ("repeat_contact", "rate"), ("handle_time", "mean")):
            effects[m]["relative"] = 100 * (treatment[m][k] - control[m][k]) / control[m][k]
        return control, treatment, effects

    control, treatment, effects = truth_of(np.ones(int(pop.sum()), bool))

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
    arm = np.where(_on_new(world, agent, treat), trt, ctrl)
    by: dict[str, dict[str, float]] = {}
    resp_by: dict[str, dict[str, float]] = {}
    csat_all: dict[str, dict[str, float]] = {}
    csat_resp: dict[str, dict[str, float]] = {}
    for pname in ("baseline", "pilot"):
        for a in (ctrl, trt):
            mk = (period == pname) & (arm == a)
            if mk.any():
                unc = mk & ~censored
                by.setdefault(pname, {})[a] = float(rep_data[unc].mean()) if unc.any() else float("nan")
                resp_by.setdefault(pname, {})[a] = float(respond[mk].mean())
                csat_all.setdefault(pname, {})[a] = float(csat[mk].mean())
                rk = mk & respond
                csat_resp.setdefault(pname, {})[a] = float(csat[rk].mean()) if rk.any() else float("nan")
    truth: dict[str, Any] = {
        "design": cfg.design,
        "unit": world.unit,
        "arms": {"control": ctrl, "treatment": trt},
        "population": {"ab": "all units", "waves": "switched units from their switch", "prepost": "all units"}.get(
            cfg.design, "treated units"
        ),
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
            "agent_sd_by_metric": {m: cfg.agent_sd_for(m) for m in METRICS},
            "item_agent_loading": cfg.item_agent_loading,
            "team_period_sd": cfg.team_period_sd,
            "team_week_sd": cfg.team_week_sd,
            "site_period_sd": cfg.site_period_sd,
            "agent_period_sd": cfg.agent_period_sd,
            "ht_team_sd": cfg.ht_team_sd,
            "ht_team_period_sd": cfg.ht_team_period_sd,
            "ht_agent_period_sd": cfg.ht_agent_period_sd,
        },
        "handle_time_model": {
            "dist": cfg.ht_dist,
            "shift_s": cfg.ht_shift_s,
            "shape": cfg.ht_shape if cfg.ht_dist in ("gamma", "gamma_shift") else None,
            "mixture": (
                {
                    "weight": cfg.ht_mix_weight,
                    "ratio": cfg.ht_mix_ratio,
                    "sd": cfg.ht_sd if cfg.ht_mix_sd is None else cfg.ht_mix_sd,
                }
                if cfg.ht_dist == "mixture"
                else None
            ),
            "mean_factor": handle_time.mean_factor(cfg),
        },
        "shocks": _shocks(world, agent_ids, team_ids, site_ids),
        "repeat_share": {
            "overall": float(rep_data[~censored].mean()) if (~censored).any() else float("nan"),
            "censored": int(censored.sum()),
            "window_days": cfg.repeat_window_days,
            "by_period_arm": by,
        },
        "response_rates": {
            "configured": list(cfg.response_rate),
            "by_period_arm": resp_by,
            "depends_on_outcome": cfg.response_depends_on_outcome,
            "outcome_slope": cfg.response_outcome_slope if cfg.response_depends_on_outcome else 0.0,
            # realised CSAT (drawn for every interaction) against the respondents': the response bias
            "csat_mean_all": csat_all,
            "csat_mean_respondents": csat_resp,
        },
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
            set(site_ids[world.team_site[world.agent_team[world.agent_treated]]])
            if world.unit == "site"
            else set(team_ids[world.agent_team[world.agent_treated]])
            if world.unit == "team"
            else set(agent_ids[world.agent_treated])
        ),
        "n_interactions": int(N),
        "seed": cfg.seed,
    }
    if rollout:
        truth.update(rollout_truth(world, agent[pop], sec[pop], truth_of, team_ids, site_ids))
    return Simulation(frame=frame, truth=truth, config=cfg)


def _on_new(world: World, agent: np.ndarray, treat: np.ndarray) -> np.ndarray:
    """The ``arm`` column: the unit's group (A/B, DiD), or whether it has switched yet (waves, prepost)."""
    return world.agent_treated[agent] if world.agent_switch_s is None else np.asarray(treat) > 0


def _shocks(world: World, agent_ids: np.ndarray, team_ids: np.ndarray, site_ids: np.ndarray) -> dict[str, Any]:
    """Realised shocks by unit id: ``{kind: {unit: {"baseline": x, "pilot": y}}}`` (team_week: by week).

    Only the kinds with a positive sd appear; the values are on the latent experience scale (``ht_``:
    log handle time).
    """
    cfg = world.cfg
    out: dict[str, Any] = {}
    for kind, sd, arr, ids in (
        ("team_period", cfg.team_period_sd, world.team_period, team_ids),
        ("site_period", cfg.site_period_sd, world.site_period, site_ids),
        ("agent_period", cfg.agent_period_sd, world.agent_period, agent_ids),
        ("ht_team_period", cfg.ht_team_period_sd, world.ht_team_period, team_ids),
        ("ht_agent_period", cfg.ht_agent_period_sd, world.ht_agent_period, agent_ids),
    ):
        if sd > 0:
            out[kind] = {str(u): {"baseline": float(b), "pilot": float(p)} for u, (b, p) in zip(ids, arr, strict=True)}
    if cfg.team_week_sd > 0:
        out["team_week"] = {str(u): [float(x) for x in row] for u, row in zip(team_ids, world.team_week, strict=True)}
    if cfg.ht_team_sd > 0:
        out["ht_team"] = {str(u): float(x) for u, x in zip(team_ids, world.ht_team, strict=True)}
    return out


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
