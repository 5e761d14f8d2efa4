"""Diagnosis: how well checklist QA scores (and each checklist item) explain customer outcomes.

:func:`diagnose` answers four questions on historical interactions, before any pilot:

1. **Alignment.** How much of each outcome (CSAT, NPS, FCR, repeat contacts) does the QA score
   explain, per interaction and between agents, next to the behavior-based score where present?
2. **Items.** Which checklist items matter for customers, which are noise, which hurt?
3. **"100 for whom?"** Which agents score high on QA but have poor customer outcomes (and the reverse)?
4. **Root causes.** How much of the outcome variance sits with agents, and how much with contact
   reasons and channels (the system)?

All models are Bayesian (PyMC, sampled with nutpie) and fitted on cells (sufficient statistics:
level counts or successes per agent x covariate pattern), so their cost grows with cells, not rows.
Each part (per outcome: the R-squared of each score, the items, the root causes) is its own model,
sampled on its own: its step size and mass matrix adapt to it alone, and its convergence is
checked on its own.

R-squared on the latent scale (McKelvey & Zavoina 1975; Nakagawa & Schielzeth 2013)
----------------------------------------------------------------------------------
Ordinal outcomes (CSAT, NPS) use a cumulative-logit model and binary outcomes (FCR, repeat contact)
a logit model; both read the outcome as a latent ``y* = eta + e`` with logistic ``e`` (variance
pi^2/3). For a score ``x`` (standardized) with agent mean ``xbar_j`` the model is::

    eta_ij = b_w (x_ij - xbar_j) + b_b xbar_j + u_j,   u_j ~ Normal(0, s_a)

* interaction-level R2 = Var_i(b_w (x_ij - xbar_j) + b_b xbar_j) / (that + s_a^2 + pi^2/3): the
  share of the latent outcome's variance the score explains (the marginal R2 of a mixed model; with
  ``s_a = 0`` exactly McKelvey-Zavoina's R2 of the outcome on the score alone);
* agent-level R2 = Var_j(b_b xbar_j) / (Var_j(b_b xbar_j) + s_a^2): the share of the variance of
  agents' true (latent) outcome levels that their average score explains, free of survey noise.

Both are computed per posterior draw, so each comes with a posterior mean and HDI.

Item labels
-----------
Item effects are log-odds (latent-scale) differences for passing the item, adjusted for the other
items, channel and contact reason, with agent random effects. With ``g`` the effect in the
outcome's good direction (sign flipped for repeat contacts), an item

* **matters** when the HDI of ``g`` lies above zero and its posterior mean is at least
  :data:`PRACTICAL_EFFECT`;
* **hurts** when the HDI lies below zero and the mean is at most ``-PRACTICAL_EFFECT``;
* is **noise** otherwise (no reliable or no practically relevant association);
* carries **no information** when it is passed (or failed) in at least :data:`UNINFORMATIVE_PASS_RATE`
  of the interactions, and is **constant** when it never varies; neither is fitted.
"""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from qmsprint import metrics as metric_registry
from qmsprint.errors import DataError, Problem
from qmsprint.progress import Progress, silent
from qmsprint.results import Diagnostics
from qmsprint.spec import ITEM_PREFIX, Spec
from qmsprint.stats import hdi

if TYPE_CHECKING:  # pragma: no cover
    import plotly.graph_objects as go

OUTCOMES = ("csat", "nps", "fcr", "repeat_contact")
SCORES = {"qa_score": "Checklist QA score", "behavior_score": "Behavior score"}
LOGISTIC_VAR = float(np.pi**2 / 3)
MIN_AGENTS = 10
MIN_RESPONSES = 100
UNINFORMATIVE_PASS_RATE = 0.99
PRACTICAL_EFFECT = 0.05
DIAGNOSIS_DRAWS = 1000  # at most this many draws and tuning steps per chain (the spec's, if fewer)
DIAGNOSIS_TUNE = 500
# Diagnosis parts centre agent effects from a median Fisher information per agent of 20 (x the
# typical agent sd 0.3 squared): they have no treatment effect to form a ridge with, and on the
# bundled data centring already pays at about 50 (CSAT vs QA score: bulk ESS 1,103 vs 653).
CENTRED_RATIO = 20.0 * 0.3**2
SCORE_BINS = 20  # continuous scores are grouped into this many quantile bins (cells), QA values kept as they are

R2_COLUMNS = ["outcome", "score", "level", "mean", "hdi_low", "hdi_high", "n_obs", "n_agents"]
VARIANCE_COLUMNS = ["outcome", "component", "share", "hdi_low", "hdi_high", "systematic_share"]
QUADRANTS = {
    (True, True): "high QA, good outcomes",
    (True, False): "high QA, poor outcomes",
    (False, True): "low QA, good outcomes",
    (False, False): "low QA, poor outcomes",
}


# --------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(df.to_json(orient="records", date_format="iso"))


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%" if x >= 0.01 or x == 0 else f"{100 * x:.1f}%"


