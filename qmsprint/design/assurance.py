"""How many agents and weeks a pilot needs: assurance over a grid of sizes (:func:`plan_pilot`).

The question a consultant must answer before a pilot: *with k agents per arm for w weeks, how
likely is the pilot to end with a decisive result?* Here "decisive" means what the decision rule
needs: if the new program improves a metric by exactly its ``min_effect`` (the smallest effect
worth acting on), the pilot's posterior probability of an improvement reaches
``decision.prob_improve``. Assurance is that probability, for each metric and each cell of the
grid ``design_grid.agents_per_arm`` x ``design_grid.weeks``; the overall assurance of a size is
the smallest over the primary metrics (each must reach a verdict on its own), and the recommended
size is the cheapest (agents x weeks) whose overall assurance reaches
``design_grid.target_assurance``.

1. **Baseline** (:mod:`qmsprint.design.baseline`): from the baseline period of the data, or the
   stated ``design_grid.baseline_rates`` (also for metrics the data lacks).
2. **Closed form** and 3. **simulation** per metric and grid cell
   (:mod:`qmsprint.design.simulation`): ``design_grid.simulations`` pilots per cell; the simulated
   assurance (with its Monte-Carlo standard error) refines the closed form and the recommendation
   uses it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from qmsprint.design.baseline import Baseline, baseline_from_rates, fit_baseline, load_baseline_frame
from qmsprint.design.simulation import closed_form, grid_cell, simulate_cell
from qmsprint.errors import DesignError, Problem
from qmsprint.progress import Progress, silent
from qmsprint.spec import Spec

if TYPE_CHECKING:  # pragma: no cover
    import plotly.graph_objects as go


@dataclass
class PlanResult:
    """What :func:`plan_pilot` found.

    Attributes
    ----------
    table
        One row per metric x agents per arm x weeks, plus ``metric = "overall"`` rows (the smallest
        assurance over the primary metrics): ``assurance`` (simulated) with ``assurance_se``,
        ``assurance_closed`` (closed form), units per arm, cost in agent-weeks, observations per
        agent, ICC (between units for A/B; of unit x period shocks for DiD, where stable unit
        levels cancel) and design effect ``1 + (m - 1) ICC`` with ``m`` observations per unit, and
        ``reaches_target``.
    recommended
        The cheapest size reaching the target (``agents_per_arm``, ``weeks``, ``assurance``,
        ``cost``), or None when no size of the grid does.
    baseline
        The fitted baseline parameters.
    meta
        Design, unit, target, decision threshold, simulations, seed.
    notes
        Caveats (metrics without baseline, grid cells with too few units).

    """

    table: pd.DataFrame
    recommended: dict[str, Any] | None
    baseline: Baseline
    meta: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def summary_text(self) -> str:
        """Plain-language summary with the recommended size (:func:`qmsprint.present.design.plan_summary`)."""
        from qmsprint.present.design import plan_summary

        return plan_summary(self)

    def figure(self) -> go.Figure:
        """Assurance by size, one panel per metric (:func:`qmsprint.present.design.assurance_figure`)."""
        from qmsprint.present.design import assurance_figure

        return assurance_figure(self.table, self.meta["target_assurance"])

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (``design.json`` of a run bundle)."""
        return {
            "meta": json.loads(json.dumps(self.meta, default=str)),
            "recommended": self.recommended,
            "baseline": self.baseline.to_dict(),
            "table": json.loads(self.table.to_json(orient="records")),
            "notes": list(self.notes),
            "summary": self.summary_text(),
        }

    def save(self, out_dir: str | Path) -> list[Path]:
        """Write ``design.json``, ``assurance.csv`` and ``assurance.html`` into a new folder.

        Raises
        ------
        BundleError
            If ``out_dir`` already exists (nothing is overwritten).

        """
        from qmsprint.store import write_csv, write_files_atomic, write_new_folder

        def write(folder: Path) -> list[str]:
            files = {
                "design.json": json.dumps(self.to_dict(), indent=2),
                "assurance.csv": lambda path: write_csv(self.table, path),
                "assurance.html": self.figure().to_html(include_plotlyjs=True, full_html=True),
            }
            write_files_atomic({folder / name: content for name, content in files.items()})
            return list(files)

        return write_new_folder(out_dir, write, "designs")


def _choose_baseline(spec: Spec, baseline: pd.DataFrame | Baseline | None, notes: list[str]) -> Baseline:
    """The baseline to plan from: given, fitted on rows (stated rates for metrics they lack), or stated."""
    if isinstance(baseline, Baseline):
        return baseline
    ds = spec.design_settings
    frame, why = (baseline, "") if baseline is not None else load_baseline_frame(spec)
    if frame is not None and len(frame):
        base = fit_baseline(frame, spec)
        if ds.baseline_rates is not None:
            missing = [m for m in spec.metrics if m.name not in base.metrics]
            if missing:
                stated = baseline_from_rates(ds.baseline_rates, spec.model_copy(update={"metrics": missing}))
                base.metrics.update(stated.metrics)
                notes.append(f"stated rates used for {', '.join(m.name for m in missing)} (not in the baseline data)")
        return base
    if ds.baseline_rates is not None:
        base = baseline_from_rates(ds.baseline_rates, spec)
        if why:
            notes.append(f"no baseline data ({why}); using the stated rates")
        return base
    raise DesignError(
        "cannot plan the pilot: no baseline data and no stated rates",
        [
            Problem("data", why or "no baseline interactions"),
            Problem("design_grid.baseline_rates", "state the baseline rates when there is no baseline data"),
        ],
    )


