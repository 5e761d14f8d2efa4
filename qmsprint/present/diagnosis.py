"""What people read about a checklist diagnosis: its summary, notes, labels and figures.

:func:`summary_text` is the plain-language summary (``qmsprint diagnose`` prints it, it is stored
in ``diagnosis.json`` and the app shows it); :func:`figures` draws the diagnosis charts of the
app. The notes a diagnosis carries (skipped parts, excluded items, dropped rows) are worded here
too, as are the agent quadrants and score names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qmsprint import metrics as metric_registry

if TYPE_CHECKING:  # pragma: no cover
    import plotly.graph_objects as go

    from qmsprint.diagnosis import Diagnosis

SCORE_LABELS = {
    "qa_score": "Checklist QA score",
    "behavior_score": "Behavior score",
    "auto_score": "Full-coverage score",
}
PROGRAM_TEXT = {
    "pre_pilot": "only rows from before the pilot ({period}), so the new program cannot colour the items",
    "adjusted": "both programs are in the rows ({period}): every model adjusts for the program (arm x period)",
    "single": "one program only in the rows ({period})",
}
# agent quadrants by (above the median QA score, above the median outcome)
QUADRANTS = {
    (True, True): "high QA, good outcomes",
    (True, False): "high QA, poor outcomes",
    (False, True): "low QA, good outcomes",
    (False, False): "low QA, poor outcomes",
}
MIX_NAMES = {"contact_reason": "contact reasons", "channel": "channels"}
LEVEL_LABELS = {"interaction": "Between interactions", "agent": "Between agents"}
_ITEM_VERBS = {"matters": "matter", "hurts": "hurt", "noise": "are noise", "constant": "never vary"}


def _plain_facets(fig: go.Figure) -> None:
    """Facet titles read as their value ("Between agents"), not as plotly's ``column=value``."""
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=", 1)[-1]))


def _shared_x_title(fig: go.Figure, title: str) -> None:
    """One x-axis title under every facet, instead of one per facet written over each other."""
    fig.for_each_xaxis(lambda ax: ax.update(title_text=""))
    fig.add_annotation(text=title, xref="paper", yref="paper", x=0.5, y=0, yshift=-40, showarrow=False)
    fig.update_layout(margin={"b": 70})


def share_text(x: float) -> str:
    """A share of variance or of agents: ``12%``, below 1% with one decimal (``0.4%``), ``0%``."""
    return f"{100 * x:.0f}%" if x >= 0.01 or x == 0 else f"{100 * x:.1f}%"


# ------------------------------------------------------------------------------ notes


def missing_mix_note(col: str) -> str:
    """Note: the data has no ``channel`` / ``contact_reason`` column."""
    return f"no {col} column: the models cannot adjust for or break down by {col}"


def no_qa_note(n: int) -> str:
    """Note: interactions without a QA score are left out."""
    return f"{n:,} interactions without a QA score are left out"


def no_items_note() -> str:
    """Note: the data has no checklist item columns."""
    return "no checklist item columns (item_<name>): the per-item analysis is skipped"


def constant_item_note(item: str) -> str:
    """Note: an item that never varies is not fitted."""
    return f"item {item} never varies: it is excluded from the item models"


def uninformative_item_note(item: str, pass_rate: float) -> str:
    """Note: an item passed (or failed) almost always is not fitted."""
    return (
        f"item {item} is passed in {share_text(pass_rate)} of interactions: too rarely failed (or passed) "
        "to carry information, so it is not fitted"
    )


def missing_item_values_note(n: int) -> str:
    """Note: interactions with a missing item value are left out of the item models."""
    return f"{n:,} interactions with a missing item value are left out of the item models"


def skipped_outcome_note(outcome: str, reason: str) -> str:
    """Note: an outcome with too little data is skipped."""
    return f"{outcome} is skipped: {reason}"


def observed_text(family: str, observed: float, overall: float) -> str:
    """A group's observed outcome next to the overall one (rates in %, ordinal levels as averages)."""
    if family == "binomial":
        return f"{100 * observed:.1f}% vs {100 * overall:.1f}% overall"
    return f"average {observed:.2f} vs {overall:.2f} overall"


