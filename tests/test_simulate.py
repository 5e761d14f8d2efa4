"""Simulator: seeds, structure, and known truths (qmsprint.simulate)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from qmsprint.simulate import SimConfig, simulate
from qmsprint.store import write_simulation


@pytest.fixture(scope="module")
def big():
    return simulate(SimConfig(n_agents=200, n_teams=10, interactions_per_agent=600, seed=11))


def test_seed_reproducibility():
    a = simulate(SimConfig(n_agents=10, interactions_per_agent=30, seed=5))
    b = simulate(SimConfig(n_agents=10, interactions_per_agent=30, seed=5))
    c = simulate(SimConfig(n_agents=10, interactions_per_agent=30, seed=6))
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert a.truth == b.truth
    assert not a.frame["csat"].equals(c.frame["csat"])


def test_structure_and_canonical_columns(big):
    f = big.frame
    assert f["interaction_id"].is_unique
    assert (f.groupby("agent_id")["team"].nunique() == 1).all() and (f.groupby("team")["site"].nunique() == 1).all()
    assert (f.groupby("agent_id")["arm"].nunique() == 1).all()
    assert set(f["channel"]) == {"voice", "chat", "email", "messaging"}
    assert f["csat"].dropna().between(1, 5).all() and f["nps"].dropna().between(0, 10).all()
    assert f["qa_score"].between(0, 100).all() and f["behavior_score"].between(0, 100).all()
    assert (f["handle_time"] > 0).all()
    assert f["timestamp"].min() >= pd.Timestamp("2026-01-05") and f["timestamp"].max() < pd.Timestamp("2026-05-25")


def test_response_rates_match_the_config_and_the_truth():
    sim = simulate(SimConfig(n_agents=100, interactions_per_agent=400, response_rate=(0.25, 0.12), seed=2))
    f = sim.frame
    pilot = f["timestamp"] >= pd.Timestamp("2026-03-02")
    r = f[pilot].groupby("arm")["csat"].apply(lambda s: s.notna().mean())
    assert abs(r["checklist"] - 0.25) < 0.01 and abs(r["behavior"] - 0.12) < 0.01
    assert sim.truth["response_rates"]["by_period_arm"]["pilot"]["behavior"] == pytest.approx(r["behavior"])
    base = f[~pilot]["csat"].notna().mean()
    assert abs(base - 0.25) < 0.01  # everybody on the old program before the pilot


def test_repeat_share_reported_equals_the_data_layers(tmp_path):
    from qmsprint.data import load_frame
    from qmsprint.spec import parse_spec

    sim = simulate(SimConfig(n_agents=30, interactions_per_agent=150, seed=9))
    write_simulation(sim, tmp_path / "s.parquet")
    spec = parse_spec(
        {
            "name": "x",
            "design": "ab",
            "arms": {"control": "checklist", "treatment": "behavior"},
            "data": {"source": "s.parquet"},
            "metrics": [{"name": "repeat_contact"}],
        },
        base_dir=tmp_path,
    )
    f = load_frame(spec)
    rc = f["repeat_contact"].dropna().astype(bool)
    assert rc.mean() == pytest.approx(sim.truth["repeat_share"]["overall"], abs=1e-12)
    assert f["repeat_contact"].isna().sum() == sim.truth["repeat_share"]["censored"]
    truth = json.loads((tmp_path / "s.truth.json").read_text())
    assert truth["repeat_share"]["overall"] == pytest.approx(rc.mean())
    assert truth["config"]["seed"] == 9


def test_truth_is_zero_without_effects():
    sim = simulate(
        SimConfig(
            n_agents=20,
            interactions_per_agent=50,
            csat_effect=0,
            nps_effect=0,
            fcr_effect=0,
            repeat_effect=0,
            handle_time_effect=0,
        )
    )
    for metric, scales in sim.truth["effects"].items():
        for scale, v in scales.items():
            assert v == pytest.approx(0, abs=1e-12), (metric, scale)


def test_truth_matches_the_realised_difference_on_a_large_ab(big):
    """A/B: arms are exchangeable, so the realised treated - control difference estimates the truth."""
    f, t = big.frame, big.truth
    p = f[f["timestamp"] >= pd.Timestamp("2026-03-02")]
    trt, ctl = p[p["arm"] == "behavior"], p[p["arm"] == "checklist"]
    d_csat = trt["csat"].dropna().mean() - ctl["csat"].dropna().mean()
    se = np.sqrt(
        trt["csat"].dropna().var() / trt["csat"].notna().sum() + ctl["csat"].dropna().var() / ctl["csat"].notna().sum()
    )
    # agent effects add between-agent noise: allow 4 standard errors plus agent-level slack
    assert abs(d_csat - t["effects"]["csat"]["mean"]) < 4 * se + 0.05
    d_ht = trt["handle_time"].mean() - ctl["handle_time"].mean()
    assert abs(d_ht - t["effects"]["handle_time"]["mean"]) < 15
    assert t["effects"]["csat"]["mean"] > 0 and t["effects"]["repeat_contact"]["rate"] < 0


def test_truth_is_the_exact_expectation_in_a_degenerate_world():
    """No agent/team/site effects, no items, no behavior, no season: every interaction shares eta."""
    cfg = SimConfig(
        n_agents=10,
        interactions_per_agent=20,
        agent_sd=0,
        team_sd=0,
        site_sd=0,
        items=(),
        behavior_weight=0,
        season_amplitude=0,
        channel_mix=(1, 0, 0, 0),
        reason_mix=(0, 0, 0, 1, 0, 0),  # 'moving': latent offset 0
        csat_effect=0.4,
        repeat_effect=-0.3,
    )
    sim = simulate(cfg)
    cuts = np.array(cfg.csat_cutpoints)
    ge0, ge1 = expit(0 - cuts), expit(0.4 - cuts)
    assert sim.truth["effects"]["csat"]["mean"] == pytest.approx(ge1.sum() - ge0.sum())
    assert sim.truth["effects"]["csat"]["top2box"] == pytest.approx(100 * (ge1[-2] - ge0[-2]))
    rep0 = cfg.repeat_base - 0.0 + (-0.10)  # _RS_REP of 'moving'
    assert sim.truth["effects"]["repeat_contact"]["rate"] == pytest.approx(100 * (expit(rep0 - 0.3) - expit(rep0)))
    assert sim.truth["effects"]["repeat_contact"]["relative"] == pytest.approx(
        100 * (expit(rep0 - 0.3) - expit(rep0)) / expit(rep0)
    )


def test_did_design_switches_whole_teams():
    sim = simulate(
        SimConfig(design="did", n_agents=40, n_teams=8, interactions_per_agent=40, arms=("checklist", "outcome"))
    )
    f = sim.frame
    assert (f.groupby("team")["arm"].nunique() == 1).all()
    treated = set(f.loc[f["arm"] == "outcome", "team"])
    assert treated == set(sim.truth["treated_units"]) and len(treated) == 4
    assert sim.truth["population"] == "treated units" and sim.truth["unit"] == "team"
