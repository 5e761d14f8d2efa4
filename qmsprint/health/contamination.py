"""Contamination: agents or units exposed to both programs, and agents who changed team.

``contamination``
    Units or agents found in both arms (in the pilot period; for DiD and for A/B baselines that
    carry the future arm labels, also between periods), and agents who changed team. Alert when
    agents in both arms carry at least 1% of the pilot's interactions, warn for anything less
    and for team changes.
"""

from __future__ import annotations

import pandas as pd

from qmsprint.health.base import json_float, worst
from qmsprint.health.tables import unit_column
from qmsprint.results import HealthCheck
from qmsprint.spec import Spec

__all__ = ["CONTAMINATION_ALERT_SHARE", "check_contamination"]

CONTAMINATION_ALERT_SHARE = 0.01


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
        status = worst([status, "alert"])
        problems.append(f"{len(units_both)} {spec.unit}{'s' if len(units_both) != 1 else ''} appear in both arms")
    if team_changes:
        status = worst([status, "warn"])
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
            "share_of_interactions": json_float(share),
        },
        table=[
            {"what": "agents who worked in both arms", "count": len(both)},
            {"what": "agents who switched arm", "count": len(switched)},
            {"what": f"{spec.unit}s in both arms", "count": len(units_both)},
            {"what": "agents who changed team", "count": len(team_changes)},
            {"what": "share of the pilot's interactions affected", "count": json_float(share)},
        ],
    )
