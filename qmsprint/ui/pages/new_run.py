"""New run (workbench only): upload an experiment file and a data file, validate, run with progress."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import streamlit as st

from qmsprint.errors import Problem, QmsprintError
from qmsprint.ui import state, widgets

SPEC_TYPES = ("toml",)
DATA_TYPES = ("csv", "parquet")


def _suffix_problems(upload: Any, allowed: tuple[str, ...], what: str) -> list[Problem]:
    """Upload types are only enforced in the browser; check them on the server too."""
    suffix = Path(upload.name).suffix.lower().lstrip(".")
    if suffix not in allowed:
        return [Problem(what, f"expected a {' or '.join('.' + a for a in allowed)} file", examples=(upload.name,))]
    return []


def _prepare_spec(spec_upload: Any, data_upload: Any | None, workdir: Path) -> Any:
    """Write the uploads into ``workdir`` and load the spec, pointed at the uploaded data file.

    Raises
    ------
    SpecError, DataError
        With every problem found.

    """
    from qmsprint.errors import SpecError
    from qmsprint.spec import load_spec

    problems = _suffix_problems(spec_upload, SPEC_TYPES, "experiment file")
    if data_upload is not None:
        problems += _suffix_problems(data_upload, DATA_TYPES, "data file")
    if problems:
        raise SpecError("the uploaded files have the wrong type", problems)
    spec_path = workdir / Path(spec_upload.name).name
    spec_path.write_bytes(spec_upload.getvalue())
    spec = load_spec(spec_path)
    if data_upload is not None:
        data_path = workdir / Path(data_upload.name).name
        data_path.write_bytes(data_upload.getvalue())
        data = spec.data.model_copy(update={"source": str(data_path), "connection": None, "table": None})
        spec = spec.model_copy(update={"data": data})
    return spec


def _show_error(err: QmsprintError, what: str) -> None:
    st.error(f"{what}: {err.message}", icon=":material/error:")
    if err.problems:
        st.dataframe(widgets.problems_table(err.problems), hide_index=True, width="stretch")


def _validate(spec: Any) -> Any:
    from qmsprint.data import prepare

    return prepare(spec)


def _run(spec: Any, runs_dir: Path) -> Any:
    from qmsprint.pipeline import run_pilot

    bar = st.progress(0.0, text="Starting…")

    def progress(message: str, fraction: float) -> None:
        bar.progress(min(1.0, max(0.0, float(fraction))), text=message)

    outcome = run_pilot(spec, runs_dir=runs_dir, progress=progress)
    bar.progress(1.0, text="Done")
    return outcome


def render() -> None:
    """Draw the page."""
    cfg = state.config()
    st.title("New run")
    if cfg.share:
        st.info("Uploading and running pilots is available in the workbench only.")
        return
    st.write(
        "Upload the experiment file (.toml) and the interaction data (.csv or .parquet). The data file replaces "
        "the experiment file's `data.source`; leave it empty to read the data the experiment file names. "
        f"The result is a normal run folder in `{cfg.runs_dir}`."
    )
    c1, c2 = st.columns(2)
    spec_upload = c1.file_uploader("Experiment file", type=list(SPEC_TYPES), key="upload_spec")
    data_upload = c2.file_uploader("Interaction data", type=list(DATA_TYPES), key="upload_data")
    b1, b2, _ = st.columns([1, 1, 3])
    validate = b1.button("Validate", icon=":material/rule:", disabled=spec_upload is None, width="stretch")
    run = b2.button(
        "Run the analysis", type="primary", icon=":material/play_arrow:", disabled=spec_upload is None, width="stretch"
    )
    if not (validate or run):
        if spec_upload is None:
            st.caption("Start by choosing an experiment file.")
        return
    workdir = Path(tempfile.mkdtemp(prefix="qmsprint-upload-"))
    try:
        try:
            spec = _prepare_spec(spec_upload, data_upload, workdir)
        except QmsprintError as err:
            _show_error(err, "The experiment file cannot be used")
            return
        try:
            with st.spinner("Checking the data…"):
                prepared = _validate(spec)
        except QmsprintError as err:
            _show_error(err, "The data cannot be used")
            return
        st.success("The experiment file and the data are valid.", icon=":material/check_circle:")
        summary = getattr(prepared, "summary", None)
        if callable(summary):
            st.text(summary())
        warnings = getattr(prepared, "warnings", [])
        if warnings:
            st.warning(f"{len(warnings)} warning(s) in the data:")
            st.dataframe(widgets.problems_table(warnings), hide_index=True, width="stretch")
        if not run:
            return
        try:
            outcome = _run(spec, cfg.runs_dir)
        except QmsprintError as err:
            _show_error(err, "The run failed")
            return
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    path = Path(getattr(outcome, "path", outcome))
    state.list_run_paths.clear()
    st.session_state[state.PENDING_KEY] = str(path)
    if getattr(outcome, "converged", True):
        st.success(f"Run written to `{path}`.", icon=":material/check_circle:")
    else:
        st.warning(f"Run written to `{path}`, but a fit did not converge: results are shown without a recommendation.")
    st.page_link(state.page("recommendation"), label="See the recommendation", icon=":material/flag:")


if __name__ == "__main__":
    render()
