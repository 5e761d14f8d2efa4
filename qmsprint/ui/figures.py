"""Plotly figures of a run, labelled in each metric's own unit (no Streamlit, no statistics).

Every function takes plain data from a bundle (draws, result dicts, weekly counts) and returns a
``plotly.graph_objects.Figure`` with hover values; the pages cache them per run.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from qmsprint.ui import fmt

NEW, OLD = "#1f6f8b", "#9aa5b1"
GOOD, BAD, NEUTRAL = "#2a9d8f", "#e63946", "#8d99ae"
BAND = "rgba(141, 153, 174, 0.18)"
LAYOUT = {
    "template": "plotly_white",
    "margin": {"l": 10, "r": 10, "t": 80, "b": 10},
    "font": {"size": 13},
    "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
}


def _axis_unit(unit: str) -> str:
    return fmt.UNIT_WORDS.get(unit, unit)


def posterior_figure(
    draws: np.ndarray, metric: str, unit: str, threshold: float | None, better: str, hdi: tuple[float, float] | None
) -> go.Figure:
    """Distribution of the effect with the band of effects too small to act on (+/- ``threshold``).

    Bars right of the band (left, when lower is better) are the effects worth acting on.
    """
    d = np.asarray(draws, dtype=float)
    d = d[np.isfinite(d)]
    fig = go.Figure()
    if d.size == 0:
        return fig
    counts, edges = np.histogram(d, bins=min(80, max(20, d.size // 50)))
    mids = (edges[:-1] + edges[1:]) / 2
    share = counts / counts.sum()
    sign = 1 if better == "higher" else -1
    thr = threshold if fmt.is_num(threshold) else 0.0
    colour = np.where(sign * mids >= thr, GOOD, np.where(sign * mids <= -thr, BAD, NEUTRAL))
    label = fmt.metric_label(metric)
    fig.add_bar(
        x=mids,
        y=share,
        marker_color=colour,
        width=np.diff(edges),
        customdata=[fmt.num(m, unit, signed=True) for m in mids],
        hovertemplate="effect %{customdata}<br>%{y:.1%} of the plausible values<extra></extra>",
        name="plausible effects",
        showlegend=False,
    )
    if thr:
        fig.add_vrect(
            x0=-thr,
            x1=thr,
            fillcolor=BAND,
            line_width=0,
            layer="below",
            annotation_text=f"too small to act on (±{fmt.threshold_text(thr, unit)})",
            annotation_position="top left",
        )
    fig.add_vline(x=0, line_dash="dot", line_color="#555")
    if hdi and all(fmt.is_num(x) for x in hdi):
        fig.add_shape(
            type="line", x0=hdi[0], x1=hdi[1], y0=-0.004, y1=-0.004, line={"color": "#1b2631", "width": 5}, yref="y"
        )
    fig.update_layout(
        **LAYOUT,
        title=f"{label}: how big the effect of the new program plausibly is",
        xaxis_title=f"effect on {label} ({_axis_unit(unit)}; {'higher' if better == 'higher' else 'lower'} is better)",
        yaxis_title="share of plausible values",
        yaxis_tickformat=".0%",
        bargap=0,
        height=380,
    )
    return fig


def level_shares_figure(level_shares: dict[str, dict[str, float]], metric: str, arm_names: dict[str, str]) -> go.Figure:
    """Observed share of each answer level by arm (CSAT / NPS distributions)."""
    fig = go.Figure()
    for i, (arm, shares) in enumerate(level_shares.items()):
        levels = list(shares)
        fig.add_bar(
            x=levels,
            y=[shares[k] for k in levels],
            name=arm_names.get(arm, arm),
            marker_color=NEW if i == len(level_shares) - 1 else OLD,
            hovertemplate="answer %{x}: %{y:.1%}<extra>" + arm_names.get(arm, arm) + "</extra>",
        )
    fig.update_layout(
        **LAYOUT,
        barmode="group",
        title=f"{fmt.metric_label(metric)} answers by program",
        xaxis_title=f"{fmt.metric_label(metric)} answer",
        xaxis_type="category",
        yaxis_title="share of answers",
        yaxis_tickformat=".0%",
        height=340,
    )
    return fig


def ppc_figure(ppc: dict[str, list[Any]], metric: str) -> go.Figure:
    """Posterior predictive check: observed values against what the fitted model reproduces."""
    labels = [str(x) for x in ppc.get("labels", [])]
    obs = ppc.get("observed", [])
    mean = ppc.get("replicated_mean", [])
    low, high = ppc.get("replicated_low", []), ppc.get("replicated_high", [])
    fig = go.Figure()
    if len(mean) == len(labels):
        err = None
        if len(low) == len(labels) and len(high) == len(labels):
            err = {
                "type": "data",
                "symmetric": False,
                "array": [h - m for h, m in zip(high, mean, strict=True)],
                "arrayminus": [m - lo for m, lo in zip(mean, low, strict=True)],
                "color": NEW,
            }
        fig.add_scatter(
            x=labels,
            y=mean,
            mode="markers",
            name="model (with interval)",
            marker={"color": NEW, "size": 10},
            error_y=err,
        )
    if len(obs) == len(labels):
        fig.add_scatter(
            x=labels, y=obs, mode="markers", name="observed", marker={"color": "#e76f51", "size": 12, "symbol": "x"}
        )
    is_share = all(fmt.is_num(v) and 0 <= v <= 1 for v in list(obs) + list(mean))
    fig.update_layout(
        **LAYOUT,
        title=f"Does the {fmt.metric_label(metric)} model reproduce the data?",
        xaxis_type="category",
        yaxis_tickformat=".0%" if is_share else None,
        height=340,
    )
    return fig


def forest_figure(
    segments: list[dict[str, Any]], metric: str, unit: str, threshold: float | None, better: str
) -> go.Figure:
    """Effect by segment (channel, contact reason, team) with intervals: a forest plot."""
    df = pd.DataFrame(segments)
    fig = go.Figure()
    if df.empty:
        return fig
    df = df.assign(
        seg=df["segment"].astype(str).str.replace("_", " "),
        label=df["segment"].astype(str).str.replace("_", " ") + ": " + df["segment_value"].astype(str),
    )
    df = df.iloc[::-1]  # first segment on top
    sign = 1 if better == "higher" else -1
    thr = threshold if fmt.is_num(threshold) else 0.0
    colours = [
        GOOD if sign * lo > 0 else BAD if sign * hi < 0 else NEUTRAL
        for lo, hi in zip(df["hdi_low"], df["hdi_high"], strict=True)
    ]
    hover = [
        f"{r.label}<br>effect {fmt.num(r.mean, unit, signed=True)}"
        f"<br>{fmt.interval_text(r.hdi_low, r.hdi_high, unit, r.hdi_prob)}"
        f"<br>{fmt.pct(r.prob_improve)} probability of improvement"
        for r in df.itertuples()
    ]
    fig.add_scatter(
        x=df["mean"],
        y=df["label"],
        mode="markers",
        marker={"color": colours, "size": 11},
        error_x={
            "type": "data",
            "symmetric": False,
            "array": (df["hdi_high"] - df["mean"]).tolist(),
            "arrayminus": (df["mean"] - df["hdi_low"]).tolist(),
            "color": "#555",
        },
        hovertext=hover,
        hoverinfo="text",
        showlegend=False,
    )
    if thr:
        fig.add_vrect(x0=-thr, x1=thr, fillcolor=BAND, line_width=0, layer="below")
    fig.add_vline(x=0, line_dash="dot", line_color="#555")
    label = fmt.metric_label(metric)
    fig.update_layout(
        **LAYOUT,
        title=f"{label}: effect of the new program by segment",
        xaxis_title=f"effect on {label} ({_axis_unit(unit)}; {'higher' if better == 'higher' else 'lower'} is better)",
        height=max(260, 48 * len(df) + 110),
    )
    return fig


WEEKLY = {
    "csat": ("csat_sum", "csat_n", 1.0, "average CSAT"),
    "nps": (None, "nps_n", 100.0, "NPS"),
    "fcr": ("fcr_yes", "fcr_n", 100.0, "FCR (%)"),
    "repeat_contact": ("repeat_yes", "repeat_n", 100.0, "repeat contacts (%)"),
    "handle_time": ("ht_sum", "ht_n", 1.0, "average handle time (s)"),
}


def weekly_values(weekly: pd.DataFrame, metric: str) -> pd.DataFrame | None:
    """Weekly observed level of ``metric`` by arm: ``arm``, ``period``, ``week``, ``value``, ``n``."""
    if metric not in WEEKLY or weekly is None or weekly.empty:
        return None
    num_col, den_col, scale, _ = WEEKLY[metric]
    need = {"arm", "week", den_col} | ({num_col} if num_col else {"nps_promoters", "nps_detractors"})
    if not need <= set(weekly.columns):
        return None
    keys = ["arm", "week"] + (["period"] if "period" in weekly else [])
    cols = [den_col] + ([num_col] if num_col else ["nps_promoters", "nps_detractors"])
    g = weekly.groupby(keys, as_index=False)[cols].sum()
    g = g[g[den_col] > 0]
    top = g[num_col] if num_col else g["nps_promoters"] - g["nps_detractors"]
    return g.assign(value=scale * top / g[den_col], n=g[den_col])


def weekly_figure(weekly: pd.DataFrame, metric: str, arm_names: dict[str, str], pilot_start: Any = None) -> go.Figure:
    """Weekly observed level of a metric by program, with the pilot start marked (trends check)."""
    fig = go.Figure()
    data = weekly_values(weekly, metric)
    if data is None or data.empty:
        return fig
    label = WEEKLY[metric][3]
    arms = list(arm_names) or sorted(data["arm"].unique())
    for i, arm in enumerate(arms):
        sub = data[data["arm"] == arm].sort_values("week")
        if sub.empty:
            continue
        fig.add_scatter(
            x=sub["week"],
            y=sub["value"],
            mode="lines+markers",
            name=arm_names.get(arm, arm),
            line={"color": NEW if i == len(arms) - 1 else OLD},
            customdata=sub["n"],
            hovertemplate="week of %{x|%d %b %Y}<br>" + label + " %{y:.2f}<br>n = %{customdata:,}<extra></extra>",
        )
    if pilot_start is not None:
        x = pd.Timestamp(pilot_start).to_pydatetime()
        fig.add_shape(type="line", x0=x, x1=x, y0=0, y1=1, yref="paper", line={"dash": "dash", "color": "#555"})
        fig.add_annotation(x=x, y=1, yref="paper", text="pilot starts", showarrow=False, xanchor="left", yanchor="top")
    fig.update_layout(
        **LAYOUT, title=f"{fmt.metric_label(metric)} week by week", yaxis_title=label, xaxis_title="", height=340
    )
    return fig


def trends_gap_figure(series: dict[str, Any], metric: str) -> go.Figure:
    """Baseline gap between groups per week with its fitted trend (parallel-trends check, DiD)."""
    fig = go.Figure()
    weeks = series.get("weeks", [])
    if not weeks:
        return fig
    unit = series.get("unit", "")
    fig.add_scatter(x=weeks, y=series.get("gap", []), mode="markers", name="weekly gap (new - current)")
    if series.get("fitted_gap"):
        fig.add_scatter(x=weeks, y=series["fitted_gap"], mode="lines", name="trend of the gap", line={"dash": "dash"})
    fig.add_hline(y=0, line_dash="dot", line_color="#555")
    fig.update_layout(
        **LAYOUT,
        title=f"{fmt.metric_label(metric)}: gap between groups before the pilot",
        yaxis_title=f"gap ({_axis_unit(unit)})",
        height=320,
    )
    return fig


def assurance_figure(grid: pd.DataFrame, target: float | None = None) -> go.Figure:
    """Assurance (chance of a decisive pilot) by agents per arm, one line per pilot length."""
    fig = go.Figure()
    if grid is None or grid.empty:
        return fig
    x_col = next((c for c in ("agents_per_arm", "units_per_arm", "agents") if c in grid), None)
    y_col = next((c for c in ("assurance", "probability", "power") if c in grid), None)
    w_col = next((c for c in ("weeks", "pilot_weeks") if c in grid), None)
    if x_col is None or y_col is None:
        return fig
    groups = grid.groupby(w_col) if w_col else [(None, grid)]
    for weeks, sub in groups:
        sub = sub.sort_values(x_col)
        fig.add_scatter(
            x=sub[x_col],
            y=sub[y_col],
            mode="lines+markers",
            name=f"{weeks} weeks" if weeks is not None else "assurance",
            hovertemplate="%{x} per arm: %{y:.0%} chance of a decisive result<extra></extra>",
        )
    if fmt.is_num(target):
        fig.add_hline(y=target, line_dash="dash", annotation_text=f"target {target:.0%}")
    fig.update_layout(
        **LAYOUT,
        title="How likely a pilot of each size ends with a clear answer",
        xaxis_title="agents per arm",
        yaxis_title="assurance",
        yaxis_tickformat=".0%",
        yaxis_range=[0, 1.02],
        height=380,
    )
    return fig


def balance_figure(table: pd.DataFrame, warn: float = 0.1) -> go.Figure:
    """Standardized differences between arms at baseline, one bar per variable."""
    fig = go.Figure()
    if table is None or table.empty or "std_diff" not in table:
        return fig
    name_col = next((c for c in ("label", "variable", "name", "covariate", "metric") if c in table), table.columns[0])
    t = table.iloc[::-1]
    colours = [BAD if abs(v) > 2 * warn else "#f4a261" if abs(v) > warn else GOOD for v in t["std_diff"]]
    fig.add_bar(
        x=t["std_diff"],
        y=t[name_col].astype(str),
        orientation="h",
        marker_color=colours,
        hovertemplate="%{y}: %{x:+.2f} standard deviations<extra></extra>",
    )
    fig.add_vrect(x0=-warn, x1=warn, fillcolor=BAND, line_width=0, layer="below")
    fig.update_layout(
        **LAYOUT,
        title="Balance between programs before the pilot (standardized differences)",
        xaxis_title="difference in standard deviations (within ±0.1 is balanced)",
        height=max(240, 40 * len(t) + 110),
    )
    return fig
