"""Health checks of a pilot: is it running as designed, and can its comparison be trusted.

:func:`check_health` runs every check that applies to a prepared pilot and returns one
:class:`~qmsprint.results.HealthCheck` per check, each with a status (``ok``, ``warn``, ``alert``),
one plain-language sentence with the size of the problem, and JSON-able details for tables and
plots. It only sums cells and weekly series (no model fitting), so it is fast enough for
``qmsprint validate``.

Checks and thresholds
---------------------
``srm_units`` (sample ratio mismatch, units)
    Randomized units (the spec's ``unit``: agents, teams or sites) per arm in the pilot period
    against ``arms.planned_split``: Pearson chi-square (1 df). Alert at p < 0.001 (the threshold
    GrowthBook, Eppo and Statsig use), warn at p < 0.01.
``srm_interactions`` (sample ratio mismatch, interactions)
    The Pearson chi-square of interactions per arm against the planned split is reported, but it
    treats interactions as independent, which they are not: units are randomized and their
    volumes differ, so with agent randomization it would flag most healthy pilots. The status
    therefore comes from a cluster-aware test: given the unit counts, is the share of
    interactions in the treatment arm what equal volume per unit implies? (z-test with the
    per-arm volume variances; delta method). Same thresholds. It catches lost or duplicated
    interactions in one arm; a skewed unit split is ``srm_units``' job.
``response_rate``
    Survey response rate (CSAT, NPS) by arm in the pilot period, compared with a cluster-robust
    z-test (ratio estimator linearised at unit level). Warn when p < 0.01 and the relative
    difference is at least 5%; alert when p < 0.001 and it is at least 15%.
``contamination``
    Units or agents found in both arms (in the pilot period; for DiD and for A/B baselines that
    carry the future arm labels, also between periods), and agents who changed team. Alert when
    agents in both arms carry at least 1% of the pilot's interactions, warn for anything less
    and for team changes.
``balance``
    Baseline standardized differences ``d = (mean_t - mean_c) / sqrt((sd_t^2 + sd_c^2) / 2)``
    between arms of unit-level baseline CSAT, NPS, FCR, repeat rate, handle time, volume, QA
    score and tenure. ``|d| > 0.1`` is the usual sign of imbalance (Austin 2009) and warns;
    ``|d| > 0.2`` with a Welch p < 0.01 (more than chance would give) alerts in A/B pilots; with
    few units large ``|d|`` arise by chance and only warn. DiD removes stable level differences, so a DiD pilot
    only warns (and the parallel-trends check matters more).
``parallel_trends`` (DiD)
    Per metric, the weekly baseline gap between the groups is regressed on the week: its slope
    (per week, with a t interval) times the distance in weeks between the centres of the
    baseline and the pilot is the bias the DiD would carry if the gap kept drifting. Alert when
    the slope is clearly non-zero (p < 0.01) and that bias is at least half the metric's
    ``min_effect``; warn at p < 0.05. The weekly series are in ``data`` for a plot.
``aa`` (A/A)
    The analysis with the arm labels on the baseline period must give no effect. A/B: the
    cluster-level comparison (Welch t on unit means) of baseline outcomes by arm. DiD: a placebo
    DiD inside the baseline (second half minus first half of the weekly gap). Warn at p < 0.01,
    alert at p < 0.001. ``full_aa=True`` also runs :func:`qmsprint.experiments.estimate` on the
    baseline cells relabelled as a pilot (``aa_model``; slow): warn when the posterior probability
    of a difference in either direction exceeds 0.995 (alert 0.9995), the Bayesian counterpart of
    the same thresholds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from qmsprint import metrics as metric_registry
from qmsprint.results import HealthCheck
from qmsprint.spec import Spec

SRM_ALERT_P = 0.001
SRM_WARN_P = 0.01
RESPONSE_WARN_REL = 0.05
RESPONSE_ALERT_REL = 0.15
CONTAMINATION_ALERT_SHARE = 0.01
BALANCE_WARN_D = 0.1
BALANCE_ALERT_D = 0.2
BALANCE_ALERT_P = 0.01
TRENDS_ALERT_P = 0.01
TRENDS_WARN_P = 0.05
AA_WARN_P = 0.01
AA_ALERT_P = 0.001

STATUS_ORDER = {"ok": 0, "warn": 1, "alert": 2}

# Unit-level variables of the balance table: column -> label.
BALANCE_VARIABLES = {
    "csat": "Baseline CSAT (mean)",
    "nps": "Baseline NPS",
    "fcr": "Baseline FCR (%)",
    "repeat_contact": "Baseline repeat contacts (%)",
    "handle_time": "Baseline handle time (s)",
    "volume": "Baseline volume (interactions)",
    "qa_score": "Baseline QA score",
    "tenure_months": "Tenure (months)",
}
OUTCOME_METRICS = ("csat", "nps", "fcr", "repeat_contact", "handle_time")


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _f(x: Any) -> float | None:
    """JSON-safe float (None for nan/inf)."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _worst(statuses: Iterable[str]) -> str:
    out = "ok"
    for s in statuses:
        if STATUS_ORDER[s] > STATUS_ORDER[out]:
            out = s
    return out


