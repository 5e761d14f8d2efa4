"""Compare pilots: runs side by side (same metrics, effects, recommendation)."""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

from qmsprint.errors import QmsprintError
from qmsprint.ui import figures, fmt, state, widgets


@st.cache_data(show_spinner="Comparing runs…", max_entries=32)
def _compare(paths: tuple[str, ...], stamps: tuple[float, ...]):  # noqa: ARG001
    from qmsprint.bundle import compare_runs

    return compare_runs([Path(p) for p in paths])


def _figure(table, metric: str) -> go.Figure:
    sub = table[table["metric"] == metric]
    unit = str(sub["unit"].iloc[0]) if len(sub) else ""
    fig = go.Figure()
    fig.add_scatter(
        x=sub["run"],
        y=sub["effect"],
        mode="markers",
        marker={"size": 12, "color": figures.NEW},
        error_y={
            "type": "data",
            "symmetric": False,
            "array": (sub["hdi_high"] - sub["effect"]).tolist(),
            "arrayminus": (sub["effect"] - sub["hdi_low"]).tolist(),
        },
        hovertext=[
            f"{r.run}<br>effect {fmt.num(r.effect, unit, signed=True)}<br>{fmt.pct(r.prob_improve)} probability "
            f"of improvement<br>{r.verdict}"
            for r in sub.itertuples()
        ],
        hoverinfo="text",
    )
    fig.add_hline(y=0, line_dash="dot")
    fig.update_layout(
        **figures.LAYOUT,
        title=f"{fmt.metric_label(metric)}: effect in each pilot",
        yaxis_title=f"effect ({fmt.UNIT_WORDS.get(unit, unit)})",
        xaxis_type="category",
        height=360,
    )
    return fig


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
    widgets.show_figure(_figure(table, metric), key=f"compare-{metric}")
    st.dataframe(table, hide_index=True, width="stretch")


if __name__ == "__main__":
    render()
