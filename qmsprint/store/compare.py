"""Pilots side by side: :func:`compare_runs` (one row per run x metric)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from qmsprint.errors import BundleError, Problem
from qmsprint.store.runs_read import load_run

COMPARE_COLUMNS = [
    "run",
    "date",
    "metric",
    "role",
    "scale",
    "effect",
    "unit",
    "hdi_low",
    "hdi_high",
    "hdi_prob",
    "prob_improve",
    "prob_meaningful",
    "verdict",
    "recommendation",
    "prior_from",
]


def compare_runs(
    paths: Sequence[str | Path],
    *,
    action_label: Callable[[str], str] | None = None,
    verdict_label: Callable[[str], str] | None = None,
) -> pd.DataFrame:
    """Pilots side by side: one row per run x metric with the headline effect and the calls.

    Columns: ``run``, ``date``, ``metric``, ``role``, ``scale``, ``effect`` (headline mean), ``unit``,
    ``hdi_low``, ``hdi_high``, ``hdi_prob``, ``prob_improve``, ``prob_meaningful``, ``verdict``,
    ``recommendation`` (the run's action), ``prior_from`` (earlier run used as prior, if any).

    The store holds no wording: ``verdict`` and ``recommendation`` are the codes (``improved``,
    ``scale_up`` ...) unless ``verdict_label`` / ``action_label`` turn them into words
    (:mod:`qmsprint.api` passes :mod:`qmsprint.present.format`'s labels).

    Raises
    ------
    BundleError
        If no run is given or any run is missing or damaged (every such run is listed).

    """
    if not paths:
        raise BundleError("compare needs at least one run folder")
    runs, problems = [], []
    for p in paths:
        try:
            runs.append(load_run(p))
        except BundleError as err:
            problems.append(Problem(str(p), err.message if not err.problems else str(err)))
    if problems:
        raise BundleError("cannot compare: some run folders cannot be read", problems)
    say_action = action_label or str
    say_verdict = verdict_label or str
    rows = []
    for run in runs:
        rec = run.recommendation
        roles = {m.name: m.role for m in run.spec.metrics}
        prior = (run.provenance.get("prior_from") or {}).get("run") if run.provenance.get("prior_from") else None
        for r in run.results:
            h = r.headline
            v = rec.verdicts.get(r.metric)
            rows.append(
                {
                    "run": run.name,
                    "date": run.created[:10],
                    "metric": r.metric,
                    "role": roles.get(r.metric, ""),
                    "scale": h.scale,
                    "effect": h.mean,
                    "unit": h.unit,
                    "hdi_low": h.hdi_low,
                    "hdi_high": h.hdi_high,
                    "hdi_prob": h.hdi_prob,
                    "prob_improve": v.prob_better if v else h.prob_improve,
                    "prob_meaningful": v.prob_meaningful if v else h.prob_meaningful,
                    "verdict": say_verdict(v.verdict) if v else "",
                    "recommendation": say_action(rec.action),
                    "prior_from": prior or "",
                }
            )
    return pd.DataFrame(rows, columns=COMPARE_COLUMNS)