def _p_status(p: float, alert: float, warn: float) -> str:
    if not np.isfinite(p):
        return "ok"
    return "alert" if p < alert else "warn" if p < warn else "ok"


def _fmt_p(p: float) -> str:
    if not np.isfinite(p):
        return "p = n/a"
    return "p < 0.0001" if p < 1e-4 else f"p = {p:.4f}" if p < 0.01 else f"p = {p:.2f}"


def unit_column(spec: Spec) -> str:
    """Column of the randomized unit: ``agent_id``, ``team`` or ``site``."""
    return {"agent": "agent_id", "team": "team", "site": "site"}[spec.unit]


def _csat_levels(spec: Spec) -> list[int]:
    lo, hi = spec.csat_scale
    return list(range(lo, hi + 1))


def _sum_cols(df: pd.DataFrame, cols: list[str]) -> pd.Series:
    present = [c for c in cols if c in df.columns]
    if not present:
        return pd.Series(0.0, index=df.index)
    return df[present].sum(axis=1)


def outcome_sums(cells: pd.DataFrame, spec: Spec) -> pd.DataFrame:
    """Per-row numerators and denominators of each outcome on its natural scale.

    Returns a frame with ``<metric>_num`` / ``<metric>_den`` for CSAT (points), NPS (NPS points
    per response), FCR and repeat contacts (percent), handle time (seconds), QA score and tenure,
    plus ``volume_num`` (interactions) and ``csat_sq`` (sum of squared CSAT, for variances).
    """
    out = pd.DataFrame(index=cells.index)
    levels = _csat_levels(spec)
    if "csat_n" in cells:
        num = sum(lv * cells[f"csat_{lv}"].astype(float) for lv in levels if f"csat_{lv}" in cells)
        out["csat_num"] = num if isinstance(num, pd.Series) else 0.0
        out["csat_den"] = cells["csat_n"].astype(float)
    if "nps_n" in cells:
        prom = _sum_cols(cells, ["nps_9", "nps_10"])
        det = _sum_cols(cells, [f"nps_{i}" for i in range(7)])
        out["nps_num"] = 100.0 * (prom - det)
        out["nps_den"] = cells["nps_n"].astype(float)
    for metric, yes, n in (("fcr", "fcr_yes", "fcr_n"), ("repeat_contact", "repeat_yes", "repeat_n")):
        if n in cells:
            out[f"{metric}_num"] = 100.0 * cells[yes].astype(float)
            out[f"{metric}_den"] = cells[n].astype(float)
    for metric, s, n in (
        ("handle_time", "ht_sum", "ht_n"),
        ("qa_score", "qa_sum", "qa_n"),
        ("tenure_months", "tenure_sum", "tenure_n"),
    ):
        if n in cells:
            out[f"{metric}_num"] = cells[s].astype(float)
            out[f"{metric}_den"] = cells[n].astype(float)
    out["volume_num"] = cells["n"].astype(float) if "n" in cells else 0.0
    out["volume_den"] = 1.0
    return out


def unit_table(cells: pd.DataFrame, spec: Spec, unit: str | None = None) -> pd.DataFrame:
    """One row per unit (and arm) with its mean outcomes, from cells.

    Parameters
    ----------
    cells
        Cells (any subset of periods).
    spec
        The pilot's spec (CSAT scale).
    unit
        Grouping column (default: the spec's unit column).

    Returns
    -------
    pandas.DataFrame
        Columns ``unit``, ``arm``, ``n`` and, where the cells carry them, ``csat``, ``nps``,
        ``fcr``, ``repeat_contact``, ``handle_time``, ``qa_score``, ``tenure_months``, ``volume``
        with ``<metric>_n`` (the denominators).

    """
    unit = unit or unit_column(spec)
    sums = outcome_sums(cells, spec)
    sums["unit"] = cells[unit].astype(str).to_numpy()
    sums["arm"] = cells["arm"].astype(str).to_numpy()
    g = sums.groupby(["unit", "arm"], sort=True).sum(numeric_only=True)
    out = pd.DataFrame(index=g.index)
    for col in g.columns:
        if col.endswith("_num"):
            name = col[: -len("_num")]
            den = g[f"{name}_den"]
            out[name] = np.where(den > 0, g[col] / den.where(den > 0, 1.0), np.nan)
            out[f"{name}_n"] = den
    out = out.reset_index()
    out["n"] = out["volume"]
    return out


# --------------------------------------------------------------------------------------------
# Sample ratio mismatch
# --------------------------------------------------------------------------------------------


def srm_test(n_control: float, n_treatment: float, planned_split: float) -> tuple[float, float]:
    """Pearson chi-square (1 df) of two counts against the planned treated share.

    Returns
    -------
    (chi2, p)

    """
    total = n_control + n_treatment
    if total <= 0:
        return float("nan"), float("nan")
    exp_t, exp_c = total * planned_split, total * (1 - planned_split)
    chi2 = (n_treatment - exp_t) ** 2 / exp_t + (n_control - exp_c) ** 2 / exp_c
    return float(chi2), float(stats.chi2.sf(chi2, 1))


