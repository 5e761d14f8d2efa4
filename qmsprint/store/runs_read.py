"""Reading run folders: :func:`load_run` checks the manifest, then :class:`RunBundle` reads the files.

Loading checks the manifest, the format and version and every file's hash, and raises
:class:`~qmsprint.errors.BundleError` listing every problem for a missing, damaged or foreign folder.
"""

from __future__ import annotations

import dataclasses
import json
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qmsprint.decide import Recommendation
from qmsprint.errors import BundleError, Problem
from qmsprint.results import Diagnostics, Effect, HealthCheck, MetricResult
from qmsprint.spec import Spec, parse_spec
from qmsprint.store.common import FORMAT, FORMAT_VERSION, MANIFEST, REQUIRED_FILES, sha256
from qmsprint.store.csvfile import read_csv


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
        elif sha256(p) != digest:
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
        unit=d.get("unit", "agent"),
        n_clusters={str(k): int(v) for k, v in d.get("n_clusters", {}).items()},
        event_effects=[Effect(**e) for e in d.get("event_effects", [])],
    )


class RunBundle:
    """A loaded run folder (integrity checked by :func:`load_run`).

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
        return f"RunBundle({str(self.path)!r})"

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
        return read_csv(self.path / "effects.csv")

    @cached_property
    def diagnostics(self) -> pd.DataFrame:
        """Sampler diagnostics per metric."""
        return read_csv(self.path / "diagnostics.csv")

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


def load_run(path: str | Path) -> RunBundle:
    """Load a run bundle after checking its manifest, format version and every file's hash.

    Raises
    ------
    BundleError
        For a missing, damaged (changed or missing file, bad JSON), foreign or newer folder.

    """
    path = Path(path)
    manifest = verify_run(path)
    run = RunBundle(path, manifest)
    # parse the small JSON files now so a damaged bundle fails here, not later
    for attr in ("provenance", "recommendation", "results", "health", "warnings"):
        try:
            getattr(run, attr)
        except BundleError:
            raise
        except Exception as err:
            raise BundleError(f"run folder {path} is damaged: {attr} cannot be read ({err})") from None
    return run
