"""Evidence across pilots (qmsprint.store.priors): prior_from refuses a run whose data or meaning differ.

Plumbing tests replace the estimation by known posteriors (with latent effects); the slow test
checks the statistics: the posterior chained through two non-overlapping halves of the data
matches one fit on all of it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest
from conftest import SMALL_SIM, make_small_spec
from test_decide import make_result

import qmsprint.experiments
from qmsprint.api import run_pilot
from qmsprint.errors import SpecError
from qmsprint.report import render_report
from qmsprint.store import design_prior_from_run, load_run


@pytest.fixture
def fake_estimate(monkeypatch):
    """Known posteriors with latent effects; records every call."""
    calls: list[dict] = []

    def fake(spec, cells, *, progress=None, prior=None):
        calls.append({"prior": prior})
        effects = {"csat": (0.3, 0.05), "repeat_contact": (-2.0, 0.3), "handle_time": (2.0, 3.0)}
        return [
            dataclasses.replace(make_result(m.name, *effects[m.name]), latent_effect=(0.4, 0.1)) for m in spec.metrics
        ]

    monkeypatch.setattr(qmsprint.experiments, "estimate", fake)
    return calls


def _data(tmp_path, name, *, start=None, seed=4, teams=None, agents=None, swap_channels=False):
    """Another small simulated pilot (other bytes), optionally later, with other team names or channels swapped."""
    from qmsprint.simulate import SimConfig, simulate
    from qmsprint.store import write_simulation

    cfg = {**SMALL_SIM, "seed": seed}
    if start is not None:
        cfg["start"] = start
    sim = simulate(SimConfig(**cfg))
    frame = sim.frame
    if teams is not None:
        frame = frame.assign(team=frame["team"].astype(str).map(teams))
    if agents is not None:
        frame = frame.assign(agent_id=agents + frame["agent_id"].astype(str))
    if swap_channels:
        frame = frame.assign(channel=frame["channel"].astype(str).map({"voice": "chat", "chat": "voice"}).fillna(
            frame["channel"].astype(str)))  # fmt: skip
    sim = dataclasses.replace(sim, frame=frame)
    path = write_simulation(sim, tmp_path / f"{name}.parquet")[0]
    return path, sim.truth["periods"]


@pytest.fixture
def earlier(small_spec, tmp_path, fake_estimate, monkeypatch):
    """A run on the session's small pilot, under one engagement key (so pseudonyms match across runs)."""
    monkeypatch.setenv("QMSPRINT_KEY", "an-engagement-key-of-at-least-32-characters")
    return run_pilot(small_spec, runs_dir=tmp_path / "earlier", diagnosis=False).path


def test_prior_from_a_run_on_the_same_data_is_refused(small_spec, earlier, tmp_path, fake_estimate):
    spec = small_spec.model_copy(update={"model": small_spec.model.model_copy(update={"prior_from": str(earlier)})})
    with pytest.raises(SpecError) as err:
        run_pilot(spec, runs_dir=tmp_path / "runs", diagnosis=False)
    text = str(err.value) + " ".join(p.message for p in err.value.problems)
    assert f"model.prior_from: run {earlier.name} cannot be this run's prior" in str(err.value)
    assert "the earlier run read the same data (sha256" in text
    assert "its pilot period 2026-01-19 to 2026-02-15 overlaps this run's pilot period 2026-01-19 to 2026-02-15" in text
    assert all(p.where == "model.prior_from" for p in err.value.problems)
    assert len(fake_estimate) == 1 and not (tmp_path / "runs").exists()  # refused before any fitting


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model": {"adjust_for": ["channel"]}}, "adjustments (model.adjust_for) differ: the earlier run used none, "
                                                 "this run uses ['channel']"),
        ({"segments": []}, "segments differ: the earlier run used ['channel'], this run uses none"),
        ({"repeat_contacts": {"window_days": 3}}, "repeat_contact repeat-contact windows differ"),
    ],
)  # fmt: skip
def test_prior_from_a_run_whose_effect_means_something_else_is_refused(earlier, tmp_path, fake_estimate, change,
                                                                      message):  # fmt: skip
    path, periods = _data(tmp_path, "later", start=dt.date(2026, 3, 2))
    model = {"prior_from": str(earlier), **change.pop("model", {})}
    spec = make_small_spec(path, periods, model=model, **change)
    with pytest.raises(SpecError) as err:
        run_pilot(spec, runs_dir=tmp_path / "runs", diagnosis=False)
    assert any(message in p.message for p in err.value.problems), [p.message for p in err.value.problems]
    assert len(fake_estimate) == 1  # refused before the data were even read


