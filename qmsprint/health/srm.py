"""Sample ratio mismatch: are units and interactions split between the arms as planned.

``srm_units``
    Randomized units (the spec's ``unit``: agents, teams or sites) per arm in the pilot period
    against ``arms.planned_split``: Pearson chi-square (1 df). Alert at p < 0.001 (the threshold
    GrowthBook, Eppo and Statsig use), warn at p < 0.01.
``srm_interactions``
    The Pearson chi-square of interactions per arm against the planned split is reported, but it
    treats interactions as independent, which they are not: units are randomized and their
    volumes differ, so with agent randomization it would flag most healthy pilots. The status
    therefore comes from a cluster-aware test: given the unit counts, is the share of
    interactions in the treatment arm what equal volume per unit implies? (z-test with the
    per-arm volume variances; delta method). Same thresholds. It catches lost or duplicated
    interactions in one arm; a skewed unit split is ``srm_units``' job.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from qmsprint.health.base import fmt_p, json_float, p_status
from qmsprint.results import HealthCheck
from qmsprint.spec import Spec
from qmsprint.stats import cluster_share_test, srm_test

__all__ = ["SRM_ALERT_P", "SRM_WARN_P", "check_srm_interactions", "check_srm_units"]

SRM_ALERT_P = 0.001
SRM_WARN_P = 0.01


def _split_text(t: float, c: float) -> str:
    tot = t + c
    return f"{100 * t / tot:.1f}/{100 * c / tot:.1f}" if tot else "0/0"


def _planned_text(spec: Spec) -> str:
    split = spec.arms.planned_split
    return f"{100 * split:.0f}/{100 * (1 - split):.0f}"


def _split_rows(spec: Spec, what: str, nt: float, nc: float) -> list[dict[str, Any]]:
    """Display rows: each program's count and share against the planned share."""
    arms, total = spec.arms, nt + nc
    planned = {arms.treatment_display: arms.planned_split, arms.control_label: 1 - arms.planned_split}
    return [
        {
            "program": name,
            what: int(n),
            "share": json_float(n / total if total else float("nan")),
            "planned": planned[name],
        }
        for name, n in ((arms.treatment_display, nt), (arms.control_label, nc))
    ]


def check_srm_units(units: pd.DataFrame, spec: Spec, label: str = "units") -> HealthCheck:
    """Units per arm against the planned split (``units``: columns ``unit``, ``arm``)."""
    arms = spec.arms
    per_arm = units.groupby("arm")["unit"].nunique()
    nt, nc = float(per_arm.get(arms.treatment, 0)), float(per_arm.get(arms.control, 0))
    chi2, p = srm_test(nc, nt, arms.planned_split)
    status = p_status(p, SRM_ALERT_P, SRM_WARN_P)
    msg = (
        f"{int(nt)} {label} on the new program and {int(nc)} on the current one "
        f"({_split_text(nt, nc)} against a planned {_planned_text(spec)}; chi-square {chi2:.2f}, {fmt_p(p)})"
    )
    msg += ": the split of units does not match the plan." if status != "ok" else "."
    return HealthCheck(
        "srm_units",
        status,
        msg,
        {
            "treatment": int(nt),
            "control": int(nc),
            "planned_split": arms.planned_split,
            "chi2": json_float(chi2),
            "p": json_float(p),
        },
        table=_split_rows(spec, label, nt, nc),
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
    z, p = cluster_share_test(t, c)
    rel = float("nan")
    if len(t) >= 2 and len(c) >= 2 and st + sc > 0:
        rel = (t.mean() / c.mean() - 1) if c.mean() > 0 else float("nan")
    status = p_status(p, SRM_ALERT_P, SRM_WARN_P)
    msg = f"Interactions split {_split_text(st, sc)} (planned {_planned_text(spec)}; Pearson {fmt_p(p_naive)})"
    if np.isfinite(rel):
        msg += f"; units on the new program handle {abs(100 * rel):.1f}% {'more' if rel >= 0 else 'fewer'} "
        msg += f"interactions each than the others (cluster-aware {fmt_p(p)})"
    msg += ": interactions may be missing or duplicated in one arm." if status != "ok" else "."
    return HealthCheck(
        "srm_interactions",
        status,
        msg,
        table=_split_rows(spec, "interactions", st, sc),
        data={
            "treatment": int(st),
            "control": int(sc),
            "planned_split": arms.planned_split,
            "chi2_pearson": json_float(chi2),
            "p_pearson": json_float(p_naive),
            "z_cluster": json_float(z),
            "p_cluster": json_float(p),
            "volume_ratio": json_float(1 + rel) if np.isfinite(rel) else None,
        },
    )
