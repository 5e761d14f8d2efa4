"""Plain-language formatting of results for the app (no Streamlit, no statistics).

Every number is shown in the metric's own unit, and probabilities as sentences a
non-statistician reads: "94% probability that CSAT improves by at least 0.1 points".
"""

from __future__ import annotations

import math
from typing import Any

from qmsprint import metrics as metric_registry

UNIT_WORDS = {"points": "points", "pp": "percentage points", "NPS points": "NPS points", "seconds": "seconds", "%": "%"}
UNIT_SHORT = {"points": "pts", "pp": "pp", "NPS points": "NPS pts", "seconds": "s", "%": "%"}
DECIMALS = {"points": 2, "pp": 1, "NPS points": 1, "seconds": 0, "%": 1}
SCALE_WORDS = {
    "mean": "average",
    "top2box": "top-2-box share",
    "nps": "NPS",
    "promoters": "promoter share",
    "passives": "passive share",
    "detractors": "detractor share",
    "rate": "rate",
    "relative": "relative change",
}

VERDICTS = {
    "improved": ("Improved", "green", ":material/trending_up:"),
    "no_change": ("No meaningful change", "gray", ":material/trending_flat:"),
    "worse": ("Worse", "red", ":material/trending_down:"),
    "inconclusive": ("Inconclusive so far", "orange", ":material/help:"),
}
ACTIONS = {
    "scale_up": ("Scale up the new program", "green"),
    "extend": ("Extend the pilot", "orange"),
    "iterate": ("Iterate on the program", "orange"),
    "stop": ("Stop the pilot", "red"),
    "none": ("No recommendation: a model fit did not converge", "gray"),
}
ROLES = {"primary": "Primary metric", "secondary": "Secondary metric", "guardrail": "Guardrail"}


def is_num(x: Any) -> bool:
    """True for a finite real number."""
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def metric_label(name: str) -> str:
    """Human label of a metric (``csat`` -> ``CSAT``)."""
    info = metric_registry.registry().get(name)
    return info.label if info else name.replace("_", " ").capitalize()


def decimals(unit: str) -> int:
    """Decimals used for a unit."""
    return DECIMALS.get(unit, 2)


def num(x: Any, unit: str = "", *, signed: bool = False, short: bool = True) -> str:
    """A number with its unit, e.g. ``+0.12 pts``, ``-1.4 pp``, ``-12 s``; ``n/a`` when missing."""
    if not is_num(x):
        return "n/a"
    d = decimals(unit)
    text = f"{x:+,.{d}f}" if signed else f"{x:,.{d}f}"
    if text.lstrip("+-") == f"{0:.{d}f}":
        text = f"{0:.{d}f}"
    label = (UNIT_SHORT if short else UNIT_WORDS).get(unit, unit)
    if not label:
        return text
    return f"{text}{label}" if label == "%" else f"{text} {label}"


def pct(p: Any) -> str:
    """A probability as a percentage people read: ``94%``, ``>99%``, ``<1%``."""
    if not is_num(p):
        return "n/a"
    if p > 0.995:
        return ">99%"
    if p < 0.005:
        return "<1%"
    return f"{100 * p:.0f}%"


def share(p: Any, digits: int = 1) -> str:
    """A share (0-1) as a percentage with ``digits`` decimals."""
    return f"{100 * p:.{digits}f}%" if is_num(p) else "n/a"


def _verbs(metric: str, better: str) -> tuple[str, str]:
    """(verb for getting better, verb for getting worse), agreeing with the metric's label."""
    plural = metric in ("repeat_contact",)
    if better == "lower":
        return ("fall", "rise") if plural else ("falls", "rises")
    return ("improve", "worsen") if plural else ("improves", "worsens")


def _subject(metric: str) -> str:
    """Metric label as used mid-sentence: acronyms kept, other labels in lower case."""
    label = metric_label(metric)
    return label if label.isupper() else label.lower()


def prob_sentence(metric: str, prob: Any, threshold: Any, unit: str, better: str = "higher") -> str:
    """E.g. ``94% probability that CSAT improves by at least 0.1 points``."""
    verb, _ = _verbs(metric, better)
    subject = _subject(metric)
    size = threshold_text(threshold, unit) if is_num(threshold) else "a meaningful amount"
    return f"{pct(prob)} probability that {subject} {verb} by at least {size}"


def threshold_text(x: Any, unit: str) -> str:
    """A threshold as written in the experiment file, e.g. ``0.1 points``, ``1 percentage point``."""
    if not is_num(x):
        return "n/a"
    words = UNIT_WORDS.get(unit, unit)
    if x == 1 and words.endswith("s") and unit != "%":
        words = words[:-1]
    return f"{x:g}%" if unit == "%" else f"{x:g} {words}"


def harm_sentence(metric: str, prob: Any, threshold: Any, unit: str, better: str = "higher") -> str:
    """For guardrails, e.g. ``<1% probability that handle time rises by more than 20 seconds``."""
    _, verb = _verbs(metric, better)
    size = threshold_text(threshold, unit) if is_num(threshold) else "the tolerated amount"
    return f"{pct(prob)} probability that {_subject(metric)} {verb} by more than {size}"


