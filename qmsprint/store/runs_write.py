"""Writing run folders: :func:`save_run`, one self-contained folder per run, with no personal data.

Layout of ``runs/<name>-<YYYYmmdd-HHMMSS>[-k]/`` (see ARCHITECTURE.md)::

    manifest.json        format "qmsprint-run", format version, qmsprint version, sha256 of every file
    spec.toml            the experiment file as given (regenerated from the spec when there is no file)
    spec.json            the spec as run, defaults filled in
    provenance.json      data fingerprint, row counts, versions, seed, timestamps, prior used
    warnings.json        data warnings (list of Problem dicts)
    health.json          health checks (list of HealthCheck dicts)
    cells.parquet        sufficient statistics: agent pseudonyms, tenure in bands, no customer ids
    weekly.parquet       weekly counts by arm and period
    results.json         every MetricResult.to_dict()
    effects.csv          every effect (overall and per segment), one row each
    diagnostics.csv      sampler diagnostics per metric
    draws.npz            headline effect draws per metric
    posterior/<metric>.nc  ArviZ InferenceData (NetCDF, flat attributes)
    recommendation.json  the Recommendation
    diagnosis.json       (when computed) checklist diagnosis on the baseline period
    design.json          (when computed) balance by arm

The folder is written by :func:`qmsprint.store.atomic.create_folder`: a hidden temporary folder
beside the final one, renamed into place only when every file and the manifest are written; any
failure (including ``KeyboardInterrupt``) removes it, and an existing run is never overwritten (a
``-2``, ``-3`` ... suffix is added).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qmsprint.decide import Recommendation
from qmsprint.errors import Problem
from qmsprint.privacy import redact, without_password
from qmsprint.results import Diagnostics, Effect, HealthCheck, MetricResult
from qmsprint.spec import Spec, spec_to_dict
from qmsprint.spec_sampler import EFFECT_TARGET_ACCEPT
from qmsprint.store.atomic import create_folder
from qmsprint.store.common import FORMAT, FORMAT_VERSION, MANIFEST, dumps, jsonable, sha256, slug
from qmsprint.store.csvfile import redact_frame, write_csv, write_parquet
from qmsprint.store.personal import check_pseudonymised, stored_frame
from qmsprint.store.spec_toml import spec_to_toml


def effects_table(results: Sequence[MetricResult]) -> pd.DataFrame:
    """Every effect of every metric (overall and per segment), one row each, headline flagged."""
    rows = []
    for r in results:
        for e in r.effects:
            rows.append({**e.to_dict(), "headline": e == r.headline})
        for e in [*r.segments, *r.event_effects]:
            rows.append({**e.to_dict(), "headline": False})
    cols = [f.name for f in dataclasses.fields(Effect)] + ["headline"]
    return pd.DataFrame(rows, columns=cols)


def diagnostics_table(results: Sequence[MetricResult]) -> pd.DataFrame:
    """Sampler diagnostics per metric, one row each."""
    rows = []
    for r in results:
        d = r.diagnostics.to_dict()
        d["problems"] = "; ".join(d["problems"])
        rows.append({"metric": r.metric, **d})
    cols = ["metric"] + [f.name for f in dataclasses.fields(Diagnostics)] + ["converged", "problems"]
    return pd.DataFrame(rows, columns=cols)


def library_versions() -> dict[str, str]:
    """Versions of the libraries behind a run (those that are installed)."""
    import importlib.metadata as md
    import platform

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for name in ("qmsprint", "numpy", "pandas", "pymc", "pytensor", "arviz", "nutpie", "duckdb", "ibis-framework"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out


def _without_passwords(spec: Spec) -> tuple[Spec, dict[str, str]]:
    """``spec`` with its connection strings' passwords removed, and {as written: as stored} for those that had one."""
    given = {k: v for k in ("connection", "spark_remote") if isinstance(v := getattr(spec.data, k), str)}
    changed = {k: kept for k, v in given.items() if (kept := without_password(v)) != v}
    if not changed:
        return spec, {}
    secrets = {given[k]: kept for k, kept in changed.items()}
    return spec.model_copy(update={"data": spec.data.model_copy(update=changed)}), secrets


