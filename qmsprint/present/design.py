"""What people read about a pilot design: the sizing summary, the assignment summary, the assurance figure.

:func:`assurance_figure` is the one assurance chart: ``qmsprint design --out`` writes it into
``assurance.html`` (every metric of the plan, one panel each) and the app's Design page shows
it for the overall rows of a plan.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pandas as pd
import plotly.graph_objects as go

from qmsprint import metrics as metric_registry
from qmsprint.present.figures import LAYOUT, PALETTE
from qmsprint.words import counted

if TYPE_CHECKING:  # pragma: no cover
    from qmsprint.design import AssignmentResult, PlanResult

OVERALL_LABEL = "Overall (primary)"
_PANELS_PER_ROW = 3


def panel_label(metric: str) -> str:
    """Label of a metric's rows in a plan table (``overall`` is the weakest primary metric)."""
    return OVERALL_LABEL if metric == "overall" else metric_registry.get(metric).label


def assurance_figure(table: pd.DataFrame, target: float | None = None) -> go.Figure:
    """Chance that a pilot of each size ends decisively: one line per pilot length, one panel per metric.

    Parameters
    ----------
    table
        Rows of a plan's table (:attr:`qmsprint.design.PlanResult.table`, or some of them, e.g. only
        ``metric == "overall"``) with ``metric``, ``agents_per_arm``, ``weeks`` and ``assurance``.
    target
        Target assurance (dashed line), or None.

    Returns
    -------
    plotly.graph_objects.Figure
        Empty for an empty table.

    """
    if table is None or table.empty:
        return go.Figure()
    from plotly.subplots import make_subplots

    panels = list(dict.fromkeys(table["metric"]))
    cols = min(len(panels), _PANELS_PER_ROW)
    rows = math.ceil(len(panels) / cols)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[panel_label(p) for p in panels] if len(panels) > 1 else None,
        shared_yaxes=True,
        horizontal_spacing=0.04,
        vertical_spacing=0.12,
    )
    weeks = sorted(table["weeks"].unique())
    for i, metric in enumerate(panels):
        sub = table[table["metric"] == metric]
        for j, w in enumerate(weeks):
            line = sub[sub["weeks"] == w].sort_values("agents_per_arm")
            if line.empty:
                continue
            fig.add_scatter(
                x=line["agents_per_arm"],
                y=line["assurance"],
                mode="lines+markers",
                name=f"{w} weeks",
                legendgroup=str(w),
                showlegend=i == 0,
                line={"color": PALETTE[j % len(PALETTE)]},
                hovertemplate="%{x} agents per arm: %{y:.0%} chance of a decisive result<extra></extra>",
                row=i // cols + 1,
                col=i % cols + 1,
            )
    if target is not None and math.isfinite(target):
        fig.add_hline(y=target, line_dash="dash", annotation_text=f"target {target:.0%}")
    title = "How likely a pilot of each size ends with a clear call (simulated assurance)"
    if len(panels) == 1:
        title = f"{title}: {panel_label(panels[0])}"
    fig.update_layout(**LAYOUT, title=title, legend_title_text="pilot length", height=120 + 300 * rows)
    fig.update_yaxes(tickformat=".0%", range=[0, 1.02])
    fig.update_yaxes(title_text="assurance", col=1)
    fig.update_xaxes(title_text="agents per arm", row=rows)
    return fig


def _prior_text(plan: PlanResult) -> str:
    sources = {v.get("source") for v in (plan.meta.get("design_prior") or {}).values()}
    runs = sorted(x for x in sources if x and x.startswith("run "))
    if runs:
        return f"true effects drawn from the posterior of the earlier {', '.join(runs)}"
    return "true effects drawn around min_effect for primary metrics and around no change for the others"


