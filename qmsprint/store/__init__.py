"""Everything qmsprint keeps on disk, and the one way it writes files.

- :mod:`~qmsprint.store.atomic`: the one atomic writer (new folders, single files, groups of files).
- :mod:`~qmsprint.store.csvfile`: :func:`write_csv`, the one CSV writer (and :func:`write_parquet`).
- :mod:`~qmsprint.store.runs_write` / :mod:`~qmsprint.store.runs_read`: run folders
  (:func:`save_run`, :func:`load_run` -> :class:`RunBundle`, :func:`verify_run`).
- :mod:`~qmsprint.store.personal`: only pseudonyms and tenure bands in stored folders.
- :mod:`~qmsprint.store.share`: redacted copies of runs for clients, and the deployable share folder.
- :mod:`~qmsprint.store.diagnosis`: diagnosis folders (``qmsprint diagnose``), read and write.
- :mod:`~qmsprint.store.folders`: :func:`list_runs`, :func:`open_folder` (either kind).
- :mod:`~qmsprint.store.compare`, :mod:`~qmsprint.store.priors`: repeat pilots.
- :mod:`~qmsprint.store.spec_toml`: :func:`spec_to_toml`.
"""

from qmsprint.store.atomic import create_folder, write_file_atomic, write_files_atomic, write_new_folder
from qmsprint.store.common import FORMAT, FORMAT_VERSION, MANIFEST, REQUIRED_FILES
from qmsprint.store.compare import COMPARE_COLUMNS, compare_runs
from qmsprint.store.csvfile import neutralise, read_csv, redact_frame, write_csv, write_parquet
from qmsprint.store.diagnosis import (
    DIAGNOSIS_FILE,
    DiagnosisFolder,
    diagnosis_folder_name,
    is_diagnosis_folder,
    load_diagnosis,
    save_diagnosis,
)
from qmsprint.store.folders import list_runs, open_folder
from qmsprint.store.priors import check_prior_data, design_prior_from_run, prior_from_run
from qmsprint.store.runs_read import RunBundle, load_run, verify_run
from qmsprint.store.runs_write import diagnostics_table, effects_table, library_versions, save_run
from qmsprint.store.share import write_redacted_run, write_share_folder
from qmsprint.store.simulation import write_simulation
from qmsprint.store.spec_toml import spec_to_toml

__all__ = [
    "write_simulation",
    "COMPARE_COLUMNS",
    "DIAGNOSIS_FILE",
    "FORMAT",
    "FORMAT_VERSION",
    "MANIFEST",
    "REQUIRED_FILES",
    "DiagnosisFolder",
    "RunBundle",
    "check_prior_data",
    "compare_runs",
    "create_folder",
    "design_prior_from_run",
    "diagnosis_folder_name",
    "diagnostics_table",
    "effects_table",
    "is_diagnosis_folder",
    "library_versions",
    "list_runs",
    "load_diagnosis",
    "load_run",
    "neutralise",
    "open_folder",
    "prior_from_run",
    "read_csv",
    "redact_frame",
    "save_diagnosis",
    "save_run",
    "spec_to_toml",
    "verify_run",
    "write_csv",
    "write_file_atomic",
    "write_files_atomic",
    "write_new_folder",
    "write_parquet",
    "write_redacted_run",
    "write_share_folder",
]
