"""Every number, probability, money amount, threshold, interval and label people read.

The CLI, the HTML report and the app all format through this module, so a probability reads the
same everywhere (:func:`pct`) and every action, verdict, role and health status has one label.
Units come in three styles: ``plain`` as written in the experiment file (``pp``, ``points``),
``short`` for tight spaces (``pts``, ``s``) and ``words`` for sentences (``percentage points``).
No statistics, no Streamlit, no Plotly.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from qmsprint import metrics as metric_registry

UnitStyle = Literal["plain", "short", "words"]

UNIT_WORDS = {"points": "points", "pp": "percentage points", "NPS points": "NPS points", "seconds": "seconds", "%": "%"}
UNIT_SHORT = {"points": "pts", "pp": "pp", "NPS points": "NPS pts", "seconds": "s", "%": "%"}
DECIMALS = {"points": 2, "pp": 1, "NPS points": 1, "seconds": 0, "%": 1}

# one label (and one colour tone) per action, verdict, role and health status: CLI, report and app
ACTION_LABELS: dict[str, str] = {
    "scale_up": "Scale up",
    "extend": "Extend the pilot",
    "iterate": "Iterate on the program",
    "stop": "Stop the pilot",
    "none": "No recommendation",
}
ACTION_TONES = {"scale_up": "green", "extend": "orange", "iterate": "orange", "stop": "red", "none": "gray"}
VERDICT_LABELS: dict[str, str] = {
    "improved": "improved",
    "no_change": "no meaningful change",
    "worse": "worse",
    "inconclusive": "inconclusive",
}
VERDICT_TONES = {"improved": "green", "no_change": "gray", "worse": "red", "inconclusive": "orange"}
VERDICT_ICONS = {
    "improved": ":material/trending_up:",
    "no_change": ":material/trending_flat:",
    "worse": ":material/trending_down:",
    "inconclusive": ":material/help:",
}
GUARDRAIL_LABELS = {"holds": "holds", "at_risk": "at risk", "veto": "vetoes"}
GUARDRAIL_TONES = {"holds": "green", "at_risk": "orange", "veto": "red"}
ROLE_LABELS = {"primary": "Primary metric", "secondary": "Secondary metric", "guardrail": "Guardrail"}
STATUS_LABELS = {"ok": "OK", "warn": "Warning", "alert": "Alert"}
STATUS_TONES = {"ok": "green", "warn": "orange", "alert": "red"}


# ------------------------------------------------------------------------------ numbers


def is_num(x: Any) -> bool:
    """True for a finite real number (not a bool)."""
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def decimals(unit: str) -> int:
    """Decimals shown for a unit (2 when the unit is unknown)."""
    return DECIMALS.get(unit, 2)


def unit_text(unit: str, style: UnitStyle = "short") -> str:
    """A unit in one of the three styles (``pp`` -> ``pp`` / ``pp`` / ``percentage points``)."""
    if style == "plain":
        return unit
    return (UNIT_SHORT if style == "short" else UNIT_WORDS).get(unit, unit)


def _with_unit(text: str, unit: str, style: UnitStyle) -> str:
    label = unit_text(unit, style)
    if not label:
        return text
    return f"{text}{label}" if label == "%" else f"{text} {label}"


def num(x: Any, unit: str = "", *, signed: bool = False, style: UnitStyle = "short") -> str:
    """A number with its unit, e.g. ``+0.12 pts``, ``-1.4 pp``, ``+12 seconds``; ``n/a`` when missing.

    Decimals follow the unit (:data:`DECIMALS`); a value that rounds to zero has no sign.
    """
    if not is_num(x):
        return "n/a"
    d = decimals(unit)
    text = f"{x:+,.{d}f}" if signed else f"{x:,.{d}f}"
    if text.lstrip("+-") == f"{0:.{d}f}":
        text = f"{0:.{d}f}"
    return _with_unit(text, unit, style)


def whole(x: Any) -> str:
    """A count rounded to a whole number with thousands separators (``2,400``)."""
    return f"{x:,.0f}" if is_num(x) else "n/a"


def pct(p: Any) -> str:
    """THE probability format: the rounded percentage, ``<1%`` / ``>99%`` when it would round to 0 / 100.

    ``0.943`` -> ``94%``, ``0.996`` -> ``>99%``, ``0.003`` -> ``<1%`` (halves round up).
    """
    if not is_num(p):
        return "n/a"
    n = math.floor(100 * p + 0.5)
    if n >= 100:
        return ">99%"
    if n <= 0:
        return "<1%"
    return f"{n}%"


def pct_bar(p: Any) -> str:
    """A threshold set in the spec as a percentage, exact to a tenth (``0.975`` -> ``97.5%``, ``0.9`` -> ``90%``).

    Unlike :func:`pct` (an estimate, rounded), a bar is shown as set: ``P >= 98%`` for a 0.975 bar would misstate it.
    """
    if not is_num(p):
        return "n/a"
    return f"{100 * p:.1f}".rstrip("0").rstrip(".") + "%"


def hdi_level(prob: Any) -> str:
    """An interval's probability as set, like :func:`pct_bar` (``0.94`` -> ``94%``, ``0.975`` -> ``97.5%``)."""
    return pct_bar(prob) if is_num(prob) else "94%"


