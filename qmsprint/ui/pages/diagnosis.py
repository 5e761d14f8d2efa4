"""Diagnosis: how well the checklist score measures what customers feel."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from qmsprint.ui import fmt, state, widgets

TABLES = ("r2", "items", "quadrant", "root_causes", "variance")


@st.cache_resource(max_entries=16, show_spinner=False)
def _figures(path: str, stamp: float, share: bool) -> dict[str, Any]:  # noqa: ARG001
    """Plotly figures of the run's diagnosis (agent ids left out of hovers in share mode)."""
    from qmsprint.alignment import Diagnosis

    d = state.get(state.load(path), "diagnosis") or {}
    tables = {k: pd.DataFrame(d.get(k) or []) for k in TABLES}
    if share and "agent_id" in tables["quadrant"]:
        tables["quadrant"] = tables["quadrant"].drop(columns=["agent_id"])
    diag = Diagnosis(**tables, diagnostics={}, notes=list(d.get("notes") or []), meta=dict(d.get("meta") or {}))
    return diag.figures()


def render() -> None:
    """Draw the page."""
    run = state.current_run()
    if run is None:
        return
    d = state.get(run, "diagnosis")
    if state.is_diagnosis(run):  # a `qmsprint diagnose` folder: the start of a sprint, no pilot yet
        st.title("Diagnosis: does the checklist score measure what customers feel?")
        meta = d.get("meta") or {}
        bits = [state.client_name(run), state.run_title(run), meta.get("period_label", "")]
        if meta.get("n_interactions"):
            bits.append(f"{meta['n_interactions']:,} interactions from {meta.get('n_agents', '?')} agents")
        st.caption(" · ".join(str(b) for b in bits if b))
    else:
        widgets.header(run, "Diagnosis")
    if not d:
        widgets.missing(
            "diagnosis",
            "A diagnosis shows how much of CSAT, NPS, FCR and repeat contacts the checklist score explains. "
            "Run `qmsprint diagnose <experiment file>` on historical data to make one.",
        )
        return
    share = state.config().share
    path = str(state.get(run, "path"))
    figs = _figures(path, state.stamp(path), share)
    if d.get("converged") is False:
        st.warning("Some diagnosis fits missed the convergence bars; read those numbers as indicative.")
    titles = {
        "r2": "Checklist vs behavior score",
        "items": "Checklist items",
        "quadrant": "100 for whom?",
        "root_causes": "Agents or the system?",
    }
    present = [k for k in titles if k in figs]
    if not present:
        st.info("The diagnosis has no charts to show (too little data for its models).")
    for tab, key in zip(st.tabs([titles[k] for k in present]), present, strict=True) if present else []:
        with tab:
            widgets.show_figure(figs[key], key=f"diagnosis-{key}")
            table = pd.DataFrame(d.get(key if key != "root_causes" else "root_causes") or [])
            if share and "agent_id" in table:
                table = table.drop(columns=["agent_id"])
            if len(table):
                with st.expander("Table"):
                    st.dataframe(table, hide_index=True, width="stretch")
    if d.get("summary"):
        # opened on a diagnosis folder: there it is the sprint's starting point, to paste into a slide
        expanded = not present or state.is_diagnosis(run)
        with st.expander("In short: the diagnosis as text (for a slide)", expanded=expanded):
            st.markdown("\n\n".join(fmt.md(x) for x in d["summary"].splitlines()))
    for note in d.get("notes") or []:
        st.caption(f"Note: {note}")


if __name__ == "__main__":
    render()
