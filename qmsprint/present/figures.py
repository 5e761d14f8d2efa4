"""Every Plotly figure of a run, for the app AND the HTML report (no Streamlit, no statistics).

Each function takes plain data from a run (draws, effects, weekly counts, health-check data) and
returns a ``plotly.graph_objects.Figure`` labelled in the metric's own unit, with hover values.
The app's pages and :mod:`qmsprint.report` call the same functions, so a chart changes in one
place. Weekly levels come from the metric registry (:meth:`MetricDef.weekly_level`); the business
impact is drawn from :func:`qmsprint.decide.net_value_draws`, the one home of its formula. The
assurance chart is in :mod:`qmsprint.present.design`, the diagnosis charts in
:mod:`qmsprint.present.diagnosis`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from qmsprint import metrics as metric_registry
from qmsprint.decide import impact_inputs, net_value_draws, stored_value_draws
from qmsprint.present.format import interval_text, is_num, metric_label, num, pct, threshold_text, unit_text

NEW, OLD = "#1f6f8b", "#9aa5b1"
GOOD, BAD, NEUTRAL, CAUTION = "#2a9d8f", "#e63946", "#8d99ae", "#f4a261"
BAND = "rgba(141, 153, 174, 0.18)"
PALETTE = (NEW, "#e9c46a", GOOD, "#e76f51", NEUTRAL, "#264653")  # lines of one chart, in order
TONE_HEX = {"green": GOOD, "orange": CAUTION, "red": BAD, "gray": NEUTRAL}  # format's tones as colours
LAYOUT = {
    "template": "plotly_white",
    "margin": {"l": 10, "r": 10, "t": 80, "b": 10},
    "font": {"size": 13},
    "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
}


def _axis(metric: str, unit: str, better: str) -> str:
    label = metric_label(metric)
    return f"effect on {label} ({unit_text(unit, 'words')}; {'higher' if better == 'higher' else 'lower'} is better)"


def posterior_figure(
    draws: np.ndarray, metric: str, unit: str, threshold: float | None, better: str, hdi: tuple[float, float] | None
) -> go.Figure:
    """Distribution of the effect with the band of effects too small to act on (+/- ``threshold``).

    Bars right of the band (left, when lower is better) are the effects worth acting on; the black
    line under the bars is the interval ``hdi``.
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
    thr = threshold if is_num(threshold) else 0.0
    colour = np.where(sign * mids >= thr, GOOD, np.where(sign * mids <= -thr, BAD, NEUTRAL))
    fig.add_bar(
        x=mids,
        y=share,
        marker_color=colour,
        width=np.diff(edges),
        customdata=[num(m, unit, signed=True) for m in mids],
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
            annotation_text=f"too small to act on (±{threshold_text(thr, unit)})",
            annotation_position="top left",
        )
    fig.add_vline(x=0, line_dash="dot", line_color="#555")
    if hdi and all(is_num(x) for x in hdi):
        fig.add_shape(
            type="line", x0=hdi[0], x1=hdi[1], y0=-0.004, y1=-0.004, line={"color": "#1b2631", "width": 5}, yref="y"
        )
    fig.update_layout(
        **LAYOUT,
        title=f"{metric_label(metric)}: how big the effect of the new program plausibly is",
        xaxis_title=_axis(metric, unit, better),
        yaxis_title="share of plausible values",
        yaxis_tickformat=".0%",
        bargap=0,
        height=380,
    )
    return fig


