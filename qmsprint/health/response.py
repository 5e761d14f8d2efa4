"""Survey response: does each arm answer the surveys as often, and do enough customers answer.

``response_rate``
    For each survey metric of the pilot (CSAT, NPS, ...: :attr:`MetricDef.survey`), the response
    rate by arm in the pilot period, compared with a cluster-robust z-test (ratio estimator
    linearised at unit level, :func:`qmsprint.stats.ratio_difference_test`). Warn when p < 0.01
    and the relative difference is at least 5%; alert when p < 0.001 and it is at least 15%.
    A response rate below :data:`LOW_RESPONSE` over all the pilot's data (both periods, both
    arms) warns too: estimates then rest on few customers and on who chooses to answer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from qmsprint import metrics as metric_registry
from qmsprint.health.base import fmt_p, json_float, worst
from qmsprint.health.srm import SRM_ALERT_P, SRM_WARN_P
from qmsprint.health.tables import unit_column
from qmsprint.results import HealthCheck
from qmsprint.spec import Spec
from qmsprint.stats import ratio_difference_test

__all__ = ["LOW_RESPONSE", "RESPONSE_ALERT_REL", "RESPONSE_WARN_REL", "check_response_rates"]

RESPONSE_WARN_REL = 0.05
RESPONSE_ALERT_REL = 0.15
LOW_RESPONSE = 0.10  # overall share of interactions with an answer below which results rest on few customers


def _gap_status(p: float, rel: float) -> str:
    if np.isfinite(p) and np.isfinite(rel):
        if p < SRM_ALERT_P and abs(rel) >= RESPONSE_ALERT_REL:
            return "alert"
        if p < SRM_WARN_P and abs(rel) >= RESPONSE_WARN_REL:
            return "warn"
    return "ok"


def check_response_rates(cells: pd.DataFrame, spec: Spec) -> HealthCheck:
    """Survey response rate by arm (pilot period, cluster-robust test) and low overall response.

    Parameters
    ----------
    cells
        Cells of the two arms; the arm comparison uses the pilot period (all rows when there is
        none), the overall rate every row.
    spec
        The pilot's spec (its survey metrics, arms and unit).

    """
    arms = spec.arms
    unit = unit_column(spec)
    pilot = cells[cells["period"] == "pilot"] if (cells["period"] == "pilot").any() else cells
    in_spec = {m.name for m in spec.metrics}
    details: dict[str, Any] = {}
    gap_statuses, gaps, lows = [], [], []
    for metric in metric_registry.registry().values():
        col = metric.cell_columns(spec)[0] if metric.survey and metric.name in in_spec else None
        if col is None or col not in cells:
            continue
        n_all, k_all = float(cells["n"].sum()), float(cells[col].sum())
        low = bool(n_all) and k_all / n_all < LOW_RESPONSE
        if low:
            lows.append(f"{metric.label} {k_all / n_all:.1%}")
        if pilot[col].sum() == 0:
            if low:
                details[metric.name] = {"overall": json_float(k_all / n_all), "status": "warn"}
            continue
        g = pilot.groupby([unit, "arm"], sort=False)[["n", col]].sum().reset_index()
        t, c = g[g["arm"] == arms.treatment], g[g["arm"] == arms.control]
        r = ratio_difference_test(t[col].to_numpy(), t["n"].to_numpy(), c[col].to_numpy(), c["n"].to_numpy())
        rt, rc, diff, se, p = r["treatment"], r["control"], r["difference"], r["se"], r["p"]
        rel = diff / rc if rc and np.isfinite(rc) and rc > 0 else float("nan")
        st = _gap_status(p, rel)
        gap_statuses.append(st)
        gaps.append(
            f"{metric.label} response rate {100 * rt:.1f}% on the new program vs {100 * rc:.1f}% on the current one "
            f"({100 * diff:+.1f} pp, {100 * rel:+.0f}% relative, {fmt_p(p)})"
        )
        details[metric.name] = {
            "treatment": json_float(rt),
            "control": json_float(rc),
            "difference_pp": json_float(100 * diff),
            "relative": json_float(rel),
            "se_pp": json_float(100 * se),
            "p": json_float(p),
            "overall": json_float(k_all / n_all) if n_all else None,
            "status": worst([st, "warn" if low else "ok"]),
        }
    if not details:
        return HealthCheck("response_rate", "ok", "No survey metric in this pilot: response rates not checked.", {})
    gap_status = worst(gap_statuses)
    msg = "; ".join(gaps)
    if gap_status != "ok":
        msg += ": a response gap between arms can bias survey results"
    if lows:
        low_text = (
            f"low survey response ({', '.join(lows)} of interactions answered, below {LOW_RESPONSE:.0%}): "
            "estimates rest on few customers and on who chooses to answer"
        )
        msg = f"{msg}; {low_text}" if msg else low_text[0].upper() + low_text[1:]
    msg += "."
    table = [
        {
            "metric": metric_registry.get(name).label,
            "new program": d.get("treatment"),
            "current program": d.get("control"),
            "difference (pp)": d.get("difference_pp"),
            "p": d.get("p"),
            "overall response": d.get("overall"),
            "status": d["status"],
        }
        for name, d in details.items()
    ]
    return HealthCheck("response_rate", worst([gap_status, "warn" if lows else "ok"]), msg, details, table=table)
