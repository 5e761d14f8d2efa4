"""Segments: where the new program works best, as a forest plot per metric."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from qmsprint.ui import fmt, state, widgets


def render() -> None:
    """Draw the page."""
    run = state.current_run()
    if run is None:
        return
    widgets.header(run, "Segments")
    results = [r for r in state.results(run) if r.get("segments")]
    if not results:
        widgets.missing(
            "segment breakdown", 'Add `segments = ["channel", "contact_reason"]` to the experiment file to get one.'
        )
        return
    sentences = [s for s in state.recommendation(run).get("segments") or [] if isinstance(s, dict)]
    metric = st.selectbox("Metric", [r["metric"] for r in results], format_func=fmt.metric_label, key="segments_metric")
    for s in sentences:
        if s.get("metric") == metric and s.get("sentence"):
            st.markdown(f"- {fmt.md(s['sentence'])}")
    widgets.show_figure(state.figure("forest", run, metric), key=f"forest-{metric}")
    st.caption(
        "Dots are the estimated effect in each segment, lines the interval it most likely lies in. Green: "
        "improvement is clear; red: harm is clear; grey: not settled. The shaded band is too small to act on."
    )
    result = state.result_of(run, metric) or {}
    rows = []
    for e in result.get("segments") or []:
        unit = e.get("unit", "")
        rows.append(
            {
                "segment": str(e.get("segment", "")).replace("_", " "),
                "value": e.get("segment_value"),
                "effect": fmt.num(e.get("mean"), unit, signed=True),
                "interval": fmt.range_text(e.get("hdi_low"), e.get("hdi_high"), unit),
                "probability of improvement": fmt.pct(e.get("prob_improve")),
                "probability worth acting on": fmt.pct(e.get("prob_meaningful")),
            }
        )
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


if __name__ == "__main__":
    render()
