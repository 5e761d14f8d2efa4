"""New run (workbench only): upload an experiment file and a data file, validate, run with progress."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import streamlit as st

from qmsprint import api
from qmsprint.errors import Problem, QmsprintError, SpecError
from qmsprint.present.format import md
from qmsprint.spec import Spec
from qmsprint.ui import state, widgets

SPEC_TYPES = ("toml",)
DATA_TYPES = ("csv", "parquet")


def _suffix_problems(upload: Any, allowed: tuple[str, ...], what: str) -> list[Problem]:
    """Upload types are only enforced in the browser; check them on the server too."""
    suffix = Path(upload.name).suffix.lower().lstrip(".")
    if suffix not in allowed:
        return [Problem(what, f"expected a {' or '.join('.' + a for a in allowed)} file", examples=(upload.name,))]
    return []


def _prepare_spec(spec_upload: Any, data_upload: Any | None, workdir: Path) -> Spec:
    """Write the uploads into ``workdir`` and load the spec, pointed at the uploaded data file.

    Raises
    ------
    SpecError
        With every problem found.

    """
    problems = _suffix_problems(spec_upload, SPEC_TYPES, "experiment file")
    if data_upload is not None:
        problems += _suffix_problems(data_upload, DATA_TYPES, "data file")
    if problems:
        raise SpecError("the uploaded files have the wrong type", problems)
    data = (data_upload.name, data_upload.getvalue()) if data_upload is not None else None
    return api.spec_from_upload(workdir, (spec_upload.name, spec_upload.getvalue()), data)


def _show_error(err: QmsprintError, what: str) -> None:
    st.error(f"{what}: {err.message}", icon=":material/error:")
    if err.problems:
        st.dataframe(widgets.problems_table(err.problems), hide_index=True, width="stretch")


def _show_validation(result: api.Validation) -> None:
    """The data summary, warnings and health checks of a valid upload (as ``qmsprint validate`` prints them)."""
    st.success("The experiment file and the data are valid.", icon=":material/check_circle:")
    st.text(result.summary)
    if result.warnings:
        st.warning(f"{len(result.warnings)} warning(s) in the data:")
        st.dataframe(widgets.problems_table(result.warnings), hide_index=True, width="stretch")
    if result.health:
        st.markdown("**Health checks**")
        st.markdown("\n".join(f"- {widgets.status_badge(c.status)} {md(c.message)}" for c in result.health))


def _run(spec: Spec, runs_dir: Path) -> api.RunOutcome:
    bar = st.progress(0.0, text="Starting…")

    def progress(message: str, fraction: float) -> None:
        bar.progress(min(1.0, max(0.0, float(fraction))), text=message)

    outcome = api.run_pilot(spec, runs_dir=runs_dir, progress=progress)
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
        with st.spinner("Checking the data…"):
            result = api.validate(spec)
        if result.error is not None:
            _show_error(result.error, "The data cannot be used")
            return
        _show_validation(result)
        if not run:
            return
        try:
            outcome = _run(spec, cfg.runs_dir)
        except QmsprintError as err:
            _show_error(err, "The run failed")
            return
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    path = Path(outcome.path)
    state.list_run_paths.clear()
    st.session_state[state.PENDING_KEY] = str(path)
    if outcome.converged:
        st.success(f"Run written to `{path}`.", icon=":material/check_circle:")
    else:
        st.warning(f"Run written to `{path}`, but a fit did not converge: results are shown without a recommendation.")
    st.page_link(state.page("recommendation"), label="See the recommendation", icon=":material/flag:")


if __name__ == "__main__":
    render()