def _split_text(t: float, c: float) -> str:
    tot = t + c
    return f"{100 * t / tot:.1f}/{100 * c / tot:.1f}" if tot else "0/0"


def check_srm_units(units: pd.DataFrame, spec: Spec, label: str = "units") -> HealthCheck:
    """Units per arm against the planned split (``units``: columns ``unit``, ``arm``)."""
    arms = spec.arms
    per_arm = units.groupby("arm")["unit"].nunique()
    nt, nc = float(per_arm.get(arms.treatment, 0)), float(per_arm.get(arms.control, 0))
    chi2, p = srm_test(nc, nt, arms.planned_split)
    status = _p_status(p, SRM_ALERT_P, SRM_WARN_P)
    planned = f"{100 * arms.planned_split:.0f}/{100 * (1 - arms.planned_split):.0f}"
    msg = (
        f"{int(nt)} {label} on the new program and {int(nc)} on the current one "
        f"({_split_text(nt, nc)} against a planned {planned}; chi-square {chi2:.2f}, {_fmt_p(p)})"
    )
    msg += ": the split of units does not match the plan." if status != "ok" else "."
    return HealthCheck(
        "srm_units",
        status,
        msg,
        {"treatment": int(nt), "control": int(nc), "planned_split": arms.planned_split, "chi2": _f(chi2), "p": _f(p)},
    )


def check_srm_interactions(units: pd.DataFrame, spec: Spec) -> HealthCheck:
    """Interactions per arm: Pearson chi-square reported, status from the cluster-aware test.

    ``units`` has one row per unit with ``arm`` and ``n`` (interactions).
    """
    arms = spec.arms
    t = units.loc[units["arm"] == arms.treatment, "n"].to_numpy(float)
    c = units.loc[units["arm"] == arms.control, "n"].to_numpy(float)
    st, sc = t.sum(), c.sum()
    chi2, p_naive = srm_test(sc, st, arms.planned_split)
    s = st + sc
    z = p = float("nan")
    rel = float("nan")
    if len(t) >= 2 and len(c) >= 2 and s > 0:
        share = st / s
        expected = len(t) / (len(t) + len(c))
        var_t, var_c = len(t) * t.var(ddof=1), len(c) * c.var(ddof=1)
        var = (sc**2 * var_t + st**2 * var_c) / s**4 + expected * (1 - expected) / s
        z = (share - expected) / math.sqrt(var) if var > 0 else 0.0
        p = float(2 * stats.norm.sf(abs(z)))
        rel = (t.mean() / c.mean() - 1) if c.mean() > 0 else float("nan")
    status = _p_status(p, SRM_ALERT_P, SRM_WARN_P)
    planned = f"{100 * arms.planned_split:.0f}/{100 * (1 - arms.planned_split):.0f}"
    msg = f"Interactions split {_split_text(st, sc)} (planned {planned}; Pearson {_fmt_p(p_naive)})"
    if np.isfinite(rel):
        msg += f"; units on the new program handle {abs(100 * rel):.1f}% {'more' if rel >= 0 else 'fewer'} "
        msg += f"interactions each than the others (cluster-aware {_fmt_p(p)})"
    msg += ": interactions may be missing or duplicated in one arm." if status != "ok" else "."
    return HealthCheck(
        "srm_interactions",
        status,
        msg,
        {
            "treatment": int(st),
            "control": int(sc),
            "planned_split": arms.planned_split,
            "chi2_pearson": _f(chi2),
            "p_pearson": _f(p_naive),
            "z_cluster": _f(z),
            "p_cluster": _f(p),
            "volume_ratio": _f(1 + rel) if np.isfinite(rel) else None,
        },
    )


# --------------------------------------------------------------------------------------------
# Survey response rates
# --------------------------------------------------------------------------------------------


def ratio_by_arm(num: np.ndarray, den: np.ndarray) -> tuple[float, float]:
    """Ratio estimate sum(num)/sum(den) over units and its linearised (cluster-robust) variance."""
    num, den = np.asarray(num, float), np.asarray(den, float)
    k = len(den)
    tot = den.sum()
    if k == 0 or tot <= 0:
        return float("nan"), float("nan")
    r = num.sum() / tot
    if k < 2:
        return float(r), float("nan")
    resid = num - r * den
    var = k / (k - 1) * float((resid**2).sum()) / tot**2
    return float(r), var


