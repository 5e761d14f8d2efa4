"""The experiment file a consultant's choices make: a commented TOML in the form of ``experiments/demo_ab.toml``.

:class:`ExperimentChoices` holds what the experiment builder (or ``qmsprint init``) asks for;
:func:`build_spec_dict` turns it into the mapping :func:`qmsprint.spec.parse_spec` validates and
:func:`write_experiment_toml` into the file's text: the same sections, keys in the same order
and the same comments as the demo file, plus ``[data.columns]`` (with why each column was
suggested) and ``dayfirst`` / ``csat_scale`` where the export needs them. Defaults come from
:mod:`qmsprint.spec` and the metric registry.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from qmsprint import metrics as metric_registry
from qmsprint.spec import SEGMENT_COLUMNS, Arms, Business, Decision, Metric, Sampler, Spec

if TYPE_CHECKING:  # pragma: no cover
    from qmsprint.setup.suggest import Suggestion

Role = Literal["primary", "secondary", "guardrail"]
ROLES: tuple[Role, ...] = ("primary", "secondary", "guardrail")
COMMENT_AT = 30  # column trailing comments start at (as in the demo files)
DEFAULT_TUNE = 300  # warm-up steps the demo files use (nutpie's default); fits are still checked
DEFAULT_DRAWS = 500  # draws per chain the demo files keep per effect; a fit short of ESS is sampled again
DEFAULT_SEGMENTS = ("channel", "contact_reason")


def _default(model: Any, key: str) -> Any:
    return model.model_fields[key].default


@dataclass
class MetricChoice:
    """One metric of the pilot: its role and smallest worthwhile effect (None: the registry's default)."""

    name: str
    role: Role = "primary"
    min_effect: float | None = None
    direction: Literal["higher", "lower"] | None = None
    source: Literal["column", "no_repeat"] = "column"

    @property
    def threshold(self) -> float:
        """The smallest worthwhile effect written to the file."""
        return self.min_effect if self.min_effect is not None else metric_registry.get(self.name).default_min_effect


@dataclass
class ExperimentChoices:
    """Everything the experiment builder asks for (the rest of a spec keeps its defaults).

    ``source`` is written as given: relative paths resolve against the experiment file's folder.
    ``columns`` maps qmsprint's names to the export's (``[data.columns]``); ``column_notes`` adds a
    comment to each. ``baseline`` / ``pilot`` are ``(start, end)`` dates or None.
    """

    name: str
    source: str
    control: str
    treatment: str
    metrics: list[MetricChoice]
    description: str = ""
    client: str = ""
    design: Literal["ab", "did"] = "ab"
    unit: Literal["agent", "team", "site"] = "agent"
    segments: list[str] = field(default_factory=lambda: list(DEFAULT_SEGMENTS))
    program: Literal["behavior", "outcome"] = _default(Arms, "program")
    planned_split: float = _default(Arms, "planned_split")
    columns: dict[str, str] = field(default_factory=dict)
    column_notes: dict[str, str] = field(default_factory=dict)
    dayfirst: bool = False
    delimiter: str | None = None
    encoding: str = "utf-8"
    csat_scale: tuple[int, int] = _default(Spec, "csat_scale")
    baseline: tuple[dt.date, dt.date] | None = None
    pilot: tuple[dt.date, dt.date] | None = None
    data_range: tuple[dt.date, dt.date] | None = None  # shown in a comment when there are no periods
    window_days: int = 7
    same_reason: bool = False
    prob_improve: float = _default(Decision, "prob_improve")
    cost_per_contact: float = _default(Business, "cost_per_contact")
    currency: str = _default(Business, "currency")
    contacts_per_month: float = _default(Business, "contacts_per_month")
    cost_per_agent_minute: float = _default(Business, "cost_per_agent_minute")
    program_cost_per_month: float = _default(Business, "program_cost_per_month")
    draws: int = DEFAULT_DRAWS
    tune: int = DEFAULT_TUNE
    chains: int = _default(Sampler, "chains")
    seed: int = _default(Sampler, "seed")
    runs_dir: str = "runs"


def build_spec_dict(choices: ExperimentChoices) -> dict[str, Any]:
    """The experiment file as a mapping (as ``tomllib`` reads the written file), keys in file order."""
    c = choices
    raw: dict[str, Any] = {"name": c.name, "description": c.description, "client": c.client, "design": c.design}
    raw["segments"] = list(c.segments)
    raw["unit"] = c.unit
    if tuple(c.csat_scale) != tuple(_default(Spec, "csat_scale")):
        raw["csat_scale"] = list(c.csat_scale)
    raw["arms"] = {"control": c.control, "treatment": c.treatment, "program": c.program,
                   "planned_split": c.planned_split}  # fmt: skip
    data: dict[str, Any] = {"source": c.source}
    if c.dayfirst:
        data["dayfirst"] = True
    if c.delimiter:
        data["delimiter"] = c.delimiter
    if c.encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
        data["encoding"] = c.encoding
    if c.columns:
        data["columns"] = dict(c.columns)
    raw["data"] = data
    periods = {}
    for key, span in (("baseline", c.baseline), ("pilot", c.pilot)):
        if span is not None:
            periods[key] = {"start": span[0], "end": span[1]}
    raw["periods"] = periods
    raw["repeat_contacts"] = {"window_days": c.window_days, "same_reason": c.same_reason}
    metrics = []
    for m in c.metrics:
        entry: dict[str, Any] = {"name": m.name, "role": m.role, "min_effect": float(m.threshold)}
        if m.direction is not None:
            entry["direction"] = m.direction
        if m.source != "column":
            entry["source"] = m.source
        metrics.append(entry)
    raw["metrics"] = metrics
    raw["decision"] = {"prob_improve": c.prob_improve}
    raw["business"] = {"cost_per_contact": c.cost_per_contact, "currency": c.currency,
                       "contacts_per_month": c.contacts_per_month,
                       "cost_per_agent_minute": c.cost_per_agent_minute,
                       "program_cost_per_month": c.program_cost_per_month}  # fmt: skip
    raw["sampler"] = {"draws": c.draws, "tune": c.tune, "chains": c.chains, "seed": c.seed}
    raw["output"] = {"runs_dir": c.runs_dir}
    return raw


# ------------------------------------------------------------------------------------ TOML text


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) >= 1000 else repr(v)
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {v!r} to TOML")


