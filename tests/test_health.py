"""Health checks: SRM, response rates, contamination, balance, parallel trends, A/A (known answers)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from qmsprint import health
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
    import datetime as dt

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


# ------------------------------------------------------------------------------- SRM


def test_srm_pearson_matches_closed_form():
    chi2, p = health.srm_test(480, 520, 0.5)
    assert chi2 == pytest.approx(2 * 20**2 / 500)
    assert p == pytest.approx(0.2059, abs=1e-3)


def test_srm_units_flags_52_48_on_a_large_pilot_not_50_50():
    spec = make_spec()
    big = pd.DataFrame({"unit": [f"u{i}" for i in range(20000)], "arm": ["behavior"] * 10400 + ["checklist"] * 9600})
    even = pd.DataFrame({"unit": [f"u{i}" for i in range(20000)], "arm": ["behavior"] * 10000 + ["checklist"] * 10000})
    assert health.check_srm_units(big, spec).status == "alert"
    assert health.check_srm_units(even, spec).status == "ok"
    assert "52.0/48.0" in health.check_srm_units(big, spec).message
    # a planned 70/30 split is respected
    spec70 = make_spec(split=0.7)
    seventy = pd.DataFrame({"unit": [f"u{i}" for i in range(1000)], "arm": ["behavior"] * 700 + ["checklist"] * 300})
    assert health.check_srm_units(seventy, spec70).status == "ok"
    assert health.check_srm_units(seventy, spec).status == "alert"


def test_srm_interactions_flags_52_48_on_a_large_pilot_not_50_50():
    spec = make_spec()
    # 400 agents, 200 per arm, ~2,000 interactions each: 800k interactions
    rng = np.random.default_rng(3)
    vol = rng.poisson(2000, 400).astype(float)
    arm = np.array(["behavior"] * 200 + ["checklist"] * 200)
    even = pd.DataFrame({"unit": range(400), "arm": arm, "n": vol})
    skew = even.assign(n=np.where(arm == "checklist", vol * 48 / 52, vol))  # 52/48 of interactions
    ok, bad = health.check_srm_interactions(even, spec), health.check_srm_interactions(skew, spec)
    assert ok.status == "ok", ok.message
    assert bad.status == "alert", bad.message
    assert "52.0/48.0" in bad.message
    assert bad.data["volume_ratio"] == pytest.approx(52 / 48, rel=0.01)


def test_srm_interactions_does_not_flag_ordinary_volume_differences_between_agents():
    # volumes vary a lot between agents (cv 0.5): the naive Pearson test fires, the cluster-aware one must not
    spec = make_spec()
    rng = np.random.default_rng(11)
    false_alarms, naive_alarms = 0, 0
    for _ in range(200):
        vol = rng.gamma(4, 500, 100)
        df = pd.DataFrame({"unit": range(100), "arm": ["behavior"] * 50 + ["checklist"] * 50, "n": vol})
        c = health.check_srm_interactions(df, spec)
        false_alarms += c.status != "ok"
        naive_alarms += c.data["p_pearson"] < 0.01
    assert false_alarms <= 8  # nominal rate 1% (warn at p < 0.01)
    assert naive_alarms > 150


# ------------------------------------------------------------------------------- response rates


def test_differing_response_rates_are_flagged_with_their_size():
    spec = make_spec()
    same = health.check_response_rates(make_cells(response=(0.2, 0.2), seed=1).query("period == 'pilot'"), spec)
    cells = make_cells(response=(0.15, 0.2), seed=1).query("period == 'pilot'")
    diff = health.check_response_rates(cells, spec)
    assert same.status == "ok", same.message
    assert diff.status == "alert", diff.message
    sums = cells.groupby("arm")[["n", "csat_n"]].sum()
    pooled = sums["csat_n"] / sums["n"]
    assert diff.data["csat"]["difference_pp"] == pytest.approx(100 * (pooled["behavior"] - pooled["checklist"]))
    assert diff.data["csat"]["difference_pp"] == pytest.approx(-5.0, abs=1.5)
    assert f"{100 * pooled['behavior']:.1f}%" in diff.message
    # a small, real difference (2% relative) on a huge pilot is not flagged: it cannot bias much
    tiny = health.check_response_rates(
        make_cells(response=(0.196, 0.2), n_treat=300, n_ctrl=300, volume=4000, seed=2).query("period == 'pilot'"),
        spec,
    )
    assert tiny.status == "ok", tiny.message


# ------------------------------------------------------------------------------- contamination


def test_contamination_caught():
    spec = make_spec()
    cells = make_cells(seed=2)
    clean = health.check_contamination(cells, spec)
    assert clean.status == "ok", clean.message
    # agent a000 also works in the control arm during the pilot; a001 moves team
    extra = cells[(cells["agent_id"] == "a000") & (cells["period"] == "pilot")].assign(arm="checklist")
    moved = cells[(cells["agent_id"] == "a001") & (cells["period"] == "pilot")].assign(team="t9")
    dirty = health.check_contamination(pd.concat([cells, extra, moved]), spec)
    assert dirty.status == "alert"
    assert dirty.data["agents_in_both_arms"] == ["a000"]
    assert dirty.data["agents_changed_team"] == ["a001"]
    assert "1 agent worked in both arms" in dirty.message and "changed team" in dirty.message


def test_switching_arm_between_baseline_and_pilot_is_caught():
    spec = make_spec(design="did")
    cells = make_cells(seed=2)
    cells.loc[(cells["agent_id"] == "a003") & (cells["period"] == "pilot"), "arm"] = "checklist"
    c = health.check_contamination(cells, spec)
    assert c.data["agents_switched_arm"] == ["a003"]
    assert c.status in ("warn", "alert")
    # a baseline where everyone was on the checklist is not a switch
    unl = make_cells(seed=2, baseline_labels=False)
    assert health.check_contamination(unl, make_spec()).status == "ok"


# ------------------------------------------------------------------------------- balance


def test_standardized_difference_closed_form():
    units = pd.DataFrame({"arm": ["t"] * 3 + ["c"] * 3, "x": [1.0, 2.0, 3.0, 2.0, 3.0, 4.0]})
    tab = health.standardized_differences(units, "arm", "t", "c", {"x": "X"})
    assert tab.loc[0, "std_diff"] == pytest.approx(-1.0)  # (2 - 3) / sqrt((1 + 1) / 2)
    assert tab.loc[0, "flag"] == "imbalanced"


def test_balance_flags_a_baseline_gap_and_not_a_randomized_one():
    spec = make_spec()
    ok = health.check_balance(make_cells(seed=4, agent_sd=0.05, n_treat=200, n_ctrl=200), spec)
    bad = health.check_balance(make_cells(seed=4, shift_treated_baseline=0.5, agent_sd=0.05), spec)
    assert ok.status in ("ok", "warn")
    assert bad.status == "alert", bad.message
    assert any(r["variable"] == "csat" and r["std_diff"] > 0.5 for r in bad.data["table"])
    json.dumps(bad.to_dict())
    # DiD only warns: it adjusts for stable level differences
    assert (
        health.check_balance(make_cells(seed=4, shift_treated_baseline=0.5), make_spec(design="did")).status == "warn"
    )


# ------------------------------------------------------------------------------- parallel trends


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


def test_trend_slope_is_exact_on_noiseless_data():
    fit = health.trend_slope(np.arange(6), 0.5 + 0.1 * np.arange(6))
    assert fit["slope"] == pytest.approx(0.1)
    assert fit["se"] == pytest.approx(0.0, abs=1e-12)


def test_parallel_trends_separates_a_pilot_with_and_without_a_pretrend():
    spec = make_spec(design="did", metrics=("csat", "fcr"))
    flat = health.check_parallel_trends(make_weekly(trend=0.0, seed=5), spec)
    drift = health.check_parallel_trends(make_weekly(trend=0.03, seed=5), spec)
    assert flat.status == "ok", flat.message
    assert drift.status == "alert", drift.message
    s = drift.data["metrics"]["csat"]
    assert s["slope_per_week"] == pytest.approx(0.03, abs=0.015)
    assert s["slope_low"] < 0.03 < s["slope_high"]
    assert len(s["weeks"]) == len(s["gap"]) == len(s["fitted_gap"]) == 8
    # bias = slope x weeks between the centres of baseline and pilot (~11.6 weeks here)
    assert s["projected_bias"] == pytest.approx(s["slope_per_week"] * drift.data["centre_distance_weeks"])
    assert "per week" in drift.message
    json.dumps(drift.to_dict())


def test_parallel_trends_false_alarm_rate_is_low():
    spec = make_spec(design="did", metrics=("csat",))
    alarms = sum(
        health.check_parallel_trends(make_weekly(trend=0.0, seed=s), spec).status == "alert" for s in range(100)
    )
    assert alarms <= 4


# ------------------------------------------------------------------------------- A/A


def test_aa_gives_no_effect_on_randomized_baseline_and_catches_a_broken_one():
    spec = make_spec()
    statuses = [health.check_aa(make_cells(seed=s), None, spec).status for s in range(20)]
    assert statuses.count("ok") >= 18
    broken = health.check_aa(make_cells(seed=1, shift_treated_baseline=0.6, agent_sd=0.1), None, spec)
    assert broken.status == "alert", broken.message
    assert broken.data["metrics"]["csat"]["low"] > 0


def test_aa_placebo_did_on_weekly_baseline():
    spec = make_spec(design="did", metrics=("csat",))
    cells = make_cells(seed=1)
    flat = health.check_aa(cells, make_weekly(seed=3), spec)
    early = health.check_aa(cells, make_weekly(step=0.15, seed=3), spec)
    assert flat.status == "ok", flat.message
    assert early.status == "alert", early.message
    assert early.data["metrics"]["csat"]["difference"] == pytest.approx(0.15, abs=0.04)
    assert early.data["metrics"]["csat"]["low"] > 0
    # a drifting gap shows too: second half minus first half of 0.08/week over 8 weeks = 4 x 0.08
    drift = health.check_aa(cells, make_weekly(trend=0.08, seed=3), spec)
    assert drift.status != "ok"
    assert drift.data["metrics"]["csat"]["difference"] == pytest.approx(0.32, abs=0.06)


# ------------------------------------------------------------------------------- entry point


def test_check_health_on_prepared_pilot_is_json_able_and_ok_when_healthy():
    spec = make_spec()
    prepared = SimpleNamespace(cells=make_cells(seed=8), weekly=make_weekly(seed=8), warnings=[])
    checks = health.check_health(spec, prepared)
    names = [c.name for c in checks]
    assert names == ["srm_units", "srm_interactions", "response_rate", "contamination", "balance", "aa"]
    for c in checks:
        assert c.status in ("ok", "warn", "alert")
        assert c.message.endswith(".")
        json.dumps(c.to_dict())
    assert by_name(checks)["srm_units"].status == "ok"
    assert by_name(checks)["contamination"].status == "ok"
    did = health.check_health(make_spec(design="did"), prepared)
    assert "parallel_trends" in [c.name for c in did]


# ---------------------------------------------------- on prepared data (data layer + simulator)


def _prepared(tmp_path, design="ab", **cfg):
    import dataclasses
    import datetime as dt

    from qmsprint.data import prepare
    from qmsprint.simulate import SimConfig, simulate, write_simulation

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


def test_check_health_on_a_prepared_simulated_pilot(tmp_path):
    spec, prepared = _prepared(tmp_path, response_rate=(0.2, 0.12))
    checks = by_name(health.check_health(spec, prepared))
    assert checks["srm_units"].status == "ok", checks["srm_units"].message
    assert checks["srm_interactions"].status == "ok", checks["srm_interactions"].message
    assert checks["contamination"].status == "ok", checks["contamination"].message
    assert checks["aa"].status == "ok", checks["aa"].message
    # the simulator's treated agents answer surveys at 12% instead of 20% during the pilot
    rr = checks["response_rate"]
    assert rr.status == "alert", rr.message
    assert rr.data["csat"]["difference_pp"] == pytest.approx(-8.0, abs=1.5)


def test_check_health_on_a_prepared_simulated_did(tmp_path):
    spec, prepared = _prepared(tmp_path, design="did", n_teams=10, did_group_offset=0.0)
    checks = by_name(health.check_health(spec, prepared))
    assert {"parallel_trends", "aa", "balance"} <= set(checks)
    assert checks["parallel_trends"].status in ("ok", "warn"), checks["parallel_trends"].message
    series = checks["parallel_trends"].data["metrics"]["csat"]
    assert len(series["weeks"]) == 4
    assert checks["srm_units"].data["treatment"] == 5


@pytest.mark.slow
def test_full_model_aa_option(tmp_path):
    pytest.importorskip("qmsprint.experiments")
    spec, prepared = _prepared(tmp_path)
    spec = spec.model_copy(
        update={
            "metrics": [spec.metrics[1]],
            "sampler": spec.sampler.model_copy(update={"draws": 300, "tune": 300, "chains": 2}),
        }
    )
    checks = by_name(health.check_health(spec, prepared, full_aa=True))
    aa, fast = checks["aa_model"], checks["aa"].data["metrics"]["fcr"]
    assert set(aa.data["metrics"]) == {"fcr"}
    # the model and the fast cluster-level comparison measure the same baseline difference
    assert aa.data["metrics"]["fcr"]["mean"] == pytest.approx(fast["difference"], abs=fast["se"])
    assert aa.status == checks["aa"].status == "ok", aa.message
