"""Run bundles: one self-contained, integrity-checked folder per run, with no personal data.

Layout of ``runs/<name>-<YYYYmmdd-HHMMSS>[-k]/`` (see ARCHITECTURE.md)::

    manifest.json        format "qmsprint-run", format version, qmsprint version, sha256 of every file
    spec.toml            the experiment file as given (regenerated from the spec when there is no file)
    spec.json            the spec as run, defaults filled in
    provenance.json      data fingerprint, row counts, versions, seed, timestamps, prior used
    warnings.json        data warnings (list of Problem dicts)
    health.json          health checks (list of HealthCheck dicts)
    cells.parquet        sufficient statistics, agent ids pseudonymised, no customer ids
    weekly.parquet       weekly counts by arm and period
    results.json         every MetricResult.to_dict()
    effects.csv          every effect (overall and per segment), one row each
    diagnostics.csv      sampler diagnostics per metric
    draws.npz            headline effect draws per metric
    posterior/<metric>.nc  ArviZ InferenceData (NetCDF, flat attributes)
    recommendation.json  the Recommendation
    diagnosis.json       (when computed) checklist diagnosis on the baseline period
    design.json          (when computed) balance by arm

Writing (:func:`save_run`) goes to a hidden temporary folder beside the final one, which is
renamed into place only when every file and the manifest are written; any failure (including
``KeyboardInterrupt``) removes the temporary folder, and an existing run is never overwritten
(a ``-2``, ``-3`` ... suffix is added). Loading (:func:`load_run`) checks the manifest, the format
and version and every file's hash, and raises :class:`~qmsprint.errors.BundleError` listing every
problem for a missing, damaged or foreign folder.

Diagnosis folders: ``qmsprint diagnose`` writes ``diagnosis.json`` and one CSV per table into a
new folder of its own (:func:`diagnosis_folder_name`, no manifest); :func:`list_runs` lists them
beside the runs when asked, :func:`load_diagnosis` reads one and :func:`open_folder` opens
either kind.

Personal data: agent ids are replaced by stable pseudonyms (``agent-001`` ... in sorted order of
the original ids) everywhere they would appear (cells, posterior coordinates, diagnosis tables,
result dictionaries); ``customer_id`` columns are dropped; interaction-level rows are never stored.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qmsprint.decide import ACTION_LABELS, VERDICT_LABELS, Recommendation
from qmsprint.errors import BundleError, Problem
from qmsprint.results import Diagnostics, Effect, HealthCheck, MetricResult
from qmsprint.spec import Spec, parse_spec, spec_to_dict

FORMAT = "qmsprint-run"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
REQUIRED_FILES = (
    "spec.toml",
    "spec.json",
    "provenance.json",
    "warnings.json",
    "health.json",
    "cells.parquet",
    "weekly.parquet",
    "results.json",
    "effects.csv",
    "diagnostics.csv",
    "draws.npz",
    "recommendation.json",
)
PERSONAL_COLUMNS = ("customer_id", "interaction_id")
AGENT_PREFIX = "agent-"


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _jsonable(x: Any) -> Any:
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, np.bool_):
        return bool(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, dt.date | dt.datetime | pd.Timestamp):
        return x.isoformat()
    if isinstance(x, Path):
        return str(x)
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return dataclasses.asdict(x)
    if isinstance(x, set | tuple):
        return list(x)
    return str(x)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, default=_jsonable, ensure_ascii=False)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _slug(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    return s or "run"


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v) if not (isinstance(v, float) and not math.isfinite(v)) else ("nan" if v != v else "inf")
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(v)):
        return str(v)  # a TOML date
    return json.dumps(str(v), ensure_ascii=False)


def _toml_key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k)


def spec_to_toml(spec: Spec) -> str:
    """The spec as TOML (for specs built in code, which have no experiment file to keep)."""
    d = {k: v for k, v in spec_to_dict(spec).items() if v is not None}
    scalars = {k: v for k, v in d.items() if not isinstance(v, dict) and not (k == "metrics")}
    lines = ["# experiment file regenerated from the spec as run (defaults filled in)"]
    lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in scalars.items()]
    for k, v in d.items():
        if isinstance(v, dict):
            lines.append(f"\n[{_toml_key(k)}]")
            lines += [f"{_toml_key(a)} = {_toml_value(b)}" for a, b in v.items() if b is not None]
    for m in d.get("metrics", []):
        lines.append("\n[[metrics]]")
        lines += [f"{_toml_key(a)} = {_toml_value(b)}" for a, b in m.items() if b is not None]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Personal data
# --------------------------------------------------------------------------------------------


def agent_pseudonyms(agent_ids: Iterable[Any]) -> dict[str, str]:
    """Stable pseudonyms ``agent-001`` ... for agent ids, in sorted order of the ids."""
    ids = sorted({str(a) for a in agent_ids if a is not None and not (isinstance(a, float) and math.isnan(a))})
    width = max(3, len(str(len(ids))))
    return {a: f"{AGENT_PREFIX}{i + 1:0{width}d}" for i, a in enumerate(ids)}


def _extend(mapping: dict[str, str], values: Iterable[Any]) -> dict[str, str]:
    new = sorted({str(v) for v in values} - set(mapping) - set(mapping.values()))
    width = len(next(iter(mapping.values()), f"{AGENT_PREFIX}000")) - len(AGENT_PREFIX)
    for i, a in enumerate(new, start=len(mapping) + 1):
        mapping[a] = f"{AGENT_PREFIX}{i:0{width}d}"
    return mapping


def _scrub(obj: Any, mapping: Mapping[str, str]) -> Any:
    """Replace every string equal to an agent id by its pseudonym, recursively."""
    if isinstance(obj, str):
        return mapping.get(obj, obj)
    if isinstance(obj, dict):
        return {mapping.get(k, k) if isinstance(k, str) else k: _scrub(v, mapping) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_scrub(v, mapping) for v in obj]
    return obj


def _scrub_frame(df: pd.DataFrame, mapping: dict[str, str]) -> pd.DataFrame:
    df = df.drop(columns=[c for c in PERSONAL_COLUMNS if c in df.columns]).copy()
    if "agent_id" in df.columns:
        _extend(mapping, df["agent_id"].dropna().astype(str).unique())
        df["agent_id"] = df["agent_id"].astype("string").map(lambda a: mapping.get(a, a) if a is not pd.NA else a)
        df["agent_id"] = df["agent_id"].astype(object)
    for c in df.columns:
        if df[c].dtype == object or str(df[c].dtype) in ("string", "category"):
            s = df[c]
            if s.map(lambda v: isinstance(v, str) and v in mapping).any():
                df[c] = s.map(lambda v: mapping.get(v, v) if isinstance(v, str) else v)
    return df


def _flat_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in attrs.items():
        if isinstance(v, str | int | float | np.integer | np.floating) and not isinstance(v, bool):
            out[str(k)] = v
        elif isinstance(v, bool | np.bool_):
            out[str(k)] = int(v)
        else:
            out[str(k)] = json.dumps(v, default=_jsonable)
    return out


def _write_posterior(idata: Any, path: Path, mapping: dict[str, str], attrs: Mapping[str, Any]) -> None:
    """Write an InferenceData as NetCDF with flat attributes and pseudonymised string coordinates."""
    import arviz as az

    groups = {}
    for g in idata.groups():
        ds = idata[g]
        for name, coord in ds.coords.items():
            if coord.dtype.kind in ("U", "S", "O"):
                vals = [str(v) for v in coord.values.tolist()]
                if any(v in mapping for v in vals):
                    ds = ds.assign_coords({name: [mapping.get(v, v) for v in vals]})
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


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def effects_table(results: Sequence[MetricResult]) -> pd.DataFrame:
    """Every effect of every metric (overall and per segment), one row each, headline flagged."""
    rows = []
    for r in results:
        for e in r.effects:
            rows.append({**e.to_dict(), "headline": e == r.headline})
        for e in r.segments:
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


def _unique_target(runs_dir: Path, base: str) -> Path:
    target = runs_dir / base
    k = 2
    while target.exists():
        target = runs_dir / f"{base}-{k}"
        k += 1
    return target


def write_new_folder(out_dir: str | Path, write: Callable[[Path], list[str]], what: str) -> list[Path]:
    """Create the new folder ``out_dir`` holding the files ``write(folder)`` writes, atomically.

    ``write`` fills a hidden temporary folder beside ``out_dir`` and returns the names it wrote;
    the folder is then renamed into place. On any failure the temporary folder is removed and
    nothing is left behind.

    Raises
    ------
    BundleError
        If ``out_dir`` already exists (``what`` are never overwritten) or cannot be written.

    """
    out = Path(out_dir)
    if out.exists():
        raise BundleError(f"{out} already exists; choose a new folder ({what} are never overwritten)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        names = write(tmp)
        os.rename(tmp, out)
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise BundleError(f"could not create {out}: {err}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [out / n for n in names]


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
    """Write a new run bundle atomically and return its folder.

    Parameters
    ----------
    spec
        The spec as run.
    results, recommendation, health, warnings
        What the run computed.
    cells, weekly
        Sufficient statistics and weekly counts (agent ids are pseudonymised here).
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
    base = f"{_slug(spec.name)}-{now:%Y%m%d-%H%M%S}"
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{base}.", suffix=".tmp", dir=runs_dir))
    except OSError as err:
        raise BundleError(f"cannot create a run folder under {runs_dir}: {err}") from None
    try:
        cells_df = cells if cells is not None else pd.DataFrame()
        mapping = agent_pseudonyms(cells_df["agent_id"].dropna().unique() if "agent_id" in cells_df else [])
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
            mapping=mapping,
            version=qmsprint.__version__,
            created=now,
        )
        target = _unique_target(runs_dir, base)
        os.replace(tmp, target)
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(err, OSError):
            raise BundleError(f"could not write the run folder under {runs_dir}: {err}") from None
        raise
    return target


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
    mapping: dict[str, str],
    version: str,
    created: dt.datetime,
) -> None:
    def text(name: str, content: str) -> None:
        (tmp / name).write_text(content, encoding="utf-8")

    def js(name: str, obj: Any) -> None:
        text(name, _dumps(_scrub(json.loads(_dumps(obj)), mapping)))

    # spec
    src = spec.source_path
    if src is not None and Path(src).is_file():
        (tmp / "spec.toml").write_bytes(Path(src).read_bytes())
    else:
        text("spec.toml", spec_to_toml(spec))
    js("spec.json", spec_to_dict(spec))
    # tables (the agent mapping grows as frames are scrubbed, so cells go first)
    _scrub_frame(cells, mapping).to_parquet(tmp / "cells.parquet", index=False, compression=None)
    _scrub_frame(weekly, mapping).to_parquet(tmp / "weekly.parquet", index=False, compression=None)
    js("warnings.json", [dataclasses.asdict(w) for w in warnings])
    js("health.json", [h.to_dict() for h in health])
    js("results.json", [r.to_dict() for r in results])
    _scrub_frame(effects_table(results), mapping).to_csv(tmp / "effects.csv", index=False)
    diagnostics_table(results).to_csv(tmp / "diagnostics.csv", index=False)
    with open(tmp / "draws.npz", "wb") as f:
        np.savez(f, **{r.metric: np.asarray(r.draws, dtype=float).ravel() for r in results})
    posterior = [r for r in results if r.idata is not None]
    if posterior:
        (tmp / "posterior").mkdir()
        for r in posterior:
            _write_posterior(
                r.idata, tmp / "posterior" / f"{r.metric}.nc", mapping, {"qmsprint_metric": r.metric, "run": spec.name}
            )
    js("recommendation.json", recommendation.to_dict())
    if diagnosis is not None:
        d = dict(diagnosis)
        if isinstance(d.get("quadrant"), list):
            _extend(mapping, [row.get("agent_id") for row in d["quadrant"] if row.get("agent_id") is not None])
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
        "sampler": spec.sampler.model_dump(),
        "versions": library_versions(),
        "agents_pseudonymised": len(mapping),
        **provenance,
    }
    js("provenance.json", prov)
    # manifest last: its presence marks a complete bundle
    files = sorted(p for p in tmp.rglob("*") if p.is_file())
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "qmsprint_version": version,
        "created": created.isoformat(timespec="seconds"),
        "run": spec.name,
        "files": {p.relative_to(tmp).as_posix(): _sha256(p) for p in files},
    }
    text(MANIFEST, _dumps(manifest))


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


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def _read_manifest(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise BundleError(f"run folder not found: {path}")
    if not path.is_dir():
        raise BundleError(f"{path} is not a folder; expected a run folder written by `qmsprint run`")
    mf = path / MANIFEST
    if not mf.is_file():
        raise BundleError(
            f"{path} is not a qmsprint run folder (no {MANIFEST}); expected a folder written by `qmsprint run`"
        )
    try:
        manifest = json.loads(mf.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BundleError(f"{path} is damaged: {MANIFEST} is not valid JSON ({err})") from None
    fmt = manifest.get("format") if isinstance(manifest, dict) else None
    if fmt != FORMAT:
        raise BundleError(f"{path} is not a qmsprint run folder ({MANIFEST} has format {fmt!r}, expected {FORMAT!r})")
    version = manifest.get("format_version")
    if not isinstance(version, int):
        raise BundleError(f"{path} is damaged: {MANIFEST} has no format_version")
    if version > FORMAT_VERSION:
        raise BundleError(
            f"{path} was written by a newer qmsprint (run format {version}, qmsprint "
            f"{manifest.get('qmsprint_version', '?')}); this qmsprint reads format {FORMAT_VERSION}: upgrade qmsprint"
        )
    if not isinstance(manifest.get("files"), dict):
        raise BundleError(f"{path} is damaged: {MANIFEST} lists no files")
    return manifest


def verify_run(path: str | Path) -> dict[str, Any]:
    """Check a run folder's manifest and every file's hash; return the manifest.

    Raises
    ------
    BundleError
        For a missing, foreign, newer or damaged folder, with every problem found.

    """
    path = Path(path)
    manifest = _read_manifest(path)
    problems: list[Problem] = []
    listed = manifest["files"]
    for rel in REQUIRED_FILES:
        if rel not in listed:
            problems.append(Problem(rel, "not listed in the manifest"))
    for rel, digest in listed.items():
        p = path / rel
        if not p.is_file():
            problems.append(Problem(rel, "file is missing"))
        elif _sha256(p) != digest:
            problems.append(Problem(rel, "file was changed after the run was written (checksum mismatch)"))
    if problems:
        raise BundleError(f"run folder {path} is damaged", problems)
    return manifest


def _result_from_dict(d: dict[str, Any], draws: np.ndarray | None) -> MetricResult:
    diag_fields = {f.name for f in dataclasses.fields(Diagnostics)}
    le = d.get("latent_effect")
    return MetricResult(
        metric=d["metric"],
        design=d["design"],
        headline=Effect(**d["headline"]),
        effects=[Effect(**e) for e in d.get("effects", [])],
        segments=[Effect(**e) for e in d.get("segments", [])],
        draws=np.asarray(draws if draws is not None else [], dtype=float),
        diagnostics=Diagnostics(**{k: v for k, v in d["diagnostics"].items() if k in diag_fields}),
        response_rates=d.get("response_rates", {}),
        ppc=d.get("ppc", {}),
        level_shares=d.get("level_shares", {}),
        n_units=d.get("n_units", {}),
        n_obs=d.get("n_obs", {}),
        notes=list(d.get("notes", [])),
        latent_effect=tuple(le) if le else None,
    )


class Run:
    """A loaded run bundle (integrity checked by :func:`load_run`).

    Files are read on first access.

    Attributes
    ----------
    path, name, manifest, created
        The folder, its name, the manifest dict and the creation time (ISO text).
    spec
        :class:`~qmsprint.spec.Spec` as run (relative data paths resolve against the run folder,
        so re-run from the original experiment file, kept as :attr:`spec_text`).
    spec_text
        ``spec.toml`` as given.
    provenance
        dict: data fingerprint, row counts, versions, seed, timestamps, ``prior_from``.
    results
        list of :class:`~qmsprint.results.MetricResult` (draws restored, ``idata`` not loaded:
        use :meth:`posterior`).
    effects, diagnostics
        DataFrames from ``effects.csv`` / ``diagnostics.csv``.
    recommendation
        :class:`~qmsprint.decide.Recommendation`.
    health
        list of :class:`~qmsprint.results.HealthCheck`.
    warnings : list of Problem
        Data warnings (:class:`~qmsprint.errors.Problem`).
    cells, weekly
        DataFrames (agent ids pseudonymised).
    draws
        dict metric -> headline effect draws.
    diagnosis, design
        dicts, or ``None`` when not computed.

    """

    def __init__(self, path: Path, manifest: dict[str, Any]) -> None:
        self.path = path
        self.manifest = manifest

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    @property
    def name(self) -> str:
        """Folder name of the run."""
        return self.path.name

    @property
    def created(self) -> str:
        """When the run was made (ISO text)."""
        return str(self.manifest.get("created", ""))

    @property
    def files(self) -> list[str]:
        """Files of the bundle (relative paths)."""
        return sorted(self.manifest["files"])

    def _json(self, name: str) -> Any:
        try:
            return json.loads((self.path / name).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise BundleError(f"run folder {self.path} is damaged: {name} cannot be read ({err})") from None

    def _optional_json(self, name: str) -> Any:
        return self._json(name) if name in self.manifest["files"] else None

    @cached_property
    def spec_text(self) -> str:
        """The experiment file as given."""
        return (self.path / "spec.toml").read_text(encoding="utf-8")

    @cached_property
    def spec(self) -> Spec:
        """The spec as run."""
        try:
            return parse_spec(self._json("spec.json"), base_dir=self.path)
        except Exception as err:  # SpecError from an incompatible spec
            raise BundleError(f"run folder {self.path}: spec.json cannot be read: {err}") from None

    @cached_property
    def provenance(self) -> dict[str, Any]:
        """Provenance dict."""
        return self._json("provenance.json")

    @cached_property
    def draws(self) -> dict[str, np.ndarray]:
        """Headline effect draws per metric."""
        with np.load(self.path / "draws.npz") as z:
            return {k: np.asarray(z[k]) for k in z.files}

    @cached_property
    def results(self) -> list[MetricResult]:
        """MetricResults, with their draws."""
        try:
            return [_result_from_dict(d, self.draws.get(d["metric"])) for d in self._json("results.json")]
        except (KeyError, TypeError) as err:
            raise BundleError(
                f"run folder {self.path} is damaged: results.json has an unexpected shape ({err})"
            ) from None

    @cached_property
    def effects(self) -> pd.DataFrame:
        """Every effect, one row each."""
        return pd.read_csv(self.path / "effects.csv")

    @cached_property
    def diagnostics(self) -> pd.DataFrame:
        """Sampler diagnostics per metric."""
        return pd.read_csv(self.path / "diagnostics.csv")

    @cached_property
    def recommendation(self) -> Recommendation:
        """The recommendation."""
        return Recommendation.from_dict(self._json("recommendation.json"))

    @cached_property
    def health(self) -> list[HealthCheck]:
        """Health checks."""
        return [HealthCheck(**h) for h in self._json("health.json")]

    @cached_property
    def warnings(self) -> list[Problem]:
        """Data warnings."""
        out = []
        for w in self._json("warnings.json"):
            w = dict(w)
            w["rows"] = tuple(w.get("rows") or ())
            w["examples"] = tuple(w.get("examples") or ())
            out.append(Problem(**w))
        return out

    @cached_property
    def cells(self) -> pd.DataFrame:
        """Sufficient statistics (agent ids pseudonymised)."""
        return pd.read_parquet(self.path / "cells.parquet")

    @cached_property
    def weekly(self) -> pd.DataFrame:
        """Weekly counts by arm and period."""
        return pd.read_parquet(self.path / "weekly.parquet")

    @cached_property
    def diagnosis(self) -> dict[str, Any] | None:
        """Diagnosis dict, or None."""
        return self._optional_json("diagnosis.json")

    @cached_property
    def design(self) -> dict[str, Any] | None:
        """Design / balance dict, or None."""
        return self._optional_json("design.json")

    @property
    def metrics(self) -> list[str]:
        """Metric names, in the spec's order."""
        return [r.metric for r in self.results]

    def result(self, metric: str) -> MetricResult:
        """The MetricResult of one metric."""
        for r in self.results:
            if r.metric == metric:
                return r
        raise KeyError(metric)

    def posterior(self, metric: str) -> Any:
        """ArviZ InferenceData of one metric's fit (loaded into memory).

        Raises
        ------
        BundleError
            If the run has no posterior for ``metric``.

        """
        import arviz as az

        rel = f"posterior/{metric}.nc"
        if rel not in self.manifest["files"]:
            raise BundleError(f"run {self.name} has no posterior for {metric!r}")
        return az.from_netcdf(str(self.path / rel))


def load_run(path: str | Path) -> Run:
    """Load a run bundle after checking its manifest, format version and every file's hash.

    Raises
    ------
    BundleError
        For a missing, damaged (changed or missing file, bad JSON), foreign or newer folder.

    """
    path = Path(path)
    manifest = verify_run(path)
    run = Run(path, manifest)
    # parse the small JSON files now so a damaged bundle fails here, not later
    for attr in ("provenance", "recommendation", "results", "health", "warnings"):
        try:
            getattr(run, attr)
        except BundleError:
            raise
        except Exception as err:
            raise BundleError(f"run folder {path} is damaged: {attr} cannot be read ({err})") from None
    return run


def list_runs(runs_dir: str | Path, *, diagnoses: bool = False) -> list[Path]:
    """Run folders under ``runs_dir`` (those with a qmsprint manifest), newest first.

    With ``diagnoses``, diagnosis folders written by ``qmsprint diagnose`` are listed too.
    Damaged runs are listed too (loading them gives the error); hidden temporary folders are not.
    """
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    found: list[tuple[str, str, Path]] = []
    for p in root.iterdir():
        if not p.is_dir() or p.name.startswith("."):
            continue
        mf = p / MANIFEST
        if not mf.is_file():
            if diagnoses and is_diagnosis_folder(p):
                found.append((_diagnosis_created(p), p.name, p))
            continue
        try:
            m = json.loads(mf.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            m = {"format": FORMAT}
        if isinstance(m, dict) and m.get("format") == FORMAT:
            found.append((str(m.get("created", "")), p.name, p))
    return [p for *_, p in sorted(found, key=lambda t: (t[0], t[1]), reverse=True)]


# --------------------------------------------------------------------------------------------
# Diagnosis folders (``qmsprint diagnose``)
# --------------------------------------------------------------------------------------------

DIAGNOSIS_FILE = "diagnosis.json"


def is_diagnosis_folder(path: str | Path) -> bool:
    """True for a folder written by ``qmsprint diagnose`` (a diagnosis, no run manifest)."""
    p = Path(path)
    return (p / DIAGNOSIS_FILE).is_file() and not (p / MANIFEST).exists()


def _diagnosis_created(path: Path, diagnosis: dict[str, Any] | None = None) -> str:
    """When a diagnosis was made (ISO text): its ``meta.created``, else the file's time.

    ``diagnosis`` is the folder's ``diagnosis.json`` when already read.
    """
    try:
        if diagnosis is None:
            diagnosis = json.loads((path / DIAGNOSIS_FILE).read_text(encoding="utf-8"))
        created = diagnosis.get("meta", {}).get("created")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        created = None
    if created:
        return str(created)
    try:
        return dt.datetime.fromtimestamp((path / DIAGNOSIS_FILE).stat().st_mtime).isoformat(timespec="seconds")
    except OSError:
        return ""


class DiagnosisFolder:
    """A diagnosis written by ``qmsprint diagnose`` (``diagnosis.json`` and one CSV per table).

    Attributes
    ----------
    path, name, created
        The folder, its name and when the diagnosis was made (ISO text).
    diagnosis
        The ``Diagnosis.to_dict()`` dict.
    spec
        dict with the experiment's ``name`` and ``client``.

    """

    def __init__(self, path: Path, diagnosis: dict[str, Any]) -> None:
        self.path = path
        self.diagnosis = diagnosis

    def __repr__(self) -> str:
        return f"DiagnosisFolder({str(self.path)!r})"

    @property
    def name(self) -> str:
        """Folder name."""
        return self.path.name

    @property
    def created(self) -> str:
        """When the diagnosis was made (ISO text)."""
        return _diagnosis_created(self.path, self.diagnosis)

    @property
    def spec(self) -> dict[str, Any]:
        """The experiment's name and client, as far as the diagnosis records them."""
        meta = self.diagnosis.get("meta") or {}
        return {"name": meta.get("name") or self.name, "client": meta.get("client") or ""}


def load_diagnosis(path: str | Path) -> DiagnosisFolder:
    """Load a diagnosis folder written by ``qmsprint diagnose``.

    Raises
    ------
    BundleError
        For a missing folder, or a ``diagnosis.json`` that is missing, not JSON or lacks its tables.

    """
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"diagnosis folder not found: {path}")
    try:
        d = json.loads((path / DIAGNOSIS_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(
            f"{path} holds no {DIAGNOSIS_FILE}; expected a folder written by `qmsprint diagnose`"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BundleError(f"{path} is damaged: {DIAGNOSIS_FILE} cannot be read ({err})") from None
    missing = [
        k
        for k in ("meta", "r2", "items", "quadrant", "root_causes", "variance")
        if not isinstance(d, dict) or k not in d
    ]
    if missing:
        raise BundleError(f"{path} is damaged: {DIAGNOSIS_FILE} lacks {', '.join(missing)}")
    return DiagnosisFolder(path, d)


def open_folder(path: str | Path) -> Run | DiagnosisFolder:
    """A run bundle (:func:`load_run`) or, for a ``qmsprint diagnose`` folder, :func:`load_diagnosis`."""
    return load_diagnosis(path) if is_diagnosis_folder(path) else load_run(path)


def diagnosis_folder_name(spec: Spec, now: dt.datetime | None = None) -> Path:
    """A new folder for a diagnosis under the spec's runs folder (``<name>-diagnosis-<time>``)."""
    now = now or dt.datetime.now()
    return _unique_target(spec.runs_dir, f"{_slug(spec.name)}-diagnosis-{now:%Y%m%d-%H%M%S}")


# --------------------------------------------------------------------------------------------
# Repeat pilots: priors from earlier runs, comparisons
# --------------------------------------------------------------------------------------------


def prior_from_run(spec: Spec) -> tuple[dict[str, tuple[float, float]], dict[str, Any]] | None:
    """The latent treatment effects of the run named by ``spec.model.prior_from``, as priors.

    Returns
    -------
    (prior, info) or None
        ``prior`` maps metric -> (mean, sd) for metrics of this spec that the earlier run
        estimated; ``info`` says which run and which metrics (for provenance and the report).
        ``None`` when the spec names no earlier run.

    Raises
    ------
    BundleError
        If the earlier run is missing or damaged, or shares no metric with this spec.

    """
    if not spec.model.prior_from:
        return None
    path = spec.resolve(spec.model.prior_from)
    try:
        run = load_run(path)
    except BundleError as err:
        raise BundleError(f"model.prior_from: {err}", err.problems) from None
    wanted = [m.name for m in spec.metrics]
    prior: dict[str, tuple[float, float]] = {}
    for r in run.results:
        if r.metric in wanted and r.latent_effect is not None:
            mean, sd = float(r.latent_effect[0]), float(r.latent_effect[1])
            if math.isfinite(mean) and math.isfinite(sd) and sd > 0:
                prior[r.metric] = (mean, sd)
    if not prior:
        raise BundleError(
            f"model.prior_from: run {run.name} has no latent effect for any metric of this spec ({', '.join(wanted)})"
        )
    info = {
        "run": run.name,
        "created": run.created,
        "design": run.spec.design,
        "metrics": {k: list(v) for k, v in prior.items()},
        "without_prior": [m for m in wanted if m not in prior],
    }
    return prior, info


COMPARE_COLUMNS = [
    "run",
    "date",
    "metric",
    "role",
    "scale",
    "effect",
    "unit",
    "hdi_low",
    "hdi_high",
    "hdi_prob",
    "prob_improve",
    "prob_meaningful",
    "verdict",
    "recommendation",
    "prior_from",
]


def compare_runs(paths: Sequence[str | Path]) -> pd.DataFrame:
    """Pilots side by side: one row per run x metric with the headline effect and the calls.

    Columns: ``run``, ``date``, ``metric``, ``role``, ``scale``, ``effect`` (headline mean), ``unit``,
    ``hdi_low``, ``hdi_high``, ``hdi_prob``, ``prob_improve``, ``prob_meaningful``, ``verdict``,
    ``recommendation`` (the run's action label), ``prior_from`` (earlier run used as prior, if any).

    Raises
    ------
    BundleError
        If no run is given or any run is missing or damaged (every such run is listed).

    """
    if not paths:
        raise BundleError("compare needs at least one run folder")
    runs, problems = [], []
    for p in paths:
        try:
            runs.append(load_run(p))
        except BundleError as err:
            problems.append(Problem(str(p), err.message if not err.problems else str(err)))
    if problems:
        raise BundleError("cannot compare: some run folders cannot be read", problems)
    rows = []
    for run in runs:
        rec = run.recommendation
        roles = {m.name: m.role for m in run.spec.metrics}
        prior = (run.provenance.get("prior_from") or {}).get("run") if run.provenance.get("prior_from") else None
        for r in run.results:
            h = r.headline
            v = rec.verdicts.get(r.metric)
            rows.append(
                {
                    "run": run.name,
                    "date": run.created[:10],
                    "metric": r.metric,
                    "role": roles.get(r.metric, ""),
                    "scale": h.scale,
                    "effect": h.mean,
                    "unit": h.unit,
                    "hdi_low": h.hdi_low,
                    "hdi_high": h.hdi_high,
                    "hdi_prob": h.hdi_prob,
                    "prob_improve": v.prob_better if v else h.prob_improve,
                    "prob_meaningful": v.prob_meaningful if v else h.prob_meaningful,
                    "verdict": VERDICT_LABELS.get(v.verdict, v.verdict) if v else "",
                    "recommendation": ACTION_LABELS.get(rec.action, rec.action),
                    "prior_from": prior or "",
                }
            )
    return pd.DataFrame(rows, columns=COMPARE_COLUMNS)
