"""Reading the fitted blocks: R-squared, item labels, root causes and variance shares, agent quadrants.

Every number is computed per posterior draw and summarised by its mean and HDI (see the package
docstring for the definitions).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from qmsprint.diagnosis.blocks import OutcomeBlock
from qmsprint.diagnosis.prepare import DiagnosisData, Outcome
from qmsprint.diagnosis.result import ITEM_COLUMNS
from qmsprint.present.diagnosis import QUADRANTS, observed_text
from qmsprint.stats import hdi

LOGISTIC_VAR = float(np.pi**2 / 3)
PRACTICAL_EFFECT = 0.05
PRACTICAL_SECONDS = 5.0  # an item's handle-time effect worth naming (seconds per call)
TIME_LABELS = ("adds time", "saves time", "no time effect")


def read_r2(b: OutcomeBlock, beta: np.ndarray, sd: np.ndarray, prob: float) -> list[dict[str, Any]]:
    """Interaction- and agent-level R-squared rows of an ``r2`` block."""
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


def item_label(mean: float, lo: float, hi: float) -> str:
    """``matters`` / ``hurts`` / ``noise`` from an effect in the good direction (mean and HDI)."""
    if lo > 0 and mean >= PRACTICAL_EFFECT:
        return "matters"
    if hi < 0 and mean <= -PRACTICAL_EFFECT:
        return "hurts"
    return "noise"


def time_label(mean: float, lo: float, hi: float) -> str:
    """``adds time`` / ``saves time`` / ``no time effect`` from an item's effect in seconds per call (mean and HDI)."""
    if lo > 0 and mean >= PRACTICAL_SECONDS:
        return "adds time"
    if hi < 0 and mean <= -PRACTICAL_SECONDS:
        return "saves time"
    return "no time effect"


def read_items(part: OutcomeBlock, beta: np.ndarray, prob: float, table: pd.DataFrame) -> list[dict[str, Any]]:
    """One row per fitted item of an ``items`` block, labelled on its within-agent effect.

    ``beta`` holds the block's coefficient draws: the K within-agent item effects first, then the
    K agent pass rates (between agents). Effects are log-odds for passing (ordinal, binomial
    outcomes) or seconds per call (handle time, labelled by :func:`time_label`).
    """
    rates = table.set_index("item")
    names = part.info["items"]
    k_items = len(names)
    unit = float(part.info.get("scale", (0.0, 1.0))[1]) if part.outcome.family == "gaussian" else 1.0
    rows = []
    for k, name in enumerate(names):
        d = beta[:, k] * unit
        good = part.outcome.sign * d
        between = beta[:, k_items + k] * unit if beta.shape[1] >= 2 * k_items else np.full(len(d), np.nan)
        lo, hi = hdi(d, prob)
        glo, ghi = hdi(good, prob)
        blo, bhi = hdi(between, prob) if np.isfinite(between).all() else (float("nan"), float("nan"))
        if part.outcome.family == "gaussian":
            label = time_label(float(d.mean()), lo, hi)
        else:
            label = item_label(float(good.mean()), glo, ghi)
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
                "label": label,
                "unit": "seconds" if part.outcome.family == "gaussian" else "log-odds",
                "between_effect": float(np.mean(between)),
                "between_hdi_low": blo,
                "between_hdi_high": bhi,
            }
        )
    return rows


def read_root_causes(
    part: OutcomeBlock, beta: np.ndarray, u: np.ndarray, agents: np.ndarray, prob: float, p: DiagnosisData
) -> tuple[list[dict], list[dict], np.ndarray]:
    """Root-cause rows, variance-share rows and centred agent-effect draws (draws x ``agents``).

    ``u`` holds the agent-effect draws of the block's agents, ``agents`` their positions in ``p.agents``.
    """
    o, i = part.outcome, part.info
    nc, nr = len(i["channels"]) - 1, len(i["reasons"]) - 1
    zero = np.zeros((len(beta), 1))
    c = np.hstack([zero, beta[:, :nc]])
    r = np.hstack([zero, beta[:, nc : nc + nr]])  # program columns (if any) come after the reasons

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
    d = p.df[p.df[o.column].notna()]
    for factor, dev, values, w in (
        ("contact_reason", dr, i["reasons"], i["w_reason"]),
        ("channel", dc, i["channels"], i["w_channel"]),
    ):
        obs = d.groupby(factor, observed=True)[o.column].mean().astype(float)
        avg = float(d[o.column].astype(float).mean())
        for k, val in enumerate(values):
            worse = -o.sign * dev[:, k]
            lo, hi = hdi(dev[:, k], prob)
            ob = float(obs.get(val, np.nan))
            rc_rows.append(
                {
                    "outcome": o.name,
                    "factor": factor,
                    "value": val,
                    "n": int(w[k]),
                    "observed": ob,
                    "overall": avg,
                    "observed_text": observed_text(o.family, ob, avg),
                    "effect": float(dev[:, k].mean()),
                    "hdi_low": lo,
                    "hdi_high": hi,
                    "prob_worse": float((worse > 0).mean()),
                    "worse_effect": float(worse.mean()),
                }
            )
    return rc_rows, var_rows, du


def items_table(rows: list[dict[str, Any]], p: DiagnosisData, order: list[str]) -> pd.DataFrame:
    """The item table: fitted rows plus the items not fitted (for every outcome), best first per outcome.

    ``order`` lists the outcomes in the order the table shows them.
    """
    rows = list(rows)
    timed = p.time is not None and any(r["outcome"] == p.time.name for r in rows)
    if len(p.item_table):
        for o in [*p.outcomes, *([p.time] if timed and p.time is not None else [])]:
            for r in p.item_table[p.item_table["status"] != "fit"].itertuples():
                rows.append({"outcome": o.name, "item": r.item, "pass_rate": r.pass_rate, "n": r.n, "label": r.status})
    df = pd.DataFrame(rows, columns=ITEM_COLUMNS)
    if len(df):
        df["_o"] = df["outcome"].map(order.index)
        df = (
            df.sort_values(["_o", "good_effect"], ascending=[True, False], na_position="last")
            .drop(columns="_o")
            .reset_index(drop=True)
        )
    return df


def root_cause_table(rows: list[dict[str, Any]], order: list[str]) -> pd.DataFrame:
    """The root-cause table, per outcome (in ``order``) and factor, worst first."""
    df = pd.DataFrame(rows)
    if len(df):
        df["_o"] = df["outcome"].map(order.index)
        df = (
            df.sort_values(["_o", "factor", "worse_effect"], ascending=[True, False, False])
            .drop(columns="_o")
            .reset_index(drop=True)
        )
    return df


def quadrant_table(p: DiagnosisData, o: Outcome, du: np.ndarray) -> pd.DataFrame:
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
    q["n_responses"] = g[o.column].count().astype(int)
    obs = g[o.column].mean().astype(float)
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
