"""Arms of the roll-out designs: each row's program from the switch table, or from the period.

``design = "waves"`` with a ``[waves] switch`` table: a row is on the new program (the treatment
arm) from its unit's switch day on, before it on the current one (the control arm); units not in
the table never switch. The data's own ``arm`` column is then optional and, when present,
replaced. Without a table the data's ``arm`` column says when each unit switched.
``design = "prepost"``: every row of the pilot period is on the new program, every baseline row on
the current one (there is no control group).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from qmsprint.spec import Spec
from qmsprint.spec_rollout import WEEKLY_DESIGNS

__all__ = ["WEEKLY_DESIGNS", "derives_arm", "unit_key", "with_rollout_arm"]


def unit_key(spec: Spec) -> str:
    """Canonical column of the switching unit (``team``, ``site`` or ``agent_id``)."""
    return {"agent": "agent_id", "team": "team", "site": "site"}[spec.unit]


def derives_arm(spec: Spec) -> bool:
    """Whether the arm of each row comes from the experiment file (prepost, waves with a switch table)."""
    return spec.design == "prepost" or (spec.design == "waves" and bool(spec.waves.switch))


def with_rollout_arm(t: ir.Table, spec: Spec) -> ir.Table:
    """``t`` with ``arm`` set from the switch table or the period (unchanged for other designs).

    ``t`` needs ``timestamp``, ``period`` and the unit's column.
    """
    if not derives_arm(spec):
        return t
    ctrl, trt = spec.arms.control, spec.arms.treatment
    if spec.design == "prepost":
        arm = ibis.ifelse(t.period == "pilot", trt, ctrl)
    else:
        day = (
            t[unit_key(spec)]
            .cast("string")
            .substitute({u: ibis.literal(d, "date") for u, d in spec.waves.switch.items()}, else_=ibis.null("date"))
        )
        arm = ibis.ifelse(day.notnull() & (t.timestamp.date() >= day), trt, ctrl)
    return t.mutate(arm=arm.cast("string"))
