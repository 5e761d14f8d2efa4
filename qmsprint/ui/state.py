"""Shared app state: configuration, the selected folder, and cached folders, figures and downloads.

Pages read typed records: a run folder is a :class:`~qmsprint.store.RunBundle` (its ``spec``,
``results`` as :class:`~qmsprint.results.MetricResult`, ``recommendation`` as
:class:`~qmsprint.decide.Recommendation`, ``health`` as :class:`~qmsprint.results.HealthCheck`, ...)
and a ``qmsprint diagnose`` folder a :class:`~qmsprint.store.DiagnosisFolder`, both from
:func:`qmsprint.api.open_folder`. The few stored parts without a record of their own (business
impact, the run's design, what is stored with a diagnosis) are read here into small typed
records: :class:`Impact`, :class:`DesignView`, :class:`DiagnosisView`.

Folders are loaded once per folder (``st.cache_resource``, keyed by the folder and its manifest's
modification time), so widget changes never reload or re-fit anything.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from qmsprint import api
from qmsprint import metrics as metric_registry
from qmsprint.errors import QmsprintError
from qmsprint.present.format import md
from qmsprint.present.values import value_rows
from qmsprint.privacy import redact_text
from qmsprint.results import MetricResult
from qmsprint.ui.config import AppConfig, from_env

if TYPE_CHECKING:
    from qmsprint.api import Diagnosis, DiagnosisFolder, RunBundle
    from qmsprint.spec import Period

RUN_KEY = "qmsprint_run"
PENDING_KEY = "qmsprint_pending_run"
PAGES = Path(__file__).resolve().parent / "pages"


def page(name: str) -> str:
    """Path of a page script, for ``st.page_link`` / ``st.switch_page`` (e.g. ``page("metrics")``)."""
    return str(PAGES / f"{name}.py")


def config() -> AppConfig:
    """The app's mode and paths (set by :func:`qmsprint.serve.serve`)."""
    return from_env()


