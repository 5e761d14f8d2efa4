"""Shared helpers of the data-layer tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from qmsprint.spec import parse_spec


def make_spec(tmp_path: Path, source: str = "data.csv", **over):
    raw = {
        "name": "t",
        "design": over.pop("design", "ab"),
        "arms": over.pop("arms", {"control": "old", "treatment": "new"}),
        "data": {"source": source, **over.pop("data", {})},
        "metrics": over.pop("metrics", [{"name": "csat"}, {"name": "repeat_contact"}]),
        **over,
    }
    return parse_spec(raw, base_dir=tmp_path)


def base_rows(n: int = 40) -> pd.DataFrame:
    """A tiny valid interaction table: 4 agents, 2 arms, Jan 2026."""
    agents = [f"a{i % 4}" for i in range(n)]
    return pd.DataFrame(
        {
            "interaction_id": [f"i{i}" for i in range(n)],
            "timestamp": [f"2026-01-{1 + i % 28:02d} 10:00:00" for i in range(n)],
            "customer_id": [f"c{i}" for i in range(n)],
            "agent_id": agents,
            "team": ["t1" if a in ("a0", "a1") else "t2" for a in agents],
            "channel": ["voice"] * n,
            "contact_reason": ["billing"] * n,
            "arm": ["old" if a in ("a0", "a2") else "new" for a in agents],
            "qa_score": [80.0] * n,
            "csat": [str(1 + i % 5) for i in range(n)],
            "handle_time": [300.0] * n,
        }
    )
