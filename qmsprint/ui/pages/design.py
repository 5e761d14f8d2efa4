"""Design: how large the pilot needed to be (assurance) and whether the programs were balanced."""

from __future__ import annotations

import streamlit as st

from qmsprint.present import figures
from qmsprint.present import format as fmt
from qmsprint.present.design import assurance_figure
from qmsprint.ui import state, widgets


def render() -> None:
    """Draw the page."""
    run = state.current_run()
    if run is None:
        return
    widgets.header(run, "Design")
    view = state.design_view(run)
    grid = view.grid
    st.subheader("Pilot size: chance of a clear answer")
    if len(grid):
        if view.summary:
            st.markdown("\n\n".join(fmt.md(x) for x in view.summary.splitlines()))
        target = view.target
        has_overall = "metric" in grid and bool((grid["metric"] == "overall").any())
        overall = grid[grid["metric"] == "overall"] if has_overall else grid
        widgets.show_figure(assurance_figure(overall, target), key="assurance")
        with st.expander("Assurance grid"):
            st.dataframe(grid, hide_index=True, width="stretch")
    else:
        widgets.missing(
            "assurance grid", "Run `qmsprint design <experiment file>` before a pilot to size it (agents and weeks)."
        )
    st.subheader("Balance between the programs")
    balance = view.balance
    if view.balance_message:
        st.markdown(fmt.md(view.balance_message))
    if len(balance):
        widgets.show_figure(figures.balance_figure(balance), key="balance")
        st.dataframe(balance, hide_index=True, width="stretch")
    else:
        widgets.missing("balance table", "Balance is checked on a baseline period before the pilot, when there is one.")


if __name__ == "__main__":
    render()