def shown_path(path: str | Path) -> str:
    """A folder or file as the consultant knows it: relative to where the app was started, when inside it."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve())) or "."
    except ValueError:
        return str(p)


def _stamp(path: Path) -> float:
    manifest = path / "manifest.json"
    if not manifest.exists():
        manifest = path / "diagnosis.json"
    try:
        return (manifest if manifest.exists() else path).stat().st_mtime
    except OSError:
        return 0.0


@st.cache_resource(show_spinner="Loading the run…", max_entries=16)
def _load(path: str, stamp: float) -> RunBundle | DiagnosisFolder:  # noqa: ARG001 - stamp invalidates the cache
    folder = api.open_folder(Path(path))
    if not api.is_diagnosis_folder(folder):
        _ = folder.spec  # an unreadable spec.json is a damaged folder: say so when it is opened
    return folder


def load(path: str | Path) -> RunBundle | DiagnosisFolder:
    """The run folder (or diagnosis folder) at ``path`` (cached; reloaded when the folder is rewritten).

    Raises
    ------
    BundleError
        For a missing or damaged folder.

    """
    p = Path(path).resolve()
    return _load(str(p), _stamp(p))


@st.cache_data(ttl=10, show_spinner=False)
def list_run_paths(runs_dir: str, diagnoses: bool = False) -> list[str]:
    """Run folders (with ``diagnoses``, also diagnosis folders) under ``runs_dir``, newest first.

    Cached for a few seconds.
    """
    return [str(p) for p in api.list_runs(Path(runs_dir), diagnoses=diagnoses)]


def is_diagnosis(run: RunBundle | DiagnosisFolder | None) -> bool:
    """True when ``run`` is a diagnosis folder from ``qmsprint diagnose`` (no pilot results)."""
    return run is not None and api.is_diagnosis_folder(run)


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


def current_run() -> RunBundle | DiagnosisFolder | None:
    """The selected folder, or ``None`` (with a message shown) when there is none or it is damaged."""
    path = selected_path()
    if path is None:
        st.title("No pilot run yet")
        st.info(
            "There is no run to show yet. Have a client export? Build the experiment on **Set up a pilot** and run "
            "it there; or run `qmsprint run experiments/<file>.toml` and reload this page.",
            icon=":material/info:",
        )
        if not config().share:
            st.page_link(page("setup"), label="Set up a pilot", icon=":material/design_services:")
        return None
    try:
        return load(path)
    except QmsprintError as err:
        st.error(f"This run folder cannot be opened: {md(redact_text(str(err)))}")
        return None


# ------------------------------------------------------------------------------ a run's spec, typed


def run_title(run: RunBundle | DiagnosisFolder) -> str:
    """Pilot name for headers (the folder's name when the experiment has none)."""
    name = run.spec["name"] if is_diagnosis(run) else run.spec.name
    return str(name or run.path.name)


def client_name(run: RunBundle | DiagnosisFolder | None = None) -> str:
    """Client shown in the header: ``[share].client_name`` in the secrets, else the spec's ``client``."""
    try:
        share = st.secrets.get("share", {})
        if share and share.get("client_name"):
            return str(share["client_name"])
    except (FileNotFoundError, KeyError, st.errors.StreamlitSecretNotFoundError):
        pass
    if run is None:
        return ""
    client = run.spec["client"] if is_diagnosis(run) else run.spec.client
    return str(client or "")


def pilot_period(run: RunBundle) -> Period | None:
    """The pilot period of the run's spec."""
    return run.spec.periods.pilot


def arm_labels(run: RunBundle) -> tuple[str, str]:
    """(control label, treatment label) for display."""
    arms = run.spec.arms
    return arms.control_label, arms.treatment_display


def arm_names(run: RunBundle) -> dict[str, str]:
    """Data arm value -> display label."""
    control, treatment = arm_labels(run)
    arms = run.spec.arms
    return {str(arms.control): control, str(arms.treatment): treatment}


@dataclass(frozen=True)
class MetricSetting:
    """A metric's role, better direction, smallest effect worth acting on and unit in one run."""

    role: str
    better: str
    threshold: float | None
    unit: str


def metric_setting(run: RunBundle, metric: str) -> MetricSetting:
    """Role, better direction and smallest effect worth acting on for ``metric`` in this run."""
    m = next((m for m in run.spec.metrics if m.name == metric), None)
    if m is not None:
        return MetricSetting(role=m.role, better=m.better, threshold=m.threshold, unit=m.info.unit)
    info = metric_registry.registry().get(metric)
    return MetricSetting(
        role="primary",
        better=info.direction if info else "higher",
        threshold=info.default_min_effect if info else None,
        unit=info.unit if info else "",
    )


def result_of(run: RunBundle, metric: str) -> MetricResult | None:
    """The result of one metric, or ``None``."""
    return next((r for r in run.results if r.metric == metric), None)


# ------------------------------------------------------------------------------ stored parts without a record


@dataclass(frozen=True)
class Interval:
    """A posterior mean with its interval."""

    mean: float
    low: float
    high: float

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Interval:
        """From ``{"mean", "hdi_low", "hdi_high"}`` (as :func:`qmsprint.decide.business_impact` writes it)."""
        return cls(float(d["mean"]), float(d["hdi_low"]), float(d["hdi_high"]))


@dataclass(frozen=True)
class Impact:
    """A recommendation's business impact (:func:`qmsprint.decide.business_impact`), typed."""

    contacts_avoided: Interval
    value: Interval
    prob_saves: float
    currency: str
    hdi_prob: float
    sentence: str
    net: Interval | None = None
    prob_net_saving: float | None = None
    handle_time_cost: Interval | None = None
    program_cost: float = 0.0
    net_sentence: str = ""
    repeat: bool = True  # a repeat-contact metric is priced (else only metrics with a value_per_unit)
    metric_values: tuple[dict[str, str], ...] = ()  # rows of qmsprint.present.values.value_rows

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Impact:
        """From ``Recommendation.impact`` (runs written before the net value have no ``net``)."""
        net, ht = d.get("net_value_per_month"), d.get("handle_time_cost_per_month")
        return cls(
            contacts_avoided=Interval.from_dict(d["contacts_avoided_per_month"]),
            value=Interval.from_dict(d["value_per_month"]),
            prob_saves=float(d["prob_saves"]),
            currency=str(d.get("currency", "")),
            hdi_prob=float(d["hdi_prob"]),
            sentence=str(d.get("sentence", "")),
            net=Interval.from_dict(net) if net else None,
            prob_net_saving=float(d["prob_net_saving"]) if d.get("prob_net_saving") is not None else None,
            handle_time_cost=Interval.from_dict(ht) if ht else None,
            program_cost=float(d.get("program_cost_per_month") or 0.0),
            net_sentence=str(d.get("net_sentence", "")),
            repeat=bool(d.get("metric", "repeat_contact")),
            metric_values=tuple(value_rows(d)),
        )


@dataclass(frozen=True)
class DesignView:
    """A run's ``design.json``, typed: the pilot sizing on the baseline and the balance by arm.

    Attributes
    ----------
    grid
        The assurance grid of :func:`qmsprint.design.plan_pilot` (``PlanResult.table``), empty without one.
    summary
        The sizing's plain-language summary.
    target
        Target assurance the sizing used.
    balance
        Standardized differences by arm on the baseline (``std_diff`` per variable), empty without one.
    balance_message
        The balance health check's message, when the table comes from it.

    """

    grid: pd.DataFrame
    summary: str
    target: float | None
    balance: pd.DataFrame
    balance_message: str = ""


def design_view(run: RunBundle) -> DesignView:
    """The run's sizing and balance (see :func:`qmsprint.api.run_pilot` for how ``design.json`` is laid out).

    Balance comes from ``design.json``; a run without it falls back on its ``balance`` health check.
    """
    design = run.design or {}
    plan = design.get("assurance") or {}
    grid = pd.DataFrame(plan.get("table") or [])
    if "assurance" not in grid:
        grid = pd.DataFrame()
    target = (plan.get("meta") or {}).get("target_assurance") or run.spec.design_settings.target_assurance
    balance, message = pd.DataFrame(design.get("table") or []), ""
    if "std_diff" not in balance:
        check = next((h for h in run.health if h.name == "balance"), None)
        balance = pd.DataFrame(check.data.get("table") or []) if check is not None else pd.DataFrame()
        message = check.message if check is not None else ""
        if "std_diff" not in balance:
            balance = pd.DataFrame()
    return DesignView(grid=grid, summary=str(plan.get("summary") or ""), target=target, balance=balance,
                      balance_message=message)  # fmt: skip


@dataclass(frozen=True)
class DiagnosisView:
    """A folder's stored diagnosis: the record (tables, notes, meta) and what was written with it.

    Attributes
    ----------
    record
        The :class:`~qmsprint.diagnosis.Diagnosis` (:func:`qmsprint.api.read_diagnosis`).
    summary
        The plain-language summary stored with it (for a slide).
    converged
        False when a fit of the diagnosis missed the convergence bars.

    """

    record: Diagnosis
    summary: str
    converged: bool


def diagnosis_view(run: RunBundle | DiagnosisFolder) -> DiagnosisView | None:
    """The diagnosis of a run or diagnosis folder, or ``None`` when the run has none."""
    record = api.read_diagnosis(run)
    if record is None:
        return None
    stored = run.diagnosis or {}
    return DiagnosisView(record, str(stored.get("summary") or ""), stored.get("converged") is not False)


# ------------------------------------------------------------------------------ downloads


@st.cache_data(show_spinner="Writing the report…", max_entries=8)
def report_html(path: str, stamp: float) -> bytes | None:  # noqa: ARG001
    """The run's self-contained HTML report (written to a temporary folder, never into the run)."""
    with tempfile.TemporaryDirectory() as tmp:
        return api.report(Path(path), Path(tmp) / "report.html").read_bytes()


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


def _build_figure(kind: str, run: RunBundle, key: str) -> Any:
    from qmsprint.present import figures

    if kind == "weekly":
        pilot = pilot_period(run)
        return figures.weekly_figure(run.weekly, key, arm_names(run), pilot.start if pilot else None)
    res = result_of(run, key)
    if res is None:
        raise KeyError(f"run {run.path.name} has no result for {key!r}")
    head = res.headline
    setting = metric_setting(run, key)
    unit = head.unit or setting.unit
    if kind == "posterior":
        draws = run.draws.get(key)
        if draws is None:
            return None
        return figures.posterior_figure(
            draws, key, unit, setting.threshold, setting.better, (head.hdi_low, head.hdi_high)
        )
    if kind == "levels":
        return figures.level_shares_figure(res.level_shares, key, arm_names(run))
    if kind == "ppc":
        return figures.ppc_figure(res.ppc, key)
    if kind == "forest":
        return figures.forest_figure(res.segments, key, unit, setting.threshold, setting.better)
    raise KeyError(kind)


@st.cache_resource(max_entries=512, show_spinner=False)
def _figure(kind: str, path: str, stamp: float, key: str) -> Any:
    return _build_figure(kind, load(path), key)


def figure(kind: str, run: RunBundle, key: str = "") -> Any:
    """A cached figure of ``run`` (``posterior``, ``levels``, ``ppc``, ``forest``, ``weekly``) for ``key``."""
    path = str(run.path.resolve())
    return _figure(kind, path, stamp(path), key)
