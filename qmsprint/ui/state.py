"""Shared app state: configuration, the selected run, and cached bundles and downloads.

Bundles are loaded once per folder (``st.cache_resource``, keyed by the folder and its manifest's
modification time), so widget changes never reload or re-fit anything.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from qmsprint import metrics as metric_registry
from qmsprint.errors import QmsprintError
from qmsprint.ui.config import AppConfig, from_env

RUN_KEY = "qmsprint_run"
PENDING_KEY = "qmsprint_pending_run"
PAGES = Path(__file__).resolve().parent / "pages"


def page(name: str) -> str:
    """Path of a page script, for ``st.page_link`` / ``st.switch_page`` (e.g. ``page("metrics")``)."""
    return str(PAGES / f"{name}.py")


def config() -> AppConfig:
    """The app's mode and paths (set by :func:`qmsprint.serve.serve`)."""
    return from_env()


def _stamp(path: Path) -> float:
    manifest = path / "manifest.json"
    if not manifest.exists():
        manifest = path / "diagnosis.json"
    try:
        return (manifest if manifest.exists() else path).stat().st_mtime
    except OSError:
        return 0.0


@st.cache_resource(show_spinner="Loading the run…", max_entries=16)
def _load(path: str, stamp: float) -> Any:  # noqa: ARG001 - stamp invalidates the cache
    from qmsprint.bundle import open_folder

    return open_folder(Path(path))


def load(path: str | Path) -> Any:
    """The run bundle (or diagnosis folder) at ``path`` (cached; reloaded when the folder is rewritten)."""
    p = Path(path).resolve()
    return _load(str(p), _stamp(p))


@st.cache_data(ttl=10, show_spinner=False)
def list_run_paths(runs_dir: str, diagnoses: bool = False) -> list[str]:
    """Run folders (with ``diagnoses``, also diagnosis folders) under ``runs_dir``, newest first.

    Cached for a few seconds.
    """
    from qmsprint.serve import run_paths

    return [str(p) for p in run_paths(Path(runs_dir), diagnoses=diagnoses)]


def is_diagnosis(run: Any) -> bool:
    """True when ``run`` is a diagnosis folder from ``qmsprint diagnose`` (no pilot results)."""
    from qmsprint.bundle import DiagnosisFolder

    return isinstance(run, DiagnosisFolder)


def selected_path() -> Path | None:
    """The run the user is looking at (share mode: always the shared run)."""
    cfg = config()
    if cfg.share:
        return cfg.run_folder
    chosen = st.session_state.get(RUN_KEY)
    if chosen:
        return Path(chosen)
    if cfg.run_folder is not None:
        return cfg.run_folder
    runs = list_run_paths(str(cfg.runs_dir), diagnoses=True)
    return Path(runs[0]) if runs else None


def current_run() -> Any | None:
    """The selected run bundle, or ``None`` (with a message shown) when there is none or it is damaged."""
    path = selected_path()
    if path is None:
        st.info(
            "There is no run to show yet. Run a pilot with `qmsprint run experiments/<file>.toml`, "
            "or upload a data file and an experiment file on the **New run** page."
        )
        return None
    try:
        return load(path)
    except QmsprintError as err:
        st.error(f"This run folder cannot be opened: {err}")
        return None


# ------------------------------------------------------------------------------ run accessors


def get(run: Any, name: str, default: Any = None) -> Any:
    """An optional bundle attribute (missing or failing parts read as ``default``)."""
    try:
        value = getattr(run, name)
    except (AttributeError, QmsprintError, OSError, ValueError, KeyError):
        return default
    return default if value is None else value


def spec_value(run: Any, *keys: str, default: Any = None) -> Any:
    """A value from the run's spec (a ``Spec`` or a plain mapping), e.g. ``spec_value(run, "arms", "control")``."""
    node = get(run, "spec")
    for key in keys:
        if node is None:
            return default
        node = node.get(key) if isinstance(node, dict) else getattr(node, key, None)
    return default if node is None else node


def arm_labels(run: Any) -> tuple[str, str]:
    """(control label, treatment label) for display."""
    control = spec_value(run, "arms", "control_label", default="Checklist QA")
    treatment = spec_value(run, "arms", "treatment_label")
    if not treatment:
        program = spec_value(run, "arms", "program", default="new")
        treatment = f"{str(program).capitalize()}-based QA"
    return str(control), str(treatment)


def arm_names(run: Any) -> dict[str, str]:
    """Data arm value -> display label."""
    control, treatment = arm_labels(run)
    names = {}
    if c := spec_value(run, "arms", "control"):
        names[str(c)] = control
    if t := spec_value(run, "arms", "treatment"):
        names[str(t)] = treatment
    return names


