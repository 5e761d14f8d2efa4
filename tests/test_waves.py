"""Staggered roll-outs (design = "waves") and before/after pilots (design = "prepost"), end to end with sampling.

Recovery: on simulated wave pilots whose effect grows over the first weeks, qmsprint's 90% intervals
cover the true effect (overall, per wave, per week since the switch) at close to the nominal rate,
its errors average out, and the event-time profile rises; a naive two-way fixed-effects estimate
(OLS on team x week means with team and week dummies) on the same data is biased towards zero, as
Goodman-Bacon (2021) shows it must be when effects change over time. ``bench/bench_waves.py`` runs
more pilots. Tolerances come from binomial and normal error with R pilots (see each assertion).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from streamlit.testing.v1 import AppTest

from qmsprint import api
from qmsprint.data import prepare
from qmsprint.experiments import estimate
from qmsprint.models import many_pilots
from qmsprint.present.rollout import NO_CONTROL_CAVEAT
from qmsprint.simulate import SimConfig, simulate
from qmsprint.spec import parse_spec
from qmsprint.store import load_run, write_simulation
from qmsprint.store.alerts import append_alerts, append_check
from qmsprint.ui.config import ENV_MODE, ENV_RUN, ENV_RUNS_DIR

ROOT = Path(__file__).resolve().parents[1]
R = 6
WAVE_PILOT = dict(
    design="waves",
    n_agents=32,
    n_teams=8,
    interactions_per_agent=360,
    weeks=9,
    baseline_weeks=3,
    wave_weeks=(0, 3, 6),
    effect_ramp_weeks=6,
    fcr_effect=0.6,
    treated_share=0.75,
    response_rate=(1.0, 1.0),
    include_nps=False,
)


def twfe(frame: pd.DataFrame, metric: str = "fcr") -> float:
    """Naive two-way fixed effects: OLS of team x week means on the share on the new program, team and week dummies."""
    f = frame.dropna(subset=[metric]).copy()
    f["week"] = f["timestamp"].dt.to_period("W").dt.start_time.astype(str)
    f["y"] = 100 * f[metric].astype(float)
    f["d"] = (f["arm"] == "behavior").astype(float)
    g = f.groupby(["team", "week"]).agg(y=("y", "mean"), d=("d", "mean")).reset_index()
    X = np.column_stack(
        [
            g["d"].to_numpy(),
            pd.get_dummies(g["team"]).to_numpy(float),
            pd.get_dummies(g["week"], drop_first=True).to_numpy(float),
        ]
    )
    return float(np.linalg.lstsq(X, g["y"].to_numpy(), rcond=None)[0][0])


def spec_for(design: str, path: Path, truth: dict, name: str = "waves", **extra):
    raw = {
        "name": name,
        "design": design,
        "unit": "team",
        "arms": {"control": "checklist", "treatment": "behavior"},
        "data": {"source": str(path)},
        "periods": {
            k: {"start": dt.date.fromisoformat(v["start"]), "end": dt.date.fromisoformat(v["end"])}
            for k, v in truth["periods"].items()
            if v
        },
        "metrics": [{"name": "fcr", "min_effect": 2.0}],
        "model": {"hdi_prob": 0.9},
        "sampler": {"draws": 500, "tune": 500, "chains": 2, "seed": 5},
        **extra,
    }
    return parse_spec(raw, base_dir=path.parent)


def covers(e, truth: float) -> bool:
    return e.hdi_low <= truth <= e.hdi_high


@pytest.mark.slow
def test_wave_pilots_recover_the_truth_where_two_way_fixed_effects_is_biased(tmp_path):
    errors, naive, hits, parts, ramps = [], [], 0, [0, 0], []
    for rep in range(R):
        sim = simulate(SimConfig(**WAVE_PILOT, seed=100 + rep))
        truth = sim.truth
        path = write_simulation(sim, tmp_path / f"w{rep}.parquet")[0]
        spec = spec_for("waves", path, truth, waves={"event_weeks": 9})
        with many_pilots():  # one compile for the R pilots of one structure
            (r,) = estimate(spec, prepare(spec).cells)
        t = truth["effects"]["fcr"]["rate"]
        hits += covers(r.headline, t)
        errors.append(r.headline.mean - t)
        naive.append(twfe(sim.frame) - t)
        by = {(e.segment, e.segment_value): e for e in r.event_effects}
        for w in truth["waves"]:
            parts[0] += covers(by[("wave", w["date"])], w["effects"]["fcr"]["rate"])
            parts[1] += 1
        for e, eff in truth["by_event_week"].items():
            parts[0] += covers(by[("weeks_since_switch", str(e))], eff["fcr"]["rate"])
            parts[1] += 1
        ramps.append((by[("weeks_since_switch", "0")].mean, np.mean([by[("weeks_since_switch", str(e))].mean
                                                                     for e in range(5, 9)])))  # fmt: skip
    # overall intervals: at least the 0.5% quantile of Binomial(R, 0.9) cover
    assert hits >= stats.binom.ppf(0.005, R, 0.9), (hits, errors)
    # by wave and by week since the switch (correlated within a pilot): pooled coverage 80-100%
    assert parts[0] >= 0.8 * parts[1], parts
    # unbiased: the mean error is within 3 standard errors of 0, the naive TWFE's is not and is several times larger
    err, bad = np.asarray(errors), np.asarray(naive)
    se = err.std(ddof=1) / np.sqrt(R)
    assert abs(err.mean()) < 3 * se + 0.5, (err, bad)
    assert bad.mean() < -3 * bad.std(ddof=1) / np.sqrt(R) and bad.mean() < -1.5, (err, bad)
    assert abs(bad.mean()) > 2 * abs(err.mean()), (err, bad)
    # the effect grows over the first weeks, and the estimates show it
    first, later = np.asarray(ramps).T
    assert (first < later).sum() >= R - 1 and later.mean() - first.mean() > 2.0, ramps


def _app(monkeypatch, run: Path) -> AppTest:
    monkeypatch.setenv(ENV_MODE, "workbench")
    monkeypatch.setenv(ENV_RUN, str(run))
    monkeypatch.setenv(ENV_RUNS_DIR, str(run.parent))
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)


def _texts(at: AppTest) -> str:
    kinds = ("title", "subheader", "markdown", "caption", "warning", "info")
    return "\n".join(str(e.value) for k in kinds for e in getattr(at, k)).replace("\\", "")


@pytest.mark.slow
def test_a_wave_run_shows_the_event_time_plot_in_report_and_app(tmp_path, monkeypatch):
    cfg = {**WAVE_PILOT, "n_agents": 24, "n_teams": 6, "interactions_per_agent": 160, "wave_weeks": (0, 3)}
    sim = simulate(SimConfig(**cfg, seed=3))
    path = write_simulation(sim, tmp_path / "w.parquet")[0]
    spec = spec_for("waves", path, sim.truth, sampler={"draws": 200, "tune": 200, "chains": 2, "seed": 1})
    out = api.run_pilot(spec, runs_dir=tmp_path / "runs", diagnosis=False)
    run = load_run(out.path)
    (r,) = run.results
    assert {e.segment for e in r.event_effects} == {"wave", "weeks_since_switch"}  # read back from results.json
    assert {h.name for h in run.health} >= {"waves", "pre_trends", "srm_interactions", "response_rate"}
    effects = run.effects
    assert set(effects["segment"].dropna()) == {"wave", "weeks_since_switch"}  # effects.csv carries them too
    html = Path(api.report(out.path)).read_text(encoding="utf-8")
    assert 'id="rollout"' in html and "effect by weeks since each unit" in html and "Pre-trends per wave" in html
    assert "staggered roll-out in waves" in html
    # the app: the roll-out page draws the event-time plot; the monitoring page the history beside the runs
    at = _app(monkeypatch, out.path).run()
    at.switch_page("qmsprint/ui/pages/rollout.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.get("plotly_chart")) == 2 and "by week since the switch" in _texts(at)
    at.switch_page("qmsprint/ui/pages/monitor.py").run()
    assert not at.exception and "No monitoring history" in _texts(at)
    effect = {"fcr": {"mean": 5.0, "hdi_low": 1.0, "hdi_high": 9.0, "unit": "pp", "prob_improve": 0.99,
                      "min_effect": 2.0, "better": "higher"}}  # fmt: skip
    for k in (1, 2):
        append_check(out.path.parent, {"pilot": "waves", "check": k, "time": f"2026-03-0{k}T08:00:00",
                                       "estimated": True, "effects": effect, "data_through": f"2026-03-0{k}",
                                       "conditions": [{"key": "srm", "kind": "srm", "severity": "alert",
                                                       "message": "Interactions split 60/40."}]})  # fmt: skip
    append_alerts(out.path.parent, [{"pilot": "waves", "check": 1, "time": "2026-03-01T08:00:00", "event": "raised",
                                     "kind": "srm", "key": "srm", "severity": "alert",
                                     "message": "Interactions split 60/40."}])  # fmt: skip
    at = _app(monkeypatch, out.path).run()
    at.switch_page("qmsprint/ui/pages/monitor.py").run()
    assert not at.exception, [e.value for e in at.exception]
    text = _texts(at)
    assert "2 checks" in text and "Sample ratio mismatch" in text and len(at.get("plotly_chart")) == 1
    assert at.dataframe[0].value["message"].tolist() == ["Interactions split 60/40."]


@pytest.mark.slow
def test_before_after_pilot_estimates_the_shift_and_says_there_is_no_control_group(tmp_path):
    cfg = dict(design="prepost", n_agents=24, n_teams=4, interactions_per_agent=240, weeks=8, baseline_weeks=16,
               trend_per_week=0.03, season_amplitude=0.15, fcr_effect=0.6, response_rate=(1.0, 1.0),
               include_nps=False, seed=302)  # fmt: skip
    sim = simulate(SimConfig(**cfg))
    path = write_simulation(sim, tmp_path / "p.parquet")[0]
    spec = spec_for("prepost", path, sim.truth, name="before-after", prepost={"season_weeks": 13})
    out = api.run_pilot(spec, runs_dir=tmp_path / "runs", diagnosis=False)
    (r,) = out.results
    t = sim.truth["effects"]["fcr"]["rate"]
    assert covers(r.headline, t), (r.headline, t)
    f = sim.frame.dropna(subset=["fcr"])
    naive = 100 * (f.loc[f["arm"] == "behavior", "fcr"].mean() - f.loc[f["arm"] == "checklist", "fcr"].mean())
    assert naive - t > 3.0 and abs(r.headline.mean - t) < 0.5 * (naive - t)  # the trend is taken out
    # the caveat on every output; the call at most extend
    rec = out.recommendation
    assert rec.action in ("extend", "none") and rec.caveats[0] == NO_CONTROL_CAVEAT
    assert any("no control group" in n for n in r.notes)
    assert "No control group" in out.summary()
    run = load_run(out.path)
    assert run.recommendation.caveats[0] == NO_CONTROL_CAVEAT
    assert any(h.name == "no_control" and h.status == "warn" for h in run.health)
    html = Path(api.report(out.path)).read_text(encoding="utf-8")
    assert "No control group" in html and "before/after without a control group" in html
