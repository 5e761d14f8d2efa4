"""Suggest how a client export's columns map to qmsprint's canonical columns.

Each client column is scored against each canonical column from its **name** (normalized, with
synonyms: :mod:`qmsprint.setup.names`) and its **values** (:mod:`qmsprint.setup.profile`: dates
parse, CSAT holds 1-5 or ``"4 - Satisfied"``, NPS 0-10, FCR yes/no, ids are high-cardinality,
the arm has 2-3 values). Columns are then assigned best score first, one column per canonical
column. A column whose values contradict a canonical column is never suggested for it, whatever
its name. The mapping is then checked by qmsprint's own validation (:mod:`qmsprint.setup.check`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from qmsprint.errors import Problem
from qmsprint.setup.check import check_suggestion, sample_weekly
from qmsprint.setup.names import name_score, normalize, split_unit
from qmsprint.setup.profile import ColumnProfile, as_text, profile_columns
from qmsprint.setup.score import VALUES_ONLY, ColumnMatch, assign, csat_scale_of, score_column, targets, value_fit
from qmsprint.spec import ITEM_PREFIX, canonical_columns

N_CANDIDATES = 3  # alternatives kept per canonical column
CONTROL_WORDS = ("control", "current", "checklist", "old", "baseline", "bau", "business as usual", "standard",
                 "legacy", "existing", "a")  # fmt: skip
TREATMENT_WORDS = ("treatment", "pilot", "new", "test", "behavior", "behaviour", "outcome", "redesign", "b")


@dataclass
class Suggestion:
    """A suggested mapping of a client export, with what is needed to finish the experiment file.

    Attributes
    ----------
    mapping
        Canonical column -> :class:`ColumnMatch`, canonical order, then checklist items.
    candidates
        Canonical column -> the best few client columns for it (best first; for dropdowns).
    unmapped
        Client columns not used.
    dayfirst
        Dates are day-first (``31/01/2026``); a day above 12 decides, otherwise month-first.
    csat_scale
        ``(low, high)`` of the CSAT answers (``(1, 5)``, ``(1, 7)``, ``(1, 10)``), None without CSAT.
    arm_values
        Distinct values of the arm column, most frequent first (to pick control and treatment).
    arm_counts
        Rows per arm value.
    control, treatment
        Suggested control and treatment values (words like "current"/"pilot", else by frequency).
    weekly
        Rows per week (``week`` the Monday, ``arm``, ``n``) in the sample, for choosing periods.
    first_day, last_day
        Range of the sample's dates (None without a readable timestamp column).
    notes
        Things to check by hand (e.g. handle time in minutes, dates without time of day).
    problems
        What qmsprint's validation reports on the data with this mapping (empty: it validates).
    warnings
        Validation warnings that would not stop a run.
    preview
        First rows as qmsprint reads them (canonical names, parsed values), or None.
    rows
        Rows in the sample.
    source, delimiter, encoding
        The export file, when the suggestion was made from one (see :func:`suggest_file`).

    """

    mapping: dict[str, ColumnMatch]
    candidates: dict[str, list[ColumnMatch]]
    unmapped: list[str]
    dayfirst: bool
    csat_scale: tuple[int, int] | None
    arm_values: list[str]
    arm_counts: dict[str, int]
    control: str | None
    treatment: str | None
    weekly: pd.DataFrame
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    notes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    preview: pd.DataFrame | None = None
    rows: int = 0
    source: Path | None = None
    delimiter: str | None = None
    encoding: str = "utf-8"

    @property
    def columns(self) -> dict[str, str]:
        """``[data.columns]`` of the experiment file: canonical name -> client column."""
        return {k: m.column for k, m in self.mapping.items()}

    @property
    def ok(self) -> bool:
        """The data validates with this mapping."""
        return not self.problems

    def problems_by_column(self) -> dict[str, list[Problem]]:
        """Validation problems by the client column they are about (others under their key path)."""
        out: dict[str, list[Problem]] = {}
        for p in self.problems:
            canon = p.where.removeprefix("data.columns.")
            key = self.mapping[canon].column if canon in self.mapping else p.where
            out.setdefault(key, []).append(p)
        return out

    def summary(self) -> str:
        """The suggestion in a few lines (one per mapped column, then notes and problems)."""
        lines = [f"{m.canonical:<16} <- {m.column!r} ({m.confidence:.0%}: {m.reason})" for m in self.mapping.values()]
        if self.unmapped:
            lines.append("not used: " + ", ".join(repr(c) for c in self.unmapped))
        lines += [f"note: {n}" for n in self.notes]
        lines += [f"problem: {p}" for p in self.problems]
        return "\n".join(lines)


def _items(profiles: dict[str, ColumnProfile], taken: set[str]) -> list[ColumnMatch]:
    """Checklist items among the unused columns: pass/fail or yes/no columns that look like checks."""
    free = [p for p in profiles.values() if p.name not in taken and p.filled]
    boolish = [p for p in free if p.share(p.boolean) >= 0.9 or p.share(p.passfail) >= 0.9]
    out: list[ColumnMatch] = []
    for p in boolish:
        norm = normalize(p.name)
        if norm.startswith(("item", "check", "qa ", "q ")) or re.match(r"^q\d", norm) is not None:
            conf, why = 0.7, "name reads as a checklist item"
        elif p.share(p.passfail) >= 0.5:
            conf, why = 0.6, "pass/fail values"
        elif len(boolish) >= 3:
            conf, why = 0.45, f"one of {len(boolish)} yes/no columns"
        else:
            continue
        slug = re.sub(r"^(item|check|qa|q)\s+", "", norm).replace(" ", "_") or "column"
        name, k = ITEM_PREFIX + slug, 2
        while name in {m.canonical for m in out}:
            name, k = f"{ITEM_PREFIX}{slug}_{k}", k + 1
        out.append(ColumnMatch(name, p.name, conf, f"{why}; values {p.examples(2)}"))
    return out


def _arms(p: ColumnProfile | None, text: pd.DataFrame) -> tuple[list[str], dict[str, int], str | None, str | None]:
    if p is None:
        return [], {}, None, None
    counts = text[p.name].dropna().value_counts()
    values = [str(v) for v in counts.index]

    def pick(words: tuple[str, ...], exclude: str | None) -> str | None:
        for w in words:
            for v in values:
                if v != exclude and w in normalize(v).split():
                    return v
        return None

    control = pick(CONTROL_WORDS, None)
    treatment = pick(TREATMENT_WORDS, control)
    if control is None:
        control = next((v for v in values if v != treatment), None)
    if treatment is None:
        treatment = next((v for v in values if v != control), None)
    return values, {str(k): int(v) for k, v in counts.items()}, control, treatment


_DMY = re.compile(r"^\s*\d{1,2}[/.\-]\d{1,2}[/.\-]\d{4}")


def _notes(mapping: dict[str, ColumnMatch], profiles: dict[str, ColumnProfile]) -> list[str]:
    notes = []
    kinds = targets()
    for canon, m in mapping.items():
        p = profiles[m.column]
        _, unit = split_unit(normalize(m.column))
        fit, what = value_fit(kinds[canon], canon, p) if canon in kinds else (1.0, "")
        if fit < 0.5:
            notes.append(f"{m.column!r} does not look like {canon}: {what}")
        if canon == "timestamp" and p.ts_dayfirst == p.ts_monthfirst and any(_DMY.match(v) for v, _ in p.top):
            notes.append(f"{m.column!r}: no day above 12 in the sample, so day or month first cannot be told; "
                         "month-first assumed (set dayfirst if wrong)")  # fmt: skip
        if canon == "timestamp" and p.ts_midnight and p.ts_midnight == max(p.ts_dayfirst, p.ts_monthfirst):
            notes.append(f"{m.column!r} has dates without a time of day: repeat contacts on the same day "
                         "cannot be ordered")  # fmt: skip
        if kinds.get(canon) == "number" and unit in ("minutes", "hours"):
            notes.append(f"{m.column!r} seems to be in {unit}; {canon} is read as seconds (convert it)")
        if kinds.get(canon) == "number" and p.share(p.duration) >= 0.8:
            notes.append(f"{m.column!r} holds clock-style durations like {p.examples(1)}; {canon} needs seconds")
    return notes


def _ordered(mapping: dict[str, ColumnMatch]) -> dict[str, ColumnMatch]:
    order = list(targets())
    return dict(sorted(mapping.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))


def _build(
    text: pd.DataFrame,
    profiles: dict[str, ColumnProfile],
    mapping: dict[str, ColumnMatch],
    candidates: dict[str, list[ColumnMatch]],
    *,
    source: str | Path | None,
    delimiter: str | None,
    encoding: str,
    check: bool,
    dayfirst: bool | None = None,
    csat_scale: tuple[int, int] | None = None,
    arms: tuple[str | None, str | None] = (None, None),
) -> Suggestion:
    """The suggestion for a mapping: dates, scale and arms detected unless given, then validated."""
    mapping = _ordered(mapping)
    if dayfirst is None:
        dayfirst = bool("timestamp" in mapping and profiles[mapping["timestamp"].column].dayfirst)
    if csat_scale is None and "csat" in mapping:
        csat_scale = csat_scale_of(profiles[mapping["csat"].column])
    arm_profile = profiles[mapping["arm"].column] if "arm" in mapping else None
    values, arm_counts, control, treatment = _arms(arm_profile, text)
    control, treatment = arms[0] or control, arms[1] or treatment
    used = {m.column for m in mapping.values()}
    weekly, first_day, last_day = sample_weekly(text, mapping, dayfirst)
    s = Suggestion(
        mapping=mapping,
        candidates=candidates,
        unmapped=[c for c in text.columns if c not in used],
        dayfirst=dayfirst,
        csat_scale=csat_scale,
        arm_values=values,
        arm_counts=arm_counts,
        control=control,
        treatment=treatment,
        weekly=weekly,
        first_day=first_day,
        last_day=last_day,
        notes=_notes(mapping, profiles),
        rows=len(text),
        source=Path(source) if source is not None else None,
        delimiter=delimiter,
        encoding=encoding,
    )
    if check:
        check_suggestion(s, text)
    return s


def suggest_mapping(
    sample: pd.DataFrame,
    *,
    source: str | Path | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8",
    check: bool = True,
) -> Suggestion:
    """Suggest the canonical column for each column of a client export, from its header and values.

    Parameters
    ----------
    sample
        Rows of the export (all of it, or its first rows), as read (text or typed columns).
    source
        The export file the sample is from: validation then reads that file, as ``validate``
        will; without it a temporary copy of the sample is validated.
    delimiter, encoding
        How ``source`` (a CSV file) is read, if not the defaults.
    check
        Run qmsprint's validation with the suggested mapping (``problems``, ``warnings``, ``preview``).

    Returns
    -------
    Suggestion

    """
    text = as_text(sample)
    profiles = profile_columns(text)
    kinds = targets()
    matches = [m for p in profiles.values() for c, k in kinds.items() if (m := score_column(c, k, p)) is not None]
    # a column whose name says what it is is not matched to something else by its values alone
    named = {p.name for p in profiles.values() if max(name_score(p.name, c)[0] for c in kinds) >= 0.9}
    matches = [m for m in matches if not (m.column in named and m.reason.startswith(VALUES_ONLY))]
    mapping = assign(matches)
    mapping.update({m.canonical: m for m in _items(profiles, {m.column for m in mapping.values()})})
    candidates = {
        c: sorted((m for m in matches if m.canonical == c), key=lambda m: -m.confidence)[:N_CANDIDATES] for c in kinds
    }
    return _build(text, profiles, mapping, candidates, source=source, delimiter=delimiter, encoding=encoding,
                  check=check)  # fmt: skip


def remap(
    sample: pd.DataFrame,
    suggestion: Suggestion,
    columns: dict[str, str],
    *,
    dayfirst: bool | None = None,
    csat_scale: tuple[int, int] | None = None,
    control: str | None = None,
    treatment: str | None = None,
    check: bool = True,
) -> Suggestion:
    """The suggestion redone with a mapping edited by hand (the builder's dropdowns), re-validated.

    Parameters
    ----------
    sample
        The same rows :func:`suggest_mapping` saw.
    suggestion
        The suggestion being edited (its source file, delimiter and encoding are kept).
    columns
        The whole mapping now wanted: canonical name (or ``item_<name>``) -> client column.
    dayfirst, csat_scale, control, treatment
        Set by hand; None: detected from the values as :func:`suggest_mapping` does.
    check
        Run qmsprint's validation.

    Raises
    ------
    ValueError
        A name that is not a canonical column, or a column that is not in the sample.

    """
    text = as_text(sample)
    bad = [k for k in columns if k not in canonical_columns() and not k.startswith(ITEM_PREFIX)]
    missing = [c for c in columns.values() if c not in text.columns]
    if bad or missing:
        raise ValueError(f"unknown qmsprint columns {bad} / columns not in the export {missing}")
    profiles = profile_columns(text[list(dict.fromkeys(columns.values()))])
    kinds = targets()
    mapping = {}
    for canon, col in columns.items():
        old = suggestion.mapping.get(canon)
        if old is not None and old.column == col:
            mapping[canon] = old
        else:
            what = value_fit(kinds[canon], canon, profiles[col])[1] if canon in kinds else profiles[col].examples()
            mapping[canon] = ColumnMatch(canon, col, 1.0, f"chosen by hand; {what}")
    return _build(text, profiles, mapping, suggestion.candidates, source=suggestion.source,
                  delimiter=suggestion.delimiter, encoding=suggestion.encoding, check=check, dayfirst=dayfirst,
                  csat_scale=csat_scale, arms=(control, treatment))  # fmt: skip
