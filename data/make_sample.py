"""Regenerate the bundled sample data (seeded, reproducible).

    .venv/bin/python data/make_sample.py

Writes ``sample_ab.parquet`` / ``sample_did.parquet`` and their ``.truth.json`` beside this file.
They fit ``experiments/demo_ab.toml`` and ``experiments/demo_did.toml``: Jan 5 - Mar 1 2026 before
the pilot (the spec's baseline ends Sat Feb 28, so Sunday Mar 1 falls outside both periods) and a
12-week pilot Mar 2 - May 24 2026.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from qmsprint.simulate import SimConfig, simulate
from qmsprint.store import write_simulation

HERE = Path(__file__).resolve().parent

# A/B: agents randomized within teams to behavior-based QA. The new program lifts CSAT by about
# 0.15 points, cuts repeat contacts by about 2 pp and adds a few seconds of handle time.
AB = SimConfig(
    design="ab",
    n_agents=120,
    n_teams=12,
    n_sites=3,
    interactions_per_agent=1100,
    weeks=12,
    baseline_weeks=8,
    start=dt.date(2026, 1, 5),
    arms=("checklist", "behavior"),
    unit="agent",
    csat_effect=0.30,
    nps_effect=0.25,
    fcr_effect=0.12,
    repeat_effect=-0.16,
    handle_time_effect=0.015,
    response_rate=(0.19, 0.19),
    seed=20260105,
)

# DiD: four of eight teams switch to outcome-based QA at the pilot start; they start a little
# worse, and a seasonal shock lifts everyone in the pilot. Repeat contacts fall most.
DID = SimConfig(
    design="did",
    n_agents=96,
    n_teams=8,
    n_sites=2,
    interactions_per_agent=1300,
    weeks=12,
    baseline_weeks=8,
    start=dt.date(2026, 1, 5),
    arms=("checklist", "outcome"),
    unit="team",
    csat_effect=0.20,
    nps_effect=0.20,
    fcr_effect=0.15,
    repeat_effect=-0.20,
    handle_time_effect=0.03,
    response_rate=(0.17, 0.17),
    did_group_offset=-0.15,
    did_period_shock=0.10,
    seed=20260302,
)


def main() -> None:
    """Write both samples and their ground truth."""
    for name, cfg in (("sample_ab", AB), ("sample_did", DID)):
        sim = simulate(cfg)
        for p in write_simulation(sim, HERE / f"{name}.parquet"):
            print(f"wrote {p} ({p.stat().st_size / 1e6:.1f} MB)")
        eff = sim.truth["effects"]
        print(
            f"  {len(sim.frame):,} interactions; CSAT {eff['csat']['mean']:+.3f} points, "
            f"repeat {eff['repeat_contact']['rate']:+.2f} pp, handle time {eff['handle_time']['mean']:+.1f} s"
        )


if __name__ == "__main__":
    main()
