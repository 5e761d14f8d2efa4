"""qmsprint.stats tests: known answers (closed forms and scipy's reference implementations)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from qmsprint import stats


def test_two_proportion_z_matches_a_hand_computation():
    # 30/100 vs 45/120: pooled 75/220
    pooled = 75 / 220
    se = math.sqrt(pooled * (1 - pooled) * (1 / 100 + 1 / 120))
    z_hand = (0.30 - 0.375) / se
    z, p = stats.two_proportion_test(30, 100, 45, 120)
    assert z == pytest.approx(z_hand)
    assert p == pytest.approx(2 * sps.norm.sf(abs(z_hand)))
    assert stats.two_proportion_test(0, 50, 0, 60) == (0.0, 1.0)  # nobody answered: no evidence


def test_srm_pearson_matches_closed_form_and_scipy():
    chi2, p = stats.srm_test(480, 520, 0.5)
    assert chi2 == pytest.approx(2 * 20**2 / 500)
    assert p == pytest.approx(0.2059, abs=1e-3)
    ref = sps.chisquare([520, 480], [1000 * 0.7, 1000 * 0.3])
    chi2, p = stats.srm_test(480, 520, 0.7)
    assert chi2 == pytest.approx(ref.statistic)
    assert p == pytest.approx(ref.pvalue)
    assert all(math.isnan(v) for v in stats.srm_test(0, 0, 0.5))


def test_welch_matches_scipy():
    rng = np.random.default_rng(1)
    t, c = rng.normal(0.3, 1.0, 12), rng.normal(0.0, 2.0, 30)
    r = stats.welch(t, c)
    ref = sps.ttest_ind(t, c, equal_var=False)
    assert r["difference"] == pytest.approx(t.mean() - c.mean())
    assert r["difference"] / r["se"] == pytest.approx(ref.statistic)
    assert r["p"] == pytest.approx(ref.pvalue)
    assert r["df"] == pytest.approx(ref.df)
    ci = ref.confidence_interval(0.95)
    assert (r["low"], r["high"]) == pytest.approx((ci.low, ci.high))
    assert math.isnan(stats.welch([1.0], [1.0, 2.0])["p"])
    flat = stats.welch([2.0, 2.0], [1.0, 1.0])
    assert flat["se"] == 0 and flat["p"] == 0.0 and flat["difference"] == 1.0


def test_welch_rows_match_welch_row_by_row_and_ignore_missing_values():
    rng = np.random.default_rng(2)
    y_t, y_c = rng.normal(0, 1, (5, 9)), rng.normal(0.5, 1, (5, 7))
    y_t[0, :3] = np.nan
    diff, se, df = stats.welch_rows(y_t, y_c)
    for i in range(5):
        r = stats.welch(y_t[i][np.isfinite(y_t[i])], y_c[i])
        assert (diff[i], se[i], df[i]) == pytest.approx((r["difference"], r["se"], r["df"]))


def test_student_t_matches_scipy_pooled_t():
    a, b = np.array([0.4, 0.6, 0.55, 0.7]), np.array([0.1, 0.3, 0.2])
    r = stats.student_t(a, b)
    ref = sps.ttest_ind(a, b, equal_var=True)
    assert r["difference"] / r["se"] == pytest.approx(ref.statistic)
    assert r["p"] == pytest.approx(ref.pvalue)
    assert r["df"] == 5
    ci = ref.confidence_interval(0.95)
    assert (r["low"], r["high"]) == pytest.approx((ci.low, ci.high))


def test_trend_slope_is_exact_on_noiseless_data_and_matches_linregress():
    fit = stats.trend_slope(np.arange(6), 0.5 + 0.1 * np.arange(6))
    assert fit["slope"] == pytest.approx(0.1)
    assert fit["intercept"] == pytest.approx(0.5)
    assert fit["se"] == pytest.approx(0.0, abs=1e-12)
    rng = np.random.default_rng(3)
    x = np.arange(10.0)
    y = 1.0 + 0.2 * x + rng.normal(0, 0.3, 10)
    fit, ref = stats.trend_slope(x, y), sps.linregress(x, y)
    assert fit["slope"] == pytest.approx(ref.slope)
    assert fit["se"] == pytest.approx(ref.stderr)
    assert fit["p"] == pytest.approx(ref.pvalue)
    tq = sps.t.ppf(0.975, 8)
    assert (fit["low"], fit["high"]) == pytest.approx((ref.slope - tq * ref.stderr, ref.slope + tq * ref.stderr))
    assert math.isnan(stats.trend_slope([0, 1], [0, 1])["slope"])


def test_ratio_estimate_and_its_linearised_variance():
    num, den = np.array([2.0, 5.0, 3.0]), np.array([10.0, 20.0, 10.0])
    r, var = stats.ratio_estimate(num, den)
    assert r == pytest.approx(10 / 40)
    resid = num - 0.25 * den
    assert var == pytest.approx(3 / 2 * (resid**2).sum() / 40**2)
    assert math.isnan(stats.ratio_estimate([1.0], [4.0])[1])
    assert all(math.isnan(v) for v in stats.ratio_estimate([], []))


def test_ratio_difference_test_is_a_z_test_of_the_two_ratios():
    nt, dt = np.array([2.0, 5.0, 3.0]), np.array([10.0, 20.0, 10.0])
    nc, dc = np.array([4.0, 6.0, 4.0, 5.0]), np.array([10.0, 20.0, 15.0, 15.0])
    r = stats.ratio_difference_test(nt, dt, nc, dc)
    (rt, vt), (rc, vc) = stats.ratio_estimate(nt, dt), stats.ratio_estimate(nc, dc)
    assert r["difference"] == pytest.approx(rt - rc)
    assert r["se"] == pytest.approx(math.sqrt(vt + vc))
    assert r["p"] == pytest.approx(2 * sps.norm.sf(abs(rt - rc) / math.sqrt(vt + vc)))


def test_cluster_share_test_with_equal_units_is_centred_and_catches_a_skew():
    even = np.full(50, 100.0)
    z, p = stats.cluster_share_test(even, even)
    assert z == pytest.approx(0.0) and p == pytest.approx(1.0)
    # with identical units only the binomial part is left: share 52% of 10,000 against 50%
    z, _ = stats.cluster_share_test(np.full(50, 104.0), np.full(50, 96.0))
    assert z == pytest.approx((0.52 - 0.5) / math.sqrt(0.25 / 10000))
    assert all(math.isnan(v) for v in stats.cluster_share_test([1.0], [1.0, 2.0]))


def test_standardized_difference_closed_form():
    diff, sd, d = stats.standardized_difference([1.0, 2.0, 3.0], [2.0, 3.0, 4.0])
    assert (diff, sd, d) == pytest.approx((-1.0, 1.0, -1.0))  # (2 - 3) / sqrt((1 + 1) / 2)
    assert stats.standardized_difference([1.0, 1.0], [1.0, 1.0])[2] == 0.0
    assert math.isnan(stats.standardized_difference([1.0, 1.0], [2.0, 2.0])[2])
    assert math.isnan(stats.standardized_difference([1.0], [2.0, 3.0])[2])
