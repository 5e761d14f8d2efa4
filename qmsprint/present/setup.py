"""Words and the chart of the experiment builder ("Set up a pilot"): column labels, confidence, weekly volume."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import plotly.graph_objects as go

from qmsprint import metrics as metric_registry
from qmsprint.present.figures import BAND, LAYOUT, NEW, OLD, PALETTE

# what each canonical column holds, in the consultant's words (metric columns come from the registry)
COLUMN_LABELS = {
    "interaction_id": "Interaction id",
    "timestamp": "Date and time",
    "customer_id": "Customer id",
    "agent_id": "Agent id",
    "team": "Team",
    "site": "Site",
    "channel": "Channel",
    "contact_reason": "Contact reason",
    "arm": "Program (arm)",
    "qa_score": "QA score (checklist, %)",
    "behavior_score": "Behavior score (%)",
    "auto_score": "Automated QA score (%)",
    "tenure_months": "Tenure (months)",
}
COLUMN_HELP = {
    "interaction_id": "One id per contact; duplicates are reported.",
    "timestamp": "When the contact happened; day-first dates (31/01/2026) are detected from days above 12.",
    "customer_id": "Links a customer's contacts: needed for repeat contacts.",
    "agent_id": "Who handled the contact; agents are the units of most pilots.",
    "arm": "Which QA program the agent was on (current or new).",
}
REQUIRED = ("interaction_id", "timestamp", "agent_id", "arm")


def column_label(canonical: str) -> str:
    """What a canonical column holds (``csat`` -> ``CSAT (survey answer)``; items by their name)."""
    if canonical in COLUMN_LABELS:
        return COLUMN_LABELS[canonical]
    for m in metric_registry.registry().values():
        if m.column == canonical:
            return f"{m.label} (survey answer)" if m.survey else m.label
    if canonical.startswith("item_"):
        return "Checklist item: " + canonical.removeprefix("item_").replace("_", " ")
    return canonical.replace("_", " ").capitalize()


def confidence_text(confidence: float) -> str:
    """How sure a suggestion is, in words."""
    if confidence >= 0.8:
        return "sure"
    if confidence >= 0.6:
        return "likely"
    return "a guess: check it"


def confidence_tone(confidence: float) -> str:
    """Badge colour of a suggestion's confidence."""
    return "green" if confidence >= 0.8 else ("orange" if confidence >= 0.6 else "red")


def volume_figure(
    weekly: pd.DataFrame,
    baseline: tuple[dt.date, dt.date] | None = None,
    pilot: tuple[dt.date, dt.date] | None = None,
    control: str | None = None,
    treatment: str | None = None,
) -> go.Figure:
    """Interactions per week and arm (stacked bars) with the chosen baseline and pilot shaded.

    Parameters
    ----------
    weekly
        ``week`` (the Monday), ``arm`` and ``n``, as :class:`qmsprint.setup.Suggestion` holds it.
    baseline, pilot
        The chosen periods (inclusive dates), or None.
    control, treatment
        The arm values, for their colours (others are grey).

    """
    fig = go.Figure()
    if weekly is None or not len(weekly):
        fig.update_layout(**LAYOUT, height=260, title="No readable dates in the export yet")
        return fig
    colours = {treatment: NEW, control: OLD}
    arms = sorted(dict.fromkeys(weekly["arm"].astype(str)), key=lambda a: (a != control, a != treatment, a))
    for i, arm in enumerate(arms):
        part = weekly[weekly["arm"].astype(str) == arm]
        fig.add_bar(
            x=pd.to_datetime(part["week"]) + pd.Timedelta(days=3),
            y=part["n"],
            name=arm,
            marker_color=colours.get(arm, PALETTE[(i + 2) % len(PALETTE)]),
            hovertemplate=f"{arm}: %{{y:,}} interactions in the week of %{{customdata}}<extra></extra>",
            customdata=pd.to_datetime(part["week"]).dt.strftime("%d %b %Y"),
        )
    for label, span, fill in (("baseline", baseline, BAND), ("pilot", pilot, "rgba(31, 111, 139, 0.12)")):
        if span is None:
            continue
        start, end = pd.Timestamp(span[0]), pd.Timestamp(span[1]) + pd.Timedelta(days=1)
        fig.add_vrect(x0=start, x1=end, fillcolor=fill, line_width=0, layer="below",
                      annotation_text=label, annotation_position="top left")  # fmt: skip
    fig.update_layout(**LAYOUT, height=300, barmode="stack", bargap=0.15)
    fig.update_layout(margin={"l": 10, "r": 10, "t": 40, "b": 10})
    top = float(weekly.groupby("week")["n"].sum().max())
    fig.update_yaxes(title_text="interactions per week", range=[0, top * 1.18])  # room for the period labels
    fig.update_xaxes(title_text=None)
    return fig