def save_run(
    spec: Spec,
    *,
    results: Sequence[MetricResult],
    recommendation: Recommendation,
    health: Sequence[HealthCheck] = (),
    cells: pd.DataFrame | None = None,
    weekly: pd.DataFrame | None = None,
    warnings: Sequence[Problem] = (),
    provenance: Mapping[str, Any] | None = None,
    diagnosis: Mapping[str, Any] | None = None,
    design: Mapping[str, Any] | None = None,
    runs_dir: str | Path | None = None,
    now: dt.datetime | None = None,
) -> Path:
    """Write a new run folder atomically and return it.

    Parameters
    ----------
    spec
        The spec as run.
    results, recommendation, health, warnings
        What the run computed.
    cells, weekly
        Sufficient statistics and weekly counts, agent ids already pseudonymised (as
        :func:`qmsprint.data.prepare` returns them; anything else is refused).
    provenance
        Extra provenance (data fingerprint, row counts, timings, prior used, ...).
    diagnosis, design
        Optional JSON-able dicts (``Diagnosis.to_dict()``, balance table).
    runs_dir
        Parent folder (default: the spec's ``output.runs_dir``).
    now
        Timestamp of the run name (default: now, local time).

    Raises
    ------
    BundleError
        If the folder cannot be written; nothing is left behind.

    """
    import qmsprint

    runs_dir = Path(runs_dir) if runs_dir is not None else spec.runs_dir
    now = now or dt.datetime.now()
    cells_df = cells if cells is not None else pd.DataFrame()

    def write(tmp: Path) -> None:
        _write_all(
            tmp,
            spec=spec,
            results=results,
            recommendation=recommendation,
            health=health,
            cells=cells_df,
            weekly=weekly if weekly is not None else pd.DataFrame(),
            warnings=warnings,
            provenance=dict(provenance or {}),
            diagnosis=diagnosis,
            design=design,
            version=qmsprint.__version__,
            created=now,
        )

    base = f"{slug(spec.name)}-{now:%Y%m%d-%H%M%S}"
    folder, _ = create_folder(runs_dir / base, write, "runs", number_if_taken=True)
    return folder


def _copy_metric_modules(spec: Spec, tmp: Path) -> list[str]:
    """Metric modules given as files travel with the run (``metric_modules/<file>``), so it opens anywhere."""
    out = []
    for name in spec.metric_modules:
        if not name.endswith(".py"):
            out.append(name)  # a dotted module name: importable wherever qmsprint runs
            continue
        src = Path(name) if Path(name).is_absolute() else spec.base_dir / name
        (tmp / "metric_modules").mkdir(exist_ok=True)
        (tmp / "metric_modules" / src.name).write_bytes(src.read_bytes())
        out.append(f"metric_modules/{src.name}")
    return out


