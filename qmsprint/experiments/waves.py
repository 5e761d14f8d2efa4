"""Staggered roll-out (``design = "waves"``): units switch to the new program on their own dates.

Each switching unit (the spec's ``unit``: team, site or agent) is on the current program until its
switch and on the new one from then on (the ``arm`` of its cells: from the experiment file's
``[waves] switch`` table, or as the data record it). A unit's switch week is the first week it has
cells on the new program; units with the same switch week form a wave. The model
(:mod:`qmsprint.models.event_time`) compares every wave, week by week, only with the units still on
the current program that week (not yet switched or never switching), and estimates one effect per
wave x weeks since the switch, partially pooled. Reported: the overall effect over every
interaction on the new program, the effect per wave and per week since the switch
(``MetricResult.event_effects``).

Cells left out, each with a note: units that are on the new program from their first week in the
data (nothing to compare them with before), and weeks in which every unit is on the new program
(no comparison group that week).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from qmsprint.errors import Problem
from qmsprint.experiments import rollout
from qmsprint.experiments.rollout import TimeTerms
from qmsprint.progress import Progress
from qmsprint.results import MetricResult
from qmsprint.spec import Spec
from qmsprint.words import counted

WAVE = "wave"
EVENT = "weeks_since_switch"


def unit_column(spec: Spec) -> str:
    """Column of the switching unit."""
    return {"agent": "agent_id", "team": "team", "site": "site"}[spec.unit]


def switch_weeks(spec: Spec, cells: pd.DataFrame) -> pd.Series:
    """Switch week (ISO Monday) of every unit that switched, indexed by unit id (sorted)."""
    col = unit_column(spec)
    on = cells[cells["arm"].astype(str) == spec.arms.treatment]
    return on.groupby(on[col].astype(str))["week"].min().astype(str).sort_index()


class Waves:
    """Staggered roll-out: a hierarchical event study on weekly cells (a roll-out design of :mod:`.rollout`)."""

    KIND: Literal["waves"] = "waves"
    PERIODS = ("baseline", "pilot")

    def check_cells(self, spec: Spec, cells: pd.DataFrame) -> list[Problem]:
        """A unit column, units that switch, and cells not on the new program to compare them with."""
        col = unit_column(spec)
        if col not in cells.columns:
            return [Problem(col, f"column missing from the cells (the switching unit is the {spec.unit})")]
        problems = []
        sw = switch_weeks(spec, cells)
        if sw.empty:
            problems.append(
                Problem(
                    "arm",
                    f"no unit is on the new program ({spec.arms.treatment!r}): give [waves] switch dates in the "
                    "experiment file or the arm column in the data",
                )
            )
        return problems

    def time_terms(self, spec: Spec, cells: pd.DataFrame) -> TimeTerms:
        """Calendar weeks, switching unit x week, and wave x weeks-since-switch terms of collapsed cells."""
        col = unit_column(spec)
        notes: list[str] = []
        unit = cells[col].astype(str)
        week = pd.to_datetime(cells["week"].astype(str))
        on = (cells["arm"].astype(str) == spec.arms.treatment).to_numpy()
        sw = pd.to_datetime(switch_weeks(spec, cells))
        first = week.groupby(unit).transform("min")
        unit_switch = unit.map(sw)
        always = (unit_switch <= first).to_numpy()
        keep = ~always
        if always.any():
            names = sorted(unit[always].unique())
            notes.append(
                f"{counted(len(names), spec.unit)} on the new program from their first week in the data left out "
                f"(no weeks before their switch to compare with): {', '.join(names[:8])}"
            )
        # weeks with no cell off the new program have no comparison group
        off_weeks = set(week[keep & ~on])
        no_comp = keep & ~week.isin(off_weeks).to_numpy()
        if no_comp.any():
            lost = sorted({d.date().isoformat() for d in week[no_comp]})
            notes.append(
                f"{counted(len(lost), 'week')} in which every {spec.unit} was on the new program left out (no "
                f"comparison group): {', '.join(lost[:6])}{' ...' if len(lost) > 6 else ''}"
            )
            keep &= ~no_comp
        w = week[keep]
        u = unit[keep]
        act = on[keep]
        wk = w.dt.strftime("%Y-%m-%d")
        weeks = sorted(wk.unique())
        week_idx = wk.map({d: i for i, d in enumerate(weeks)}).to_numpy()
        # waves: units grouped by switch week (among the kept cells on the new program)
        sw_kept = u.map(sw)
        sw_text = sw_kept.dt.strftime("%Y-%m-%d")
        wave_dates = sorted(sw_text[act].dropna().unique())
        wave = np.where(act, sw_text.map({d: i for i, d in enumerate(wave_dates)}).fillna(-1).to_numpy(), -1)
        wave = wave.astype(int)
        since = np.where(act, ((w - sw_kept) / pd.Timedelta(days=7)).fillna(0).round().to_numpy(), -1).astype(int)
        e_max = spec.waves.event_weeks
        bins = np.where(act, np.minimum(since, e_max - 1), -1)
        n_events = int(bins.max()) + 1 if act.any() else 1
        pooled = act.any() and int(since[act].max()) > e_max - 1
        event_labels = [str(e) for e in range(n_events)]
        if pooled:
            event_labels[-1] = f"{n_events - 1}+"
        pairs = sorted({(int(g), int(e)) for g, e in zip(wave[act], bins[act], strict=True)})
        pair_index = {p: i + 1 for i, p in enumerate(pairs)}
        pair = np.array(
            [pair_index.get((int(g), int(e)), 0) if a else 0 for g, e, a in zip(wave, bins, act, strict=True)], int
        )
        # switching unit x week variation (agents: their team's)
        cluster = cells["team"].astype(str)[keep] if spec.unit == "agent" else u
        arrays: dict[str, Any] = {
            "week": week_idx,
            "n_weeks": len(weeks),
            "pair": pair,
            "pair_event": np.array([e for _, e in pairs], int),
            "n_events": n_events,
        }
        if cluster.nunique() >= 2:
            cw = cluster + "\x1f" + wk
            codes = {k: i for i, k in enumerate(sorted(cw.unique()))}
            arrays["unit_week"] = cw.map(codes).to_numpy()
            arrays["n_unit_weeks"] = len(codes)
        groupings = [
            (WAVE, wave, list(wave_dates)),
            (EVENT, bins, event_labels),
        ]
        never = sorted(set(unit[keep]) - set(sw.index))
        notes.append(
            f"staggered roll-out: {counted(len(wave_dates), 'wave')} of {spec.unit}s, "
            f"{counted(len(never), spec.unit)} never switching; each wave compared only with units not yet (or "
            "never) on the new program in the same week"
        )
        return TimeTerms(keep=keep, active=act.astype(float), arrays=arrays, groupings=groupings, notes=notes)

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
