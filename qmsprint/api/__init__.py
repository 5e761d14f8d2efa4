"""The public API: every piece of work the CLI and the app ask of qmsprint goes through here.

- :func:`validate` -> :class:`Validation`: the experiment file, the data and the pilot's health
  checks (the CLI's ``validate`` and the app's Validate button run this one function).
- :func:`run_pilot` -> :class:`RunOutcome`: the whole analysis into a new run folder.
- :func:`monitor` -> :class:`MonitorResult` (and :func:`watch` on a schedule): one check of a
  running pilot, alerts to ``alerts.jsonl`` beside the runs; :func:`monitor_history` reads them.
- :func:`diagnose`, :func:`plan`, :func:`assign`, :func:`report`, :func:`compare`, :func:`simulate`:
  the other commands, each writing its files through :mod:`qmsprint.store`.
- :func:`share`, :func:`redact`, :func:`effects_csv`, :func:`hash_password`, :func:`reveal_agents`:
  sharing with a client safely (the share folder, redacted copies, safe downloads, the share's
  password hash, and pseudonyms back to agents for the consultant).
- :func:`open_folder`, :func:`list_runs`, :func:`is_diagnosis_folder`, :func:`read_diagnosis`:
  reading run and diagnosis folders; :func:`spec_from_upload`: the app's uploaded files as a spec.
- :func:`start_run`, :func:`current_job`, :func:`cancel_job`, :func:`dismiss_job` -> :class:`Job`:
  a run started from the app, in a process of its own (:mod:`qmsprint.api.jobs`).
- :func:`suggest_export`, :func:`remap`, :func:`choices_from_suggestion`, :func:`experiment_text`,
  :func:`experiment_spec`, :func:`save_experiment`, :func:`init`: the experiment builder
  (:mod:`qmsprint.api.setup`).

Every function takes an experiment file as a :class:`~qmsprint.spec.Spec` or a path to one. The
library never prints; progress goes to a ``progress(message, fraction)`` callback.
"""

from typing import TYPE_CHECKING, Any

from qmsprint.api.jobs import Job, JobRunning, cancel_job, current_job, dismiss_job, start_run
from qmsprint.api.monitor import MonitorResult, monitor, monitor_history, parse_every, watch
from qmsprint.api.pilot import RunOutcome, run_pilot
from qmsprint.api.setup import (
    available_metrics,
    choices_from_suggestion,
    data_files,
    default_role,
    experiment_spec,
    experiment_text,
    export_sample,
    init,
    is_upload,
    keep_export,
    remap,
    save_experiment,
    save_upload,
    suggest_export,
)
from qmsprint.api.share import effects_csv, hash_password, redact, reveal_agents, share
from qmsprint.api.tasks import (
    assign,
    compare,
    diagnose,
    is_diagnosis_folder,
    list_runs,
    open_folder,
    plan,
    read_diagnosis,
    report,
    simulate,
)
from qmsprint.api.validation import Validation, spec_from_upload, validate

if TYPE_CHECKING:  # the records open_folder and read_diagnosis return, for annotations in the CLI and the app
    from qmsprint.diagnosis import Diagnosis as Diagnosis
    from qmsprint.setup import ExperimentChoices as ExperimentChoices
    from qmsprint.setup import MetricChoice as MetricChoice
    from qmsprint.setup import Suggestion as Suggestion
    from qmsprint.store import DiagnosisFolder as DiagnosisFolder
    from qmsprint.store import RunBundle as RunBundle


def __getattr__(name: str) -> Any:
    """The experiment builder's records (:mod:`qmsprint.setup`), imported when first asked for."""
    from qmsprint.api import setup as _setup

    if name in _setup.LAZY:
        return getattr(_setup, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "MonitorResult",
    "monitor",
    "monitor_history",
    "parse_every",
    "watch",
    "ExperimentChoices",
    "Job",
    "JobRunning",
    "MetricChoice",
    "RunOutcome",
    "Suggestion",
    "Validation",
    "assign",
    "available_metrics",
    "cancel_job",
    "choices_from_suggestion",
    "compare",
    "current_job",
    "data_files",
    "default_role",
    "diagnose",
    "dismiss_job",
    "experiment_spec",
    "experiment_text",
    "export_sample",
    "init",
    "is_upload",
    "keep_export",
    "remap",
    "save_experiment",
    "save_upload",
    "start_run",
    "suggest_export",
    "effects_csv",
    "hash_password",
    "is_diagnosis_folder",
    "list_runs",
    "open_folder",
    "plan",
    "read_diagnosis",
    "redact",
    "report",
    "reveal_agents",
    "run_pilot",
    "share",
    "simulate",
    "spec_from_upload",
    "validate",
]
