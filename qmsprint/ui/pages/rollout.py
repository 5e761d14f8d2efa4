"""Roll-out: the effect by weeks since the switch and by wave (waves), the no-control caveat (before/after)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from qmsprint.present import format as fmt
from qmsprint.present import rollout
from qmsprint.ui import state, widgets


def render() -> None:
    """Draw the page."""
    run = state.current_run()
    if run is None:
        return
    widgets.header(run, "Roll-out")
    design = run.spec.design
    if design == "prepost":
        st.warning(rollout.NO_CONTROL_CAVEAT, icon=":material/warning:")
    if design != "waves":
        st.info(
            f"This run is a {rollout.design_label(design)}: the effect by weeks since the switch and by wave is shown "
            'for staggered roll-outs (`design = "waves"`).'
        )
        return
    results = [r for r in run.results if r.event_effects]
    if not results:
        widgets.missing("effects by wave and by weeks since the switch")
        return
    metric = st.selectbox("Metric", [r.metric for r in results], format_func=fmt.metric_label, key="rollout_metric")
    result = next(r for r in results if r.metric == metric)
    setting = state.metric_setting(run, metric)
    unit = result.headline.unit or setting.unit
    fig = rollout.event_time_figure(
        result.event_effects, metric, unit, setting.threshold, setting.better, overall=result.headline
    )
    widgets.show_figure(fig, key=f"event-time-{metric}")
    st.caption(
        "Each point is the effect on the interactions of units that had switched that many weeks earlier "
        "(0 = the week of the switch), compared only with units still on the current program in the same weeks; "
        "bars are the intervals, the grey band the overall effect. An effect that grows over the first weeks "
        "shows as a rising line."
    )
    widgets.show_figure(
        rollout.wave_figure(result.event_effects, metric, unit, setting.threshold, setting.better),
        key=f"waves-{metric}",
    )
    st.subheader("Effects by wave and by week since the switch")
    st.dataframe(pd.DataFrame(rollout.wave_rows(result.event_effects, metric)), hide_index=True, width="stretch")
    trends = rollout.pretrend_rows(run.health)
    st.subheader("Pre-trends per wave")
    if trends:
        st.dataframe(pd.DataFrame(trends), hide_index=True, width="stretch")
        st.caption(
            "Before its switch, a wave should move in step with the units still on the current program: a clear "
            "drift of the gap (status warn or alert) means that wave's effect may be biased."
        )
    else:
        st.caption("Not checked: fewer than 3 weeks before every switch.")


if __name__ == "__main__":
    render()
