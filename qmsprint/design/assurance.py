"""How many agents and weeks a pilot needs: assurance over a grid of sizes (:func:`plan_pilot`).

The question a consultant must answer before a pilot: *with k agents per arm for w weeks, how
likely is the pilot to end with a clear call?* For each size of the grid
(``design_grid.agents_per_arm`` x ``design_grid.weeks``) the plan simulates
``design_grid.simulations`` pilots (:mod:`qmsprint.design.simulation`):

1. the true effect of each metric is drawn from a **design prior**: centred on ``min_effect`` for
   primary metrics and on no change for the others, with sd ``design_grid.effect_prior_sd`` x
   ``min_effect``; or, with ``model.prior_from``, the earlier run's posterior of the headline effect;
2. the variance components (between agents and units, unit x period) are drawn from their
   uncertainty around the baseline's estimates (:mod:`qmsprint.design.baseline`);
3. the pilot's data are simulated and analysed with a fast approximation of the posterior,
   then judged by **the decision rule itself** (:mod:`qmsprint.decide.rules`): per metric a
   verdict (guardrails: holds / at risk / veto), and per pilot one action.

Per size the plan reports P(scale_up), P(iterate), P(stop) and P(inconclusive) (= P(extend)),
and the **assurance**: the chance that the pilot ends decisively (scale up, iterate or stop),
with its Monte Carlo standard error. Every size analyses the same simulated pilots, nested (the
first units and weeks of the largest pilot): common random numbers, so the differences between
sizes are not Monte Carlo noise (the plan records whether the grid is monotone and the largest
standard error of a difference between neighbouring sizes). Per metric rows give the chance that
its own verdict is settled. The recommended size is the cheapest (agents x weeks) whose assurance
reaches ``design_grid.target_assurance``. The textbook power at exactly ``min_effect`` (closed
form, noncentral t) is kept as a reference column.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from qmsprint.decide import DECISIVE
from qmsprint.decide import rules as rule
from qmsprint.design.baseline import Baseline, baseline_from_rates, fit_baseline, load_baseline_frame
from qmsprint.design.simulation import (
    approximate_posterior,
    closed_form,
    draw_parameters,
    grid_cell,
    simulate_metric,
)
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
        One row per metric x agents per arm x weeks and one ``metric = "overall"`` row per size.
        Metric rows: ``assurance`` (P(its verdict is settled); guardrails: P(not at risk)) with
        ``assurance_se``, ``p_improved``, ``p_no_change``, ``p_worse``, ``p_inconclusive`` (guardrails:
        ``p_holds``, ``p_at_risk``, ``p_veto``), ``power_closed`` (closed-form power at exactly
        ``min_effect``) and ``se_closed``, units per arm, cost in agent-weeks, observations per
        agent, ICC (between units for A/B; of unit x period shocks for DiD, where stable unit
        levels cancel) and design effect ``1 + (m - 1) ICC``. Overall rows: ``p_scale_up``,
        ``p_iterate``, ``p_stop``, ``p_inconclusive`` and ``assurance`` = P(decisive) with
        ``assurance_se``. Every row has ``reaches_target``.
    recommended
        The cheapest size reaching the target (``agents_per_arm``, ``weeks``, ``assurance`` and the
        action probabilities, ``cost``), or None when no size of the grid does.
    baseline
        The fitted baseline parameters.
    meta
        Design, unit, target, simulations, seed, the design prior per metric, ``mc_error`` (largest
        standard error of an overall assurance), ``mc_error_difference`` (largest standard error of a
        difference between neighbouring sizes), ``raw_monotone`` and ``raw_largest_drop`` (the
        simulated shares before the monotone fit), ``largest_correction`` (how far the fit moved any
        share) and ``monotone`` (the reported grid never falls with more agents or weeks).
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


def _design_prior(spec: Spec, metrics: list[Any], given: dict[str, tuple[float, float]] | None) -> dict[str, Any]:
    """Per metric (mean, sd, source) of the true effect's design prior (natural scale, signed like the metric)."""
    earlier: dict[str, tuple[float, float]] = {}
    if given is None and spec.model.prior_from:
        from qmsprint.store import design_prior_from_run

        earlier = design_prior_from_run(spec)
    out = {}
    sd_frac = spec.design_settings.effect_prior_sd
    for m in metrics:
        if given is not None and m.name in given:
            out[m.name] = (*map(float, given[m.name]), "given")
        elif m.name in earlier:
            out[m.name] = (*earlier[m.name], f"run {spec.model.prior_from}")
        else:
            sign = 1.0 if m.better == "higher" else -1.0
            centre = sign * m.threshold if m.role == "primary" else 0.0
            out[m.name] = (centre, sd_frac * m.threshold, "min_effect" if m.role == "primary" else "no change")
    return out


