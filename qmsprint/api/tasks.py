"""The other commands (diagnose, plan, assign, report, compare, simulate) and the folder readers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from qmsprint.api.validation import SpecLike, as_spec
from qmsprint.progress import Progress

if TYPE_CHECKING:
    import pandas as pd

    from qmsprint.design import AssignmentResult, PlanResult
    from qmsprint.diagnosis import Diagnosis
    from qmsprint.store import DiagnosisFolder, RunBundle


def diagnose(
    spec: SpecLike, *, out: str | Path | None = None, progress: Progress | None = None
) -> tuple[Diagnosis, list[Path]]:
    """Diagnose how well the checklist score and items explain outcomes; write it to a new folder.

    Uses the baseline period when the spec has one, else all rows. ``out`` (default: a new folder
    in the spec's runs folder) must not exist: that is checked before any fitting.

    Returns
    -------
    (Diagnosis, list of Path)
        The diagnosis and the files written (``diagnosis.json`` first).

    Raises
    ------
    BundleError
        ``out`` exists (diagnoses are never overwritten).

    """
    from qmsprint.diagnosis import diagnose as _diagnose
    from qmsprint.errors import BundleError
    from qmsprint.store import diagnosis_folder_name, save_diagnosis

    s = as_spec(spec)
    if out is not None and Path(out).exists():  # refuse before fitting, not after
        raise BundleError(f"{out} already exists; choose a new folder (diagnoses are never overwritten)")
    result = _diagnose(s, progress=progress)
    folder = Path(out) if out is not None else diagnosis_folder_name(s)
    return result, save_diagnosis(result.to_dict(), result.tables(), folder)


def plan(
    spec: SpecLike, *, out: str | Path | None = None, progress: Progress | None = None
) -> tuple[PlanResult, list[Path]]:
    """Assurance (chance of a decisive pilot) for a grid of agents per arm and weeks.

    Returns
    -------
    (PlanResult, list of Path)
        The sizing and, with ``out`` (a new folder), the files written there.

    """
    from qmsprint.design import plan_pilot

    result = plan_pilot(as_spec(spec), progress=progress)
    return result, (result.save(out) if out is not None else [])


def assign(spec: SpecLike, *, out: str | Path, seed: int | None = None) -> tuple[AssignmentResult, list[Path]]:
    """Randomize units to arms (stratified, with a balance table) and write the assignment CSV ``out``.

    Agents are randomized under their pseudonyms (as all data is loaded); the assignment file names
    the real agents again (from the engagement's key), since it is the roster operations follow.

    Returns
    -------
    (AssignmentResult, list of Path)
        The assignment and the files written.

    """
    import dataclasses

    from qmsprint.data.pseudonymise import reveal
    from qmsprint.design import assign_units

    s = as_spec(spec)
    result = assign_units(s, seed=seed)
    if "agent_id" in result.assignment:
        real = dict(zip(*reveal(s).to_dict("list").values(), strict=True))
        roster = result.assignment.assign(agent_id=result.assignment["agent_id"].map(lambda p: real.get(p, p)))
        roster = roster.sort_values("agent_id", kind="mergesort").reset_index(drop=True)
        result = dataclasses.replace(result, assignment=roster)
    return result, result.save(out)


def report(run_folder: str | Path, out: str | Path | None = None) -> Path:
    """Write the self-contained HTML report of a run (default: ``report.html`` in the run folder)."""
    from qmsprint.report import write_report

    return Path(write_report(run_folder, out))


def compare(runs: Sequence[str | Path], *, out: str | Path | None = None) -> pd.DataFrame:
    """Pilots side by side (one row per run x metric); with ``out``, also written as CSV."""
    from qmsprint.present.format import action_label, verdict_label
    from qmsprint.store import compare_runs, write_csv

    table = compare_runs([Path(p) for p in runs], action_label=action_label, verdict_label=verdict_label)
    if out is not None:
        write_csv(table, Path(out))
    return table


def simulate(
    out: str | Path, *, design: str = "ab", agents: int = 60, per_agent: int = 200, seed: int = 1
) -> list[Path]:
    """Write a synthetic interaction table with known true effects and its ground truth beside it."""
    from qmsprint.simulate import SimConfig
    from qmsprint.simulate import simulate as _simulate
    from qmsprint.store import write_simulation

    sim = _simulate(SimConfig(design=design, n_agents=agents, interactions_per_agent=per_agent, seed=seed))
    return write_simulation(sim, out)


def open_folder(path: str | Path) -> RunBundle | DiagnosisFolder:
    """The run folder (integrity checked) or ``qmsprint diagnose`` folder at ``path``."""
    from qmsprint.store import open_folder as _open

    return _open(Path(path))


def is_diagnosis_folder(folder: str | Path | RunBundle | DiagnosisFolder) -> bool:
    """True for a ``qmsprint diagnose`` folder: a path (checked from its files, nothing loaded) or a loaded folder."""
    from qmsprint.store import DiagnosisFolder, RunBundle
    from qmsprint.store import is_diagnosis_folder as _is

    if isinstance(folder, RunBundle | DiagnosisFolder):
        return isinstance(folder, DiagnosisFolder)
    return _is(folder)


def list_runs(runs_dir: str | Path, *, diagnoses: bool = False) -> list[Path]:
    """Run folders (with ``diagnoses``, also diagnosis folders) under ``runs_dir``, newest first."""
    from qmsprint.store import list_runs as _list

    return [Path(p) for p in _list(runs_dir, diagnoses=diagnoses)] if Path(runs_dir).is_dir() else []


def read_diagnosis(folder: RunBundle | DiagnosisFolder) -> Diagnosis | None:
    """The diagnosis a run or diagnosis folder holds, as a :class:`~qmsprint.diagnosis.Diagnosis` record.

    ``None`` when the run has none. Its sentences and figures come from :mod:`qmsprint.present.diagnosis`.
    """
    import dataclasses

    import pandas as pd

    from qmsprint.diagnosis import TABLES, Diagnosis
    from qmsprint.results import Diagnostics

    d = folder.diagnosis
    if not d:
        return None
    fields = {f.name for f in dataclasses.fields(Diagnostics)}
    return Diagnosis(
        **{name: pd.DataFrame(d.get(name) or []) for name in TABLES},
        diagnostics={
            k: Diagnostics(**{f: v for f, v in x.items() if f in fields}) for k, x in d.get("diagnostics", {}).items()
        },
        notes=list(d.get("notes") or []),
        meta=dict(d.get("meta") or {}),
    )
