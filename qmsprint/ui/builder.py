"""The sections of "Set up a pilot": the export, its column mapping, arms, periods, metrics and the rest.

Each section draws its widgets (keys prefixed ``setup_``) and returns what was chosen. The engine
is :mod:`qmsprint.setup` behind :mod:`qmsprint.api`: the suggestion of an export and its redo after
a change by hand are cached per file and choice, so moving between sections never re-reads the
file. Changing the export resets every choice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from qmsprint import api
from qmsprint import metrics as metric_registry
from qmsprint.errors import QmsprintError
from qmsprint.present import setup as words
from qmsprint.present.format import md
from qmsprint.spec import ITEM_PREFIX, SEGMENT_COLUMNS, canonical_columns
from qmsprint.ui import state, widgets
from qmsprint.words import counted

if TYPE_CHECKING:
    from qmsprint.api import ExperimentChoices, MetricChoice, Suggestion

PREFIX = "setup_"
SOURCE_KEY = "setup_source"  # the export being set up (a path), kept when the other choices reset
NONE = "(not in the export)"
UPLOAD, PICK = "Upload a file", "A file in the data folder"
SCALES = [(1, 5), (1, 7), (1, 10), (0, 10)]
ROLES = ("primary", "secondary", "guardrail")
ROLE_HELP = ("primary: decides whether to scale up; secondary: reported; guardrail: must not get worse by more than "
             "its smallest worthwhile effect")  # fmt: skip


def _stamp(path: str) -> float:
    try:
        return Path(path).stat().st_mtime
    except OSError:
        return 0.0


@st.cache_data(show_spinner="Reading the export and suggesting a mapping…", max_entries=8)
def _suggest(path: str, stamp: float) -> Suggestion:  # noqa: ARG001 - stamp invalidates the cache
    return api.suggest_export(path)


@st.cache_resource(show_spinner=False, max_entries=4)
def _sample(path: str, stamp: float) -> pd.DataFrame:  # noqa: ARG001
    return api.export_sample(path)


@st.cache_data(show_spinner="Checking the data with this mapping…", max_entries=32)
def _remap(
    path: str,
    stamp: float,
    columns: tuple[tuple[str, str], ...],
    dayfirst: bool,
    scale: tuple[int, int] | None,
    control: str | None,
    treatment: str | None,
) -> Suggestion:
    base = _suggest(path, stamp)
    return api.remap(_sample(path, stamp), base, dict(columns), dayfirst=dayfirst, csat_scale=scale,
                     control=control, treatment=treatment)  # fmt: skip


SAVED_KEY = "qmsprint_setup_choices"  # the page's choices, kept while other pages are open
NOT_KEPT = ("setup_upload", "setup_save", "setup_validate", "setup_run", "setup_volume")  # no state to set


EXPORT_KEYS = (SOURCE_KEY, "setup_how", "setup_pick", "setup_upload")  # how the export was chosen


def reset() -> None:
    """Forget every choice of the page but the export's (a new export starts afresh)."""
    for key in [k for k in st.session_state if str(k).startswith(PREFIX) and k not in EXPORT_KEYS]:
        del st.session_state[key]
    st.session_state.pop(SAVED_KEY, None)


def remember() -> None:
    """Keep the page's choices: Streamlit forgets a widget's value while its page is not shown."""
    st.session_state[SAVED_KEY] = {
        k: v for k, v in st.session_state.items() if str(k).startswith(PREFIX) and k not in NOT_KEPT
    }


def restore() -> None:
    """Put back the choices kept by :func:`remember` (coming back from another page)."""
    for key, value in (st.session_state.get(SAVED_KEY) or {}).items():
        if key not in st.session_state:
            st.session_state[key] = value


def _default(key: str, value: Any) -> None:
    if key not in st.session_state:
        st.session_state[key] = value


# ------------------------------------------------------------------------------ 1. the export


