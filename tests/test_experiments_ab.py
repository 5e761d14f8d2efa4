"""estimate() on A/B cells: clear errors, plumbing, non-convergence flagged, both parametrisation regimes."""

import math

import numpy as np
import pandas as pd
import pytest
from models_cellsim import make_cells, spec_for

from qmsprint.errors import DataError, SpecError
from qmsprint.experiments import estimate
from qmsprint.models import choose_centred
from qmsprint.results import MetricResult


@pytest.fixture(scope="module")
def small_cells():
    cells, truth, _ = make_cells("ab", n_agents=20, per_agent=50, seed=5)
    return cells, truth


def test_missing_columns_and_arms_are_all_reported(small_cells):
    cells, _ = small_cells
    bad = cells.drop(columns=["fcr_yes", "csat_3"]).assign(arm="other")
    with pytest.raises(DataError) as err:
        estimate(spec_for("ab"), bad)
    where = [p.where for p in err.value.problems]
    assert "fcr_yes" in where and "csat_3" in where
    assert sum("arm" == w for w in where) == 2  # control and treatment both missing


def test_inconsistent_counts_and_negative_values_are_reported(small_cells):
    cells, _ = small_cells
    bad = cells.copy()
    bad.loc[0, "csat_n"] += 1
    bad.loc[1, "fcr_yes"] = -1
    with pytest.raises(DataError) as err:
        estimate(spec_for("ab", metrics=("csat", "fcr")), bad)
    text = str(err.value)
    assert "csat_n" in text and "fcr_yes" in text


def test_did_without_baseline_is_a_data_error(small_cells):
    cells, _ = small_cells
    with pytest.raises(DataError, match="baseline"):
        estimate(spec_for("did", metrics=("fcr",)), cells)


def test_bad_priors_are_spec_errors(small_cells):
    cells, _ = small_cells
    with pytest.raises(SpecError) as err:
        estimate(spec_for("ab", metrics=("fcr",)), cells, prior={"csat": (0, 1), "fcr": (0, -1)})
    assert len(err.value.problems) == 2
    with pytest.raises(SpecError, match="unknown prior"):
        estimate(spec_for("ab", metrics=("fcr",), priors={"slope_sd": 1.0}), cells)


def test_parametrisation_rule():
    assert choose_centred("binomial", np.full(20, 50 * 0.21)) is False  # 20 agents x 50: non-centred
    assert choose_centred("binomial", np.full(500, 20_000 * 0.21)) is True  # 500 x 20,000: centred
    assert choose_centred("ordinal", np.array([])) is False


def test_tiny_draws_are_flagged_not_converged(small_cells):
    cells, _ = small_cells
    spec = spec_for("ab", metrics=("fcr",), draws=50, tune=50, chains=1)
    (res,) = estimate(spec, cells)
    assert isinstance(res, MetricResult)
    assert res.diagnostics.converged is False
    assert any("ESS" in p for p in res.diagnostics.problems)
    assert any("convergence" in n for n in res.notes)
    assert res.draws.shape == (50,)


def _check_result(r: MetricResult, spec, truth_m):
    assert r.design == "ab"
    assert r.headline is r.effects[0] or r.headline == r.effects[0]
    assert r.headline.hdi_low <= r.headline.mean <= r.headline.hdi_high
    assert 0 <= r.headline.prob_improve <= 1 and r.headline.expected_loss >= 0
    assert not math.isnan(r.headline.prob_meaningful)
    assert np.isclose(np.mean(r.draws), r.headline.mean)
    assert set(r.n_units) == {"checklist", "behavior"} and all(v > 0 for v in r.n_units.values())
    assert r.latent_effect is not None and r.latent_effect[1] > 0
    assert r.ppc["labels"] and len(r.ppc["observed"]) == len(r.ppc["replicated_mean"])
    # the posterior predictive reproduces the observed shares / rates
    obs, lo, hi = (np.array(r.ppc[k]) for k in ("observed", "replicated_low", "replicated_high"))
    assert np.mean((obs >= lo) & (obs <= hi)) >= 0.8
    for e in r.effects[1:]:
        assert e.scale in truth_m
    if r.metric in ("csat", "nps"):
        assert set(r.response_rates) == {"checklist", "behavior"}
        assert all(abs(sum(v.values()) - 1) < 1e-9 for v in r.level_shares.values())
    assert {(s.segment, s.segment_value) for s in r.segments} == {("channel", "voice"), ("channel", "chat")}
    assert r.idata is not None and f"{r.metric}_effect" in r.idata.posterior


