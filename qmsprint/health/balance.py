"""Baseline balance: were the arms comparable before the pilot started.

``balance``
    Baseline standardized differences ``d = (mean_t - mean_c) / sqrt((sd_t^2 + sd_c^2) / 2)``
    between arms of unit-level baseline outcomes (every metric with a
    :attr:`~qmsprint.metrics.MetricDef.balance_label`: CSAT, NPS, FCR, repeat rate, handle time,
    ...), volume, QA score and tenure. ``|d| > 0.1`` is the usual sign of imbalance (Austin 2009)
    and warns; ``|d| > 0.2`` with a Welch p < 0.01 (more than chance would give) alerts in A/B
    pilots; with few units large ``|d|`` arise by chance and only warn. DiD removes stable level
    differences, so a DiD pilot only warns (and the parallel-trends check matters more).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from qmsprint import metrics as metric_registry
from qmsprint.health.base import records
from qmsprint.health.tables import unit_table
from qmsprint.results import HealthCheck
from qmsprint.spec import Spec
from qmsprint.stats import standardized_difference, welch

__all__ = [
    "BALANCE_ALERT_D",
    "BALANCE_ALERT_P",
    "BALANCE_WARN_D",
    "OTHER_BALANCE_VARIABLES",
    "balance_variables",
    "check_balance",
    "standardized_differences",
]

BALANCE_WARN_D = 0.1
BALANCE_ALERT_D = 0.2
BALANCE_ALERT_P = 0.01

# Unit-level variables of the balance table that are not outcome metrics: column -> label.
OTHER_BALANCE_VARIABLES = {
    "volume": "Baseline volume (interactions)",
    "qa_score": "Baseline QA score",
    "tenure_months": "Tenure (months)",
}

_COLUMNS = [
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


def balance_variables() -> dict[str, str]:
    """Variables of the balance table, column -> label: every metric with a balance label, then the others."""
    out = {m.name: m.balance_label for m in metric_registry.registry().values() if m.balance_label}
    return {**out, **OTHER_BALANCE_VARIABLES}


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
        Column -> label (default :func:`balance_variables`); absent or all-missing columns are skipped.

    """
    variables = variables or balance_variables()
    rows = []
    for col, label in variables.items():
        if col not in units or units[col].notna().sum() == 0:
            continue
        t = units.loc[units[arm_col] == treatment, col].dropna().astype(float)
        c = units.loc[units[arm_col] == control, col].dropna().astype(float)
        diff, sd, d = standardized_difference(t.to_numpy(), c.to_numpy())
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
    return pd.DataFrame(rows, columns=_COLUMNS)


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
    rows = records(table)
    return HealthCheck("balance", status, msg, {"table": rows}, table=rows)