def choose_export() -> Path | None:
    """Upload an export or pick one under the data folder; returns the file, or None yet."""
    cfg = state.config()
    files = api.data_files(cfg.data_dir)
    how = st.radio("Where is the export?", [UPLOAD, PICK], horizontal=True, key="setup_how",
                   help=f"The data folder is {state.shown_path(cfg.data_dir)}.")  # fmt: skip
    path: Path | None = None
    if how == UPLOAD:
        upload = st.file_uploader("Client export (CSV or Parquet)", type=["csv", "parquet", "txt", "tsv"],
                                  key="setup_upload")  # fmt: skip
        if upload is not None:
            if Path(upload.name).suffix.lower() not in api.setup.DATA_SUFFIXES:  # types are checked in the browser only
                st.error(f"{upload.name} is not a CSV or Parquet file.", icon=":material/error:")
                return None
            path = api.save_upload(upload.name, upload.getvalue())
        else:  # uploaded before another page was opened: keep using it
            earlier = st.session_state.get(SOURCE_KEY)
            if earlier and api.is_upload(earlier) and Path(earlier).is_file():
                path = Path(earlier)
                st.caption(f"Using {path.name}, uploaded earlier; upload another file to replace it.")
    elif files:
        shown = {str(p): str(p.relative_to(cfg.data_dir)) for p in files}
        pick = st.selectbox("Export in the data folder", list(shown), format_func=shown.get, index=None,
                            placeholder="Choose a file", key="setup_pick")  # fmt: skip
        path = Path(pick) if pick else None
    else:
        st.info(f"There are no CSV or Parquet files in {state.shown_path(cfg.data_dir)}. Upload the export instead.")
    if path is None:
        return None
    if st.session_state.get(SOURCE_KEY) != str(path):
        reset()
        st.session_state[SOURCE_KEY] = str(path)
    return path


def suggestion(path: Path) -> tuple[Suggestion, pd.DataFrame] | None:
    """The engine's suggestion for the export and its sample rows (None, with the error shown, when unreadable)."""
    stamp = _stamp(str(path))
    try:
        return _suggest(str(path), stamp), _sample(str(path), stamp)
    except QmsprintError as err:
        widgets.show_error(err, "The export cannot be read")
        return None


# ------------------------------------------------------------------------------ 2. columns


@dataclass(frozen=True)
class Mapping:
    """The mapping chosen on the page and the (re-validated) suggestion for it."""

    current: Suggestion
    columns: dict[str, str]


def _targets(base: Suggestion) -> list[str]:
    return list(canonical_columns()) + [c for c in base.mapping if c.startswith(ITEM_PREFIX)]


def _arm_values(sample: pd.DataFrame, column: str | None) -> list[str]:
    if column is None or column not in sample:
        return []
    return [str(v) for v in sample[column].dropna().value_counts().index]


def _mapping_widget(canon: str, base: Suggestion, options: list[str], problems: dict[str, list[Any]]) -> None:
    key = f"setup_col_{canon}"
    match = base.mapping.get(canon)
    _default(key, match.column if match is not None else NONE)
    label = words.column_label(canon) + (" *" if canon in words.REQUIRED else "")
    hint = words.COLUMN_HELP.get(canon, "")
    if match is not None:
        hint = f"Suggested: {match.column} ({match.confidence:.0%} sure: {match.reason}). {hint}"
    chosen = st.selectbox(label, options, key=key, help=hint or None)
    if chosen == NONE:
        if canon in words.REQUIRED:
            st.caption(":red[required: choose the export's column]")
        return
    if match is not None and match.column == chosen:
        st.caption(f":{words.confidence_tone(match.confidence)}-badge[{words.confidence_text(match.confidence)}] "
                   f"{md(match.reason)}")  # fmt: skip
    else:
        st.caption(":blue-badge[chosen by hand]")
    for p in problems.get(chosen, [])[:2]:
        st.caption(f":red[{md(p.message)}]")


def _grid(targets: list[str], base: Suggestion, options: list[str], problems: dict[str, list[Any]]) -> None:
    """Dropdowns three to a row (rows stay aligned whatever the captions' lengths)."""
    for start in range(0, len(targets), 3):
        for col, canon in zip(st.columns(3), targets[start : start + 3], strict=False):
            with col:
                _mapping_widget(canon, base, options, problems)


