"""A run started from the app: start it, watch it (polling its status), cancel it, open its result.

The run itself is a separate process (:mod:`qmsprint.api.jobs`): clicks, page changes and reloads
rerun the Streamlit script, never the run. The page that started it shows its progress
(:func:`panel`, refreshed every second by a fragment) and opens the run when it is done; every
other workbench page shows a compact status in the sidebar (:func:`sidebar_status`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from qmsprint import api
from qmsprint.errors import QmsprintError
from qmsprint.ui import state, widgets

WATCHED_KEY = "qmsprint_watched_job"  # id of the job this session is following on its page (opened when done)
PANEL_PAGES = ("setup", "new-run")  # pages showing the run's panel (the sidebar status is left out there)
POLL_SECONDS = 1.0
SIDEBAR_POLL_SECONDS = 2.0


def current() -> api.Job | None:
    """The app's current (or last) run, from its status file."""
    return api.current_job(state.config().runs_dir)


def start(**request: Any) -> api.Job | None:
    """Start a run in the background (arguments of :func:`qmsprint.api.start_run`); errors are shown."""
    try:
        job = api.start_run(state.config().runs_dir, **request)
    except api.JobRunning as err:
        st.warning(str(err), icon=":material/hourglass_top:")
        return None
    except QmsprintError as err:
        widgets.show_error(err, "The run could not start")
        return None
    st.session_state[WATCHED_KEY] = job.id
    return job


def busy_message(job: api.Job) -> str:
    """Why a new run cannot start now."""
    return (
        f"A run is already going: **{job.name}**, {100 * job.fraction:.0f}% done. One run at a time: wait for it "
        "or cancel it first."
    )


def _elapsed(job: api.Job) -> str:
    s = int(job.elapsed())
    return f"{s // 60} min {s % 60:02d} s" if s >= 60 else f"{s} s"


def _open(job: api.Job) -> None:
    """Select the job's run and show its recommendation."""
    state.list_run_paths.clear()
    st.session_state[state.PENDING_KEY] = str(job.run)
    st.session_state.pop(WATCHED_KEY, None)
    st.switch_page(state.page("recommendation"))


def _live(auto_open: bool) -> None:
    job = current()
    if job is None:
        return
    if not job.active:  # it ended since the last poll: redraw the whole page (and stop polling)
        st.rerun(scope="app")
    st.session_state[WATCHED_KEY] = job.id
    with st.container(border=True):
        st.markdown(f"**Running: {job.name}** · started {job.started[11:16]} · {_elapsed(job)}")
        st.progress(min(1.0, max(0.0, job.fraction)), text=job.message or "starting…")
        if job.cancel_requested:
            st.caption("Cancelling… it stops within seconds; no run folder is written.")
            if st.button("Stop it now", key=f"kill_{job.id}", icon=":material/cancel:"):
                api.cancel_job(job)
        else:
            c1, c2 = st.columns([1, 3])
            if c1.button("Cancel the run", key=f"cancel_{job.id}", icon=":material/stop_circle:"):
                api.cancel_job(job, wait=3.0)
                st.rerun(scope="app")
            c2.caption(
                "The run goes on in the background: you can change pages, reload or close this tab and come back."
            )


def _ended(job: api.Job, auto_open: bool) -> None:
    if job.state == api.jobs.DONE and job.run is not None:
        if auto_open and st.session_state.get(WATCHED_KEY) == job.id and Path(job.run).is_dir():
            _open(job)  # followed here until it finished: show its result
        if job.converged:
            st.success(f"Run finished: `{Path(job.run).name}` ({_elapsed(job)}).", icon=":material/check_circle:")
        else:
            st.warning(f"Run finished: `{Path(job.run).name}`, but a fit did not converge: results are shown "
                       "without a recommendation.", icon=":material/warning:")  # fmt: skip
        c1, c2, _ = st.columns([1, 1, 2])
        if c1.button("Open the run", type="primary", icon=":material/flag:", key=f"open_{job.id}", width="stretch"):
            _open(job)
        if c2.button("Dismiss", key=f"dismiss_{job.id}", width="stretch"):
            api.dismiss_job(job)
            st.rerun()
        return
    if job.state == api.jobs.CANCELLED:
        st.info("The run was cancelled; no run folder was written.", icon=":material/cancel:")
    else:
        st.error(f"The run failed: {job.error}", icon=":material/error:")
        if job.problems:
            st.dataframe(widgets.problems_table(job.problems), hide_index=True, width="stretch")
    if st.button("Dismiss", key=f"dismiss_{job.id}"):
        api.dismiss_job(job)
        st.rerun()


def panel(*, auto_open: bool = True) -> api.Job | None:
    """The current run's progress (live), cancel button and outcome; opens the run when it is done.

    Returns the current job (``None`` without one).
    """
    job = current()
    if job is None:
        return None
    if job.active:
        st.fragment(_live, run_every=POLL_SECONDS)(auto_open)
    else:
        _ended(job, auto_open)
    return job


def _sidebar_live(page: str) -> None:
    job = current()
    if job is None or not job.active:
        if job is not None and job.state == api.jobs.DONE:
            st.toast(f"Run finished: {job.name}", icon=":material/check_circle:")
        st.session_state.pop(WATCHED_KEY, None)  # it ended elsewhere: its page will not jump to the result later
        state.list_run_paths.clear()
        st.rerun(scope="app")
    st.caption(f"Running **{job.name}** · {100 * job.fraction:.0f}%")
    st.progress(min(1.0, max(0.0, job.fraction)))
    st.page_link(state.page(page), label="Follow the run", icon=":material/hourglass_top:")


def sidebar_status(current_page: str, page: str = "setup") -> None:
    """A small live status of a running job in the sidebar (linking to ``page``), or a finished run's button.

    Not on the pages that show the run's panel (``current_page`` is the URL path shown).
    """
    job = current()
    if job is None or current_page in PANEL_PAGES:
        return
    with st.sidebar:
        if job.active:
            st.fragment(_sidebar_live, run_every=SIDEBAR_POLL_SECONDS)(page)
        elif job.state == api.jobs.DONE and job.run is not None and st.session_state.get(state.RUN_KEY) != str(job.run):
            if st.button(f"Open the new run ({job.name})", icon=":material/flag:", key="sidebar_open_job"):
                _open(job)
