"""Shared helpers of the health-check tests: a spec, synthetic cells and weekly tables, a prepared pilot."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd

from qmsprint.spec import parse_spec

LEVELS = [1, 2, 3, 4, 5]
BASE_SHARES = np.array([0.05, 0.07, 0.13, 0.35, 0.40])


def make_spec(design="ab", unit="agent", split=0.5, metrics=("csat", "fcr", "repeat_contact", "nps")):
    raw = {
        "name": "t",
        "design": design,
        "unit": unit,
        "arms": {"control": "checklist", "treatment": "behavior", "planned_split": split},
        "data": {"source": "x.parquet"},
        "metrics": [{"name": m} for m in metrics],
    }
    raw["periods"] = {
        "baseline": {"start": dt.date(2026, 1, 5), "end": dt.date(2026, 2, 28)},
        "pilot": {"start": dt.date(2026, 3, 2), "end": dt.date(2026, 5, 24)},
    }
    return parse_spec(raw)


def make_cells(
    n_treat=50,
    n_ctrl=50,
    volume=400,
    seed=0,
    response=(0.2, 0.2),
    volume_factor=(1.0, 1.0),
    agent_sd=0.3,
    teams=5,
    periods=("baseline", "pilot"),
    baseline_labels=True,
    shift_treated_baseline=0.0,
):
    """Cells of a synthetic pilot: one row per agent x period (single channel and reason)."""
    rng = np.random.default_rng(seed)
    rows = []
    arms = ["behavior"] * n_treat + ["checklist"] * n_ctrl
    cut = np.log(np.cumsum(BASE_SHARES)[:-1] / (1 - np.cumsum(BASE_SHARES)[:-1]))
    for i, arm in enumerate(arms):
        u = rng.normal(0, agent_sd)
        t = arm == "behavior"
        for period in periods:
            shift = u + (shift_treated_baseline if (t and period == "baseline") else 0.0)
            n = int(rng.poisson(volume * volume_factor[0 if t else 1]))
            r = response[0 if t else 1]
            csat_n = rng.binomial(n, r)
            cum = 1 / (1 + np.exp(-(cut - shift)))
            p = np.diff(np.concatenate([[0], cum, [1]]))
            counts = rng.multinomial(csat_n, p)
            nps_n = rng.binomial(n, r)
            nps = rng.multinomial(nps_n, np.full(11, 1 / 11))
            fcr_p = 1 / (1 + np.exp(-(0.8 + shift)))
            rep_p = 1 / (1 + np.exp(-(-1.5 - shift)))
            row = {
                "agent_id": f"a{i:03d}",
                "team": f"t{i % teams}",
                "site": "s1",
                "arm": arm if (period == "pilot" or baseline_labels) else "checklist",
                "period": period,
                "channel": "voice",
                "contact_reason": "billing",
                "n": n,
                "csat_n": csat_n,
                **{f"csat_{lv}": c for lv, c in zip(LEVELS, counts, strict=True)},
                "nps_n": nps_n,
                **{f"nps_{k}": c for k, c in enumerate(nps)},
                "fcr_n": n,
                "fcr_yes": rng.binomial(n, fcr_p),
                "repeat_n": n,
                "repeat_yes": rng.binomial(n, rep_p),
                "ht_n": n,
                "ht_sum": n * 400.0 + rng.normal(0, 50) * n,
                "qa_n": 8,
                "qa_sum": 8 * (90 + rng.normal(0, 3)),
                "tenure_n": n,
                "tenure_sum": n * rng.uniform(1, 60),
            }
            rows.append(row)
    return pd.DataFrame(rows)


def by_name(checks):
    return {c.name: c for c in checks}


def make_weekly(trend=0.0, step=0.0, weeks_base=8, weeks_pilot=12, seed=0, n=4000, noise=0.02):
    """Weekly arm x period sums; the treated group's baseline CSAT drifts by ``trend`` points a week."""
    rng = np.random.default_rng(seed)
    rows = []
    start = pd.Timestamp("2026-01-05")
    for period, nw, offset in (("baseline", weeks_base, 0), ("pilot", weeks_pilot, weeks_base)):
        for w in range(nw):
            week = start + pd.Timedelta(weeks=offset + w)
            season = 0.05 * np.sin(w)
            for arm in ("behavior", "checklist"):
                drift = trend * (w - nw / 2) if (arm == "behavior" and period == "baseline") else 0.0
                if arm == "behavior" and period == "baseline" and w >= nw // 2:
                    drift += step  # the treated group changed before the pilot started
                mean = 4.0 + season + drift + rng.normal(0, noise)
                fcr = 0.7 + season / 10 + drift / 10 + rng.normal(0, noise / 10)
                rows.append(
                    {
                        "arm": arm,
                        "period": period,
                        "week": week,
                        "n": n,
                        "csat_n": n // 5,
                        "csat_sum": mean * (n // 5),
                        "fcr_n": n,
                        "fcr_yes": fcr * n,
                        "repeat_n": n,
                        "repeat_yes": 0.2 * n,
                        "ht_n": n,
                        "ht_sum": 400.0 * n,
                        "nps_n": 0,
                        "nps_promoters": 0,
                        "nps_detractors": 0,
                    }
                )
    return pd.DataFrame(rows)


def prepared_pilot(tmp_path, design="ab", **cfg):
    """A simulated pilot written to ``tmp_path`` and prepared by the data layer: (spec, PreparedData)."""
    from qmsprint.data import prepare
    from qmsprint.simulate import SimConfig, simulate
    from qmsprint.store import write_simulation

    base = SimConfig(
        design=design,
        n_agents=60,
        n_teams=6,
        interactions_per_agent=300,
        weeks=4,
        baseline_weeks=4,
        unit="team" if design == "did" else "agent",
        seed=5,
    )
    sim = simulate(dataclasses.replace(base, **cfg))
    path = tmp_path / f"{design}.parquet"
    write_simulation(sim, path)
    raw = {
        "name": "h",
        "design": design,
        "unit": "team" if design == "did" else "agent",
        "arms": {"control": "checklist", "treatment": "behavior"},
        "data": {"source": str(path)},
        "metrics": [{"name": "csat"}, {"name": "fcr"}, {"name": "repeat_contact"}],
        "periods": {
            "baseline": {"start": dt.date(2026, 1, 5), "end": dt.date(2026, 2, 1)},
            "pilot": {"start": dt.date(2026, 2, 2), "end": dt.date(2026, 3, 1)},
        },
    }
    spec = parse_spec(raw, base_dir=tmp_path)
    return spec, prepare(spec)
