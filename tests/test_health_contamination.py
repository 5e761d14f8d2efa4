"""Health check: agents or units in both arms, team changes (qmsprint.health.contamination)."""

from __future__ import annotations

import pandas as pd
from _health_helpers import make_cells, make_spec

from qmsprint.health import check_contamination


def test_contamination_caught():
    spec = make_spec()
    cells = make_cells(seed=2)
    clean = check_contamination(cells, spec)
    assert clean.status == "ok", clean.message
    # agent a000 also works in the control arm during the pilot; a001 moves team
    extra = cells[(cells["agent_id"] == "a000") & (cells["period"] == "pilot")].assign(arm="checklist")
    moved = cells[(cells["agent_id"] == "a001") & (cells["period"] == "pilot")].assign(team="t9")
    dirty = check_contamination(pd.concat([cells, extra, moved]), spec)
    assert dirty.status == "alert"
    assert dirty.data["agents_in_both_arms"] == ["a000"]
    assert dirty.data["agents_changed_team"] == ["a001"]
    assert "1 agent worked in both arms" in dirty.message and "changed team" in dirty.message


def test_switching_arm_between_baseline_and_pilot_is_caught():
    spec = make_spec(design="did")
    cells = make_cells(seed=2)
    cells.loc[(cells["agent_id"] == "a003") & (cells["period"] == "pilot"), "arm"] = "checklist"
    c = check_contamination(cells, spec)
    assert c.data["agents_switched_arm"] == ["a003"]
    assert c.status in ("warn", "alert")
    # a baseline where everyone was on the checklist is not a switch
    unl = make_cells(seed=2, baseline_labels=False)
    assert check_contamination(unl, make_spec()).status == "ok"
