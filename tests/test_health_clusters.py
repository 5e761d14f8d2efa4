"""Units per arm at the randomization unit: one or two per arm is an alert, a few a warning."""

from __future__ import annotations

import pandas as pd
import pytest
from _health_helpers import make_spec, prepared_pilot

from qmsprint.health import check_units_per_arm


def _units(n_treat: int, n_ctrl: int, spec) -> pd.DataFrame:
    rows = [(f"t{i}", spec.arms.treatment) for i in range(n_treat)]
    rows += [(f"c{i}", spec.arms.control) for i in range(n_ctrl)]
    return pd.DataFrame(rows, columns=["unit", "arm"])


@pytest.mark.parametrize(
    ("n_treat", "n_ctrl", "status"), [(1, 1, "alert"), (2, 6, "alert"), (3, 4, "warn"), (4, 9, "warn"), (5, 5, "ok")]
)
def test_status_by_the_fewest_units_in_an_arm(n_treat, n_ctrl, status):
    spec = make_spec().model_copy(update={"unit": "team"})
    check = check_units_per_arm(_units(n_treat, n_ctrl, spec), spec)
    assert check.name == "units_per_arm"
    assert check.status == status, check.message
    assert check.data == {
        "unit": "team",
        "treatment": n_treat,
        "control": n_ctrl,
        "alert_at_most": 2,
        "warn_below": 5,
    }
    assert check.message.endswith(".") and "teams" in check.message
    if status == "alert":
        assert "cannot be told apart from a shock to a single team" in check.message


def test_a_did_with_one_team_per_group_does_not_validate_as_ok(tmp_path):
    """Simulated DiD, 2 teams (one per group): ``qmsprint validate`` ends with an alert, not "ok"."""
    from qmsprint.api import validate

    spec, _ = prepared_pilot(tmp_path, design="did", n_agents=16, n_teams=2, n_sites=1, interactions_per_agent=80)
    result = validate(spec)
    assert result.ok  # the file and the data are valid ...
    check = {c.name: c for c in result.health}["units_per_arm"]
    assert check.status == "alert" and check.data["treatment"] == 1 and check.data["control"] == 1
    last = result.text().splitlines()[-1]
    assert last.startswith("alert:") and "units_per_arm" in last  # ... but it does not validate as ok