def money(x: Any, currency: str = "") -> str:
    """Money rounded for a slide: ``EUR 12,300`` (to the hundred from 1,000 up), ``-EUR 2,100``."""
    if not is_num(x):
        return "n/a"
    sign = "-" if x < 0 else ""
    ax = abs(x)
    if ax >= 1000:
        ax = round(ax, -2)
    return f"{sign}{currency} {ax:,.0f}".strip()


def threshold_text(x: Any, unit: str, *, style: UnitStyle = "words") -> str:
    """A threshold as written in the experiment file: ``0.1 points``, ``1 percentage point``, ``20 seconds``."""
    if not is_num(x):
        return "n/a"
    if unit == "%":
        return f"{x:g}%"
    words = unit_text(unit, style)
    if x == 1 and words.endswith("s"):
        words = words[:-1]
    return f"{x:g} {words}".strip()


def range_text(low: Any, high: Any, unit: str, *, style: UnitStyle = "short") -> str:
    """E.g. ``+0.05 pts to +0.21 pts``."""
    return f"{num(low, unit, signed=True, style=style)} to {num(high, unit, signed=True, style=style)}"


def interval_text(low: Any, high: Any, unit: str, prob: Any) -> str:
    """E.g. ``94% interval: +0.05 pts to +0.21 pts`` (the range the effect most likely lies in)."""
    return f"{hdi_level(prob)} interval: {range_text(low, high, unit)}"


# ------------------------------------------------------------------------------ metric labels


def metric_label(name: str) -> str:
    """Human label of a metric (``csat`` -> ``CSAT``); unknown names are humanized."""
    info = metric_registry.registry().get(name)
    return info.label if info else humanize(name)


def scale_label(metric: str, scale: str) -> str:
    """Label of one reported scale (``top2box`` of CSAT -> ``top-2-box share``)."""
    info = metric_registry.registry().get(metric)
    try:
        s = info.scale(scale) if info else None
    except KeyError:
        s = None
    if s is None:
        return humanize(scale).lower()
    if s.label:
        return s.label
    return "relative change" if s.relative else humanize(s.name).lower()


def level_unit(metric: str, scale: str) -> str:
    """Unit of the LEVELS (control, treatment) on a scale: ``%`` for shares, else the scale's unit.

    Levels of ``pp`` scales (rates, shares) are percentages already; a relative scale's levels are
    those of the scale it is relative to.
    """
    info = metric_registry.registry().get(metric)
    if info is None:
        return ""
    try:
        s = info.scale(scale)
    except KeyError:
        return ""
    if s.relative:
        s = next((b for b in info.scales if b.key == s.key and not b.relative), s)
    return "%" if s.unit in ("pp", "%") else s.unit


def level_text(x: Any, metric: str, scale: str, *, with_unit: bool = True) -> str:
    """A level on a scale: ``73.2%`` for a share (already in percent, never multiplied again), ``4.24 pts``."""
    unit = level_unit(metric, scale)
    if not is_num(x):
        return "n/a"
    if unit == "%" or with_unit:
        return num(x, unit)
    return f"{x:,.{decimals(unit)}f}"


# ------------------------------------------------------------------------------ decision labels


def action_label(action: str | None) -> str:
    """The one label of an action (``stop`` -> ``Stop the pilot``)."""
    return ACTION_LABELS.get(action or "none", str(action).replace("_", " ").capitalize())


def action_text(action: str | None) -> tuple[str, str]:
    """(label, colour tone) of an overall action."""
    return action_label(action), ACTION_TONES.get(action or "none", "gray")


