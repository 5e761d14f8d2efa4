"""One shared check of an experiment file and its data: the CLI's ``validate`` and the app's Validate button."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from qmsprint.errors import Problem, QmsprintError, SpecError
from qmsprint.progress import Progress
from qmsprint.results import HealthCheck
from qmsprint.spec import Spec, load_spec
from qmsprint.words import counted

SpecLike = Spec | str | Path


def as_spec(spec: SpecLike) -> Spec:
    """``spec`` itself, or the experiment file at that path (:func:`qmsprint.spec.load_spec`)."""
    return spec if isinstance(spec, Spec) else load_spec(spec)


@dataclass(frozen=True)
class Validation:
    """What :func:`validate` found, stage by stage (the experiment file, the data, the pilot's health).

    Attributes
    ----------
    spec
        The validated spec, or ``None`` when the experiment file has problems.
    error
        The first stage's error: a :class:`~qmsprint.errors.SpecError` (problems of the experiment
        file) or the data's error (usually a :class:`~qmsprint.errors.DataError`); ``None`` when valid.
    summary
        The data's summary (rows, periods, arms, units), empty when the data could not be read.
    warnings
        Problems in the data that do not stop a run.
    health
        The pilot's health checks (sample ratio, survey response, contamination, balance, trends, A/A).

    """

    spec: Spec | None
    error: QmsprintError | None = None
    summary: str = ""
    warnings: list[Problem] = field(default_factory=list)
    health: list[HealthCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the experiment file and the data are valid (warnings and health alerts allowed)."""
        return self.error is None

    @property
    def spec_problems(self) -> list[Problem]:
        """Problems of the experiment file (empty when it is valid)."""
        return list(self.error.problems) if self.spec is None and self.error is not None else []

    @property
    def data_problems(self) -> list[Problem]:
        """Problems of the data (empty when it is valid or the experiment file is not)."""
        return list(self.error.problems) if self.spec is not None and self.error is not None else []

    def raise_error(self) -> None:
        """Raise :attr:`error` when there is one."""
        if self.error is not None:
            raise self.error

    def text(self) -> str:
        """The terminal report: the data summary, each warning, each health check with its status."""
        lines = [self.summary]
        lines += [f"warning: {w}" for w in self.warnings]
        lines += [f"{check.status}: {check.message}" for check in self.health]
        alerts = [check.name for check in self.health if check.status == "alert"]
        if alerts:
            lines.append(
                f"alert: experiment file and data are valid, but {counted(len(alerts), 'health check')} raised an "
                f"alert ({', '.join(alerts)}): read them before trusting results"
            )
        else:
            lines.append("ok: experiment file and data are valid")
        return "\n".join(lines)


def validate(spec: SpecLike, *, progress: Progress | None = None) -> Validation:
    """Check an experiment file and its data without fitting anything, then run the health checks.

    Every problem of a stage is reported at once; a stage with problems stops the later ones.

    Parameters
    ----------
    spec
        The experiment file (or its path).
    progress
        ``progress(message, fraction)`` callback.

    Returns
    -------
    Validation
        Spec or data error, data summary, warnings and health checks.

    """
    try:
        s = as_spec(spec)
    except SpecError as err:
        return Validation(spec=None, error=err)
    from qmsprint.data import prepare
    from qmsprint.health import check_health

    try:
        prepared = prepare(s, progress=progress)
    except QmsprintError as err:
        return Validation(spec=s, error=err)
    return Validation(
        spec=s,
        summary=prepared.summary(),
        warnings=list(prepared.warnings),
        health=check_health(s, prepared),
    )


def spec_from_upload(
    workdir: Path,
    spec_file: tuple[str, bytes],
    data_file: tuple[str, bytes] | None = None,
    *,
    key_dir: Path | None = None,
) -> Spec:
    """Write uploaded files (name, bytes) into ``workdir`` and load the spec, pointed at the uploaded data.

    ``key_dir`` holds the engagement's pseudonymisation key (``.qmsprint/key``, made when missing)
    for uploads, whose own folder is temporary: runs of uploads then share one key (unless
    ``QMSPRINT_KEY`` is set).

    Raises
    ------
    SpecError
        With every problem of the experiment file, or a key that cannot be used.

    """
    from qmsprint.data.pseudonymise import KEY_ENV, engagement_key, key_file
    from qmsprint.store import write_file_atomic

    if key_dir is not None and not os.environ.get(KEY_ENV):
        key = engagement_key(Path(key_dir).resolve())
        write_file_atomic(key_file(Path(workdir)), key + b"\n")  # a private temp folder, removed after the run
    spec_path = write_file_atomic(Path(workdir) / Path(spec_file[0]).name, spec_file[1])
    s = load_spec(spec_path)
    if data_file is not None:
        data_path = write_file_atomic(Path(workdir) / Path(data_file[0]).name, data_file[1])
        data = s.data.model_copy(update={"source": str(data_path), "connection": None, "table": None})
        s = s.model_copy(update={"data": data})
    return s