def _se(p: float, n: int) -> float:
    return math.sqrt(max(p * (1 - p), 0.25 / n) / n) if n else float("nan")


def _metric_row(m: Any, codes: np.ndarray, guard: np.ndarray, n: int) -> dict[str, float]:
    """Shares of verdicts (guardrails: states) over the simulated pilots of one size."""
    if m.role == "guardrail":
        shares = {f"p_{k}": float(np.mean(guard == k)) for k in ("holds", "at_risk", "veto")}
        settled = 1.0 - shares["p_at_risk"]
    else:
        shares = {f"p_{k}": float(np.mean(codes == k)) for k in ("improved", "no_change", "worse", "inconclusive")}
        settled = 1.0 - shares["p_inconclusive"]
    return {**shares, "assurance": settled, "assurance_se": _se(settled, n)}


def _increasing(y: np.ndarray) -> np.ndarray:
    """Least-squares non-decreasing fit of a sequence (pool adjacent violators, equal weights)."""
    blocks: list[list[float]] = []  # [sum, count]
    for v in y:
        blocks.append([float(v), 1.0])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            s, c = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += c
    return np.concatenate([np.full(int(c), s / c) for s, c in blocks])


def monotone_grid(values: np.ndarray, sweeps: int = 200) -> np.ndarray:
    """Least-squares fit of a grid that never falls along rows or columns (Dykstra's alternating projections).

    Rows whose values are all NaN (sizes that cannot be analysed) are left out.
    """
    v = np.asarray(values, float)
    ok = ~np.isnan(v).any(axis=1)
    x = v[ok]
    if x.size == 0:
        return v.copy()
    y, p, q = x.copy(), np.zeros_like(x), np.zeros_like(x)
    for _ in range(sweeps):
        a = np.apply_along_axis(_increasing, 1, y + p)
        p = y + p - a
        y_new = np.apply_along_axis(_increasing, 0, a + q)
        q = a + q - y_new
        if np.max(np.abs(y_new - y)) < 1e-12:
            y = y_new
            break
        y = y_new
    out = v.copy()
    out[ok] = y
    return out


def _monotone(decisive: dict[tuple[int, int], np.ndarray]) -> dict[str, Any]:
    """Whether P(decisive) never falls with more agents or weeks; Monte Carlo error of neighbours' differences."""
    keys = sorted(decisive)
    ks = sorted({k for k, _ in keys})
    ws = sorted({w for _, w in keys})
    drops, ses = [0.0], [0.0]
    for i, k in enumerate(ks):
        for j, w in enumerate(ws):
            for nk in ([(ks[i + 1], w)] if i + 1 < len(ks) else []) + ([(k, ws[j + 1])] if j + 1 < len(ws) else []):
                a, b = decisive.get((k, w)), decisive.get(nk)
                if a is None or b is None:
                    continue
                d = b.astype(float) - a.astype(float)
                drops.append(float(-d.mean()))
                ses.append(float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else 0.0)
    return {
        "raw_monotone": max(drops) <= 0.0,
        "raw_largest_drop": max(0.0, max(drops)),
        "mc_error_difference": max(ses),
    }