def plan_summary(plan: PlanResult) -> str:
    """Plain-language summary of a pilot sizing with the recommended size, one line per metric."""
    m = plan.meta
    se, diff = m.get("mc_error", float("nan")), m.get("mc_error_difference", float("nan"))
    lines = [
        f"Pilot design for '{m['name']}' ({m['design'].upper()}, randomizing {m['unit']}s): chance that the "
        f"pilot ends decisively (scale up, iterate or stop under the decision rule) with {_prior_text(plan)}; "
        f"baseline from {plan.baseline.source}.",
        f"Monte Carlo error: {m['simulations']:,} simulated pilots, the same ones nested at every size; standard "
        f"error at most {se:.1%} per size and {diff:.1%} between neighbouring sizes; the grid is fitted to never "
        f"fall with more agents or weeks (largest correction {m.get('largest_correction', 0.0):.1%}).",
    ]
    rec = plan.recommended
    target = m["target_assurance"]
    table = plan.table
    over = table[table["metric"] == "overall"]

    def calls(r: Any) -> str:
        return (
            f"scale up {r['p_scale_up']:.0%}, iterate {r['p_iterate']:.0%}, stop {r['p_stop']:.0%}, "
            f"inconclusive {r['p_inconclusive']:.0%}"
        )

    if rec is not None:
        lines.append(
            f"Recommended: {rec['agents_per_arm']} agents per arm for {rec['weeks']} weeks "
            f"({rec['cost']:.0f} agent-weeks): {rec['assurance']:.0%} chance of a decisive result "
            f"(target {target:.0%}; {calls(rec)})."
        )
    else:
        best = over.loc[over["assurance"].idxmax()] if over["assurance"].notna().any() else None
        text = f"No size in the grid reaches the target assurance of {target:.0%}"
        if best is not None:
            text += (
                f"; the best is {int(best['agents_per_arm'])} agents per arm for {int(best['weeks'])} weeks "
                f"({best['assurance']:.0%}: {calls(best)}). Add more agents or weeks to design_grid"
            )
        lines.append(text + ".")
    at = rec
    if at is None and over["assurance"].notna().any():
        best = over.loc[over["assurance"].idxmax()]
        at = {"agents_per_arm": best["agents_per_arm"], "weeks": best["weeks"]}
    if at is not None:
        per = table[table["metric"] != "overall"]
        per = per[(per["agents_per_arm"] == at["agents_per_arm"]) & (per["weeks"] == at["weeks"])]
        for _, r in per.iterrows():
            info = metric_registry.get(r["metric"])
            settled = "not at risk" if r["role"] == "guardrail" else "settled"
            lines.append(
                f"  {info.label} ({r['role']}): {r['assurance']:.0%} {settled}; power {r['power_closed']:.0%} "
                f"to detect {r['min_effect']:g} {info.unit} exactly (ICC {r['icc']:.3f}, design effect {r['deff']:.1f})"
            )
    for note in plan.notes:
        lines.append(f"Note: {note}")
    return "\n".join(lines)


def assignment_summary(result: AssignmentResult) -> str:
    """Plain-language summary of an assignment: counts by arm, strata and the balance verdict."""
    m = result.meta
    lines = [
        f"Assigned {m['n_units']} {m['unit']}s (seed {result.seed}): {m['treatment']} to "
        f"{m['treatment_label']} and {m['control']} to {m['control_label']}, "
        + (f"stratified by {', '.join(m['strata'])} " if m["strata"] else "")
        + "in blocks of similar baseline performance.",
    ]
    b = result.balance[result.balance["std_diff"].notna()]
    if len(b):
        worst = b.loc[b["std_diff"].abs().idxmax()]
        flagged = b[b["flag"] != ""]
        lines.append(
            f"Balance: largest standardized difference {worst['std_diff']:+.2f} ({worst['label']}); "
            + (
                f"{counted(len(flagged), 'variable')} above |d| = 0.1: {', '.join(flagged['label'])}."
                if len(flagged)
                else "all variables within |d| <= 0.1."
            )
        )
    for note in result.notes:
        lines.append(f"Note: {note}")
    return "\n".join(lines)
