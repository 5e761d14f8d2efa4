"""The whole analysis of a pilot, from the experiment file to a new run bundle.

:func:`run_pilot` runs, in order: the earlier run named by ``model.prior_from`` (checked first,
so a bad reference fails before any work) -> :func:`qmsprint.data.prepare` (load, validate,
reduce to cells) -> :func:`qmsprint.health.check_health` -> :func:`qmsprint.experiments.estimate`
-> :func:`qmsprint.decide.decide` -> the checklist diagnosis on the baseline period (when the data
has QA scores and a baseline; small draws; a failure becomes a warning, not a crash) -> the
balance table by arm on the baseline (from the health checks, as ``design.json``) ->
:func:`qmsprint.bundle.save_run`.

Invalid input raises before anything is written (``SpecError``, ``DataError``, ``BundleError``);
a fit that misses the convergence bars still writes the bundle, with no recommendation, and
:attr:`RunOutcome.converged` is ``False`` (the CLI exits 4).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from qmsprint.decide import Recommendation, decide, fmt_prob, fmt_value
from qmsprint.errors import Problem
from qmsprint.progress import Progress, silent
from qmsprint.results import MetricResult
from qmsprint.spec import Spec

DIAGNOSIS_MIN_BASELINE_QA = 200  # baseline interactions with a QA score needed to try a diagnosis


@dataclass
class RunOutcome:
    """What :func:`run_pilot` did.

    Attributes
    ----------
    path
        The new run folder.
    converged
        ``True`` when every fit met the convergence bars (else no recommendation; CLI exit 4).
    recommendation, results
        The recommendation and the per-metric results.
    notes
        What the pipeline wants the user to know (skipped diagnosis, prior used, ...).
    seconds
        Wall time per stage.

    """

    path: Path
    converged: bool
    recommendation: Recommendation
    results: list[MetricResult]
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        """Plain-text summary for the terminal: the call, one line per metric, caveats, notes."""
        rec = self.recommendation
        lines = [rec.headline]
        for r in self.results:
            v = rec.verdicts.get(r.metric)
            h = r.headline
            line = (
                f"  {v.label if v else r.metric}: {fmt_value(h.mean, h.unit)} "
                f"[{fmt_value(h.hdi_low, h.unit)}, {fmt_value(h.hdi_high, h.unit)}]"
            )
            if v:
                line += f", P(better) {fmt_prob(v.prob_better)} -> {v.verdict.replace('_', ' ')}"
            if not r.diagnostics.converged:
                line += f" (NOT CONVERGED: {', '.join(r.diagnostics.problems)})"
            lines.append(line)
        if rec.impact:
            lines.append(f"  {rec.impact['sentence']}")
        for c in rec.caveats:
            lines.append(f"  caveat: {c}")
        for n in self.notes:
            lines.append(f"  note: {n}")
        return "\n".join(lines)


def _scaled(prog: Progress, start: float, end: float) -> Progress:
    def inner(message: str, fraction: float) -> None:
        prog(message, start + (end - start) * max(0.0, min(1.0, float(fraction))))

    return inner


def _pilot_weeks(weekly: Any) -> float | None:
    try:
        w = weekly[weekly["period"] == "pilot"]["week"]
        n = int(w.nunique())
        return float(n) if n > 0 else None
    except (KeyError, TypeError, AttributeError):
        return None


def _has_baseline_qa(spec: Spec, cells: Any) -> bool:
    if spec.periods.baseline is None:
        return False
    try:
        base = cells[cells["period"] == "baseline"]
        return float(base["qa_n"].sum()) >= DIAGNOSIS_MIN_BASELINE_QA
    except (KeyError, TypeError, AttributeError):
        return False


def _diagnosis(spec: Spec, frame: pd.DataFrame, prog: Progress) -> dict[str, Any]:
    """The checklist diagnosis of the baseline rows ``frame``."""
    from qmsprint.alignment import diagnose

    return diagnose(spec, frame=frame, progress=prog).to_dict()


def _design(health: list[Any], plan: dict[str, Any] | None) -> dict[str, Any] | None:
    """Balance by arm on the baseline (from the ``balance`` health check) and the pilot sizing.

    The balance keys sit at the top level; the :func:`qmsprint.design.plan_pilot` result, when it
    was computed, under ``assurance``. None when neither exists.
    """
    out: dict[str, Any] = {}
    for h in health:
        table = h.data.get("table") if h.name == "balance" and isinstance(h.data, dict) else None
        if isinstance(table, list) and table:
            out = {"kind": "balance", "period": "baseline", "summary": h.message, "status": h.status, "table": table}
            break
    if plan is not None:
        out["assurance"] = plan
    return out or None


def _plan(spec: Spec, frame: pd.DataFrame, prog: Progress) -> dict[str, Any]:
    """How large the pilot needed to be, from the baseline rows ``frame`` (``qmsprint design`` inside a run)."""
    from qmsprint.design import plan_pilot

    return plan_pilot(spec, baseline=frame, progress=prog).to_dict()


def run_pilot(
    spec: Spec,
    *,
    runs_dir: str | Path | None = None,
    progress: Progress | None = None,
    diagnosis: bool = True,
) -> RunOutcome:
    """Run the whole analysis of a pilot into a new run bundle.

    Parameters
    ----------
    spec
        The experiment file (:func:`qmsprint.spec.load_spec`).
    runs_dir
        Folder for the run folder (default: the spec's ``output.runs_dir``).
    progress
        ``progress(message, fraction)`` callback.
    diagnosis
        Also diagnose the checklist on the baseline period when the data allows (default).

    Returns
    -------
    RunOutcome
        ``path``, ``converged``, ``summary()``.

    Raises
    ------
    SpecError, DataError
        Invalid experiment file or data (nothing is written).
    BundleError
        ``model.prior_from`` names a missing or damaged run, or the run folder cannot be written.

    """
    from qmsprint.bundle import prior_from_run, save_run
    from qmsprint.data import prepare
    from qmsprint.experiments import estimate
    from qmsprint.health import check_health

    prog = progress or silent
    started = dt.datetime.now()
    seconds: dict[str, float] = {}
    notes: list[str] = []
    extra_warnings: list[Problem] = []

    def timed(stage: str, t0: float) -> None:
        seconds[stage] = round(time.perf_counter() - t0, 2)

    prog(f"starting {spec.name}", 0.0)
    t = time.perf_counter()
    prior_info = None
    prior = None
    found = prior_from_run(spec)
    if found is not None:
        prior, prior_info = found
        notes.append(
            f"prior from earlier run {prior_info['run']} for {', '.join(prior)}"
            + (f" (no prior for {', '.join(prior_info['without_prior'])})" if prior_info["without_prior"] else "")
        )

    prepared = prepare(spec, progress=_scaled(prog, 0.01, 0.15))
    timed("prepare", t)

    t = time.perf_counter()
    prog("checking the pilot's health", 0.15)
    health = check_health(spec, prepared)
    timed("health", t)

    t = time.perf_counter()
    results = estimate(spec, prepared.cells, progress=_scaled(prog, 0.17, 0.75), prior=prior)
    timed("estimate", t)

    prog("deciding", 0.76)
    rec = decide(spec, results, health, weeks=_pilot_weeks(getattr(prepared, "weekly", None)))
    converged = all(r.diagnostics.converged for r in results)

    loaded: list[pd.DataFrame] = []

    def baseline_rows() -> pd.DataFrame:
        """The validated baseline rows, read once for the diagnosis and the sizing."""
        from qmsprint.data import load_frame

        if not loaded:
            loaded.append(load_frame(spec, period="baseline"))
        return loaded[0]

    diag = None
    if diagnosis and _has_baseline_qa(spec, prepared.cells):
        t = time.perf_counter()
        try:
            diag = _diagnosis(spec, baseline_rows(), _scaled(prog, 0.78, 0.9))
        except Exception as err:  # the diagnosis is extra: it must not sink the run
            msg = f"checklist diagnosis skipped: {err}"
            notes.append(msg)
            extra_warnings.append(Problem("diagnosis", msg))
        timed("diagnosis", t)

    plan = None
    if spec.periods.baseline is not None:
        t = time.perf_counter()
        try:
            plan = _plan(spec, baseline_rows(), _scaled(prog, 0.9, 0.92))
        except Exception as err:  # the sizing is extra, like the diagnosis
            msg = f"pilot sizing (assurance) skipped: {err}"
            notes.append(msg)
            extra_warnings.append(Problem("design", msg))
        timed("design", t)
    design = _design(health, plan)

    prog("writing the run folder", 0.92)
    t = time.perf_counter()
    provenance = {
        "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now().isoformat(timespec="seconds"),
        "design": spec.design,
        "data_source": spec.data.source or spec.data.table,
        "data_fingerprint": getattr(prepared, "fingerprint", None),
        "rows_read": getattr(prepared, "rows_read", None),
        "rows_used": getattr(prepared, "rows_used", None),
        "rows_outside_periods": getattr(prepared, "rows_outside_periods", None),
        "repeat_censored": getattr(prepared, "repeat_censored", None),
        "items": list(getattr(prepared, "items", []) or []),
        "converged": converged,
        "prior_from": prior_info,
        "seconds": seconds,
        "notes": notes,
    }
    path = save_run(
        spec,
        results=results,
        recommendation=rec,
        health=health,
        cells=prepared.cells,
        weekly=getattr(prepared, "weekly", None),
        warnings=list(getattr(prepared, "warnings", []) or []) + extra_warnings,
        provenance=provenance,
        diagnosis=diag,
        design=design,
        runs_dir=runs_dir,
        now=started,
    )
    timed("write", t)
    prog(f"done: {path.name}", 1.0)
    return RunOutcome(path=path, converged=converged, recommendation=rec, results=results, notes=notes, seconds=seconds)
