"""Variance decomposition of a pilot's rows (qmsprint.design.variance_parts): known answers, A/B and DiD."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from qmsprint.design import variance_parts
from qmsprint.spec import parse_spec


def _spec(design: str = "ab", unit: str = "agent"):
    return parse_spec(
        {
            "name": "x",
            "design": design,
            "unit": unit,
            "arms": {"control": "checklist", "treatment": "behavior"},
            "data": {"source": "x.parquet"},
            "periods": {
                "baseline": {"start": dt.date(2026, 1, 5), "end": dt.date(2026, 2, 1)},
                "pilot": {"start": dt.date(2026, 2, 2), "end": dt.date(2026, 3, 1)},
            },
            "metrics": [{"name": "handle_time", "role": "guardrail", "min_effect": 20}],
        }
    )


def _rows(n_agents=400, per_agent=100, tau=30.0, sigma=100.0, period_sd=0.0, effect=50.0, seed=0, did=False):
    """Handle times: agent level N(0, tau), a unit x period shock N(0, period_sd) per period, noise N(0, sigma)."""
    rng = np.random.default_rng(seed)
    level = rng.normal(0, tau, n_agents)
    arm = np.where(np.arange(n_agents) % 2 == 0, "behavior", "checklist")
    frames = []
    for period in ("baseline", "pilot") if did else ("pilot",):
        shock = rng.normal(0, period_sd, n_agents)
        n = rng.poisson(per_agent, n_agents)
        agent = np.repeat(np.arange(n_agents), n)
        lift = effect * (arm[agent] == "behavior") * (period == "pilot")
        frames.append(
            pd.DataFrame(
                {
                    "agent_id": [f"a{a:04d}" for a in agent],
                    "team": [f"t{a % 10}" for a in agent],
                    "arm": arm[agent],
                    "period": period,
                    "handle_time": 400 + level[agent] + shock[agent] + lift + rng.normal(0, sigma, len(agent)),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_ab_between_agents_and_noise_known_answer():
    parts = variance_parts(_spec(), _rows())["handle_time"]
    # between = tau^2 = 900 (the 50-second effect is not spread: arms are taken apart); noise = 100^2 / 100 = 100
    se_between = 900 * np.sqrt(2 / 398) + 10
    assert parts.between_unit == pytest.approx(900, abs=3 * se_between)
    assert parts.noise == pytest.approx(100, rel=0.05)
    assert parts.unit_period == 0.0 and parts.units_per_arm == 200
    assert parts.weeks_share == pytest.approx(100 / 1000, abs=0.03)


def test_did_unit_period_shocks_and_baseline_noise_do_not_shrink_with_pilot_weeks():
    parts = variance_parts(_spec("did"), _rows(tau=30.0, period_sd=20.0, did=True))["handle_time"]
    # change = shock_p - shock_b + noise: 2 x 20^2 = 800 between periods, + baseline noise 100 (fixed); pilot noise 100
    assert parts.between_unit == 0.0
    assert parts.unit_period == pytest.approx(800 + 100, abs=3 * (900 * np.sqrt(2 / 398) + 20))
    assert parts.noise == pytest.approx(100, rel=0.05)
    assert parts.weeks_share == pytest.approx(100 / 1000, abs=0.04)


def test_metrics_without_data_are_left_out():
    rows = _rows(n_agents=4)
    rows = rows[rows["arm"] == "behavior"]  # one arm only: nothing to compare
    assert variance_parts(_spec(), pd.concat([rows, rows.assign(arm="checklist").iloc[:0]])) == {}
