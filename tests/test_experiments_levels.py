"""Levels of the experiments' models: clusters follow spec.unit, unit x period shocks, the A/B baseline."""

from __future__ import annotations

import numpy as np
import pytest
from models_cellsim import make_cells, spec_for

from qmsprint.experiments import estimate, get_design
from qmsprint.experiments.prepare import clusters_per_arm, prepare_metric, select_cells


def _prepared(design, cells, metric="fcr", **spec_kw):
    spec = spec_for(design, metrics=(metric,), **spec_kw)
    d = get_design(design)
    used = select_cells(spec, cells, d)
    return spec, prepare_metric(spec, used, metric, d, None)


def test_did_models_team_and_agent_period_shocks_and_few_sites_with_a_fixed_scale():
    cells, _, _ = make_cells("did", n_agents=24, n_teams=6, per_agent=100, seed=1, unit="team")
    cells["site"] = cells["team"].map(lambda t: f"s{int(t[1:]) % 2}")  # 2 sites of 3 teams
    spec, mb = _prepared("did", cells, unit="team")
    d = mb.block.design
    assert d.periods == 2 and d.n_teams == 6 and d.n_sites == 2
    assert d.levels == ("unit", "team", "site", "team_period", "site_period", "unit_period")
    # two sites cannot inform an sd: fixed prior scale; teams (the randomization unit) are estimated
    assert d.fixed == ("site", "site_period")
    spread = mb.block.spread_parameters()  # variance components, checked with looser bars
    assert "binomial_sd_team_period" not in spread  # names use the metric
    assert "fcr_sd_team_period" in spread and "fcr_sd_site" not in spread and "fcr_team" in spread
    assert not set(spread) & set(mb.block.parameters())
    note = mb.notes[0]
    assert "team x period effects" in note and "site effects with a fixed prior scale" in note
    assert clusters_per_arm(spec, mb.units) == {"checklist": 3, "behavior": 3}


def test_team_randomized_ab_counts_teams_per_arm():
    cells, _, _ = make_cells("ab", n_agents=24, n_teams=6, per_agent=60, seed=2, unit="team")
    spec, mb = _prepared("ab", cells, unit="team", team_effects=False)
    # team effects are modelled (estimated sd) although team_effects is off: teams were randomized
    assert "team" in mb.block.design.levels and "team" not in mb.block.design.fixed
    assert clusters_per_arm(spec, mb.units) == {"checklist": 3, "behavior": 3}
    assert mb.block.design.periods == 1 and mb.block.design.arm_centred


def test_ab_baseline_enters_as_each_units_level_and_is_relabelled_to_the_pilot_arm():
    cells, _, params = make_cells("ab", n_agents=40, n_teams=4, per_agent=400, seed=3, agent_sd=0.5, ab_baseline=True)
    # an export may label the baseline with the old program for everybody
    base = cells["period"] == "baseline"
    cells.loc[base, "arm"] = "checklist"
    spec, mb = _prepared("ab", cells)
    x = mb.block.design.unit_covariate
    assert x is not None and mb.block.design.periods == 1 and (mb.lik["period"] == "pilot").all()
    agent = mb.units["_unit"].str.split("\x1f").str[0].str[1:].astype(int).to_numpy()
    assert np.corrcoef(x, params["lat"]["fcr"][agent])[0, 1] > 0.8
    assert any("baseline level enters the model" in n for n in mb.notes)
    assert "fcr_baseline" in mb.block.parameters()
    spec_off, mb_off = _prepared("ab", cells, baseline_adjust=False)
    assert mb_off.block.design.unit_covariate is None


@pytest.mark.slow
def test_ab_baseline_narrows_the_interval_and_results_count_clusters():
    cells, truth, _ = make_cells("ab", n_agents=40, n_teams=4, per_agent=400, seed=4, agent_sd=0.5, ab_baseline=True)
    widths = {}
    for adjust in (True, False):
        spec = spec_for("ab", metrics=("fcr",), draws=500, tune=500, chains=4, baseline_adjust=adjust)
        (r,) = estimate(spec, cells)
        widths[adjust] = r.headline.hdi_high - r.headline.hdi_low
        assert r.headline.hdi_low <= truth["fcr"]["rate"] <= r.headline.hdi_high
        assert r.unit == "agent" and r.n_clusters == {"checklist": 20, "behavior": 20} == r.clusters
        assert r.n_obs["checklist"] == int(
            cells.loc[(cells.period == "pilot") & (cells.arm == "checklist"), "fcr_n"].sum()
        )
    assert widths[True] < 0.8 * widths[False], widths
