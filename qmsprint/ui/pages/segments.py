"""Segments: where the new program works best, as a forest plot per metric."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from qmsprint.present import format as fmt
from qmsprint.ui import state, widgets


def render() -> None:
    """Draw the page."""
    run = state.current_run()
    if run is None:
        return
    widgets.header(run, "Segments")
    results = [r for r in run.results if r.segments]
    if not results:
        widgets.missing(
            "segment breakdown", 'Add `segments = ["channel", "contact_reason"]` to the experiment file to get one.'
        )
        return
    metric = st.selectbox("Metric", [r.metric for r in results], format_func=fmt.metric_label, key="segments_metric")
    for s in run.recommendation.segments:
        if s.get("metric") == metric and s.get("sentence"):
            st.markdown(f"- {fmt.md(s['sentence'])}")
    widgets.show_figure(state.figure("forest", run, metric), key=f"forest-{metric}")
    st.caption(
        "Dots are the estimated effect in each segment, lines the interval it most likely lies in. Green: "
        "improvement is clear; red: harm is clear; grey: not settled. The shaded band is too small to act on."
    )
    result = next(r for r in results if r.metric == metric)
    rows = []
    for e in result.segments:
        unit = e.unit
        rows.append(
            {
                "segment": str(e.segment or "").replace("_", " "),
                "value": e.segment_value,
                "effect": fmt.num(e.mean, unit, signed=True),
                "interval": fmt.range_text(e.hdi_low, e.hdi_high, unit),
                "probability of improvement": fmt.pct(e.prob_improve),
                "probability worth acting on": fmt.pct(e.prob_meaningful),
            }
        )
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


if __name__ == "__main__":
    render()
