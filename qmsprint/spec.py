"""Experiment file (TOML) -> typed, validated :class:`Spec`.

All defaults live in this module and the section modules it includes (:mod:`qmsprint.spec_data`,
:mod:`qmsprint.spec_rollout`, :mod:`qmsprint.spec_sampler`). Every problem in a file is reported at
once with its key path (``metrics[1].min_effect``) and what was expected; see :func:`load_spec`.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError, field_validator

from qmsprint import metrics as metric_registry
from qmsprint.errors import Problem, SpecError
from qmsprint.metrics import MetricDef
from qmsprint.metrics.custom_entries import register_entries
from qmsprint.metrics.custom_fields import MetricKeys
from qmsprint.spec_base import Strict
from qmsprint.spec_data import data_problems
from qmsprint.spec_rollout import Monitor, PrePost, Waves, rollout_problems
from qmsprint.spec_sampler import Sampler

SEGMENT_COLUMNS = ("channel", "contact_reason", "team", "site")

# Canonical non-metric columns of the interaction table (see qmsprint.data.schema for types).
BASE_COLUMNS = (
    "interaction_id",
    "timestamp",
    "customer_id",
    "agent_id",
    "team",
    "site",
    "channel",
    "contact_reason",
    "arm",
    "qa_score",
    "behavior_score",
    "auto_score",  # a score of every interaction (speech / text analytics), 0-100: QA reliability
    "tenure_months",
)
ITEM_PREFIX = "item_"


def canonical_columns() -> tuple[str, ...]:
    """Canonical column names: the base columns plus each registered metric's input column."""
    extra = [c for m in metric_registry.registry().values() for c in m.source_columns()]
    return BASE_COLUMNS + tuple(c for c in dict.fromkeys(extra) if c not in BASE_COLUMNS)


class Arms(Strict):
    """Which value of the data's ``arm`` column is which program."""

    control: str = Field(description="arm value of units on the current checklist program")
    treatment: str = Field(description="arm value of units on the new program")
    program: Literal["behavior", "outcome"] = "behavior"
    control_label: str = "Checklist QA"
    treatment_label: str | None = None
    planned_split: float = Field(0.5, gt=0, lt=1, description="planned share of units treated")

    @property
    def treatment_display(self) -> str:
        """Label of the new program."""
        return self.treatment_label or f"{self.program.capitalize()}-based QA"


class DataSource(Strict):
    """Where the interactions are and how their columns map to qmsprint's."""

    source: str | None = Field(None, description="file path or glob (CSV/Parquet), relative to the spec file")
    connection: str | None = Field(
        None, description="database URL, e.g. duckdb:///path.db or postgres://user@host:5432/db (+ table)"
    )
    table: str | None = Field(None, description="table to read: in the database, or in Spark's catalog")
    engine: Literal["duckdb", "spark"] = Field(
        "duckdb", description="where files are validated and reduced: in-process DuckDB, or Spark (only cells return)"
    )
    spark_remote: str | None = Field(None, description='Spark Connect URL (sc://host:15002) for engine = "spark"')
    format: Literal["auto", "csv", "parquet"] = "auto"
    columns: dict[str, str] = Field(default_factory=dict, description="qmsprint name = client column name")
    dayfirst: bool = False
    delimiter: str | None = None
    encoding: str = "utf-8"


class Period(Strict):
    """A closed date range."""

    start: dt.date
    end: dt.date


class Periods(Strict):
    """Baseline (DiD only) and pilot periods."""

    baseline: Period | None = None
    pilot: Period | None = None


class RepeatContacts(Strict):
    """How repeat contacts are derived from the contact log."""

    window_days: int = Field(7, ge=1, le=90)
    same_reason: bool = False


class Metric(MetricKeys):  # + value_per_unit and the keys of a custom metric (qmsprint.metrics.custom_fields)
    """One outcome to estimate."""

    name: str
    role: Literal["primary", "secondary", "guardrail"] = "primary"
    direction: Literal["higher", "lower"] | None = None
    min_effect: float | None = Field(None, gt=0)
    source: Literal["column", "no_repeat"] = "column"

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in metric_registry.names():
            raise ValueError(f"unknown metric {v!r}; expected one of {', '.join(metric_registry.names())}")
        return v

    @property
    def info(self) -> MetricDef:
        """Registry entry of this metric (:mod:`qmsprint.metrics`)."""
        return metric_registry.get(self.name)

    @property
    def better(self) -> Literal["higher", "lower"]:
        """Direction in which the metric improves."""
        return self.direction or self.info.direction

    @property
    def threshold(self) -> float:
        """Smallest effect worth acting on, in the metric's unit."""
        return self.min_effect if self.min_effect is not None else self.info.default_min_effect


