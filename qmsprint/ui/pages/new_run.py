"""New run (workbench only): upload an experiment file and a data file, validate, run in the background.

The run is a process of its own (:mod:`qmsprint.ui.jobs`): it survives clicks, page changes and
reloads, shows its progress here and opens its recommendation when it is done.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from qmsprint import api, privacy
from qmsprint.errors import Problem, QmsprintError, SpecError
from qmsprint.spec import Spec
from qmsprint.ui import jobs, state, widgets

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
    key_dir = state.config().runs_dir.resolve().parent  # uploads share the engagement key kept beside the runs
    return api.spec_from_upload(workdir, (spec_upload.name, spec_upload.getvalue()), data, key_dir=key_dir)


_show_error = widgets.show_error
_show_validation = widgets.show_validation


def render() -> None:
    """Draw the page."""
    cfg = state.config()
    st.title("New run")
    if cfg.share:
        st.info("Uploading and running pilots is available in the workbench only.")
        return
    job = jobs.panel()
    busy = job is not None and job.active
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
        "Run the analysis",
        type="primary",
        icon=":material/play_arrow:",
        disabled=spec_upload is None or busy,
        width="stretch",
    )
    if busy:
        st.caption(jobs.busy_message(job))
    if not (validate or run):
        if spec_upload is None:
            st.caption("Start by choosing an experiment file.")
        return
    workdir = privacy.private_dir("upload")  # only this user can read the uploads; removed below or at exit
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
    finally:
        privacy.remove_private_dir(workdir)
    data = (data_upload.name, data_upload.getvalue()) if data_upload is not None else None
    key_dir = cfg.runs_dir.resolve().parent  # as for the validation above: uploads share the engagement key
    started = jobs.start(upload=(spec_upload.name, spec_upload.getvalue()), data=data, name=spec.name, key_dir=key_dir)
    if started is not None:
        st.rerun()


if __name__ == "__main__":
    render()