def _overall(table: pd.DataFrame, primary: set[str]) -> pd.DataFrame:
    """Per size the smallest assurance over the primary metrics (with the limiting metric's MC error)."""
    pt = table[table["metric"].isin(primary)]
    over = (
        pt.groupby(["agents_per_arm", "weeks"], sort=True)
        .agg(
            assurance=("assurance", "min"),
            assurance_closed=("assurance_closed", "min"),
            units_treatment=("units_treatment", "first"),
            units_control=("units_control", "first"),
            agents_total=("agents_total", "first"),
            cost=("cost", "first"),
        )
        .reset_index()
    )
    limiting = []
    for _, g in pt.groupby(["agents_per_arm", "weeks"], sort=True):
        g = g[g["assurance"].notna()]
        limiting.append(g.loc[g["assurance"].idxmin(), "assurance_se"] if len(g) else np.nan)
    over["assurance_se"] = limiting
    over["metric"], over["role"] = "overall", "primary"
    return over


def plan_pilot(
    spec: Spec,
    *,
    progress: Progress | None = None,
    baseline: pd.DataFrame | Baseline | None = None,
    simulations: int | None = None,
    seed: int | None = None,
) -> PlanResult:
    """Assurance for the grid of agents per arm x weeks and the recommended pilot size.

    Parameters
    ----------
    spec
        The pilot's spec: metrics with ``min_effect``, ``decision.prob_improve``, ``design_grid``.
    progress
        Optional ``progress(message, fraction)`` callback.
    baseline
        Baseline interactions (canonical columns) or a fitted :class:`Baseline`; default: the
        baseline period of the spec's data, else ``design_grid.baseline_rates``.
    simulations
        Simulated pilots per grid cell (default ``design_grid.simulations``).
    seed
        Random seed (default ``sampler.seed``).

    Returns
    -------
    PlanResult

    Raises
    ------
    DesignError
        No baseline data and no stated rates, a primary metric without a baseline, or no grid
        cell with at least two units per arm.

    """
    progress = progress or silent
    ds = spec.design_settings
    sims = simulations or ds.simulations
    seed = spec.sampler.seed if seed is None else seed
    notes: list[str] = []
    progress("estimating the baseline", 0.0)
    base = _choose_baseline(spec, baseline, notes)
    notes += base.notes
    missing_primary = [m.name for m in spec.primary if m.name not in base.metrics]
    if missing_primary:
        raise DesignError(
            "cannot plan the pilot: primary metrics without a baseline",
            [
                Problem(f"metrics.{n}", "no baseline observations; add them to the data or design_grid.baseline_rates")
                for n in missing_primary
            ],
        )
    rng = np.random.default_rng(seed)
    rows = []
    metrics = [m for m in spec.metrics if m.name in base.metrics]
    grid = [(k, w) for k in sorted(set(ds.agents_per_arm)) for w in sorted(set(ds.weeks))]
    total = len(grid) * len(metrics)
    done = 0
    for k, w in grid:
        cell = grid_cell(spec, k, w, base)
        for m in metrics:
            mb = base.metrics[m.name]
            effect = m.threshold if m.better == "higher" else -m.threshold
            cf = closed_form(mb, base, spec, cell, effect)
            row = {
                "metric": m.name,
                "role": m.role,
                "min_effect": m.threshold,
                "agents_per_arm": k,
                "weeks": w,
                "units_treatment": cell.units_t,
                "units_control": cell.units_c,
                "agents_total": (cell.units_t + cell.units_c) * cell.agents_per_unit,
                "cost": (cell.units_t + cell.units_c) * cell.agents_per_unit * w,
                "obs_per_agent": cf["obs_per_agent"],
                "icc": cf["icc"],
                "deff": cf["deff"],
                "se_closed": cf["se"],
                "assurance_closed": cf["assurance"],
                "assurance": float("nan"),
                "assurance_se": float("nan"),
            }
            if cell.units_t >= 2 and cell.units_c >= 2:
                sim = simulate_cell(mb, base, spec, cell, effect, sims, rng)
                row["assurance"], row["assurance_se"] = sim["assurance"], sim["assurance_se"]
            rows.append(row)
            done += 1
            progress(f"simulated {m.info.label}: {k} agents per arm x {w} weeks", done / total)
    table = pd.DataFrame(rows)
    if table["assurance"].isna().all():
        raise DesignError(
            "cannot plan the pilot: every size in the grid has fewer than two units per arm",
            [Problem("design_grid.agents_per_arm", f"too few agents for {spec.unit} randomization")],
        )
    if table["assurance"].isna().any():
        notes.append("grid sizes with fewer than two units per arm are not simulated")
    primary = {m.name for m in spec.primary}
    table = pd.concat([table, _overall(table, primary)], ignore_index=True)
    table["reaches_target"] = table["assurance"] >= ds.target_assurance
    ok = table[(table["metric"] == "overall") & table["reaches_target"]]
    recommended = None
    if len(ok):
        best = ok.sort_values(["cost", "weeks", "agents_per_arm"]).iloc[0]
        recommended = {
            "agents_per_arm": int(best["agents_per_arm"]),
            "weeks": int(best["weeks"]),
            "assurance": float(best["assurance"]),
            "assurance_closed": float(best["assurance_closed"]),
            "cost": float(best["cost"]),
            "units_treatment": int(best["units_treatment"]),
            "units_control": int(best["units_control"]),
        }
    meta = {
        "name": spec.name,
        "design": spec.design,
        "unit": spec.unit,
        "prob_improve": spec.decision.prob_improve,
        "target_assurance": ds.target_assurance,
        "simulations": sims,
        "seed": seed,
        "primary": sorted(primary),
    }
    progress("design done", 1.0)
    return PlanResult(table=table, recommended=recommended, baseline=base, meta=meta, notes=notes)
