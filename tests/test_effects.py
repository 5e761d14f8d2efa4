"""effects.py arithmetic on hand-made draws, against closed forms."""

import numpy as np
import pytest
from models_cellsim import spec_for
from scipy.special import logit

from qmsprint import effects as fx
from qmsprint import metrics


def test_summarize_closed_form_higher_is_better():
    c = np.array([1.0, 2.0, 3.0, 4.0])
    t = np.array([2.0, 2.0, 5.0, 3.0])  # diff 1, 0, 2, -1
    e = fx.summarize("csat", "mean", c, t, better="higher", threshold=1.0, hdi_prob=0.94)
    assert e.mean == pytest.approx(0.5)
    assert e.prob_improve == pytest.approx(0.5)  # 1 and 2 are > 0
    assert e.prob_meaningful == pytest.approx(0.5)  # 1 and 2 are >= 1
    assert e.expected_loss == pytest.approx(0.25)  # mean(max(0, -diff)) = 1/4
    assert e.control == pytest.approx(2.5) and e.treatment == pytest.approx(3.0)
    assert e.unit == "points" and e.scale == "mean" and e.segment is None


def test_summarize_lower_is_better_flips_direction():
    c = np.array([10.0, 10.0, 10.0, 10.0])
    t = np.array([8.0, 9.0, 11.0, 10.0])  # diff -2, -1, 1, 0 ; improvement 2, 1, -1, 0
    e = fx.summarize("repeat_contact", "rate", c, t, better="lower", threshold=1.5, hdi_prob=0.9)
    assert e.mean == pytest.approx(-0.5)
    assert e.prob_improve == pytest.approx(0.5)
    assert e.prob_meaningful == pytest.approx(0.25)
    assert e.expected_loss == pytest.approx(0.25)
    assert e.unit == "pp"


def test_summarize_relative_and_no_threshold():
    c = np.array([20.0, 40.0])
    t = np.array([25.0, 30.0])  # +25%, -25%
    e = fx.summarize("fcr", "relative", c, t, better="higher", threshold=None, hdi_prob=0.9, relative=True)
    assert e.mean == pytest.approx(0.0)
    assert np.isnan(e.prob_meaningful)
    assert e.expected_loss == pytest.approx(12.5)
    assert e.unit == "%"


def test_summarize_without_direction_gives_nan():
    e = fx.summarize("nps", "passives", np.zeros(10), np.ones(10), better=None, threshold=None, hdi_prob=0.9)
    assert np.isnan(e.prob_improve) and np.isnan(e.expected_loss) and e.mean == 1.0


def test_hdi_of_uniform_grid():
    x = np.linspace(0, 1, 10001)
    lo, hi = fx.hdi(x, 0.9)
    assert hi - lo == pytest.approx(0.9, abs=1e-3)


def test_binomial_levels_weighted_by_cells():
    base = np.tile(logit([0.2, 0.5]), (3, 1))
    delta = np.tile(logit([0.3, 0.6]) - logit([0.2, 0.5]), (3, 1))
    lv = fx.weighted_levels(fx.family_cells("binomial"), base, delta, np.array([1.0, 3.0]))
    np.testing.assert_allclose(lv["control"]["rate"], 100 * (0.2 * 0.25 + 0.5 * 0.75))
    np.testing.assert_allclose(lv["treatment"]["rate"], 100 * (0.3 * 0.25 + 0.6 * 0.75))


def test_ordinal_levels_csat_and_nps():
    cum = np.array([0.1, 0.3, 0.6, 0.8])  # shares .1 .2 .3 .2 .2
    cut = np.tile(logit(cum), (2, 1))
    spec = spec_for("ab")
    fn = fx.metric_cells(metrics.get("csat"), spec, {"cut": cut})
    lv = fx.weighted_levels(fn, np.zeros((2, 1)), np.zeros((2, 1)), np.ones(1))
    np.testing.assert_allclose(lv["control"]["mean"], 0.1 + 0.4 + 0.9 + 0.8 + 1.0)
    np.testing.assert_allclose(lv["control"]["top2box"], 40.0)
    shares = np.array([0.05] * 7 + [0.1, 0.1] + [0.22, 0.23])  # detractors .35 passives .2 promoters .45
    cut11 = np.tile(logit(np.cumsum(shares)[:-1]), (2, 1))
    fn = fx.metric_cells(metrics.get("nps"), spec, {"cut": cut11})
    lv = fx.weighted_levels(fn, np.zeros((2, 1)), np.zeros((2, 1)), [1.0])
    np.testing.assert_allclose(lv["control"]["nps"], 10.0)
    np.testing.assert_allclose(lv["control"]["promoters"], 45.0)
    np.testing.assert_allclose(lv["control"]["passives"], 20.0)
    np.testing.assert_allclose(lv["control"]["detractors"], 35.0)


