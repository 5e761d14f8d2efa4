"""Metrics: per metric, the plausible effects with the too-small-to-act-on band, answers by program, fit check."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from qmsprint.ui import fmt, state, widgets


def _effects_table(result: dict, control: str, treatment: str) -> pd.DataFrame:
    rows = []
    for e in result.get("effects") or []:
        unit = e.get("unit", "")
        rows.append(
            {
                "measure": fmt.SCALE_WORDS.get(e.get("scale", ""), e.get("scale", "")),
                control: fmt.num(e.get("control"), "") if unit != "pp" else fmt.share(e.get("control")),
                treatment: fmt.num(e.get("treatment"), "") if unit != "pp" else fmt.share(e.get("treatment")),
                "effect": fmt.num(e.get("mean"), unit, signed=True),
                "interval": fmt.range_text(e.get("hdi_low"), e.get("hdi_high"), unit),
                "probability of improvement": fmt.pct(e.get("prob_improve")),
                "probability worth acting on": fmt.pct(e.get("prob_meaningful")),
            }
        )
    return pd.DataFrame(rows)


def render() -> None:
    """Draw the page."""
    run = state.current_run()
    if run is None:
        return
    widgets.header(run, "Metrics")
    results = state.results(run)
    if not results:
        widgets.missing("metric results")
        return
    names = [r["metric"] for r in results]
    metric = st.selectbox("Metric", names, format_func=fmt.metric_label, key="metrics_metric")
    result = state.result_of(run, metric) or {}
    verdicts = state.recommendation(run).get("verdicts", {})
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
                f"{fmt.threshold_text(setting['threshold'], result.get('headline', {}).get('unit', setting['unit']))} "
                "(the smallest effect worth acting on, from the experiment file), grey ones are too small to "
                "matter, red ones are harm of that size. The black line is the interval."
            )
    table = _effects_table(result, control, treatment)
    if len(table) > 0:
        st.subheader("All measures")
        st.dataframe(table, hide_index=True, width="stretch")
    c1, c2 = st.columns(2)
    with c1:
        if result.get("level_shares"):
            widgets.show_figure(state.figure("levels", run, metric), key=f"levels-{metric}")
        else:
            st.caption(f"{fmt.metric_label(metric)} has no answer levels to compare (not a survey scale).")
    with c2:
        ppc = result.get("ppc") or {}
        if ppc.get("labels"):
            widgets.show_figure(state.figure("ppc", run, metric), key=f"ppc-{metric}")
            st.caption(
                "A model that fits well puts the observed crosses inside the model's intervals; "
                "a cross far outside means the model misses something in the data."
            )
        else:
            st.caption("This run has no posterior predictive check for this metric.")
    n_units, n_obs = result.get("n_units") or {}, result.get("n_obs") or {}
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
    for note in result.get("notes") or []:
        st.caption(f"Note: {note}")


if __name__ == "__main__":
    render()