def mapping(base: Suggestion, sample: pd.DataFrame) -> Mapping:
    """Dropdowns for every qmsprint column (suggested first), day-first dates and the CSAT scale."""
    path = st.session_state[SOURCE_KEY]
    options = [NONE, *[str(c) for c in sample.columns]]
    targets = _targets(base)
    # the mapping as the widgets hold it (they are drawn below, after the check it needs)
    for canon in targets:
        m = base.mapping.get(canon)
        _default(f"setup_col_{canon}", m.column if m is not None else NONE)
    columns = {c: st.session_state[f"setup_col_{c}"] for c in targets if st.session_state[f"setup_col_{c}"] != NONE}
    _default("setup_dayfirst", base.dayfirst)
    _default("setup_scale", base.csat_scale or SCALES[0])
    arm_values = _arm_values(sample, columns.get("arm"))
    control = st.session_state.get("setup_control")
    treatment = st.session_state.get("setup_treatment")
    control = control if control in arm_values else None
    treatment = treatment if treatment in arm_values and treatment != control else None
    scale = tuple(st.session_state["setup_scale"]) if "csat" in columns else None
    dayfirst = bool(st.session_state["setup_dayfirst"])
    same = (columns == base.columns and dayfirst == base.dayfirst and scale == base.csat_scale
            and control in (None, base.control) and treatment in (None, base.treatment))  # fmt: skip
    current = base if same else _remap(path, _stamp(path), tuple(columns.items()), dayfirst, scale, control, treatment)
    problems = current.problems_by_column()
    used = [c for c in columns.values()]
    twice = sorted({c for c in used if used.count(c) > 1})
    if twice:
        st.warning("Each export column can be used once: " + ", ".join(f"`{c}`" for c in twice) + " is chosen twice.")
    _grid([c for c in targets if not c.startswith(ITEM_PREFIX)], base, options, problems)
    items = [c for c in targets if c.startswith(ITEM_PREFIX)]
    if items:
        with st.expander(f"Checklist items ({len(items)} columns)"):
            _grid(items, base, options, problems)
    c1, c2, _ = st.columns([1, 1, 1])
    c1.checkbox("Dates are day-first (31/01/2026)", key="setup_dayfirst",
                help="Detected from days above 12 in the export.")  # fmt: skip
    if "csat" in columns:
        c2.selectbox("CSAT answers run from", SCALES, key="setup_scale", format_func=lambda s: f"{s[0]} to {s[1]}")
    return Mapping(current=current, columns=columns)


def check(current: Suggestion) -> None:
    """The parsed preview and what ``validate`` would report with this mapping."""
    for note in current.notes:
        st.caption(f":orange[{md(note)}]")
    if current.problems:
        problems = counted(len(current.problems), "problem")
        st.error(f"With this mapping `qmsprint validate` reports {problems}: change the columns above or fix the "
                 "export.", icon=":material/error:")  # fmt: skip
        st.dataframe(widgets.problems_table(current.problems), hide_index=True, width="stretch")
    else:
        st.success(f"qmsprint reads all {current.rows:,} rows of the export with this mapping.",
                   icon=":material/check_circle:")  # fmt: skip
    if current.warnings:
        with st.expander(f"{counted(len(current.warnings), 'warning')} that do not stop a run"):
            st.dataframe(widgets.problems_table(current.warnings), hide_index=True, width="stretch")
    if current.preview is not None and len(current.preview):
        st.caption("The first rows as qmsprint reads them:")
        st.dataframe(current.preview, hide_index=True, width="stretch")


# ------------------------------------------------------------------------------ 3. arms, 4. periods


def arms(current: Suggestion, sample: pd.DataFrame, columns: dict[str, str]) -> tuple[str, str] | None:
    """Control and treatment among the values of the arm column."""
    values = _arm_values(sample, columns.get("arm"))
    if len(values) < 2:
        st.error("Choose the export's program (arm) column above: it must hold at least two values.")
        return None
    counts = current.arm_counts or {}
    show = {v: f"{v} ({counts.get(v, 0):,} rows)" for v in values}
    for key, value in (("setup_control", current.control), ("setup_treatment", current.treatment)):
        if st.session_state.get(key) not in values:
            st.session_state[key] = value if value in values else values[0 if key == "setup_control" else 1]
    c1, c2 = st.columns(2)
    control = c1.selectbox("Current program (control)", values, key="setup_control", format_func=show.get)
    treatment = c2.selectbox("New program (treatment)", values, key="setup_treatment", format_func=show.get)
    if control == treatment:
        st.error("Control and treatment must be different values.")
        return None
    others = [v for v in values if v not in (control, treatment)]
    if others:
        st.caption(f":orange[Rows with {', '.join(repr(v) for v in others)} are reported by validation.]")
    return control, treatment


def _split(first: dt.date, last: dt.date) -> dt.date:
    """A default pilot start when there is a baseline: the Monday after the first third of the data."""
    third = first + (last - first) / 3
    monday = third + dt.timedelta(days=(7 - third.weekday()) % 7 or 7)
    return min(max(monday, first + dt.timedelta(days=1)), last)


DATES_KEY = "setup_dates"  # the periods' dates (kept apart from the date widgets, which Streamlit may reset)


