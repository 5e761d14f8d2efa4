"""Designing a pilot: how many agents and weeks (assurance), who gets the new program (assignment).

- :mod:`~qmsprint.design.baseline`: what the baseline period (or stated rates) says about each
  metric: :func:`fit_baseline`, :func:`baseline_from_rates` -> :class:`Baseline` of
  :class:`MetricBaseline`.
- :mod:`~qmsprint.design.simulation`: closed-form and simulated assurance of one grid cell.
- :mod:`~qmsprint.design.assurance`: :func:`plan_pilot` over the grid of sizes -> :class:`PlanResult`.
- :mod:`~qmsprint.design.extension`: :func:`variance_parts`, the variance decomposition of a
  pilot's own data behind the recommendation's "extend" advice.
- :mod:`~qmsprint.design.assignment`: :func:`assign_units` (stratified, blocked randomization with
  a balance table) -> :class:`AssignmentResult`.

Their sentences and the assurance figure are in :mod:`qmsprint.present.design`; files are written
by :mod:`qmsprint.store`.
"""

from qmsprint.design.assignment import AssignmentResult, assign_units, unit_frame
from qmsprint.design.assurance import PlanResult, plan_pilot
from qmsprint.design.baseline import Baseline, MetricBaseline, baseline_from_rates, fit_baseline, history_frame
from qmsprint.design.extension import variance_parts

__all__ = [
    "AssignmentResult",
    "Baseline",
    "MetricBaseline",
    "PlanResult",
    "assign_units",
    "baseline_from_rates",
    "fit_baseline",
    "history_frame",
    "plan_pilot",
    "unit_frame",
    "variance_parts",
]
