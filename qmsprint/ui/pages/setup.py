"""Set up a pilot (workbench only): from a client's export to a checked experiment file and a run.

The steps follow a consultant's first hour: the export (uploaded, or a file under the data
folder) -> the suggested column mapping as dropdowns, with the parsed preview and the problems
``qmsprint validate`` would report -> arms -> periods over the weekly volume -> metrics with their
roles and smallest worthwhile effects -> segments -> the pilot and business inputs -> the
commented experiment file (download, save under the experiments folder), validation and a run in
the background.
"""

from __future__ import annotations

import re
from pathlib import Path

import streamlit as st

from qmsprint import api
from qmsprint.errors import QmsprintError
from qmsprint.ui import builder, jobs, state, widgets


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "pilot"


def _experiment_file(current, source: Path, fields: dict, cfg) -> None:  # noqa: ANN001
    """Show, download and save the experiment file; validate it; run it in the background."""
    upload = api.is_upload(source)
    kept = cfg.data_dir / source.name if upload else source  # where a saved file expects an uploaded export
    saved = builder.choices(current, kept, fields, toml_dir=cfg.experiments_dir, runs_dir=cfg.runs_dir)
    text = api.experiment_text(saved)
    here = builder.choices(current, source, fields, toml_dir=None, runs_dir=cfg.runs_dir)
    try:
        spec = api.experiment_spec(here, cfg.experiments_dir)  # the engagement key beside the saved files
    except QmsprintError as err:
        widgets.show_error(err, "The experiment file is not complete")
        return
    with st.expander("The experiment file", expanded=False):
        st.code(text, language="toml")
    name = f"{_slug(fields['name'])}.toml"
    c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
    filename = c1.text_input(f"Save as (in {state.shown_path(cfg.experiments_dir)})", value=name, key="setup_filename")
    c2.download_button("Download", data=text.encode("utf-8"), file_name=filename or name, mime="application/toml",
                       icon=":material/download:", on_click="ignore", width="stretch")  # fmt: skip
    if c3.button("Save", icon=":material/save:", width="stretch", key="setup_save"):
        _save(text, filename or name, source, kept, cfg, upload)
    if upload:
        st.caption(f"The saved file reads the export from {state.shown_path(kept)}: saving keeps a copy of the upload "
                   "there.")  # fmt: skip
    st.divider()
    job = jobs.current()
    busy = job is not None and job.active
    b1, b2, b3 = st.columns([1, 1, 2], vertical_alignment="center")
    validate = b1.button("Validate", icon=":material/rule:", width="stretch", key="setup_validate")
    run = b2.button("Run the analysis", type="primary", icon=":material/play_arrow:", width="stretch",
                    disabled=busy, key="setup_run")  # fmt: skip
    diagnosis = b3.checkbox("Also diagnose the checklist on the baseline (the slowest step)", value=True,
                            key="setup_diagnosis")  # fmt: skip
    if busy:
        st.caption(jobs.busy_message(job))
    if validate or run:
        with st.spinner("Checking the experiment file and the data…"):
            result = api.validate(spec)
        if result.error is not None:
            widgets.show_error(result.error, "The data cannot be used")
            return
        widgets.show_validation(result)
        text_here = api.experiment_text(here)
        started = run and jobs.start(spec_text=text_here, name=spec.name, key_dir=cfg.experiments_dir,
                                     diagnosis=diagnosis)  # fmt: skip
        if started:
            st.rerun()


def _save(text: str, filename: str, source: Path, kept: Path, cfg, upload: bool) -> None:  # noqa: ANN001
    target = cfg.experiments_dir / Path(filename).name
    if target.suffix != ".toml":
        target = target.with_suffix(".toml")
    try:
        if upload:
            copy = api.keep_export(source, cfg.data_dir)
            if copy != kept:  # another file of that name was there: point the file at the copy
                st.error(f"{kept} holds a different file; the upload was kept as {copy}. Rename it or the upload.")
                return
        path = api.save_experiment(text, target)
    except QmsprintError as err:
        st.error(str(err), icon=":material/error:")
        return
    except OSError as err:
        st.error(f"Cannot save {target}: {err}", icon=":material/error:")
        return
    shown = state.shown_path(path)
    st.success(f"Saved {shown}. Check it any time with `qmsprint validate {shown}`.", icon=":material/check_circle:")


def render() -> None:
    """Draw the page."""
    cfg = state.config()
    st.title("Set up a pilot")
    if cfg.share:
        st.info("Setting up pilots is available in the workbench only.")
        return
    jobs.panel()
    builder.restore()
    try:
        _steps(cfg)
    finally:
        builder.remember()


def _steps(cfg) -> None:  # noqa: ANN001
    """The steps, from the export to the experiment file."""
    st.write("From a client's export to an experiment file qmsprint can run: the columns are mapped for you from "
             "their names and values; check each step, then validate and run.")  # fmt: skip
    st.subheader("1. The client's export")
    path = builder.choose_export()
    if path is None:
        st.caption("Start with the export: a CSV or Parquet file with one row per contact.")
        return
    loaded = builder.suggestion(path)
    if loaded is None:
        return
    base, sample = loaded
    st.caption(f"{path.name}: {base.rows:,} rows read, {len(sample.columns)} columns"
               + (f", dates from {base.first_day:%d %b %Y} to {base.last_day:%d %b %Y}" if base.first_day else "")
               + (f", fields separated by {base.delimiter!r}" if base.delimiter else "")
               + (f", {base.encoding} text" if base.encoding not in ("utf-8", None) else ""))  # fmt: skip
    st.subheader("2. Columns")
    st.caption("qmsprint's column on each dropdown, the export's column chosen in it. * required.")
    chosen = builder.mapping(base, sample)
    current, columns = chosen.current, chosen.columns
    builder.check(current)
    st.subheader("3. Arms")
    arms = builder.arms(current, sample, columns)
    st.subheader("4. Periods")
    baseline, pilot, periods_ok = builder.periods(current, *(arms or (None, None)))
    st.subheader("5. Metrics")
    metrics = builder.metrics_choice(columns)
    st.subheader("6. Segments")
    segments = builder.segments(columns)
    st.subheader("7. The pilot and the business")
    fields = builder.pilot_and_business(_slug(path.stem))
    st.subheader("8. Experiment file")
    if arms is None or not periods_ok or not metrics or current.problems:
        st.info("Finish the steps above (the mapping must validate) to get the file.", icon=":material/info:")
        return
    fields.update(control=arms[0], treatment=arms[1], baseline=baseline, pilot=pilot, metrics=metrics,
                  segments=segments)  # fmt: skip
    _experiment_file(current, path, fields, cfg)


if __name__ == "__main__":
    render()