# ------------------------------------------------------------------------------ summary


def program_sentence(meta: dict) -> str:
    """Which rows the diagnosis rests on with respect to the pilot, and what item labels rest on."""
    code = meta.get("program")
    if code not in PROGRAM_TEXT:
        return ""
    text = PROGRAM_TEXT[code].format(period=meta.get("period_label", "all rows"))
    return f"Rows: {text}. Items are labelled on their within-agent association (an agent's passed vs failed calls)."


def _reliability_sentence(r: dict, prob: float) -> str:
    """One score's monthly reliability, the evaluations needed and the rank-order chance."""
    label = SCORE_LABELS.get(r["score"], r["score"])
    hdi = f"{100 * prob:.0f}% HDI"
    k = r["evaluations_per_month"]
    what = "evaluations" if r["score"] == "qa_score" else "scored interactions"
    text = (
        f"{label}: an agent's monthly score from {k:g} {what} (median per agent and month) has a reliability of "
        f"{r['reliability']:.2f} ({hdi} {r['reliability_low']:.2f}-{r['reliability_high']:.2f}): "
        f"{share_text(r['reliability'])} of the differences between agents' monthly scores reflect how they "
        f"work, the rest which calls were {'picked' if r['score'] == 'qa_score' else 'scored'}"
    )
    target = r.get("target", 0.8)
    if r["reliability"] < target:
        text += (
            f"; a reliability of {target:g} needs about {r['needed']:.0f} {what} per agent and month "
            f"({r['needed_low']:.0f}-{r['needed_high']:.0f})"
        )
    order = r.get("prob_rank_order")
    if order is not None and order == order:
        text += (
            f". Two agents ranked {int(r['rank_gap'])} places apart in a month are truly in that order with "
            f"probability {share_text(order)} ({share_text(r['prob_rank_order_low'])}-"
            f"{share_text(r['prob_rank_order_high'])}; 50% is a coin toss)"
        )
    return text + "."


def reliability_lines(d: Diagnosis) -> list[str]:
    """The QA sampling sentences of the summary (one per score with enough data)."""
    rel = getattr(d, "reliability", None)
    if rel is None or not len(rel):
        return []
    prob = d.meta.get("hdi_prob", 0.94)
    return [_reliability_sentence(r, prob) for r in rel.to_dict("records")]


def time_lines(d: Diagnosis) -> list[str]:
    """What items cost in handle time, and which add time while moving no customer outcome."""
    if not len(d.items) or "handle_time" not in set(d.items["outcome"]):
        return []
    hdi = f"{100 * d.meta.get('hdi_prob', 0.94):.0f}% HDI"
    t = d.items[d.items["outcome"] == "handle_time"].set_index("item")
    customer = d.items[d.items["outcome"] != "handle_time"]
    movers = set(customer.loc[customer["label"].isin(["matters", "hurts"]), "item"])
    parts, idle = [], []
    for item, r in t[t["label"] == "adds time"].sort_values("effect", ascending=False).iterrows():
        sec = f"adds {r['effect']:.0f} s per call ({hdi} {r['hdi_low']:.0f}-{r['hdi_high']:.0f} s)"
        if item in movers:
            moved = customer[(customer["item"] == item) & customer["label"].isin(["matters", "hurts"])]
            how = ", ".join(
                f"{'helps' if x.label == 'matters' else 'hurts'} {metric_registry.get(x.outcome).label}"
                for x in moved.itertuples()
            )
            parts.append(f"{item} {sec} and {how}")
        else:
            parts.append(f"{item} {sec} and moves no customer outcome")
            idle.append(item)
    saves = t[t["label"] == "saves time"].index.tolist()
    lines = []
    if parts:
        lines.append("Handle time: " + "; ".join(parts) + ".")
    if saves:
        lines.append(f"Handle time: {', '.join(saves)} {'saves' if len(saves) == 1 else 'save'} time per call.")
    if idle:
        lines.append(
            f"First to remove in a redesign: {', '.join(idle)} (time on every call, no customer outcome moves)."
        )
    if not parts and not saves:
        lines.append("Handle time: no item adds or saves a noticeable amount of time per call.")
    return lines