def _dates(first: dt.date, last: dt.date) -> dict[str, dt.date]:
    dates = st.session_state.setdefault(DATES_KEY, {})
    for name, value in (("pilot_start", first), ("pilot_end", last), ("baseline_start", first),
                        ("baseline_end", first)):  # fmt: skip
        dates[name] = min(max(dates.get(name, value), first), last)
    return dates


def _with_baseline(first: dt.date, last: dt.date) -> None:
    """When the baseline box is ticked and the pilot still covers everything, split the data."""
    if not st.session_state.get("setup_has_baseline"):
        return
    dates = _dates(first, last)
    if dates["pilot_start"] <= first:
        dates["pilot_start"] = _split(first, last)
    dates["baseline_start"] = first
    dates["baseline_end"] = dates["pilot_start"] - dt.timedelta(days=1)


def _day(col: Any, label: str, name: str, dates: dict[str, dt.date], lo: dt.date, hi: dt.date) -> dt.date:
    """A date picker showing ``dates[name]``; what is picked is kept there."""
    value = col.date_input(label, value=dates[name], min_value=lo, max_value=hi, format="DD/MM/YYYY")
    if isinstance(value, dt.date):
        dates[name] = value
    return dates[name]


def periods(current: Suggestion, control: str | None, treatment: str | None) -> tuple[Any, Any, bool]:
    """Baseline and pilot from date pickers over the weekly volume chart; (baseline, pilot, ok)."""
    first, last = current.first_day, current.last_day
    if first is None or last is None:
        st.error("Choose the export's date column above: periods are picked from its dates.")
        return None, None, False
    dates = _dates(first, last)
    _default("setup_has_baseline", False)
    has = st.checkbox("The export has a baseline before the pilot", key="setup_has_baseline",
                      on_change=_with_baseline, args=(first, last),
                      help="Weeks before the pilot on the current program: balance and A/A checks, the checklist "
                           "diagnosis and the pilot sizing use them.")  # fmt: skip
    cols = st.columns(4)
    baseline = None
    if has:
        baseline = (_day(cols[0], "Baseline from", "baseline_start", dates, first, last),
                    _day(cols[1], "Baseline to", "baseline_end", dates, first, last))  # fmt: skip
    pilot = (_day(cols[2], "Pilot from", "pilot_start", dates, first, last),
             _day(cols[3], "Pilot to", "pilot_end", dates, first, last))  # fmt: skip
    ok = pilot is not None and (not has or baseline is not None)
    for name, span in (("baseline", baseline), ("pilot", pilot)):
        if span is not None and span[0] > span[1]:
            st.error(f"The {name} ends before it starts.")
            ok = False
    if ok and baseline is not None and baseline[1] >= pilot[0]:
        st.error("The baseline must end before the pilot starts.")
        ok = False
    st.caption(f"The export runs from {first:%d %b %Y} to {last:%d %b %Y}; rows outside the periods are left out.")
    fig = words.volume_figure(current.weekly, baseline if ok else None, pilot if ok else None, control, treatment)
    widgets.show_figure(fig, key="setup_volume")
    return baseline, pilot, ok


# ------------------------------------------------------------------------------ 5. metrics, 6. segments


def metrics_choice(columns: dict[str, str]) -> list[MetricChoice]:
    """Each metric the mapped columns allow: use it or not, its role and smallest worthwhile effect."""
    names = api.available_metrics(columns)
    if not names:
        st.error("No metric can be estimated with these columns: map CSAT, NPS, FCR or handle time, or customer "
                 "ids for repeat contacts.")  # fmt: skip
        return []
    chosen: list[MetricChoice] = []
    widths = [2, 1, 2, 2, 3]
    head = st.columns(widths)
    for col, text in zip(head, ("Metric", "Use", "Role", "Smallest worthwhile effect", ""), strict=True):
        col.caption(text)
    for name in names:
        info = metric_registry.get(name)
        _default(f"setup_m_use_{name}", True)
        _default(f"setup_m_role_{name}", api.default_role(name, names))
        _default(f"setup_m_min_{name}", float(info.default_min_effect))
        c = st.columns(widths, vertical_alignment="center")
        c[0].markdown(f"**{info.label}**")
        use = c[1].checkbox(f"Use {info.label}", key=f"setup_m_use_{name}", label_visibility="collapsed")
        role = c[2].selectbox(f"Role of {info.label}", ROLES, key=f"setup_m_role_{name}", label_visibility="collapsed",
                              disabled=not use, help=ROLE_HELP)  # fmt: skip
        effect = c[3].number_input(f"Smallest worthwhile effect on {info.label}", key=f"setup_m_min_{name}",
                                   min_value=0.0, step=0.1, format="%.2f", label_visibility="collapsed",
                                   disabled=not use)  # fmt: skip
        better = "higher" if info.direction == "higher" else "lower"
        unit = f"{info.label} {info.unit}" if info.unit == "points" else info.unit
        c[4].caption(f"in {unit}; {better} is better (default {info.default_min_effect:g})")
        if use:
            chosen.append(api.MetricChoice(name, role, float(effect) if effect else None))
    chosen.sort(key=lambda m: ROLES.index(m.role))  # primary metrics first, as in the demo files
    if chosen and not any(m.role == "primary" for m in chosen):
        st.warning("Give at least one metric the primary role: it decides whether to scale up.")
    return chosen