@dataclass
class Diagnosis:
    """What :func:`diagnose` found.

    Attributes
    ----------
    r2
        One row per outcome x score x level (``interaction`` / ``agent``): posterior ``mean``,
        ``hdi_low``, ``hdi_high`` of the latent-scale R-squared, with ``n_obs`` and ``n_agents``.
    items
        One row per outcome x checklist item: ``pass_rate``, ``effect`` (log-odds for passing),
        HDI, ``good_effect`` (in the good direction), ``prob_good``, ``label``
        (``matters`` / ``noise`` / ``hurts`` / ``no information`` / ``constant``), sorted.
    quadrant
        One row per agent: QA mean, headline outcome (observed and model-based, adjusted for
        contact mix), and the quadrant label ("high QA, poor outcomes" is "100 for whom?").
    root_causes
        One row per outcome x factor (``contact_reason`` / ``channel``) x value: volume, observed
        outcome, latent effect vs the average (HDI) and ``prob_worse``, worst first.
    variance
        One row per outcome x component (``agent``, ``contact_reason``, ``channel``,
        ``interaction``): share of the latent outcome variance (HDI) and share of the systematic part.
    diagnostics
        Convergence of each fit, keyed ``<outcome>/<part>``.
    notes
        Caveats: skipped parts, excluded items, dropped rows.
    meta
        Counts, period, headline outcome, HDI probability.

    """

    r2: pd.DataFrame
    items: pd.DataFrame
    quadrant: pd.DataFrame
    root_causes: pd.DataFrame
    variance: pd.DataFrame
    diagnostics: dict[str, Diagnostics]
    notes: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def converged(self) -> bool:
        """True when every fit meets the convergence bars."""
        return all(d.converged for d in self.diagnostics.values())

    # ---------------------------------------------------------------- text
    def summary_text(self) -> str:
        """Plain-language summary a consultant can paste into a slide."""
        m = self.meta
        hdi = f"{100 * m.get('hdi_prob', 0.94):.0f}% HDI"
        lines = [
            f"Diagnosis of {m.get('name', 'the data')}: {m.get('n_interactions', 0):,} interactions from "
            f"{m.get('n_agents', 0)} agents ({m.get('period_label', 'all rows')})."
        ]
        # Alignment
        for outcome in self.r2["outcome"].unique() if len(self.r2) else []:
            sub = self.r2[self.r2["outcome"] == outcome]
            label = metric_registry.get(outcome).label
            parts = []
            for score in SCORES:
                rows = sub[sub["score"] == score].set_index("level")
                if "interaction" not in rows.index:
                    continue
                r_i, r_a = rows.loc["interaction"], rows.loc["agent"]
                parts.append(
                    f"the {SCORES[score][0].lower() + SCORES[score][1:]} explains {_pct(r_i['mean'])} "
                    f"({hdi} {_pct(r_i['hdi_low'])}-{_pct(r_i['hdi_high'])}) of {label} variance per "
                    f"interaction and {_pct(r_a['mean'])} ({_pct(r_a['hdi_low'])}-{_pct(r_a['hdi_high'])}) "
                    "of the differences between agents"
                )
            if parts:
                lines.append(f"{label}: " + "; ".join(parts) + ".")
        # Items
        if len(self.items):
            for outcome in self.items["outcome"].unique():
                sub = self.items[self.items["outcome"] == outcome]
                label = metric_registry.get(outcome).label
                bits = []
                for lab in ("matters", "hurts", "noise", "no information", "constant"):
                    names = sub.loc[sub["label"] == lab, "item"].tolist()
                    if names:
                        verb = {"matters": "matter", "hurts": "hurt", "noise": "are noise"}.get(lab, f"carry {lab}")
                        if lab == "constant":
                            verb = "never vary"
                        bits.append(f"{', '.join(names)} {verb}")
                if bits:
                    lines.append(f"Checklist items for {label}: " + "; ".join(bits) + ".")
        # Quadrant
        if len(self.quadrant):
            q = self.quadrant
            n = len(q)
            hp = int((q["quadrant"] == QUADRANTS[(True, False)]).sum())
            lg = int((q["quadrant"] == QUADRANTS[(False, True)]).sum())
            label = metric_registry.get(m["headline"]).label if m.get("headline") else "outcomes"
            lines.append(
                f"100 for whom? {hp} of {n} agents ({_pct(hp / n)}) are above the median QA score but below the "
                f"median agent on {label}{' (adjusted for contact mix)' if m.get('mix_factors', True) else ''}; "
                f"{lg} ({_pct(lg / n)}) are the reverse."
            )
        # Root causes
        if len(self.variance):
            for outcome in self.variance["outcome"].unique():
                v = self.variance[self.variance["outcome"] == outcome].set_index("component")
                label = metric_registry.get(outcome).label
                mix = m.get("mix_factors", ["contact_reason", "channel"])
                if not mix:
                    lines.append(
                        f"Root causes of {label}: agents account for {_pct(v.loc['agent', 'share'])} of its variance; "
                        "without channel or contact-reason data the system's share cannot be estimated."
                    )
                    continue
                agent = v.loc["agent", "systematic_share"]
                names = {"contact_reason": "contact reasons", "channel": "channels"}
                parts = ", ".join(f"{names[f]} {_pct(v.loc[f, 'systematic_share'])}" for f in mix)
                text = (
                    f"Root causes of {label}: of the variation between agents, "
                    f"{' and '.join(names[f] for f in mix)}, {_pct(agent)} is agents and {_pct(1 - agent)} is the "
                    f"system ({parts})"
                )
                rc = self.root_causes[
                    (self.root_causes["outcome"] == outcome)
                    & (self.root_causes["factor"] == "contact_reason")
                    & (self.root_causes["prob_worse"] >= 0.95)
                ]
                if len(rc):
                    worst = ", ".join(f"{r.value} ({r.observed_text})" for r in rc.head(3).itertuples())
                    text += f"; worst contact reasons regardless of agent: {worst}"
                lines.append(text + ".")
        bad = {k: d.problems for k, d in self.diagnostics.items() if not d.converged}
        if bad:
            lines.append(
                "Caution: some fits missed the convergence bars ("
                + "; ".join(f"{k}: {', '.join(p)}" for k, p in bad.items())
                + "); read those numbers as indicative."
            )
        elif self.diagnostics:
            lines.append("All fits met the convergence bars (R-hat, ESS, divergences, E-BFMI).")
        for note in self.notes:
            lines.append(f"Note: {note}")
        return "\n".join(lines)

    # ---------------------------------------------------------------- data
    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (used by run bundles and the app)."""
        return {
            "meta": json.loads(json.dumps(self.meta, default=str)),
            "r2": _records(self.r2),
            "items": _records(self.items),
            "quadrant": _records(self.quadrant),
            "root_causes": _records(self.root_causes),
            "variance": _records(self.variance),
            "diagnostics": {k: json.loads(json.dumps(d.to_dict(), default=float)) for k, d in self.diagnostics.items()},
            "converged": self.converged,
            "notes": list(self.notes),
            "summary": self.summary_text(),
        }

    def save(self, out_dir: str | Path) -> list[Path]:
        """Write ``diagnosis.json`` and one CSV per table into a new folder.

        Raises
        ------
        BundleError
            If ``out_dir`` already exists (nothing is overwritten).

        """
        from qmsprint.bundle import write_new_folder

        def write(folder: Path) -> list[str]:
            (folder / "diagnosis.json").write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")
            tables = ("r2", "items", "quadrant", "root_causes", "variance")
            for name in tables:
                getattr(self, name).to_csv(folder / f"{name}.csv", index=False)
            return ["diagnosis.json"] + [f"{name}.csv" for name in tables]

        return write_new_folder(out_dir, write, "diagnoses")

    # ---------------------------------------------------------------- plots
    def figures(self) -> dict[str, go.Figure]:
        """Plotly figures: ``r2``, ``items``, ``quadrant`` and ``root_causes`` (those with data)."""
        import plotly.express as px

        figs: dict[str, go.Figure] = {}
        if len(self.r2):
            d = self.r2.assign(
                outcome_label=self.r2["outcome"].map(lambda o: metric_registry.get(o).label),
                score_label=self.r2["score"].map(SCORES),
                pct=100 * self.r2["mean"],
                err_hi=100 * (self.r2["hdi_high"] - self.r2["mean"]),
                err_lo=100 * (self.r2["mean"] - self.r2["hdi_low"]),
            )
            fig = px.bar(
                d,
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
            figs["r2"] = fig
        fitted = self.items.dropna(subset=["effect"]) if len(self.items) else self.items
        if len(fitted):
            d = fitted.assign(
                outcome_label=fitted["outcome"].map(lambda o: metric_registry.get(o).label),
                err_hi=fitted["good_hdi_high"] - fitted["good_effect"],
                err_lo=fitted["good_effect"] - fitted["good_hdi_low"],
            )
            fig = px.scatter(
                d,
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
        if len(self.quadrant):
            q = self.quadrant
            fig = px.scatter(
                q,
                x="qa_mean",
                y="outcome_effect",
                color="quadrant",
                hover_data=[c for c in ("agent_id", "team", "n_interactions", "n_responses", "observed") if c in q],
                labels={
                    "qa_mean": "agent's average QA score",
                    "outcome_effect": f"agent's {self.meta.get('headline_label', 'outcome')} vs average "
                    "(log-odds, + = better, adjusted for contact mix)",
                },
                title="100 for whom? Agents' QA score vs what their customers experience",
            )
            fig.add_vline(x=float(q["qa_mean"].median()), line_dash="dot")
            fig.add_hline(y=float(q["outcome_effect"].median()), line_dash="dot")
            figs["quadrant"] = fig
        if len(self.variance):
            d = self.variance.assign(
                outcome_label=self.variance["outcome"].map(lambda o: metric_registry.get(o).label),
                pct=100 * self.variance["systematic_share"],
            )
            d = d[d["component"] != "interaction"]
            fig = px.bar(
                d,
                x="outcome_label",
                y="pct",
                color="component",
                labels={"pct": "share of systematic variance (%)", "outcome_label": ""},
                title="Agents or the system? Where outcome differences come from",
            )
            figs["root_causes"] = fig
        return figs


# --------------------------------------------------------------------------------------------
# Preparing the data
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    name: str
    family: Literal["ordinal", "binomial"]
    levels: tuple[int, ...]  # ordinal levels (empty for binomial)
    better: Literal["higher", "lower"]

    @property
    def sign(self) -> float:
        return 1.0 if self.better == "higher" else -1.0


@dataclass
class _Prepared:
    df: pd.DataFrame
    outcomes: list[_Outcome]
    scores: list[str]
    fit_items: list[str]
    item_table: pd.DataFrame  # item, pass_rate, n, status
    agents: pd.Index
    notes: list[str]


def _outcome_specs(spec: Spec) -> dict[str, _Outcome]:
    better = {m.name: m.better for m in spec.metrics}
    return {
        "csat": _Outcome(
            "csat", "ordinal", tuple(range(spec.csat_scale[0], spec.csat_scale[1] + 1)), better.get("csat", "higher")
        ),
        "nps": _Outcome("nps", "ordinal", tuple(range(11)), better.get("nps", "higher")),
        "fcr": _Outcome("fcr", "binomial", (), better.get("fcr", "higher")),
        "repeat_contact": _Outcome("repeat_contact", "binomial", (), better.get("repeat_contact", "lower")),
    }


def _prepare(frame: pd.DataFrame, spec: Spec, items: Sequence[str] | None) -> _Prepared:
    problems: list[Problem] = []
    notes: list[str] = []
    cols = set(frame.columns)
    for col in ("qa_score", "agent_id"):
        if col not in cols:
            what = "the checklist QA score (0-100) per interaction" if col == "qa_score" else "the agent of each row"
            problems.append(
                Problem(col, f"column is missing: the diagnosis needs {what} (map it in [data.columns] of the spec)")
            )
    present_items = sorted(c for c in frame.columns if str(c).startswith(ITEM_PREFIX))
    asked = list(items) if items is not None else sorted(k for k in spec.data.columns if k.startswith(ITEM_PREFIX))
    asked = [a if a.startswith(ITEM_PREFIX) else ITEM_PREFIX + a for a in asked]
    missing_items = [a for a in asked if a not in cols]
    if missing_items:
        problems.append(
            Problem(
                "items",
                "checklist item columns asked for are missing from the data"
                + (f"; the data has {', '.join(present_items)}" if present_items else "; the data has no item columns"),
                examples=tuple(missing_items),
            )
        )
    specs = _outcome_specs(spec)
    present = [o for o in OUTCOMES if o in cols and frame[o].notna().any()]
    if not present:
        problems.append(
            Problem("outcomes", "no outcome column with data: expected at least one of " + ", ".join(OUTCOMES))
        )
    if problems:
        raise DataError("cannot diagnose this data", problems)

    keep = ["agent_id", "qa_score"] + [c for c in ("behavior_score", "channel", "contact_reason", "team") if c in cols]
    item_cols = asked or present_items
    df = frame[keep + present + item_cols].copy()
    for col in ("channel", "contact_reason"):
        if col not in df:
            df[col] = "all"
            notes.append(f"no {col} column: the models cannot adjust for or break down by {col}")
        df[col] = df[col].astype("string").fillna("(missing)")
    df["agent_id"] = df["agent_id"].astype("string")
    bad_qa = ~df["qa_score"].isna() & ~df["qa_score"].between(0, 100)
    if bad_qa.any():
        problems.append(
            Problem(
                "qa_score",
                "QA scores must be between 0 and 100",
                rows=tuple(int(i) + 1 for i in np.flatnonzero(bad_qa.to_numpy())[:5]),
                count=int(bad_qa.sum()),
                examples=tuple(str(v) for v in df.loc[bad_qa, "qa_score"].head(5)),
            )
        )
    n_no_qa = int(df["qa_score"].isna().sum())
    if n_no_qa:
        notes.append(f"{n_no_qa:,} interactions without a QA score are left out")
        df = df[df["qa_score"].notna()]
    # outcomes
    for o in present:
        s = df[o]
        if specs[o].family == "ordinal":
            lv = specs[o].levels
            v = pd.to_numeric(s, errors="coerce")
            bad = s.notna() & ~v.isin(lv)
            if bad.any():
                problems.append(
                    Problem(
                        o,
                        f"expected whole numbers {lv[0]}-{lv[-1]} (or empty for no answer)",
                        count=int(bad.sum()),
                        examples=tuple(str(x) for x in s[bad].head(5)),
                    )
                )
            df[o] = v.astype("Int64")
        else:
            v = s.astype("object").map(
                lambda x: (
                    None
                    if x is None or (isinstance(x, float) and np.isnan(x)) or x is pd.NA
                    else {True: 1, False: 0, "true": 1, "false": 0, "1": 1, "0": 0}.get(
                        x.lower() if isinstance(x, str) else x, -1
                    )
                )
            )
            bad = v.notna() & (v == -1)
            if bad.any():
                problems.append(
                    Problem(
                        o,
                        "expected true/false (or 1/0, or empty)",
                        count=int(bad.sum()),
                        examples=tuple(str(x) for x in s[bad].head(5)),
                    )
                )
            df[o] = pd.array(v, dtype="Int64")
    # items
    rows = []
    for it in item_cols:
        v = pd.to_numeric(df[it].astype("object").map(lambda x: int(x) if isinstance(x, bool) else x), errors="coerce")
        bad = df[it].notna() & ~v.isin([0, 1])
        if bad.any():
            problems.append(
                Problem(
                    it,
                    "checklist items must be 0/1 (failed/passed)",
                    count=int(bad.sum()),
                    examples=tuple(str(x) for x in df.loc[bad, it].head(5)),
                )
            )
        df[it] = v
        n = int(v.notna().sum())
        rate = float(v.mean()) if n else float("nan")
        if n == 0 or v.nunique(dropna=True) < 2:
            status = "constant"
        elif max(rate, 1 - rate) >= UNINFORMATIVE_PASS_RATE:
            status = "no information"
        else:
            status = "fit"
        rows.append({"item": it[len(ITEM_PREFIX) :], "column": it, "pass_rate": rate, "n": n, "status": status})
    if problems:
        raise DataError("cannot diagnose this data", problems)
    item_table = pd.DataFrame(rows, columns=["item", "column", "pass_rate", "n", "status"])
    if not item_cols:
        notes.append("no checklist item columns (item_<name>): the per-item analysis is skipped")
    for r in item_table.itertuples():
        if r.status == "constant":
            notes.append(f"item {r.item} never varies: it is excluded from the item models")
        elif r.status == "no information":
            notes.append(
                f"item {r.item} is passed in {_pct(r.pass_rate)} of interactions: too rarely failed (or passed) "
                "to carry information, so it is not fitted"
            )
    fit_items = item_table.loc[item_table["status"] == "fit", "column"].tolist()
    nulls = df[fit_items].isna().any(axis=1) if fit_items else pd.Series(False, index=df.index)
    if nulls.any():
        notes.append(f"{int(nulls.sum()):,} interactions with a missing item value are left out of the item models")
    scores = ["qa_score"] + (
        ["behavior_score"] if "behavior_score" in df and df["behavior_score"].notna().any() else []
    )
    # sample size
    agents = pd.Index(sorted(df["agent_id"].unique()), name="agent")
    if len(agents) < MIN_AGENTS:
        raise DataError(
            "too few agents to diagnose",
            [
                Problem(
                    "agent_id",
                    f"{len(agents)} agent(s) with QA-scored interactions; at least {MIN_AGENTS} are needed "
                    "to separate agent differences from noise",
                )
            ],
        )
    outcomes: list[_Outcome] = []
    tiny: list[Problem] = []
    for o in present:
        n = int(df[o].notna().sum())
        a = int(df.loc[df[o].notna(), "agent_id"].nunique())
        if n < MIN_RESPONSES or a < MIN_AGENTS:
            tiny.append(
                Problem(
                    o,
                    f"{n} response(s) from {a} agent(s); at least {MIN_RESPONSES} responses from "
                    f"{MIN_AGENTS} agents are needed to estimate it",
                )
            )
        else:
            outcomes.append(specs[o])
    if not outcomes:
        raise DataError("too little outcome data to diagnose", tiny)
    notes += [f"{p.where} is skipped: {p.message}" for p in tiny]
    return _Prepared(df, outcomes, scores, fit_items, item_table, agents, notes)


# --------------------------------------------------------------------------------------------
# Cells and model blocks
# --------------------------------------------------------------------------------------------
#
# Every part of the diagnosis (R-squared of a score, item effects, root causes; per outcome) is a
# *block*: cells with trials and counts, a design matrix of fixed effects, and agent random
# effects. Each block is one PyMC model (:func:`_model`), fitted by :func:`_fits`.


def _cells(df: pd.DataFrame, keys: list[str], o: _Outcome) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Group rows by ``keys``: cell table, trials ``n`` and level counts (ordinal) or successes."""
    d = df[df[o.name].notna()]
    if o.family == "ordinal":
        counts = d.groupby(keys + [o.name], observed=True, sort=True).size().unstack(o.name, fill_value=0)
        counts = counts.reindex(columns=list(o.levels), fill_value=0)
        cells = counts.index.to_frame(index=False)
        y = counts.to_numpy(dtype="int64")
        return cells, y.sum(axis=1), y
    g = d.groupby(keys, observed=True, sort=True)[o.name].agg(["size", "sum"])
    cells = g.index.to_frame(index=False)
    return cells, g["size"].to_numpy(dtype="int64"), g["sum"].to_numpy(dtype="int64")


