"""The whole analysis of a pilot, from the experiment file to a new run folder (:func:`run_pilot`).

Steps, in order: the earlier run named by ``model.prior_from`` (checked first, so a bad reference
fails before any work) -> :func:`qmsprint.data.prepare` (load, validate, reduce to cells; then the
earlier run's data are checked to differ from this run's) ->
:func:`qmsprint.health.check_health` -> :func:`qmsprint.experiments.estimate` ->
:func:`qmsprint.decide.decide` (with the pilot's variance decomposition,
:func:`qmsprint.design.variance_parts`, for the "extend" advice) -> the checklist diagnosis on the
baseline period (when the data has QA scores and a baseline; a failure becomes a warning, not a
crash) -> the pilot sizing on the baseline -> the balance table by arm on the baseline (from the
health checks, as ``design.json``) -> the run folder.

Invalid input raises before anything is written (``SpecError``, ``DataError``, ``BundleError``);
a fit that misses the convergence bars still writes the run folder, with no recommendation, and
:attr:`RunOutcome.converged` is ``False`` (the CLI exits 4).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qmsprint.api.validation import SpecLike, as_spec
from qmsprint.errors import Problem
from qmsprint.progress import Progress, silent
from qmsprint.results import HealthCheck, MetricResult
from qmsprint.spec import Spec

if TYPE_CHECKING:
    import pandas as pd

    from qmsprint.decide import Recommendation

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
        What the run wants the user to know (skipped diagnosis, prior used, ...).
    seconds
        Wall time per stage.
    warnings
        Problems in the data that did not stop the run (as ``warnings.json`` holds them), e.g.
        customer ids missing for part of the rows.

    """

    path: Path
    converged: bool
    recommendation: Recommendation
    results: list[MetricResult]
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)

    def summary(self) -> str:
        """Plain-text summary for the terminal: the call, one line per metric, caveats, notes."""
        from qmsprint.present.text import run_summary

        return run_summary(self.recommendation, self.results, self.notes)


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
    from qmsprint.diagnosis import diagnose as _diagnose

    return _diagnose(spec, frame=frame, progress=prog).to_dict()


def _design(health: list[HealthCheck], plan: dict[str, Any] | None) -> dict[str, Any] | None:
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


def _variance(spec: Spec, notes: list[str]) -> dict[str, Any]:
    """How much of each metric's uncertainty more weeks can reduce (:func:`qmsprint.design.variance_parts`)."""
    from qmsprint.data import load_frame
    from qmsprint.design import variance_parts

    try:
        return variance_parts(spec, load_frame(spec))
    except Exception as err:  # the decomposition only sharpens the "extend" advice: it must not sink the run
        notes.append(f"variance decomposition for the extension skipped ({err}); it assumes all uncertainty shrinks")
        return {}


def run_pilot(
    spec: SpecLike,
    *,
    runs_dir: str | Path | None = None,
    progress: Progress | None = None,
    diagnosis: bool = True,
) -> RunOutcome:
    """Run the whole analysis of a pilot into a new run folder (the steps: see the module docstring).

    Parameters
    ----------
    spec
        The experiment file (or its path).
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
    SpecError
        ``model.prior_from`` names a run whose evidence this run would repeat or whose latent
        effects mean something else (:mod:`qmsprint.store.priors`); nothing is written.

    """
    spec = as_spec(spec)  # a bad experiment file fails first, before the heavy imports

    from qmsprint.data import load_frame, prepare
    from qmsprint.decide import decide
    from qmsprint.decide.limits import limit_action
    from qmsprint.experiments import estimate
    from qmsprint.health import check_health
    from qmsprint.present.text import explain
    from qmsprint.store import check_prior_data, prior_from_run, save_run

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
    if prior_info is not None:  # the earlier run's data must differ from this run's (before any fitting)
        notes += check_prior_data(spec, prior_info, prepared)
    timed("prepare", t)

    t = time.perf_counter()
    prog("checking the pilot's health", 0.15)
    health = check_health(spec, prepared)
    timed("health", t)

    t = time.perf_counter()
    results = estimate(spec, prepared.cells, progress=_scaled(prog, 0.17, 0.75), prior=prior)
    timed("estimate", t)

    prog("deciding", 0.76)
    variance = _variance(spec, notes)
    rec = decide(spec, results, health, weeks=_pilot_weeks(prepared.weekly), variance=variance)
    rec = limit_action(spec, rec)  # before/after without a control group: at most extend (decide.limits)
    rec = explain(rec, spec, results, health)
    converged = all(r.diagnostics.converged for r in results)

    loaded: list[pd.DataFrame] = []

    def baseline_rows() -> pd.DataFrame:
        """The validated baseline rows, read once for the diagnosis and the sizing."""
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

    plan_dict = None
    if spec.periods.baseline is not None:
        t = time.perf_counter()
        try:
            plan_dict = _plan(spec, baseline_rows(), _scaled(prog, 0.9, 0.92))
        except Exception as err:  # the sizing is extra, like the diagnosis
            msg = f"pilot sizing (assurance) skipped: {err}"
            notes.append(msg)
            extra_warnings.append(Problem("design", msg))
        timed("design", t)

    prog("writing the run folder", 0.92)
    t = time.perf_counter()
    provenance = {
        "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now().isoformat(timespec="seconds"),
        "design": spec.design,
        "data_source": spec.data.source or spec.data.table,
        "data_fingerprint": prepared.fingerprint,
        "rows_read": prepared.rows_read,
        "rows_used": prepared.rows_used,
        "rows_outside_periods": prepared.rows_outside_periods,
        "repeat_censored": prepared.repeat_censored,
        "items": list(prepared.items or []),
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
        weekly=prepared.weekly,
        warnings=list(prepared.warnings or []) + extra_warnings,
        provenance=provenance,
        diagnosis=diag,
        design=_design(health, plan_dict),
        runs_dir=runs_dir,
        now=started,
    )
    timed("write", t)
    prog(f"done: {path.name}", 1.0)
    return RunOutcome(
        path=path, converged=converged, recommendation=rec, results=results, notes=notes, seconds=seconds,
        warnings=list(prepared.warnings or []) + extra_warnings,
    )  # fmt: skip
