"""Recommendation: the call, the reasons, one card per metric, and the money behind it."""

from __future__ import annotations

import streamlit as st

from qmsprint.present import format as fmt
from qmsprint.ui import state, widgets

BOXES = {"green": st.success, "orange": st.warning, "red": st.error, "gray": st.info}


def _impact(impact: state.Impact) -> None:
    st.subheader("Business impact")
    currency = impact.currency
    avoided, value = impact.contacts_avoided, impact.value
    level = fmt.hdi_level(impact.hdi_prob)
    cols = st.columns(3)
    if impact.repeat and fmt.is_num(avoided.mean):
        cols[0].metric("Repeat contacts avoided per month", fmt.whole(avoided.mean))
        if fmt.is_num(avoided.low) and fmt.is_num(avoided.high):
            cols[0].caption(f"{level} interval: {fmt.whole(avoided.low)} to {fmt.whole(avoided.high)}")
    if impact.repeat and fmt.is_num(value.mean):
        cols[1].metric("Value per month", fmt.money(value.mean, currency))
        if fmt.is_num(value.low) and fmt.is_num(value.high):
            cols[1].caption(f"{level} interval: {fmt.money(value.low, currency)} to {fmt.money(value.high, currency)}")
    if impact.net is not None and fmt.is_num(impact.net.mean):
        cols[2].metric("Net value per month", fmt.money(impact.net.mean, currency))
        cols[2].caption(
            f"{level} interval: {fmt.money(impact.net.low, currency)} to {fmt.money(impact.net.high, currency)}; "
            f"{fmt.pct(impact.prob_net_saving)} probability of a net saving"
        )
    elif fmt.is_num(impact.prob_saves):
        cols[2].metric("Probability that it saves money", fmt.pct(impact.prob_saves))
    if impact.metric_values:  # metrics with a value_per_unit (retention, sales, ...)
        st.dataframe(
            [{"": v["what"], "mean": v["value"], f"{level} interval": v["interval"], "P(adds value)": v["prob"]}
             for v in impact.metric_values],
            hide_index=True,
            width="stretch",
        )  # fmt: skip
    if impact.sentence:
        st.markdown(fmt.md(impact.sentence))
    if impact.net_sentence:
        st.markdown(fmt.md(impact.net_sentence))


def render() -> None:
    """Draw the page: the call first, then one card per metric, the money, and the reasons in full."""
    run = state.current_run()
    if run is None:
        return
    widgets.header(run, "Recommendation")
    rec = run.recommendation
    results = run.results
    label, colour = fmt.action_text(rec.action)
    box = BOXES.get(colour, st.info)
    box(f"### {label}\n{fmt.md(rec.headline)}", icon=":material/flag:")
    if rec.caveats:
        st.markdown("**What qualifies this**\n" + "\n".join(f"- {fmt.md(c)}" for c in rec.caveats))
    st.subheader("Metrics")
    if not results:
        widgets.missing("metric results")
    else:
        widgets.metric_cards(run, results, rec.verdicts)
    if rec.impact:
        _impact(state.Impact.from_dict(rec.impact))
    if rec.reasons:
        st.subheader("Why")
        st.markdown("\n".join(f"- {fmt.md(r)}" for r in rec.reasons))
    extend = rec.extend or {}
    if extend.get("sentence") and extend["sentence"] not in rec.reasons:
        st.caption(fmt.md(extend["sentence"]))
    segments = [s for s in rec.segments if s.get("sentence")]
    if segments:
        st.subheader("Where it works best")
        st.markdown("\n".join(f"- {fmt.md(s['sentence'])}" for s in segments))


if __name__ == "__main__":
    render()
