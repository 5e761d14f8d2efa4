"""Derived binary outcomes from the contact log: "churned within 30 days", "sale within 7 days".

A custom metric with ``within_days`` (:mod:`qmsprint.metrics.custom`) is derived here, as Ibis
window expressions like repeat contacts (:mod:`qmsprint.data.repeat`): DuckDB by default, the
same expression on Spark.

Convention
----------
Days are calendar days. Interaction ``i`` of customer ``c`` on day ``d`` has the outcome when
``c`` has an **event** on a day ``e`` with ``d <= e <= d + within_days`` (an event on the day of
the contact counts, whatever its time). Events come from one of:

* ``event_column``: a yes/no flag on the interaction rows; each flagged row is an event of its
  customer at its own time (a sale recorded on a contact, a cancellation call);
* ``event_date_column``: the date of the customer's event on their rows (a cancellation date
  copied onto every contact of the customer); each distinct (customer, date) is one event;
* ``events``: a separate CSV or Parquet file with one row per event (``customer_id`` and a
  ``timestamp`` or date; other column names through ``events_columns``), read by the same engine.

Censoring: the window of an interaction on day ``d`` is fully observed when ``d + within_days``
is before the last day of the contact log (that day counts as incomplete), or on or before
``observed_until`` when the metric gives it (events known through that date). Otherwise the
outcome is null and the interaction is left out of the metric's counts (``PreparedData.warnings``
says how many), as are rows without a customer id.

Cost: one window over a narrow union of (row number, customer, day) of the interactions and the
events; only the row numbers of the interactions with an event in their window are kept (the
wide rows look them up with a hash semi-join), as for repeat contacts.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from qmsprint.data.load import ROW, execute, parse_timestamp
from qmsprint.errors import DataError, Problem
from qmsprint.metrics.custom import Derivation
from qmsprint.spec import Spec

DAY_SECONDS = 86400
__all__ = ["derivations", "derived_columns", "event_rows", "hit_rows", "with_derived"]


def derivations(spec: Spec) -> dict[str, Derivation]:
    """The spec's derived metrics: name -> how it is derived (in the spec's order)."""
    out = {}
    for m in spec.metrics:
        d = getattr(m.info, "derivation", None)
        if isinstance(d, Derivation):
            out[m.name] = d
    return out


def derived_columns(spec: Spec) -> list[str]:
    """Columns :func:`with_derived` adds (one boolean per derived metric of the spec)."""
    return list(derivations(spec))


def _day(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Day number (days since 1970-01-01) of a timestamp."""
    return (ts.epoch_seconds().cast("int64") / DAY_SECONDS).floor().cast("int64")


def _read_events(spec: Spec, name: str, d: Derivation, con: Any) -> ir.Table:
    """The events file of a derived metric as (customer_id, _day); every problem at once as a DataError."""
    from qmsprint.data.load import _text  # noqa: PLC2701 - the loader's own text cleaning

    where = f"metrics.{name}.events"
    assert d.events is not None
    path = spec.resolve(d.events)
    if not path.is_file():
        raise DataError("cannot read the events", [Problem(where, f"events file not found: {path}")])
    try:
        if path.suffix.lower() in (".parquet", ".pq", ".parq"):
            raw = con.read_parquet(str(path))
        else:
            raw = con.read_csv(str(path), all_varchar=True, header=True)
    except Exception as err:  # noqa: BLE001 - any reader error is the user's file
        msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(
            "cannot read the events", [Problem(where, f"unreadable events file {path.name}: {msg}")]
        ) from None
    cols = d.events_map
    lower = {c.lower(): c for c in raw.columns}
    missing = []
    found = {}
    for canon, col in cols.items():
        hit = col if col in raw.columns else lower.get(col.lower())
        if hit is None:
            missing.append(
                Problem(
                    f"metrics.{name}.events_columns.{canon}",
                    f"the events file {path.name} has no column {col!r}; it has: " + ", ".join(raw.columns[:40]),
                )
            )
        else:
            found[canon] = hit
    if missing:
        raise DataError("cannot read the events", missing)
    text = raw[found["timestamp"]].cast("string").strip()
    ev = raw.select(
        customer_id=_text(raw[found["customer_id"]]).nullif(""),
        _ts=parse_timestamp(raw[found["timestamp"]], spec.data.dayfirst),
        _text=text,
    )
    bad = ev.filter(ev._ts.isnull() & ev._text.notnull() & (ev._text != ""))
    n_bad = int(execute(con, bad.count(), "read the events", path.name))
    if n_bad:
        examples = execute(con, bad.select("_text").limit(5), "read the events", path.name)["_text"]
        raise DataError(
            "cannot read the events",
            [
                Problem(
                    f"{where} ({path.name}: {found['timestamp']})",
                    "could not read the date: expected a date or date/time (ISO like 2026-03-02"
                    + (", or day-first 02/03/2026)" if spec.data.dayfirst else ", or month-first 03/02/2026)"),
                    count=n_bad,
                    examples=tuple(str(x) for x in examples),
                )
            ],
        )
    ev = ev.filter(ev.customer_id.notnull() & ev._ts.notnull())
    return ev.select("customer_id", _day=_day(ev._ts)).distinct()


