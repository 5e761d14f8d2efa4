"""Before/after without a control group (``design = "prepost"``): an interrupted time series on weekly cells.

Every unit switches to the new program at the start of the pilot period. The model
(:mod:`qmsprint.models.event_time`) fits the weekly level with agent effects, a linear trend, a
seasonal cycle (``[prepost] season_weeks``, when the data cover at least one cycle) and
week-to-week variation, and reads the effect as the shift at the switch against that trend and
season carried into the pilot. With no control group, anything else that changed at the switch
(a product launch, a new policy, a staffing change) is in the estimate: every result carries
that caveat (:data:`NO_CONTROL_NOTE`), and the recommendation is at most ``extend`` unless the
experiment file sets ``[prepost] allow_decisive = true`` (:mod:`qmsprint.decide.limits`).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from qmsprint.errors import Problem
from qmsprint.experiments import rollout
from qmsprint.experiments.rollout import TimeTerms, week_number
from qmsprint.models.event_time import season_features
from qmsprint.progress import Progress
from qmsprint.results import MetricResult
from qmsprint.spec import Spec
from qmsprint.words import counted

NO_CONTROL_NOTE = (
    "no control group: a before/after comparison reads the change at the switch against the trend and season "
    "of the weeks before; anything else that changed at the same time is in the estimate too"
)


class PrePost:
    """Before/after on weekly cells: trend, season and a level shift (a roll-out design of :mod:`.rollout`)."""

    KIND: Literal["prepost"] = "prepost"
    PERIODS = ("baseline", "pilot")

    def check_cells(self, spec: Spec, cells: pd.DataFrame) -> list[Problem]:
        """Weeks before and after the switch."""
        problems = []
        weeks = cells.groupby(cells["period"].astype(str))["week"].nunique()
        for p in self.PERIODS:
            if weeks.get(p, 0) < 2:
                problems.append(
                    Problem(f"periods.{p}", f"a before/after comparison needs at least 2 weeks of {p} data")
                )
        return problems

    def time_terms(self, spec: Spec, cells: pd.DataFrame) -> TimeTerms:
        """Week index, trend and seasonal columns of collapsed cells; the pilot period is on the new program."""
        pp = spec.prepost
        wnum = week_number(cells["week"])
        n_weeks = int(wnum.max()) + 1
        notes = [NO_CONTROL_NOTE]
        weeks = np.arange(n_weeks)
        time = (weeks - (n_weeks - 1) / 2) / max(n_weeks - 1, 1)
        season = np.zeros((n_weeks, 0))
        if pp.season_weeks > 0:
            if n_weeks >= pp.season_weeks:
                season = season_features(weeks, pp.season_weeks, pp.harmonics)
                notes.append(f"seasonal cycle of {pp.season_weeks} weeks ({counted(pp.harmonics, 'harmonic')})")
            else:
                notes.append(
                    f"no seasonal terms: the data cover {n_weeks} weeks, less than one {pp.season_weeks}-week cycle; "
                    "a seasonal swing at the switch would be read as an effect"
                )
        if pp.trend:
            notes.append("linear trend over the weeks, carried into the pilot period")
        active = (cells["period"].astype(str) == "pilot").to_numpy().astype(float)
        arrays: dict[str, Any] = {"week": wnum, "n_weeks": n_weeks, "time": time, "season": season, "trend": pp.trend}
        return TimeTerms(keep=np.ones(len(cells), bool), active=active, arrays=arrays, notes=notes)

    def estimate(
        self,
        spec: Spec,
        cells: pd.DataFrame,
        *,
        progress: Progress | None = None,
        prior: dict[str, tuple[float, float]] | None = None,
    ) -> list[MetricResult]:
        """Estimate every metric (see :func:`qmsprint.experiments.rollout.estimate`)."""
        return rollout.estimate(spec, cells, self, progress=progress, prior=prior)

    def prior_predictive(self, spec: Spec, cells: pd.DataFrame, *, draws: int = 500) -> dict[str, dict[str, Any]]:
        """Prior predictive check per metric."""
        return rollout.prior_predictive(spec, cells, self, draws=draws)