def summary_text(d: Diagnosis) -> str:
    """Plain-language summary a consultant can paste into a slide."""
    m = d.meta
    hdi = f"{100 * m.get('hdi_prob', 0.94):.0f}% HDI"
    pct = share_text
    lines = [
        f"Diagnosis of {m.get('name', 'the data')}: {m.get('n_interactions', 0):,} interactions from "
        f"{m.get('n_agents', 0)} agents ({m.get('period_label', 'all rows')})."
    ]
    if program_sentence(m):
        lines.append(program_sentence(m))
    # Alignment
    for outcome in d.r2["outcome"].unique() if len(d.r2) else []:
        sub = d.r2[d.r2["outcome"] == outcome]
        label = metric_registry.get(outcome).label
        parts = []
        for score, score_label in SCORE_LABELS.items():
            rows = sub[sub["score"] == score].set_index("level")
            if "interaction" not in rows.index:
                continue
            r_i, r_a = rows.loc["interaction"], rows.loc["agent"]
            parts.append(
                f"the {score_label[0].lower() + score_label[1:]} explains {pct(r_i['mean'])} "
                f"({hdi} {pct(r_i['hdi_low'])}-{pct(r_i['hdi_high'])}) of {label} variance per "
                f"interaction and {pct(r_a['mean'])} ({pct(r_a['hdi_low'])}-{pct(r_a['hdi_high'])}) "
                "of the differences between agents"
            )
        if parts:
            lines.append(f"{label}: " + "; ".join(parts) + ".")
    # Items
    if len(d.items):
        for outcome in d.items["outcome"].unique():
            if outcome == "handle_time":
                continue
            sub = d.items[d.items["outcome"] == outcome]
            label = metric_registry.get(outcome).label
            bits = []
            for lab in ("matters", "hurts", "noise", "no information", "constant"):
                names = sub.loc[sub["label"] == lab, "item"].tolist()
                if names:
                    bits.append(f"{', '.join(names)} {_ITEM_VERBS.get(lab, f'carry {lab}')}")
            if bits:
                lines.append(f"Checklist items for {label}: " + "; ".join(bits) + ".")
    lines += time_lines(d)
    lines += reliability_lines(d)
    # Quadrant
    if len(d.quadrant):
        q = d.quadrant
        n = len(q)
        hp = int((q["quadrant"] == QUADRANTS[(True, False)]).sum())
        lg = int((q["quadrant"] == QUADRANTS[(False, True)]).sum())
        label = metric_registry.get(m["headline"]).label if m.get("headline") else "outcomes"
        lines.append(
            f"100 for whom? {hp} of {n} agents ({pct(hp / n)}) are above the median QA score but below the "
            f"median agent on {label}{' (adjusted for contact mix)' if m.get('mix_factors', True) else ''}; "
            f"{lg} ({pct(lg / n)}) are the reverse."
        )
    # Root causes
    if len(d.variance):
        for outcome in d.variance["outcome"].unique():
            lines.append(_root_cause_sentence(d, outcome))
    bad = {k: diag.problems for k, diag in d.diagnostics.items() if not diag.converged}
    if bad:
        lines.append(
            "Caution: some fits missed the convergence bars ("
            + "; ".join(f"{k}: {', '.join(p)}" for k, p in bad.items())
            + "); read those numbers as indicative."
        )
    elif d.diagnostics:
        lines.append("All fits met the convergence bars (R-hat, ESS, divergences, E-BFMI).")
    for note in d.notes:
        lines.append(f"Note: {note}")
    return "\n".join(lines)


