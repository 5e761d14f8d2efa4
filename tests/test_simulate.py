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


# --------------------------------------------------------------------------- messy pilots (issue 14)
# Defaults reproduce the simulator's earlier output bit for bit; each option changes what it says.

# digest of the frame and two truths, computed before the messy-pilot options existed
_PINNED = [
    (
        {"n_agents": 12, "n_teams": 3, "interactions_per_agent": 30, "seed": 7},
        "54d98e29cde29ac6178fc014da96518b3350d6d7880325d723a18fcb62b1f6ea",
        0.12658974428184422,
        10.482714735374088,
    ),
    (
        {"design": "did", "n_agents": 12, "n_teams": 4, "interactions_per_agent": 30, "seed": 8},
        "7ecaa7e385a309cdee4e597a5a9a4e1a87a8516f00fa3c8c3642eb53ca90fe2f",
        0.12635900801511246,
        11.23841009158707,
    ),
    (
        {"unit": "team", "n_agents": 12, "n_teams": 4, "interactions_per_agent": 30, "seed": 9},
        "9622fd8cfad66930aa38242d919b0c12854fb68f74539ba57e93ac58048faef2",
        0.1215500627227728,
        11.599357167142784,
    ),
]

# a world where every interaction of a cell shares one latent level: the cell's shocks only
_FLAT = {
    "agent_sd": 0.0,
    "team_sd": 0.0,
    "site_sd": 0.0,
    "items": (),
    "behavior_weight": 0.0,
    "season_amplitude": 0.0,
    "channel_mix": (1, 0, 0, 0),
    "reason_mix": (0, 0, 0, 1, 0, 0),  # 'moving': latent offset 0, handle-time factor 1.1
    "response_rate": (1.0, 1.0),
    "csat_effect": 0.0,
    "nps_effect": 0.0,
    "fcr_effect": 0.0,
    "repeat_effect": 0.0,
    "handle_time_effect": 0.0,
}
PILOT = pd.Timestamp("2026-03-02")


def _digest(frame: pd.DataFrame) -> str:
    import hashlib

    return hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).values.tobytes()).hexdigest()


@pytest.mark.parametrize(("kw", "digest", "csat", "ht"), _PINNED)
def test_defaults_reproduce_the_earlier_output_bit_for_bit(kw, digest, csat, ht):
    sim = simulate(SimConfig(**kw))
    assert _digest(sim.frame) == digest
    assert sim.truth["effects"]["csat"]["mean"] == csat and sim.truth["effects"]["handle_time"]["mean"] == ht
    # the new options at their defaults, spelled out, change nothing
    explicit = SimConfig(
        **kw,
        team_period_sd=0.0,
        agent_sd_by_metric={},
        ht_dist="lognormal",
        ht_shift=0.0,
        response_depends_on_outcome=False,
    )
    assert _digest(simulate(explicit).frame) == digest
    assert sim.truth["shocks"] == {} and sim.truth["handle_time_model"]["dist"] == "lognormal"