def _key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k, ensure_ascii=False)


def _comment(text: str) -> str:
    return " ".join(str(text).split())


def _line(key: str, value: Any, comment: str = "", width: int = COMMENT_AT) -> str:
    text = f"{_key(key)} = {_value(value)}"
    if comment:
        pad = max(width - len(text), 3 if len(text) > width else 1)
        text += " " * pad + "# " + _comment(comment)
    return text


def _units() -> str:
    """Units of ``min_effect`` over the registry, as the demo file lists them (CSAT points, pp, ...)."""
    units = [f"{m.label} {m.unit}" if m.unit == "points" else m.unit for m in metric_registry.registry().values()]
    return ", ".join(dict.fromkeys(units))


def _header(c: ExperimentChoices) -> list[str]:
    design = {"ab": "A/B pilot", "did": "Difference-in-differences pilot"}[c.design]
    who = f"{c.unit}s" if c.design == "ab" else f"{c.unit}s switching"
    first = f"{design}: {who} on the current program ({c.control!r}) or on {c.program}-based QA ({c.treatment!r})."
    return [
        "# " + _comment(first),
        "# Check it on the data:  qmsprint validate <this file>; run it:  qmsprint run <this file>",
    ]


def write_experiment_toml(choices: ExperimentChoices) -> str:
    """The experiment file's text: commented TOML in the form of ``experiments/demo_ab.toml``.

    ``qmsprint.spec.parse_spec(tomllib.loads(text))`` gives the spec of :func:`build_spec_dict`.
    """
    c = choices
    raw = build_spec_dict(c)
    out = _header(c)
    out += [_line("name", raw["name"]), _line("description", raw["description"]), _line("client", raw["client"])]
    out.append(_line("design", raw["design"], "ab | did"))
    out.append(f"# break results down by ({', '.join(SEGMENT_COLUMNS)})")
    out.append(_line("segments", raw["segments"]))
    out.append(_line("unit", raw["unit"], "what was randomized: agent | team | site"))
    if "csat_scale" in raw:
        out.append(_line("csat_scale", raw["csat_scale"], "lowest and highest CSAT answer"))
    arms = raw["arms"]
    out += ["", "[arms]", _line("control", arms["control"], "value of the data's arm column on the current program")]
    out.append(_line("treatment", arms["treatment"], "value on the new program"))
    out.append(_line("program", arms["program"], "behavior | outcome"))
    out.append(_line("planned_split", arms["planned_split"], f"planned share of {c.unit}s on the new program"))
    data = raw["data"]
    out += ["", "[data]", _line("source", data["source"], "file or glob (CSV/Parquet), relative to this file")]
    if "dayfirst" in data:
        out.append(_line("dayfirst", True, "dates are day-first (31/01/2026)"))
    if "delimiter" in data:
        out.append(_line("delimiter", data["delimiter"], "field separator of the CSV file"))
    if "encoding" in data:
        out.append(_line("encoding", data["encoding"], "text encoding of the file"))
    out += [
        '# connection = "duckdb:///warehouse.db" and table = "interactions" read from a database instead;',
        '#   a warehouse: connection = "postgres://analyst@db.example:5432/cx" (password from PGPASSWORD or ~/.pgpass)',
        '# engine = "spark" validates and reduces on Spark (local, or spark_remote = "sc://host:15002");'
        " only cells return",
    ]
    if "columns" in data:
        out += ["", "[data.columns]                # qmsprint's name = your column's name"]
        width = max(COMMENT_AT, *(len(_line(k, v)) + 2 for k, v in data["columns"].items()))
        out += [_line(k, v, c.column_notes.get(k, ""), width) for k, v in data["columns"].items()]
    else:
        out.append('# [data.columns] maps qmsprint\'s names to yours, e.g.  csat = "Survey Score"')
    out += ["", "[periods]"]
    periods = raw["periods"]
    if "baseline" in periods:
        out.append(_line("baseline", periods["baseline"], "before the pilot: balance and A/A checks"))
    if "pilot" in periods:
        out.append(_line("pilot", periods["pilot"]))
    if not periods:
        first, last = c.data_range or (dt.date(2026, 3, 2), dt.date(2026, 5, 24))
        span = f" (the data runs from {first} to {last})" if c.data_range else ""
        out.append(f"# no periods: every row is in the pilot{span}; to set them:")
        out.append("# baseline = { start = ..., end = ... }   # before the pilot: balance and A/A checks")
        out.append(f"# pilot = {_value({'start': first, 'end': last})}")
    rc = raw["repeat_contacts"]
    out += ["", "[repeat_contacts]", _line("window_days", rc["window_days"]), _line("same_reason", rc["same_reason"])]
    out += ["", "# role: primary | secondary | guardrail; direction defaults per metric;",
            f"# min_effect: smallest effect worth acting on ({_units()})"]  # fmt: skip
    for i, m in enumerate(raw["metrics"]):
        out += ([] if i == 0 else [""]) + ["[[metrics]]"] + [_line(k, v) for k, v in m.items()]
    out += ["", "", "[decision]"]
    why = "P(better) to call an improvement (P(worse): a harm);"
    out.append(_line("prob_improve", raw["decision"]["prob_improve"], why))
    out.append(" " * COMMENT_AT + "# a program that does nothing is called either way about 1 time in 20")
    b = raw["business"]
    out += ["", "[business]", _line("cost_per_contact", b["cost_per_contact"]), _line("currency", b["currency"])]
    out.append(_line("contacts_per_month", b["contacts_per_month"]))
    out.append(
        _line(
            "cost_per_agent_minute",
            b["cost_per_agent_minute"],
            "loaded cost of a minute of agent time: prices the handle-time change",
        )
    )
    out.append(
        _line("program_cost_per_month", b["program_cost_per_month"], "running the new program (coaching time, tooling)")
    )
    s = raw["sampler"]
    out += [
        "",
        "[sampler]",
        _line("draws", s["draws"], "draws per chain kept for every effect (the diagnosis sizes its own)"),
    ]
    out.append(_line("tune", s["tune"], "warm-up steps per chain (nutpie's default); every fit is still"))
    out.append(_line("chains", s["chains"], "checked against R-hat <= 1.01, ESS >= 400 and no divergences"))
    out.append(_line("seed", s["seed"]))
    out += ["", "[output]", _line("runs_dir", raw["output"]["runs_dir"], "run folders go here (relative to this file)")]
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------------ from a suggestion