def _root_cause_sentence(d: Diagnosis, outcome: str) -> str:
    pct = share_text
    v = d.variance[d.variance["outcome"] == outcome].set_index("component")
    label = metric_registry.get(outcome).label
    mix = d.meta.get("mix_factors", ["contact_reason", "channel"])
    if not mix:
        return (
            f"Root causes of {label}: agents account for {pct(v.loc['agent', 'share'])} of its variance; "
            "without channel or contact-reason data the system's share cannot be estimated."
        )
    agent = v.loc["agent", "systematic_share"]
    parts = ", ".join(f"{MIX_NAMES[f]} {pct(v.loc[f, 'systematic_share'])}" for f in mix)
    text = (
        f"Root causes of {label}: of the variation between agents, "
        f"{' and '.join(MIX_NAMES[f] for f in mix)}, {pct(agent)} is agents and {pct(1 - agent)} is the "
        f"system ({parts})"
    )
    rc = d.root_causes[
        (d.root_causes["outcome"] == outcome)
        & (d.root_causes["factor"] == "contact_reason")
        & (d.root_causes["prob_worse"] >= 0.95)
    ]
    if len(rc):
        worst = ", ".join(f"{r.value} ({r.observed_text})" for r in rc.head(3).itertuples())
        text += f"; worst contact reasons regardless of agent: {worst}"
    return text + "."


# ------------------------------------------------------------------------------ figures


def _outcome_label(outcome: str) -> str:
    return metric_registry.get(outcome).label


def reliability_figure(rel: Any) -> go.Figure | None:
    """Reliability of an agent's monthly score against evaluations per month (Spearman-Brown, with the icc's HDI)."""
    import numpy as np
    import plotly.graph_objects as go

    if rel is None or not len(rel):
        return None
    fig = go.Figure()
    top = float(max(60.0, np.nanmax(np.minimum(rel["needed_high"].to_numpy(float), 400.0)) * 1.1))
    top = max(top, float(rel["evaluations_per_month"].max()) * 1.2)
    k = np.unique(np.round(np.geomspace(1, top, 80)))
    colors = ("#1d3557", "#e76f51", "#2a9d8f", "#8d99ae")
    for i, r in enumerate(rel.to_dict("records")):
        c = colors[i % len(colors)]
        label = SCORE_LABELS.get(r["score"], r["score"])

        def sb(icc: float) -> np.ndarray:
            return k * icc / (1 + (k - 1) * icc)

        fig.add_trace(go.Scatter(x=k, y=sb(r["icc_high"]), line={"width": 0}, showlegend=False, hoverinfo="skip"))
        fig.add_trace(
            go.Scatter(
                x=k, y=sb(r["icc_low"]), fill="tonexty", line={"width": 0}, fillcolor=c, opacity=0.2,
                showlegend=False, hoverinfo="skip",
            )
        )  # fmt: skip
        fig.add_trace(go.Scatter(x=k, y=sb(r["icc"]), name=label, line={"color": c}))
        fig.add_trace(
            go.Scatter(
                x=[r["evaluations_per_month"]], y=[r["reliability"]], mode="markers", marker={"color": c, "size": 11},
                name=f"{label}: today ({r['evaluations_per_month']:g} a month)",
            )
        )  # fmt: skip
    fig.add_hline(y=0.8, line_dash="dot", annotation_text="0.8")
    fig.update_layout(
        title="How far an agent's monthly score can be trusted: reliability by evaluations per month",
        xaxis={"title": "scored interactions per agent and month", "type": "log"},
        yaxis={"title": "reliability of the monthly score", "range": [0, 1]},
    )
    return fig


def item_time_figure(items: Any) -> go.Figure | None:
    """Seconds per call each checklist item adds (within agent, with HDI)."""
    import plotly.express as px

    if items is None or not len(items) or "handle_time" not in set(items["outcome"]):
        return None
    t = items[(items["outcome"] == "handle_time")].dropna(subset=["effect"])
    if not len(t):
        return None
    t = t.assign(err_hi=t["hdi_high"] - t["effect"], err_lo=t["effect"] - t["hdi_low"]).sort_values("effect")
    fig = px.scatter(
        t,
        x="effect",
        y="item",
        color="label",
        error_x="err_hi",
        error_x_minus="err_lo",
        color_discrete_map={"adds time": "#e63946", "saves time": "#2a9d8f", "no time effect": "#8d99ae"},
        labels={"effect": "seconds per call (within agent, with HDI)", "item": ""},
        title="What each checklist item costs in handle time",
    )
    fig.add_vline(x=0, line_dash="dot")
    return fig