def segments(columns: dict[str, str]) -> list[str]:
    """Break-downs of the results among the mapped segment columns."""
    options = [c for c in SEGMENT_COLUMNS if c in columns]
    if not options:
        st.caption("No channel, contact reason, team or site column is mapped: results are not broken down.")
        return []
    _default("setup_segments", [c for c in ("channel", "contact_reason") if c in options])
    return st.multiselect("Break the results down by", options, key="setup_segments",
                          format_func=words.column_label)  # fmt: skip


# ------------------------------------------------------------------------------ 7. the pilot and business


def pilot_and_business(default_name: str) -> dict[str, Any]:
    """Name, client, design, unit, business inputs and sampler settings (as ExperimentChoices fields)."""
    from qmsprint.api import ExperimentChoices

    d = ExperimentChoices(name=default_name, source="", control="", treatment="", metrics=[])
    _default("setup_name", default_name)
    c1, c2 = st.columns(2)
    out: dict[str, Any] = {"name": c1.text_input("Pilot name", key="setup_name", max_chars=80)}
    out["client"] = c2.text_input("Client", key="setup_client", max_chars=80)
    out["description"] = st.text_input("One line on what is tested", key="setup_description", max_chars=200)
    c1, c2 = st.columns(2)
    out["design"] = c1.radio(
        "Design",
        ["ab", "did"],
        key="setup_design",
        horizontal=True,
        format_func={
            "ab": "A/B: both programs side by side",
            "did": "Pilot group vs control group (difference-in-differences)",
        }.get,
    )
    out["unit"] = c2.radio("What was randomized", ["agent", "team", "site"], key="setup_unit", horizontal=True)
    c1, c2, c3 = st.columns(3)
    _default("setup_cost", float(d.cost_per_contact))
    _default("setup_contacts", float(d.contacts_per_month))
    _default("setup_currency", d.currency)
    out["cost_per_contact"] = c1.number_input("Cost of a contact", key="setup_cost", min_value=0.0, step=0.5)
    out["currency"] = c2.text_input("Currency", key="setup_currency", max_chars=8)
    out["contacts_per_month"] = c3.number_input("Contacts per month", key="setup_contacts", min_value=0.0, step=1000.0)
    with st.expander("Sampler settings"):
        c1, c2, c3 = st.columns(3)
        _default("setup_draws", d.draws)
        _default("setup_tune", d.tune)
        _default("setup_chains", d.chains)
        out["draws"] = int(c1.number_input("Draws per chain", key="setup_draws", min_value=50, step=100))
        out["tune"] = int(c2.number_input("Warm-up steps per chain", key="setup_tune", min_value=50, step=100))
        out["chains"] = int(c3.number_input("Chains", key="setup_chains", min_value=1, max_value=16, step=1))
        st.caption("Every fit is checked against R-hat <= 1.01, ESS >= 400 and no divergences, whatever the settings.")
    return out


def choices(
    current: Suggestion,
    source: Path,
    fields: dict[str, Any],
    *,
    toml_dir: Path | None,
    runs_dir: Path,
) -> ExperimentChoices:
    """The experiment builder's choices; paths relative to ``toml_dir`` when given, else absolute."""
    if toml_dir is not None:
        import os

        runs = Path(os.path.relpath(runs_dir.resolve(), toml_dir.resolve())).as_posix()
    else:
        runs = str(runs_dir.resolve())
    return api.choices_from_suggestion(current, source=source.resolve(), toml_dir=toml_dir, runs_dir=runs, **fields)
