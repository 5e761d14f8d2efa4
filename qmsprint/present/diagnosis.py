"""What people read about a checklist diagnosis: its summary, notes, labels and figures.

:func:`summary_text` is the plain-language summary (``qmsprint diagnose`` prints it, it is stored
in ``diagnosis.json`` and the app shows it); :func:`figures` draws the diagnosis charts of the
app. The notes a diagnosis carries (skipped parts, excluded items, dropped rows) are worded here
too, as are the agent quadrants and score names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qmsprint import metrics as metric_registry

if TYPE_CHECKING:  # pragma: no cover
    import plotly.graph_objects as go

    from qmsprint.diagnosis import Diagnosis

SCORE_LABELS = {"qa_score": "Checklist QA score", "behavior_score": "Behavior score"}
# agent quadrants by (above the median QA score, above the median outcome)
QUADRANTS = {
    (True, True): "high QA, good outcomes",
    (True, False): "high QA, poor outcomes",
    (False, True): "low QA, good outcomes",
    (False, False): "low QA, poor outcomes",
}
MIX_NAMES = {"contact_reason": "contact reasons", "channel": "channels"}
_ITEM_VERBS = {"matters": "matter", "hurts": "hurt", "noise": "are noise", "constant": "never vary"}


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


def summary_text(d: Diagnosis) -> str:
    """Plain-language summary a consultant can paste into a slide."""
    m = d.meta
    hdi = f"{100 * m.get('hdi_prob', 0.94):.0f}% HDI"
    pct = share_text
    lines = [
        f"Diagnosis of {m.get('name', 'the data')}: {m.get('n_interactions', 0):,} interactions from "
        f"{m.get('n_agents', 0)} agents ({m.get('period_label', 'all rows')})."
    ]
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
            sub = d.items[d.items["outcome"] == outcome]
            label = metric_registry.get(outcome).label
            bits = []
            for lab in ("matters", "hurts", "noise", "no information", "constant"):
                names = sub.loc[sub["label"] == lab, "item"].tolist()
                if names:
                    bits.append(f"{', '.join(names)} {_ITEM_VERBS.get(lab, f'carry {lab}')}")
            if bits:
                lines.append(f"Checklist items for {label}: " + "; ".join(bits) + ".")
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


def figures(d: Diagnosis) -> dict[str, go.Figure]:
    """Plotly figures: ``r2``, ``items``, ``quadrant`` and ``root_causes`` (those with data)."""
    import plotly.express as px

    figs: dict[str, go.Figure] = {}
    if len(d.r2):
        r2 = d.r2.assign(
            outcome_label=d.r2["outcome"].map(_outcome_label),
            score_label=d.r2["score"].map(SCORE_LABELS),
            pct=100 * d.r2["mean"],
            err_hi=100 * (d.r2["hdi_high"] - d.r2["mean"]),
            err_lo=100 * (d.r2["mean"] - d.r2["hdi_low"]),
        )
        figs["r2"] = px.bar(
            r2,
            x="outcome_label",
            y="pct",
            color="score_label",
            barmode="group",
            facet_col="level",
            error_y="err_hi",
            error_y_minus="err_lo",
            labels={"pct": "variance explained (%)", "outcome_label": "", "score_label": "score"},
            title="How much of each outcome the scores explain (latent-scale R², with HDI)",
        )
    fitted = d.items.dropna(subset=["effect"]) if len(d.items) else d.items
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
            labels={"good_effect": "effect on the outcome (log-odds, + = better for customers)", "item": ""},
            title="Checklist items: association with customer outcomes (adjusted, with HDI)",
        )
        fig.add_vline(x=0, line_dash="dot")
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
    return figs
