"""Diagnosis: how well checklist QA scores (and each checklist item) explain customer outcomes.

:func:`diagnose` answers four questions on historical interactions, before any pilot:

1. **Alignment.** How much of each outcome (CSAT, NPS, FCR, repeat contacts: every registered
   ordinal or binomial metric) does the QA score explain, per interaction and between agents,
   next to the behavior-based score where present?
2. **Items.** Which checklist items matter for customers, which are noise, which hurt?
3. **"100 for whom?"** Which agents score high on QA but have poor customer outcomes (and the reverse)?
4. **Root causes.** How much of the outcome variance sits with agents, and how much with contact
   reasons and channels (the system)?
5. **Time.** What does each item cost in handle time (seconds per call)?
6. **Sampling.** How far can an agent's monthly QA score be trusted, and how many evaluations
   would it take (:mod:`.reliability`)?

An export taken during a pilot holds both programs: the diagnosis then uses only the rows from
before the pilot (when the experiment file has a baseline period) or adjusts every model for the
program, and says which (:mod:`.program`).

The package is split by job: :mod:`.prepare` (which outcomes, scores and items the canonical
table allows), :mod:`.blocks` (each part as a model block of cells, and fitting them with
:mod:`qmsprint.models.diagnosis`), :mod:`.reading` (posteriors into the tables) and
:mod:`.result` (the :class:`Diagnosis` record). Its sentences and figures live in
:mod:`qmsprint.present.diagnosis`; :func:`qmsprint.store.save_diagnosis` writes it to a folder.

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
Item effects are within-agent log-odds (latent-scale) differences for passing the item (an agent's
passed vs failed interactions; the agent's pass rate of the item is a covariate), adjusted for the
other items, the program, channel and contact reason, with agent random effects. With ``g`` the
effect in the outcome's good direction (sign flipped for repeat contacts), an item

* **matters** when the HDI of ``g`` lies above zero and its posterior mean is at least
  :data:`PRACTICAL_EFFECT`;
* **hurts** when the HDI lies below zero and the mean is at most ``-PRACTICAL_EFFECT``;
* is **noise** otherwise (no reliable or no practically relevant association);
* carries **no information** when it is passed (or failed) in at least :data:`UNINFORMATIVE_PASS_RATE`
  of the interactions, and is **constant** when it never varies; neither is fitted.

For handle time the effect is in seconds per call: an item **adds time** when the HDI lies above
zero and the mean is at least :data:`PRACTICAL_SECONDS`, **saves time** the other way round.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from qmsprint import metrics as metric_registry
from qmsprint.diagnosis.blocks import OutcomeBlock, first_accept, fit_blocks, outcome_blocks
from qmsprint.diagnosis.prepare import (
    MIN_AGENTS,
    MIN_RESPONSES,
    UNINFORMATIVE_PASS_RATE,
    DiagnosisData,
    Outcome,
    diagnosable_outcomes,
    prepare_diagnosis,
)
from qmsprint.diagnosis.program import handling, program_columns, program_labels
from qmsprint.diagnosis.reading import (
    PRACTICAL_EFFECT,
    PRACTICAL_SECONDS,
    items_table,
    quadrant_table,
    read_items,
    read_r2,
    read_root_causes,
    root_cause_table,
)
from qmsprint.diagnosis.reliability import RELIABILITY_COLUMNS, reliability_table
from qmsprint.diagnosis.result import R2_COLUMNS, TABLES, VARIANCE_COLUMNS, Diagnosis
from qmsprint.models import draws_of
from qmsprint.models.diagnosis import SMALL_PART_DRAWS
from qmsprint.progress import Progress, silent
from qmsprint.results import Diagnostics
from qmsprint.spec import Spec
from qmsprint.spec_sampler import DIAGNOSIS_TARGET_ACCEPT

__all__ = [
    "DIAGNOSIS_DRAWS",
    "DIAGNOSIS_TUNE",
    "MIN_AGENTS",
    "MIN_RESPONSES",
    "PRACTICAL_EFFECT",
    "PRACTICAL_SECONDS",
    "R2_COLUMNS",
    "RELIABILITY_COLUMNS",
    "RELIABILITY_SCORES",
    "TABLES",
    "UNINFORMATIVE_PASS_RATE",
    "VARIANCE_COLUMNS",
    "Diagnosis",
    "DiagnosisData",
    "Outcome",
    "OutcomeBlock",
    "diagnosable_outcomes",
    "diagnose",
    "diagnosis_draws",
    "prepare_diagnosis",
]

# The diagnosis sizes its own draws: each part starts at :func:`qmsprint.models.diagnosis.part_draws`
# (500 or 800 per chain) and one sampled again with the other parametrization draws DIAGNOSIS_DRAWS,
# whatever the spec's ``draws`` (the effect estimates' draws), unless the spec asks for fewer than a
# small part needs (a quick look): then the spec's draws cap every part. Tuning steps: the spec's, at
# most DIAGNOSIS_TUNE.
DIAGNOSIS_DRAWS = 1000
DIAGNOSIS_TUNE = 500
RELIABILITY_SCORES = ("qa_score", "behavior_score", "auto_score")  # scores whose monthly reliability is read


def diagnosis_draws(spec_draws: int) -> int:
    """Draws per chain the diagnosis may use, given the spec's ``draws`` (the effect estimates').

    :data:`DIAGNOSIS_DRAWS`: each part draws :func:`qmsprint.models.diagnosis.part_draws` of it at
    first (500 or 800) and all of it with the other parametrization. A spec asking for fewer draws
    than a small part needs (:data:`qmsprint.models.diagnosis.SMALL_PART_DRAWS`) asks for a quick
    look: its draws cap every part.
    """
    return spec_draws if spec_draws < SMALL_PART_DRAWS else DIAGNOSIS_DRAWS


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
        The experiment file; its sampler settings (seed, chains, backend, target accept) are
        used, with at most :data:`DIAGNOSIS_TUNE` tuning steps per chain. The draws are the
        diagnosis's own (:func:`diagnosis_draws`), not the spec's.
    frame
        Canonical interaction table as :func:`qmsprint.data.load_frame` returns it (``agent_id``,
        ``qa_score``, outcomes, optionally ``behavior_score``, ``item_<name>``, ``channel``,
        ``contact_reason``, ``team``). ``None`` loads the spec's data: the baseline period when the
        spec has one, else all rows. A given frame with a ``period`` column is restricted to the
        baseline when the spec has one.
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
    prog = progress or silent
    period_label = "all rows"
    pre_pilot = False
    if frame is None:
        prog("loading data", 0.0)
        from qmsprint.data import load_history

        frame, period_label = load_history(spec)
        pre_pilot = spec.periods.baseline is not None
    elif "period" in frame.columns and spec.periods.baseline is not None:
        frame = frame[frame["period"] == "baseline"]
        period_label = "baseline period"
        pre_pilot = True
    prog("preparing cells", 0.05)
    p = prepare_diagnosis(frame, spec, items)
    programs = program_columns(frame, spec)
    prog("QA sampling reliability", 0.08)
    scores = [s for s in RELIABILITY_SCORES if s in frame.columns and frame[s].notna().any()]
    reliability, _ = reliability_table(
        frame, scores, program=program_labels(programs), prob=spec.model.hdi_prob, seed=spec.sampler.seed
    )
    blocks = outcome_blocks(p)
    draws = diagnosis_draws(spec.sampler.draws)
    tune = min(spec.sampler.tune, DIAGNOSIS_TUNE)
    prob = spec.model.hdi_prob
    t0 = time.perf_counter()
    diagnostics: dict[str, Diagnostics] = {}
    r2_rows: list[dict] = []
    item_rows: list[dict] = []
    rc_rows: list[dict] = []
    var_rows: list[dict] = []
    agent_draws: dict[str, np.ndarray] = {}
    for b, idata, diag in fit_blocks(blocks, spec, draws, tune, prog):
        diagnostics[b.key] = diag
        sd, u = draws_of(idata, "sd_agent"), draws_of(idata, "u_agent")
        beta = draws_of(idata, "beta") if "beta" in idata.posterior else np.zeros((len(sd), 0))
        if b.kind == "r2":
            r2_rows += read_r2(b, beta, sd, prob)
        elif b.kind == "items":
            item_rows += read_items(b, beta, prob, p.item_table)
        else:
            agents = b.agents[0]
            rc, vr, du = read_root_causes(b, beta, u, agents, prob, p)
            rc_rows += rc
            var_rows += vr
            full = np.full((len(du), len(p.agents)), np.nan)
            full[:, agents] = du
            agent_draws[b.outcome.name] = full
    seconds = time.perf_counter() - t0
    prog("summarising", 0.9)
    order = [*diagnosable_outcomes(), *([p.time.name] if p.time is not None else [])]
    headline = p.outcomes[0]
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
        "target_accept": spec.sampler.accept(DIAGNOSIS_TARGET_ACCEPT),
        "seed": spec.sampler.seed,
        "seconds": round(seconds, 1),
        "n_cells": sum(len(b.arrays.n) for b in blocks),
        "blocks": {
            b.key: {
                "cells": len(b.arrays.n),
                "observations": int(b.arrays.n.sum()),
                "first_accept": first_accept(b, spec),
            }
            for b in blocks
        },
        "mix_factors": [f for f in ("contact_reason", "channel") if p.df[f].nunique() > 1],
        "practical_effect": PRACTICAL_EFFECT,
        "practical_seconds": PRACTICAL_SECONDS,
        "uninformative_pass_rate": UNINFORMATIVE_PASS_RATE,
        "program": handling(programs, pre_pilot),
        "program_columns": list(p.adjust),
        "item_effects": "within agent",
    }
    prog("done", 1.0)
    return Diagnosis(
        r2=pd.DataFrame(r2_rows, columns=R2_COLUMNS),
        items=items_table(item_rows, p, order),
        quadrant=quadrant_table(p, headline, agent_draws[headline.name]),
        root_causes=root_cause_table(rc_rows, order),
        variance=pd.DataFrame(var_rows, columns=VARIANCE_COLUMNS),
        diagnostics=diagnostics,
        notes=p.notes,
        meta=meta,
        reliability=reliability,
    )