@dataclass
class _Block:
    """One part of the diagnosis: its cells, its model's design and how to read it."""

    key: str  # "<outcome>/<part>"
    kind: str  # r2 | items | rc
    outcome: _Outcome
    coefs: list[str]
    X: np.ndarray  # cells x coefs
    agent_idx: np.ndarray
    n: np.ndarray
    y: np.ndarray
    info: dict[str, Any]

    @cached_property
    def agents(self) -> tuple[np.ndarray, np.ndarray]:
        """(positions in ``_Prepared.agents`` of the block's agents, each cell's index into them)."""
        return np.unique(self.agent_idx, return_inverse=True)


def _weighted_var(x: np.ndarray, w: np.ndarray) -> float:
    m = np.average(x, weights=w)
    return float(np.average((x - m) ** 2, weights=w))


def _r2_block(p: _Prepared, o: _Outcome, score: str) -> _Block:
    df = p.df[p.df[score].notna()]
    s = df[score].astype(float)
    mu, sd = float(s.mean()), float(s.std())
    if not sd > 0:
        sd = 1.0
    z = (s - mu) / sd
    xbar = z.groupby(df["agent_id"]).mean()
    if s.nunique() > SCORE_BINS:
        # cells by score bin; each cell uses the mean standardized score of its rows
        bins = pd.Series(pd.qcut(s, SCORE_BINS, labels=False, duplicates="drop"), index=s.index)
    else:
        bins = s
    d = pd.DataFrame({"agent_id": df["agent_id"], "bin": bins, "x": z, o.name: df[o.name]})
    cells, n, y = _cells(d, ["agent_id", "bin"], o)
    d = d[d[o.name].notna()]
    x = d.groupby(["agent_id", "bin"], observed=True, sort=True)["x"].mean().to_numpy(float)
    xb = xbar.reindex(cells["agent_id"]).to_numpy(float)
    xw = x - xb
    w = n.astype(float)
    mw, mb = np.average(xw, weights=w), np.average(xb, weights=w)
    in_cells = np.isin(xbar.index, cells["agent_id"].unique())
    info = {
        "score": score,
        "var_w": _weighted_var(xw, w),
        "var_b": _weighted_var(xb, w),
        "cov_wb": float(np.average((xw - mw) * (xb - mb), weights=w)),
        "var_b_agents": float(np.var(xbar.to_numpy(float)[in_cells])),
        "n_obs": int(n.sum()),
        "n_agents": int(cells["agent_id"].nunique()),
    }
    X = np.column_stack([xw, xb])
    idx = p.agents.get_indexer(cells["agent_id"])
    return _Block(f"{o.name}/{score}", "r2", o, ["within", "between"], X, idx, n, y, info)


