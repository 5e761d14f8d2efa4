"""Words and rows for the business value of metrics with a ``value_per_unit`` (retention, sales, ...).

The numbers come from :func:`qmsprint.decide.metric_value.metric_values` (stored in
``Recommendation.impact["metric_values"]``); the CLI, the report and the app word them here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qmsprint.present.format import hdi_level, money, num, pct, whole


def value_sentence(v: dict[str, Any], impact: dict[str, Any]) -> str:
    """One metric's value per month: the effect in events (binary) or per contact, the price, the money."""
    cur = impact.get("currency", "")
    level = hdi_level(impact.get("hdi_prob", 0.94))
    val, price = v["value_per_month"], money(v["value_per_unit"], cur)
    worth = (
        f"worth about {money(val['mean'], cur)} a month ({level} interval {money(val['hdi_low'], cur)} to "
        f"{money(val['hdi_high'], cur)}); {pct(v['prob_positive'])} probability that it adds value"
    )
    contacts = whole(impact.get("contacts_per_month", 0))
    if v.get("events") and v.get("events_per_month"):
        ev = v["events_per_month"]
        change = "more" if ev["mean"] >= 0 else "fewer"
        return (
            f"{v['label']}: about {whole(abs(ev['mean']))} {change} a month at {contacts} contacts "
            f"({level} interval {whole(ev['hdi_low'])} to {whole(ev['hdi_high'])}); at {price} each, {worth}."
        )
    eff = v["effect"]
    return (
        f"{v['label']}: {num(eff['mean'], v['unit'], signed=True)} per contact on {contacts} contacts a month; "
        f"at {price} per {v['unit']}, {worth}."
    )


def value_sentences(impact: dict[str, Any] | None) -> str:
    """The sentences of every valued metric of an impact, joined (empty without any)."""
    if not impact:
        return ""
    return " ".join(value_sentence(v, impact) for v in impact.get("metric_values") or [])


def impact_words(
    impact: dict[str, Any] | None,
    repeat_sentence: Callable[[dict[str, Any]], str],
    net_sentence: Callable[[dict[str, Any]], str],
) -> dict[str, Any] | None:
    """An impact with its ``sentence`` (repeat contacts avoided, then each valued metric) and ``net_sentence``.

    ``repeat_sentence`` words the repeat contacts avoided (:func:`qmsprint.present.text.impact_sentence`);
    without a repeat-contact metric (``metric`` None) only the valued metrics are worded.
    """
    if not impact:
        return impact
    values = value_sentences(impact)
    sentence = values if not impact.get("metric") else repeat_sentence(impact) + (f" {values}" if values else "")
    return {**impact, "sentence": sentence, "net_sentence": net_sentence(impact)}


def value_rows(impact: dict[str, Any] | None) -> list[dict[str, str]]:
    """Table rows (``what``, ``value``, ``interval``) of each valued metric, for the report and the app."""
    if not impact:
        return []
    cur = impact.get("currency", "")
    rows = []
    for v in impact.get("metric_values") or []:
        val = v["value_per_month"]
        rows.append(
            {
                "what": f"Value of the change in {v['label']} per month",
                "value": money(val["mean"], cur),
                "interval": f"{money(val['hdi_low'], cur)} to {money(val['hdi_high'], cur)}",
                "prob": pct(v["prob_positive"]),
            }
        )
    return rows


def gross_what(impact: dict[str, Any]) -> str:
    """What the gross value of an impact consists of (``the contacts avoided and Sales within 7 days``)."""
    parts = ["the contacts avoided"] if impact.get("metric") else []
    parts += [v["label"] for v in impact.get("metric_values") or []]
    if not parts:
        return "the contacts avoided"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
