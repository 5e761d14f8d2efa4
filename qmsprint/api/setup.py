"""Setting up a pilot from a client export (the app's "Set up a pilot" page and ``qmsprint init``).

Wraps the experiment builder engine (:mod:`qmsprint.setup`): suggest a mapping of an export's
columns, redo it after changes by hand, turn the consultant's choices into the commented
experiment file (and its validated spec), and write files through the store's atomic writer:
experiment files are never overwritten, uploads go to a private temporary folder.
"""

from __future__ import annotations

import atexit
import hashlib
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qmsprint.errors import BundleError

if TYPE_CHECKING:
    import pandas as pd

    from qmsprint.setup import ExperimentChoices, MetricChoice, Suggestion
    from qmsprint.spec import Spec

LAZY = ("ExperimentChoices", "MetricChoice", "Suggestion")  # records of qmsprint.setup, imported when first used


def __getattr__(name: str) -> Any:
    if name in LAZY:  # the engine imports the data layer (Ibis): only when the builder is used
        import qmsprint.setup

        return getattr(qmsprint.setup, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def available_metrics(columns: dict[str, str] | list[str]) -> list[str]:
    """Registered metrics whose input columns are all mapped (repeat contacts need customer ids)."""
    from qmsprint.setup import available_metrics as _available

    return _available(columns)


def default_role(name: str, chosen: list[str]) -> str:
    """The role a metric gets by default among the ``chosen`` ones (see :func:`qmsprint.setup.default_role`)."""
    from qmsprint.setup import default_role as _default_role

    return _default_role(name, chosen)


__all__ = [
    "ExperimentChoices",
    "MetricChoice",
    "Suggestion",
    "available_metrics",
    "choices_from_suggestion",
    "data_files",
    "default_role",
    "experiment_spec",
    "experiment_text",
    "export_sample",
    "init",
    "is_upload",
    "keep_export",
    "remap",
    "save_experiment",
    "save_upload",
    "suggest_export",
]

DATA_SUFFIXES = (".csv", ".parquet", ".txt", ".tsv")
_UPLOADS: list[Path] = []


def suggest_export(path: str | Path) -> Suggestion:
    """The suggested mapping of a client export (CSV or Parquet), validated with qmsprint's own checks.

    Raises
    ------
    DataError
        Missing, empty or unreadable file.

    """
    from qmsprint.setup import suggest_file

    return suggest_file(path)


def export_sample(path: str | Path) -> pd.DataFrame:
    """The rows of an export the suggestion looked at, as text (pass them to :func:`remap`)."""
    from qmsprint.setup import read_export

    return read_export(path).frame


def remap(sample: pd.DataFrame, suggestion: Suggestion, columns: dict[str, str], **choices: Any) -> Suggestion:
    """The suggestion redone with a mapping changed by hand, re-validated (:func:`qmsprint.setup.remap`).

    ``choices``: ``dayfirst``, ``csat_scale``, ``control``, ``treatment`` set by hand.
    """
    from qmsprint.setup import remap as _remap

    return _remap(sample, suggestion, columns, **choices)


def choices_from_suggestion(suggestion: Suggestion, **overrides: Any) -> ExperimentChoices:
    """Choices accepting a suggestion as it is, with ``overrides`` (:func:`qmsprint.setup.choices_from_suggestion`)."""
    from qmsprint.setup import choices_from_suggestion as _choices

    return _choices(suggestion, **overrides)


def experiment_text(choices: ExperimentChoices) -> str:
    """The experiment file for ``choices``: commented TOML in the form of ``experiments/demo_ab.toml``."""
    from qmsprint.setup import write_experiment_toml

    return write_experiment_toml(choices)


def experiment_spec(choices: ExperimentChoices, base_dir: str | Path) -> Spec:
    """The validated spec of ``choices`` (relative paths resolve against ``base_dir``).

    Raises
    ------
    SpecError
        With every problem of the choices, each with its key path.

    """
    from qmsprint.setup import build_spec_dict
    from qmsprint.spec import parse_spec

    return parse_spec(build_spec_dict(choices), base_dir=Path(base_dir))


def save_experiment(text: str, path: str | Path) -> Path:
    """Write an experiment file that does not exist yet (atomically; never over an earlier file).

    Raises
    ------
    BundleError
        ``path`` exists or cannot be written.

    """
    from qmsprint.store import write_file_atomic

    path = Path(path)
    if path.exists():
        raise BundleError(f"{path} already exists; choose another name (experiment files are never overwritten)")
    try:
        return write_file_atomic(path, text, overwrite=False)
    except FileExistsError:
        raise BundleError(f"{path} already exists; choose another name") from None
    except OSError as err:
        raise BundleError(f"cannot write {path}: {err}") from None


def init(export: str | Path, out: str | Path, *, name: str | None = None) -> tuple[Path, Suggestion]:
    """``qmsprint init``: the suggested experiment file for an export, written to the new file ``out``.

    Returns
    -------
    (Path, Suggestion)
        The file written and the suggestion (its ``problems`` are what ``validate`` will report).

    Raises
    ------
    BundleError
        ``out`` exists (checked before the export is read).
    DataError
        The export cannot be read.

    """
    out = Path(out)
    if out.exists():
        raise BundleError(f"{out} already exists; choose another file (experiment files are never overwritten)")
    from qmsprint.setup import experiment_toml_for

    text, suggestion = experiment_toml_for(export, out, name=name)
    return save_experiment(text, out), suggestion


def _upload_root() -> Path:
    if not _UPLOADS:
        root = Path(tempfile.mkdtemp(prefix="qmsprint-uploads-"))  # private (0700), removed at exit
        atexit.register(shutil.rmtree, root, True)
        _UPLOADS.append(root)
    return _UPLOADS[0]


def save_upload(name: str, content: bytes) -> Path:
    """Keep an uploaded export in a private temporary folder of this process (removed when it exits).

    The same bytes uploaded twice give the same path (so cached suggestions are reused).
    """
    from qmsprint.store import write_file_atomic

    digest = hashlib.sha256(content).hexdigest()[:16]
    path = _upload_root() / digest / (Path(name).name or "export.csv")
    if not path.is_file():
        write_file_atomic(path, content)
    return path


def is_upload(path: str | Path) -> bool:
    """Whether ``path`` is an upload kept by :func:`save_upload` (gone when the app stops)."""
    return bool(_UPLOADS) and Path(path).resolve().is_relative_to(_UPLOADS[0].resolve())


def keep_export(path: str | Path, data_dir: str | Path) -> Path:
    """A copy of an uploaded export under ``data_dir`` (for an experiment file that outlives the upload).

    An identical file already there is reused; a different file of that name is never replaced
    (the copy gets ``-2``, ``-3`` ...).
    """
    from qmsprint.store import write_file_atomic

    src = Path(path)
    content = src.read_bytes()
    target = Path(data_dir) / src.name
    k = 2
    while target.exists():
        if target.read_bytes() == content:
            return target
        target = Path(data_dir) / f"{src.stem}-{k}{src.suffix}"
        k += 1
    return write_file_atomic(target, content, overwrite=False)


def data_files(folder: str | Path) -> list[Path]:
    """CSV and Parquet files under ``folder`` (not hidden ones), by path."""
    root = Path(folder)
    if not root.is_dir():
        return []
    found = [
        p
        for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in DATA_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    ]  # fmt: skip
    return sorted(found)
