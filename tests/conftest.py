"""Shared fixtures: a small simulated pilot, its experiment spec, and one real run folder.

``small_spec`` (session)
    A :class:`~qmsprint.spec.Spec` for a small simulated A/B pilot (16 agents in 2 teams, about
    60 interactions per agent per period, 2 baseline + 4 pilot weeks, seed 3) written to Parquet
    under a session temp folder. Metrics: CSAT and repeat contacts (primary), handle time
    (guardrail); segments by channel; sampler 2 chains x 100 draws (tune 100), so fits are cheap
    and will usually **not** meet the convergence bars (ESS >= 400): runs from it usually carry
    action ``none`` (``time_budget_s = 0``: no retries). ``small_spec.data.source`` is the absolute data path.
``small_truth`` (session)
    The simulator's ground truth for that data (``Simulation.truth``), plus ``"agent_ids"`` and
    ``"customer_ids"`` of the source rows (for personal-data checks).
``small_run`` (session)
    ``Path`` of a REAL run folder written by :func:`qmsprint.api.run_pilot` on
    ``small_spec`` (without the checklist diagnosis, to keep it cheap) into a session temp
    ``runs`` folder. Treat it as read-only (copy it before damaging it); load it with
    :func:`qmsprint.store.load_run`. Building it compiles and samples the joint model once per
    session (about a minute on an idle 2-core machine, a few minutes when the CPU is shared), so
    tests using it are best marked ``@pytest.mark.slow``; later fits of the same shape reuse the
    compiled model and take seconds.

:func:`make_small_spec` builds variants (e.g. other metrics, ``prior_from``) on the same data.
``diagnosis_folder`` / ``diagnosis_maker``
    A ``qmsprint diagnose`` folder made by hand (no sampling: complete tables of a small
    diagnosis), and :func:`make_diagnosis` for tests that write their own.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

SMALL_SIM = {
    "design": "ab",
    "n_agents": 16,
    "n_teams": 2,
    "interactions_per_agent": 60,
    "weeks": 4,
    "baseline_weeks": 2,
    "seed": 3,
}


def make_small_spec(data_path: str | Path, periods: dict[str, Any], **overrides: Any):
    """Spec of the small simulated pilot at ``data_path``; keyword arguments replace top-level keys."""
    from qmsprint.spec import parse_spec

    raw: dict[str, Any] = {
        "name": "small-ab",
        "client": "Test Client",
        "design": "ab",
        "arms": {"control": "checklist", "treatment": "behavior"},
        "data": {"source": str(data_path)},
        "periods": {
            k: {"start": dt.date.fromisoformat(str(v["start"])), "end": dt.date.fromisoformat(str(v["end"]))}
            for k, v in periods.items()
        },
        "metrics": [
            {"name": "csat", "role": "primary", "min_effect": 0.1},
            {"name": "repeat_contact", "role": "primary", "min_effect": 1.0},
            {"name": "handle_time", "role": "guardrail", "min_effect": 20.0},
        ],
        "segments": ["channel"],
        "sampler": {"draws": 100, "tune": 100, "chains": 2, "seed": 11, "time_budget_s": 0},
        "business": {"cost_per_contact": 5.0, "currency": "EUR", "contacts_per_month": 50000},
    }
    raw.update(overrides)
    return parse_spec(raw, base_dir=Path(data_path).parent)


@pytest.fixture(scope="session")
def _small_data(tmp_path_factory) -> tuple[Path, dict[str, Any]]:
    from qmsprint.simulate import SimConfig, simulate
    from qmsprint.store import write_simulation

    sim = simulate(SimConfig(**SMALL_SIM))
    folder = tmp_path_factory.mktemp("small-data")
    path = write_simulation(sim, folder / "small_ab.parquet")[0]
    truth = dict(sim.truth)
    truth["agent_ids"] = sorted(sim.frame["agent_id"].astype(str).unique())
    truth["customer_ids"] = sorted(sim.frame["customer_id"].astype(str).unique())
    return path, truth


@pytest.fixture(scope="session")
def small_truth(_small_data) -> dict[str, Any]:
    """Ground truth of the small simulated pilot (plus its agent and customer ids)."""
    return _small_data[1]


@pytest.fixture(scope="session")
def small_spec(_small_data):
    """Spec of the small simulated A/B pilot (cheap sampler settings)."""
    path, truth = _small_data
    return make_small_spec(path, truth["periods"])


@pytest.fixture(scope="session")
def small_run(small_spec, tmp_path_factory) -> Path:
    """A real run folder from ``run_pilot`` on the small simulated pilot (read-only)."""
    from qmsprint.api import run_pilot

    outcome = run_pilot(small_spec, runs_dir=tmp_path_factory.mktemp("runs"), diagnosis=False)
    return outcome.path


def make_diagnosis(name: str = "northwind-baseline") -> Any:
    """A small, complete Diagnosis (tables as diagnose() makes them) for rendering tests."""
    import pandas as pd

    from qmsprint.data.pseudonymise import pseudonym
    from qmsprint.diagnosis import R2_COLUMNS, VARIANCE_COLUMNS, Diagnosis
    from qmsprint.present.diagnosis import QUADRANTS

    r2 = pd.DataFrame(
        [
            ["csat", score, level, mean, mean * 0.6, mean * 1.5, 2000, 20]
            for score, base in (("qa_score", 0.03), ("behavior_score", 0.21))
            for level, mean in (("interaction", base), ("agent", 2 * base))
        ],
        columns=R2_COLUMNS,
    )
    items = pd.DataFrame(
        [
            {"outcome": "csat", "item": item, "label": label, "pass_rate": 0.8, "n": 2000, "effect": g,
             "hdi_low": g - 0.1, "hdi_high": g + 0.1, "good_effect": g, "good_hdi_low": g - 0.1,
             "good_hdi_high": g + 0.1, "prob_good": 0.5 + g}
            for item, label, g in (("empathy", "matters", 0.4), ("name_3x", "noise", 0.0), ("script", "hurts", -0.3))
        ]
    )  # fmt: skip
    quadrant = pd.DataFrame(
        {
            "agent_id": [pseudonym(f"A{k:03d}", b"conftest-diagnosis-key-0123456789ab") for k in range(20)],
            "team": [f"T{k % 4}" for k in range(20)],
            "n_interactions": 100,
            "qa_mean": [80.0 + k for k in range(20)],
            "n_responses": 25,
            "observed": 4.0,
            "outcome_effect": [(-1) ** k * 0.1 * k for k in range(20)],
            "prob_better_than_average": 0.5,
            "quadrant": [QUADRANTS[(k >= 10, k % 2 == 0)] for k in range(20)],
        }
    )
    root_causes = pd.DataFrame(
        [
            {"outcome": "csat", "factor": "contact_reason", "value": "billing", "n": 600, "observed": 3.6,
             "overall": 4.0, "observed_text": "average 3.60 vs 4.00 overall", "effect": -0.4, "hdi_low": -0.6,
             "hdi_high": -0.2, "prob_worse": 0.99, "worse_effect": 0.4}
        ]
    )  # fmt: skip
    variance = pd.DataFrame(
        [
            ["csat", "agent", 0.05, 0.03, 0.07, 0.4],
            ["csat", "contact_reason", 0.06, 0.04, 0.08, 0.5],
            ["csat", "channel", 0.01, 0.0, 0.02, 0.1],
            ["csat", "interaction", 0.88, 0.85, 0.9, float("nan")],
        ],
        columns=VARIANCE_COLUMNS,
    )
    meta = {"name": name, "client": "Northwind Telecom", "created": dt.datetime.now().isoformat(timespec="seconds"),
            "n_interactions": 2000, "n_agents": 20, "period_label": "baseline period", "headline": "csat",
            "headline_label": "CSAT", "hdi_prob": 0.94}  # fmt: skip
    return Diagnosis(r2, items, quadrant, root_causes, variance, diagnostics={}, meta=meta)


@pytest.fixture
def diagnosis_folder(tmp_path) -> Path:
    """A `qmsprint diagnose` folder (made by hand, no sampling) in a runs folder of its own."""
    from qmsprint.store import save_diagnosis

    d = make_diagnosis()
    paths = save_diagnosis(d.to_dict(), d.tables(), tmp_path / "runs" / "northwind-diagnosis-20261124-090000")
    return paths[0].parent


@pytest.fixture
def diagnosis_maker():
    """:func:`make_diagnosis`, for tests that write diagnosis folders of their own."""
    return make_diagnosis