def _dummies(values: pd.Series, levels: list[str]) -> np.ndarray:
    """Reference-coded indicators of ``levels[1:]``."""
    return np.column_stack([(values == lv).to_numpy(float) for lv in levels[1:]]) if len(levels) > 1 else None


def _mix_levels(p: _Prepared, col: str) -> list[str]:
    """Levels of a mix factor, the most frequent first (the reference)."""
    return p.df[col].value_counts().index.tolist()


def _items_block(p: _Prepared, o: _Outcome) -> _Block:
    items = p.fit_items
    df = p.df.dropna(subset=items)
    d = df[["agent_id", "channel", "contact_reason", o.name]].copy()
    bits = np.int64(1) << np.arange(len(items), dtype=np.int64)
    d["pattern"] = df[items].to_numpy(dtype="int64") @ bits  # which items passed, as one integer
    cells, n, y = _cells(d, ["agent_id", "pattern", "channel", "contact_reason"], o)
    X = ((cells["pattern"].to_numpy(dtype="int64")[:, None] & bits) > 0).astype(float)
    names = [c[len(ITEM_PREFIX) :] for c in items]
    coefs = list(names)
    mats = [X]
    for col in ("channel", "contact_reason"):
        levels = _mix_levels(p, col)
        m = _dummies(cells[col], levels)
        if m is not None:
            mats.append(m)
            coefs += [f"{col}={lv}" for lv in levels[1:]]
    info = {"items": names, "n_obs": int(n.sum()), "n_agents": int(cells["agent_id"].nunique())}
    idx = p.agents.get_indexer(cells["agent_id"])
    return _Block(f"{o.name}/items", "items", o, coefs, np.hstack(mats), idx, n, y, info)


