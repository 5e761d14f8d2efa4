"""How much more data would settle a pilot, from the variance decomposition of its own data.

A metric's posterior variance shrinks with more data, but not all of it with more weeks. The
variance of one randomized unit's summary (its mean over the pilot in an A/B, its change from
the baseline in a DiD) splits as :class:`VarianceParts`:

* **between units**: how much units' true levels differ (A/B). More weeks of the same units do
  not reduce it; more units do;
* **unit x period**: shocks that move a unit's level between the baseline and the pilot (DiD),
  and the noise of the baseline period: fixed once the pilot period is chosen;
* **interaction noise** of the pilot period: shrinks in proportion to its length.

With ``q`` the share of the variance more weeks can reduce (interaction noise / total) and ``f``
the factor by which the variance must shrink (:attr:`Verdict.more_data_factor`), more weeks settle
the metric only if ``1 / f > 1 - q``, after ``w' = w q / (1 / f - (1 - q))`` weeks in all; more
units per arm (same weeks) shrink every part alike: ``f`` times the units. Without a
decomposition (no pilot rows), all of the variance is assumed to shrink with weeks, and the
extension says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from qmsprint.decide.verdicts import Verdict
from qmsprint.results import MetricResult
from qmsprint.spec import Spec

MAX_PRACTICAL_FACTOR = 4.0  # more than 3x the data so far is said to be impractical


@dataclass(frozen=True)
class VarianceParts:
    """Variance of one randomized unit's summary in the pilot, by what more data reduces (unit of the metric, squared).

    Attributes
    ----------
    between_unit
        Between units (A/B): not reduced by more weeks.
    unit_period
        Unit x period shocks and baseline noise (DiD): not reduced by more pilot weeks.
    noise
        Interaction noise of the pilot period at its current length: shrinks as 1 / weeks.
    units_per_arm
        Randomized units in the smaller arm.
    agents_per_unit
        Agents per randomized unit (1 when agents are randomized).

    """

    between_unit: float
    unit_period: float
    noise: float
    units_per_arm: int
    agents_per_unit: float = 1.0

    @property
    def weeks_share(self) -> float:
        """Share of the variance that more weeks reduce (``q``)."""
        total = self.between_unit + self.unit_period + self.noise
        return self.noise / total if total > 0 else 1.0

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (with ``weeks_share``)."""
        return {**asdict(self), "weeks_share": self.weeks_share}


def weeks_factor(factor: float, q: float) -> float:
    """Factor of the current weeks that shrinks the variance ``factor`` times (``inf`` when weeks cannot)."""
    room = 1.0 / factor - (1.0 - q)
    if factor <= 1.0:
        return 1.0
    return q / room if room > 1e-12 else math.inf


def pilot_weeks(spec: Spec) -> float | None:
    """Length of the spec's pilot period in weeks (None without one)."""
    p = spec.periods.pilot
    return None if p is None else ((p.end - p.start).days + 1) / 7.0


def extension(
    spec: Spec,
    results: Sequence[MetricResult],
    verdicts: Mapping[str, Verdict],
    metrics: Sequence[str],
    weeks: float | None,
    parts: Mapping[str, VarianceParts] | None = None,
) -> dict[str, Any]:
    """The data that would settle ``metrics`` (those with a ``more_data_factor``; see the module doc).

    Returns
    -------
    dict
        ``metrics``; ``factor`` (the largest over them); ``current_weeks``; ``more_weeks`` (None
        when more weeks alone cannot settle it, or the pilot length is unknown) and
        ``weeks_can_settle``; ``current_agents_per_arm`` and ``more_agents_per_arm`` (over the same
        weeks); ``practical`` (factor at most :data:`MAX_PRACTICAL_FACTOR`); ``basis``
        (``variance decomposition`` or ``assumed``: all variance shrinking with weeks); and
        ``per_metric`` with each metric's factor, weeks share, more weeks and more agents.

    """
    w = weeks if weeks is not None else pilot_weeks(spec)
    parts = parts or {}
    per: dict[str, dict[str, Any]] = {}
    for name in metrics:
        f = verdicts[name].more_data_factor or 1.0
        r = next((x for x in results if x.metric == name), None)
        units = [int(n) for n in (r.n_units.values() if r else []) if n]
        agents = min(units) if units else None
        vp = parts.get(name)
        q = vp.weeks_share if vp is not None else 1.0
        wf = weeks_factor(f, q)
        per[name] = {
            "factor": f,
            "weeks_share": q,
            "weeks_factor": wf,
            "more_weeks": None if (w is None or math.isinf(wf)) else max(0, math.ceil((wf - 1.0) * w - 1e-9)),
            "current_agents_per_arm": agents,
            "more_agents_per_arm": None if agents is None else max(0, math.ceil((f - 1.0) * agents - 1e-9)),
            "parts": vp.to_dict() if vp is not None else None,
        }
    factor = max((p["factor"] for p in per.values()), default=1.0)
    can = all(not math.isinf(p["weeks_factor"]) for p in per.values())
    more_weeks = [p["more_weeks"] for p in per.values()]
    more_agents = [p["more_agents_per_arm"] for p in per.values()]
    agents_now = [p["current_agents_per_arm"] for p in per.values() if p["current_agents_per_arm"] is not None]
    return {
        "metrics": list(metrics),
        "factor": factor,
        "current_weeks": w,
        "more_weeks": max(more_weeks) if can and more_weeks and None not in more_weeks else None,
        "weeks_can_settle": can,
        "current_agents_per_arm": min(agents_now) if agents_now else None,
        "more_agents_per_arm": max(more_agents) if more_agents and None not in more_agents else None,
        "practical": factor <= MAX_PRACTICAL_FACTOR,
        "basis": "variance decomposition" if all(name in parts for name in metrics) else "assumed",
        "per_metric": per,
    }