class Decision(Strict):
    """Decision thresholds (defaults as experimentation platforms use)."""

    prob_improve: float = Field(
        0.975, gt=0.5, lt=1, description="probability needed to call an improvement (or a change for the worse)"
    )
    prob_equivalent: float = Field(0.9, gt=0.5, lt=1, description="probability inside the ROPE to call no change")
    rope_fraction: float = Field(1.0, gt=0, description="ROPE half-width as a fraction of min_effect")
    guardrail_prob_worse: float = Field(0.9, gt=0.5, lt=1, description="probability of harm that vetoes")
    guardrail_max_risk: float = Field(
        0.1, gt=0, lt=0.5, description="a guardrail holds only when P(harm beyond its margin) is at most this"
    )
    prob_meaningful: float = Field(
        0.8, gt=0.5, lt=1, description="scale up needs P(effect >= min_effect) at least this on one primary metric"
    )
    max_expected_loss: float = Field(
        0.1,
        gt=0,
        lt=1,
        description="... or an expected shortfall from min_effect below this fraction of min_effect (0.1 = a tenth)",
    )
    min_units_per_arm: int = Field(8, ge=1)


class Business(Strict):
    """Business inputs for the money behind a recommendation."""

    cost_per_contact: float = Field(5.0, ge=0)
    currency: str = "EUR"
    contacts_per_month: float = Field(100_000, ge=0)
    cost_per_agent_minute: float = Field(
        0.0, ge=0, description="cost of one minute of agent time: prices the handle-time change (0 = not counted)"
    )
    program_cost_per_month: float = Field(0.0, ge=0, description="running cost of the new program per month")


class Model(Strict):
    """Model settings."""

    hdi_prob: float = Field(0.94, gt=0.5, lt=1)
    team_effects: bool = True
    baseline_adjust: bool = Field(
        True, description="A/B with a baseline period: each unit's baseline level enters the model (narrower intervals)"
    )
    adjust_for: list[Literal["channel", "contact_reason"]] = Field(default_factory=list)
    reweight_by: list[Literal["channel", "contact_reason"]] = Field(
        default_factory=list, description="post-stratify survey metrics to all customers by these"
    )
    priors: dict[str, float] = Field(default_factory=dict, description="prior scale overrides by name")
    prior_from: str | None = Field(None, description="earlier run folder whose posterior becomes the prior")


class BaselineRates(Strict):
    """Stated baseline rates for `qmsprint design` when there is no baseline data.

    Only the metrics of the spec need their rate: CSAT ``csat_mean`` (``csat_sd``), NPS
    ``nps_promoters`` and ``nps_detractors``, FCR ``fcr_rate``, repeat contacts ``repeat_rate``,
    handle time ``handle_time_mean`` and ``handle_time_sd``. Shares are fractions (0.72, not 72).
    """

    interactions_per_agent_week: float = Field(gt=0, description="contacts one agent handles in a week")
    response_rate: float = Field(0.15, gt=0, le=1, description="share of contacts with a survey answer")
    icc: float = Field(0.05, ge=0, lt=1, description="share of an outcome's variance between agents")
    unit_share: float = Field(
        0.3, ge=0, le=1, description="team/site units: share of the between-agent variance between units"
    )
    period_icc: float = Field(0.0, ge=0, lt=1, description="DiD: share of variance from unit x period shocks")
    agents_per_unit: float = Field(10.0, ge=1, description="team/site units: agents per unit")
    baseline_weeks: float = Field(8.0, gt=0, description="DiD: weeks of baseline data the pilot will have")
    csat_mean: float | None = None
    csat_sd: float | None = Field(None, gt=0)
    nps_promoters: float | None = Field(None, ge=0, le=1)
    nps_detractors: float | None = Field(None, ge=0, le=1)
    fcr_rate: float | None = Field(None, gt=0, lt=1)
    repeat_rate: float | None = Field(None, gt=0, lt=1)
    handle_time_mean: float | None = Field(None, gt=0)
    handle_time_sd: float | None = Field(None, gt=0)


class DesignSettings(Strict):
    """Settings of `qmsprint design` and `qmsprint assign`."""

    agents_per_arm: list[int] = Field(default_factory=lambda: [10, 20, 40, 80])
    weeks: list[int] = Field(default_factory=lambda: [4, 8, 12])
    simulations: int = Field(1000, ge=10)
    effect_prior_sd: float = Field(
        0.5, ge=0, description="design prior: sd of the true effect as a fraction of min_effect (centred on min_effect)"
    )
    target_assurance: float = Field(0.8, gt=0, lt=1)
    strata: list[str] = Field(default_factory=lambda: ["team"])
    baseline_rates: BaselineRates | None = Field(
        None, description="stated rates, used when there is no baseline data (or for metrics it lacks)"
    )


