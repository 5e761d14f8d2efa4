"""Workbench only: which real agent each pseudonym of the open folder stands for (from the engagement's key)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from qmsprint import api
from qmsprint.errors import QmsprintError
from qmsprint.present.format import md
from qmsprint.ui import state

if TYPE_CHECKING:
    from qmsprint.api import DiagnosisFolder, RunBundle


def _agents(run: RunBundle | DiagnosisFolder) -> list[str]:
    """The agent pseudonyms the folder holds."""
    if state.is_diagnosis(run):
        return sorted({str(r["agent_id"]) for r in run.diagnosis.get("quadrant") or [] if r.get("agent_id")})
    cells = run.cells
    return sorted(cells["agent_id"].dropna().astype(str).unique()) if "agent_id" in cells else []


def _guess_spec(run: RunBundle | DiagnosisFolder) -> str:
    """The run's experiment file where it usually is (``experiments/`` beside the runs folder), else empty."""
    name = None if state.is_diagnosis(run) else run.provenance.get("spec_file")
    if not name:
        return ""
    base = state.config().runs_dir.resolve().parent
    for candidate in (base / "experiments" / name, base / name, Path.cwd() / "experiments" / name):
        if candidate.is_file():
            return str(candidate)
    return ""


def reveal_panel(run: RunBundle | DiagnosisFolder) -> None:
    """A sidebar expander that maps the folder's pseudonyms back to agents (never in share mode)."""
    if state.config().share:
        return
    with st.sidebar.expander("Real agent ids (consultant only)", icon=":material/key:"):
        st.caption(
            "Runs name agents by keyed pseudonyms. With the engagement's key (.qmsprint/key beside the "
            "experiment file, or QMSPRINT_KEY) and its data, they map back to agents here, on this computer only."
        )
        path = st.text_input("Experiment file", value=_guess_spec(run), key="qmsprint_reveal_spec")
        if not st.button("Show the agents", key="qmsprint_reveal", disabled=not path):
            return
        try:
            table = api.reveal_agents(Path(path).expanduser(), _agents(run))
        except QmsprintError as err:
            st.error(md(str(err)))
            return
        if len(table):
            st.dataframe(table, hide_index=True, width="stretch")
        else:
            st.info("None of this folder's pseudonyms belongs to that experiment's data or key.")