def improve_sentence(metric: str, prob: Any, better: str = "higher") -> str:
    """E.g. ``97% probability that CSAT improves at all``."""
    verb, _ = _verbs(metric, better)
    subject = _subject(metric)
    text = f"{pct(prob)} probability that {subject} {verb} at all"
    return text[0].upper() + text[1:]


def interval_text(low: Any, high: Any, unit: str, prob: Any) -> str:
    """E.g. ``94% interval: +0.05 to +0.21 pts`` (the range the effect most likely lies in)."""
    level = f"{100 * prob:.0f}%" if is_num(prob) else "94%"
    return f"{level} interval: {num(low, unit, signed=True)} to {num(high, unit, signed=True)}"


def range_text(low: Any, high: Any, unit: str) -> str:
    """E.g. ``+0.05 to +0.21 pts``."""
    return f"{num(low, unit, signed=True)} to {num(high, unit, signed=True)}"


def effect_sentence(metric: str, effect: dict[str, Any], control_label: str, treatment_label: str) -> str:
    """E.g. ``CSAT average: 4.24 on Behavior-based QA vs 4.10 on Checklist QA``."""
    unit = effect.get("unit", "")
    scale = SCALE_WORDS.get(effect.get("scale", ""), effect.get("scale", ""))
    name = metric_label(metric) if scale.lower() == metric_label(metric).lower() else f"{metric_label(metric)} {scale}"
    c, t = effect.get("control"), effect.get("treatment")
    if not (is_num(c) and is_num(t)) or (c == 0 and t == 0):
        return ""
    if unit == "pp" or effect.get("scale") in ("rate", "top2box", "promoters", "passives", "detractors"):
        # levels of a rate are shares; the effect is in percentage points
        cv, tv = (c, t) if abs(c) > 1 or abs(t) > 1 else (100 * c, 100 * t)
        return f"{name}: {tv:.1f}% on {treatment_label} vs {cv:.1f}% on {control_label}"
    d = decimals(unit)
    return f"{name}: {t:,.{d}f} on {treatment_label} vs {c:,.{d}f} on {control_label}"


def verdict_of(verdicts: Any, metric: str) -> str | None:
    """A metric's verdict from a recommendation's ``verdicts`` (a dict or a list of records)."""
    if isinstance(verdicts, dict):
        v = verdicts.get(metric)
    elif isinstance(verdicts, list):
        v = next((r for r in verdicts if isinstance(r, dict) and r.get("metric") == metric), None)
    else:
        v = None
    if isinstance(v, dict):
        v = v.get("verdict") or v.get("status")
    return str(v) if v else None


def verdict_reason(verdicts: Any, metric: str) -> str:
    """The reason given with a metric's verdict, if any."""
    v = verdicts.get(metric) if isinstance(verdicts, dict) else None
    if isinstance(verdicts, list):
        v = next((r for r in verdicts if isinstance(r, dict) and r.get("metric") == metric), None)
    if isinstance(v, dict):
        for key in ("sentence", "reason", "text", "message"):
            if v.get(key):
                return str(v[key])
    return ""


def verdict_badge(verdict: str | None) -> str:
    """Markdown badge for a verdict, e.g. ``:green-badge[:material/trending_up: Improved]``."""
    label, colour, icon = VERDICTS.get(verdict or "", (str(verdict or "no verdict").replace("_", " "), "gray", ""))
    return f":{colour}-badge[{icon} {label}]".replace("[ ", "[")


def action_text(action: str | None) -> tuple[str, str]:
    """(headline, colour) of an overall action."""
    return ACTIONS.get(action or "none", (str(action).replace("_", " ").capitalize(), "gray"))


def money(x: Any, currency: str = "") -> str:
    """A money amount, e.g. ``EUR 10,920``."""
    if not is_num(x):
        return "n/a"
    sign = "-" if x < 0 else ""
    return f"{sign}{currency} {abs(x):,.0f}".strip()


def ranged(d: Any) -> tuple[Any, Any, Any] | None:
    """(mean, low, high) from a dict with ``mean`` and an interval, else ``None``."""
    if not isinstance(d, dict) or not is_num(d.get("mean")):
        return None
    low = next((d[k] for k in ("low", "hdi_low", "lower", "lo", "q05", "p05") if is_num(d.get(k))), None)
    high = next((d[k] for k in ("high", "hdi_high", "upper", "hi", "q95", "p95") if is_num(d.get(k))), None)
    return d["mean"], low, high


def md(text: Any) -> str:
    """Text made safe for Markdown: ``>99%`` must not turn into a block quote."""
    return str(text).replace(">", "\\>")


def humanize(key: str) -> str:
    """``repeat_contacts_avoided_per_month`` -> ``Repeat contacts avoided per month``."""
    return key.replace("_", " ").strip().capitalize()
