"""Health checks of a pilot: is it running as designed, and can its comparison be trusted.

:func:`check_health` runs every check that applies to a prepared pilot and returns one
:class:`~qmsprint.results.HealthCheck` per check, each with a status (``ok``, ``warn``, ``alert``),
one plain-language sentence with the size of the problem, and JSON-able details for tables and
plots. It only sums cells and weekly series (no model fitting), so it is fast enough for
``qmsprint validate``.

One check per module, each documenting its test and thresholds:

- :mod:`~qmsprint.health.srm`: sample ratio mismatch of units and of interactions (``srm_units``,
  ``srm_interactions``);
- :mod:`~qmsprint.health.clusters`: randomization units per arm (``units_per_arm``: one or two per
  arm cannot be told apart from a unit shock);
- :mod:`~qmsprint.health.response`: survey response by arm and low response (``response_rate``);
- :mod:`~qmsprint.health.contamination`: agents or units in both arms, team changes;
- :mod:`~qmsprint.health.balance`: baseline standardized differences between arms (``balance``);
- :mod:`~qmsprint.health.trends`: parallel pre-trends of a DiD (``parallel_trends``);
- :mod:`~qmsprint.health.aa`: A/A on the baseline (``aa``, and ``aa_model`` with the full models);
- :mod:`~qmsprint.health.rollout`: the roll-out designs' checks (``waves``, ``pre_trends`` per wave,
  ``srm_interactions`` at the switch, ``no_control`` for before/after, ``response_rate``).

:mod:`~qmsprint.health.base` holds the statuses and number helpers they share,
:mod:`~qmsprint.health.tables` the unit and weekly tables they read; the statistical tests
themselves live in :mod:`qmsprint.stats`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from qmsprint.health.aa import check_aa, check_aa_full
from qmsprint.health.balance import balance_variables, check_balance, standardized_differences
from qmsprint.health.base import STATUS_ORDER
from qmsprint.health.clusters import check_units_per_arm
from qmsprint.health.contamination import check_contamination
from qmsprint.health.response import check_response_rates
from qmsprint.health.rollout import check_rollout
from qmsprint.health.srm import check_srm_interactions, check_srm_units
from qmsprint.health.tables import outcome_sums, unit_column, unit_table, weekly_gap
from qmsprint.health.trends import check_parallel_trends
from qmsprint.results import HealthCheck
from qmsprint.spec import Spec

__all__ = [
    "STATUS_ORDER",
    "balance_variables",
    "check_aa",
    "check_aa_full",
    "check_balance",
    "check_contamination",
    "check_health",
    "check_parallel_trends",
    "check_response_rates",
    "check_srm_interactions",
    "check_srm_units",
    "check_units_per_arm",
    "outcome_sums",
    "standardized_differences",
    "unit_column",
    "unit_table",
    "weekly_gap",
]


def check_health(spec: Spec, prepared: Any, *, full_aa: bool = False) -> list[HealthCheck]:
    """Every health check that applies to a prepared pilot.

    Parameters
    ----------
    spec
        The pilot's spec.
    prepared
        A :class:`qmsprint.data.PreparedData` (uses ``cells`` and ``weekly``).
    full_aa
        Also run the A/A with the full models (slow). Default False: the fast cluster-level A/A.

    Returns
    -------
    list of HealthCheck
        ``srm_units``, ``units_per_arm``, ``srm_interactions``, ``response_rate``, ``contamination``, ``balance``,
        ``parallel_trends`` (DiD only), ``aa`` (and ``aa_model`` with ``full_aa``).

    """
    cells: pd.DataFrame = prepared.cells
    if spec.design in ("waves", "prepost"):  # roll-out designs: weekly cells, their own checks
        return check_rollout(spec, cells)
    weekly: pd.DataFrame | None = getattr(prepared, "weekly", None)
    arms = {spec.arms.treatment, spec.arms.control}
    cells = cells[cells["arm"].astype(str).isin(arms)]
    pilot = cells[cells["period"] == "pilot"] if (cells["period"] == "pilot").any() else cells
    checks: list[HealthCheck] = []
    units = unit_table(pilot, spec)
    checks.append(check_srm_units(units, spec, label=f"{spec.unit}s"))
    checks.append(check_units_per_arm(units, spec))
    checks.append(check_srm_interactions(units, spec))
    checks.append(check_response_rates(cells, spec))
    checks.append(check_contamination(cells, spec))
    checks.append(check_balance(cells, spec))
    if spec.design == "did":
        if weekly is not None and len(weekly):
            checks.append(check_parallel_trends(weekly, spec))
        else:
            checks.append(HealthCheck("parallel_trends", "ok", "Parallel trends not checked: no weekly data.", {}))
    checks.append(check_aa(cells, weekly, spec))
    if full_aa:
        checks.append(check_aa_full(spec, cells))
    return checks