@pytest.mark.slow
def test_small_pilot_all_metrics_converge_non_centred(small_cells):
    """20 agents x 50 interactions: non-centred agent effects, every metric meets the bars."""
    cells, truth = small_cells
    spec = spec_for("ab", draws=1000, tune=1000, chains=4, segments=["channel"])
    seen = []
    res = estimate(spec, cells, progress=lambda m, f: seen.append(f))
    assert [r.metric for r in res] == [m.name for m in spec.metrics]
    assert seen[-1] == 1.0 and seen == sorted(seen)
    for r in res:
        assert r.diagnostics.converged, (r.metric, r.diagnostics.problems)
        assert any("agent effects non-centred" in n for n in r.notes)
        _check_result(r, spec, truth[r.metric])


@pytest.mark.slow
def test_large_pilot_converges_centred():
    """500 agents x 20,000 interactions (10M interactions as cells): centred agent effects converge."""
    cells, truth, _ = make_cells("ab", n_agents=500, per_agent=20_000, seed=9, channels=("voice",), channel_shift=(0,))
    assert cells["n"].sum() == 10_000_000
    # centred agent effects mix fast: 4 x 500 draws are enough for ESS >= 400 (a marginal R-hat
    # miss is extended, as in a run)
    spec = spec_for("ab", metrics=("csat", "fcr", "handle_time"), draws=500, tune=500, chains=4, time_budget_s=300)
    for r in estimate(spec, cells):
        assert r.diagnostics.converged, (r.metric, r.diagnostics.problems)
        assert any("agent effects centred" in n for n in r.notes)
        t = truth[r.metric][r.headline.scale]
        width = r.headline.hdi_high - r.headline.hdi_low
        assert abs(r.headline.mean - t) < width  # sanity; coverage is tested in test_experiments_recovery


def test_prior_argument_is_used_and_noted(small_cells, monkeypatch):
    import qmsprint.experiments.core as core

    cells, _ = small_cells
    captured = {}
    real = core.prepare_metric

    def spy(spec, df, metric, design, prior):
        p = real(spec, df, metric, design, prior)
        captured[metric] = p
        return p

    monkeypatch.setattr(core, "prepare_metric", spy)
    monkeypatch.setattr(core, "fit_until_converged", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("stop")))
    with pytest.raises(RuntimeError):
        estimate(spec_for("ab", metrics=("fcr",)), cells, prior={"fcr": (0.2, 0.05)})
    p = captured["fcr"]
    assert p.block.effect_prior == (0.2, 0.05)
    assert p.block.data()["binomial__effect_sd"] == 0.05
    assert any("earlier run" in n for n in p.notes)


def test_reweighting_adds_terms_and_note(small_cells):
    from qmsprint.experiments import DESIGNS
    from qmsprint.experiments.prepare import prepare_metric

    cells, _ = small_cells
    spec = spec_for("ab", metrics=("csat", "fcr"), reweight_by=["channel"])
    pc = prepare_metric(spec, cells, "csat", DESIGNS["ab"], None)
    pf = prepare_metric(spec, cells, "fcr", DESIGNS["ab"], None)
    assert pc.block.design.X.shape[1] == 1 and pf.block.design.X.shape[1] == 0
    assert any("post-stratified" in n for n in pc.notes)
    np.testing.assert_allclose(pc.weights.sum(), cells["n"].sum())
    assert isinstance(pc.eff, pd.DataFrame)


def test_designs_are_typed_and_registered_by_name():
    from qmsprint.experiments import DESIGNS, Design, get_design

    assert {"ab", "did"} <= set(DESIGNS)
    for name in ("ab", "did"):
        design = DESIGNS[name]
        assert design.KIND == name and isinstance(design.PERIODS, tuple)
        assert isinstance(design.OPTIONAL_PERIODS, tuple)
        for attr in ("flags", "population", "arm_groups"):
            assert callable(getattr(design, attr))
    assert get_design("did").PERIODS == ("baseline", "pilot")
    assert get_design("ab").OPTIONAL_PERIODS == ("baseline",)
    assert Design is not None
    with pytest.raises(KeyError, match="expected one of ab, did"):
        get_design("rdd")
