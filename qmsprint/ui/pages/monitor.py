"""Monitoring: the alert history of `qmsprint monitor` and the effect at each monitoring run."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from qmsprint import api
from qmsprint.present import format as fmt
from qmsprint.present import monitor as words
from qmsprint.ui import state, widgets
from qmsprint.words import counted


def render() -> None:
    """Draw the page."""
    run = state.current_run()
    if run is None:
        return
    widgets.header(run, "Monitoring")
    alerts, checks = api.monitor_history(run.path.parent, pilot=run.spec.name)
    if not checks and not alerts:
        st.info(
            "No monitoring history beside this run. Watch a running pilot with "
            "`qmsprint monitor <experiment file> --every 1d` (or one check per call from a scheduler): each check "
            "writes a new run when the data grew and appends its alerts to `alerts.jsonl` beside the runs."
        )
        return
    last = checks[-1] if checks else {}
    active = {c["key"]: c for c in last.get("conditions", [])}
    st.markdown(f"**{counted(len(checks), 'check')}**, the last at {str(last.get('time', ''))[:16].replace('T', ' ')}.")
    if active:
        for c in sorted(active.values(), key=lambda c: -words.SEVERITY_LABELS_ORDER.get(c["severity"], 0)):
            tone = {"alert": "red", "warn": "orange"}.get(c["severity"], "blue")
            st.markdown(f":{tone}-badge[{words.kind_label(c['kind'])}] {fmt.md(c['message'])}")
    else:
        st.markdown(":green-badge[No active alert]")
    metrics = sorted({m for c in checks for m in (c.get("effects") or {})}, key=lambda m: m)
    if metrics:
        metric = st.selectbox("Metric", metrics, format_func=fmt.metric_label, key="monitor_metric")
        widgets.show_figure(words.effect_over_time_figure(checks, metric), key=f"monitor-effect-{metric}")
        st.caption(
            "One point per monitoring run that had new data: the effect with its interval as the data grew. "
            "The dashed line is the smallest effect worth acting on."
        )
    st.subheader("Alert history")
    if alerts:
        st.dataframe(pd.DataFrame(words.alert_rows(alerts)), hide_index=True, width="stretch")
    else:
        st.caption("No alert has been raised.")


if __name__ == "__main__":
    render()
