"""The diagnosis data: which outcomes, scores and checklist items a canonical interaction table allows.

:func:`prepare_diagnosis` reads the validated canonical table (as :func:`qmsprint.data.load_frame`
returns it: outcomes, scores and items already parsed into their canonical types) and checks
what the diagnosis needs on top of the data layer's validation: a QA score and an agent per
row, levels on the spec's scale, checklist items as 0/1, and enough agents and responses. It
parses nothing again. Outcomes come from the metric registry: every registered metric of the
``ordinal`` or ``binomial`` family whose column has data; handle time (seconds per interaction)
is the time outcome of the item models. With both programs in the rows, the program columns of
:mod:`.program` come along. :func:`outcome_cells` and :func:`item_patterns` group those rows into
the cells of the model blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from qmsprint import metrics as metric_registry
from qmsprint.diagnosis.program import program_columns
from qmsprint.errors import DataError, Problem
from qmsprint.present import diagnosis as text
from qmsprint.spec import ITEM_PREFIX, Spec
from qmsprint.words import counted

MIN_AGENTS = 10
MIN_RESPONSES = 100
UNINFORMATIVE_PASS_RATE = 0.99
DIAGNOSABLE_FAMILIES = ("ordinal", "binomial")
MIX_FACTORS = ("channel", "contact_reason")
TIME_COLUMN = "handle_time"  # the time outcome: what each checklist item costs in seconds per call
ITEM_TABLE_COLUMNS = ["item", "column", "pass_rate", "n", "status"]


@dataclass(frozen=True)
class Outcome:
    """One diagnosable outcome metric.

    Attributes
    ----------
    name
        Metric name (registry key).
    column
        Column of the canonical table holding it.
    family
        ``ordinal``, ``binomial`` or ``gaussian`` (handle time in seconds).
    levels
        Ordered levels (ordinal; empty for binomial).
    better
        Direction of improvement (the spec's, else the metric's default).

    """

    name: str
    column: str
    family: Literal["ordinal", "binomial", "gaussian"]
    levels: tuple[int, ...]
    better: Literal["higher", "lower"]

    @property
    def sign(self) -> float:
        """+1 when higher is better, -1 when lower is better."""
        return 1.0 if self.better == "higher" else -1.0


@dataclass
class DiagnosisData:
    """The rows and choices a diagnosis is fitted on.

    Attributes
    ----------
    df
        Rows with a QA score: ``agent_id``, ``qa_score``, the mix factors (``channel``,
        ``contact_reason``), optional ``behavior_score`` / ``team``, outcome columns (``Int64``)
        and item columns (0/1 floats).
    outcomes
        Outcomes with enough data, in registry order (the first is the headline).
    scores
        Score columns to relate to the outcomes (``qa_score``, and ``behavior_score`` with data).
    fit_items
        Item columns that vary enough to be fitted.
    item_table
        One row per item: ``item``, ``column``, ``pass_rate``, ``n``, ``status`` (``fit`` /
        ``constant`` / ``no information``).
    agents
        Every agent, sorted (model agent codes index into it).
    notes
        Caveats for the reader.
    adjust
        Program columns in ``df`` every model adjusts for (``_program``, ``_pilot``; empty with one program).
    time
        The time outcome (handle time) when the rows have it, else None.

    """

    df: pd.DataFrame
    outcomes: list[Outcome]
    scores: list[str]
    fit_items: list[str]
    item_table: pd.DataFrame
    agents: pd.Index
    notes: list[str]
    adjust: list[str] = field(default_factory=list)
    time: Outcome | None = None


def diagnosable_outcomes() -> tuple[str, ...]:
    """Registered metrics the diagnosis can explain (ordinal or binomial families), in registry order."""
    return tuple(name for name, m in metric_registry.registry().items() if m.family in DIAGNOSABLE_FAMILIES)


def outcome_specs(spec: Spec) -> dict[str, Outcome]:
    """Every diagnosable outcome, with its levels and direction (from the spec when it has the metric)."""
    out: dict[str, Outcome] = {}
    for name in diagnosable_outcomes():
        m = metric_registry.get(name)
        try:
            better = spec.metric(name).better
        except KeyError:
            better = m.direction
        out[name] = Outcome(name, m.column or name, m.family, tuple(m.levels(spec)), better)
    return out


def _bad_rows(mask: pd.Series, values: pd.Series) -> dict[str, object]:
    return {"count": int(mask.sum()), "examples": tuple(str(x) for x in values[mask].head(5))}


def _check_columns(frame: pd.DataFrame, spec: Spec, items: Sequence[str] | None) -> tuple[list[str], list[str]]:
    """(item columns asked for, item columns the data has); a DataError for what is missing."""
    problems: list[Problem] = []
    cols = set(frame.columns)
    for col in ("qa_score", "agent_id"):
        if col not in cols:
            what = "the checklist QA score (0-100) per interaction" if col == "qa_score" else "the agent of each row"
            problems.append(
                Problem(col, f"column is missing: the diagnosis needs {what} (map it in [data.columns] of the spec)")
            )
    present_items = sorted(c for c in frame.columns if str(c).startswith(ITEM_PREFIX))
    asked = list(items) if items is not None else sorted(k for k in spec.data.columns if k.startswith(ITEM_PREFIX))
    asked = [a if a.startswith(ITEM_PREFIX) else ITEM_PREFIX + a for a in asked]
    missing_items = [a for a in asked if a not in cols]
    if missing_items:
        problems.append(
            Problem(
                "items",
                "checklist item columns asked for are missing from the data"
                + (f"; the data has {', '.join(present_items)}" if present_items else "; the data has no item columns"),
                examples=tuple(missing_items),
            )
        )
    specs = outcome_specs(spec)
    if not any(o.column in cols and frame[o.column].notna().any() for o in specs.values()):
        problems.append(
            Problem("outcomes", "no outcome column with data: expected at least one of " + ", ".join(specs))
        )
    if problems:
        raise DataError("cannot diagnose this data", problems)
    return asked, present_items


def _outcome_values(df: pd.DataFrame, o: Outcome, problems: list[Problem]) -> None:
    """Check an outcome column against its levels (ordinal) or 0/1 (binomial); store it as Int64."""
    s = df[o.column]
    if o.family == "ordinal":
        bad = s.notna() & ~s.isin(o.levels)
        if bad.any():
            lv = o.levels
            problems.append(
                Problem(
                    o.name, f"expected whole numbers {lv[0]}-{lv[-1]} (or empty for no answer)", **_bad_rows(bad, s)
                )
            )
            return
    else:
        bad = s.notna() & ~s.astype("object").isin([True, False])  # booleans (1/0 compare equal)
        if bad.any():
            problems.append(Problem(o.name, "expected true/false (or 1/0, or empty)", **_bad_rows(bad, s)))
            return
    df[o.column] = pd.array(s.astype("object").where(s.notna(), None), dtype="Int64")


def _item_table(df: pd.DataFrame, item_cols: list[str], problems: list[Problem]) -> pd.DataFrame:
    """Check item columns are 0/1 (stored as floats) and say which vary enough to be fitted."""
    rows = []
    for it in item_cols:
        try:
            v = df[it].astype("float64")
        except (TypeError, ValueError):
            v = pd.Series(np.nan, index=df.index)
            bad = df[it].notna()
        else:
            bad = v.notna() & ~v.isin([0, 1])
        if bad.any():
            problems.append(Problem(it, "checklist items must be 0/1 (failed/passed)", **_bad_rows(bad, df[it])))
        df[it] = v
        n = int(v.notna().sum())
        rate = float(v.mean()) if n else float("nan")
        if n == 0 or v.nunique(dropna=True) < 2:
            status = "constant"
        elif max(rate, 1 - rate) >= UNINFORMATIVE_PASS_RATE:
            status = "no information"
        else:
            status = "fit"
        rows.append({"item": it[len(ITEM_PREFIX) :], "column": it, "pass_rate": rate, "n": n, "status": status})
    return pd.DataFrame(rows, columns=ITEM_TABLE_COLUMNS)


def _enough_data(df: pd.DataFrame, present: list[Outcome]) -> tuple[pd.Index, list[Outcome], list[str]]:
    """(agents, outcomes with enough responses, notes on the skipped ones); a DataError when none has."""
    agents = pd.Index(sorted(df["agent_id"].unique()), name="agent")
    if len(agents) < MIN_AGENTS:
        raise DataError(
            "too few agents to diagnose",
            [
                Problem(
                    "agent_id",
                    f"{counted(len(agents), 'agent')} with QA-scored interactions; at least {MIN_AGENTS} are needed "
                    "to separate agent differences from noise",
                )
            ],
        )
    outcomes: list[Outcome] = []
    tiny: list[Problem] = []
    for o in present:
        n = int(df[o.column].notna().sum())
        a = int(df.loc[df[o.column].notna(), "agent_id"].nunique())
        if n < MIN_RESPONSES or a < MIN_AGENTS:
            tiny.append(
                Problem(
                    o.name,
                    f"{counted(n, 'response')} from {counted(a, 'agent')}; at least {MIN_RESPONSES} responses from "
                    f"{MIN_AGENTS} agents are needed to estimate it",
                )
            )
        else:
            outcomes.append(o)
    if not outcomes:
        raise DataError("too little outcome data to diagnose", tiny)
    return agents, outcomes, [text.skipped_outcome_note(p.where, p.message) for p in tiny]


def prepare_diagnosis(frame: pd.DataFrame, spec: Spec, items: Sequence[str] | None = None) -> DiagnosisData:
    """Check a canonical interaction table and choose what the diagnosis fits.

    Parameters
    ----------
    frame
        Canonical interaction table (:func:`qmsprint.data.load_frame`): ``agent_id``,
        ``qa_score``, outcome columns, optionally ``behavior_score``, ``item_<name>``,
        ``channel``, ``contact_reason``, ``team``.
    spec
        The experiment file (CSAT scale, metric directions, mapped item columns).
    items
        Checklist items to analyse (``item_<name>`` or ``<name>``); default: the items mapped in the
        spec's ``[data.columns]``, else every ``item_*`` column.

    Returns
    -------
    DiagnosisData

    Raises
    ------
    DataError
        Missing QA score / agent columns, asked-for items missing, values off the scale, or too
        few agents or responses (every problem of a stage at once).

    """
    problems: list[Problem] = []
    notes: list[str] = []
    asked, present_items = _check_columns(frame, spec, items)
    specs = outcome_specs(spec)
    cols = set(frame.columns)
    present = [o for o in specs.values() if o.column in cols and frame[o.column].notna().any()]
    keep = ["agent_id", "qa_score"] + [c for c in ("behavior_score", *MIX_FACTORS, "team") if c in cols]
    item_cols = asked or present_items
    time = TIME_COLUMN in cols and pd.to_numeric(frame[TIME_COLUMN], errors="coerce").gt(0).any()
    df = frame[keep + [o.column for o in present] + item_cols + ([TIME_COLUMN] if time else [])].copy()
    programs = program_columns(frame, spec)
    for col in programs.columns:
        df[col] = programs[col]
    if time:  # seconds above 0, else no time
        ht = pd.to_numeric(df[TIME_COLUMN], errors="coerce").astype(float)
        df[TIME_COLUMN] = ht.where(ht > 0)
    for col in MIX_FACTORS:
        if col not in df:
            df[col] = "all"
            notes.append(text.missing_mix_note(col))
        df[col] = df[col].astype("string").fillna("(missing)")
    df["agent_id"] = df["agent_id"].astype("string")
    bad_qa = ~df["qa_score"].isna() & ~df["qa_score"].between(0, 100)
    if bad_qa.any():
        problems.append(
            Problem(
                "qa_score",
                "QA scores must be between 0 and 100",
                rows=tuple(int(i) + 1 for i in np.flatnonzero(bad_qa.to_numpy())[:5]),
                **_bad_rows(bad_qa, df["qa_score"]),
            )
        )
    n_no_qa = int(df["qa_score"].isna().sum())
    if n_no_qa:
        notes.append(text.no_qa_note(n_no_qa))
        df = df[df["qa_score"].notna()]
    for o in present:
        _outcome_values(df, o, problems)
    item_table = _item_table(df, item_cols, problems)
    if problems:
        raise DataError("cannot diagnose this data", problems)
    if not item_cols:
        notes.append(text.no_items_note())
    for r in item_table.itertuples():
        if r.status == "constant":
            notes.append(text.constant_item_note(r.item))
        elif r.status == "no information":
            notes.append(text.uninformative_item_note(r.item, r.pass_rate))
    fit_items = item_table.loc[item_table["status"] == "fit", "column"].tolist()
    nulls = df[fit_items].isna().any(axis=1) if fit_items else pd.Series(False, index=df.index)
    if nulls.any():
        notes.append(text.missing_item_values_note(int(nulls.sum())))
    scores = ["qa_score"] + (
        ["behavior_score"] if "behavior_score" in df and df["behavior_score"].notna().any() else []
    )
    agents, outcomes, skipped = _enough_data(df, present)
    time_outcome = None
    if time and int(df[TIME_COLUMN].notna().sum()) >= MIN_RESPONSES:
        time_outcome = Outcome(TIME_COLUMN, TIME_COLUMN, "gaussian", (), "lower")
    return DiagnosisData(
        df, outcomes, scores, fit_items, item_table, agents, notes + skipped, list(programs.columns), time_outcome
    )


# ------------------------------------------------------------------------------ cells
#
# The diagnosis groups the canonical rows (already parsed and validated by qmsprint.data) into
# cells here, in pandas: the same counts from an Ibis expression on DuckDB took about four times
# as long on the bundled data (1.4 s vs 0.3 s for the item and root-cause cells; the frame is in
# memory already), and per-cell means of the standardized score would not be bit-identical.


def outcome_cells(
    df: pd.DataFrame, keys: list[str], o: Outcome, scale: tuple[float, float] = (0.0, 1.0)
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Group the rows with an answer by ``keys``: cell keys, trials ``n`` and statistics per cell.

    The statistics are level counts (ordinal), successes (binomial) or the sum and the sum of
    squares of the values standardized by ``scale`` = (mean, sd) (gaussian).
    """
    col = o.column
    d = df[df[col].notna()]
    if o.family == "gaussian":
        z = (d[col].astype(float) - scale[0]) / scale[1]
        g = pd.DataFrame({**{k: d[k] for k in keys}, "z": z, "z2": z**2}).groupby(keys, observed=True, sort=True)
        agg = g.agg(n=("z", "size"), s=("z", "sum"), s2=("z2", "sum"))
        return agg.index.to_frame(index=False), agg["n"].to_numpy("int64"), agg[["s", "s2"]].to_numpy(float)
    if o.family == "ordinal":
        counts = d.groupby(keys + [col], observed=True, sort=True).size().unstack(col, fill_value=0)
        counts = counts.reindex(columns=list(o.levels), fill_value=0)
        cells = counts.index.to_frame(index=False)
        y = counts.to_numpy(dtype="int64")
        return cells, y.sum(axis=1), y
    g = d.groupby(keys, observed=True, sort=True)[col].agg(["size", "sum"])
    cells = g.index.to_frame(index=False)
    return cells, g["size"].to_numpy(dtype="int64"), g["sum"].to_numpy(dtype="int64")


def item_patterns(df: pd.DataFrame, items: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(which of ``items`` each row passed, as one integer; the bit of each item).

    Rows must have every item (0/1); item ``k`` is bit ``2**k``.
    """
    bits = np.int64(1) << np.arange(len(items), dtype=np.int64)
    return df[items].to_numpy(dtype="int64") @ bits, bits
