"""Custom metrics from the experiment file's ``[[metrics]]`` entries: checks, registration, column mapping.

:func:`register_entries` runs before the spec checks metric names (:func:`qmsprint.spec.parse_spec`):
it checks every custom entry (all problems at once, with their key paths), builds its metric
(:func:`metric_from_entry`, the classes of :mod:`qmsprint.metrics.custom`), registers it, and maps
the client's column to the metric's canonical column in ``[data.columns]``.
"""

from __future__ import annotations

import re
from typing import Any

from qmsprint.errors import Problem
from qmsprint.metrics.custom import (
    DATE_SUFFIX,
    DERIVED_SOURCES,
    EVENT_SUFFIX,
    TYPES,
    BinaryMetric,
    ContinuousMetric,
    CountMetric,
    CustomMetric,
    Derivation,
    DerivedBinaryMetric,
    OrdinalMetric,
)

# built-in metrics whose money figure comes from [business] (a value_per_unit would count it twice)
PRICED = {"repeat_contact": "cost_per_contact", "handle_time": "cost_per_agent_minute"}
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# names whose cell columns or canonical column would clash with qmsprint's own
_RESERVED = frozenset(
    "n qa ht lht behavior tenure repeat fcr csat nps period week arm agent_id team site channel contact_reason "
    "interaction_id timestamp customer_id qa_score behavior_score tenure_months handle_time repeat_contact".split()
)


def is_custom(entry: Any) -> bool:
    """True for a ``[[metrics]]`` entry that declares a custom metric (has any custom key)."""
    keys = ("column", "type", *DERIVED_SOURCES, "within_days")
    return isinstance(entry, dict) and any(entry.get(k) is not None for k in keys)


def _problems(entry: dict[str, Any], where: str, builtin: tuple[str, ...]) -> list[Problem]:
    """Every problem of one custom entry (types are checked again by the spec's schema)."""
    out: list[Problem] = []
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        out.append(Problem(f"{where}.name", "a custom metric's name must be lower-case letters, digits and _ (max 40)"))
    elif name in builtin:
        out.append(Problem(f"{where}.name", f"{name!r} is a built-in metric; give the custom metric another name"))
    elif name in _RESERVED or name.startswith("item_") or name.endswith((EVENT_SUFFIX, DATE_SUFFIX)):
        out.append(Problem(f"{where}.name", f"{name!r} clashes with qmsprint's own cell columns; choose another name"))
    derived = [k for k in DERIVED_SOURCES if entry.get(k) is not None]
    derives = bool(derived) or entry.get("within_days") is not None
    kind = entry.get("type") or ("binary" if derives else None)
    if kind not in TYPES:
        out.append(Problem(f"{where}.type", f"expected one of {', '.join(TYPES)} (got {kind!r})"))
    if derives:
        if len(derived) != 1:
            out.append(
                Problem(where, "a derived outcome needs exactly one of event_column, event_date_column or events")
            )
        if entry.get("column") is not None:
            out.append(Problem(f"{where}.column", "a derived outcome has no column of its own (drop column)"))
        days = entry.get("within_days")
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 730:
            out.append(Problem(f"{where}.within_days", f"expected whole days 1-730 (got {days!r})"))
        if kind not in (None, "binary"):
            out.append(Problem(f"{where}.type", "a derived outcome is binary"))
        cols = entry.get("events_columns")
        if cols is not None and (
            not isinstance(cols, dict)
            or set(cols) - {"customer_id", "timestamp"}
            or not all(isinstance(v, str) for v in cols.values())
        ):
            out.append(
                Problem(f"{where}.events_columns", 'expected { customer_id = "<column>", timestamp = "<column>" }')
            )
    elif not isinstance(entry.get("column"), str) or not entry.get("column"):
        out.append(
            Problem(f"{where}.column", "a custom metric needs the client's column (or within_days and an event)")
        )
    if kind == "ordinal":
        lv = entry.get("levels")
        ok = (
            isinstance(lv, list)
            and len(lv) >= 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in lv)
            and all(b == a + 1 for a, b in zip(lv, lv[1:], strict=False))
            and len(lv) <= 21
        )
        if not ok:
            out.append(
                Problem(f"{where}.levels", f"expected 2-21 consecutive whole numbers like [1, 2, 3, 4, 5] (got {lv!r})")
            )
    elif entry.get("levels") is not None:
        out.append(Problem(f"{where}.levels", "levels are for ordinal metrics only"))
    if kind == "binary" and entry.get("baseline") is not None:
        b = entry["baseline"]
        if not isinstance(b, int | float) or not 0 < b < 1:
            out.append(
                Problem(f"{where}.baseline", f"a binary metric's baseline is a rate between 0 and 1 (got {b!r})")
            )
    return out


