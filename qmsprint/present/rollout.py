"""Words and figures of the roll-out designs: waves (event time) and before/after (no control group).

* :func:`design_label`: the one label of each design (app header, report subtitle);
* :data:`NO_CONTROL_CAVEAT` and :func:`word_limits`: the caveat every before/after output carries,
  and the wording of a call capped at ``extend`` (:mod:`qmsprint.decide.limits`);
* :func:`event_time_figure` (effect by weeks since the switch) and :func:`wave_figure` (effect by
  wave), shared by the app and the report; :func:`wave_rows` and :func:`pretrend_rows`, the tables
  beside them.
"""

from __future__ import annotations

import dataclasses
import html
from typing import Any

import plotly.graph_objects as go

from qmsprint.decide import Recommendation
from qmsprint.present.figures import BAND, LAYOUT, NEUTRAL, NEW, _axis
from qmsprint.present.format import action_label, metric_label, num, pct, range_text, threshold_text

WAVE = "wave"
EVENT = "weeks_since_switch"

DESIGN_LABELS = {
    "ab": "A/B test",
    "did": "pilot with control group (difference-in-differences)",
    "waves": "staggered roll-out in waves",
    "prepost": "before/after without a control group",
}

NO_CONTROL_CAVEAT = (
    "No control group: this is a before/after comparison. The effect is the change at the switch against the "
    "trend and season of the weeks before, so anything else that changed at the same time (a product launch, a "
    "new policy, a staffing change) is counted as the program's effect."
)


def design_label(design: str) -> str:
    """Plain-language name of a design."""
    return DESIGN_LABELS.get(design, design)


def word_limits(rec: Recommendation, spec: Any) -> Recommendation:
    """The before/after caveat first among the caveats, and the words of a call capped at ``extend``.

    Other designs pass through unchanged. Idempotent (the report words a stored recommendation again).
    """
    if spec.design != "prepost":
        return rec
    caveats = [NO_CONTROL_CAVEAT] + [c for c in rec.caveats if c != NO_CONTROL_CAVEAT]
    out = dataclasses.replace(rec, caveats=caveats)
    uncapped = rec.thresholds.get("uncapped_action")
    if uncapped and rec.action == "extend":
        why = (
            f"Without a control group the call is at most {action_label('extend').lower()}: the data alone would "
            f"say {action_label(uncapped).lower()}. Add a comparison group (or set [prepost] allow_decisive = true "
            "in the experiment file to let a before/after comparison decide)."
        )
        out.action_label = action_label("extend")
        out.headline = (
            "Extend the pilot with a comparison group: the before/after change points to "
            f"{action_label(uncapped).lower()}, but without a control group it cannot settle the call."
        )
        out.reasons = [why] + [r for r in rec.reasons if r != why]
    return out


def _effects(effects: list[Any], segment: str) -> list[Any]:
    return [e for e in effects if _get(e, "segment") == segment]


def _get(e: Any, key: str) -> Any:
    return e.get(key) if isinstance(e, dict) else getattr(e, key)


def event_time_figure(
    effects: list[Any], metric: str, unit: str, threshold: float | None, better: str, overall: Any = None
) -> go.Figure:
    """Effect by weeks since the switch (0 = the switch week) with its intervals, the overall effect as a band."""
    rows = _effects(effects, EVENT)
    fig = go.Figure()
    if not rows:
        return fig
    x = [str(_get(e, "segment_value")) for e in rows]
    mean = [float(_get(e, "mean")) for e in rows]
    lo = [float(_get(e, "hdi_low")) for e in rows]
    hi = [float(_get(e, "hdi_high")) for e in rows]
    if overall is not None:
        fig.add_hrect(
            y0=float(_get(overall, "hdi_low")),
            y1=float(_get(overall, "hdi_high")),
            fillcolor=BAND,
            line_width=0,
            layer="below",
            annotation_text=f"overall {num(_get(overall, 'mean'), unit, signed=True)}",
            annotation_position="top left",
        )
    fig.add_scatter(
        x=x,
        y=mean,
        mode="lines+markers",
        line={"color": NEW},
        error_y={
            "type": "data",
            "symmetric": False,
            "array": [h - m for h, m in zip(hi, mean, strict=True)],
            "arrayminus": [m - low for m, low in zip(mean, lo, strict=True)],
            "color": NEW,
        },
        customdata=[
            [num(m, unit, signed=True), range_text(a, b, unit), pct(_get(e, "prob_improve"))]
            for m, a, b, e in zip(mean, lo, hi, rows, strict=True)
        ],
        hovertemplate="week %{x} since the switch<br>effect %{customdata[0]}<br>interval %{customdata[1]}"
        "<br>probability of improvement %{customdata[2]}<extra></extra>",
        name="effect by weeks since the switch",
    )
    fig.add_hline(y=0, line_color=NEUTRAL, line_dash="dot")
    if threshold:
        t = threshold if better == "higher" else -threshold
        fig.add_hline(
            y=t,
            line_color=NEUTRAL,
            line_dash="dash",
            annotation_text=f"worth acting on ({threshold_text(threshold, unit)})",
            annotation_position="bottom right",
        )
    fig.update_layout(
        **LAYOUT,
        title=f"{metric_label(metric)}: effect by weeks since each unit's switch",
        xaxis_title="weeks since the switch (0 = the switch week)",
        yaxis_title=_axis(metric, unit, better),
        showlegend=False,
    )
    return fig