def metric_setting(run: Any, metric: str) -> dict[str, Any]:
    """Role, better direction and smallest effect worth acting on for ``metric`` in this run."""
    info = metric_registry.registry().get(metric)
    out = {
        "role": "primary",
        "better": info.direction if info else "higher",
        "threshold": info.default_min_effect if info else None,
        "unit": info.unit if info else "",
    }
    for m in spec_value(run, "metrics", default=[]) or []:
        name = m.get("name") if isinstance(m, dict) else getattr(m, "name", None)
        if name != metric:
            continue
        fields = m if isinstance(m, dict) else {k: getattr(m, k, None) for k in ("role", "direction", "min_effect")}
        out["role"] = fields.get("role") or out["role"]
        out["better"] = fields.get("direction") or out["better"]
        if fields.get("min_effect") is not None:
            out["threshold"] = fields["min_effect"]
    return out


def results(run: Any) -> list[dict[str, Any]]:
    """The run's per-metric results (``MetricResult.to_dict()`` records)."""
    res = get(run, "results", [])
    return [r if isinstance(r, dict) else r.to_dict() for r in res]


def recommendation(run: Any) -> dict[str, Any]:
    """The run's recommendation as a dict (empty when the run has none)."""
    rec = get(run, "recommendation", {})
    return rec if isinstance(rec, dict) else rec.to_dict()


def records(value: Any) -> list[dict[str, Any]]:
    """A list of dicts from a list of records / dataclasses / a DataFrame."""
    if value is None:
        return []
    if isinstance(value, pd.DataFrame):
        return value.to_dict(orient="records")
    out = []
    for item in value:
        if isinstance(item, dict):
            out.append(item)
        elif hasattr(item, "to_dict"):
            out.append(item.to_dict())
        elif hasattr(item, "__dataclass_fields__"):
            out.append({k: getattr(item, k) for k in item.__dataclass_fields__})
        else:
            out.append({"message": str(item)})
    return out


def run_title(run: Any) -> str:
    """Pilot name and client for headers."""
    name = spec_value(run, "name", default="") or Path(get(run, "path", "run")).name
    return str(name)


def client_name(run: Any | None = None) -> str:
    """Client shown in the header: ``[share].client_name`` in the secrets, else the spec's ``client``."""
    try:
        share = st.secrets.get("share", {})
        if share and share.get("client_name"):
            return str(share["client_name"])
    except (FileNotFoundError, KeyError, st.errors.StreamlitSecretNotFoundError):
        pass
    return str(spec_value(run, "client", default="")) if run is not None else ""


# ------------------------------------------------------------------------------ downloads


@st.cache_data(show_spinner="Writing the report…", max_entries=8)
def report_html(path: str, stamp: float) -> bytes | None:  # noqa: ARG001
    """The run's self-contained HTML report (written to a temporary folder, never into the run)."""
    from qmsprint.report import write_report

    with tempfile.TemporaryDirectory() as tmp:
        out = write_report(Path(path), Path(tmp) / "report.html")
        return Path(out).read_bytes()


@st.cache_data(show_spinner="Packing the run…", max_entries=8)
def bundle_zip(path: str, stamp: float) -> bytes:  # noqa: ARG001
    """The run folder as a zip (every file, paths relative to the run's parent)."""
    root = Path(path)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(root.rglob("*")):
            if f.is_file() and not f.name.startswith("."):
                zf.write(f, Path(root.name) / f.relative_to(root))
    return buf.getvalue()


def stamp(path: str | Path) -> float:
    """Modification stamp used to key caches of one run folder."""
    return _stamp(Path(path))


# ------------------------------------------------------------------------------ figures


def result_of(run: Any, metric: str) -> dict[str, Any] | None:
    """The result dict of one metric, or ``None``."""
    return next((r for r in results(run) if r.get("metric") == metric), None)


def _build_figure(kind: str, run: Any, key: str) -> Any:
    from qmsprint.ui import figures

    if kind == "weekly":
        pilot = spec_value(run, "periods", "pilot")
        start = pilot.get("start") if isinstance(pilot, dict) else getattr(pilot, "start", None)
        return figures.weekly_figure(get(run, "weekly"), key, arm_names(run), start)
    res = result_of(run, key) or {}
    head = res.get("headline") or {}
    setting = metric_setting(run, key)
    unit = head.get("unit") or setting["unit"]
    if kind == "posterior":
        draws = (get(run, "draws", {}) or {}).get(key)
        if draws is None:
            return None
        hdi = (head.get("hdi_low"), head.get("hdi_high"))
        return figures.posterior_figure(draws, key, unit, setting["threshold"], setting["better"], hdi)
    if kind == "levels":
        return figures.level_shares_figure(res.get("level_shares") or {}, key, arm_names(run))
    if kind == "ppc":
        return figures.ppc_figure(res.get("ppc") or {}, key)
    if kind == "forest":
        return figures.forest_figure(res.get("segments") or [], key, unit, setting["threshold"], setting["better"])
    raise KeyError(kind)


@st.cache_resource(max_entries=512, show_spinner=False)
def _figure(kind: str, path: str, stamp: float, key: str) -> Any:
    return _build_figure(kind, load(path), key)


def figure(kind: str, run: Any, key: str = "") -> Any:
    """A cached figure of ``run`` (``posterior``, ``levels``, ``ppc``, ``forest``, ``weekly``) for ``key``."""
    path = str(Path(get(run, "path", "")).resolve())
    return _figure(kind, path, stamp(path), key)
