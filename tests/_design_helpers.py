"""Shared helpers of the pilot-design tests: a spec builder and baseline rows with known spread."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from qmsprint.spec import parse_spec

CSAT_SHARES = np.array([0.06, 0.06, 0.13, 0.33, 0.42])


def make_spec(
    metrics=(("fcr", "primary", 5.0),),
    design_="ab",
    unit="agent",
    grid=None,
    split=0.5,
    strata=("team",),
    rates=None,
    baseline=True,
):
    raw = {
        "name": "plan",
        "design": design_,
        "unit": unit,
        "arms": {"control": "checklist", "treatment": "behavior", "planned_split": split},
        "data": {"source": "/nonexistent/baseline.parquet"},
        "metrics": [{"name": n, "role": r, "min_effect": e} for n, r, e in metrics],
        "design_grid": {
            "agents_per_arm": [10, 20, 40],
            "weeks": [2, 4],
            "simulations": 200,
            "strata": list(strata),
            **(grid or {}),
        },
    }
    if rates is not None:
        raw["design_grid"]["baseline_rates"] = rates
    if baseline or design_ == "did":
        raw["periods"] = {
            "baseline": {"start": dt.date(2026, 1, 5), "end": dt.date(2026, 2, 1)},  # 4 weeks
            "pilot": {"start": dt.date(2026, 2, 2), "end": dt.date(2026, 4, 26)},
        }
    return parse_spec(raw)


def make_frame(
    n_agents=80,
    weeks=4,
    per_week=50,
    fcr=0.70,
    agent_sd_pp=8.0,
    response=0.2,
    seed=0,
    teams=8,
    start="2026-01-05",
    effect_pp=0.0,
    treated=None,
):
    """Interaction rows with known agent-level spread: FCR (prob scale, clipped), CSAT, handle time."""
    rng = np.random.default_rng(seed)
    rows = []
    t0 = pd.Timestamp(start)
    agent_fcr = np.clip(fcr + rng.normal(0, agent_sd_pp / 100, n_agents), 0.01, 0.99)
    agent_lat = rng.normal(0, 0.4, n_agents)
    tenure = rng.uniform(1, 60, n_agents)
    for a in range(n_agents):
        n = rng.poisson(per_week * weeks)
        p = agent_fcr[a] + (effect_pp / 100 if treated is not None and treated[a] else 0.0)
        days = rng.uniform(0, 7 * weeks, n)
        cut = np.log(np.cumsum(CSAT_SHARES)[:-1] / (1 - np.cumsum(CSAT_SHARES)[:-1]))
        cum = 1 / (1 + np.exp(-(cut - agent_lat[a])))
        probs = np.diff(np.concatenate([[0], cum, [1]]))
        csat = rng.choice(np.arange(1, 6), size=n, p=probs).astype(float)
        answered = rng.random(n) < response
        rows.append(
            pd.DataFrame(
                {
                    "agent_id": f"a{a:03d}",
                    "team": f"t{a % teams}",
                    "site": f"s{a % 2}",
                    "timestamp": t0 + pd.to_timedelta(days, unit="D"),
                    "fcr": rng.random(n) < p,
                    "repeat_contact": rng.random(n) < 0.15,
                    "csat": np.where(answered, csat, np.nan),
                    "handle_time": rng.lognormal(np.log(400), 0.5, n),
                    "qa_score": np.clip(90 + rng.normal(0, 4, n), 0, 100),
                    "tenure_months": tenure[a],
                    "nps": np.where(answered, rng.integers(0, 11, n), np.nan),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)
