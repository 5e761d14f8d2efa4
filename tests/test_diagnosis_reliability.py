"""QA sampling reliability: known answers from simulated evaluations with a chosen reliability."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qmsprint.diagnosis.reliability import (
    RELIABILITY_COLUMNS,
    icc_posterior,
    needed,
    reliability_table,
    score_reliability,
    spearman_brown,
)
from qmsprint.present.diagnosis import figures, reliability_lines, summary_text
from qmsprint.simulate import SimConfig, simulate
from qmsprint.simulate.qa import QASampling, icc_for, sample_qa


@pytest.fixture(scope="module")
def pilot():
    return simulate(SimConfig(n_agents=60, n_teams=6, interactions_per_agent=150, weeks=8, baseline_weeks=4, seed=2))


def test_spearman_brown_and_evaluations_needed_are_inverse():
    icc = icc_for(0.35, 6)
    assert spearman_brown(icc, 6) == pytest.approx(0.35)
    assert spearman_brown(icc, needed(icc, 0.8)) == pytest.approx(0.8)
    assert needed(0.4, 0.8) == pytest.approx(6.0)


@pytest.mark.parametrize("target", [0.35, 0.8])
def test_a_simulated_reliability_is_recovered_within_its_interval(pilot, target):
    sim = sample_qa(pilot, QASampling(evaluations_per_month=6, reliability=target, seed=1))
    truth = sim.truth["qa_reliability"]
    table, draws = reliability_table(sim.frame, ["qa_score", "auto_score"])
    assert list(table.columns) == RELIABILITY_COLUMNS
    r = table.set_index("score").loc["qa_score"]
    assert r["evaluations_per_month"] == 6 and r["n_agents"] == 60
    assert r["reliability_low"] <= target <= r["reliability_high"], r
    assert r["needed_low"] <= truth["evaluations_for_0_8"] <= r["needed_high"]
    assert r["icc_low"] <= truth["icc"] <= r["icc_high"]
    full = table.set_index("score").loc["auto_score"]  # a score on every interaction
    assert full["reliability_low"] <= truth["full"]["reliability"] <= full["reliability_high"]
    assert full["evaluations_per_month"] == truth["full"]["evaluations_per_month"]
    assert len(draws["qa_score"]) > 1000


def test_intervals_cover_at_about_their_nominal_rate(pilot):
    # 40 independent QA samples of the same agents at each reliability: 94% intervals
    hits = 0
    for seed in range(20):
        for target in (0.35, 0.8):
            sim = sample_qa(pilot, QASampling(reliability=target, seed=100 + seed, full_coverage_icc=None))
            r = score_reliability(sim.frame, "qa_score", seed=seed)
            hits += r["reliability_low"] <= target <= r["reliability_high"]
    assert hits >= 33  # Binomial(40, 0.94): P(fewer than 33) < 0.002


def test_rank_order_chance_matches_how_often_true_levels_agree(pilot):
    est, emp = [], []
    for seed in range(12):
        sim = sample_qa(pilot, QASampling(reliability=0.35, seed=200 + seed, full_coverage_icc=None))
        r = score_reliability(sim.frame, "qa_score", seed=seed)
        est.append(r["prob_rank_order"])
        f = sim.frame[sim.frame["qa_score"].notna()]
        levels = sim.truth["qa_reliability"]["agent_levels"]
        for _, g in f.groupby(pd.to_datetime(f["timestamp"]).dt.to_period("M")):
            ranked = g.groupby("agent_id")["qa_score"].mean().sort_values(ascending=False)
            if len(ranked) > 10:
                true = np.array([levels[a] for a in ranked.index])
                emp += list(true[:-10] > true[10:])
    assert 0.55 < np.mean(est) < 0.8
    assert np.mean(est) == pytest.approx(np.mean(emp), abs=0.04)


def test_a_program_that_moves_every_score_does_not_count_as_agent_differences(pilot):
    sim = sample_qa(pilot, QASampling(reliability=0.35, seed=5, full_coverage_icc=None))
    f = sim.frame.copy()
    pilot_rows = pd.to_datetime(f["timestamp"]) >= pd.Timestamp(sim.truth["periods"]["pilot"]["start"])
    new = pilot_rows & f["arm"].eq("behavior")
    f.loc[new, "qa_score"] = f.loc[new, "qa_score"] - 12  # the new program scores differently
    program = pd.Series(np.where(new, "new", "old"), index=f.index)
    naive = score_reliability(f, "qa_score")
    adjusted = score_reliability(f, "qa_score", program=program)
    assert naive["reliability_low"] > 0.35  # pooled, the program looks like agent differences
    assert adjusted["centred_by_program"] and adjusted["reliability_low"] <= 0.35 <= adjusted["reliability_high"]


def test_the_grid_posterior_is_a_distribution_and_too_little_data_gives_none(pilot):
    icc, p = icc_posterior(np.array([5.0, 6, 7, 4]), np.array([70.0, 72, 75, 71]), 300.0)
    assert p.sum() == pytest.approx(1.0) and np.all(np.diff(icc) > 0)
    few = pilot.frame[pilot.frame["agent_id"].isin(pilot.frame["agent_id"].unique()[:3])]
    assert score_reliability(few, "qa_score") is None
    assert score_reliability(pilot.frame.drop(columns=["timestamp"]), "qa_score") is None


def test_the_summary_and_the_figure_say_what_the_numbers_mean(pilot, diagnosis_maker):
    sim = sample_qa(pilot, QASampling(reliability=0.35, seed=1))
    table, _ = reliability_table(sim.frame, ["qa_score", "behavior_score", "auto_score"])
    d = diagnosis_maker()
    d.reliability = table
    lines = reliability_lines(d)
    assert len(lines) == 3 and lines[0].startswith("Checklist QA score: an agent's monthly score from 6 evaluations")
    assert "a reliability of 0.8 needs about" in lines[0] and "ranked 10 places apart" in lines[0]
    assert "Full-coverage score" in lines[2]
    assert lines[0] in summary_text(d)
    fig = figures(d)["reliability"]
    assert "reliability" in fig.layout.yaxis.title.text and len(fig.data) == 12
    rows = d.to_dict()["reliability"]
    assert rows[0]["score"] == "qa_score" and "draws" not in rows[0]


def test_the_diagnosis_page_shows_reliability_and_time_per_item(pilot, diagnosis_maker, tmp_path, monkeypatch):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from qmsprint.store import save_diagnosis
    from qmsprint.ui.config import ENV_MODE, ENV_RUN, ENV_RUNS_DIR

    sim = sample_qa(pilot, QASampling(reliability=0.35, seed=1))
    d = diagnosis_maker()
    d.reliability, _ = reliability_table(sim.frame, ["qa_score", "auto_score"])
    time_rows = pd.DataFrame(
        [{"outcome": "handle_time", "item": "script", "label": "adds time", "pass_rate": 0.8, "n": 2000,
          "effect": 41.0, "hdi_low": 33.0, "hdi_high": 49.0, "unit": "seconds"}]
    )  # fmt: skip
    d.items = pd.concat([d.items.assign(label=d.items["label"].replace({"hurts": "noise"})), time_rows])
    d.meta["program"], d.meta["period_label"] = "adjusted", "all rows"
    folder = save_diagnosis(d.to_dict(), d.tables(), tmp_path / "runs" / "pilot-diagnosis")[0].parent
    monkeypatch.setenv(ENV_MODE, "workbench")
    monkeypatch.setenv(ENV_RUN, str(folder))
    monkeypatch.setenv(ENV_RUNS_DIR, str(folder.parent))
    root = Path(__file__).resolve().parents[1]
    at = AppTest.from_file(str(root / "app.py"), default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    assert {"Time per item", "QA reliability"} <= {t.label for t in at.tabs}
    shown = "\n".join(str(e.value) for kind in ("markdown", "caption") for e in getattr(at, kind)).replace("\\", "")
    assert "script adds 41 s per call" in shown and "moves no customer outcome" in shown
    assert "an agent's monthly score from 6 evaluations" in shown and "every model adjusts for the program" in shown