def _is_monotone(table: pd.DataFrame, ks: list[int], ws: list[int]) -> bool:
    """True when no metric's (or the overall) assurance falls with more agents or more weeks."""
    for _, sub in table.groupby("metric", sort=False):
        g = sub.pivot(index="agents_per_arm", columns="weeks", values="assurance").reindex(index=ks, columns=ws)
        g = g.dropna(how="all").to_numpy()
        if (np.diff(g, axis=0) < -1e-12).any() or (np.diff(g, axis=1) < -1e-12).any():
            return False
    return True


def _projected(table: pd.DataFrame, ks: list[int], ws: list[int]) -> pd.DataFrame:
    """``assurance`` made monotone in agents and weeks per metric (:func:`monotone_grid`); raw in ``assurance_raw``."""
    table = table.copy()
    table["assurance_raw"] = table["assurance"]
    for _, idx in table.groupby("metric", sort=False).groups.items():
        sub = table.loc[idx]
        grid = sub.pivot(index="agents_per_arm", columns="weeks", values="assurance").reindex(index=ks, columns=ws)
        fitted = pd.DataFrame(monotone_grid(grid.to_numpy()), index=ks, columns=ws)
        pairs = zip(sub["agents_per_arm"], sub["weeks"], strict=True)
        table.loc[idx, "assurance"] = [fitted.loc[k, w] for k, w in pairs]
    return table