def _write_all(
    tmp: Path,
    *,
    spec: Spec,
    results: Sequence[MetricResult],
    recommendation: Recommendation,
    health: Sequence[HealthCheck],
    cells: pd.DataFrame,
    weekly: pd.DataFrame,
    warnings: Sequence[Problem],
    provenance: dict[str, Any],
    diagnosis: Mapping[str, Any] | None,
    design: Mapping[str, Any] | None,
    version: str,
    created: dt.datetime,
) -> None:
    def text(name: str, content: str) -> None:
        (tmp / name).write_text(content, encoding="utf-8")

    def js(name: str, obj: Any, *, free_text: bool = True) -> None:
        data = json.loads(dumps(obj))
        text(name, dumps(redact(data) if free_text else data))  # no absolute paths or connection strings

    # spec (a connection's password stays out: the database client finds it in PGPASSWORD / ~/.pgpass)
    stored, secrets = _without_passwords(spec)
    src = spec.source_path
    if src is not None and Path(src).is_file():
        raw = Path(src).read_bytes()
        for secret, kept in secrets.items():
            raw = raw.replace(secret.encode("utf-8"), kept.encode("utf-8"))
        (tmp / "spec.toml").write_bytes(raw)
    else:
        text("spec.toml", spec_to_toml(stored))
    js("spec.json", {**spec_to_dict(stored), "metric_modules": _copy_metric_modules(spec, tmp)}, free_text=False)
    write_parquet(stored_frame(cells, "cells"), tmp / "cells.parquet", compression=None)
    write_parquet(stored_frame(weekly, "weekly"), tmp / "weekly.parquet", compression=None)
    js("warnings.json", [dataclasses.asdict(w) for w in warnings])
    js("health.json", [h.to_dict() for h in health])
    js("results.json", [r.to_dict() for r in results])
    write_csv(redact_frame(effects_table(results)), tmp / "effects.csv")
    write_csv(diagnostics_table(results), tmp / "diagnostics.csv")
    with open(tmp / "draws.npz", "wb") as f:
        np.savez(f, **{r.metric: np.asarray(r.draws, dtype=float).ravel() for r in results})
    posterior = [r for r in results if r.idata is not None]
    if posterior:
        (tmp / "posterior").mkdir()
        for r in posterior:
            attrs = {"qmsprint_metric": r.metric, "run": spec.name}
            _write_posterior(r.idata, tmp / "posterior" / f"{r.metric}.nc", attrs)
    js("recommendation.json", recommendation.to_dict())
    if diagnosis is not None:
        d = dict(diagnosis)
        if isinstance(d.get("quadrant"), list):
            check_pseudonymised([row.get("agent_id") for row in d["quadrant"] if isinstance(row, dict)], "diagnosis")
        js("diagnosis.json", d)
    if design is not None:
        js("design.json", design)
    prov = {
        "run": spec.name,
        "created": created.isoformat(timespec="seconds"),
        "written": dt.datetime.now().isoformat(timespec="seconds"),
        "qmsprint_version": version,
        "spec_file": spec.source_path.name if spec.source_path is not None else None,
        "seed": spec.sampler.seed,
        # the target accept the effect models sampled at (the spec's, else their default)
        "sampler": spec.sampler.model_dump() | {"target_accept": spec.sampler.accept(EFFECT_TARGET_ACCEPT)},
        "versions": library_versions(),
        "agents_pseudonymised": int(cells["agent_id"].nunique()) if "agent_id" in cells else 0,
        **provenance,
    }
    js("provenance.json", prov)
    # manifest last: its presence marks a complete run folder
    files = sorted(p for p in tmp.rglob("*") if p.is_file())
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "qmsprint_version": version,
        "created": created.isoformat(timespec="seconds"),
        "run": spec.name,
        "files": {p.relative_to(tmp).as_posix(): sha256(p) for p in files},
    }
    text(MANIFEST, dumps(manifest))


def _flat_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in attrs.items():
        if isinstance(v, str | int | float | np.integer | np.floating) and not isinstance(v, bool):
            out[str(k)] = v
        elif isinstance(v, bool | np.bool_):
            out[str(k)] = int(v)
        else:
            out[str(k)] = json.dumps(v, default=jsonable)
    return out


def _write_posterior(idata: Any, path: Path, attrs: Mapping[str, Any]) -> None:
    """Write an InferenceData as NetCDF with flat attributes (agent coordinates must be pseudonyms)."""
    import arviz as az

    groups = {}
    for g in idata.groups():
        ds = idata[g]
        for name, coord in ds.coords.items():
            if "agent" in str(name) and coord.dtype.kind in ("U", "S", "O"):
                check_pseudonymised(coord.values.tolist(), f"posterior {path.stem}: {name}")
        ds = ds.copy()
        ds.attrs = _flat_attrs(ds.attrs)
        for v in ds.variables.values():
            v.attrs = _flat_attrs(v.attrs)
        groups[g] = ds
    if "posterior" in groups:
        groups["posterior"].attrs.update(_flat_attrs(attrs))
    top = getattr(idata, "attrs", None) or {}
    out = az.InferenceData(attrs=_flat_attrs(top) if top else None, **groups)
    out.to_netcdf(str(path), compress=False)