def forest_figure(segments: list[Any], metric: str, unit: str, threshold: float | None, better: str) -> go.Figure:
    """Effect by segment (channel, contact reason, team) with intervals: a forest plot.

    ``segments`` are a metric's segment :class:`~qmsprint.results.Effect` records or their dicts.
    """
    df = pd.DataFrame([s if isinstance(s, dict) else s.to_dict() for s in segments])
    fig = go.Figure()
    if df.empty:
        return fig
    df = df.assign(label=df["segment"].astype(str).str.replace("_", " ") + ": " + df["segment_value"].astype(str))
    df = df.iloc[::-1]  # first segment on top
    sign = 1 if better == "higher" else -1
    thr = threshold if is_num(threshold) else 0.0
    colours = [
        GOOD if sign * lo > 0 else BAD if sign * hi < 0 else NEUTRAL
        for lo, hi in zip(df["hdi_low"], df["hdi_high"], strict=True)
    ]
    hover = [
        f"{r.label}<br>effect {num(r.mean, unit, signed=True)}"
        f"<br>{interval_text(r.hdi_low, r.hdi_high, unit, r.hdi_prob)}"
        f"<br>{pct(r.prob_improve)} probability of improvement"
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
    fig.update_layout(
        **LAYOUT,
        title=f"{metric_label(metric)}: effect of the new program by segment",
        xaxis_title=_axis(metric, unit, better),
        height=max(260, 48 * len(df) + 110),
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
    label = metric_label(metric)
    fig.update_layout(
        **LAYOUT,
        barmode="group",
        title=f"{label} answers by program",
        xaxis_title=f"{label} answer",
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
    is_share = all(is_num(v) and 0 <= v <= 1 for v in list(obs) + list(mean))
    fig.update_layout(
        **LAYOUT,
        title=f"Does the {metric_label(metric)} model reproduce the data?",
        xaxis_type="category",
        yaxis_tickformat=".0%" if is_share else None,
        height=340,
    )
    return fig


# ------------------------------------------------------------------------------ week by week


def has_weekly(metric: str) -> bool:
    """True when the registry says how to read ``metric`` week by week."""
    info = metric_registry.registry().get(metric)
    return info is not None and info.weekly is not None


def weekly_values(weekly: pd.DataFrame | None, metric: str) -> pd.DataFrame | None:
    """Weekly observed level of ``metric`` by arm: ``arm``, (``period``,) ``week``, ``value``, ``n``."""
    info = metric_registry.registry().get(metric)
    if info is None or weekly is None or weekly.empty or not {"arm", "week"} <= set(weekly.columns):
        return None
    level = info.weekly_level(weekly)
    if level is None:
        return None
    keys = ["arm", "week"] + (["period"] if "period" in weekly else [])
    parts = weekly[keys].assign(top=level[0].to_numpy(), n=level[1].to_numpy())
    g = parts.groupby(keys, as_index=False)[["top", "n"]].sum()
    g = g[g["n"] > 0]
    return g.assign(value=g["top"] / g["n"]).drop(columns="top")


def weekly_figure(
    weekly: pd.DataFrame | None, metric: str, arm_names: dict[str, str], pilot_start: Any = None
) -> go.Figure:
    """Weekly observed level of a metric by program, with the pilot start marked (trends check)."""
    fig = go.Figure()
    data = weekly_values(weekly, metric)
    if data is None or data.empty:
        return fig
    label = metric_registry.get(metric).weekly.label
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
        **LAYOUT, title=f"{metric_label(metric)} week by week", yaxis_title=label, xaxis_title="", height=340
    )
    return fig


def trends_gap_figure(series: dict[str, Any], metric: str) -> go.Figure:
    """Baseline gap between groups per week with its fitted trend (parallel-trends check, DiD)."""
    fig = go.Figure()
    weeks = series.get("weeks", [])
    if not weeks:
        return fig
    fig.add_scatter(x=weeks, y=series.get("gap", []), mode="markers", name="weekly gap (new - current)")
    if series.get("fitted_gap"):
        fig.add_scatter(x=weeks, y=series["fitted_gap"], mode="lines", name="trend of the gap", line={"dash": "dash"})
    fig.add_hline(y=0, line_dash="dot", line_color="#555")
    fig.update_layout(
        **LAYOUT,
        title=f"{metric_label(metric)}: gap between groups before the pilot",
        yaxis_title=f"gap ({unit_text(series.get('unit', ''), 'words')})",
        height=320,
    )
    return fig


# ------------------------------------------------------------------------------ balance, money, comparison


def balance_figure(table: pd.DataFrame | None, warn: float = 0.1) -> go.Figure:
    """Standardized differences between arms at baseline, one bar per variable."""
    fig = go.Figure()
    if table is None or table.empty or "std_diff" not in table:
        return fig
    name_col = next((c for c in ("label", "variable", "name", "covariate", "metric") if c in table), table.columns[0])
    t = table.iloc[::-1]
    colours = [BAD if abs(v) > 2 * warn else CAUTION if abs(v) > warn else GOOD for v in t["std_diff"]]
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


def impact_figure(draws: Any, impact: dict[str, Any]) -> go.Figure | None:
    """Posterior of the net value per month, from the effect draws and the impact's inputs.

    Parameters
    ----------
    draws
        Headline draws per metric (``{metric: draws}``, e.g. a run's ``draws``), or the repeat-contact
        draws alone.
    impact
        ``Recommendation.impact`` (inputs and which metrics it counted).

    The money per draw comes from :func:`qmsprint.decide.net_value_draws` (the formula lives there);
    ``None`` without repeat-contact draws.

    """
    by_metric = draws if isinstance(draws, dict) else {impact.get("metric") or "": draws}
    rep = by_metric.get(impact.get("metric") or "")
    values = stored_value_draws(impact, by_metric)  # metrics with a value_per_unit
    if (rep is None or len(rep) < 2) and not values:
        return None
    ht_name = impact.get("handle_time_metric")
    ht = by_metric.get(ht_name) if ht_name else None
    rep = rep if rep is not None and len(rep) >= 2 else np.zeros(1)
    net = net_value_draws(rep, ht, **impact_inputs(impact), values=values)["net"]
    fig = go.Figure(go.Histogram(x=net, nbinsx=60, histnorm="probability density", marker_color=GOOD))
    fig.add_vline(x=0, line_color="#1d3557")
    p = pct(impact.get("prob_net_saving"))
    fig.update_layout(
        **{**LAYOUT, "margin": {"l": 40, "r": 20, "t": 60, "b": 40}},
        title=f"Net value per month ({impact['currency']}): posterior; {p} probability of a net saving",
        xaxis_title=f"net value per month ({impact['currency']})",
        height=320,
    )
    return fig


def compare_figure(table: pd.DataFrame, metric: str) -> go.Figure:
    """One metric's headline effect in each compared run, with intervals (rows of ``compare_runs``)."""
    sub = table[table["metric"] == metric]
    unit = str(sub["unit"].iloc[0]) if len(sub) else ""
    fig = go.Figure()
    fig.add_scatter(
        x=sub["run"],
        y=sub["effect"],
        mode="markers",
        marker={"size": 12, "color": NEW},
        error_y={
            "type": "data",
            "symmetric": False,
            "array": (sub["hdi_high"] - sub["effect"]).tolist(),
            "arrayminus": (sub["effect"] - sub["hdi_low"]).tolist(),
        },
        hovertext=[
            f"{r.run}<br>effect {num(r.effect, unit, signed=True)}<br>{pct(r.prob_improve)} probability "
            f"of improvement<br>{r.verdict}"
            for r in sub.itertuples()
        ],
        hoverinfo="text",
    )
    fig.add_hline(y=0, line_dash="dot")
    fig.update_layout(
        **LAYOUT,
        title=f"{metric_label(metric)}: effect in each pilot",
        yaxis_title=f"effect ({unit_text(unit, 'words')})",
        xaxis_type="category",
        height=360,
    )
    return fig
