"""Pilot design, assurance: closed form and simulation against independently simulated pilots, the plan."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from _design_helpers import CSAT_SHARES, make_frame, make_spec
from scipy import stats

from qmsprint.design import Baseline, MetricBaseline, plan_pilot
from qmsprint.design.assurance import monotone_grid
from qmsprint.design.simulation import (
    GH_W,
    GH_X,
    LatentScale,
    approximate_posterior,
    closed_form,
    draw_parameters,
    grid_cell,
    simulate_metric,
)
from qmsprint.errors import BundleError, DesignError
from qmsprint.spec import Decision, parse_spec

P_IMPROVE = Decision().prob_improve  # the default bar a run applies


@pytest.fixture(scope="module")
def frame():
    return make_frame()


# ------------------------------------------------------------------------------- one grid cell


def test_latent_helpers_hit_their_targets():
    mb = MetricBaseline("csat", np.arange(1.0, 6.0), CSAT_SHARES, 4.0, 1.0, 0.2, 0.0, 0.0, 0.2)
    lat = LatentScale(mb)
    assert float(lat.mean(np.array(0.0))) == pytest.approx(CSAT_SHARES @ np.arange(1, 6))
    s = lat.sd_for_variance(0.2**2)
    m = lat.mean(s * GH_X)
    assert float(GH_W @ m**2 - (GH_W @ m) ** 2) == pytest.approx(0.04, rel=1e-4)
    d = lat.shift_for_effect(0.1, s)
    assert float(GH_W @ (lat.mean(s * GH_X + d) - m)) == pytest.approx(0.1, abs=1e-6)
    many = lat.shift_for_effect(np.array([-0.2, 0.0, 0.3]), np.array([0.1, s, 0.5]))
    for e, sd, shift in zip([-0.2, 0.0, 0.3], [0.1, s, 0.5], many, strict=True):
        got = float(GH_W @ (lat.mean(sd * GH_X + shift) - lat.mean(sd * GH_X)))
        assert got == pytest.approx(e, abs=1e-6)


def test_closed_form_matches_textbook_power():
    # no clustering, equal volumes: se = sqrt(2 sigma^2 / (k m)); power ~ 1 - Phi(z_q - effect/se)
    mb = MetricBaseline("handle_time", np.array([]), np.array([]), 400.0, 100.0, 0.0, 0.0, 0.0, 1.0)
    base = Baseline(volume=25, agents_per_unit=1, baseline_weeks=4, metrics={"handle_time": mb}, source="x")
    spec = make_spec(metrics=(("handle_time", "primary", 5.0),))
    cell = grid_cell(spec, 200, 4, base)
    cf = closed_form(mb, base, spec, cell, -5.0)
    se = np.sqrt(2 * 100.0**2 / (200 * 100))
    assert cf["se"] == pytest.approx(se)
    z = stats.norm.ppf(spec.decision.prob_improve)
    assert cf["power"] == pytest.approx(1 - stats.norm.cdf(z - 5 / se), abs=0.01)
    assert cf["deff"] == pytest.approx(1.0)


# ------------------------------------------------------------------------------- assurance vs reality


def independent_pilot_rate(k, weeks, effect_pp, n_pilots, seed, fcr=0.70, agent_sd_pp=8.0, per_week=50):
    """Share of independently generated pilots that end decisively, analysed from their rows.

    Generated differently from design's simulator: agents' FCR probabilities are normal on the
    probability scale (not logit), each interaction a Bernoulli draw, volumes Poisson.
    """
    rng = np.random.default_rng(seed)
    wins = 0
    for _ in range(n_pilots):
        p = np.clip(fcr + rng.normal(0, agent_sd_pp / 100, 2 * k), 0.01, 0.99)
        p[:k] = np.clip(p[:k] + effect_pp / 100, 0.01, 0.99)
        n = rng.poisson(per_week * weeks, 2 * k)
        means = np.array([100 * rng.binomial(1, pi, ni).mean() for pi, ni in zip(p, n, strict=True)])
        t, c = means[:k], means[k:]
        se = np.sqrt(t.var(ddof=1) / k + c.var(ddof=1) / k)
        df = (t.var(ddof=1) / k + c.var(ddof=1) / k) ** 2 / (
            (t.var(ddof=1) / k) ** 2 / (k - 1) + (c.var(ddof=1) / k) ** 2 / (k - 1)
        )
        wins += stats.t.cdf((t.mean() - c.mean()) / se, df) >= P_IMPROVE
    return wins / n_pilots


def test_share_improved_matches_the_rate_of_independent_pilots(frame):
    """With the effect fixed at min_effect (design prior sd 0), P(improved) matches independently generated pilots."""
    spec = make_spec(grid={"agents_per_arm": [20], "weeks": [2]})
    plan = plan_pilot(spec, baseline=frame, seed=1, simulations=1500, design_prior={"fcr": (5.0, 0.0)})
    row = plan.table.query("metric == 'fcr'").iloc[0]
    # the clustered design is far from certain: ignoring the ICC would give ~99%
    assert 0.3 < row["p_improved"] < 0.8
    actual = independent_pilot_rate(20, 2, 5.0, 600, seed=99)
    se = np.sqrt(row["p_improved"] * (1 - row["p_improved"]) / 1500 + actual * (1 - actual) / 600)
    # the plan also draws the ICC from its uncertainty (80 baseline agents): a little wider than fixed
    assert abs(row["p_improved"] - actual) < 3 * se + 0.03, (row["p_improved"], actual)
    assert abs(row["power_closed"] - actual) < 3 * se + 0.06
    # with no effect, the pilot (almost) never ends with an improvement called
    assert independent_pilot_rate(20, 2, 0.0, 200, seed=5) < 0.1
    null = plan_pilot(spec, baseline=frame, seed=1, simulations=800, design_prior={"fcr": (0.0, 0.0)})
    assert null.table.query("metric == 'fcr'").iloc[0]["p_improved"] < 0.08


def test_action_shares_per_size_and_the_decisive_share(frame):
    spec = make_spec(metrics=(("fcr", "primary", 5.0), ("handle_time", "guardrail", 20)))
    plan = plan_pilot(spec, baseline=frame, seed=2, simulations=400)
    over = plan.table[plan.table["metric"] == "overall"]
    shares = over[["p_scale_up", "p_iterate", "p_stop", "p_inconclusive"]].sum(axis=1)
    assert np.allclose(shares, 1.0)
    assert np.allclose(over["assurance_raw"], 1.0 - over["p_inconclusive"])
    assert (over["assurance_se"] <= np.sqrt(0.25 / 400) + 1e-12).all()
    big = over.set_index(["agents_per_arm", "weeks"]).loc[(40, 4)]
    small = over.set_index(["agents_per_arm", "weeks"]).loc[(10, 2)]
    assert big["p_scale_up"] > small["p_scale_up"] and big["assurance"] > small["assurance"]
    ht = plan.table[plan.table["metric"] == "handle_time"]
    assert np.allclose(ht[["p_holds", "p_at_risk", "p_veto"]].sum(axis=1), 1.0)
    fcr = plan.table[plan.table["metric"] == "fcr"]
    assert np.allclose(fcr[["p_improved", "p_no_change", "p_worse", "p_inconclusive"]].sum(axis=1), 1.0)
    meta = plan.meta
    assert meta["design_prior"]["fcr"] == {"mean": 5.0, "sd": 2.5, "source": "min_effect"}
    assert meta["design_prior"]["handle_time"] == {"mean": 0.0, "sd": 10.0, "source": "no change"}
    assert meta["common_random_numbers"] and meta["mc_error"] <= np.sqrt(0.25 / 400) + 1e-12


def test_the_grid_is_monotone_and_nearly_so_before_the_fit(frame):
    spec = make_spec(
        metrics=(("fcr", "primary", 5.0), ("csat", "primary", 0.15), ("handle_time", "guardrail", 20)),
        grid={"agents_per_arm": [10, 20, 40, 80], "weeks": [2, 4, 8]},
    )
    plan = plan_pilot(spec, baseline=frame, seed=3, simulations=600)
    assert plan.meta["monotone"]
    for metric, g in plan.table.groupby("metric"):
        grid = g.pivot(index="agents_per_arm", columns="weeks", values="assurance").to_numpy()
        assert (np.diff(grid, axis=0) >= -1e-12).all() and (np.diff(grid, axis=1) >= -1e-12).all(), metric
    # common random numbers: the simulated shares themselves fall by less than their Monte Carlo error
    assert plan.meta["raw_largest_drop"] <= 2 * plan.meta["mc_error_difference"]
    assert plan.meta["largest_correction"] <= 2 * plan.meta["mc_error_difference"]


def test_monotone_grid_is_the_least_squares_monotone_fit():
    x = np.array([[0.30, 0.20, 0.40], [0.10, 0.50, 0.45]])
    y = monotone_grid(x)
    assert (np.diff(y, axis=0) >= -1e-12).all() and (np.diff(y, axis=1) >= -1e-12).all()
    # no monotone grid is closer (random monotone candidates)
    rng = np.random.default_rng(0)
    best = ((y - x) ** 2).sum()
    for _ in range(2000):
        c = np.sort(np.sort(rng.uniform(0, 0.6, (2, 3)), axis=1), axis=0)
        assert ((c - x) ** 2).sum() >= best - 1e-9
    already = np.array([[0.1, 0.2], [0.3, 0.4]])
    assert np.allclose(monotone_grid(already), already)
    assert np.isnan(monotone_grid(np.array([[np.nan, np.nan], [0.2, 0.1]]))[0]).all()


def test_sizes_are_nested_parts_of_the_same_simulated_pilots(frame):
    """Common random numbers: a smaller size analyses the first units and weeks of the largest pilot."""
    spec = make_spec()
    from qmsprint.design import fit_baseline

    base = fit_baseline(frame, spec)
    mb = base.metrics["fcr"]
    rng = np.random.default_rng(7)
    draws = draw_parameters(mb, base, spec, (5.0, 0.0), 50, rng)
    largest = grid_cell(spec, 40, 4, base)
    sim = simulate_metric(mb, base, spec, draws, largest, 4, rng, keep_levels=True)
    # unit means by hand from the level counts of the first 10 units per arm over 2 weeks
    lv = sim.levels[:, :, :2].sum(axis=2)
    means = 100 * lv[..., 1] / lv.sum(axis=-1)
    t, c = means[:, :10], means[:, 40:50]
    diff, se, df = approximate_posterior(sim, 10, 10, 2)
    assert np.allclose(diff, t.mean(axis=1) - c.mean(axis=1))
    assert np.allclose(se, np.sqrt(t.var(axis=1, ddof=1) / 10 + c.var(axis=1, ddof=1) / 10))


def test_variance_components_are_drawn_from_their_uncertainty():
    """Scaled inverse chi-square around the estimate: wider with fewer baseline agents, mean V df / (df - 2)."""
    mb = MetricBaseline("handle_time", np.array([]), np.array([]), 400.0, 100.0, 30.0, 0.0, 0.0, 1.0)

    def spread(n_agents):
        base = Baseline(volume=25, agents_per_unit=1, baseline_weeks=4, metrics={"handle_time": mb}, source="data",
                        n_agents=n_agents, n_units=n_agents)  # fmt: skip
        spec = make_spec(metrics=(("handle_time", "primary", 5.0),))
        d = draw_parameters(mb, base, spec, (5.0, 1.0), 40000, np.random.default_rng(0))
        return d.s_unit**2 + 100.0**2 / 100  # tau^2 + sigma^2 / m drawn (no draw falls below the noise here)

    few, many = spread(12), spread(400)
    v = 30.0**2 + 100.0**2 / 100
    assert np.mean(few) == pytest.approx(v * 11 / 9, rel=0.03)
    assert np.mean(many) == pytest.approx(v * 399 / 397, rel=0.01)
    assert np.std(few) > 4 * np.std(many)


def test_the_design_prior_spreads_the_effect(frame):
    spec = make_spec(grid={"agents_per_arm": [40], "weeks": [4]})
    sure = plan_pilot(spec, baseline=frame, seed=4, simulations=800, design_prior={"fcr": (5.0, 0.0)})
    spread = plan_pilot(spec, baseline=frame, seed=4, simulations=800)  # sd 0.5 x min_effect
    p_sure = sure.table.query("metric == 'fcr'").iloc[0]
    p_spread = spread.table.query("metric == 'fcr'").iloc[0]
    # more chance of a no-change or a small effect when the true effect is uncertain
    assert p_spread["p_improved"] < p_sure["p_improved"]
    assert spread.meta["design_prior"]["fcr"]["sd"] == 2.5 and sure.meta["design_prior"]["fcr"]["source"] == "given"


def test_recommends_the_cheapest_size_reaching_the_target(frame):
    spec = make_spec(grid={"target_assurance": 0.5})
    plan = plan_pilot(spec, baseline=frame, seed=2, simulations=300)
    rec = plan.recommended
    assert rec is not None
    over = plan.table[(plan.table["metric"] == "overall") & plan.table["reaches_target"]]
    assert rec["cost"] == over["cost"].min() and rec["assurance"] >= 0.5
    assert {"p_scale_up", "p_iterate", "p_stop", "p_inconclusive"} <= set(rec)
    text = plan.summary_text()
    assert f"Recommended: {rec['agents_per_arm']} agents per arm for {rec['weeks']} weeks" in text
    assert "Monte Carlo error: 300 simulated pilots, the same ones nested at every size" in text
    json.dumps(plan.to_dict())
    fig = plan.figure()
    assert len(fig.data) == 2 * 2  # 2 week lines x (fcr + overall)


def test_stated_rates_and_did(frame):
    rates = {
        "interactions_per_agent_week": 50,
        "fcr_rate": 0.7,
        "icc": 0.0,
        "period_icc": 0.0,
        "baseline_weeks": 4,
        "response_rate": 1.0,  # FCR from a survey question: every contact answered here
    }
    spec = make_spec(rates=rates, design_="did")
    plan = plan_pilot(spec, seed=4, simulations=300)  # the data file does not exist: the stated rates are used
    assert plan.baseline.source == "stated rates"
    assert any("stated rates" in n for n in plan.notes)
    # with no clustering the DiD closed form is plain binomial: se = sqrt(2 * 2100 (1/m_p + 1/m_b) / k)
    row = plan.table.query("metric == 'fcr' and agents_per_arm == 10 and weeks == 4").iloc[0]
    var = 70 * 30 * (1 / 200 + 1 / 200)
    assert row["se_closed"] == pytest.approx(np.sqrt(var * 2 / 10), rel=1e-6)
    fixed = plan_pilot(spec, seed=4, simulations=1000, design_prior={"fcr": (5.0, 0.0)})
    row = fixed.table.query("metric == 'fcr' and agents_per_arm == 10 and weeks == 4").iloc[0]
    assert abs(row["p_improved"] - row["power_closed"]) < 0.07


def test_design_errors():
    with pytest.raises(DesignError) as err:
        plan_pilot(make_spec())
    assert "no baseline data and no stated rates" in str(err.value)
    incomplete = make_spec(
        metrics=(("csat", "primary", 0.1), ("nps", "primary", 5)), rates={"interactions_per_agent_week": 5}
    )
    with pytest.raises(DesignError) as err:
        plan_pilot(incomplete)
    assert "csat_mean" in str(err.value) and "nps_promoters" in str(err.value)
    # team randomization with too few agents for two teams per arm anywhere in the grid
    teams = make_spec(
        unit="team",
        grid={"agents_per_arm": [5]},
        rates={"interactions_per_agent_week": 5, "fcr_rate": 0.7, "agents_per_unit": 10},
    )
    with pytest.raises(DesignError) as err:
        plan_pilot(teams)
    assert "fewer than two units per arm" in str(err.value)


def test_save_refuses_an_existing_folder(frame, tmp_path):
    plan = plan_pilot(make_spec(grid={"agents_per_arm": [10], "weeks": [2]}), baseline=frame, simulations=50)
    paths = plan.save(tmp_path / "d")
    assert [p.name for p in paths] == ["design.json", "assurance.csv", "assurance.html"]
    assert all(p.exists() for p in paths)
    with pytest.raises(BundleError):
        plan.save(tmp_path / "d")


def test_one_assurance_figure_for_the_plan_and_the_app(frame):
    from qmsprint.present.design import assurance_figure

    spec = make_spec(metrics=(("fcr", "primary", 5.0), ("csat", "secondary", 0.1)))
    plan = plan_pilot(spec, baseline=frame, seed=2, simulations=50)
    full = plan.figure()  # what `qmsprint design --out` writes: one panel per metric and overall
    assert len(full.data) == 3 * 2
    titles = [a.text for a in full.layout.annotations]
    assert {"First contact resolution", "CSAT", "Overall (primary)"} <= set(titles)
    assert "target 80%" in titles
    # the app's Design page: the overall rows of a design.json table
    records = pd.DataFrame(plan.to_dict()["table"])
    app = assurance_figure(records[records["metric"] == "overall"], 0.8)
    assert [t.name for t in app.data] == ["2 weeks", "4 weeks"]
    assert list(app.data[0].y) == list(plan.table.query("metric == 'overall' and weeks == 2")["assurance"])
    assert app.layout.yaxis.tickformat == ".0%"
    assert "Overall (primary)" in app.layout.title.text
    assert len(assurance_figure(records.iloc[:0], 0.8).data) == 0


def test_plan_summary_names_each_metric_by_its_label(frame):
    spec = make_spec(metrics=(("fcr", "primary", 5.0), ("handle_time", "guardrail", 20)))
    plan = plan_pilot(spec, baseline=frame, seed=2, simulations=50)
    text = plan.summary_text()
    assert text.startswith("Pilot design for 'plan' (AB, randomizing agents)")
    assert "chance that the pilot ends decisively (scale up, iterate or stop under the decision rule)" in text
    assert "  First contact resolution (primary): " in text and "to detect 5 pp exactly" in text
    assert "  Handle time (guardrail): " in text and "not at risk" in text and "to detect 20 seconds" in text
    assert plan.to_dict()["summary"] == text


def test_team_units_grid_with_too_small_sizes_and_progress():
    rates = {"interactions_per_agent_week": 40, "fcr_rate": 0.7, "icc": 0.05, "agents_per_unit": 10}
    spec = make_spec(unit="team", rates=rates, grid={"agents_per_arm": [5, 40], "weeks": [4], "simulations": 50})
    calls = []
    plan = plan_pilot(spec, progress=lambda msg, frac: calls.append(frac))
    fcr = plan.table[plan.table["metric"] == "fcr"].set_index("agents_per_arm")
    assert np.isnan(fcr.loc[5, "assurance"])  # one team per arm cannot be analysed
    assert fcr.loc[40, "units_treatment"] == 4 and fcr.loc[40, "agents_total"] == 80
    over = plan.table[plan.table["metric"] == "overall"].set_index("agents_per_arm")
    assert np.isnan(over.loc[5, "assurance"]) and 0 <= over.loc[40, "assurance"] <= 1
    assert any("fewer than two units" in n for n in plan.notes)
    assert calls[0] == 0.0 and calls[-1] == 1.0 and calls == sorted(calls)
    # team variance = icc x unit_share = 0.015 of the total, within-agent 0.95: team ICC 0.015 / 0.965;
    # m = 40 contacts x 4 weeks x 15% answered x 10 agents = 240 observations per team
    icc = 0.015 / (0.015 + 0.95)
    assert fcr.loc[40, "icc"] == pytest.approx(icc)
    assert fcr.loc[40, "deff"] == pytest.approx(1 + (240 - 1) * icc)


# ------------------------------------------------------------------------------- against qmsprint.simulate


def _sim_spec(design_, unit, metric, min_effect, k, w, baseline_weeks):
    import tomllib  # noqa: F401  (spec built from a mapping, like an experiment file)

    raw = {
        "name": "sim",
        "design": design_,
        "unit": unit,
        "arms": {"control": "checklist", "treatment": "behavior"},
        "data": {"source": "/nonexistent/x.parquet"},
        "metrics": [{"name": metric, "min_effect": min_effect}],
        "periods": {
            "baseline": {
                "start": dt.date(2026, 1, 5),
                "end": dt.date(2026, 1, 5) + dt.timedelta(7 * baseline_weeks - 1),
            },
            "pilot": {
                "start": dt.date(2026, 1, 5) + dt.timedelta(7 * baseline_weeks),
                "end": dt.date(2026, 1, 5) + dt.timedelta(7 * (baseline_weeks + w) - 1),
            },
        },
        "design_grid": {"agents_per_arm": [k], "weeks": [w], "simulations": 400, "strata": []},
    }
    return parse_spec(raw)


def _decisive_from_rows(frame, pilot_start, unit_col, did):
    """Analyse one simulated pilot from its rows: unit means (A/B) or changes (DiD), Welch, P >= prob_improve."""
    f = frame[frame["csat"].notna()]
    f = f.assign(period=np.where(pd.to_datetime(f["timestamp"]) >= pd.Timestamp(pilot_start), "pilot", "baseline"))
    m = f.groupby([unit_col, "arm", "period"])["csat"].mean().astype(float).unstack("period")
    y = ((m["pilot"] - m["baseline"]) if did else m["pilot"]).rename("y").dropna().reset_index()
    t, c = y.loc[y["arm"] == "behavior", "y"].to_numpy(), y.loc[y["arm"] == "checklist", "y"].to_numpy()
    vt, vc = t.var(ddof=1) / len(t), c.var(ddof=1) / len(c)
    df = (vt + vc) ** 2 / (vt**2 / (len(t) - 1) + vc**2 / (len(c) - 1))
    return stats.t.cdf((t.mean() - c.mean()) / np.sqrt(vt + vc), df) >= P_IMPROVE


@pytest.mark.parametrize(
    "design_,unit,n_agents,n_teams,weeks,effect,n_pilots",
    [
        pytest.param("ab", "agent", 40, 4, 4, 0.3, 150, id="ab-agents", marks=pytest.mark.slow),
        pytest.param("did", "team", 48, 12, 4, 0.18, 120, id="did-teams", marks=pytest.mark.slow),
    ],
)
def test_assurance_matches_pilots_from_the_project_simulator(design_, unit, n_agents, n_teams, weeks, effect, n_pilots):
    """Independent pilots from qmsprint.simulate (ordered-logit CSAT, team and agent effects, seasonality)."""
    from qmsprint.simulate import SimConfig, simulate

    base_weeks = 4
    cfg = SimConfig(
        design=design_,
        n_agents=n_agents,
        n_teams=n_teams,
        interactions_per_agent=100 * weeks,
        weeks=weeks,
        baseline_weeks=base_weeks,
        arms=("checklist", "behavior"),
        unit=unit,
        csat_effect=effect,
        response_rate=(0.2, 0.2),
        season_amplitude=0.0,
        did_period_shock=0.0,
        did_group_offset=0.0,
    )
    import dataclasses

    pilot_start = dt.date(2026, 1, 5) + dt.timedelta(7 * base_weeks)
    unit_col = "agent_id" if unit == "agent" else "team"
    wins, truths = 0, []
    for s in range(n_pilots):
        sim = simulate(dataclasses.replace(cfg, seed=1000 + s))
        truths.append(sim.truth["effects"]["csat"]["mean"])
        wins += _decisive_from_rows(sim.frame, pilot_start, unit_col, did=design_ == "did")
    actual = wins / n_pilots
    # plan from the baseline period of a bigger, separate simulated history
    hist = simulate(dataclasses.replace(cfg, n_agents=3 * n_agents, n_teams=3 * n_teams, seed=7))
    baseline = hist.frame[pd.to_datetime(hist.frame["timestamp"]) < pd.Timestamp(pilot_start)]
    spec = _sim_spec(design_, unit, "csat", float(np.mean(truths)), n_agents // 2, weeks, base_weeks)
    truth = float(np.mean(truths))
    plan = plan_pilot(spec, baseline=baseline, seed=3, simulations=1000, design_prior={"csat": (truth, 0.0)})
    row = plan.table.query("metric == 'csat'").iloc[0]
    p = row["p_improved"]
    # the plan also draws the ICCs from their uncertainty: a little slack beyond Monte Carlo error
    tol = 3 * np.sqrt(p * (1 - p) / 1000 + actual * (1 - actual) / n_pilots) + 0.03
    assert 0.15 < actual < 0.9  # a genuinely uncertain design
    assert abs(p - actual) < tol, (p, actual, tol)
