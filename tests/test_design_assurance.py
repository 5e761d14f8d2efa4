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
from qmsprint.design.simulation import GH_W, GH_X, LatentScale, closed_form, grid_cell
from qmsprint.errors import BundleError, DesignError
from qmsprint.spec import parse_spec


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


def test_closed_form_matches_textbook_power():
    # no clustering, equal volumes: se = sqrt(2 sigma^2 / (k m)); power ~ 1 - Phi(z_q - effect/se)
    mb = MetricBaseline("handle_time", np.array([]), np.array([]), 400.0, 100.0, 0.0, 0.0, 0.0, 1.0)
    base = Baseline(volume=25, agents_per_unit=1, baseline_weeks=4, metrics={"handle_time": mb}, source="x")
    spec = make_spec(metrics=(("handle_time", "primary", 5.0),))
    cell = grid_cell(spec, 200, 4, base)
    cf = closed_form(mb, base, spec, cell, -5.0)
    se = np.sqrt(2 * 100.0**2 / (200 * 100))
    assert cf["se"] == pytest.approx(se)
    assert cf["assurance"] == pytest.approx(1 - stats.norm.cdf(stats.norm.ppf(0.95) - 5 / se), abs=0.01)
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
        wins += stats.t.cdf((t.mean() - c.mean()) / se, df) >= 0.95
    return wins / n_pilots


def test_assurance_matches_the_rate_of_decisive_independent_pilots(frame):
    spec = make_spec(grid={"simulations": 400})
    plan = plan_pilot(spec, baseline=frame, seed=1)
    row = plan.table.query("metric == 'fcr' and agents_per_arm == 20 and weeks == 2").iloc[0]
    # the clustered design is far from certain: ignoring the ICC would give ~99%
    assert 0.3 < row["assurance"] < 0.8
    actual = independent_pilot_rate(20, 2, 5.0, 400, seed=99)
    tol = 3 * np.sqrt(row["assurance_se"] ** 2 + actual * (1 - actual) / 400)
    assert abs(row["assurance"] - actual) < tol, (row["assurance"], actual)
    assert abs(row["assurance_closed"] - actual) < tol + 0.05
    # with no effect, the pilot (almost) never ends with an improvement called
    assert independent_pilot_rate(20, 2, 0.0, 200, seed=5) < 0.1


def test_assurance_grows_with_agents_and_weeks_and_recommends_the_cheapest(frame):
    spec = make_spec()
    plan = plan_pilot(spec, baseline=frame, seed=2)
    t = plan.table[plan.table["metric"] == "fcr"].set_index(["agents_per_arm", "weeks"])["assurance"]
    assert t[(40, 2)] > t[(20, 2)] > t[(10, 2)]
    assert t[(20, 4)] >= t[(20, 2)] - 0.05
    rec = plan.recommended
    assert rec is not None
    over = plan.table[(plan.table["metric"] == "overall") & plan.table["reaches_target"]]
    assert rec["cost"] == over["cost"].min()
    assert rec["assurance"] >= 0.8
    text = plan.summary_text()
    assert f"Recommended: {rec['agents_per_arm']} agents per arm for {rec['weeks']} weeks" in text
    json.dumps(plan.to_dict())
    fig = plan.figure()
    assert len(fig.data) == 2 * 2  # 2 week lines x (fcr + overall)


def test_overall_is_the_weakest_primary_metric(frame):
    spec = make_spec(metrics=(("fcr", "primary", 5.0), ("csat", "primary", 0.15), ("handle_time", "guardrail", 20)))
    plan = plan_pilot(spec, baseline=frame, seed=3, simulations=100)
    t = plan.table
    over = t[t["metric"] == "overall"].set_index(["agents_per_arm", "weeks"])["assurance"]
    for key, g in t[t["metric"].isin(["fcr", "csat"])].groupby(["agents_per_arm", "weeks"]):
        assert over[key] == g["assurance"].min()
    # csat: 20% response and 0.15 points is harder than fcr at 5 pp
    c = t.query("metric == 'csat' and agents_per_arm == 10 and weeks == 2")["assurance"].iloc[0]
    f = t.query("metric == 'fcr' and agents_per_arm == 10 and weeks == 2")["assurance"].iloc[0]
    assert c < f


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
    plan = plan_pilot(spec, seed=4)  # the data file does not exist: the stated rates are used
    assert plan.baseline.source == "stated rates"
    assert any("stated rates" in n for n in plan.notes)
    # with no clustering the DiD closed form is plain binomial: se = sqrt(2 * 2100 (1/m_p + 1/m_b) / k)
    row = plan.table.query("metric == 'fcr' and agents_per_arm == 10 and weeks == 4").iloc[0]
    var = 70 * 30 * (1 / 200 + 1 / 200)
    assert row["se_closed"] == pytest.approx(np.sqrt(var * 2 / 10), rel=1e-6)
    assert abs(row["assurance"] - row["assurance_closed"]) < 0.1


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
    plan = plan_pilot(make_spec(grid={"agents_per_arm": [10], "weeks": [2]}), baseline=frame, simulations=20)
    paths = plan.save(tmp_path / "d")
    assert [p.name for p in paths] == ["design.json", "assurance.csv", "assurance.html"]
    assert all(p.exists() for p in paths)
    with pytest.raises(BundleError):
        plan.save(tmp_path / "d")


def test_one_assurance_figure_for_the_plan_and_the_app(frame):
    from qmsprint.present.design import assurance_figure

    spec = make_spec(metrics=(("fcr", "primary", 5.0), ("csat", "secondary", 0.1)))
    plan = plan_pilot(spec, baseline=frame, seed=2, simulations=20)
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
    plan = plan_pilot(spec, baseline=frame, seed=2, simulations=20)
    text = plan.summary_text()
    assert text.startswith("Pilot design for 'plan' (AB, randomizing agents)")
    assert "  First contact resolution (primary): " in text and "to detect 5 pp" in text
    assert "  Handle time (guardrail): " in text and "to detect 20 seconds" in text
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
    assert over.loc[40, "assurance"] == fcr.loc[40, "assurance"]
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
    """Analyse one simulated pilot from its rows: unit means (A/B) or changes (DiD), Welch, P >= 0.95."""
    f = frame[frame["csat"].notna()]
    f = f.assign(period=np.where(pd.to_datetime(f["timestamp"]) >= pd.Timestamp(pilot_start), "pilot", "baseline"))
    m = f.groupby([unit_col, "arm", "period"])["csat"].mean().astype(float).unstack("period")
    y = ((m["pilot"] - m["baseline"]) if did else m["pilot"]).rename("y").dropna().reset_index()
    t, c = y.loc[y["arm"] == "behavior", "y"].to_numpy(), y.loc[y["arm"] == "checklist", "y"].to_numpy()
    vt, vc = t.var(ddof=1) / len(t), c.var(ddof=1) / len(c)
    df = (vt + vc) ** 2 / (vt**2 / (len(t) - 1) + vc**2 / (len(c) - 1))
    return stats.t.cdf((t.mean() - c.mean()) / np.sqrt(vt + vc), df) >= 0.95


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
    plan = plan_pilot(spec, baseline=baseline, seed=3)
    row = plan.table.query("metric == 'csat'").iloc[0]
    tol = 3 * np.sqrt(row["assurance_se"] ** 2 + actual * (1 - actual) / n_pilots)
    assert 0.15 < actual < 0.9  # a genuinely uncertain design
    assert abs(row["assurance"] - actual) < tol, (row["assurance"], actual, tol)