def event_rows(t: ir.Table, spec: Spec, name: str, d: Derivation, con: Any) -> ir.Table:
    """Events of one derived metric as (customer_id, _day), from the canonical table ``t`` or the events file."""
    if d.source == "events":
        return _read_events(spec, name, d, con)
    assert d.column is not None
    col = t[d.column]
    if d.source == "event_column":
        ev = t.filter(t.customer_id.notnull() & col.fill_null(False))
        return ev.select("customer_id", _day=_day(ev.timestamp))
    ev = t.filter(t.customer_id.notnull() & col.notnull())
    return ev.select("customer_id", _day=_day(ev[d.column])).distinct()


def hit_rows(t: ir.Table, spec: Spec, name: str, d: Derivation, con: Any) -> ir.Table:
    """Row numbers (``_row``) of the interactions with an event of their customer within the window.

    One window over the union of the interactions (event weight 0) and the events (weight 1) per
    customer, ordered by day, from the interaction's day to ``within_days`` later. Censoring is
    applied by :func:`with_derived`.
    """
    n = t.filter(t.customer_id.notnull()).select(
        ROW, "customer_id", _day=_day(t.timestamp), _ev=ibis.literal(0, "int64")
    )
    ev = event_rows(t, spec, name, d, con)
    ev = ev.select(ibis.null("int64").name(ROW), "customer_id", "_day", _ev=ibis.literal(1, "int64"))
    u = n.union(ev)
    w = ibis.window(group_by=u.customer_id, order_by=u._day, range=(0, d.within_days))
    hits = u._ev.sum().over(w)
    return u.mutate(_hits=hits).filter((ibis._._ev == 0) & (ibis._._hits > 0)).select(ROW)


def _last_day(d: Derivation, last: dt.datetime | None) -> int | None:
    """Last day whose events are fully known: ``observed_until``, else the day before the log's last day."""
    if d.observed_until is not None:
        return int(pd.Timestamp(d.observed_until).normalize().value // (DAY_SECONDS * 10**9))
    if last is None:
        return None
    return int(pd.Timestamp(last).normalize().value // (DAY_SECONDS * 10**9)) - 1


def with_derived(t: ir.Table, spec: Spec, hits: dict[str, ir.Table], last: dt.datetime | None = None) -> ir.Table:
    """Add one boolean column per derived metric (null when censored or without a customer id).

    ``hits`` maps each derived metric to its :func:`hit_rows` (e.g. materialised once); ``last`` is
    the contact log's last timestamp (without it, the window runs to the last timestamp of ``t``).
    """
    out: dict[str, ir.Value] = {}
    day = _day(t.timestamp)
    for name, d in derivations(spec).items():
        last_day = _last_day(d, last)
        end = (
            ibis.literal(last_day, "int64")
            if last_day is not None
            else (_day(t.timestamp.max().over(ibis.window())) - 1)
        )
        censored = (day + d.within_days) > end
        seen = t[ROW].isin(hits[name][ROW])
        out[name] = ibis.ifelse(censored | t.customer_id.isnull(), ibis.null("boolean"), seen)
    return t.mutate(**out) if out else t


def censored_warnings(spec: Spec, cells: pd.DataFrame) -> list[Problem]:
    """One warning per derived metric: interactions left out (window past the data, or no customer id)."""
    out = []
    for name, d in derivations(spec).items():
        col = f"{name}_n"
        if col not in cells or "n" not in cells:
            continue
        left = int(cells["n"].sum() - cells[col].sum())
        if left:
            until = f"{d.observed_until}" if d.observed_until else "the day before the last day of the data"
            out.append(
                Problem(
                    name,
                    f"{left:,} interactions are left out of {name}: their {d.within_days}-day window runs past "
                    f"{until} (when events are known), or they have no customer id",
                    count=left,
                )
            )
    return out


def events_path(spec: Spec, d: Derivation) -> Path | None:
    """The resolved events file of a derivation (None for flag or date columns)."""
    return spec.resolve(d.events) if d.events else None
