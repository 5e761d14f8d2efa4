"""Data quality & trust: validation warnings, health checks, trends and sampler diagnostics."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from qmsprint.present import figures
from qmsprint.present import format as fmt
from qmsprint.ui import state, widgets
from qmsprint.words import counted

if TYPE_CHECKING:
    from qmsprint.api import RunBundle

CHECK_NAMES = {
    "srm_units": "Sample ratio: units per program",
    "srm_interactions": "Sample ratio: interactions per program",
    "response_rate": "Survey response by program",
    "contamination": "Contamination (agents in both programs)",
    "balance": "Balance before the pilot",
    "parallel_trends": "Parallel trends before the pilot",
    "aa": "A/A check on the baseline",
    "aa_model": "A/A check with the full models",
}
# Provenance keys safe to show in a client share (no file paths).
SAFE_PROVENANCE = ("rows_read", "rows_used", "rows_outside_periods", "repeat_censored", "fingerprint", "seed")


def _checks(run: RunBundle) -> None:
    checks = run.health
    st.subheader("Health checks")
    if not checks:
        widgets.missing("health checks")
        return
    counts = pd.Series([c.status for c in checks]).value_counts()
    cols = st.columns(3)
    cols[0].metric("OK", int(counts.get("ok", 0)))
    cols[1].metric("Warnings", int(counts.get("warn", 0)))
    cols[2].metric("Alerts", int(counts.get("alert", 0)))
    for c in checks:
        name = c.name
        with st.container(border=True):
            st.markdown(f"{widgets.status_badge(c.status)} **{CHECK_NAMES.get(name, fmt.humanize(name))}**")
            st.markdown(fmt.md(c.message))
            if c.table:
                with st.expander("Details"):
                    st.dataframe(pd.DataFrame(c.table), hide_index=True, width="stretch")


def _trends(run: RunBundle) -> None:
    st.subheader("Week by week")
    weekly = run.weekly
    metrics = [r.metric for r in run.results if figures.has_weekly(r.metric)]
    if len(weekly) == 0 or not metrics:
        widgets.missing("weekly series")
        return
    metric = st.selectbox("Metric", metrics, format_func=fmt.metric_label, key="quality_metric")
    widgets.show_figure(state.figure("weekly", run, metric), key=f"weekly-{metric}")
    st.caption(
        "Before the pilot the two groups should move in parallel; after it starts, a gap that opens and stays "
        "is the program's effect."
    )
    trends = next((c for c in run.health if c.name == "parallel_trends"), None)
    series = trends.data.get("metrics", {}).get(metric) if trends is not None else None
    if series:
        widgets.show_figure(figures.trends_gap_figure(series, metric), key=f"gap-{metric}")


def _sampler(run: RunBundle) -> None:
    st.subheader("Model fits (sampler diagnostics)")
    diag = run.diagnostics
    if len(diag) == 0:
        widgets.missing("sampler diagnostics")
        return
    table = fmt.diagnostics_table(diag)
    if "converged" in diag:
        bad = int((~diag["converged"].astype(bool)).sum())
        if bad:
            st.warning(
                f"{counted(bad, 'fit')} missed the convergence bars; no recommendation is made from "
                + ("it." if bad == 1 else "them.")
            )
        else:
            st.success(
                "Every fit met the convergence bars: R-hat ≤ 1.01 and ESS ≥ 400 for the effects, R-hat ≤ 1.05 "
                "and ESS ≥ 100 for the variance components (spread), no divergences, E-BFMI ≥ 0.3."
            )
    st.dataframe(table, hide_index=True, width="stretch")


def _provenance(run: RunBundle) -> None:
    prov = run.provenance
    if not prov:
        return
    with st.expander("Provenance (where these numbers come from)"):
        if state.config().share:
            prov = {k: v for k, v in prov.items() if k in SAFE_PROVENANCE}
        st.json(prov, expanded=False)


def render() -> None:
    """Draw the page."""
    run = state.current_run()
    if run is None:
        return
    widgets.header(run, "Data quality & trust")
    st.subheader("Validation warnings")
    warnings = run.warnings
    if warnings:
        st.dataframe(widgets.problems_table(warnings), hide_index=True, width="stretch")
    else:
        st.success("The data passed validation with no warnings.")
    _checks(run)
    _trends(run)
    _sampler(run)
    _provenance(run)


if __name__ == "__main__":
    render()