def test_prior_from_a_run_on_later_data_is_used_and_reported(earlier, tmp_path, fake_estimate):
    path, periods = _data(tmp_path, "later", start=dt.date(2026, 3, 2))
    spec = make_small_spec(path, periods, model={"prior_from": str(earlier)})
    out = run_pilot(spec, runs_dir=tmp_path / "runs", diagnosis=False)
    assert fake_estimate[-1]["prior"] == {"csat": (0.4, 0.1), "repeat_contact": (0.4, 0.1), "handle_time": (0.4, 0.1)}
    run = load_run(out.path)
    prior = run.provenance["prior_from"]
    assert prior["run"] == earlier.name
    assert "different data (fingerprint)" in prior["checks"] and "no overlapping period" in prior["checks"]
    assert prior["periods"]["pilot"] == ["2026-01-19", "2026-02-15"]
    # the same 16 agents in both pilots: said, because their lasting differences count twice
    shared = prior["units_in_common"]
    assert shared == {"unit": "agent", "count": 16}
    assert any("16 agents in common" in n for n in out.notes)
    page = render_report(run)
    assert f"used the posterior of an earlier run, {earlier.name}" in page
    assert "Checked before fitting: same adjustments, segments, program and metric definitions; different data" in page
    assert "share 16 agents:" in page


def test_overlapping_months_in_another_business_unit_are_allowed(earlier, tmp_path, fake_estimate):
    path, periods = _data(tmp_path, "other-unit", teams={"T00": "U00", "T01": "U01"}, agents="B")
    spec = make_small_spec(path, periods, model={"prior_from": str(earlier)})
    run = load_run(run_pilot(spec, runs_dir=tmp_path / "runs", diagnosis=False).path)
    checks = run.provenance["prior_from"]["checks"]
    assert any(c.startswith("overlapping periods, but no ") for c in checks)


def test_a_different_reference_level_is_refused(earlier, tmp_path, fake_estimate):
    path, periods = _data(tmp_path, "swapped", start=dt.date(2026, 3, 2), swap_channels=True)
    spec = make_small_spec(path, periods, model={"prior_from": str(earlier)})
    with pytest.raises(SpecError) as err:
        run_pilot(spec, runs_dir=tmp_path / "runs", diagnosis=False)
    assert any("reference level of channel differs: 'voice' in the earlier run, 'chat' here" in p.message
               for p in err.value.problems)  # fmt: skip


def test_the_design_prior_of_a_later_pilot_is_the_earlier_posterior(small_spec, earlier, tmp_path):
    from _design_helpers import make_frame

    from qmsprint.design import plan_pilot

    spec = small_spec.model_copy(update={"model": small_spec.model.model_copy(update={"prior_from": str(earlier)})})
    got = design_prior_from_run(spec)
    d = load_run(earlier).draws["csat"]
    assert got["csat"] == pytest.approx((float(d.mean()), float(d.std(ddof=1))))
    grid = spec.design_settings.model_copy(update={"agents_per_arm": [20], "weeks": [2]})
    spec = spec.model_copy(update={"design_settings": grid})
    plan = plan_pilot(spec, baseline=make_frame(), simulations=50)
    assert plan.meta["design_prior"]["csat"]["source"] == f"run {earlier}"
    assert plan.meta["design_prior"]["csat"]["mean"] == pytest.approx(got["csat"][0])


# ------------------------------------------------------------------ the statistics (real fits)


@pytest.mark.slow
def test_chained_posterior_of_two_halves_matches_one_fit_on_all_the_data():
    """Half 1 -> its latent effect as the prior of half 2 ~ one fit on both halves (independent agents).

    The chained prior carries only the effect's marginal posterior; the second fit re-estimates the
    baseline and the spread of agents from its half alone, so the two posteriors differ by a small
    fraction of a posterior sd (0.09 sd on this pilot; more with large between-agent spread and
    small pilots), plus Monte Carlo error. A chain that ignored the prior fails the width checks;
    one that used a wrong prior mean lands more than a posterior sd away.
    """
    import pandas as pd
    from models_cellsim import make_cells, spec_for

    from qmsprint.experiments import estimate

    spec = spec_for("ab", metrics=("fcr",), draws=1000, tune=500, chains=2, seed=5, team_effects=False)
    effects = {**dict.fromkeys(("csat", "nps", "repeat_contact", "handle_time"), 0.0), "fcr": 0.25}
    kw = {"n_agents": 40, "per_agent": 150, "agent_sd": 0.12, "effects": effects, "channels": ("voice",),
          "channel_shift": (0.0,)}  # fmt: skip
    first, _, _ = make_cells(seed=21, **kw)
    second, _, _ = make_cells(seed=22, **kw)
    second = second.assign(agent_id="b" + second["agent_id"].astype(str))  # another cohort of agents
    (r1,) = estimate(spec, first)
    (chained,) = estimate(spec, second, prior={"fcr": r1.latent_effect})
    (both,) = estimate(spec, pd.concat([first, second], ignore_index=True))
    m_c, s_c = chained.latent_effect
    m_b, s_b = both.latent_effect
    ess = min(chained.diagnostics.ess_bulk_min, both.diagnostics.ess_bulk_min)
    mcse = np.hypot(s_c, s_b) / np.sqrt(ess)  # Monte Carlo error of the difference of two posterior means
    assert abs(m_c - m_b) <= 0.15 * s_b + 3 * mcse, (m_c, m_b, s_b, mcse)
    assert s_c == pytest.approx(s_b, rel=0.1)
    # and the chained posterior is narrower than either half alone: evidence accumulated
    (r2,) = estimate(spec, second)
    assert s_c < 0.85 * min(r1.latent_effect[1], r2.latent_effect[1])
