"""The record :func:`qmsprint.diagnosis.diagnose` returns: tables, fit diagnostics, notes, meta."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from qmsprint.present import diagnosis as text
from qmsprint.results import Diagnostics

R2_COLUMNS = ["outcome", "score", "level", "mean", "hdi_low", "hdi_high", "n_obs", "n_agents"]
ITEM_COLUMNS = [
    "outcome", "item", "label", "pass_rate", "n", "effect", "hdi_low", "hdi_high",
    "good_effect", "good_hdi_low", "good_hdi_high", "prob_good", "unit",
    "between_effect", "between_hdi_low", "between_hdi_high",
]  # fmt: skip
VARIANCE_COLUMNS = ["outcome", "component", "share", "hdi_low", "hdi_high", "systematic_share"]
TABLES = ("r2", "items", "quadrant", "root_causes", "variance", "reliability")


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(df.to_json(orient="records", date_format="iso"))


@dataclass
class Diagnosis:
    """What :func:`qmsprint.diagnosis.diagnose` found.

    Attributes
    ----------
    r2
        One row per outcome x score x level (``interaction`` / ``agent``): posterior ``mean``,
        ``hdi_low``, ``hdi_high`` of the latent-scale R-squared, with ``n_obs`` and ``n_agents``.
    items
        One row per outcome x checklist item: ``pass_rate``, ``effect`` (within-agent: log-odds for
        passing, or seconds per call for ``handle_time``; ``unit`` says which), HDI, ``good_effect``
        (in the good direction), ``prob_good``, ``label`` (``matters`` / ``noise`` / ``hurts`` /
        ``no information`` / ``constant``; for handle time ``adds time`` / ``saves time`` /
        ``no time effect``), the between-agent association (``between_effect`` and HDI), sorted.
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
    reliability
        One row per QA score (checklist, behavior, full-coverage): reliability of an agent's
        monthly score, evaluations needed for 0.8, rank-order chance (:mod:`.reliability`).
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
    reliability: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def converged(self) -> bool:
        """True when every fit meets the convergence bars."""
        return all(d.converged for d in self.diagnostics.values())

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables, by name, in the order a diagnosis folder stores them (one CSV each)."""
        return {name: getattr(self, name) for name in TABLES}

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (``diagnosis.json`` of run and diagnosis folders; the app reads it)."""
        return {
            "meta": json.loads(json.dumps(self.meta, default=str)),
            **{name: _records(table) for name, table in self.tables().items()},
            "diagnostics": {k: json.loads(json.dumps(d.to_dict(), default=float)) for k, d in self.diagnostics.items()},
            "converged": self.converged,
            "notes": list(self.notes),
            "summary": text.summary_text(self),
        }