def _rc_block(p: _Prepared, o: _Outcome) -> _Block:
    cells, n, y = _cells(p.df, ["agent_id", "channel", "contact_reason"], o)
    mats, coefs, info = [], [], {}
    w = pd.Series(n.astype(float), index=cells.index)
    for col, short in (("channel", "channel"), ("contact_reason", "reason")):
        levels = _mix_levels(p, col)
        m = _dummies(cells[col], levels)
        if m is not None:
            mats.append(m)
            coefs += [f"{col}={lv}" for lv in levels[1:]]
        info[f"{short}s"] = levels
        info[f"w_{short}"] = w.groupby(cells[col]).sum().reindex(levels).fillna(0).to_numpy(float)
    info["w_agent"] = w.groupby(cells["agent_id"]).sum().reindex(p.agents).fillna(0).to_numpy(float)
    info["n_obs"] = int(n.sum())
    info["n_agents"] = int(cells["agent_id"].nunique())
    X = np.hstack(mats) if mats else np.zeros((len(cells), 0))
    idx = p.agents.get_indexer(cells["agent_id"])
    return _Block(f"{o.name}/root_causes", "rc", o, coefs, X, idx, n, y, info)


def _blocks(p: _Prepared) -> list[_Block]:
    blocks: list[_Block] = []
    for o in p.outcomes:
        blocks += [_r2_block(p, o, score) for score in p.scores]
        if p.fit_items:
            blocks.append(_items_block(p, o))
        blocks.append(_rc_block(p, o))
    return blocks