def plan_pilot(
    spec: Spec,
    *,
    progress: Progress | None = None,
    baseline: pd.DataFrame | Baseline | None = None,
    simulations: int | None = None,
    seed: int | None = None,
    design_prior: dict[str, tuple[float, float]] | None = None,
) -> PlanResult:
    """Assurance for the grid of agents per arm x weeks and the recommended pilot size.

    Parameters
    ----------
    spec
        The pilot's spec: metrics with roles and ``min_effect``, ``[decision]`` (the rule the
        simulated pilots are judged by), ``design_grid``.
    progress
        Optional ``progress(message, fraction)`` callback.
    baseline
        Baseline interactions (canonical columns) or a fitted :class:`Baseline`; default: the
        baseline period of the spec's data, else ``design_grid.baseline_rates``.
    simulations
        Simulated pilots (default ``design_grid.simulations``); every size analyses the same ones.
    seed
        Random seed (default ``sampler.seed``).
    design_prior
        ``{metric: (mean, sd)}`` of the true effect (natural scale, signed like the metric),
        overriding the default (see the module doc) for the metrics it names.

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
    metrics = [m for m in spec.metrics if m.name in base.metrics]
    priors = _design_prior(spec, metrics, design_prior)
    ks, ws = sorted(set(ds.agents_per_arm)), sorted(set(ds.weeks))
    largest = grid_cell(spec, ks[-1], ws[-1], base)
    simulated = {}
    for i, m in enumerate(metrics):
        rng = np.random.default_rng([seed, i])
        mb = base.metrics[m.name]
        draws = draw_parameters(mb, base, spec, priors[m.name][:2], sims, rng)
        simulated[m.name] = simulate_metric(mb, base, spec, draws, largest, ws[-1], rng)
        progress(f"simulated {sims} pilots of {m.info.label}", 0.1 + 0.6 * (i + 1) / len(metrics))
    dec = spec.decision
    roles = [m.role for m in metrics]
    rows: list[dict[str, Any]] = []
    decisive: dict[tuple[int, int], np.ndarray] = {}
    for k, w in [(k, w) for k in ks for w in ws]:
        cell = grid_cell(spec, k, w, base)
        size = {
            "agents_per_arm": k,
            "weeks": w,
            "units_treatment": cell.units_t,
            "units_control": cell.units_c,
            "agents_total": (cell.units_t + cell.units_c) * cell.agents_per_unit,
            "cost": (cell.units_t + cell.units_c) * cell.agents_per_unit * w,
        }
        ok = cell.units_t >= 2 and cell.units_c >= 2
        codes = {}
        for m in metrics:
            mb = base.metrics[m.name]
            sign = 1.0 if m.better == "higher" else -1.0
            delta = float(m.threshold)
            cf = closed_form(mb, base, spec, cell, sign * delta)
            row = {"metric": m.name, "role": m.role, "min_effect": delta, **size, "obs_per_agent": cf["obs_per_agent"],
                   "icc": cf["icc"], "deff": cf["deff"], "se_closed": cf["se"], "power_closed": cf["power"],
                   "assurance": float("nan"), "assurance_se": float("nan")}  # fmt: skip
            if ok:
                mean, sd, df = approximate_posterior(simulated[m.name], cell.units_t, cell.units_c, w)
                n = rule.numbers_from_t(sign * mean, sd, df, delta, dec.rope_fraction * delta)
                v = rule.verdict_codes(n, dec)
                guard = rule.guardrail_codes(n["p_harm"], dec) if m.role == "guardrail" else np.full(sims, "")
                codes[m.name] = (
                    v,
                    rule.meaningful_mask(n, delta, dec) & np.isfinite(n["mean"]),
                    rule.reachable_mask(n["mean"], delta, dec),
                    guard,
                    rule.settleable_mask(n["mean"], dec.rope_fraction * delta),
                )
                row.update(_metric_row(m, v, guard, sims))
            rows.append(row)
        over = {"metric": "overall", "role": "primary", **size, "assurance": float("nan"), "assurance_se": float("nan")}
        if ok:
            stacked = [np.stack([codes[m.name][j] for m in metrics]) for j in range(5)]
            action = rule.action_codes(roles, *stacked)
            hit = np.isin(action, DECISIVE)
            decisive[(k, w)] = hit
            over.update({f"p_{a}": float(np.mean(action == a)) for a in ("scale_up", "iterate", "stop")})
            over["p_inconclusive"] = float(np.mean(action == "extend"))
            over["assurance"] = float(hit.mean())
            over["assurance_se"] = _se(over["assurance"], sims)
        rows.append(over)
    progress("analysed every size", 0.95)
    table = _projected(pd.DataFrame(rows), ks, ws)
    if table["assurance"].isna().all():
        raise DesignError(
            "cannot plan the pilot: every size in the grid has fewer than two units per arm",
            [Problem("design_grid.agents_per_arm", f"too few agents for {spec.unit} randomization")],
        )
    if table["assurance"].isna().any():
        notes.append("grid sizes with fewer than two units per arm are not simulated")
    table["reaches_target"] = table["assurance"] >= ds.target_assurance
    ok_rows = table[(table["metric"] == "overall") & table["reaches_target"]]
    recommended = None
    if len(ok_rows):
        best = ok_rows.sort_values(["cost", "weeks", "agents_per_arm"]).iloc[0]
        recommended = {
            key: (int(best[key]) if key in ("agents_per_arm", "weeks", "units_treatment", "units_control") else
                  float(best[key]))
            for key in ("agents_per_arm", "weeks", "assurance", "assurance_se", "p_scale_up", "p_iterate", "p_stop",
                        "p_inconclusive", "cost", "units_treatment", "units_control")
        }  # fmt: skip
    over_rows = table[table["metric"] == "overall"]
    meta = {
        "name": spec.name,
        "design": spec.design,
        "unit": spec.unit,
        "prob_improve": dec.prob_improve,
        "target_assurance": ds.target_assurance,
        "simulations": sims,
        "seed": seed,
        "primary": sorted(m.name for m in spec.primary),
        "design_prior": {k: {"mean": v[0], "sd": v[1], "source": v[2]} for k, v in priors.items()},
        "analysis": "Welch comparison of unit means (A/B) or changes (DiD) as a Student-t posterior",
        "common_random_numbers": True,
        "mc_error": float(over_rows["assurance_se"].max()),
        **_monotone(decisive),
        "largest_correction": float((table["assurance"] - table["assurance_raw"]).abs().max()),
        "monotone": _is_monotone(table, ks, ws),
    }
    progress("design done", 1.0)
    return PlanResult(table=table, recommended=recommended, baseline=base, meta=meta, notes=notes)
