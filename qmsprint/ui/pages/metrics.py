"""Metrics: per metric, the plausible effects with the too-small-to-act-on band, answers by program, fit check."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from qmsprint.present import format as fmt
from qmsprint.results import MetricResult
from qmsprint.ui import state, widgets


def _effects_table(result: MetricResult, control: str, treatment: str) -> pd.DataFrame:
    rows = []
    for e in result.effects:
        unit = e.unit
        rows.append(
            {
                "measure": fmt.scale_label(result.metric, e.scale),
                control: fmt.level_text(e.control, result.metric, e.scale),
                treatment: fmt.level_text(e.treatment, result.metric, e.scale),
                "effect": fmt.num(e.mean, unit, signed=True),
                "interval": fmt.range_text(e.hdi_low, e.hdi_high, unit),
                "probability of improvement": fmt.pct(e.prob_improve),
                "probability worth acting on": fmt.pct(e.prob_meaningful),
            }
        )
    return pd.DataFrame(rows)


def render() -> None:
    """Draw the page."""
    run = state.current_run()
    if run is None:
        return
    widgets.header(run, "Metrics")
    results = run.results
    if not results:
        widgets.missing("metric results")
        return
    names = [r.metric for r in results]
    metric = st.selectbox("Metric", names, format_func=fmt.metric_label, key="metrics_metric")
    result = state.result_of(run, metric) or results[0]
    verdicts = run.recommendation.verdicts
    control, treatment = state.arm_labels(run)
    left, right = st.columns([1, 2])
    with left:
        widgets.metric_card(run, result, verdicts)
    with right:
        fig = state.figure("posterior", run, metric)
        if fig is None:
            widgets.missing(f"posterior draws for {fmt.metric_label(metric)}")
        else:
            widgets.show_figure(fig, key=f"posterior-{metric}")
            setting = state.metric_setting(run, metric)
            st.caption(
                "Each bar is a range of effects the data make plausible; green bars are improvements of at least "
                f"{fmt.threshold_text(setting.threshold, result.headline.unit)} "
                "(the smallest effect worth acting on, from the experiment file), grey ones are too small to "
                "matter, red ones are harm of that size. The black line is the interval."
            )
    table = _effects_table(result, control, treatment)
    if len(table) > 0:
        st.subheader("All measures")
        st.dataframe(table, hide_index=True, width="stretch")
    c1, c2 = st.columns(2)
    with c1:
        if result.level_shares:
            widgets.show_figure(state.figure("levels", run, metric), key=f"levels-{metric}")
        else:
            st.caption(f"{fmt.metric_label(metric)} has no answer levels to compare (not a survey scale).")
    with c2:
        if result.ppc.get("labels"):
            widgets.show_figure(state.figure("ppc", run, metric), key=f"ppc-{metric}")
            st.caption(
                "A model that fits well puts the observed crosses inside the model's intervals; "
                "a cross far outside means the model misses something in the data."
            )
        else:
            st.caption("This run has no posterior predictive check for this metric.")
    n_units, n_obs = result.n_units, result.n_obs
    names_by_arm = state.arm_names(run)
    if n_units or n_obs:
        arms = list(dict.fromkeys(list(n_units) + list(n_obs)))
        st.caption(
            "Data behind this estimate: "
            + "; ".join(
                f"{names_by_arm.get(a, a)}: {n_units.get(a, 'n/a')} agents, {n_obs.get(a, 0):,} observations"
                for a in arms
            )
        )
    for note in result.notes:
        st.caption(f"Note: {fmt.md(note)}")


if __name__ == "__main__":
    render()