def _information(b: _Block) -> np.ndarray:
    """Fisher information about each agent's effect on the latent scale (per agent of the block)."""
    from qmsprint.models import binomial, ordinal

    if b.outcome.family == "binomial":
        per_cell = binomial.information(b.y, b.n)
    else:
        per_cell = b.n * ordinal.information(b.y)
    return np.bincount(b.agents[1], weights=per_cell)


def _model(b: _Block, centered: bool) -> tuple[Any, dict[str, np.ndarray]]:
    """The PyMC model of one block and the sampler's starting values.

    Agent effects ``u_j ~ Normal(m_j, sd_agent)`` with ``m_j = b_b xbar_j`` in an R-squared block
    (its between-agent slope) and 0 otherwise, ``centered`` or as ``m_j + sd_agent z_j``. The
    likelihoods are :func:`.models.binomial.loglik` and :func:`.models.ordinal.loglik` (PyMC's
    binomial and ordered multinomial up to a constant, cheaper to differentiate).
    """
    import pymc as pm
    import pytensor.tensor as pt

    from qmsprint.models import binomial, ordinal

    agents, codes = b.agents
    initial: dict[str, np.ndarray] = {}
    with pm.Model(coords={"agent": agents.tolist(), "coef": b.coefs}) as model:
        beta = pm.Normal("beta", 0.0, 1.0, dims="coef") if b.coefs else None
        sd = pm.HalfNormal("sd_agent", 1.0)
        if b.kind == "r2":  # X = [within, between]; the between slope is the agents' mean
            xbar = np.zeros(len(agents))
            xbar[codes] = b.X[:, 1]
            fixed, mean = beta[0] * b.X[:, 0], beta[1] * xbar
        else:
            fixed, mean = (pt.dot(b.X, beta) if b.coefs else 0.0), 0.0
        if centered:
            u = pm.Normal("u_agent", mean, sd, dims="agent")
        else:
            z = pm.Normal("z_agent", 0.0, 1.0, dims="agent")
            u = pm.Deterministic("u_agent", mean + sd * z, dims="agent")
        eta = fixed + u[codes]
        if b.outcome.family == "binomial":
            a = pm.Normal("intercept", mu=binomial.center({"y": b.y, "n": b.n}), sigma=2.5)
            data = {"y__y": b.y.astype(float), "y__n": b.n.astype(float)}
            pm.Potential("y", binomial.loglik(a + eta, data, "y"))
        else:
            tot = b.y.sum(axis=0) + 0.5
            cum = np.clip(np.cumsum(tot)[:-1] / tot.sum(), 1e-3, 1 - 1e-3)
            initial["cut"] = np.log(cum / (1 - cum)) + np.arange(len(cum)) * 1e-3
            cut = pm.Normal("cut", mu=0.0, sigma=4.0, shape=len(cum), transform=pm.distributions.transforms.ordered)
            data = {f"y__{k}": v for k, v in ordinal.pair_data(b.y).items()}
            pm.Potential("y", ordinal.loglik(eta, cut, data, "y"))
    return model, initial


def _fits(
    blocks: list[_Block], spec: Spec, draws: int, tune: int, progress: Progress
) -> Iterator[tuple[_Block, Any, Diagnostics]]:
    """Fit every block in turn, yielding (block, posterior, diagnostics).

    The next block compiles while this one samples. A block's agent effects are centred when its
    agents carry enough information (:func:`.models.choose_centred` at :data:`CENTRED_RATIO`), else
    non-centred; a fit that misses the convergence bars is repeated with the other
    parametrization, and the better-converged of the two is kept. ``seconds`` in the diagnostics
    is the block's compile time plus its sampling's wall time.
    """
    from qmsprint.models import choose_centred
    from qmsprint.models.sampling import (
        Prepared,
        diagnostics_of,
        finish_sampling,
        one_blas_thread,
        prepare_model,
        start_sampling,
    )

    s = spec.sampler
    names = ["beta", "sd_agent", "intercept", "cut"]
    centred = [choose_centred(b.outcome.family, _information(b), CENTRED_RATIO) for b in blocks]

    def prepare(k: int, centered: bool) -> Prepared:
        model, initial = _model(blocks[k], centered)
        return prepare_model(model, initial, s.backend)

    def sample(k: int, ready: Prepared, fraction: float, after: Callable[[], Any] = lambda: None) -> tuple:
        t0 = time.perf_counter()
        run = start_sampling(
            ready, draws=draws, tune=tune, chains=s.chains, seed=s.seed + k, target_accept=s.target_accept
        )
        extra = after()  # e.g. compile the next block while this one samples
        idata, sampler = finish_sampling(run, blocks[k].key, progress, fraction)
        seconds = ready.compile_seconds + time.perf_counter() - t0
        return idata, diagnostics_of(idata, names, sampler=sampler, seconds=seconds), extra

    with one_blas_thread():
        ready: Prepared | None = prepare(0, centred[0]) if blocks else None
        for k, b in enumerate(blocks):
            frac = 0.15 + 0.75 * k / len(blocks)
            size = f"{len(b.n):,} cells, {s.chains} chains x {draws}"
            progress(f"fitting {b.key} ({k + 1} of {len(blocks)}: {size})", frac)
            nxt = (lambda k=k: prepare(k + 1, centred[k + 1])) if k + 1 < len(blocks) else (lambda: None)
            idata, diag, following = sample(k, ready, frac, nxt)
            if not diag.converged:
                missed = ", ".join(diag.problems)
                progress(f"{b.key} missed the bars ({missed}): trying the other parametrization", frac)
                idata2, diag2, _ = sample(k, prepare(k, not centred[k]), frac)
                if diag2.converged or len(diag2.problems) < len(diag.problems):
                    idata, diag = idata2, diag2
            ready = following
            yield b, idata, diag


# --------------------------------------------------------------------------------------------
# Reading the posterior
# --------------------------------------------------------------------------------------------


