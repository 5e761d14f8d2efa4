"""Words and figures of ``qmsprint monitor``: alert sentences, the check summary, the effect over time.

The monitor (:mod:`qmsprint.api.monitor`) decides which conditions hold; this module says them:
:func:`guardrail_message`, :func:`not_converged_message`, :func:`decisive_message`,
:data:`KIND_LABELS`; :func:`check_summary` for the terminal; :func:`effect_over_time_figure` (one
point per monitoring run) and :func:`alert_rows` for the app.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from qmsprint.present.figures import LAYOUT, NEUTRAL, PALETTE
from qmsprint.present.format import action_label, metric_label, num, pct, range_text, unit_text

KIND_LABELS = {
    "srm": "Sample ratio mismatch",
    "guardrail": "Guardrail at risk",
    "response_gap": "Survey response gap",
    "contamination": "Contamination",
    "not_converged": "Fit not converging",
    "decisive_now": "Decisive now",
    "invalid_data": "Invalid data",
    "pre_trends": "Pre-trend",
}
SEVERITY_LABELS = {"alert": "Alert", "warn": "Warning", "info": "Info"}
SEVERITY_LABELS_ORDER = {"alert": 2, "warn": 1, "info": 0}


def kind_label(kind: str) -> str:
    """Plain-language name of an alert kind."""
    return KIND_LABELS.get(kind, kind.replace("_", " ").capitalize())


def guardrail_message(verdict: Any) -> str:
    """A guardrail whose probability of harm beyond its margin passed the tolerated risk."""
    state = "breaks" if verdict.guardrail == "veto" else "is at risk"
    return (
        f"Guardrail {verdict.label} {state}: {pct(verdict.prob_harm)} probability of harm beyond the tolerated "
        f"{num(verdict.rope, verdict.unit)} (effect {num(verdict.mean, verdict.unit, signed=True)}, "
        f"{range_text(verdict.hdi_low, verdict.hdi_high, verdict.unit)})."
    )


def not_converged_message(metric: str, problems: list[str]) -> str:
    """A fit that stopped meeting the convergence bars."""
    return f"The fit for {metric_label(metric)} no longer meets the convergence bars ({', '.join(problems)})."


def decisive_message(stop: Any, headline: str) -> str:
    """The pilot can stop now: the expected loss of the better choice is small enough."""
    parts = [
        f"{metric_label(m.metric)}: expected loss of the better choice "
        f"({'scale up' if m.choice == 'scale_up' else 'keep'}) {min(m.loss_scale_up, m.loss_keep):.3g} "
        f"<= {m.threshold:.3g}"
        for m in stop.metrics
    ]
    return f"Decisive now: {action_label(stop.action)}. {headline} (" + "; ".join(parts) + ")"


def check_summary(record: dict[str, Any], raised: list[dict[str, Any]], cleared: list[dict[str, Any]]) -> str:
    """The terminal lines of one monitoring check."""
    lines = [f"check {record.get('check')} of {record.get('pilot')} at {record.get('time')}"]
    if record.get("estimated"):
        lines.append(f"  data grew ({record.get('rows'):,} rows): new run {record.get('run')}")
        if record.get("action"):
            lines.append(f"  call: {action_label(record['action'])}")
        for metric, e in (record.get("effects") or {}).items():
            lines.append(
                f"  {metric_label(metric)}: {num(e['mean'], e['unit'], signed=True, style='plain')} "
                f"[{num(e['hdi_low'], e['unit'], signed=True, style='plain')}, "
                f"{num(e['hdi_high'], e['unit'], signed=True, style='plain')}]"
            )
    else:
        lines.append("  no new data since the last check: nothing re-estimated")
    for a in raised:
        lines.append(f"  {SEVERITY_LABELS.get(a['severity'], a['severity']).upper()}: {a['message']}")
    for a in cleared:
        lines.append(
            f"  cleared: {kind_label(a['kind'])}" + (f" ({metric_label(a['metric'])})" if a.get("metric") else "")
        )
    if not raised and not cleared:
        lines.append(
            "  no new alerts" + (f" (active: {', '.join(record.get('active', []))})" if record.get("active") else "")
        )
    if record.get("webhook"):
        lines.append(f"  webhook: {record['webhook']}")
    return "\n".join(lines)


def alert_rows(alerts: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The alert history as table rows, newest first."""
    return [
        {
            "time": str(a.get("time", ""))[:19].replace("T", " "),
            "event": str(a.get("event", "")),
            "severity": SEVERITY_LABELS.get(str(a.get("severity")), str(a.get("severity"))),
            "alert": kind_label(str(a.get("kind", ""))),
            "metric": metric_label(str(a["metric"])) if a.get("metric") else "",
            "message": str(a.get("message", "")),
            "run": str(a.get("run") or ""),
        }
        for a in reversed(alerts)
    ]


def effect_over_time_figure(checks: list[dict[str, Any]], metric: str) -> go.Figure:
    """One point per monitoring run that estimated: the headline effect of ``metric`` with its interval."""
    rows = [c for c in checks if c.get("estimated") and metric in (c.get("effects") or {})]
    fig = go.Figure()
    if not rows:
        return fig
    eff = [c["effects"][metric] for c in rows]
    unit = eff[0].get("unit", "")
    x = [str(c.get("data_through") or c.get("time", ""))[:10] for c in rows]
    mean = [e["mean"] for e in eff]
    fig.add_scatter(
        x=x,
        y=mean,
        mode="lines+markers",
        line={"color": PALETTE[0]},
        error_y={
            "type": "data",
            "symmetric": False,
            "array": [e["hdi_high"] - e["mean"] for e in eff],
            "arrayminus": [e["mean"] - e["hdi_low"] for e in eff],
            "color": PALETTE[0],
        },
        customdata=[
            [
                num(e["mean"], unit, signed=True),
                range_text(e["hdi_low"], e["hdi_high"], unit),
                pct(e.get("prob_improve")),
            ]
            for e in eff
        ],
        hovertemplate="data through %{x}<br>effect %{customdata[0]}<br>interval %{customdata[1]}"
        "<br>probability of improvement %{customdata[2]}<extra></extra>",
        name=metric_label(metric),
    )
    fig.add_hline(y=0, line_color=NEUTRAL, line_dash="dot")
    threshold = eff[-1].get("min_effect")
    if threshold:
        sign = 1 if eff[-1].get("better", "higher") == "higher" else -1
        fig.add_hline(y=sign * threshold, line_color=NEUTRAL, line_dash="dash", annotation_text="worth acting on")
    fig.update_layout(
        **LAYOUT,
        title=f"{metric_label(metric)}: effect at each monitoring run",
        xaxis_title="data through (week of)",
        yaxis_title=f"effect ({unit_text(unit, 'words')})",
        showlegend=False,
    )
    return fig
