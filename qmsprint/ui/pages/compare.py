"""Compare pilots: runs side by side (same metrics, effects, recommendation)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from qmsprint import api
from qmsprint.errors import QmsprintError
from qmsprint.present import figures
from qmsprint.present import format as fmt
from qmsprint.ui import state, widgets


@st.cache_data(show_spinner="Comparing runs…", max_entries=32)
def _compare(paths: tuple[str, ...], stamps: tuple[float, ...]) -> pd.DataFrame:  # noqa: ARG001
    return api.compare([Path(p) for p in paths])


def render() -> None:
    """Draw the page."""
    st.title("Compare pilots")
    cfg = state.config()
    if cfg.share:
        st.info("Comparing pilots is available in the workbench only.")
        return
    runs = state.list_run_paths(str(cfg.runs_dir))
    if len(runs) < 2:
        st.info(f"There is {'one run' if runs else 'no run'} in `{cfg.runs_dir}`; comparing needs at least two.")
        return
    chosen = st.multiselect(
        "Runs to compare", runs, default=runs[:2], format_func=lambda p: Path(p).name, key="compare_runs"
    )
    if len(chosen) < 2:
        st.caption("Pick at least two runs.")
        return
    try:
        table = _compare(tuple(chosen), tuple(state.stamp(p) for p in chosen))
    except QmsprintError as err:
        st.error(f"These runs cannot be compared: {err.message}")
        if err.problems:
            st.dataframe(widgets.problems_table(err.problems), hide_index=True, width="stretch")
        return
    actions = table.drop_duplicates("run")[["run", "date", "recommendation"]]
    st.dataframe(actions, hide_index=True, width="stretch")
    metric = st.selectbox(
        "Metric", list(dict.fromkeys(table["metric"])), format_func=fmt.metric_label, key="compare_metric"
    )
    widgets.show_figure(figures.compare_figure(table, metric), key=f"compare-{metric}")
    st.dataframe(table, hide_index=True, width="stretch")


if __name__ == "__main__":
    render()