def metric_from_entry(entry: dict[str, Any]) -> CustomMetric:
    """The :class:`CustomMetric` an (already checked) ``[[metrics]]`` entry declares."""
    derived = [k for k in DERIVED_SOURCES if entry.get(k) is not None]
    kind = entry.get("type") or "binary"
    if derived:
        source = derived[0]
        name = entry["name"]
        column = {"event_column": name + EVENT_SUFFIX, "event_date_column": name + DATE_SUFFIX}.get(source)
        cols = {"customer_id": "customer_id", "timestamp": "timestamp", **(entry.get("events_columns") or {})}
        until = entry.get("observed_until")
        d = Derivation(
            within_days=int(entry["within_days"]),
            source=source,
            column=column,
            events=str(entry["events"]) if source == "events" else None,
            events_columns=tuple(sorted(cols.items())),
            observed_until=str(until) if until is not None else None,
        )
        return DerivedBinaryMetric(entry, d)
    return {"binary": BinaryMetric, "ordinal": OrdinalMetric, "count": CountMetric, "continuous": ContinuousMetric}[
        kind
    ](entry)


def client_columns(entry: dict[str, Any]) -> dict[str, str]:
    """``[data.columns]`` entries a custom metric adds: canonical column -> the client's column."""
    if entry.get("column"):
        return {entry["name"]: entry["column"]}
    if entry.get("event_column"):
        return {entry["name"] + EVENT_SUFFIX: entry["event_column"]}
    if entry.get("event_date_column"):
        return {entry["name"] + DATE_SUFFIX: entry["event_date_column"]}
    return {}


def register_entries(raw: dict[str, Any], builtin: tuple[str, ...]) -> tuple[dict[str, Any], list[Problem]]:
    """Register the custom metrics of a raw experiment file; map their columns in ``[data.columns]``.

    Parameters
    ----------
    raw
        The experiment file as read from TOML (not changed).
    builtin
        Names of the built-in metrics (a custom metric may not take one).

    Returns
    -------
    tuple
        (the raw mapping with ``data.columns`` completed, problems with their key paths).

    """
    from qmsprint import metrics as registry

    entries = raw.get("metrics")
    if not isinstance(entries, list):
        return raw, []
    problems: list[Problem] = []
    added: dict[str, str] = {}
    data = raw.get("data") if isinstance(raw.get("data"), dict) else None
    mapped = dict(data.get("columns") or {}) if data is not None and isinstance(data.get("columns"), dict) else {}
    for i, entry in enumerate(entries):
        where = f"metrics[{i}]"
        if isinstance(entry, dict) and entry.get("value_per_unit") is not None and entry.get("name") in PRICED:
            problems.append(
                Problem(f"{where}.value_per_unit", f"{entry['name']} is priced by [business] {PRICED[entry['name']]}")
            )
        if not is_custom(entry):
            continue
        found = _problems(entry, where, builtin)
        if found:
            problems += found
            continue
        for canon, col in client_columns(entry).items():
            if canon in mapped and mapped[canon] != col:
                problems.append(
                    Problem(
                        f"data.columns.{canon}",
                        f"maps {mapped[canon]!r}, but {where} names the column {col!r}: keep one of them",
                    )
                )
            added[canon] = col
        registry.register(metric_from_entry(entry))
    if not added or data is None:
        return raw, problems
    return {**raw, "data": {**data, "columns": {**mapped, **added}}}, problems
