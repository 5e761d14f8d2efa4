"""Pilot design: baseline estimates, assurance against independently simulated pilots, assignment."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from qmsprint import design
from qmsprint.errors import BundleError, DesignError
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


@pytest.fixture(scope="module")
def frame():
    return make_frame()


# ------------------------------------------------------------------------------- baseline


def test_fit_baseline_recovers_known_spread(frame):
    spec = make_spec(metrics=(("fcr", "primary", 5.0), ("csat", "secondary", 0.1)))
    base = design.fit_baseline(frame, spec)
    fcr = base.metrics["fcr"]
    assert base.volume == pytest.approx(50, rel=0.05)
    assert base.baseline_weeks == pytest.approx(4.0)
    assert fcr.mean == pytest.approx(70, abs=2)
    assert fcr.tau_unit == pytest.approx(8.0, rel=0.25)  # agent SD in pp
    assert fcr.response_rate == 1.0
    assert base.metrics["csat"].response_rate == pytest.approx(0.2, abs=0.01)
    assert base.metrics["csat"].shares == pytest.approx(
        np.bincount(frame["csat"].dropna().astype(int), minlength=6)[1:] / frame["csat"].notna().sum()
    )


def test_latent_helpers_hit_their_targets():
    mb = design.MetricBaseline("csat", np.arange(1.0, 6.0), CSAT_SHARES, 4.0, 1.0, 0.2, 0.0, 0.0, 0.2)
    lat = design._Latent(mb)
    assert float(lat.mean(np.array(0.0))) == pytest.approx(CSAT_SHARES @ np.arange(1, 6))
    s = lat.sd_for_variance(0.2**2)
    m = lat.mean(s * design._GH_X)
    assert float(design._GH_W @ m**2 - (design._GH_W @ m) ** 2) == pytest.approx(0.04, rel=1e-4)
    d = lat.shift_for_effect(0.1, s)
    assert float(design._GH_W @ (lat.mean(s * design._GH_X + d) - m)) == pytest.approx(0.1, abs=1e-6)


def test_closed_form_matches_textbook_power():
    # no clustering, equal volumes: se = sqrt(2 sigma^2 / (k m)); power ~ 1 - Phi(z_q - effect/se)
    mb = design.MetricBaseline("handle_time", np.array([]), np.array([]), 400.0, 100.0, 0.0, 0.0, 0.0, 1.0)
    base = design.Baseline(volume=25, agents_per_unit=1, baseline_weeks=4, metrics={"handle_time": mb}, source="x")
    spec = make_spec(metrics=(("handle_time", "primary", 5.0),))
    cell = design._grid_cell(spec, 200, 4, base)
    cf = design.closed_form(mb, base, spec, cell, -5.0)
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
    plan = design.plan_pilot(spec, baseline=frame, seed=1)
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
    plan = design.plan_pilot(spec, baseline=frame, seed=2)
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
    plan = design.plan_pilot(spec, baseline=frame, seed=3, simulations=100)
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
    plan = design.plan_pilot(spec, seed=4)  # the data file does not exist: the stated rates are used
    assert plan.baseline.source == "stated rates"
    assert any("stated rates" in n for n in plan.notes)
    # with no clustering the DiD closed form is plain binomial: se = sqrt(2 * 2100 (1/m_p + 1/m_b) / k)
    row = plan.table.query("metric == 'fcr' and agents_per_arm == 10 and weeks == 4").iloc[0]
    var = 70 * 30 * (1 / 200 + 1 / 200)
    assert row["se_closed"] == pytest.approx(np.sqrt(var * 2 / 10), rel=1e-6)
    assert abs(row["assurance"] - row["assurance_closed"]) < 0.1


def test_design_errors():
    with pytest.raises(DesignError) as err:
        design.plan_pilot(make_spec())
    assert "no baseline data and no stated rates" in str(err.value)
    incomplete = make_spec(
        metrics=(("csat", "primary", 0.1), ("nps", "primary", 5)), rates={"interactions_per_agent_week": 5}
    )
    with pytest.raises(DesignError) as err:
        design.plan_pilot(incomplete)
    assert "csat_mean" in str(err.value) and "nps_promoters" in str(err.value)
    # team randomization with too few agents for two teams per arm anywhere in the grid
    teams = make_spec(
        unit="team",
        grid={"agents_per_arm": [5]},
        rates={"interactions_per_agent_week": 5, "fcr_rate": 0.7, "agents_per_unit": 10},
    )
    with pytest.raises(DesignError) as err:
        design.plan_pilot(teams)
    assert "fewer than two units per arm" in str(err.value)


def test_save_refuses_an_existing_folder(frame, tmp_path):
    plan = design.plan_pilot(make_spec(grid={"agents_per_arm": [10], "weeks": [2]}), baseline=frame, simulations=20)
    paths = plan.save(tmp_path / "d")
    assert [p.name for p in paths] == ["design.json", "assurance.csv", "assurance.html"]
    assert all(p.exists() for p in paths)
    with pytest.raises(BundleError):
        plan.save(tmp_path / "d")


# ------------------------------------------------------------------------------- assignment


def test_assignment_is_reproducible_and_balanced(frame, tmp_path):
    spec = make_spec(metrics=(("fcr", "primary", 5.0), ("csat", "primary", 0.1)))
    a1 = design.assign_units(spec, seed=7, frame=frame)
    a2 = design.assign_units(spec, seed=7, frame=frame)
    a3 = design.assign_units(spec, seed=8, frame=frame)
    p1, p2, p3 = a1.save(tmp_path / "a1.csv"), a2.save(tmp_path / "a2.csv"), a3.save(tmp_path / "a3.csv")
    assert p1[0].read_bytes() == p2[0].read_bytes()
    assert p1[0].read_bytes() != p3[0].read_bytes()
    assert p1[1].name == "a1.balance.csv"
    assignment = pd.read_csv(p1[0])
    assert list(assignment.columns) == ["agent_id", "team", "site", "stratum", "block", "arm", "program"]
    assert (assignment["arm"] == "behavior").sum() == 40
    bal = a1.balance.set_index("variable")
    assert {"csat", "fcr", "volume", "qa_score", "tenure_months"} <= set(bal.index)
    # blocking on baseline performance keeps the blocked outcomes close
    assert abs(bal.loc["fcr", "std_diff"]) < 0.2
    assert "Balance: largest standardized difference" in a1.summary_text()
    json.dumps(a1.to_dict())


def test_blocking_beats_simple_randomization_on_the_blocked_outcome(frame):
    spec = make_spec(metrics=(("fcr", "primary", 5.0),), strata=())
    ds = [
        abs(design.assign_units(spec, seed=s, frame=frame).balance.set_index("variable").loc["fcr", "std_diff"])
        for s in range(20)
    ]
    # simple randomization of 40 + 40 gives E|d| ~ 0.18; pairing on FCR much less
    assert np.mean(ds) < 0.08


def test_stratified_assignment_keeps_each_stratum_split(frame):
    f = frame[~frame["agent_id"].isin(["a000", "a009"])]  # teams t0, t1 now have 9 agents: odd
    spec = make_spec()
    a = design.assign_units(spec, seed=3, frame=f)
    counts = a.assignment.groupby(["team", "arm"]).size().unstack(fill_value=0)
    sizes = counts.sum(axis=1)
    assert (abs(counts["behavior"] - sizes / 2) <= 0.5 + 1e-9).all()
    assert counts["behavior"].sum() == 39
    # a 25% split
    a25 = design.assign_units(make_spec(split=0.25), seed=3, frame=frame)
    c25 = a25.assignment.groupby(["team", "arm"]).size().unstack(fill_value=0)
    assert (abs(c25["behavior"] - c25.sum(axis=1) / 4) <= 1).all()
    assert c25["behavior"].sum() == 20


def test_assignment_of_teams_and_errors(frame, tmp_path):
    a = design.assign_units(make_spec(unit="team", strata=("team", "site")), seed=1, frame=frame)
    assert list(a.assignment.columns[:2]) == ["team", "site"]
    assert a.meta["strata"] == ["site"] and any("ignored" in n for n in a.notes)
    assert (a.assignment.groupby("site")["arm"].apply(lambda s: (s == "behavior").sum()) == 2).all()
    # a stratum with a single unit cannot be split
    one = frame[(frame["team"] != "t3") | (frame["agent_id"] == "a003")]
    with pytest.raises(DesignError) as err:
        design.assign_units(make_spec(), seed=1, frame=one)
    assert "stratum t3" in str(err.value)
    with pytest.raises(DesignError) as err:
        design.assign_units(make_spec(strata=("region",)), seed=1, frame=frame)
    assert "design_grid.strata.region" in str(err.value)
    # save refuses to overwrite either file
    (tmp_path / "x.balance.csv").write_text("keep")
    with pytest.raises(BundleError):
        a.save(tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()
    assert (tmp_path / "x.balance.csv").read_text() == "keep"


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
    plan = design.plan_pilot(spec, baseline=baseline, seed=3)
    row = plan.table.query("metric == 'csat'").iloc[0]
    tol = 3 * np.sqrt(row["assurance_se"] ** 2 + actual * (1 - actual) / n_pilots)
    assert 0.15 < actual < 0.9  # a genuinely uncertain design
    assert abs(row["assurance"] - actual) < tol, (row["assurance"], actual, tol)


# ------------------------------------------------------------------------------- CLI


def _write_spec(tmp_path, body):
    path = tmp_path / "pilot.toml"
    path.write_text(body, encoding="utf-8")
    return path


SPEC_RATES = """
name = "cli-plan"
design = "ab"
[arms]
control = "checklist"
treatment = "behavior"
[data]
source = "missing.parquet"
[[metrics]]
name = "fcr"
source = "no_repeat"
min_effect = 3.0
[design_grid]
agents_per_arm = [10, 40]
weeks = [4]
simulations = 50
[design_grid.baseline_rates]
interactions_per_agent_week = 60
fcr_rate = 0.7
icc = 0.03
"""


def test_cli_design_and_assign(tmp_path, frame):
    from typer.testing import CliRunner

    from qmsprint.cli import app

    runner = CliRunner()
    spec = _write_spec(tmp_path, SPEC_RATES)
    res = runner.invoke(app, ["design", str(spec), "--out", str(tmp_path / "plan"), "-q"])
    assert res.exit_code == 0, res.output
    assert "agents per arm" in res.output and (tmp_path / "plan" / "assurance.csv").exists()
    again = runner.invoke(app, ["design", str(spec), "--out", str(tmp_path / "plan"), "-q"])
    assert again.exit_code == 5 and "already exists" in again.output
    # impossible request: no data, no rates -> exit 6
    no_rates = _write_spec(tmp_path, SPEC_RATES.split("[design_grid.baseline_rates]")[0])
    res = runner.invoke(app, ["design", str(no_rates), "-q"])
    assert res.exit_code == 6, res.output
    assert "no baseline data and no stated rates" in res.output and "Traceback" not in res.output
    # assign on a data file
    # assign from a history without arms: its baseline period
    frame.assign(interaction_id=[f"i{i}" for i in range(len(frame))]).to_parquet(tmp_path / "hist.parquet")
    body = SPEC_RATES.replace("missing.parquet", "hist.parquet").replace('source = "no_repeat"\n', "")
    body = body.replace(
        "[[metrics]]",
        "[periods]\nbaseline = { start = 2026-01-05, end = 2026-02-01 }\n"
        "pilot = { start = 2026-02-02, end = 2026-03-29 }  # not started yet: no data\n\n[[metrics]]",
        1,
    )
    spec2 = _write_spec(tmp_path, body)
    out = tmp_path / "assignment.csv"
    res = runner.invoke(app, ["assign", str(spec2), "--out", str(out), "--seed", "4"])
    assert res.exit_code == 0, res.output
    assert out.exists() and (tmp_path / "assignment.balance.csv").exists()
    assert "Assigned 80 agents (seed 4)" in res.output
    res = runner.invoke(app, ["assign", str(spec2), "--out", str(out), "--seed", "4"])
    assert res.exit_code == 5


def test_team_units_grid_with_too_small_sizes_and_progress():
    rates = {"interactions_per_agent_week": 40, "fcr_rate": 0.7, "icc": 0.05, "agents_per_unit": 10}
    spec = make_spec(unit="team", rates=rates, grid={"agents_per_arm": [5, 40], "weeks": [4], "simulations": 50})
    calls = []
    plan = design.plan_pilot(spec, progress=lambda msg, frac: calls.append(frac))
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
