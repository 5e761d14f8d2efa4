"""Randomization units per arm: whether the program can be told apart from a shock to one unit.

``units_per_arm``
    Randomization units (the spec's ``unit``: agents, teams or sites) with pilot-period data in
    each arm. The precision of a cluster-randomized pilot is limited by the number of clusters,
    not of interactions: with one or two teams per arm, a staffing change or a launch that hits
    one team in the pilot period moves the arm difference as much as the program would, and no
    model can separate the two (the unit x period variance has almost nothing to be estimated
    from). Alert at :data:`ALERT_UNITS` or fewer per arm, warn below :data:`WARN_UNITS`.
"""

from __future__ import annotations

import pandas as pd

from qmsprint.results import HealthCheck
from qmsprint.spec import Spec

__all__ = ["ALERT_UNITS", "WARN_UNITS", "check_units_per_arm"]

ALERT_UNITS = 2
WARN_UNITS = 5


def check_units_per_arm(units: pd.DataFrame, spec: Spec) -> HealthCheck:
    """Units per arm (``units``: one row per unit with ``unit`` and ``arm``, pilot period)."""
    arms = spec.arms
    per_arm = units.groupby("arm")["unit"].nunique()
    nt, nc = int(per_arm.get(arms.treatment, 0)), int(per_arm.get(arms.control, 0))
    fewest = min(nt, nc)
    label = f"{spec.unit}s"
    counts = f"{nt} {label} on the new program and {nc} on the current one"
    if fewest <= ALERT_UNITS:
        status = "alert"
        msg = (
            f"Only {counts}: with {fewest} {spec.unit if fewest == 1 else label} in an arm, the program's effect "
            f"cannot be told apart from a shock to a single {spec.unit} (a staffing change, a launch) in the "
            f"pilot period; results describe these {label}, not the program."
        )
    elif fewest < WARN_UNITS:
        status = "warn"
        msg = (
            f"Few {label} per arm ({counts}): the estimate leans on the between-{spec.unit} variance the model "
            f"infers from {nt + nc} {label}; intervals are wide and sensitive to its prior."
        )
    else:
        status = "ok"
        msg = f"{counts} (at least {WARN_UNITS} per arm)."
    return HealthCheck(
        "units_per_arm",
        status,
        msg,
        {"unit": spec.unit, "treatment": nt, "control": nc, "alert_at_most": ALERT_UNITS, "warn_below": WARN_UNITS},
    )