@pytest.mark.parametrize("name", ["sample_ab", "sample_did"])
def test_bundled_samples_regenerate_identically(name):
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "data"
    spec = importlib.util.spec_from_file_location("make_sample", root / "make_sample.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    sim = simulate(mod.AB if name == "sample_ab" else mod.DID)
    pd.testing.assert_frame_equal(pd.read_parquet(root / f"{name}.parquet"), sim.frame)
    saved = json.loads((root / f"{name}.truth.json").read_text())
    saved.pop("config")
    assert saved == json.loads(json.dumps(sim.truth))


def _csat_level(mean_csat: np.ndarray, cuts) -> np.ndarray:
    """Invert the expected CSAT of an ordered logit (scale 1-5) to the latent level."""
    grid = np.linspace(-5, 5, 4001)
    m = 1 + expit(grid[:, None] - np.asarray(cuts)[None, :]).sum(1)
    return np.interp(mean_csat, m, grid)


@pytest.mark.parametrize(
    ("option", "sd", "cell", "kind"),
    [
        ("team_period_sd", 0.3, ["team", "period"], "team_period"),
        ("site_period_sd", 0.3, ["site", "period"], "site_period"),
        ("agent_period_sd", 0.5, ["agent_id", "period"], "agent_period"),
        ("team_week_sd", 0.5, ["team", "week"], "team_week"),
    ],
)
def test_unit_period_shocks_move_each_cells_latent_level(option, sd, cell, kind):
    cfg = SimConfig(n_agents=80, n_teams=40, n_sites=20, interactions_per_agent=400, seed=21, **_FLAT, **{option: sd})
    sim = simulate(cfg)
    f = sim.frame.assign(
        period=np.where(sim.frame["timestamp"] >= PILOT, "pilot", "baseline"),
        week=((sim.frame["timestamp"] - pd.Timestamp("2026-01-05")).dt.days // 7),
    )
    g = f.groupby(cell)["csat"].mean()
    level = pd.Series(_csat_level(g.to_numpy(float), cfg.csat_cutpoints), index=g.index)
    shocks = sim.truth["shocks"][kind]
    if kind == "team_week":
        real = pd.Series([shocks[t][w] for t, w in g.index], index=g.index)
        drawn = np.concatenate([np.asarray(v) for v in shocks.values()])
    else:
        real = pd.Series([shocks[u][p] for u, p in g.index], index=g.index)
        drawn = np.array([[v["baseline"], v["pilot"]] for v in shocks.values()]).ravel()
    # each cell's latent level is its shock (plus sampling noise) ...
    assert np.corrcoef(level, real)[0, 1] > 0.85
    assert abs(np.mean(level - real)) < 0.05
    # ... and the shocks have the configured sd, within sampling error of the sd estimate
    assert abs(drawn.std(ddof=1) - sd) < 4 * sd / np.sqrt(2 * (len(drawn) - 1))
    assert list(sim.truth["shocks"]) == [kind] and sim.truth["latent"][option] == sd


def _f_ratio(frame: pd.DataFrame, col: str, by, transform=None) -> float:
    """Between-group variance of group means over the variance expected from within-group noise."""
    y = frame[col].astype(float)
    y = transform(y) if transform else y
    g = y.groupby(frame[by] if isinstance(by, str) else by)
    means, n = g.mean(), g.count()
    return float(means.var(ddof=1) / (g.var(ddof=1) / n).mean())


def test_without_shocks_cells_differ_only_by_noise_and_shocks_leave_the_effect():
    base = {**_FLAT, "n_agents": 80, "n_teams": 40, "interactions_per_agent": 150, "seed": 21}
    for sd, lo, hi in ((0.0, 0, 1.5), (0.3, 5, np.inf)):
        f = simulate(SimConfig(**base, team_period_sd=sd)).frame
        cell = f["team"] + np.where(f["timestamp"] >= PILOT, "/pilot", "/baseline")
        assert lo < _f_ratio(f, "csat", cell) < hi  # F ~ 1 +- 0.16 when the cells differ by noise only

    # the truth averages the effect over the realised pilot-period shocks of the population
    cfg = SimConfig(**{**base, "csat_effect": 0.4, "team_period_sd": 0.5})
    sim = simulate(cfg)
    pilot = sim.frame[sim.frame["timestamp"] >= PILOT]
    shock = pilot["team"].map({t: v["pilot"] for t, v in sim.truth["shocks"]["team_period"].items()})
    cuts = np.asarray(cfg.csat_cutpoints)
    s = shock.to_numpy(float)[:, None]
    expect = (expit(s + 0.4 - cuts) - expit(s - cuts)).sum(1).mean()
    assert sim.truth["effects"]["csat"]["mean"] == pytest.approx(expect, rel=1e-12)
    assert sim.truth["latent"]["csat_effect"] == 0.4


def test_handle_time_shocks_and_team_effects_on_the_log_scale():
    cfg = SimConfig(
        **_FLAT,
        n_agents=60,
        n_teams=30,
        interactions_per_agent=150,
        agent_sd_by_metric={"handle_time": 0.0},
        ht_team_sd=0.3,
        ht_team_period_sd=0.2,
        seed=4,
    )
    sim = simulate(cfg)
    f = sim.frame.assign(period=np.where(sim.frame["timestamp"] >= PILOT, "pilot", "baseline"))
    lv = np.log(f["handle_time"]).groupby([f["team"], f["period"]]).mean() - np.log(360 * 1.1)
    sh = sim.truth["shocks"]
    real = np.array([sh["ht_team"][t] + sh["ht_team_period"][t][p] for t, p in lv.index])
    assert np.corrcoef(lv, real)[0, 1] > 0.98 and abs(np.mean(lv - real)) < 0.02
    # the experience predictor has no shocks: CSAT and the rest are untouched
    assert set(sh) == {"ht_team", "ht_team_period"}


def test_handle_time_without_agent_variation():
    kw = {"n_agents": 80, "n_teams": 4, "interactions_per_agent": 300, "seed": 12}
    flat = simulate(SimConfig(**kw, agent_sd_by_metric={"handle_time": 0.0}, item_agent_loading=0.0))
    default = simulate(SimConfig(**kw))
    f_flat = _f_ratio(flat.frame, "handle_time", "agent_id", np.log)
    assert f_flat < 1.5  # F ~ 1 +- 0.16: no agent variance beyond noise
    assert _f_ratio(default.frame, "handle_time", "agent_id", np.log) > 5
    # CSAT keeps its agent variation; the truth says what was simulated
    assert _f_ratio(flat.frame.dropna(subset=["csat"]), "csat", "agent_id") > 2
    assert flat.truth["latent"]["agent_sd_by_metric"] == {
        "csat": 0.35,
        "nps": 0.35,
        "fcr": 0.35,
        "repeat_contact": 0.35,
        "handle_time": 0.0,
    }


def test_a_survey_metric_without_agent_variation():
    kw = {"n_agents": 60, "n_teams": 3, "team_sd": 0.0, "site_sd": 0.0, "response_rate": (1.0, 1.0)}
    kw |= {"interactions_per_agent": 300, "item_agent_loading": 0.0, "csat_effect": 0.0, "seed": 13}
    flat = simulate(SimConfig(**kw, agent_sd_by_metric={"csat": 0.0}))
    assert _f_ratio(flat.frame, "csat", "agent_id") < 1.5
    assert _f_ratio(simulate(SimConfig(**kw)).frame, "csat", "agent_id") > 5
    assert _f_ratio(flat.frame, "nps", "agent_id") > 3  # NPS keeps the agent effect


@pytest.mark.parametrize("dist", ["lognormal", "gamma", "gamma_shift", "mixture"])
def test_handle_time_families_match_their_truth(dist):
    from qmsprint.simulate.handle_time import mean_factor

    flat = {k: v for k, v in _FLAT.items() if k != "handle_time_effect"}
    cfg = SimConfig(
        **flat,
        n_agents=40,
        interactions_per_agent=400,
        agent_sd_by_metric={"handle_time": 0.0},
        handle_time_effect=0.2,
        ht_dist=dist,
        ht_shape=2.5,
        seed=31,
    )
    sim = simulate(cfg)
    t = sim.truth
    shift = 40.0 if dist == "gamma_shift" else 0.0
    er = {"lognormal": np.exp(0.125), "mixture": np.exp(0.125) * (0.8 + 0.2 * 3.0)}.get(dist, np.exp(0.125))
    assert mean_factor(cfg) == pytest.approx(er)
    base = 360 * 1.1  # every interaction: voice, 'moving', no items, no agent term
    assert t["control"]["handle_time"]["mean"] == pytest.approx(shift + base * er, rel=1e-12)
    assert t["effects"]["handle_time"]["mean"] == pytest.approx(base * er * (np.exp(0.2) - 1), rel=1e-12)
    assert t["handle_time_model"] == {
        "dist": dist,
        "shift_s": shift,
        "shape": 2.5 if dist.startswith("gamma") else None,
        "mixture": {"weight": 0.2, "ratio": 3.0, "sd": 0.5} if dist == "mixture" else None,
        "mean_factor": pytest.approx(er),
    }
    # sampled handle times have those means: control and treated arms in the pilot
    p = sim.frame[sim.frame["timestamp"] >= PILOT]
    for arm, key in (("checklist", "control"), ("behavior", "treatment")):
        ht = p.loc[p["arm"] == arm, "handle_time"]
        assert abs(ht.mean() - t[key]["handle_time"]["mean"]) < 4 * ht.std() / np.sqrt(len(ht)), (arm, dist)
    ht = sim.frame["handle_time"]
    cv = (ht - shift).std() / (ht - shift).mean()
    expected_cv = {"lognormal": np.sqrt(np.exp(0.25) - 1), "gamma": 1 / np.sqrt(2.5), "gamma_shift": 1 / np.sqrt(2.5)}
    if dist in expected_cv:
        assert cv == pytest.approx(expected_cv[dist], rel=0.06)
    assert ht.min() >= shift and (ht > 0).all()


def test_team_and_site_randomization_with_few_clusters():
    kw = {"n_agents": 48, "interactions_per_agent": 20, "seed": 3}
    for n_teams, per_arm in ((4, 2), (6, 3)):
        sim = simulate(SimConfig(**kw, n_teams=n_teams, unit="team"))
        f = sim.frame
        assert (f.groupby("team")["arm"].nunique() == 1).all()
        assert f.groupby("arm")["team"].nunique().to_dict() == {"behavior": per_arm, "checklist": per_arm}
        assert sim.truth["unit"] == "team" and len(sim.truth["treated_units"]) == per_arm
    for design in ("ab", "did"):
        sim = simulate(SimConfig(**kw, design=design, n_teams=8, n_sites=4, unit="site"))
        f = sim.frame
        assert (f.groupby("site")["arm"].nunique() == 1).all() and (f.groupby("site")["team"].nunique() == 2).all()
        treated = set(f.loc[f["arm"] == "behavior", "site"])
        assert treated == set(sim.truth["treated_units"]) and len(treated) == 2
        assert sim.truth["unit"] == "site"


def test_outcome_dependent_response_biases_the_respondents_not_the_truth():
    kw = {"n_agents": 60, "interactions_per_agent": 300, "seed": 17}
    mar = simulate(SimConfig(**kw))
    mnar = simulate(SimConfig(**kw, response_depends_on_outcome=True, response_outcome_slope=0.8))
    assert mar.truth["effects"] == mnar.truth["effects"] and mar.truth["control"] == mnar.truth["control"]
    for sim, biased in ((mar, False), (mnar, True)):
        rr = sim.truth["response_rates"]
        for period in ("baseline", "pilot"):
            for arm, all_mean in rr["csat_mean_all"][period].items():
                gap = rr["csat_mean_respondents"][period][arm] - all_mean
                assert (gap > 0.15) if biased else (abs(gap) < 0.06), (period, arm, gap)
    assert mnar.truth["response_rates"]["depends_on_outcome"] is True
    # the same draws: the observed CSAT of the biased survey is a subset of the same drawn values
    both = mar.frame["csat"].notna() & mnar.frame["csat"].notna()
    assert (mar.frame.loc[both, "csat"] == mnar.frame.loc[both, "csat"]).all()
    # respondents' CSAT is higher than with response at random (about 5 standard errors here)
    a, b = mar.frame["csat"].dropna(), mnar.frame["csat"].dropna()
    assert b.mean() - a.mean() > 5 * np.sqrt(a.var() / len(a) + b.var() / len(b))


def test_messy_options_are_validated_all_at_once():
    with pytest.raises(ValueError) as err:
        SimConfig(
            unit="site",
            n_sites=1,
            ht_dist="weibull",
            agent_sd_by_metric={"aht": 0.1},
            team_period_sd=-1,
            ht_shape=0,
            ht_mix_weight=2,
        )
    msg = str(err.value)
    for part in ("unit='site'", "weibull", "'aht'", "team_period_sd", "ht_shape", "ht_mix_weight"):
        assert part in msg
    with pytest.raises(ValueError, match="n_teams >= 2"):
        SimConfig(design="did", n_agents=10, n_teams=1)
    cfg = SimConfig(agent_sd_by_metric={"handle_time": 0.0, "csat": 0.2})
    assert cfg.agent_sd_by_metric == (("csat", 0.2), ("handle_time", 0.0)) and hash(cfg)
    assert cfg.agent_sd_for("nps") == cfg.agent_sd and cfg.agent_sd_for("handle_time") == 0.0


def test_messy_simulation_round_trips_through_the_truth_file(tmp_path):
    cfg = SimConfig(
        design="did",
        n_agents=24,
        n_teams=4,
        interactions_per_agent=20,
        team_period_sd=0.15,
        agent_period_sd=0.1,
        agent_sd_by_metric={"handle_time": 0.0},
        ht_dist="gamma_shift",
        response_depends_on_outcome=True,
        seed=2,
    )
    sim = simulate(cfg)
    write_simulation(sim, tmp_path / "m.parquet")
    saved = json.loads((tmp_path / "m.truth.json").read_text())
    assert saved["config"]["team_period_sd"] == 0.15 and saved["config"]["ht_dist"] == "gamma_shift"
    assert saved["config"]["agent_sd_by_metric"] == [["handle_time", 0.0]]
    assert set(saved["shocks"]) == {"team_period", "agent_period"}
    assert saved["handle_time_model"]["shift_s"] == 40.0