def check_response_rates(cells: pd.DataFrame, spec: Spec) -> HealthCheck:
    """Survey response rate by arm for CSAT and NPS (pilot period), with a cluster-robust test."""
    arms = spec.arms
    unit = unit_column(spec)
    details: dict[str, Any] = {}
    statuses, sentences = [], []
    for metric, col in (("csat", "csat_n"), ("nps", "nps_n")):
        if col not in cells or metric not in {m.name for m in spec.metrics} or cells[col].sum() == 0:
            continue
        g = cells.groupby([unit, "arm"], sort=False)[["n", col]].sum().reset_index()
        est = {}
        for arm in (arms.treatment, arms.control):
            sub = g[g["arm"] == arm]
            est[arm] = ratio_by_arm(sub[col].to_numpy(), sub["n"].to_numpy())
        (rt, vt), (rc, vc) = est[arms.treatment], est[arms.control]
        diff = rt - rc
        se = math.sqrt(vt + vc) if np.isfinite(vt) and np.isfinite(vc) else float("nan")
        p = float(2 * stats.norm.sf(abs(diff) / se)) if se and np.isfinite(se) and se > 0 else float("nan")
        rel = diff / rc if rc and np.isfinite(rc) and rc > 0 else float("nan")
        st = "ok"
        if np.isfinite(p) and np.isfinite(rel):
            if p < SRM_ALERT_P and abs(rel) >= RESPONSE_ALERT_REL:
                st = "alert"
            elif p < SRM_WARN_P and abs(rel) >= RESPONSE_WARN_REL:
                st = "warn"
        statuses.append(st)
        label = metric_registry.get(metric).label
        sentences.append(
            f"{label} response rate {100 * rt:.1f}% on the new program vs {100 * rc:.1f}% on the current one "
            f"({100 * diff:+.1f} pp, {100 * rel:+.0f}% relative, {_fmt_p(p)})"
        )
        details[metric] = {
            "treatment": _f(rt),
            "control": _f(rc),
            "difference_pp": _f(100 * diff),
            "relative": _f(rel),
            "se_pp": _f(100 * se),
            "p": _f(p),
            "status": st,
        }
    if not details:
        return HealthCheck("response_rate", "ok", "No survey metric in this pilot: response rates not checked.", {})
    status = _worst(statuses)
    msg = "; ".join(sentences)
    msg += ": a response gap between arms can bias survey results." if status != "ok" else "."
    return HealthCheck("response_rate", status, msg, details)


# --------------------------------------------------------------------------------------------
# Contamination
# --------------------------------------------------------------------------------------------


def check_contamination(cells: pd.DataFrame, spec: Spec) -> HealthCheck:
    """Agents (or units) in both arms, switching arm between periods, or changing team."""
    arms = {spec.arms.treatment, spec.arms.control}
    c = cells[cells["arm"].astype(str).isin(arms)]
    pilot = c[c["period"] == "pilot"] if (c["period"] == "pilot").any() else c
    total = float(pilot["n"].sum()) or 1.0
    problems: list[str] = []
    status = "ok"

    # agents in both arms within the pilot period
    agent_arms = pilot.groupby("agent_id")["arm"].nunique()
    both = sorted(agent_arms[agent_arms > 1].index.astype(str))
    share_both = float(pilot.loc[pilot["agent_id"].isin(both), "n"].sum()) / total if both else 0.0

    # switching between periods: baseline labels count only when they carry arms (both present)
    switched: list[str] = []
    base = c[c["period"] == "baseline"]
    if len(base) and (c["period"] == "pilot").any() and base["arm"].nunique() > 1:
        b_arm = base.groupby("agent_id")["arm"].agg(lambda s: s.mode().iat[0])
        p_arm = pilot.groupby("agent_id")["arm"].agg(lambda s: s.mode().iat[0])
        common = b_arm.index.intersection(p_arm.index)
        switched = sorted(str(a) for a in common[(b_arm[common] != p_arm[common]).to_numpy()] if a not in both)
    share_sw = float(pilot.loc[pilot["agent_id"].isin(switched), "n"].sum()) / total if switched else 0.0

    # units (teams / sites) in both arms
    unit = unit_column(spec)
    units_both: list[str] = []
    if unit != "agent_id" and unit in pilot:
        ua = pilot.groupby(unit)["arm"].nunique()
        units_both = sorted(ua[ua > 1].index.astype(str))

    # team changes within the pilot period
    team_changes: list[str] = []
    if "team" in pilot:
        tn = pilot.groupby("agent_id")["team"].nunique()
        team_changes = sorted(tn[tn > 1].index.astype(str))

    mixed = sorted(set(both) | set(switched))
    share = share_both + share_sw
    if mixed:
        status = "alert" if share >= CONTAMINATION_ALERT_SHARE else "warn"
        problems.append(
            f"{len(mixed)} agent{'s' if len(mixed) != 1 else ''} worked in both arms "
            f"({100 * share:.1f}% of the pilot's interactions; e.g. {', '.join(mixed[:3])})"
        )
    if units_both:
        status = _worst([status, "alert"])
        problems.append(f"{len(units_both)} {spec.unit}{'s' if len(units_both) != 1 else ''} appear in both arms")
    if team_changes:
        status = _worst([status, "warn"])
        problems.append(
            f"{len(team_changes)} agent{'s' if len(team_changes) != 1 else ''} changed team during the pilot "
            f"(e.g. {', '.join(team_changes[:3])})"
        )
    msg = ("; ".join(problems) + ".") if problems else "No agent worked in both arms or changed team during the pilot."
    return HealthCheck(
        "contamination",
        status,
        msg,
        {
            "agents_in_both_arms": both[:100],
            "agents_switched_arm": switched[:100],
            "units_in_both_arms": units_both[:100],
            "agents_changed_team": team_changes[:100],
            "share_of_interactions": _f(share),
        },
    )