def test_lognormal_mean_and_groups():
    sigma = np.array([0.5, 0.5])
    base = np.log(np.array([[100.0, 200.0], [100.0, 200.0]]))
    delta = np.full((2, 2), np.log(0.9))
    fn = fx.family_cells("continuous", {"sigma": sigma})
    lv = fx.weighted_levels(fn, base, delta, np.array([1.0, 1.0]), groups=np.array([0, 1]))
    k = np.exp(0.125)
    np.testing.assert_allclose(lv["control"][("mean", 0)], 100 * k)
    np.testing.assert_allclose(lv["treatment"][("mean", 1)], 180 * k)


def test_chunking_matches_unchunked(monkeypatch):
    rng = np.random.default_rng(1)
    base, delta = rng.normal(size=(600, 5)), rng.normal(size=(600, 5))
    w = rng.uniform(1, 2, 5)
    full = fx.weighted_levels(fx.family_cells("binomial"), base, delta, w)
    monkeypatch.setattr(fx, "CHUNK", 7)
    chunked = fx.weighted_levels(fx.family_cells("binomial"), base, delta, w)
    np.testing.assert_allclose(full["treatment"]["rate"], chunked["treatment"]["rate"])


def test_effects_follow_the_registry_scales_directions_and_units():
    nps = metrics.get("nps")
    draws = np.linspace(0, 1, 50)
    lv = {arm: {s.key: draws + (arm == "treatment") for s in nps.scales} for arm in ("control", "treatment")}
    effs = fx.metric_effects(nps, lv, better="higher", threshold=5.0, hdi_prob=0.9)
    assert [e.scale for e in effs] == ["nps", "promoters", "passives", "detractors"]
    assert [e.unit for e in effs] == ["NPS points", "pp", "pp", "pp"]
    by = {e.scale: e for e in effs}
    assert by["nps"].prob_improve == 1.0 and by["detractors"].prob_improve == 0.0  # fewer detractors is better
    assert np.isnan(by["passives"].prob_improve)
    assert not np.isnan(by["nps"].prob_meaningful) and np.isnan(by["promoters"].prob_meaningful)
    fcr = metrics.get("fcr")
    lv = {"control": {"rate": np.full(4, 40.0)}, "treatment": {"rate": np.full(4, 50.0)}}
    rate, rel = fx.metric_effects(fcr, lv, better="higher", threshold=2.0, hdi_prob=0.9)
    assert (rate.scale, rate.unit, rate.mean) == ("rate", "pp", 10.0)
    assert (rel.scale, rel.unit, rel.mean) == ("relative", "%", pytest.approx(25.0))
    assert fx.unit_of("handle_time", "mean") == "seconds" and fx.unit_of("nope", "mean") == ""


def test_a_metric_unknown_to_effects_gets_its_cells_from_its_family_and_forms():
    """A metric declared outside qmsprint: an ordinal 'effort' score with a top-box scale."""
    from qmsprint.metrics.base import MetricDef, Scale

    class Effort(MetricDef):
        name, label, family, unit, default_min_effect = "effort", "Customer effort", "ordinal", "pp", 2.0
        scales = (Scale("topbox", "pp", "topbox"),)

        def levels(self, spec):
            return (1, 2, 3)

        def cumulative_form(self, key, spec):
            return {"topbox": (100.0, {1: -100.0})}[key]  # P(Y = 3) = 1 - P(Y <= 2)

    cut = np.tile(logit([0.2, 0.7]), (3, 1))
    fn = fx.metric_cells(Effort(), spec_for("ab"), {"cut": cut})
    lv = fx.weighted_levels(fn, np.zeros((3, 2)), np.zeros((3, 2)), np.ones(2))
    np.testing.assert_allclose(lv["control"]["topbox"], 30.0)

    class Wrong(Effort):
        family = "binomial"
        scales = (Scale("topbox", "pp", "topbox"),)

    with pytest.raises(ValueError, match="binomial family evaluates rate"):
        fx.metric_cells(Wrong(), spec_for("ab"), {})


def test_several_groupings_in_one_pass_equal_separate_calls():
    rng = np.random.default_rng(2)
    base, delta = rng.normal(size=(5, 6)), rng.normal(0.2, 0.1, size=(5, 6))
    w = rng.uniform(1, 3, size=6)
    g1, g2 = np.array([0, 0, 1, 1, 2, 2]), np.array([1, 0, 1, 0, 1, 0])
    fn = fx.family_cells("binomial")
    together = fx.weighted_levels_by(fn, base, delta, w, [None, g1, g2])
    for got, groups in zip(together, [None, g1, g2], strict=True):
        alone = fx.weighted_levels(fn, base, delta, w, groups=groups)
        for arm in ("control", "treatment"):
            assert got[arm].keys() == alone[arm].keys()
            for key in alone[arm]:
                np.testing.assert_allclose(got[arm][key], alone[arm][key])
