"""Diagnosis: how well the checklist score measures what customers feel."""

from __future__ import annotations

import dataclasses
from typing import Any

import streamlit as st

from qmsprint import api
from qmsprint.present import diagnosis as present_diagnosis
from qmsprint.present import format as fmt
from qmsprint.ui import state, widgets


@st.cache_resource(max_entries=16, show_spinner=False)
def _figures(path: str, stamp: float, share: bool) -> dict[str, Any]:  # noqa: ARG001
    """Plotly figures of the folder's diagnosis (agent ids left out of hovers in share mode)."""
    diag = api.read_diagnosis(state.load(path))
    if diag is None:
        return {}
    if share and "agent_id" in diag.quadrant:
        diag = dataclasses.replace(diag, quadrant=diag.quadrant.drop(columns=["agent_id"]))
    return present_diagnosis.figures(diag)


def render() -> None:
    """Draw the page."""
    run = state.current_run()
    if run is None:
        return
    view = state.diagnosis_view(run)
    d = view.record if view is not None else None
    if state.is_diagnosis(run):  # a `qmsprint diagnose` folder: the start of a sprint, no pilot yet
        st.title("Diagnosis: does the checklist score measure what customers feel?")
        meta = d.meta if d is not None else {}
        bits = [state.client_name(run), state.run_title(run), meta.get("period_label", "")]
        if meta.get("n_interactions"):
            bits.append(f"{meta['n_interactions']:,} interactions from {meta.get('n_agents', '?')} agents")
        st.caption(fmt.md(" · ".join(str(b) for b in bits if b)))
    else:
        widgets.header(run, "Diagnosis")
    if view is None or d is None:
        widgets.missing(
            "diagnosis",
            "A diagnosis shows how much of CSAT, NPS, FCR and repeat contacts the checklist score explains. "
            "Run `qmsprint diagnose <experiment file>` on historical data to make one.",
        )
        return
    share = state.config().share
    path = str(run.path)
    figs = _figures(path, state.stamp(path), share)
    if not view.converged:
        st.warning("Some diagnosis fits missed the convergence bars; read those numbers as indicative.")
    titles = {
        "r2": "Checklist vs behavior score",
        "items": "Checklist items",
        "item_time": "Time per item",
        "reliability": "QA reliability",
        "quadrant": "100 for whom?",
        "root_causes": "Agents or the system?",
    }
    meta = d.meta or {}
    program = present_diagnosis.program_sentence(meta)
    if program:
        st.caption(fmt.md(program))
    present = [k for k in titles if k in figs]
    if not present:
        st.info("The diagnosis has no charts to show (too little data for its models).")
    for tab, key in zip(st.tabs([titles[k] for k in present]), present, strict=True) if present else []:
        with tab:
            widgets.show_figure(figs[key], key=f"diagnosis-{key}")
            if key == "reliability":
                for line in present_diagnosis.reliability_lines(d):
                    st.markdown(fmt.md(line))
            elif key == "item_time":
                for line in present_diagnosis.time_lines(d):
                    st.markdown(fmt.md(line))
            tables = d.tables()
            table = tables["items"][tables["items"]["outcome"] == "handle_time"] if key == "item_time" else tables[key]
            if share and "agent_id" in table:
                table = table.drop(columns=["agent_id"])
            if len(table):
                with st.expander("Table"):
                    st.dataframe(table, hide_index=True, width="stretch")
    summary = view.summary
    if summary:
        # opened on a diagnosis folder: there it is the sprint's starting point, to paste into a slide
        expanded = not present or state.is_diagnosis(run)
        with st.expander("In short: the diagnosis as text (for a slide)", expanded=expanded):
            st.markdown("\n\n".join(fmt.md(x) for x in summary.splitlines()))
    for note in d.notes:
        st.caption(f"Note: {fmt.md(note)}")


if __name__ == "__main__":
    render()
