"""A client-style export of a simulated pilot, for the experiment builder's app and browser tests.

Client column names ("Date/Time", "Agent", "Program", "CSAT", "Resolved?"), day-first dates,
labelled CSAT answers ("4 - Satisfied"), Yes/No and Pass/Fail answers, and a "Queue" column that
holds the contact reason in capitals (the suggestion maps "Reason"; a consultant may prefer it).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

LABELS = {1: "1 - Very dissatisfied", 2: "2 - Dissatisfied", 3: "3 - Neutral", 4: "4 - Satisfied",
          5: "5 - Very satisfied"}  # fmt: skip
ARMS = {"checklist": "Current QA", "behavior": "Pilot QA"}
SIM = {"n_agents": 12, "n_teams": 2, "interactions_per_agent": 40, "weeks": 4, "baseline_weeks": 2, "seed": 5}
BASELINE = (dt.date(2026, 1, 5), dt.date(2026, 1, 18))  # the simulated periods of SIM
PILOT = (dt.date(2026, 1, 19), dt.date(2026, 2, 15))


def messy_frame(frame: pd.DataFrame | None = None, *, queue: bool = True) -> pd.DataFrame:
    """The export as a table of text (as a client's CSV holds it).

    ``frame``: the simulated interactions to export (default: a simulation of :data:`SIM`);
    ``queue``: with the "Queue" column (the contact reason again, in capitals).
    """
    from qmsprint.simulate import SimConfig, simulate

    f = simulate(SimConfig(**SIM)).frame if frame is None else frame
    out = pd.DataFrame(
        {
            "Contact ID": f.interaction_id,
            "Date/Time": f.timestamp.dt.strftime("%d/%m/%Y %H:%M"),
            "Customer": f.customer_id,
            "Agent": f.agent_id,
            "Team": f.team,
            "Location": f.site,
            "Channel": f.channel,
            "Reason": f.contact_reason,
            "Queue": f.contact_reason.str.upper(),
            "Program": f.arm.map(ARMS),
            "QA Score": f.qa_score,
            "CSAT": f.csat.map(LABELS),
            "Likelihood to recommend": f.nps,
            "Resolved?": f.fcr.map({True: "Yes", False: "No"}),
            "AHT (s)": f.handle_time,
            "Q1 Greeting": f.item_greeting.map({1: "Pass", 0: "Fail"}),
            "Q2 Empathy": f.item_empathy_statement.map({1: "Pass", 0: "Fail"}),
        }
    )
    return out if queue else out.drop(columns="Queue")


def messy_export(path: Path) -> Path:
    """Write the export as a CSV file at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    messy_frame().to_csv(path, index=False)
    return path