class Output(Strict):
    """Where runs go."""

    runs_dir: str = "runs"


class Spec(Strict):
    """A whole pilot, as one experiment file describes it."""

    name: str = Field(min_length=1)
    description: str = ""
    client: str = ""
    design: Literal["ab", "did", "waves", "prepost"]
    unit: Literal["agent", "team", "site"] = "agent"
    arms: Arms
    data: DataSource
    periods: Periods = Field(default_factory=Periods)
    repeat_contacts: RepeatContacts = Field(default_factory=RepeatContacts)
    csat_scale: tuple[int, int] = (1, 5)
    # modules that define extra metrics (each a module with a METRIC, see qmsprint.metrics):
    # a dotted module name, or a .py file relative to the experiment file
    metric_modules: list[str] = Field(default_factory=list)
    metrics: list[Metric] = Field(min_length=1)
    segments: list[Literal["channel", "contact_reason", "team", "site"]] = Field(default_factory=list)
    decision: Decision = Field(default_factory=Decision)
    business: Business = Field(default_factory=Business)
    sampler: Sampler = Field(default_factory=Sampler)
    model: Model = Field(default_factory=Model)
    design_settings: DesignSettings = Field(default_factory=DesignSettings, alias="design_grid")
    output: Output = Field(default_factory=Output)
    waves: Waves = Field(default_factory=Waves)
    prepost: PrePost = Field(default_factory=PrePost)
    monitor: Monitor = Field(default_factory=Monitor)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    # Set by load_spec: folder relative paths are resolved against. Not part of the file.
    base_dir: Path = Field(default=Path("."), exclude=True)
    # Set by load_spec: the experiment file itself (run bundles keep its text as given). Not part of the file.
    source_path: Path | None = Field(default=None, exclude=True)

    def metric(self, name: str) -> Metric:
        """The metric called ``name``."""
        for m in self.metrics:
            if m.name == name:
                return m
        raise KeyError(name)

    @property
    def primary(self) -> list[Metric]:
        """Metrics with role ``primary``."""
        return [m for m in self.metrics if m.role == "primary"]

    def resolve(self, path: str) -> Path:
        """A path from the file, resolved against the spec file's folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p).resolve()

    @property
    def runs_dir(self) -> Path:
        """Folder new runs are written under."""
        return self.resolve(self.output.runs_dir)


# --------------------------------------------------------------------------------------------
# Loading with every problem reported at once
# --------------------------------------------------------------------------------------------


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(file)"


def _pydantic_problems(err: ValidationError) -> list[Problem]:
    problems = []
    for e in err.errors():
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-after")))
        where = _loc(loc)
        kind = e["type"]
        if kind == "extra_forbidden":
            msg = "unknown key (check the spelling; see the documented keys in qmsprint/spec.py)"
        elif kind == "missing":
            msg = "required key is missing"
        else:
            msg = e["msg"]
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, ") :]
            if "input" in e and kind not in ("missing",) and not isinstance(e["input"], dict | list):
                msg += f" (got {e['input']!r})"
        problems.append(Problem(where, msg))
    return problems


def _semantic_problems(raw: dict[str, Any]) -> list[Problem]:
    """Cross-field checks, done on the raw mapping so they run even when fields fail."""
    problems: list[Problem] = []
    metrics = raw.get("metrics")
    if isinstance(metrics, list):
        seen: dict[str, int] = {}
        for i, m in enumerate(metrics):
            if isinstance(m, dict) and isinstance(m.get("name"), str):
                name = m["name"]
                if name in seen:
                    problems.append(
                        Problem(f"metrics[{i}].name", f"metric {name!r} is named twice (also metrics[{seen[name]}])")
                    )
                else:
                    seen[name] = i
    arms = raw.get("arms")
    if isinstance(arms, dict) and arms.get("control") is not None and arms.get("control") == arms.get("treatment"):
        problems.append(Problem("arms.treatment", "treatment arm must differ from the control arm"))
    periods = raw.get("periods") if isinstance(raw.get("periods"), dict) else {}
    for key in ("baseline", "pilot"):
        p = periods.get(key)
        if isinstance(p, dict) and isinstance(p.get("start"), dt.date) and isinstance(p.get("end"), dt.date):
            if p["start"] > p["end"]:
                problems.append(Problem(f"periods.{key}.end", f"end {p['end']} is before start {p['start']}"))
    b, p = periods.get("baseline"), periods.get("pilot")
    if isinstance(b, dict) and isinstance(p, dict):
        bend, pstart = b.get("end"), p.get("start")
        if isinstance(bend, dt.date) and isinstance(pstart, dt.date) and bend >= pstart:
            problems.append(
                Problem(
                    "periods.baseline",
                    f"baseline must end before the pilot starts (ends {bend}, pilot starts {pstart})",
                )
            )
    if raw.get("design") == "did":
        if not isinstance(b, dict):
            problems.append(Problem("periods.baseline", "a difference-in-differences design needs a baseline period"))
        if not isinstance(p, dict):
            problems.append(Problem("periods.pilot", "a difference-in-differences design needs a pilot period"))
    data = raw.get("data")
    if isinstance(data, dict):
        problems += data_problems(data, canonical_columns(), ITEM_PREFIX)
    problems += rollout_problems(raw)
    scale = raw.get("csat_scale")
    if isinstance(scale, list) and len(scale) == 2 and all(isinstance(s, int) for s in scale):
        if not (scale[0] < scale[1] and scale[1] - scale[0] <= 10):
            problems.append(
                Problem("csat_scale", f"expected [low, high] with low < high, at most 11 levels (got {scale})")
            )
    return problems


def _register_metric_modules(modules: Any, base_dir: Path) -> list[Problem]:
    """Register the metrics of ``metric_modules`` (before metric names are checked)."""
    if not modules:
        return []
    if not isinstance(modules, list) or not all(isinstance(m, str) for m in modules):
        return []  # the schema reports the type problem
    problems = []
    for i, name in enumerate(modules):
        where = f"metric_modules[{i}]"
        try:
            if name.endswith(".py"):
                path = Path(name) if Path(name).is_absolute() else base_dir / name
                if not path.is_file():
                    problems.append(Problem(where, f"no such file: {path}"))
                    continue
                metric_registry.register_file(path)
            else:
                metric_registry.register(name)
        except Exception as err:  # noqa: BLE001 - any import error is the user's to fix
            problems.append(
                Problem(where, f"could not load metric module {name!r}: {type(err).__name__}: {err}".rstrip(": "))
            )
    return problems


def parse_spec(raw: dict[str, Any], base_dir: Path | str = ".") -> Spec:
    """Validate a mapping (as read from TOML) into a :class:`Spec`.

    Raises
    ------
    SpecError
        With every problem found, each with its key path.

    """
    problems: list[Problem] = _register_metric_modules(raw.get("metric_modules"), Path(base_dir))
    raw, custom = register_entries(raw, tuple(metric_registry.BUILTIN))  # custom [[metrics]] entries
    problems += custom
    spec: Spec | None = None
    try:
        spec = Spec.model_validate({**raw, "base_dir": Path(base_dir)})
    except ValidationError as err:
        problems += _pydantic_problems(err)
    problems += _semantic_problems(raw)
    # a custom entry with problems is not registered: no "unknown metric" on top of its own problems
    declared = {p.where.split(".")[0] for p in custom}
    problems = [
        p
        for p in problems
        if not (p.where.endswith("].name") and p.where[:-5] in declared and p.message.startswith("unknown metric"))
    ]
    if problems:
        # de-duplicate, keep order
        uniq = list(dict.fromkeys(problems))
        raise SpecError("invalid experiment file", uniq)
    assert spec is not None
    return spec


def load_spec(path: str | Path) -> Spec:
    """Read and validate an experiment file.

    Parameters
    ----------
    path
        A ``.toml`` experiment file.

    Returns
    -------
    Spec
        The validated spec; relative paths in it resolve against the file's folder.

    Raises
    ------
    SpecError
        If the file is missing, is not TOML, or has any invalid key.

    """
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"experiment file not found: {path}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise SpecError(f"{path}: not UTF-8 text ({err.reason})") from None
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"{path}: not valid TOML: {err}") from None
    try:
        spec = parse_spec(raw, base_dir=path.resolve().parent)
    except SpecError as err:
        raise SpecError(f"invalid experiment file {path}", err.problems) from None
    return spec.model_copy(update={"source_path": path.resolve()})


def spec_to_dict(spec: Spec) -> dict[str, Any]:
    """The spec as plain JSON-able data (as run, defaults filled in)."""
    return spec.model_dump(mode="json", by_alias=True, exclude={"base_dir", "source_path"})
