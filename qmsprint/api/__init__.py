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

Every function takes an experiment file as a :class:`~qmsprint.spec.Spec` or a path to one. The
library never prints; progress goes to a ``progress(message, fraction)`` callback.
"""

from typing import TYPE_CHECKING

from qmsprint.api.monitor import MonitorResult, monitor, monitor_history, parse_every, watch
from qmsprint.api.pilot import RunOutcome, run_pilot
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
    from qmsprint.store import DiagnosisFolder as DiagnosisFolder
    from qmsprint.store import RunBundle as RunBundle

__all__ = [
    "MonitorResult",
    "RunOutcome",
    "Validation",
    "assign",
    "compare",
    "diagnose",
    "effects_csv",
    "hash_password",
    "is_diagnosis_folder",
    "list_runs",
    "monitor",
    "monitor_history",
    "open_folder",
    "parse_every",
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
    "watch",
]
