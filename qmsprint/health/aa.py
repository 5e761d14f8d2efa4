"""A/A on the baseline: the arm labels before the pilot must show no effect.

``aa``
    A/B: the cluster-level comparison (Welch t on unit means, :func:`qmsprint.stats.welch`) of
    baseline outcomes by arm. DiD: a placebo DiD inside the baseline (second half minus first half
    of the weekly gap, :func:`qmsprint.stats.student_t`). Warn at p < 0.01, alert at p < 0.001.
``aa_model``
    With ``check_health(..., full_aa=True)``, :func:`qmsprint.experiments.estimate` on the
    baseline cells relabelled as a pilot (slow): warn when the posterior probability of a
    difference in either direction exceeds 0.995 (alert 0.9995), the Bayesian counterpart of the
    same thresholds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from qmsprint import metrics as metric_registry
from qmsprint.health.base import STATUS_ORDER, fmt_p, json_float, p_status, worst
from qmsprint.health.tables import unit_table, weekly_gap
from qmsprint.results import HealthCheck
from qmsprint.spec import Spec
from qmsprint.stats import student_t, welch

__all__ = ["AA_ALERT_P", "AA_WARN_P", "check_aa", "check_aa_full"]

AA_WARN_P = 0.01
AA_ALERT_P = 0.001


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
        g = gap["gap"].to_numpy()
        out[m.name] = {
            **student_t(g[half:], g[:half]),
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
        r["status"] = statuses[name] = p_status(r["p"], AA_ALERT_P, AA_WARN_P)
        r["min_effect"] = spec.metric(name).threshold
    worst_name = max(res, key=lambda k: (STATUS_ORDER[statuses[k]], -res[k]["p"]))
    r = res[worst_name]
    info = metric_registry.get(worst_name)
    status = worst(statuses.values())
    msg = (
        f"A/A on the baseline ({r['method']}): {info.label} 'effect' "
        f"{r['difference']:+.3g} {info.unit} "
        f"(95% interval {r['low']:+.3g} to {r['high']:+.3g}, {fmt_p(r['p'])})"
    )
    if status == "ok":
        msg += f"; no metric of {len(res)} shows an effect before the pilot, as it should."
    else:
        msg += ": an effect before the pilot started points to broken assignment or biased data."
    data = {
        k: {
            kk: (json_float(vv) if isinstance(vv, float | int) and not isinstance(vv, bool) else vv)
            for kk, vv in v.items()
        }
        for k, v in res.items()
    }
    table = [{"metric": metric_registry.get(k).label, **v} for k, v in data.items()]
    return HealthCheck("aa", status, msg, {"metrics": data}, table=table)


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
            "mean": json_float(h.mean),
            "hdi_low": json_float(h.hdi_low),
            "hdi_high": json_float(h.hdi_high),
            "prob_improve": json_float(h.prob_improve),
            "status": st,
        }
    status = worst(statuses)
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
    table = [{"metric": metric_registry.get(k).label, **v} for k, v in details.items()]
    return HealthCheck("aa_model", status, msg, {"metrics": details}, table=table)
