"""Recommendation: the call, the reasons, one card per metric, and the money behind it."""

from __future__ import annotations

from typing import Any

import streamlit as st

from qmsprint.ui import fmt, state, widgets

BOXES = {"green": st.success, "orange": st.warning, "red": st.error, "gray": st.info}


def _impact(impact: dict[str, Any]) -> None:
    st.subheader("Business impact")
    currency = impact.get("currency", "")
    avoided = fmt.ranged(impact.get("contacts_avoided_per_month"))
    value = fmt.ranged(impact.get("value_per_month"))
    hdi = impact.get("hdi_prob")
    level = f"{100 * hdi:.0f}%" if fmt.is_num(hdi) else "94%"
    cols = st.columns(3)
    if avoided:
        cols[0].metric("Repeat contacts avoided per month", f"{avoided[0]:,.0f}")
        if fmt.is_num(avoided[1]) and fmt.is_num(avoided[2]):
            cols[0].caption(f"{level} interval: {avoided[1]:,.0f} to {avoided[2]:,.0f}")
    if value:
        cols[1].metric("Value per month", fmt.money(value[0], currency))
        if fmt.is_num(value[1]) and fmt.is_num(value[2]):
            cols[1].caption(f"{level} interval: {fmt.money(value[1], currency)} to {fmt.money(value[2], currency)}")
    if fmt.is_num(impact.get("prob_saves")):
        cols[2].metric("Probability that it saves money", fmt.pct(impact["prob_saves"]))
    if impact.get("sentence"):
        st.markdown(fmt.md(impact["sentence"]))


def render() -> None:
    """Draw the page: the call first, then one card per metric, the money, and the reasons in full."""
    run = state.current_run()
    if run is None:
        return
    widgets.header(run, "Recommendation")
    rec = state.recommendation(run)
    results = state.results(run)
    if not rec:
        widgets.missing("recommendation", "The run may have stopped before deciding; see Data quality & trust.")
    else:
        label, colour = fmt.action_text(rec.get("action"))
        box = BOXES.get(colour, st.info)
        box(f"### {label}\n{fmt.md(rec.get('headline', ''))}", icon=":material/flag:")
        caveats = rec.get("caveats") or []
        if caveats:
            st.markdown("**What qualifies this**\n" + "\n".join(f"- {fmt.md(c)}" for c in caveats))
    st.subheader("Metrics")
    if not results:
        widgets.missing("metric results")
    else:
        widgets.metric_cards(run, results, rec.get("verdicts", {}))
    impact = rec.get("impact")
    if isinstance(impact, dict) and impact:
        _impact(impact)
    reasons = rec.get("reasons") or []
    if reasons:
        st.subheader("Why")
        st.markdown("\n".join(f"- {fmt.md(r)}" for r in reasons))
    extend = rec.get("extend")
    if isinstance(extend, dict) and extend.get("sentence") and extend["sentence"] not in reasons:
        st.caption(fmt.md(extend["sentence"]))
    segments = [s for s in rec.get("segments") or [] if isinstance(s, dict) and s.get("sentence")]
    if segments:
        st.subheader("Where it works best")
        st.markdown("\n".join(f"- {fmt.md(s['sentence'])}" for s in segments))


if __name__ == "__main__":
    render()
