"""Small building blocks shared by the pages: header, metric cards, problem tables, badges."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from qmsprint.ui import fmt, state

STATUS = {"ok": ("OK", "green"), "warn": ("Warning", "orange"), "alert": ("Alert", "red")}


def header(run: Any, title: str) -> None:
    """Page title with the pilot's name, client and design as a caption."""
    st.title(title)
    bits = [state.run_title(run)]
    client = state.client_name(run)
    if client:
        bits.insert(0, client)
    design = state.spec_value(run, "design")
    if design:
        bits.append("A/B test" if design == "ab" else "pilot with control group (difference-in-differences)")
    pilot = state.spec_value(run, "periods", "pilot")
    start = pilot.get("start") if isinstance(pilot, dict) else getattr(pilot, "start", None)
    end = pilot.get("end") if isinstance(pilot, dict) else getattr(pilot, "end", None)
    if start and end:
        bits.append(f"pilot {start} to {end}")
    control, treatment = state.arm_labels(run)
    bits.append(f"{treatment} vs {control}")
    st.caption(" · ".join(str(b) for b in bits))


def status_badge(status: str) -> str:
    """Markdown badge for a health-check status."""
    label, colour = STATUS.get(status, (status, "gray"))
    return f":{colour}-badge[{label}]"


def metric_card(run: Any, result: dict[str, Any], verdicts: Any) -> None:
    """One bordered card: verdict, effect, interval, probabilities, arm levels."""
    metric = result.get("metric", "?")
    head = result.get("headline", {}) or {}
    setting = state.metric_setting(run, metric)
    unit = head.get("unit") or setting["unit"]
    verdict = fmt.verdict_of(verdicts, metric)
    control, treatment = state.arm_labels(run)
    with st.container(border=True):
        st.markdown(f"**{fmt.metric_label(metric)}** · {fmt.ROLES.get(setting['role'], setting['role'])}")
        st.markdown(fmt.verdict_badge(verdict))
        st.metric(
            f"Effect of {treatment}",
            fmt.num(head.get("mean"), unit, signed=True),
            help="New program minus current program, on the metric's own scale"
            + (" (lower is better)" if setting["better"] == "lower" else " (higher is better)"),
        )
        st.caption(fmt.interval_text(head.get("hdi_low"), head.get("hdi_high"), unit, head.get("hdi_prob")))
        st.markdown(fmt.md(fmt.improve_sentence(metric, head.get("prob_improve"), setting["better"])))
        if fmt.is_num(head.get("prob_meaningful")):
            p = head.get("prob_meaningful")
            sentence = fmt.prob_sentence(metric, p, setting["threshold"], unit, setting["better"])
            v = verdicts.get(metric) if isinstance(verdicts, dict) else None
            if setting["role"] == "guardrail" and isinstance(v, dict) and fmt.is_num(v.get("prob_harm")):
                sentence = fmt.harm_sentence(metric, v["prob_harm"], setting["threshold"], unit, setting["better"])
            st.markdown(f"**{fmt.md(sentence)}**")
        levels = fmt.effect_sentence(metric, head, control, treatment)
        if levels:
            st.caption(levels)
        diag = result.get("diagnostics") or {}
        if diag and diag.get("converged") is False:
            st.warning("The model fit for this metric missed the convergence bars; read it as indicative.")


def metric_cards(run: Any, results: list[dict[str, Any]], verdicts: Any, per_row: int = 3) -> None:
    """Cards for every metric, ``per_row`` to a row."""
    for start in range(0, len(results), per_row):
        cols = st.columns(per_row)
        for col, result in zip(cols, results[start : start + per_row], strict=False):
            with col:
                metric_card(run, result, verdicts)


def problems_table(problems: list[Any]) -> pd.DataFrame:
    """Problems (``qmsprint.errors.Problem`` or dicts) as a table: where, what, rows, count, examples."""
    rows = []
    for p in state.records(problems):
        rows.append(
            {
                "where": p.get("where", ""),
                "problem": p.get("message", ""),
                "count": p.get("count"),
                "example rows": ", ".join(str(r) for r in (p.get("rows") or [])[:5]),
                "example values": ", ".join(repr(v) for v in (p.get("examples") or [])[:5]),
            }
        )
    return pd.DataFrame(rows, columns=["where", "problem", "count", "example rows", "example values"])


def missing(part: str, how: str = "") -> None:
    """Say plainly that an optional part is not in this run."""
    st.info(f"This run has no {part}." + (f" {how}" if how else ""), icon=":material/info:")


def show_figure(fig: Any, key: str | None = None) -> None:
    """A Plotly figure at full width."""
    st.plotly_chart(fig, width="stretch", key=key, config={"displaylogo": False})