# --------------------------------------------------------------------------------------------
# Balance
# --------------------------------------------------------------------------------------------


def standardized_differences(
    units: pd.DataFrame,
    arm_col: str,
    treatment: str,
    control: str,
    variables: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Balance table: per variable the arm means, pooled SD and standardized difference.

    ``d = (mean_t - mean_c) / sqrt((var_t + var_c) / 2)`` over units (Austin 2009). ``flag`` is
    ``imbalanced`` when ``|d| > 0.2``, ``check`` when ``|d| > 0.1``, else empty; ``p`` is the
    Welch p-value of the difference (whether it is more than chance).

    Parameters
    ----------
    units
        One row per unit with the arm in ``arm_col`` and one column per variable.
    arm_col, treatment, control
        Arm column and its two values.
    variables
        Column -> label (default :data:`BALANCE_VARIABLES`); absent or all-missing columns are skipped.

    """
    variables = variables or BALANCE_VARIABLES
    rows = []
    for col, label in variables.items():
        if col not in units or units[col].notna().sum() == 0:
            continue
        t = units.loc[units[arm_col] == treatment, col].dropna().astype(float)
        c = units.loc[units[arm_col] == control, col].dropna().astype(float)
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
        p = welch(t.to_numpy(), c.to_numpy())["p"]
        flag = ""
        if np.isfinite(d):
            flag = "imbalanced" if abs(d) > BALANCE_ALERT_D else "check" if abs(d) > BALANCE_WARN_D else ""
        rows.append(
            {
                "variable": col,
                "label": label,
                "mean_control": c.mean() if len(c) else np.nan,
                "mean_treatment": t.mean() if len(t) else np.nan,
                "difference": diff,
                "sd_pooled": sd,
                "std_diff": d,
                "p": p,
                "n_control": len(c),
                "n_treatment": len(t),
                "flag": flag,
            }
        )
    cols = [
        "variable",
        "label",
        "mean_control",
        "mean_treatment",
        "difference",
        "sd_pooled",
        "std_diff",
        "p",
        "n_control",
        "n_treatment",
        "flag",
    ]
    return pd.DataFrame(rows, columns=cols)


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for rec in df.to_dict(orient="records"):
        out.append({k: (_f(v) if isinstance(v, float | np.floating | np.integer) else v) for k, v in rec.items()})
    return out


def check_balance(cells: pd.DataFrame, spec: Spec) -> HealthCheck:
    """Baseline standardized differences between arms (unit level)."""
    base = cells[cells["period"] == "baseline"]
    arms = spec.arms
    if base.empty or base["arm"].nunique() < 2:
        why = "no baseline period" if base.empty else "the baseline carries no arm labels"
        return HealthCheck("balance", "ok", f"Baseline balance not checked: {why}.", {"skipped": True})
    units = unit_table(base, spec)
    table = standardized_differences(units, "arm", arms.treatment, arms.control)
    table = table[table["std_diff"].notna()]
    if table.empty:
        return HealthCheck("balance", "ok", "Baseline balance not checked: too few units per arm.", {"skipped": True})
    worst = table.loc[table["std_diff"].abs().idxmax()]
    d = float(worst["std_diff"])
    beyond_chance = (table["std_diff"].abs() > BALANCE_ALERT_D) & (table["p"] < BALANCE_ALERT_P)
    status = "alert" if beyond_chance.any() else "warn" if abs(d) > BALANCE_WARN_D else "ok"
    if spec.design == "did" and status == "alert":
        status = "warn"
    n_flag = int((table["std_diff"].abs() > BALANCE_WARN_D).sum())
    msg = (
        f"Largest baseline difference between arms: {worst['label']} (standardized difference {d:+.2f}; "
        f"{worst['mean_treatment']:.3g} vs {worst['mean_control']:.3g}); "
        f"{n_flag} of {len(table)} variables above |d| = {BALANCE_WARN_D}"
    )
    n_units = int(min(worst["n_treatment"], worst["n_control"]))
    if status == "ok":
        msg += ": the arms were comparable before the pilot."
    elif spec.design == "did":
        msg += ": DiD adjusts for stable level differences, but check that trends were parallel."
    elif status == "alert":
        msg += ": the arms differed before the pilot by more than chance; randomization or data may be off."
    else:
        msg += (
            f": chance differences of this size are common with {n_units} units per arm; "
            "keep them in mind when reading the results."
        )
    return HealthCheck("balance", status, msg, {"table": _records(table)})


# --------------------------------------------------------------------------------------------
# Parallel trends (DiD)
# --------------------------------------------------------------------------------------------

_WEEKLY = {
    "csat": ("csat_sum", "csat_n", 1.0),
    "fcr": ("fcr_yes", "fcr_n", 100.0),
    "repeat_contact": ("repeat_yes", "repeat_n", 100.0),
    "handle_time": ("ht_sum", "ht_n", 1.0),
}


def _weekly_metric(weekly: pd.DataFrame, metric: str) -> tuple[pd.Series, pd.Series] | None:
    """(numerator, denominator) series of a metric in the weekly table, or None."""
    if metric == "nps":
        if not {"nps_promoters", "nps_detractors", "nps_n"} <= set(weekly.columns):
            return None
        return 100.0 * (weekly["nps_promoters"] - weekly["nps_detractors"]), weekly["nps_n"].astype(float)
    if metric not in _WEEKLY:
        return None
    num, den, scale = _WEEKLY[metric]
    if num not in weekly or den not in weekly:
        return None
    return scale * weekly[num].astype(float), weekly[den].astype(float)


def weekly_gap(weekly: pd.DataFrame, spec: Spec, metric: str, period: str = "baseline") -> pd.DataFrame | None:
    """Weekly means of each arm and their gap (treatment - control) in one period.

    Returns
    -------
    pandas.DataFrame or None
        Columns ``week``, ``control``, ``treatment``, ``gap``, ``n_control``, ``n_treatment``;
        None when the metric is not in the weekly table.

    """
    nd = _weekly_metric(weekly, metric)
    if nd is None:
        return None
    w = weekly.assign(_num=nd[0], _den=nd[1])
    w = w[(w["period"] == period) & (w["_den"] > 0)]
    g = w.groupby(["week", "arm"])[["_num", "_den"]].sum()
    mean = (g["_num"] / g["_den"]).unstack("arm")
    den = g["_den"].unstack("arm")
    arms = spec.arms
    if arms.treatment not in mean or arms.control not in mean:
        return pd.DataFrame(columns=["week", "control", "treatment", "gap", "n_control", "n_treatment"])
    out = pd.DataFrame(
        {
            "control": mean[arms.control],
            "treatment": mean[arms.treatment],
            "n_control": den[arms.control],
            "n_treatment": den[arms.treatment],
        }
    ).dropna()
    out["gap"] = out["treatment"] - out["control"]
    out = out.reset_index().sort_values("week").reset_index(drop=True)
    return out[["week", "control", "treatment", "gap", "n_control", "n_treatment"]]


def trend_slope(weeks: np.ndarray, gap: np.ndarray) -> dict[str, float]:
    """OLS slope of the gap on the week index, with its standard error, t interval and p-value."""
    x = np.asarray(weeks, float)
    y = np.asarray(gap, float)
    k = len(x)
    if k < 3:
        return {"slope": float("nan"), "se": float("nan"), "low": float("nan"), "high": float("nan"), "p": float("nan")}
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


def _week_index(weeks: pd.Series) -> np.ndarray:
    w = pd.to_datetime(weeks)
    return ((w - w.min()).dt.days / 7.0).to_numpy()


def _centre_distance_weeks(spec: Spec, weekly: pd.DataFrame) -> float:
    """Weeks between the centres of the baseline and pilot periods."""
    p = spec.periods
    if p.baseline is not None and p.pilot is not None:
        cb = pd.Timestamp(p.baseline.start) + (pd.Timestamp(p.baseline.end) - pd.Timestamp(p.baseline.start)) / 2
        cp = pd.Timestamp(p.pilot.start) + (pd.Timestamp(p.pilot.end) - pd.Timestamp(p.pilot.start)) / 2
        return (cp - cb).days / 7.0
    wk = pd.to_datetime(weekly["week"])
    b, pl = wk[weekly["period"] == "baseline"], wk[weekly["period"] == "pilot"]
    if len(b) and len(pl):
        return ((pl.min() + (pl.max() - pl.min()) / 2) - (b.min() + (b.max() - b.min()) / 2)).days / 7.0
    return float("nan")


def check_parallel_trends(weekly: pd.DataFrame, spec: Spec) -> HealthCheck:
    """Parallel pre-trends of the two groups (DiD): slope of the weekly baseline gap per metric."""
    distance = _centre_distance_weeks(spec, weekly)
    series: dict[str, Any] = {}
    statuses, worst_text, worst_key = [], "", (-1, -1.0)
    for m in spec.metrics:
        gap = weekly_gap(weekly, spec, m.name)
        if gap is None or len(gap) < 3:
            continue
        x = _week_index(gap["week"])
        fit = trend_slope(x, gap["gap"].to_numpy())
        bias = fit["slope"] * distance if np.isfinite(distance) else float("nan")
        rel = abs(bias) / m.threshold if np.isfinite(bias) else float("nan")
        st = "ok"
        if np.isfinite(fit["p"]):
            if fit["p"] < TRENDS_ALERT_P and rel >= 0.5:
                st = "alert"
            elif fit["p"] < TRENDS_WARN_P:
                st = "warn"
        statuses.append(st)
        unit = m.info.unit
        text = (
            f"{m.info.label}: the baseline gap between groups drifts by {fit['slope']:+.3g} {unit} per week "
            f"(95% interval {fit['low']:+.3g} to {fit['high']:+.3g}, {_fmt_p(fit['p'])}), "
            f"a bias of about {bias:+.3g} {unit} on the DiD if it continued (min_effect {m.threshold:g})"
        )
        key = (STATUS_ORDER[st], rel if np.isfinite(rel) else 0.0)
        if key > worst_key:
            worst_key, worst_text = key, text
        fitted = fit.get("intercept", np.nan) + fit["slope"] * x
        series[m.name] = {
            "weeks": [str(pd.Timestamp(w).date()) for w in gap["week"]],
            "control": [_f(v) for v in gap["control"]],
            "treatment": [_f(v) for v in gap["treatment"]],
            "gap": [_f(v) for v in gap["gap"]],
            "fitted_gap": [_f(v) for v in fitted],
            "slope_per_week": _f(fit["slope"]),
            "slope_low": _f(fit["low"]),
            "slope_high": _f(fit["high"]),
            "p": _f(fit["p"]),
            "projected_bias": _f(bias),
            "min_effect": m.threshold,
            "unit": unit,
            "status": st,
        }
    if not series:
        return HealthCheck(
            "parallel_trends", "ok", "Parallel trends not checked: fewer than 3 baseline weeks with both groups.", {}
        )
    status = _worst(statuses)
    msg = worst_text + (
        ": the groups were already drifting apart, so the DiD may be biased." if status != "ok" else "."
    )
    return HealthCheck("parallel_trends", status, msg, {"metrics": series, "centre_distance_weeks": _f(distance)})


# --------------------------------------------------------------------------------------------
# A/A
# --------------------------------------------------------------------------------------------


def welch(t: np.ndarray, c: np.ndarray) -> dict[str, float]:
    """Welch comparison of two samples: difference, standard error, df, 95% interval, p."""
    t, c = np.asarray(t, float), np.asarray(c, float)
    if len(t) < 2 or len(c) < 2:
        nan = float("nan")
        return {"difference": nan, "se": nan, "df": nan, "low": nan, "high": nan, "p": nan}
    vt, vc = t.var(ddof=1) / len(t), c.var(ddof=1) / len(c)
    se = math.sqrt(vt + vc)
    diff = float(t.mean() - c.mean())
    if se == 0:
        return {"difference": diff, "se": 0.0, "df": float("inf"), "low": diff, "high": diff, "p": float(diff == 0)}
    df = (vt + vc) ** 2 / (vt**2 / (len(t) - 1) + vc**2 / (len(c) - 1))
    tq = float(stats.t.ppf(0.975, df))
    p = float(2 * stats.t.sf(abs(diff) / se, df))
    return {"difference": diff, "se": se, "df": float(df), "low": diff - tq * se, "high": diff + tq * se, "p": p}


def _aa_ab(cells: pd.DataFrame, spec: Spec) -> dict[str, dict[str, Any]]:
    base = cells[cells["period"] == "baseline"]
    units = unit_table(base, spec)
    out = {}
    for m in spec.metrics:
        if m.name not in units:
            continue
        sub = units[units[f"{m.name}_n"] > 0]
        t = sub.loc[sub["arm"] == spec.arms.treatment, m.name].to_numpy()
        c = sub.loc[sub["arm"] == spec.arms.control, m.name].to_numpy()
        r = welch(t, c)
        if np.isfinite(r["difference"]):
            out[m.name] = {**r, "method": "unit-level baseline comparison", "n_treatment": len(t), "n_control": len(c)}
    return out


def _aa_did(weekly: pd.DataFrame, spec: Spec) -> dict[str, dict[str, Any]]:
    out = {}
    for m in spec.metrics:
        gap = weekly_gap(weekly, spec, m.name)
        if gap is None or len(gap) < 4:
            continue
        half = len(gap) // 2
        g1, g2 = gap["gap"].to_numpy()[:half], gap["gap"].to_numpy()[half:]
        diff = float(g2.mean() - g1.mean())
        df = len(gap) - 2
        s2 = (((g1 - g1.mean()) ** 2).sum() + ((g2 - g2.mean()) ** 2).sum()) / df
        se = math.sqrt(s2 * (1 / len(g1) + 1 / len(g2)))
        tq = float(stats.t.ppf(0.975, df))
        p = float(2 * stats.t.sf(abs(diff) / se, df)) if se > 0 else float(diff == 0)
        out[m.name] = {
            "difference": diff,
            "se": se,
            "df": float(df),
            "low": diff - tq * se,
            "high": diff + tq * se,
            "p": p,
            "method": "placebo DiD inside the baseline (second half vs first half)",
            "weeks": len(gap),
        }
    return out


def check_aa(cells: pd.DataFrame, weekly: pd.DataFrame | None, spec: Spec) -> HealthCheck:
    """A/A: the arm labels on the baseline period must show no effect (fast, cluster level)."""
    base = cells[cells["period"] == "baseline"]
    if base.empty:
        return HealthCheck("aa", "ok", "A/A check not run: no baseline period.", {"skipped": True})
    if spec.design == "did":
        res = _aa_did(weekly, spec) if weekly is not None else {}
    else:
        if base["arm"].nunique() < 2:
            return HealthCheck("aa", "ok", "A/A check not run: the baseline carries no arm labels.", {"skipped": True})
        res = _aa_ab(cells, spec)
    if not res:
        return HealthCheck("aa", "ok", "A/A check not run: too little baseline data per arm.", {"skipped": True})
    statuses = {}
    for name, r in res.items():
        r["status"] = statuses[name] = _p_status(r["p"], AA_ALERT_P, AA_WARN_P)
        r["min_effect"] = spec.metric(name).threshold
    worst = max(res, key=lambda k: (STATUS_ORDER[statuses[k]], -res[k]["p"]))
    r = res[worst]
    unit = metric_registry.get(worst).unit
    status = _worst(statuses.values())
    msg = (
        f"A/A on the baseline ({r['method']}): {metric_registry.get(worst).label} 'effect' "
        f"{r['difference']:+.3g} {unit} "
        f"(95% interval {r['low']:+.3g} to {r['high']:+.3g}, {_fmt_p(r['p'])})"
    )
    if status == "ok":
        msg += f"; no metric of {len(res)} shows an effect before the pilot, as it should."
    else:
        msg += ": an effect before the pilot started points to broken assignment or biased data."
    data = {
        k: {kk: (_f(vv) if isinstance(vv, float | int) and not isinstance(vv, bool) else vv) for kk, vv in v.items()}
        for k, v in res.items()
    }
    return HealthCheck("aa", status, msg, {"metrics": data})


def check_aa_full(spec: Spec, cells: pd.DataFrame) -> HealthCheck:
    """A/A with the full models: :func:`qmsprint.experiments.estimate` on relabelled baseline cells.

    Slow (samples every metric's model); used with ``check_health(..., full_aa=True)``.
    """
    if spec.design == "did":
        return HealthCheck(
            "aa_model",
            "ok",
            "Model A/A not run: DiD groups may differ in level before the pilot; the placebo DiD (aa) checks them.",
            {"skipped": True},
        )
    from qmsprint.experiments import estimate

    base = cells[cells["period"] == "baseline"].copy()
    if base.empty or base["arm"].nunique() < 2:
        return HealthCheck("aa_model", "ok", "Model A/A not run: no labelled baseline period.", {"skipped": True})
    base["period"] = "pilot"
    ab = spec.model_copy(update={"design": "ab"})
    results = estimate(ab, base)
    details, statuses = {}, []
    for res in results:
        h = res.headline
        tail = min(h.prob_improve, 1 - h.prob_improve)  # one-sided posterior tail ~ half a two-sided p
        st = "alert" if tail < AA_ALERT_P / 2 else "warn" if tail < AA_WARN_P / 2 else "ok"
        statuses.append(st)
        details[res.metric] = {
            "mean": _f(h.mean),
            "hdi_low": _f(h.hdi_low),
            "hdi_high": _f(h.hdi_high),
            "prob_improve": _f(h.prob_improve),
            "status": st,
        }
    status = _worst(statuses)
    flagged = [k for k, v in details.items() if v["status"] != "ok"]
    sizes = "; ".join(
        f"{metric_registry.get(k).label} {v['mean']:+.3g} {metric_registry.get(k).unit} "
        f"(HDI {v['hdi_low']:+.3g} to {v['hdi_high']:+.3g})"
        for k, v in details.items()
    )
    msg = (
        f"Model A/A on the baseline: {', '.join(flagged)} would be called different before the pilot started ({sizes})."
        if flagged
        else f"Model A/A on the baseline: no metric of {len(details)} differs before the pilot ({sizes})."
    )
    return HealthCheck("aa_model", status, msg, {"metrics": details})


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def check_health(spec: Spec, prepared: Any, *, full_aa: bool = False) -> list[HealthCheck]:
    """Every health check that applies to a prepared pilot.

    Parameters
    ----------
    spec
        The pilot's spec.
    prepared
        A :class:`qmsprint.data.PreparedData` (uses ``cells`` and ``weekly``).
    full_aa
        Also run the A/A with the full models (slow). Default False: the fast cluster-level A/A.

    Returns
    -------
    list of HealthCheck
        ``srm_units``, ``srm_interactions``, ``response_rate``, ``contamination``, ``balance``,
        ``parallel_trends`` (DiD only), ``aa`` (and ``aa_model`` with ``full_aa``).

    """
    cells: pd.DataFrame = prepared.cells
    weekly: pd.DataFrame | None = getattr(prepared, "weekly", None)
    arms = {spec.arms.treatment, spec.arms.control}
    cells = cells[cells["arm"].astype(str).isin(arms)]
    pilot = cells[cells["period"] == "pilot"] if (cells["period"] == "pilot").any() else cells
    checks: list[HealthCheck] = []
    units = unit_table(pilot, spec)
    checks.append(check_srm_units(units, spec, label=f"{spec.unit}s"))
    checks.append(check_srm_interactions(units, spec))
    checks.append(check_response_rates(pilot, spec))
    checks.append(check_contamination(cells, spec))
    checks.append(check_balance(cells, spec))
    if spec.design == "did":
        if weekly is not None and len(weekly):
            checks.append(check_parallel_trends(weekly, spec))
        else:
            checks.append(HealthCheck("parallel_trends", "ok", "Parallel trends not checked: no weekly data.", {}))
    checks.append(check_aa(cells, weekly, spec))
    if full_aa:
        checks.append(check_aa_full(spec, cells))
    return checks
