"""Seeded generator of CELLS straight from known model parameters (known-answer tests).

Each agent has a latent level per metric (normal around its arm mean), channels shift the latent
predictor, and cells are drawn from the exact sampling distributions of the models: ordinal level
counts (multinomial), binomial successes; handle times are drawn one by one (``ht_dist``:
lognormal, gamma with the same mean, that gamma plus 40 s, or a lognormal mixture with a slow
component) and summed into the cells' count, sum, sum of squares and sums of logs. Optional team x
period and agent x period shocks (``team_period_sd``, ``agent_period_sd``) and, for A/B cells,
a baseline period (``ab_baseline``). ``truth`` is the counterfactual effect on every reported
scale, averaged over the population's pilot cells with the estimator's weights, using the agents'
true latent levels and shocks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from qmsprint.spec import parse_spec

CSAT_CUTS = np.array([-2.6, -1.7, -0.6, 0.9])
NPS_CUTS = np.array([-3.2, -2.8, -2.5, -2.2, -1.9, -1.5, -1.0, -0.4, 0.4, 1.4])
HT_SIGMA = 0.5
HT_MU = np.log(360.0)
FCR_MU, REP_MU = 0.6, -1.6
METRICS = ("csat", "nps", "fcr", "repeat_contact", "handle_time")
DEFAULT_EFFECTS = {"csat": 0.3, "nps": 0.3, "fcr": 0.2, "repeat_contact": -0.2, "handle_time": -0.05}


def spec_for(
    design="ab",
    metrics=METRICS,
    draws=500,
    tune=500,
    chains=2,
    seed=1,
    segments=(),
    time_budget_s=0.0,
    unit="agent",
    **model,
):
    """A spec for cells of :func:`make_cells` (no retries unless ``time_budget_s`` > 0)."""
    raw = {
        "name": "t",
        "design": design,
        "arms": {"control": "checklist", "treatment": "behavior"},
        "data": {"source": "x.parquet"},
        "metrics": [{"name": m} for m in metrics],
        "segments": list(segments),
        "sampler": {"draws": draws, "tune": tune, "chains": chains, "seed": seed, "time_budget_s": time_budget_s},
        "model": model,
        "unit": unit,
    }
    if design == "did":
        raw["periods"] = {
            "baseline": {"start": "2026-01-01", "end": "2026-01-31"},
            "pilot": {"start": "2026-02-01", "end": "2026-02-28"},
        }
    return parse_spec(raw)


def _probs(eta, cuts):
    cdf = expit(cuts[None, :] - np.asarray(eta)[:, None])
    full = np.concatenate([np.zeros((len(cdf), 1)), cdf, np.ones((len(cdf), 1))], axis=1)
    return np.diff(full, axis=1)


def make_cells(
    design="ab",
    n_agents=40,
    per_agent=200,
    effects=None,
    seed=0,
    agent_sd=0.3,
    n_teams=4,
    channels=("voice", "chat"),
    channel_shift=(0.0, -0.3),
    response=0.3,
    group_diff=0.2,
    period_shock=-0.1,
    noiseless=False,
    ht_dist="lognormal",
    ht_agent_scale=0.2,
    team_period_sd=0.0,
    agent_period_sd=0.0,
    ab_baseline=False,
    unit="agent",
):
    """Cells and the true effects.

    Returns
    -------
    (cells, truth, params)
        ``truth[metric][scale]`` is the true effect (treatment - control) on that scale.

    """
    rng = np.random.default_rng(seed)
    eff = dict(DEFAULT_EFFECTS if effects is None else effects)
    if unit == "team":  # whole teams randomized: agents a, a + n_teams, ... share team a % n_teams
        team = np.arange(n_agents) % n_teams
        group = team % 2
    else:
        group = np.arange(n_agents) % 2
        team = (np.arange(n_agents) // 2) % n_teams  # randomized within teams
    sd = 0.0 if noiseless else agent_sd
    lat = {m: rng.normal(0, sd * (ht_agent_scale if m == "handle_time" else 1.0), n_agents) for m in METRICS}
    periods = ["baseline", "pilot"] if (design == "did" or ab_baseline) else ["pilot"]
    tp = {m: rng.normal(0, team_period_sd, (n_teams, 2)) for m in METRICS}
    ap = {m: rng.normal(0, agent_period_sd, (n_agents, 2)) for m in METRICS}
    rows = []
    for a in range(n_agents):
        for per in periods:
            post = per == "pilot"
            shares = np.full(len(channels), 1 / len(channels))
            ns = np.round(shares * per_agent).astype(int) if noiseless else rng.multinomial(per_agent, shares)
            for ci, ch in enumerate(channels):
                n = int(ns[ci])
                if n == 0:
                    continue
                row = {
                    "agent_id": f"a{a:03d}",
                    "team": f"t{team[a]}",
                    "site": "s1",
                    "arm": "behavior" if group[a] else "checklist",
                    "period": per,
                    "channel": ch,
                    "contact_reason": "billing",
                    "n": n,
                }
                on = group[a] * post
                for m in METRICS:
                    scale = 0.2 if m == "handle_time" else 1.0
                    base = (
                        lat[m][a]
                        + channel_shift[ci] * scale
                        + (tp[m][team[a], int(post)] + ap[m][a, int(post)]) * scale
                    )
                    if design == "did":
                        base += group[a] * group_diff * scale
                    if len(periods) == 2:
                        base += post * period_shock * scale
                    row[f"_eta_{m}"] = base + on * eff[m]
                    row[f"_base_{m}"] = base
                    row[f"_on_{m}"] = on
                # survey
                for m, cuts, lv in (("csat", CSAT_CUTS, range(1, 6)), ("nps", NPS_CUTS, range(11))):
                    p = _probs([row[f"_eta_{m}"]], cuts)[0]
                    k = int(round(n * response)) if noiseless else rng.binomial(n, response)
                    counts = np.round(p * k).astype(int) if noiseless else rng.multinomial(k, p)
                    row[f"{m}_n"] = int(counts.sum())
                    for lvl, c in zip(lv, counts, strict=True):
                        row[f"{m}_{lvl}"] = int(c)
                pf = expit(FCR_MU + row["_eta_fcr"])
                pr = expit(REP_MU + row["_eta_repeat_contact"])
                row["fcr_n"] = n
                row["fcr_yes"] = int(round(n * pf)) if noiseless else rng.binomial(n, pf)
                row["repeat_n"] = n
                row["repeat_yes"] = int(round(n * pr)) if noiseless else rng.binomial(n, pr)
                mu = HT_MU + row["_eta_handle_time"]
                row["ht_n"] = n
                if noiseless:
                    m_ht = np.exp(mu + HT_SIGMA**2 / 2)
                    v_ht = (np.exp(HT_SIGMA**2) - 1) * np.exp(2 * mu + HT_SIGMA**2)
                    row["ht_sum"] = n * m_ht
                    row["ht_sumsq"] = n * (v_ht + m_ht**2)
                    row["lht_sum"] = n * mu
                    row["lht_sumsq"] = n * (mu**2 + HT_SIGMA**2)
                else:
                    t = draw_handle_times(rng, mu, n, ht_dist)
                    row["ht_sum"] = float(t.sum())
                    row["ht_sumsq"] = float((t * t).sum())
                    row["lht_sum"] = float(np.log(t).sum())
                    row["lht_sumsq"] = float((np.log(t) ** 2).sum())
                rows.append(row)
    df = pd.DataFrame(rows)
    truth = true_effects(df, design, eff, ht_dist=ht_dist)
    cells = df[[c for c in df.columns if not c.startswith("_")]].copy()
    return cells, truth, {"lat": lat, "group": group}


HT_SHIFT = 40.0
MIX_WEIGHT, MIX_RATIO = 0.2, 3.0


def draw_handle_times(rng, mu, n, dist="lognormal"):
    """``n`` handle times with log-scale location ``mu`` (all families have the lognormal's mean unless shifted)."""
    if dist in ("gamma", "gamma_shift"):
        k = 2.0
        t = np.exp(mu) * rng.gamma(k, np.exp(HT_SIGMA**2 / 2) / k, n)
        return t + (HT_SHIFT if dist == "gamma_shift" else 0.0)
    if dist == "mixture":
        slow = rng.random(n) < MIX_WEIGHT
        return np.exp(mu + rng.normal(0, HT_SIGMA, n)) * np.where(slow, MIX_RATIO, 1.0)
    return np.exp(mu + rng.normal(0, HT_SIGMA, n))


def ht_mean(mu, dist="lognormal"):
    """Expected handle time of :func:`draw_handle_times`."""
    m = np.exp(mu + HT_SIGMA**2 / 2)
    if dist == "gamma_shift":
        return m + HT_SHIFT
    if dist == "mixture":
        return m * (1 - MIX_WEIGHT + MIX_WEIGHT * MIX_RATIO)
    return m


def true_effects(df, design, eff, survey_weight="n", ht_dist="lognormal"):
    pop = df["period"] == "pilot"
    if design == "did":
        pop &= df["arm"] == "behavior"
    d = df[pop]
    out = {}
    for m in METRICS:
        base = d[f"_base_{m}"].to_numpy()
        if m in ("csat", "nps"):
            w = d[f"{m}_n"].to_numpy() if survey_weight == "resp" else d["n"].to_numpy()
        else:
            w = d["n"].to_numpy()
        w = w / w.sum()
        res = {}
        for arm, eta in (("c", base), ("t", base + eff[m])):
            if m == "csat":
                p = _probs(eta, CSAT_CUTS)
                res[arm] = {"mean": p @ np.arange(1, 6) @ w, "top2box": 100 * p[:, 3:].sum(1) @ w}
            elif m == "nps":
                p = _probs(eta, NPS_CUTS)
                prom, det = p[:, 9:].sum(1), p[:, :7].sum(1)
                res[arm] = {
                    "nps": 100 * (prom - det) @ w,
                    "promoters": 100 * prom @ w,
                    "passives": 100 * p[:, 7:9].sum(1) @ w,
                    "detractors": 100 * det @ w,
                }
            elif m == "fcr":
                res[arm] = {"rate": 100 * expit(FCR_MU + eta) @ w}
            elif m == "repeat_contact":
                res[arm] = {"rate": 100 * expit(REP_MU + eta) @ w}
            else:
                res[arm] = {"mean": ht_mean(HT_MU + eta, ht_dist) @ w}
        out[m] = {k: res["t"][k] - res["c"][k] for k in res["c"]}
        key = "rate" if m in ("fcr", "repeat_contact") else ("mean" if m == "handle_time" else None)
        if key:
            out[m]["relative"] = 100 * (res["t"][key] / res["c"][key] - 1)
        out[m]["_control"] = res["c"]
    return out
