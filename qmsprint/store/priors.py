"""Repeat pilots: an earlier run's latent treatment effects as the priors of a new run, only when that is safe.

A prior from an earlier run (``[model] prior_from``) adds that run's evidence to this one's, so it
must be *other* evidence about *the same* quantity. Two checks refuse it otherwise, each problem
reported with what differs (:class:`~qmsprint.errors.SpecError` on ``model.prior_from``):

:func:`prior_from_run` (before any data is read): the latent effect must mean the same thing.
    Same ``model.adjust_for``, ``model.reweight_by``, ``segments`` and ``model.team_effects`` (the
    latent effect is the effect at the reference level of each adjustment and segment, conditional on
    them), the same program (``arms.program``), and the same definition of each metric used as a
    prior (``source``, ``csat_scale``, the repeat-contact window).
:func:`check_prior_data` (after this run's data is prepared, before any fitting): the data must differ.
    Not the same data fingerprint; no overlap between the periods the two estimates used
    (declared periods, else the weeks actually in the data), unless the two runs share no agent (a
    pilot in another business unit over the same months; agents are compared by their pseudonyms,
    teams when agents cannot be); and the same reference level (most frequent value) of every
    adjustment and segment column.

Evidence from the same agents over a later period is allowed, but their lasting differences are
then counted in both runs (the combined posterior is somewhat too sure); :func:`check_prior_data`
returns a note saying so, and the report repeats it.
:func:`design_prior_from_run` gives the assurance the earlier posterior of each headline effect.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qmsprint.errors import BundleError, Problem, SpecError
from qmsprint.spec import Spec
from qmsprint.store.runs_read import RunBundle, load_run
from qmsprint.words import counted

WHERE = "model.prior_from"


def _earlier(spec: Spec) -> RunBundle:
    path = spec.resolve(spec.model.prior_from or "")
    try:
        return load_run(path)
    except BundleError as err:
        raise BundleError(f"model.prior_from: {err}", err.problems) from None


def _differ(what: str, earlier: Any, now: Any) -> Problem | None:
    if earlier == now:
        return None
    return Problem(WHERE, f"{what} differ: the earlier run used {earlier or 'none'}, this run uses {now or 'none'}")


def _definition_problems(old: Spec, spec: Spec, metrics: list[str]) -> list[Problem]:
    """What makes the earlier run's latent effect mean something else than this run's."""
    found = [
        _differ("adjustments (model.adjust_for)", sorted(old.model.adjust_for), sorted(spec.model.adjust_for)),
        _differ("reweighting (model.reweight_by)", sorted(old.model.reweight_by), sorted(spec.model.reweight_by)),
        _differ("segments", sorted(old.segments), sorted(spec.segments)),
        _differ("team effects (model.team_effects)", old.model.team_effects, spec.model.team_effects),
        _differ("programs (arms.program)", old.arms.program, spec.arms.program),
    ]
    for name in metrics:
        a, b = old.metric(name), spec.metric(name)
        found.append(_differ(f"{name} sources", a.source, b.source))
        if a.info.family == "ordinal" and name == "csat":
            found.append(_differ("CSAT scales (csat_scale)", list(old.csat_scale), list(spec.csat_scale)))
        if name == "repeat_contact" or a.source == "no_repeat":
            found.append(
                _differ(
                    f"{name} repeat-contact windows",
                    (old.repeat_contacts.window_days, old.repeat_contacts.same_reason),
                    (spec.repeat_contacts.window_days, spec.repeat_contacts.same_reason),
                )
            )
    return [p for p in found if p is not None]


def prior_from_run(spec: Spec) -> tuple[dict[str, tuple[float, float]], dict[str, Any]] | None:
    """The latent treatment effects of the run named by ``spec.model.prior_from``, as priors.

    Returns
    -------
    (prior, info) or None
        ``prior`` maps metric -> (mean, sd) for metrics of this spec that the earlier run
        estimated; ``info`` says which run, its folder, metrics, data fingerprint, periods and the
        checks passed (for provenance, the report and :func:`check_prior_data`). ``None`` when the
        spec names no earlier run.

    Raises
    ------
    BundleError
        If the earlier run is missing or damaged, or shares no metric with this spec.
    SpecError
        If its latent effects mean something else (see the module doc), every difference listed.

    """
    if not spec.model.prior_from:
        return None
    run = _earlier(spec)
    wanted = [m.name for m in spec.metrics]
    prior: dict[str, tuple[float, float]] = {}
    for r in run.results:
        if r.metric in wanted and r.latent_effect is not None:
            mean, sd = float(r.latent_effect[0]), float(r.latent_effect[1])
            if math.isfinite(mean) and math.isfinite(sd) and sd > 0:
                prior[r.metric] = (mean, sd)
    if not prior:
        raise BundleError(
            f"model.prior_from: run {run.name} has no latent effect for any metric of this spec ({', '.join(wanted)})"
        )
    problems = _definition_problems(run.spec, spec, list(prior))
    if problems:
        raise SpecError(f"model.prior_from: run {run.name} cannot be this run's prior", problems)
    info = {
        "run": run.name,
        "path": str(run.path),
        "created": run.created,
        "design": run.spec.design,
        "metrics": {k: list(v) for k, v in prior.items()},
        "without_prior": [m for m in wanted if m not in prior],
        "data_fingerprint": run.provenance.get("data_fingerprint"),
        "checks": ["same adjustments, segments, program and metric definitions"],
    }
    return prior, info


# ------------------------------------------------------------------------------ the data must differ


def _estimation_periods(design: str) -> tuple[str, ...]:
    from qmsprint.experiments.designs import get_design

    return get_design(design).PERIODS


def _spans(spec: Spec, weekly: pd.DataFrame | None) -> dict[str, tuple[dt.date, dt.date]]:
    """Date span of each period the estimate used: as declared, else the weeks in the data."""
    out = {}
    for period in _estimation_periods(spec.design):
        declared = getattr(spec.periods, period, None)
        if declared is not None:
            out[period] = (declared.start, declared.end)
        elif weekly is not None and len(weekly) and "week" in weekly:
            weeks = pd.to_datetime(weekly.loc[weekly["period"].astype(str) == period, "week"])
            if len(weeks):
                out[period] = (weeks.min().date(), (weeks.max() + pd.Timedelta(days=6)).date())
    return out


def _units(cells: pd.DataFrame | None, periods: tuple[str, ...], column: str) -> set[str]:
    """Agents (pseudonyms, stable across runs of one engagement) or teams in the estimation periods."""
    if cells is None or column not in cells:
        return set()
    used = cells[cells["period"].astype(str).isin(periods)] if "period" in cells else cells
    return set(used[column].dropna().astype(str))


def _in_common(run: RunBundle, spec: Spec, prepared: Any) -> tuple[str, set[str], bool]:
    """(what is compared, units in both runs, whether both runs told): agents when both have them, else teams."""
    old_p, new_p = _estimation_periods(run.spec.design), _estimation_periods(spec.design)
    new_cells = getattr(prepared, "cells", None)
    for column, what in (("agent_id", "agent"), ("team", "team")):
        old, new = _units(run.cells, old_p, column), _units(new_cells, new_p, column)
        if old and new:
            return what, old & new, True
    return "team", set(), False


def _reference_levels(spec: Spec, cells: pd.DataFrame | None) -> dict[str, str]:
    """Most frequent value (by interactions) of each adjustment and segment column in the estimation periods."""
    if cells is None or not len(cells):
        return {}
    periods = _estimation_periods(spec.design)
    used = cells[cells["period"].astype(str).isin(periods)] if "period" in cells else cells
    cols = dict.fromkeys([*spec.model.adjust_for, *spec.model.reweight_by, *spec.segments])
    out = {}
    for c in cols:
        if c == "team" or c not in used or "n" not in used:
            continue
        freq = used.groupby(used[c].astype(str))["n"].sum().sort_values(ascending=False, kind="stable")
        if len(freq):
            out[c] = str(freq.index[0])
    return out


def check_prior_data(spec: Spec, info: dict[str, Any], prepared: Any) -> list[str]:
    """Refuse an earlier run whose data this run repeats (see the module doc); notes on what was checked.

    Parameters
    ----------
    spec
        This run's spec.
    info
        The ``info`` of :func:`prior_from_run` (updated in place with the checks passed).
    prepared
        This run's prepared data (``fingerprint``, ``cells``, ``weekly``: :class:`qmsprint.data.PreparedData`).

    Returns
    -------
    list of str
        Notes for the run (e.g. the same teams in both runs).

    Raises
    ------
    SpecError
        Same data fingerprint, overlapping periods with a team in common, or different reference
        levels; every problem listed.

    """
    run = load_run(Path(info["path"]))
    problems: list[Problem] = []
    notes: list[str] = []
    old_fp, new_fp = info.get("data_fingerprint"), getattr(prepared, "fingerprint", None)
    if old_fp and new_fp and old_fp == new_fp:
        problems.append(
            Problem(
                WHERE,
                f"the earlier run read the same data (sha256 {str(new_fp)[:12]}): its evidence would be counted twice",
            )
        )
    old_spans, new_spans = _spans(run.spec, run.weekly), _spans(spec, getattr(prepared, "weekly", None))
    what, common, told = _in_common(run, spec, prepared)
    overlaps = [
        f"its {p} period {a0} to {a1} overlaps this run's {q} period {b0} to {b1}"
        for p, (a0, a1) in old_spans.items()
        for q, (b0, b1) in new_spans.items()
        if a0 <= b1 and b0 <= a1
    ]
    if overlaps and (common or not told):
        problems.append(
            Problem(WHERE, "; ".join(overlaps) + ": the same interactions would be counted twice (use later weeks)")
        )
    old_ref, new_ref = _reference_levels(run.spec, run.cells), _reference_levels(spec, getattr(prepared, "cells", None))
    for col in sorted(set(old_ref) & set(new_ref)):
        if old_ref[col] != new_ref[col]:
            problems.append(
                Problem(
                    WHERE,
                    f"reference level of {col} differs: {old_ref[col]!r} in the earlier run, {new_ref[col]!r} here "
                    "(the latent effect is the effect at the reference level)",
                )
            )
    if problems:
        raise SpecError(f"model.prior_from: run {run.name} cannot be this run's prior", problems)
    info["checks"] = [
        *info.get("checks", []),
        "different data (fingerprint)",
        "no overlapping period" if not overlaps else f"overlapping periods, but no {what} in common",
        "same reference levels",
    ]
    info["periods"] = {p: [str(a), str(b)] for p, (a, b) in old_spans.items()}
    info["units_in_common"] = {"unit": what, "count": len(common)}
    if common:
        notes.append(
            f"the earlier run {run.name} has {counted(len(common), what)} in common with this one: their lasting "
            "differences count in both runs, so the combined evidence is somewhat overconfident"
        )
    return notes


def design_prior_from_run(spec: Spec) -> dict[str, tuple[float, float]]:
    """Per metric, (mean, sd) of the earlier run's headline effect draws: the assurance's design prior."""
    if not spec.model.prior_from:
        return {}
    run = _earlier(spec)
    wanted = {m.name for m in spec.metrics}
    out = {}
    for metric, d in run.draws.items():
        d = np.asarray(d, float)
        d = d[np.isfinite(d)]
        if metric in wanted and len(d) >= 2:
            out[metric] = (float(d.mean()), float(d.std(ddof=1)))
    return out