def figures(d: Diagnosis) -> dict[str, go.Figure]:
    """Plotly figures: ``r2``, ``items``, ``item_time``, ``quadrant``, ``root_causes``, ``reliability`` (with data)."""
    import plotly.express as px

    figs: dict[str, go.Figure] = {}
    if len(d.r2):
        r2 = d.r2.assign(
            outcome_label=d.r2["outcome"].map(_outcome_label),
            score_label=d.r2["score"].map(SCORE_LABELS),
            pct=100 * d.r2["mean"],
            level_label=d.r2["level"].map(LEVEL_LABELS).fillna(d.r2["level"]),
            err_hi=100 * (d.r2["hdi_high"] - d.r2["mean"]),
            err_lo=100 * (d.r2["mean"] - d.r2["hdi_low"]),
        )
        figs["r2"] = px.bar(
            r2,
            x="outcome_label",
            y="pct",
            color="score_label",
            barmode="group",
            facet_col="level_label",
            error_y="err_hi",
            error_y_minus="err_lo",
            labels={"pct": "variance explained (%)", "outcome_label": "", "score_label": "score"},
            title="How much of each outcome the scores explain (latent-scale R², with HDI)",
        )
        _plain_facets(figs["r2"])
    fitted = d.items.dropna(subset=["effect"]) if len(d.items) else d.items
    if len(fitted):
        fitted = fitted[fitted["outcome"] != "handle_time"]
    if len(fitted):
        items = fitted.assign(
            outcome_label=fitted["outcome"].map(_outcome_label),
            err_hi=fitted["good_hdi_high"] - fitted["good_effect"],
            err_lo=fitted["good_effect"] - fitted["good_hdi_low"],
        )
        fig = px.scatter(
            items,
            x="good_effect",
            y="item",
            color="label",
            facet_col="outcome_label",
            error_x="err_hi",
            error_x_minus="err_lo",
            hover_data={"pass_rate": ":.1%", "prob_good": ":.2f"},
            color_discrete_map={"matters": "#2a9d8f", "noise": "#8d99ae", "hurts": "#e63946"},
            labels={"good_effect": "", "item": ""},
            title="Checklist items: within-agent association with customer outcomes (adjusted, with HDI)",
        )
        fig.add_vline(x=0, line_dash="dot")
        _plain_facets(fig)
        _shared_x_title(fig, "within-agent effect (log-odds, + = better for customers)")
        figs["items"] = fig
    if len(d.quadrant):
        q = d.quadrant
        fig = px.scatter(
            q,
            x="qa_mean",
            y="outcome_effect",
            color="quadrant",
            hover_data=[c for c in ("agent_id", "team", "n_interactions", "n_responses", "observed") if c in q],
            labels={
                "qa_mean": "agent's average QA score",
                "outcome_effect": f"agent's {d.meta.get('headline_label', 'outcome')} vs average "
                "(log-odds, + = better, adjusted for contact mix)",
            },
            title="100 for whom? Agents' QA score vs what their customers experience",
        )
        fig.add_vline(x=float(q["qa_mean"].median()), line_dash="dot")
        fig.add_hline(y=float(q["outcome_effect"].median()), line_dash="dot")
        figs["quadrant"] = fig
    if len(d.variance):
        v = d.variance.assign(
            outcome_label=d.variance["outcome"].map(_outcome_label),
            pct=100 * d.variance["systematic_share"],
        )
        v = v[v["component"] != "interaction"]
        figs["root_causes"] = px.bar(
            v,
            x="outcome_label",
            y="pct",
            color="component",
            labels={"pct": "share of systematic variance (%)", "outcome_label": ""},
            title="Agents or the system? Where outcome differences come from",
        )
    time_fig = item_time_figure(d.items if len(d.items) else None)
    if time_fig is not None:
        figs["item_time"] = time_fig
    rel_fig = reliability_figure(getattr(d, "reliability", None))
    if rel_fig is not None:
        figs["reliability"] = rel_fig
    return figs
