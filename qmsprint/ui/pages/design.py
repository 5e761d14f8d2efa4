"""Design: how large the pilot needed to be (assurance) and whether the programs were balanced."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from qmsprint.ui import figures, fmt, state, widgets


def _tables(value: Any) -> list[pd.DataFrame]:
    """Every table (list of records) in a design dict, at the top level or one level down."""
    out = []
    if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
        out.append(pd.DataFrame(value))
    elif isinstance(value, dict):
        for v in value.values():
            if isinstance(v, list) and v and all(isinstance(r, dict) for r in v):
                out.append(pd.DataFrame(v))
            elif isinstance(v, dict):
                out += [pd.DataFrame(x) for x in v.values() if isinstance(x, list) and x and isinstance(x[0], dict)]
    return out


def _find(design: Any, column: str) -> pd.DataFrame:
    """The first table of ``design`` with ``column``."""
    return next((t for t in _tables(design) if column in t.columns), pd.DataFrame())


def render() -> None:
    """Draw the page."""
    run = state.current_run()
    if run is None:
        return
    widgets.header(run, "Design")
    design = state.get(run, "design") or {}
    # a run keeps its sizing under "assurance"; a `qmsprint design` folder has it at the top level
    plan = design["assurance"] if isinstance(design.get("assurance"), dict) else design
    grid = _find(plan, "assurance")
    st.subheader("Pilot size: chance of a clear answer")
    if len(grid):
        if isinstance(plan.get("summary"), str):
            st.markdown("\n\n".join(fmt.md(x) for x in plan["summary"].splitlines()))
        meta = plan.get("meta") if isinstance(plan.get("meta"), dict) else {}
        target = meta.get("target_assurance") or state.spec_value(run, "design_settings", "target_assurance")
        has_overall = "metric" in grid and bool((grid["metric"] == "overall").any())
        overall = grid[grid["metric"] == "overall"] if has_overall else grid
        widgets.show_figure(figures.assurance_figure(overall, target), key="assurance")
        with st.expander("Assurance grid"):
            st.dataframe(grid, hide_index=True, width="stretch")
    else:
        widgets.missing(
            "assurance grid", "Run `qmsprint design <experiment file>` before a pilot to size it (agents and weeks)."
        )
    st.subheader("Balance between the programs")
    balance = _find(design, "std_diff")
    message = ""
    if not len(balance):
        check = next((h for h in state.records(state.get(run, "health", [])) if h.get("name") == "balance"), None)
        if check:
            message = check.get("message", "")
            balance = _find(check.get("data") or {}, "std_diff")
    if message:
        st.markdown(fmt.md(message))
    if len(balance):
        if "std_diff" in balance:
            widgets.show_figure(figures.balance_figure(balance), key="balance")
        st.dataframe(balance, hide_index=True, width="stretch")
    else:
        widgets.missing("balance table", "Balance is checked on a baseline period before the pilot, when there is one.")


if __name__ == "__main__":
    render()
