"""Scoring a client column against each canonical column, from its name and its values.

A column's **value fit** (0-1) says whether its values can be the canonical column at all (CSAT
holds whole numbers on a 1-5, 1-7 or 1-10 scale, possibly labelled; NPS 0-10; FCR yes/no; dates
parse; ids are high-cardinality; the arm has 2-3 values); its **name score** (0-1) how well its
name matches the column's synonyms (:mod:`qmsprint.setup.names`). A column whose values
contradict a canonical column is never suggested for it, whatever its name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import SimpleNamespace

from qmsprint import metrics as metric_registry
from qmsprint.setup.names import name_score, normalize, split_unit
from qmsprint.setup.profile import ColumnProfile
from qmsprint.spec import BASE_COLUMNS

MIN_SCORE = 0.4  # lowest score suggested
CSAT_HIGHS = (5, 7, 10)  # CSAT scales recognised: 1-5, 1-7, 1-10 (0-... when 0 occurs)

# value kind of each base column; metric columns take theirs from the registry (column_kind)
BASE_KINDS = {
    "interaction_id": "unique_id", "timestamp": "timestamp", "customer_id": "id", "agent_id": "agent",
    "team": "category", "site": "category", "channel": "category", "contact_reason": "category", "arm": "arm",
    "qa_score": "percent", "behavior_score": "percent", "auto_score": "percent", "tenure_months": "months",
}  # fmt: skip
VALUE_ONLY = ("timestamp", "unique_id")  # kinds distinctive enough to suggest without a matching name
VALUES_ONLY = "no name match, values only"


@dataclass(frozen=True)
class ColumnMatch:
    """One suggested mapping: canonical column <- client column.

    Attributes
    ----------
    canonical
        qmsprint's column (``agent_id``, ``csat``, ``item_greeting``, ...).
    column
        The client's column.
    confidence
        0-1: how sure the suggestion is (name and values agree: above 0.8).
    reason
        Why, in words (what matched in the name, what the values look like).

    """

    canonical: str
    column: str
    confidence: float
    reason: str


# ------------------------------------------------------------------------------------ value fit


def csat_scale_of(p: ColumnProfile) -> tuple[int, int] | None:
    """CSAT scale from the leading numbers: low 0 or 1, high the smallest of 5, 7, 10 that holds them."""
    if p.lead_min is None or p.lead_max is None or p.lead_min < 0 or p.lead_max > CSAT_HIGHS[-1]:
        return None
    high = next(h for h in CSAT_HIGHS if p.lead_max <= h)
    return (0 if p.lead_min < 1 else 1), high


def _levels(metric: metric_registry.MetricDef, p: ColumnProfile) -> tuple[int, ...]:
    scale = csat_scale_of(p) or (1, 5)
    try:
        return tuple(metric.levels(SimpleNamespace(csat_scale=scale)))  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - a plug-in metric whose levels need more of the spec
        return tuple(range(11))


def value_fit(kind: str, canonical: str, p: ColumnProfile) -> tuple[float, str]:
    """(0-1, what the values look like) for one kind of canonical column."""
    if p.filled == 0:
        return 0.0, "empty"
    if kind == "timestamp":
        ts = p.timestamps
        return (ts if ts >= 0.8 else 0.0), f"{ts:.0%} read as {'day-first ' if p.dayfirst else ''}dates"
    if kind == "bool":
        share = p.share(p.boolean)
        return (share if share >= 0.8 else 0.0), f"yes/no values ({p.examples(2)})"
    if kind == "level":
        return _level_fit(canonical, p)
    if kind in ("percent", "months", "number"):
        return _number_fit(kind, canonical, p)
    if p.timestamps >= 0.5:
        return 0.0, "values look like dates"
    ratio, distinct = p.distinct_ratio, p.distinct
    if kind in ("unique_id", "id", "agent") and p.share(p.boolean) >= 0.9 and distinct <= 2:
        return 0.0, "values look like yes/no"
    if kind == "unique_id":
        fit = 1.0 if ratio >= 0.99 else 0.7 if ratio >= 0.9 else 0.0
        if p.share(p.number) > 0.5 and p.share(p.whole) < 0.9:
            fit = 0.0  # measurements, not ids
        return fit, f"{distinct:,} distinct values in {p.filled:,} rows"
    if kind == "id":
        return (1.0 if ratio >= 0.1 else 0.5 if distinct > 20 else 0.0), f"{distinct:,} distinct values"
    if kind == "agent":
        fit = 1.0 if distinct >= 2 and ratio <= 0.5 else 0.6 if ratio <= 0.8 else 0.0
        return fit, f"{distinct:,} distinct values"
    if kind == "arm":
        fit = {1: 0.6, 2: 1.0, 3: 1.0, 4: 0.4, 5: 0.4}.get(distinct, 0.0)
        return fit, f"{distinct} distinct value{'s' if distinct != 1 else ''} ({p.examples()})"
    # category
    fit = 1.0 if distinct <= 100 and ratio <= 0.2 else 0.6 if distinct <= 500 and ratio <= 0.5 else 0.0
    if p.share(p.number) > 0.9 and p.share(p.whole) < 0.9:
        fit = 0.0  # measurements, not categories
    return fit, f"{distinct} distinct values ({p.examples()})"


def _level_fit(canonical: str, p: ColumnProfile) -> tuple[float, str]:
    lv = _levels(metric_registry.get(_metric_of(canonical)), p)
    share, whole = p.share(p.leading), p.share(p.whole)
    inside = p.lead_min is not None and p.lead_max is not None and lv[0] <= p.lead_min and p.lead_max <= lv[-1]
    fit = share if share >= 0.8 and whole >= 0.8 * share and inside else 0.0
    if fit and p.lead_max is not None and p.lead_max < lv[0] + 0.6 * (lv[-1] - lv[0]):
        fit *= 0.6  # only the bottom of the scale is used: more likely another scale
    what = f"whole numbers {_range(p.lead_min, p.lead_max)}"
    label = next((v for v, _ in p.top if re.search("[A-Za-z]", v)), None)
    if p.labelled and label:
        what += f" (labels like {label!r})"
    return fit, what


def _number_fit(kind: str, canonical: str, p: ColumnProfile) -> tuple[float, str]:
    if kind == "number":
        lo, hi = metric_registry.get(_metric_of(canonical)).value_range
        lo = min(lo, 0.0)
        if p.share(p.duration) >= 0.8:
            return 0.6, f"clock-style durations ({p.examples(2)}), not seconds"
    else:
        lo, hi = 0.0, (100.0 if kind == "percent" else 1200.0)
    share = p.share(p.number)
    ok = p.num_min is not None and p.num_max is not None and p.num_min >= lo and p.num_max <= hi
    return (share if ok and share >= 0.8 else 0.0), f"numbers {_range(p.num_min, p.num_max)}"


def _range(lo: float | None, hi: float | None) -> str:
    if lo is None or hi is None:
        return "(none)"
    return f"{lo:g}-{hi:g}"


def _metric_of(canonical: str) -> str:
    for m in metric_registry.registry().values():
        if m.column == canonical:
            return m.name
    raise KeyError(canonical)


def targets() -> dict[str, str]:
    """Canonical column -> value kind, for every column a suggestion may fill (no items)."""
    out = dict(BASE_KINDS)
    for m in metric_registry.registry().values():
        if m.column and m.column not in out:
            out[m.column] = m.column_kind or "number"
    assert set(BASE_COLUMNS) <= set(out)
    return out


# ------------------------------------------------------------------------------------ scoring


def score_column(canonical: str, kind: str, p: ColumnProfile) -> ColumnMatch | None:
    """The match of one client column to one canonical column, or None when they cannot match."""
    name, syn = name_score(p.name, canonical)
    fit, what = value_fit(kind, canonical, p)
    if fit < 0.5:
        return None
    if name >= 0.3:
        score = 0.6 * name + 0.4 * fit
        said = f"name matches {syn!r}" if name >= 0.9 else f"name resembles {syn!r}"
    elif kind in VALUE_ONLY:
        score = 0.45 * fit
        said = VALUES_ONLY
    else:
        return None
    _, unit = split_unit(normalize(p.name))
    if kind == "number" and unit in ("minutes", "hours"):
        score, what = 0.7 * score, f"{what} (in {unit}? seconds are needed)"
    return ColumnMatch(canonical, p.name, round(min(score, 1.0), 2), f"{said}; {what}")


def assign(matches: list[ColumnMatch]) -> dict[str, ColumnMatch]:
    """Best score first: each canonical column gets one client column, each client column one use."""
    taken: set[str] = set()
    out: dict[str, ColumnMatch] = {}
    for m in sorted(matches, key=lambda m: -m.confidence):
        if m.confidence >= MIN_SCORE and m.canonical not in out and m.column not in taken:
            out[m.canonical] = m
            taken.add(m.column)
    return out
