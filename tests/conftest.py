"""Shared fixtures: a small simulated pilot, its experiment spec, and one real run folder.

``small_spec`` (session)
    A :class:`~qmsprint.spec.Spec` for a small simulated A/B pilot (16 agents in 2 teams, about
    60 interactions per agent per period, 2 baseline + 4 pilot weeks, seed 3) written to Parquet
    under a session temp folder. Metrics: CSAT and repeat contacts (primary), handle time
    (guardrail); segments by channel; sampler 2 chains x 100 draws (tune 100), so fits are cheap
    and will usually **not** meet the convergence bars (ESS >= 400): runs from it usually carry
    action ``none``. ``small_spec.data.source`` is the absolute data path.
``small_truth`` (session)
    The simulator's ground truth for that data (``Simulation.truth``), plus ``"agent_ids"`` and
    ``"customer_ids"`` of the source rows (for personal-data checks).
``small_run`` (session)
    ``Path`` of a REAL run folder written by :func:`qmsprint.pipeline.run_pilot` on
    ``small_spec`` (without the checklist diagnosis, to keep it cheap) into a session temp
    ``runs`` folder. Treat it as read-only (copy it before damaging it); load it with
    :func:`qmsprint.bundle.load_run`. Building it compiles and samples the joint model once per
    session (about a minute on an idle 2-core machine, a few minutes when the CPU is shared), so
    tests using it are best marked ``@pytest.mark.slow``; later fits of the same shape reuse the
    compiled model and take seconds.

:func:`make_small_spec` builds variants (e.g. other metrics, ``prior_from``) on the same data.
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
        "sampler": {"draws": 100, "tune": 100, "chains": 2, "seed": 11},
        "business": {"cost_per_contact": 5.0, "currency": "EUR", "contacts_per_month": 50000},
    }
    raw.update(overrides)
    return parse_spec(raw, base_dir=Path(data_path).parent)


@pytest.fixture(scope="session")
def _small_data(tmp_path_factory) -> tuple[Path, dict[str, Any]]:
    from qmsprint.simulate import SimConfig, simulate, write_simulation

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
    from qmsprint.pipeline import run_pilot

    outcome = run_pilot(small_spec, runs_dir=tmp_path_factory.mktemp("runs"), diagnosis=False)
    return outcome.path
