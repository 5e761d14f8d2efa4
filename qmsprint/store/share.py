"""What leaves for a client: a redacted copy of a run (or diagnosis) and the deployable share folder.

:func:`write_redacted_run` copies a run folder without anything a client does not need and
nobody should mail around:

- ``spec.json`` / ``spec.toml`` without the data source (no path, no connection string) and
  without the experiment file's comments (``spec.toml`` is regenerated); ``prior_from`` keeps
  only the earlier run's name;
- ``provenance.json`` with counts, versions (no platform) and timings, the data source named
  without folders (:func:`qmsprint.privacy.describe_source`), no notes with paths;
- ``cells.parquet`` summed over agents (no agent pseudonyms, no tenure); no ``posterior/`` (it
  holds an effect per agent); the diagnosis's "100 for whom?" rows without agent pseudonyms;
- every JSON, CSV and sentence through :func:`qmsprint.privacy.redact` and :func:`write_csv`.

The copy is a normal run folder (new manifest with ``"redacted": true``) that ``qmsprint app``
and ``qmsprint report`` open. :func:`write_share_folder` puts it in a self-contained folder
for one client: the app entry, qmsprint's code, pinned requirements, a Dockerfile, a secrets
template with the allowlist and a README (:mod:`qmsprint.store.share_files`).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from qmsprint.errors import BundleError
from qmsprint.privacy import describe_source, redact
from qmsprint.spec import parse_spec
from qmsprint.store.atomic import create_folder
from qmsprint.store.common import FORMAT, FORMAT_VERSION, MANIFEST, dumps, sha256
from qmsprint.store.csvfile import read_csv, redact_frame, write_csv, write_parquet
from qmsprint.store.diagnosis import DIAGNOSIS_FILE, DiagnosisFolder, write_diagnosis_manifest
from qmsprint.store.personal import strip_agent_ids, without_agents
from qmsprint.store.runs_read import RunBundle
from qmsprint.store.share_files import share_files
from qmsprint.store.spec_toml import spec_to_toml

REDACTED_SOURCE = "redacted"
PROVENANCE_KEYS = (
    "run", "created", "written", "qmsprint_version", "spec_file", "seed", "sampler", "design", "data_fingerprint",
    "rows_read", "rows_used", "rows_outside_periods", "repeat_censored", "items", "converged",
    "agents_pseudonymised", "seconds", "started", "finished",
)  # fmt: skip


def _redacted_spec(raw: dict[str, Any]) -> dict[str, Any]:
    d = json.loads(json.dumps(raw))
    data = dict(d.get("data") or {})
    data.update(source=REDACTED_SOURCE, connection=None, table=None, columns={})
    d["data"] = data
    model = d.get("model")
    if isinstance(model, dict) and model.get("prior_from"):
        model["prior_from"] = Path(str(model["prior_from"]).replace("\\", "/")).name
    if isinstance(d.get("output"), dict):
        d["output"] = {**d["output"], "runs_dir": "runs"}
    return redact(d)


def _provenance(prov: dict[str, Any], spec_data: dict[str, Any]) -> dict[str, Any]:
    out = {k: prov[k] for k in PROVENANCE_KEYS if k in prov}
    out["data_source"] = describe_source(spec_data.get("source"), spec_data.get("connection"), spec_data.get("table"))
    versions = prov.get("versions")
    if isinstance(versions, dict):
        out["versions"] = {k: v for k, v in versions.items() if k != "platform"}
    prior = prov.get("prior_from")
    if isinstance(prior, dict):
        keep = ("run", "created", "design", "metrics", "without_prior")
        out["prior_from"] = {k: prior[k] for k in keep if k in prior}
    out["redacted"] = True
    return redact(out)


def _diagnosis(d: Any) -> Any:
    if not isinstance(d, dict):
        return d
    d = dict(d)
    d["quadrant"] = strip_agent_ids(d.get("quadrant"))
    return redact(d)


def _fill_redacted_run(run: RunBundle, folder: Path) -> list[str]:
    """Write the redacted copy of ``run`` into the empty ``folder``; return the files written."""
    import qmsprint

    def js(name: str, obj: Any) -> None:
        (folder / name).write_text(dumps(obj), encoding="utf-8")

    raw_spec = json.loads((run.path / "spec.json").read_text(encoding="utf-8"))
    spec_dict = _redacted_spec(raw_spec)
    try:
        spec = parse_spec({k: v for k, v in spec_dict.items() if k != "metric_modules"}, base_dir=folder)
    except Exception as err:  # noqa: BLE001 - a spec this qmsprint cannot read back
        raise BundleError(f"cannot redact {run.path.name}: its spec does not read back ({err})") from None
    js("spec.json", spec_dict)
    (folder / "spec.toml").write_text(spec_to_toml(spec), encoding="utf-8")
    js("provenance.json", _provenance(run.provenance, raw_spec.get("data") or {}))
    for name in ("warnings.json", "health.json", "results.json", "recommendation.json", "design.json"):
        if name in run.manifest["files"]:
            js(name, redact(json.loads((run.path / name).read_text(encoding="utf-8"))))
    if "diagnosis.json" in run.manifest["files"]:
        js("diagnosis.json", _diagnosis(run.diagnosis))
    write_parquet(without_agents(run.cells), folder / "cells.parquet", compression=None)
    write_parquet(run.weekly, folder / "weekly.parquet", compression=None)
    write_csv(redact_frame(run.effects), folder / "effects.csv")
    write_csv(redact_frame(run.diagnostics), folder / "diagnostics.csv")
    shutil.copyfile(run.path / "draws.npz", folder / "draws.npz")
    for rel in run.manifest["files"]:
        if rel.startswith("metric_modules/"):  # plug-in metrics the run needs to open
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(run.path / rel, folder / rel)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "qmsprint_version": qmsprint.__version__,
        "created": run.manifest.get("created", ""),
        "run": run.manifest.get("run", run.name),
        "redacted": True,
        "redacted_at": dt.datetime.now().isoformat(timespec="seconds"),
        "files": {p.relative_to(folder).as_posix(): sha256(p) for p in files},
    }
    js(MANIFEST, manifest)
    return [p.relative_to(folder).as_posix() for p in files] + [MANIFEST]


def _fill_redacted_diagnosis(diag: DiagnosisFolder, folder: Path) -> list[str]:
    import qmsprint

    data = _diagnosis(diag.diagnosis)
    (folder / DIAGNOSIS_FILE).write_text(json.dumps(data, indent=2), encoding="utf-8")
    names = [DIAGNOSIS_FILE]
    for csv in sorted(diag.path.glob("*.csv")):
        try:
            table = read_csv(csv)
        except pd.errors.EmptyDataError:  # an empty table (a part the diagnosis skipped)
            table = pd.DataFrame()
        table = table.drop(columns=[c for c in ("agent_id", "agent") if c in table.columns])
        write_csv(redact_frame(table), folder / csv.name)
        names.append(csv.name)
    write_diagnosis_manifest(folder, names, qmsprint.__version__, (data.get("meta") or {}).get("created"))
    return names + [MANIFEST]


def fill_redacted(folder_obj: RunBundle | DiagnosisFolder, folder: Path) -> list[str]:
    """Write the redacted copy of a run or diagnosis folder into the empty ``folder``."""
    if isinstance(folder_obj, DiagnosisFolder):
        return _fill_redacted_diagnosis(folder_obj, folder)
    return _fill_redacted_run(folder_obj, folder)


def write_redacted_run(folder_obj: RunBundle | DiagnosisFolder, out_dir: str | Path) -> Path:
    """Write a redacted copy of a loaded run (or diagnosis) folder as the new folder ``out_dir``.

    Raises
    ------
    BundleError
        ``out_dir`` exists (nothing is overwritten) or cannot be written.

    """
    folder, _ = create_folder(Path(out_dir), lambda tmp: fill_redacted(folder_obj, tmp), "redacted runs")
    return folder


def write_share_folder(
    folder_obj: RunBundle | DiagnosisFolder,
    out_dir: str | Path,
    *,
    allowed_emails: Sequence[str] = (),
    allowed_domains: Sequence[str] = (),
    client_name: str = "",
    requirements: Sequence[str] = (),
) -> list[Path]:
    """Write the deployable share folder ``out_dir`` for one client (see the module docstring).

    Parameters
    ----------
    folder_obj
        The loaded run (or diagnosis) folder to share.
    out_dir
        New folder to create (never overwritten).
    allowed_emails, allowed_domains
        Who may sign in with OIDC (written into the secrets template).
    client_name
        Shown in the app's header (``[share] client_name``).
    requirements
        Pinned requirement lines (``name==version``) for ``requirements.txt``.

    Returns
    -------
    list of Path
        The files written, relative paths resolved under the new folder.

    Raises
    ------
    BundleError
        ``out_dir`` exists or cannot be written, or the run cannot be redacted.

    """
    import qmsprint

    package = Path(qmsprint.__file__).resolve().parent
    run_rel = f"run/{folder_obj.name}"

    def write(tmp: Path) -> list[str]:
        (tmp / run_rel).mkdir(parents=True)
        names = [f"{run_rel}/{n}" for n in fill_redacted(folder_obj, tmp / run_rel)]
        shutil.copytree(package, tmp / "qmsprint", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        names += sorted(p.relative_to(tmp).as_posix() for p in (tmp / "qmsprint").rglob("*") if p.is_file())
        texts = share_files(
            run_rel=run_rel,
            run_name=folder_obj.name,
            allowed_emails=list(allowed_emails),
            allowed_domains=list(allowed_domains),
            client_name=client_name,
            requirements=list(requirements),
            version=qmsprint.__version__,
        )
        for rel, text in texts.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_text(text, encoding="utf-8")
        return names + sorted(texts)

    folder, names = create_folder(Path(out_dir), write, "shares")
    return [folder / n for n in names]
