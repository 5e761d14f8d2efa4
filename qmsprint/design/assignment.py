"""Who gets the new program: stratified, blocked randomization of units with a balance table.

Units (``unit``: agent, team or site) are randomized within strata (``design_grid.strata``,
default team; strata equal to or finer than the unit are ignored) and, inside each stratum,
within blocks of units with similar baseline performance: units are sorted by a score (the mean
of the z-scores of their baseline outcomes among the spec's metrics, in the good direction,
blended 2:1 with tenure's z-score where tenure is known), cut into blocks of ``b`` units (b the
denominator of ``planned_split``, e.g. pairs for 50/50) and each block gets exactly
``b x planned_split`` treated units at random. Units left over in each stratum are pooled,
sorted and blocked again, so every stratum's treated count is within one unit of its planned
share. The seed (default ``sampler.seed``) makes the assignment reproducible. The balance table
holds the baseline outcomes (every registered metric the data has), volume, QA score and tenure
by arm with standardized differences ``d``; ``|d| > 0.1`` is flagged ``check`` and ``|d| > 0.2``
``imbalanced`` (Austin 2009's conventions).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qmsprint import metrics as metric_registry
from qmsprint.design.baseline import history_frame, natural_values
from qmsprint.errors import BundleError, DesignError, Problem
from qmsprint.health import standardized_differences, unit_column
from qmsprint.spec import Metric, Spec
from qmsprint.stats import modal_by
from qmsprint.words import counted

COVARIATES = ("qa_score", "tenure_months")  # unit-level covariates besides the outcomes


def unit_frame(frame: pd.DataFrame, spec: Spec) -> pd.DataFrame:
    """One row per unit with its strata attributes and baseline covariates, from interaction rows.

    Columns: ``unit``, ``team``/``site`` (modal), ``volume``, the spec's metrics on their natural
    scale (NPS points, pp for binary metrics), ``qa_score`` and ``tenure_months`` where the data
    has them, and every other registered metric the data has (read as its default source).
    """
    unit = unit_column(spec)
    f = frame.copy()
    f["_unit"] = f[unit].astype(str)
    g = f.groupby("_unit", sort=True)
    out = pd.DataFrame(index=g.size().index)
    out["volume"] = g.size().astype(float)
    for col in ("team", "site"):
        if col in f and col != unit:
            out[col] = modal_by(f["_unit"], f[col])

    def add(m: Metric) -> None:
        obs = m.info.observations(f, m, spec)
        if obs is not None:
            out[m.name] = natural_values(obs[0], obs[1], m.info, spec).groupby(f["_unit"]).mean()

    for m in spec.metrics:
        add(m)
    for col in COVARIATES:
        if col in f:
            out[col] = f[col].astype(float).groupby(f["_unit"]).mean()
    for name in metric_registry.names():
        if name not in out:
            add(Metric(name=name))
    out.index.name = "unit"
    return out.reset_index()


def _zscore(x: pd.Series) -> pd.Series:
    sd = x.std(ddof=0)
    z = (x - x.mean()) / sd if sd and np.isfinite(sd) and sd > 0 else x * 0.0
    return z.fillna(0.0)


def _score(units: pd.DataFrame, spec: Spec) -> pd.Series:
    parts = []
    for m in spec.metrics:
        if m.name in units and units[m.name].notna().any():
            z = _zscore(units[m.name])
            parts.append(z if m.better == "higher" else -z)
    perf = _zscore(sum(parts) / len(parts)) if parts else pd.Series(0.0, index=units.index)
    if "tenure_months" in units and units["tenure_months"].notna().any():
        return (2 * perf + _zscore(units["tenure_months"])) / 3
    return perf


@dataclass
class AssignmentResult:
    """What :func:`assign_units` produced.

    Attributes
    ----------
    assignment
        One row per unit: the unit id (column named after the unit: ``agent_id``, ``team``,
        ``site``), ``team``/``site`` where known, ``stratum``, ``block``, ``arm`` (the spec's arm
        value) and ``program`` (its label).
    balance
        Standardized differences of baseline covariates between arms
        (see :func:`qmsprint.health.standardized_differences`).
    units
        The unit table with covariates, score and arm.
    seed
        Seed used.
    meta
        Counts by arm and stratum, strata used.
    notes
        Caveats.

    """

    assignment: pd.DataFrame
    balance: pd.DataFrame
    units: pd.DataFrame
    seed: int
    meta: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def summary_text(self) -> str:
        """Counts by arm, strata and the balance verdict (:func:`qmsprint.present.design.assignment_summary`)."""
        from qmsprint.present.design import assignment_summary

        return assignment_summary(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {
            "meta": json.loads(json.dumps(self.meta, default=str)),
            "seed": self.seed,
            "assignment": json.loads(self.assignment.to_json(orient="records")),
            "balance": json.loads(self.balance.to_json(orient="records")),
            "notes": list(self.notes),
            "summary": self.summary_text(),
        }

    def save(self, out_csv: str | Path) -> list[Path]:
        """Write the assignment CSV and ``<stem>.balance.csv`` beside it; never overwrites.

        Raises
        ------
        BundleError
            If either file exists, or they cannot be written (then neither is left behind).

        """
        from qmsprint.store import write_csv, write_files_atomic

        out = Path(out_csv)
        bal = out.with_name(f"{out.stem}.balance.csv")
        existing = [p for p in (out, bal) if p.exists()]
        if existing:
            raise BundleError(
                "assignment not written: would overwrite",
                [Problem(str(p), "already exists; choose a new file name") for p in existing],
            )
        files = {out: lambda p: write_csv(self.assignment, p), bal: lambda p: write_csv(self.balance, p)}
        try:
            return write_files_atomic(files, overwrite=False)
        except OSError as err:
            raise BundleError(f"could not write {out}: {err}") from None


def _randomize(units: pd.DataFrame, planned_split: float, rng: np.random.Generator) -> tuple[pd.Series, pd.Series]:
    """(treated, block) per unit: blocks of similar score within strata, leftovers pooled and blocked again."""
    frac = Fraction(planned_split).limit_denominator(10)
    b, t_per_block = frac.denominator, frac.numerator
    treated = pd.Series(False, index=units.index)
    block_id = pd.Series("", index=units.index)
    leftovers: list[int] = []
    for name, sub in units.groupby("stratum", sort=True):
        order = sub.sort_values(["score", "unit"], kind="mergesort").index.to_numpy()
        full = len(order) // b * b
        for j in range(0, full, b):
            idx = order[j : j + b]
            pick = rng.permutation(b)[:t_per_block]
            treated[idx[pick]] = True
            block_id[idx] = f"{name}#{j // b + 1}"
        leftovers += list(order[full:])
    if leftovers:
        lo = units.loc[leftovers].sort_values(["score", "unit"], kind="mergesort").index.to_numpy()
        full = len(lo) // b * b
        for j in range(0, full, b):
            idx = lo[j : j + b]
            treated[idx[rng.permutation(b)[:t_per_block]]] = True
            block_id[idx] = f"pooled#{j // b + 1}"
        rest = lo[full:]
        if len(rest):
            expected = len(rest) * planned_split
            n_t = int(math.floor(expected) + (rng.random() < expected - math.floor(expected)))
            treated[rest[rng.permutation(len(rest))[:n_t]]] = True
            block_id[rest] = "pooled#rest"
    return treated, block_id


def assign_units(spec: Spec, *, seed: int | None = None, frame: pd.DataFrame | None = None) -> AssignmentResult:
    """Randomize units to arms, stratified and blocked on baseline performance, with a balance table.

    Parameters
    ----------
    spec
        The pilot's spec (``unit``, ``arms.planned_split``, ``design_grid.strata``).
    seed
        Random seed (default ``sampler.seed``); the same seed gives the same assignment.
    frame
        Interaction rows to take the units and their baseline from (default: the spec's data,
        baseline period when there is one).

    Returns
    -------
    AssignmentResult

    Raises
    ------
    DesignError
        Unknown strata columns, a stratum with fewer units than arms, or fewer than two units.

    """
    seed = spec.sampler.seed if seed is None else int(seed)
    if frame is None:
        frame = history_frame(spec)
    unit = unit_column(spec)
    problems: list[Problem] = []
    if unit not in frame:
        problems.append(Problem(f"data.{unit}", f"column needed to assign {spec.unit}s is missing"))
    finer = {"agent": set(), "team": {"team"}, "site": {"team", "site"}}[spec.unit]
    strata = [s for s in spec.design_settings.strata if s not in finer]
    notes = []
    ignored = [s for s in spec.design_settings.strata if s in finer]
    if ignored:
        notes.append(f"strata {', '.join(ignored)} ignored: not coarser than the unit ({spec.unit})")
    for s in strata:
        if s not in frame:
            problems.append(Problem(f"design_grid.strata.{s}", "no such column in the data"))
    if problems:
        raise DesignError("cannot assign units", problems)
    units = unit_frame(frame, spec)
    for s in strata:
        if s not in units:
            modal = modal_by(frame[unit].astype(str), frame[s])
            units[s] = units["unit"].map(modal)
        units[s] = units[s].fillna("(missing)").astype(str)
    units["stratum"] = units[strata].astype(str).agg(" / ".join, axis=1) if strata else "all"
    sizes = units.groupby("stratum").size()
    small = sizes[sizes < 2]
    if len(units) < 2:
        problems.append(Problem("data", f"{counted(len(units), spec.unit)} found; at least 2 are needed (one per arm)"))
    for name, n in small.items():
        problems.append(Problem(f"stratum {name}", f"{n} {spec.unit}; at least 2 are needed (one per arm)"))
    if problems:
        raise DesignError("cannot assign units: too few units", problems)

    rng = np.random.default_rng(seed)
    units["score"] = _score(units, spec)
    frac = Fraction(spec.arms.planned_split).limit_denominator(10)
    if abs(float(frac) - spec.arms.planned_split) > 1e-9:
        notes.append(f"planned split {spec.arms.planned_split} approximated by {frac} within blocks")
    treated, block_id = _randomize(units, spec.arms.planned_split, rng)
    arms = spec.arms
    units["arm"] = np.where(treated, arms.treatment, arms.control)
    units["block"] = block_id
    units["program"] = np.where(treated, arms.treatment_display, arms.control_label)
    cols = ["unit"] + [c for c in ("team", "site") if c in units and c != unit] + ["stratum", "block", "arm", "program"]
    assignment = units[cols].rename(columns={"unit": unit}).sort_values(unit, kind="mergesort").reset_index(drop=True)
    balance = standardized_differences(units, "arm", arms.treatment, arms.control)
    n_t, n_c = int(treated.sum()), int((~treated).sum())
    if min(n_t, n_c) < spec.decision.min_units_per_arm:
        notes.append(
            f"only {min(n_t, n_c)} {spec.unit}s in the smaller arm; decisions need at least "
            f"{spec.decision.min_units_per_arm} (decision.min_units_per_arm)"
        )
    by_stratum = units.groupby(["stratum", "arm"]).size().unstack(fill_value=0).reset_index().to_dict(orient="records")
    meta = {
        "unit": spec.unit,
        "n_units": len(units),
        "treatment": n_t,
        "control": n_c,
        "treatment_label": arms.treatment_display,
        "control_label": arms.control_label,
        "planned_split": arms.planned_split,
        "strata": strata,
        "by_stratum": by_stratum,
    }
    return AssignmentResult(assignment, balance, units, seed, meta, notes)
