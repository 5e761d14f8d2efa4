"""Small frequentist tests used by the health checks, the pilot design and the data layer.

Pure functions of counts or arrays (no specs, no data frames of cells). Each returns NaN where the
data cannot support the test, so a check can report "not enough data" instead of failing.

- :func:`two_proportion_test`: pooled two-proportion z-test (rows treated as independent).
- :func:`srm_test`: Pearson chi-square (1 df) of two counts against a planned split.
- :func:`cluster_share_test`: is one group's share of a total what its number of units implies,
  given how much the units' totals vary (cluster-aware; delta method).
- :func:`ratio_estimate` and :func:`ratio_difference_test`: ratio estimators summed over units
  with their linearised (cluster-robust) variance, and the z-test of a difference of two.
- :func:`welch` (two samples) and :func:`welch_rows` (row-wise over many pairs of samples).
- :func:`student_t`: two-sample t-test with a pooled variance.
- :func:`trend_slope`: ordinary least-squares slope with its t interval.
- :func:`standardized_difference`: difference of means over the pooled standard deviation.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

__all__ = [
    "cluster_share_test",
    "ratio_difference_test",
    "ratio_estimate",
    "srm_test",
    "standardized_difference",
    "student_t",
    "trend_slope",
    "two_proportion_test",
    "welch",
    "welch_rows",
]

_NAN = float("nan")


def two_proportion_test(k1: float, n1: float, k2: float, n2: float) -> tuple[float, float]:
    """Pooled two-proportion z-test of ``k1 / n1`` against ``k2 / n2``.

    Parameters
    ----------
    k1, n1, k2, n2
        Successes and trials of the two groups (``n1``, ``n2`` > 0).

    Returns
    -------
    (z, p)
        ``z = (k1/n1 - k2/n2) / sqrt(p (1 - p) (1/n1 + 1/n2))`` with ``p`` the pooled proportion,
        and its two-sided p-value. ``(0, 1)`` when the pooled proportion is 0 or 1.

    """
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2)) if 0 < pooled < 1 else 0.0
    if se == 0:
        return 0.0, 1.0
    z = (k1 / n1 - k2 / n2) / se
    return z, math.erfc(abs(z) / math.sqrt(2))


def srm_test(n_control: float, n_treatment: float, planned_split: float) -> tuple[float, float]:
    """Pearson chi-square (1 df) of two counts against the planned treated share.

    Parameters
    ----------
    n_control, n_treatment
        Observed counts.
    planned_split
        Planned share of the treatment group (0-1).

    Returns
    -------
    (chi2, p)
        NaN for two zero counts.

    """
    total = n_control + n_treatment
    if total <= 0:
        return _NAN, _NAN
    exp_t, exp_c = total * planned_split, total * (1 - planned_split)
    chi2 = (n_treatment - exp_t) ** 2 / exp_t + (n_control - exp_c) ** 2 / exp_c
    return float(chi2), float(stats.chi2.sf(chi2, 1))


def cluster_share_test(t: np.ndarray, c: np.ndarray) -> tuple[float, float]:
    """Cluster-aware test of the treatment group's share of a total, given its share of units.

    Under equal expected totals per unit the treatment share of the grand total is
    ``k_t / (k_t + k_c)``. The variance of the observed share combines the spread of the unit
    totals (delta method on ``S_t / (S_t + S_c)``) with the binomial variance of the split.

    Parameters
    ----------
    t, c
        Totals per unit (e.g. interactions) of the treatment and control groups.

    Returns
    -------
    (z, p)
        Two-sided; NaN with fewer than two units in a group or a zero total.

    """
    t, c = np.asarray(t, float), np.asarray(c, float)
    st, sc = t.sum(), c.sum()
    s = st + sc
    if len(t) < 2 or len(c) < 2 or s <= 0:
        return _NAN, _NAN
    share = st / s
    expected = len(t) / (len(t) + len(c))
    var_t, var_c = len(t) * t.var(ddof=1), len(c) * c.var(ddof=1)
    var = (sc**2 * var_t + st**2 * var_c) / s**4 + expected * (1 - expected) / s
    z = (share - expected) / math.sqrt(var) if var > 0 else 0.0
    return float(z), float(2 * stats.norm.sf(abs(z)))


def ratio_estimate(num: np.ndarray, den: np.ndarray) -> tuple[float, float]:
    """Ratio estimate ``sum(num) / sum(den)`` over units and its linearised (cluster-robust) variance.

    Returns
    -------
    (ratio, variance)
        The variance is ``k / (k - 1) * sum((num - r den)^2) / sum(den)^2`` over the ``k`` units;
        NaN with fewer than two units (and both NaN without any denominator).

    """
    num, den = np.asarray(num, float), np.asarray(den, float)
    k = len(den)
    tot = den.sum()
    if k == 0 or tot <= 0:
        return _NAN, _NAN
    r = num.sum() / tot
    if k < 2:
        return float(r), _NAN
    resid = num - r * den
    var = k / (k - 1) * float((resid**2).sum()) / tot**2
    return float(r), var


def ratio_difference_test(
    num_t: np.ndarray, den_t: np.ndarray, num_c: np.ndarray, den_c: np.ndarray
) -> dict[str, float]:
    """z-test of the difference of two ratio estimates over units (see :func:`ratio_estimate`).

    Returns
    -------
    dict
        ``treatment``, ``control`` (the ratios), ``difference``, ``se`` and two-sided ``p``
        (NaN when a variance is unknown or zero).

    """
    rt, vt = ratio_estimate(num_t, den_t)
    rc, vc = ratio_estimate(num_c, den_c)
    diff = rt - rc
    se = math.sqrt(vt + vc) if np.isfinite(vt) and np.isfinite(vc) else _NAN
    p = float(2 * stats.norm.sf(abs(diff) / se)) if se and np.isfinite(se) and se > 0 else _NAN
    return {"treatment": rt, "control": rc, "difference": diff, "se": se, "p": p}


def welch(t: np.ndarray, c: np.ndarray) -> dict[str, float]:
    """Welch comparison of two samples: difference of means, standard error, df, 95% interval, p.

    Returns
    -------
    dict
        ``difference`` (mean of ``t`` minus mean of ``c``), ``se``, ``df``, ``low``, ``high``
        and two-sided ``p``; all NaN with fewer than two values in a sample. With zero variance
        ``se`` is 0, ``df`` infinite and ``p`` 1 for no difference, else 0.

    """
    t, c = np.asarray(t, float), np.asarray(c, float)
    if len(t) < 2 or len(c) < 2:
        return {"difference": _NAN, "se": _NAN, "df": _NAN, "low": _NAN, "high": _NAN, "p": _NAN}
    vt, vc = t.var(ddof=1) / len(t), c.var(ddof=1) / len(c)
    se = math.sqrt(vt + vc)
    diff = float(t.mean() - c.mean())
    if se == 0:
        return {"difference": diff, "se": 0.0, "df": float("inf"), "low": diff, "high": diff, "p": float(diff == 0)}
    df = (vt + vc) ** 2 / (vt**2 / (len(t) - 1) + vc**2 / (len(c) - 1))
    tq = float(stats.t.ppf(0.975, df))
    p = float(2 * stats.t.sf(abs(diff) / se, df))
    return {"difference": diff, "se": se, "df": float(df), "low": diff - tq * se, "high": diff + tq * se, "p": p}


def welch_rows(y_t: np.ndarray, y_c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Welch comparison row by row (many pairs of samples at once; NaN values ignored).

    Parameters
    ----------
    y_t, y_c
        Arrays ``(rows, values)``; row ``i`` of each is one pair of samples.

    Returns
    -------
    (difference, standard error, degrees of freedom)
        Each of shape ``(rows,)``; NaN (or inf) where a row has fewer than two values.

    """
    nt = np.sum(np.isfinite(y_t), axis=1)
    nc = np.sum(np.isfinite(y_c), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mt, mc = np.nanmean(y_t, axis=1), np.nanmean(y_c, axis=1)
        vt = np.nanvar(y_t, axis=1, ddof=1) / nt
        vc = np.nanvar(y_c, axis=1, ddof=1) / nc
        se = np.sqrt(vt + vc)
        df = (vt + vc) ** 2 / (vt**2 / (nt - 1) + vc**2 / (nc - 1))
    return mt - mc, se, df


def student_t(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Two-sample t-test with a pooled variance: mean of ``a`` minus mean of ``b``.

    Returns
    -------
    dict
        ``difference``, ``se``, ``df`` (``len(a) + len(b) - 2``), ``low``, ``high`` (95%) and
        two-sided ``p`` (1 for no difference and 0 otherwise when ``se`` is 0). Needs at
        least three values in all.

    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    diff = float(a.mean() - b.mean())
    df = len(a) + len(b) - 2
    s2 = (((b - b.mean()) ** 2).sum() + ((a - a.mean()) ** 2).sum()) / df
    se = math.sqrt(s2 * (1 / len(b) + 1 / len(a)))
    tq = float(stats.t.ppf(0.975, df))
    p = float(2 * stats.t.sf(abs(diff) / se, df)) if se > 0 else float(diff == 0)
    return {"difference": diff, "se": se, "df": float(df), "low": diff - tq * se, "high": diff + tq * se, "p": p}


def trend_slope(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Ordinary least-squares slope of ``y`` on ``x``, with its standard error, 95% t interval and p.

    Returns
    -------
    dict
        ``slope``, ``se``, ``low``, ``high``, ``p`` and ``intercept``; NaN (and no intercept)
        with fewer than three points.

    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    k = len(x)
    if k < 3:
        return {"slope": _NAN, "se": _NAN, "low": _NAN, "high": _NAN, "p": _NAN}
    xc = x - x.mean()
    sxx = float((xc**2).sum())
    slope = float((xc * (y - y.mean())).sum() / sxx)
    intercept = float(y.mean() - slope * x.mean())
    resid = y - intercept - slope * x
    df = k - 2
    s2 = float((resid**2).sum() / df)
    se = math.sqrt(s2 / sxx) if s2 > 0 else 0.0
    tq = float(stats.t.ppf(0.975, df))
    p = float(2 * stats.t.sf(abs(slope) / se, df)) if se > 0 else (0.0 if slope != 0 else 1.0)
    return {"slope": slope, "se": se, "low": slope - tq * se, "high": slope + tq * se, "p": p, "intercept": intercept}


def standardized_difference(t: np.ndarray, c: np.ndarray) -> tuple[float, float, float]:
    """Standardized difference of means ``d = (mean_t - mean_c) / sqrt((var_t + var_c) / 2)``.

    Parameters
    ----------
    t, c
        The two samples (no missing values).

    Returns
    -------
    (difference, pooled sd, d)
        ``d`` is 0 for equal means with no spread and NaN when it cannot be computed (fewer than
        two values in a sample, or no spread with different means).

    """
    t, c = np.asarray(t, float), np.asarray(c, float)
    vt = t.var(ddof=1) if len(t) > 1 else np.nan
    vc = c.var(ddof=1) if len(c) > 1 else np.nan
    sd = math.sqrt((vt + vc) / 2) if np.isfinite(vt) and np.isfinite(vc) else np.nan
    diff = t.mean() - c.mean() if len(t) and len(c) else np.nan
    if np.isfinite(sd) and sd > 0:
        d = diff / sd
    elif np.isfinite(diff) and diff == 0:
        d = 0.0
    else:
        d = np.nan
    return float(diff), float(sd), float(d)