def wave_figure(effects: list[Any], metric: str, unit: str, threshold: float | None, better: str) -> go.Figure:
    """Effect by wave (the wave's switch week) with its intervals."""
    rows = _effects(effects, WAVE)
    fig = go.Figure()
    if not rows:
        return fig
    x = [f"wave of {_get(e, 'segment_value')}" for e in rows]
    mean = [float(_get(e, "mean")) for e in rows]
    lo = [float(_get(e, "hdi_low")) for e in rows]
    hi = [float(_get(e, "hdi_high")) for e in rows]
    fig.add_scatter(
        x=mean,
        y=x,
        mode="markers",
        marker={"color": NEW, "size": 10},
        error_x={
            "type": "data",
            "symmetric": False,
            "array": [h - m for h, m in zip(hi, mean, strict=True)],
            "arrayminus": [m - low for m, low in zip(mean, lo, strict=True)],
            "color": NEW,
        },
        customdata=[[num(m, unit, signed=True), range_text(a, b, unit)] for m, a, b in zip(mean, lo, hi, strict=True)],
        hovertemplate="%{y}<br>effect %{customdata[0]}<br>interval %{customdata[1]}<extra></extra>",
    )
    fig.add_vline(x=0, line_color=NEUTRAL, line_dash="dot")
    if threshold:
        fig.add_vline(x=threshold if better == "higher" else -threshold, line_color=NEUTRAL, line_dash="dash")
    fig.update_layout(
        **LAYOUT,
        title=f"{metric_label(metric)}: effect by wave",
        xaxis_title=_axis(metric, unit, better),
        yaxis={"autorange": "reversed"},
        showlegend=False,
        height=160 + 50 * len(rows),
    )
    return fig


def wave_rows(effects: list[Any], metric: str) -> list[dict[str, str]]:
    """One row per wave and per week since the switch: what, effect, interval, probability of improvement."""
    out = []
    for seg, what in ((WAVE, "wave of {}"), (EVENT, "week {} since the switch")):
        for e in _effects(effects, seg):
            unit = _get(e, "unit")
            out.append(
                {
                    "metric": metric_label(metric),
                    "group": what.format(_get(e, "segment_value")),
                    "effect": num(_get(e, "mean"), unit, signed=True, style="plain"),
                    "interval": range_text(_get(e, "hdi_low"), _get(e, "hdi_high"), unit, style="plain"),
                    "p_better": pct(_get(e, "prob_improve")),
                }
            )
    return out


def pretrend_rows(health: list[Any]) -> list[dict[str, str]]:
    """The pre-trend check of every wave (from the ``pre_trends`` health check), one row per wave and metric."""
    for h in health:
        if _get(h, "name") == "pre_trends":
            data = _get(h, "data") or {}
            return [
                {
                    "wave": str(r.get("wave")),
                    "metric": metric_label(str(r.get("metric"))),
                    "slope": num(r.get("slope"), str(r.get("unit", "")), signed=True, style="plain") + " per week",
                    "interval": range_text(r.get("low"), r.get("high"), str(r.get("unit", "")), style="plain"),
                    "weeks": str(r.get("weeks")),
                    "status": str(r.get("status")),
                }
                for r in data.get("rows", [])
            ]
    return []


def _table(rows: list[dict[str, str]], headers: dict[str, str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers.values())
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(r.get(k, '')))}</td>" for k in headers) + "</tr>" for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def section_html(run: Any, figure_html: Any) -> str:
    """The report's roll-out section (empty for A/B and DiD runs).

    ``figure_html(fig) -> str`` embeds a Plotly figure (the report embeds plotly.js once).
    Waves: per metric the effect by weeks since the switch and by wave, their table, and the
    pre-trend check per wave; before/after: the no-control-group caveat.
    """
    design = run.spec.design
    if design == "prepost":
        return (
            '<section id="rollout"><h2>Before/after without a control group</h2>'
            f'<div class="note">{html.escape(NO_CONTROL_CAVEAT)}</div></section>'
        )
    if design != "waves":
        return ""
    parts = ['<section id="rollout"><h2>Roll-out in waves: effect by weeks since the switch</h2>']
    parts.append(
        '<p class="muted">Each wave is compared only with units still on the current program in the same weeks '
        "(not yet or never switching); week 0 is the week of the switch.</p>"
    )
    for r in run.results:
        if not r.event_effects:
            continue
        m = run.spec.metric(r.metric)
        unit = r.headline.unit
        parts.append(figure_html(event_time_figure(r.event_effects, r.metric, unit, m.threshold, m.better, r.headline)))
        parts.append(figure_html(wave_figure(r.event_effects, r.metric, unit, m.threshold, m.better)))
        heads = {"group": "Wave / week", "effect": "Effect", "interval": "Interval", "p_better": "P(better)"}
        parts.append(_table(wave_rows(r.event_effects, r.metric), heads))
    trends = pretrend_rows(run.health)
    if trends:
        parts.append("<h3>Pre-trends per wave</h3>")
        heads = {"wave": "Wave", "metric": "Metric", "slope": "Gap drift", "interval": "95% interval", "weeks": "Weeks"}
        parts.append(_table(trends, {**heads, "status": "Status"}))
    parts.append("</section>")
    return "\n".join(parts)