def verdict_label(verdict: str | None, *, capital: bool = False) -> str:
    """The one label of a verdict (``no_change`` -> ``no meaningful change``), capitalized at a line start."""
    label = VERDICT_LABELS.get(verdict or "", str(verdict or "no verdict").replace("_", " "))
    return label[:1].upper() + label[1:] if capital else label


def verdict_badge(verdict: str | None) -> str:
    """Markdown badge for a verdict, e.g. ``:green-badge[:material/trending_up: Improved]``."""
    tone, icon = VERDICT_TONES.get(verdict or "", "gray"), VERDICT_ICONS.get(verdict or "", "")
    return f":{tone}-badge[{icon} {verdict_label(verdict, capital=True)}]".replace("[ ", "[")


def guardrail_label(state: str | None) -> str:
    """A guardrail's state: ``holds`` / ``at risk`` / ``vetoes`` (empty for other metrics)."""
    return GUARDRAIL_LABELS.get(state or "", "")


def role_label(role: str) -> str:
    """Label of a metric role (``guardrail`` -> ``Guardrail``)."""
    return ROLE_LABELS.get(role, humanize(role))


def status_label(status: str) -> str:
    """Label of a health-check status (``warn`` -> ``Warning``)."""
    return STATUS_LABELS.get(status, humanize(status))


# ------------------------------------------------------------------------------ text helpers


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=&])")
_AUTOLINK = re.compile(r"\\:(?=/)|(?i:www)(?=\\\.)|\w(?=@)")  # "://", "www." and "x@" (e-mail), as escaped
_JOINER = "\u2060"  # word joiner: invisible, and no link is made across it


def md(text: Any) -> str:
    """Text shown as itself in Markdown (Streamlit's ``st.markdown``, captions, alerts).

    Every Markdown and Streamlit character is escaped: ``>99%`` is no block quote, a team called
    ``[x](http://evil.example)`` no link, ``**`` no bold, ``$`` no formula, ``:red[x]`` no colour,
    and ``www.x.example`` no automatic link.
    """
    out = _MARKDOWN.sub(r"\\\1", str(text).replace("\r", " "))
    # escapes do not stop GitHub-style automatic links: break them with an invisible joiner
    return _AUTOLINK.sub(lambda m: m.group(0) + _JOINER, out)


def humanize(key: str) -> str:
    """``repeat_contacts_avoided_per_month`` -> ``Repeat contacts avoided per month``."""
    return key.replace("_", " ").strip().capitalize()


def names_text(labels: list[str]) -> str:
    """``A``, ``A and B``, ``A, B and C``."""
    if len(labels) <= 1:
        return "".join(labels)
    return ", ".join(labels[:-1]) + " and " + labels[-1]


DIAGNOSTIC_COLUMNS = {
    "metric": "Metric",
    "converged": "Converged",
    "rhat_max": "R-hat (max)",
    "ess_bulk_min": "Bulk ESS (min)",
    "ess_tail_min": "Tail ESS (min)",
    "spread_rhat_max": "Spread R-hat (max)",
    "spread_ess_min": "Spread ESS (min)",
    "divergences": "Divergences",
    "bfmi_min": "E-BFMI (min)",
    "chains": "Chains",
    "draws": "Draws per chain",
    "attempts": "Attempts",
    "seconds": "Seconds",
    "problems": "Problems",
}


def diagnostics_table(diag: Any) -> Any:
    """A run's sampler diagnostics (``diagnostics.csv``) as a client reads them: labelled, rounded, in order."""
    table = diag[[c for c in DIAGNOSTIC_COLUMNS if c in diag]].copy()
    if "metric" in table:
        table["metric"] = table["metric"].map(metric_label)
    if "converged" in table:
        table["converged"] = table["converged"].map(lambda v: "yes" if str(v).lower() in ("true", "1") else "no")
    for col, pattern in [("rhat_max", "{:.3f}"), ("spread_rhat_max", "{:.3f}"), ("bfmi_min", "{:.2f}"),
                         ("ess_bulk_min", "{:,.0f}"), ("ess_tail_min", "{:,.0f}"), ("spread_ess_min", "{:,.0f}"),
                         ("seconds", "{:,.0f}")]:  # fmt: skip
        if col in table:
            table[col] = table[col].map(lambda v, p=pattern: p.format(float(v)) if is_num(v) else "n/a")
    if "problems" in table:
        table["problems"] = table["problems"].astype(object).fillna("").astype(str)  # all-empty reads back as float
    return table.rename(columns=DIAGNOSTIC_COLUMNS)
