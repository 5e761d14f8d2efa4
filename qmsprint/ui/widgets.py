"""Small building blocks shared by the pages: header, metric cards, problem tables, badges."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from qmsprint.decide import Verdict
from qmsprint.errors import Problem, QmsprintError
from qmsprint.present import format as fmt
from qmsprint.present import text
from qmsprint.present.rollout import design_label
from qmsprint.results import MetricResult
from qmsprint.ui import state
from qmsprint.words import counted

if TYPE_CHECKING:
    from qmsprint.api import RunBundle


def header(run: RunBundle, title: str) -> None:
    """Page title with the pilot's name, client and design as a caption."""
    st.title(title)
    bits = [state.run_title(run)]
    client = state.client_name(run)
    if client:
        bits.insert(0, client)
    design = run.spec.design
    if design:
        bits.append(design_label(design))
    pilot = state.pilot_period(run)
    if pilot is not None:
        bits.append(f"pilot {pilot.start} to {pilot.end}")
    control, treatment = state.arm_labels(run)
    bits.append(f"{treatment} vs {control}")
    st.caption(fmt.md(" · ".join(str(b) for b in bits)))


def status_badge(status: str) -> str:
    """Markdown badge for a health-check status."""
    return f":{fmt.STATUS_TONES.get(status, 'gray')}-badge[{fmt.status_label(status)}]"


def metric_card(run: RunBundle, result: MetricResult, verdicts: dict[str, Verdict]) -> None:
    """One bordered card: verdict, effect, interval, probabilities, arm levels."""
    metric = result.metric
    head = result.headline
    setting = state.metric_setting(run, metric)
    unit = head.unit or setting.unit
    v = verdicts.get(metric)
    control, treatment = state.arm_labels(run)
    with st.container(border=True):
        st.markdown(f"**{fmt.metric_label(metric)}** · {fmt.role_label(setting.role)}")
        st.markdown(fmt.verdict_badge(v.verdict if v is not None else None))
        st.metric(
            f"Effect of {treatment}",
            fmt.num(head.mean, unit, signed=True),
            help="New program minus current program, on the metric's own scale"
            + (" (lower is better)" if setting.better == "lower" else " (higher is better)"),
        )
        st.caption(fmt.interval_text(head.hdi_low, head.hdi_high, unit, head.hdi_prob))
        st.markdown(fmt.md(text.improve_sentence(metric, head.prob_improve, setting.better)))
        if fmt.is_num(head.prob_meaningful):
            sentence = text.prob_sentence(metric, head.prob_meaningful, setting.threshold, unit, setting.better)
            if setting.role == "guardrail" and v is not None and fmt.is_num(v.prob_harm):
                sentence = text.harm_sentence(metric, v.prob_harm, setting.threshold, unit, setting.better)
            st.markdown(f"**{fmt.md(sentence)}**")
        levels = text.effect_sentence(metric, head, control, treatment)
        if levels:
            st.caption(fmt.md(levels))
        if not result.diagnostics.converged:
            st.warning("The model fit for this metric missed the convergence bars; read it as indicative.")


def metric_cards(run: RunBundle, results: list[MetricResult], verdicts: dict[str, Verdict], per_row: int = 3) -> None:
    """Cards for every metric, ``per_row`` to a row."""
    for start in range(0, len(results), per_row):
        cols = st.columns(per_row)
        for col, result in zip(cols, results[start : start + per_row], strict=False):
            with col:
                metric_card(run, result, verdicts)


def problems_table(problems: list[Problem]) -> pd.DataFrame:
    """Problems as a table: where, what, rows, count, examples."""
    rows = []
    for p in problems:
        rows.append(
            {
                "where": p.where,
                "problem": p.message,
                "count": p.count,
                "example rows": ", ".join(str(r) for r in (p.rows or ())[:5]),
                "example values": ", ".join(repr(v) for v in (p.examples or ())[:5]),
            }
        )
    return pd.DataFrame(rows, columns=["where", "problem", "count", "example rows", "example values"])


def missing(part: str, how: str = "") -> None:
    """Say plainly that an optional part is not in this run."""
    st.info(f"This run has no {part}." + (f" {how}" if how else ""), icon=":material/info:")


def show_figure(fig: Any, key: str | None = None) -> None:
    """A Plotly figure at full width."""
    st.plotly_chart(fig, width="stretch", key=key, config={"displaylogo": False})


def show_error(err: QmsprintError, what: str) -> None:
    """An error with every problem in a table (where, what, rows, examples)."""
    st.error(f"{what}: {err.message}", icon=":material/error:")
    if err.problems:
        st.dataframe(problems_table(err.problems), hide_index=True, width="stretch")


def show_validation(result: Any) -> None:
    """A valid experiment file's data summary, warnings and health checks (as ``qmsprint validate`` prints them)."""
    st.success("The experiment file and the data are valid.", icon=":material/check_circle:")
    st.text(result.summary)
    if result.warnings:
        st.warning(f"{counted(len(result.warnings), 'warning')} in the data:")
        st.dataframe(problems_table(result.warnings), hide_index=True, width="stretch")
    if result.health:
        st.markdown("**Health checks**")
        st.markdown("\n".join(f"- {status_badge(c.status)} {fmt.md(c.message)}" for c in result.health))