def default_role(name: str, chosen: list[str]) -> Role:
    """Role a metric gets by default among the ``chosen`` ones.

    Operational measures (continuous, e.g. handle time) are guardrails; metrics derived from the
    contact log (repeat contacts) and the first ordinal survey metric (CSAT) are primary; the rest
    are secondary.
    """
    m = metric_registry.get(name)
    if m.family in ("continuous", "gamma"):  # handle time, whichever likelihood models it
        return "guardrail"
    if m.column is None:
        return "primary"
    surveys = [n for n in chosen if metric_registry.get(n).family == "ordinal" and metric_registry.get(n).survey]
    return "primary" if surveys[:1] == [name] else "secondary"


def available_metrics(columns: dict[str, str] | list[str]) -> list[str]:
    """Registered metrics whose input columns are all mapped (repeat contacts need customer ids)."""
    have = set(columns)
    return [n for n in metric_registry.names() if set(metric_registry.get(n).inputs(Metric(name=n))) <= have]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "pilot"


def choices_from_suggestion(
    s: Suggestion,
    *,
    source: str | Path | None = None,
    toml_dir: str | Path | None = None,
    name: str | None = None,
    **overrides: Any,
) -> ExperimentChoices:
    """Choices that accept a suggestion as it is (the builder's starting point; ``qmsprint init``'s file).

    Parameters
    ----------
    s
        The suggestion.
    source
        Data file to name in the experiment file (default: the suggestion's source file).
    toml_dir
        Folder the experiment file goes to: ``source`` is then written relative to it.
    name
        Pilot name (default: from the file name).
    **overrides
        Any :class:`ExperimentChoices` field.

    Raises
    ------
    ValueError
        When no ``source`` is given and the suggestion was not made from a file.

    """
    src = source if source is not None else s.source
    if src is None:
        raise ValueError("give the data file to name in the experiment file (source=...)")
    src_text = str(src)
    if toml_dir is not None:
        src_text = Path(os.path.relpath(Path(src).resolve(), Path(toml_dir).resolve())).as_posix()
    columns = s.columns
    names = available_metrics(columns)
    metrics = [MetricChoice(n, default_role(n, names)) for n in names]
    metrics.sort(key=lambda m: ROLES.index(m.role))
    notes = {k: f"{m.confidence:.0%} sure: {m.reason}" for k, m in s.mapping.items()}
    span = (s.first_day, s.last_day) if s.first_day is not None and s.last_day is not None else None
    values: dict[str, Any] = {
        "name": name or _slug(Path(src_text).stem),
        "source": src_text,
        "control": s.control or "control",
        "treatment": s.treatment or "treatment",
        "metrics": metrics,
        "segments": [c for c in DEFAULT_SEGMENTS if c in columns],
        "columns": columns,
        "column_notes": notes,
        "dayfirst": s.dayfirst,
        "delimiter": s.delimiter,
        "encoding": s.encoding,
        "csat_scale": s.csat_scale or _default(Spec, "csat_scale"),
        "data_range": span,
    }
    values.update(overrides)
    return ExperimentChoices(**values)