def _read_r2(b: _Block, beta: np.ndarray, sd: np.ndarray, prob: float) -> list[dict[str, Any]]:
    i = b.info
    bw, bb = beta[:, 0], beta[:, 1]
    vf = bw**2 * i["var_w"] + bb**2 * i["var_b"] + 2 * bw * bb * i["cov_wb"]
    r2_int = vf / (vf + sd**2 + LOGISTIC_VAR)
    vb = bb**2 * i["var_b_agents"]
    r2_agent = vb / (vb + sd**2)
    rows = []
    for level, draws in (("interaction", r2_int), ("agent", r2_agent)):
        lo, hi = hdi(draws, prob)
        rows.append(
            {
                "outcome": b.outcome.name,
                "score": i["score"],
                "level": level,
                "mean": float(draws.mean()),
                "hdi_low": lo,
                "hdi_high": hi,
                "n_obs": i["n_obs"],
                "n_agents": i["n_agents"],
            }
        )
    return rows


def _label(mean: float, lo: float, hi: float) -> str:
    if lo > 0 and mean >= PRACTICAL_EFFECT:
        return "matters"
    if hi < 0 and mean <= -PRACTICAL_EFFECT:
        return "hurts"
    return "noise"


def _read_items(part: _Block, g: np.ndarray, prob: float, table: pd.DataFrame) -> list[dict[str, Any]]:
    rates = table.set_index("item")
    rows = []
    for k, name in enumerate(part.info["items"]):
        d = g[:, k]
        good = part.outcome.sign * d
        lo, hi = hdi(d, prob)
        glo, ghi = hdi(good, prob)
        rows.append(
            {
                "outcome": part.outcome.name,
                "item": name,
                "pass_rate": float(rates.loc[name, "pass_rate"]),
                "n": int(rates.loc[name, "n"]),
                "effect": float(d.mean()),
                "hdi_low": lo,
                "hdi_high": hi,
                "good_effect": float(good.mean()),
                "good_hdi_low": glo,
                "good_hdi_high": ghi,
                "prob_good": float((good > 0).mean()),
                "label": _label(float(good.mean()), glo, ghi),
            }
        )
    return rows


