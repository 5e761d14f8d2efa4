"""The tables the health checks read: outcomes per unit (from cells) and weekly gaps between arms.

Each metric's level comes from the metric registry, so a new metric module is checked without a
change here: ordinal metrics are read on their headline scale from the level counts of their
cells (through :meth:`~qmsprint.metrics.MetricDef.cumulative_form`); binomial and continuous
metrics from the numerator and denominator of their weekly view
(:meth:`~qmsprint.metrics.MetricDef.weekly_level`), whose columns their cells carry too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from qmsprint import metrics as metric_registry
from qmsprint.metrics import MetricDef
from qmsprint.spec import Spec

__all__ = ["UNIT_VARIABLES", "metric_sums", "outcome_sums", "unit_column", "unit_table", "weekly_gap"]

# Unit-level means that are not outcome metrics: name -> (sum column, count column) of the cells.
UNIT_VARIABLES = {"qa_score": ("qa_sum", "qa_n"), "tenure_months": ("tenure_sum", "tenure_n")}


def unit_column(spec: Spec) -> str:
    """Column of the randomized unit: ``agent_id``, ``team`` or ``site``."""
    return {"agent": "agent_id", "team": "team", "site": "site"}[spec.unit]


def metric_sums(metric: MetricDef, cells: pd.DataFrame, spec: Spec) -> tuple[pd.Series, pd.Series] | None:
    """(sum of the metric on its headline scale, number of observations) per cell row, or None.

    None when the cells do not carry the metric.
    """
    count, stat_cols = metric.cell_columns(spec)
    if count not in cells:
        return None
    if metric.family == "ordinal":
        a, w = metric.cumulative_form(metric.headline.key, spec)
        # an answer at level k counts in P(Y <= level_j) for every cutpoint j >= k
        values = [a + sum(wj for j, wj in w.items() if j >= k) for k in range(len(stat_cols))]
        num = sum(v * cells[col].astype(float) for v, col in zip(values, stat_cols, strict=True) if col in cells)
        return (num if isinstance(num, pd.Series) else pd.Series(0.0, index=cells.index)), cells[count].astype(float)
    return metric.weekly_level(cells)


def outcome_sums(cells: pd.DataFrame, spec: Spec) -> pd.DataFrame:
    """Per-row numerators and denominators of each outcome on its natural scale.

    Returns a frame with ``<name>_num`` / ``<name>_den`` for every registered metric the cells
    carry (on its headline scale: CSAT points, NPS points per response, FCR and repeat contacts
    in percent, handle time in seconds, ...), then QA score and tenure, and ``volume_num``
    (interactions, ``volume_den`` 1).
    """
    out = pd.DataFrame(index=cells.index)
    for metric in metric_registry.registry().values():
        sums = metric_sums(metric, cells, spec)
        if sums is not None:
            out[f"{metric.name}_num"], out[f"{metric.name}_den"] = sums
    for name, (total, count) in UNIT_VARIABLES.items():
        if count in cells:
            out[f"{name}_num"] = cells[total].astype(float)
            out[f"{name}_den"] = cells[count].astype(float)
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
        The pilot's spec (levels of ordinal metrics).
    unit
        Grouping column (default: the spec's unit column).

    Returns
    -------
    pandas.DataFrame
        Columns ``unit``, ``arm``, ``n`` and, where the cells carry them, one column per metric
        (``csat``, ``nps``, ``fcr``, ``repeat_contact``, ``handle_time``, ...), ``qa_score``,
        ``tenure_months``, ``volume``, each with ``<name>_n`` (its denominator).

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
    # a unit's volume is its total interactions (a mean over its cells would hide lost interactions)
    out["volume"] = g["volume_num"].to_numpy() if "volume_num" in g else out["volume"]
    out["n"] = out["volume"]
    return out


def weekly_gap(weekly: pd.DataFrame, spec: Spec, metric: str, period: str = "baseline") -> pd.DataFrame | None:
    """Weekly means of each arm and their gap (treatment - control) in one period.

    Returns
    -------
    pandas.DataFrame or None
        Columns ``week``, ``control``, ``treatment``, ``gap``, ``n_control``, ``n_treatment``;
        None when the metric is not in the weekly table.

    """
    nd = metric_registry.get(metric).weekly_level(weekly)
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
