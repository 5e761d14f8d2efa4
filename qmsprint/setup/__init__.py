"""Setting up a pilot from a client export: suggested column mapping, then the experiment file.

The engine of the experiment builder (app page "Set up a pilot") and of ``qmsprint init``:

- :func:`suggest_mapping` / :func:`suggest_file` -> :class:`Suggestion`: which export column is
  which canonical column (with confidence and reason), day-first dates, the CSAT scale, the arm
  values, weekly volume, and the problems qmsprint's validation reports with that mapping;
- :func:`remap`: the same after the consultant changed the mapping by hand (re-validated);
- :func:`choices_from_suggestion` -> :class:`ExperimentChoices` (what the builder asks for);
- :func:`build_spec_dict` and :func:`write_experiment_toml`: the experiment file, commented as
  ``experiments/demo_ab.toml``.
"""

from qmsprint.setup.experiment_file import (
    ExperimentChoices,
    MetricChoice,
    available_metrics,
    build_spec_dict,
    choices_from_suggestion,
    default_role,
    write_experiment_toml,
)
from qmsprint.setup.export import experiment_toml_for, read_export, suggest_file
from qmsprint.setup.score import ColumnMatch
from qmsprint.setup.suggest import Suggestion, remap, suggest_mapping

__all__ = [
    "ColumnMatch",
    "ExperimentChoices",
    "MetricChoice",
    "Suggestion",
    "available_metrics",
    "build_spec_dict",
    "choices_from_suggestion",
    "default_role",
    "experiment_toml_for",
    "read_export",
    "remap",
    "suggest_file",
    "suggest_mapping",
    "write_experiment_toml",
]