def _read_rc(
    part: _Block, beta: np.ndarray, u: np.ndarray, agents: np.ndarray, prob: float, p: _Prepared
) -> tuple[list[dict], list[dict], np.ndarray]:
    """Root-cause rows, variance-share rows and centred agent-effect draws (draws x ``agents``).

    ``u`` holds the agent-effect draws of the block's agents, ``agents`` their positions in ``p.agents``.
    """
    o, i = part.outcome, part.info
    nc = len(i["channels"]) - 1
    zero = np.zeros((len(beta), 1))
    c = np.hstack([zero, beta[:, :nc]])
    r = np.hstack([zero, beta[:, nc:]])

    def centred_var(eff: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m = (eff * w).sum(axis=1, keepdims=True) / w.sum()
        dev = eff - m
        return dev, (dev**2 * w).sum(axis=1) / w.sum()

    dc, vc = centred_var(c, i["w_channel"])
    dr, vr = centred_var(r, i["w_reason"])
    du, va = centred_var(u, i["w_agent"][agents])
    total = va + vc + vr + LOGISTIC_VAR
    sysv = va + vc + vr
    var_rows = []
    for comp, v in (("agent", va), ("contact_reason", vr), ("channel", vc), ("interaction", None)):
        share = (LOGISTIC_VAR / total) if v is None else v / total
        sshare = np.full_like(share, np.nan) if v is None else v / sysv
        lo, hi = hdi(share, prob)
        var_rows.append(
            {
                "outcome": o.name,
                "component": comp,
                "share": float(share.mean()),
                "hdi_low": lo,
                "hdi_high": hi,
                "systematic_share": float(np.mean(sshare)) if v is not None else float("nan"),
            }
        )
    rc_rows = []
    d = p.df[p.df[o.name].notna()]
    for factor, dev, values, w in (
        ("contact_reason", dr, i["reasons"], i["w_reason"]),
        ("channel", dc, i["channels"], i["w_channel"]),
    ):
        obs = d.groupby(factor, observed=True)[o.name].mean().astype(float)
        avg = float(d[o.name].astype(float).mean())
        for k, val in enumerate(values):
            worse = -o.sign * dev[:, k]
            lo, hi = hdi(dev[:, k], prob)
            ob = float(obs.get(val, np.nan))
            if o.family == "binomial":
                text = f"{100 * ob:.1f}% vs {100 * avg:.1f}% overall"
            else:
                text = f"average {ob:.2f} vs {avg:.2f} overall"
            rc_rows.append(
                {
                    "outcome": o.name,
                    "factor": factor,
                    "value": val,
                    "n": int(w[k]),
                    "observed": ob,
                    "overall": avg,
                    "observed_text": text,
                    "effect": float(dev[:, k].mean()),
                    "hdi_low": lo,
                    "hdi_high": hi,
                    "prob_worse": float((worse > 0).mean()),
                    "worse_effect": float(worse.mean()),
                }
            )
    return rc_rows, var_rows, du


# --------------------------------------------------------------------------------------------
# The diagnosis
# --------------------------------------------------------------------------------------------


def diagnose(
    spec: Spec,
    *,
    frame: pd.DataFrame | None = None,
    items: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> Diagnosis:
    """Diagnose how well the checklist QA score and its items explain customer outcomes.

    Parameters
    ----------
    spec
        The experiment file; its sampler settings (seed, chains, backend) are used, with at most
        :data:`DIAGNOSIS_DRAWS` draws and :data:`DIAGNOSIS_TUNE` tuning steps per chain.
    frame
        Canonical interaction table (``agent_id``, ``qa_score``, outcomes, optionally
        ``behavior_score``, ``item_<name>``, ``channel``, ``contact_reason``, ``team``). ``None``
        loads the spec's data: the baseline period when the spec has one, else all rows. A given
        frame with a ``period`` column is restricted to the baseline when the spec has one.
    items
        Checklist items to analyse (``item_<name>`` or ``<name>``); default: the items mapped in the
        spec's ``[data.columns]``, else every ``item_*`` column. No item columns skips the item part.
    progress
        ``progress(message, fraction)`` callback.

    Returns
    -------
    Diagnosis

    Raises
    ------
    DataError
        Missing QA score / agent columns, asked-for items missing, invalid values, or too few
        agents or responses (with how many there are and how many are needed).

    """
    from qmsprint.models import draws_of

    prog = progress or silent
    period_label = "all rows"
    if frame is None:
        prog("loading data", 0.0)
        from qmsprint.data import load_history

        frame, period_label = load_history(spec)
    elif "period" in frame.columns and spec.periods.baseline is not None:
        frame = frame[frame["period"] == "baseline"]
        period_label = "baseline period"
    prog("preparing cells", 0.05)
    p = _prepare(frame, spec, items)
    blocks = _blocks(p)
    draws = min(spec.sampler.draws, DIAGNOSIS_DRAWS)
    tune = min(spec.sampler.tune, DIAGNOSIS_TUNE)
    n_cells = sum(len(b.n) for b in blocks)
    prob = spec.model.hdi_prob
    t0 = time.perf_counter()
    diagnostics: dict[str, Diagnostics] = {}
    r2_rows: list[dict] = []
    item_rows: list[dict] = []
    rc_rows: list[dict] = []
    var_rows: list[dict] = []
    agent_draws: dict[str, np.ndarray] = {}
    for b, idata, diag in _fits(blocks, spec, draws, tune, prog):
        diagnostics[b.key] = diag
        sd, u = draws_of(idata, "sd_agent"), draws_of(idata, "u_agent")
        beta = draws_of(idata, "beta") if "beta" in idata.posterior else np.zeros((len(sd), 0))
        if b.kind == "r2":
            r2_rows += _read_r2(b, beta, sd, prob)
        elif b.kind == "items":
            item_rows += _read_items(b, beta[:, : len(b.info["items"])], prob, p.item_table)
        else:
            agents = b.agents[0]
            rc, vr, du = _read_rc(b, beta, u, agents, prob, p)
            rc_rows += rc
            var_rows += vr
            full = np.full((len(du), len(p.agents)), np.nan)
            full[:, agents] = du
            agent_draws[b.outcome.name] = full
    seconds = time.perf_counter() - t0
    prog("summarising", 0.9)
    # items not fitted, for every fitted outcome
    if len(p.item_table):
        for o in p.outcomes:
            for r in p.item_table[p.item_table["status"] != "fit"].itertuples():
                item_rows.append(
                    {"outcome": o.name, "item": r.item, "pass_rate": r.pass_rate, "n": r.n, "label": r.status}
                )
    item_cols = [
        "outcome", "item", "label", "pass_rate", "n", "effect", "hdi_low", "hdi_high",
        "good_effect", "good_hdi_low", "good_hdi_high", "prob_good",
    ]  # fmt: skip
    items_df = pd.DataFrame(item_rows, columns=item_cols)
    if len(items_df):
        items_df["_o"] = items_df["outcome"].map(OUTCOMES.index)
        items_df = (
            items_df.sort_values(["_o", "good_effect"], ascending=[True, False], na_position="last")
            .drop(columns="_o")
            .reset_index(drop=True)
        )
    rc_df = pd.DataFrame(rc_rows)
    if len(rc_df):
        rc_df["_o"] = rc_df["outcome"].map(OUTCOMES.index)
        rc_df = (
            rc_df.sort_values(["_o", "factor", "worse_effect"], ascending=[True, False, False])
            .drop(columns="_o")
            .reset_index(drop=True)
        )
    headline = p.outcomes[0]
    quadrant = _quadrant(p, headline, agent_draws[headline.name])
    meta = {
        "name": spec.name,
        "client": spec.client,
        "created": datetime.datetime.now().isoformat(timespec="seconds"),
        "period_label": period_label,
        "n_interactions": len(p.df),
        "n_agents": len(p.agents),
        "outcomes": [o.name for o in p.outcomes],
        "scores": p.scores,
        "items": p.item_table["item"].tolist(),
        "headline": headline.name,
        "headline_label": metric_registry.get(headline.name).label,
        "hdi_prob": prob,
        "draws": draws,
        "tune": tune,
        "chains": spec.sampler.chains,
        "seed": spec.sampler.seed,
        "seconds": round(seconds, 1),
        "n_cells": n_cells,
        "blocks": {b.key: {"cells": len(b.n), "observations": int(b.n.sum())} for b in blocks},
        "mix_factors": [f for f in ("contact_reason", "channel") if p.df[f].nunique() > 1],
        "practical_effect": PRACTICAL_EFFECT,
        "uninformative_pass_rate": UNINFORMATIVE_PASS_RATE,
    }
    prog("done", 1.0)
    return Diagnosis(
        r2=pd.DataFrame(r2_rows, columns=R2_COLUMNS),
        items=items_df,
        quadrant=quadrant,
        root_causes=rc_df,
        variance=pd.DataFrame(var_rows, columns=VARIANCE_COLUMNS),
        diagnostics=diagnostics,
        notes=p.notes,
        meta=meta,
    )


def _quadrant(p: _Prepared, o: _Outcome, du: np.ndarray) -> pd.DataFrame:
    """Agent table: QA mean vs the agent's (mix-adjusted, direction-aligned) outcome effect."""
    df = p.df
    g = df.groupby("agent_id", observed=True)
    q = pd.DataFrame(
        {
            "n_interactions": g.size(),
            "qa_mean": g["qa_score"].mean().astype(float),
        }
    )
    if "team" in df:
        q.insert(0, "team", g["team"].agg(lambda s: s.mode().iat[0] if s.notna().any() else None))
    if "behavior_score" in p.scores:
        q["behavior_mean"] = g["behavior_score"].mean().astype(float)
    q["n_responses"] = g[o.name].count().astype(int)
    obs = g[o.name].mean().astype(float)
    q["observed"] = 100 * obs if o.family == "binomial" else obs
    q = q.reindex(p.agents)
    good = o.sign * du  # draws x agents, higher = better
    q["outcome_effect"] = good.mean(axis=0)
    q["prob_better_than_average"] = (good > 0).mean(axis=0)
    q = q[q["n_responses"] > 0]
    qa_high = q["qa_mean"] > q["qa_mean"].median()
    good_out = q["outcome_effect"] > q["outcome_effect"].median()
    q["quadrant"] = [QUADRANTS[(bool(a), bool(b))] for a, b in zip(qa_high, good_out, strict=True)]
    q.index.name = "agent_id"
    return q.reset_index()
