"""Personal data in stored folders: agent ids become stable pseudonyms, customer and interaction ids go.

Agent ids are replaced by ``agent-001`` ... (in sorted order of the original ids) everywhere they
would appear (cells, posterior coordinates, diagnosis tables, result dictionaries);
``customer_id`` and ``interaction_id`` columns are dropped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

PERSONAL_COLUMNS = ("customer_id", "interaction_id")
AGENT_PREFIX = "agent-"


def agent_pseudonyms(agent_ids: Iterable[Any]) -> dict[str, str]:
    """Stable pseudonyms ``agent-001`` ... for agent ids, in sorted order of the ids."""
    ids = sorted({str(a) for a in agent_ids if a is not None and not (isinstance(a, float) and math.isnan(a))})
    width = max(3, len(str(len(ids))))
    return {a: f"{AGENT_PREFIX}{i + 1:0{width}d}" for i, a in enumerate(ids)}


def extend_pseudonyms(mapping: dict[str, str], values: Iterable[Any]) -> dict[str, str]:
    """Add pseudonyms for ``values`` not yet in ``mapping`` (numbered after the existing ones), in place."""
    new = sorted({str(v) for v in values} - set(mapping) - set(mapping.values()))
    width = len(next(iter(mapping.values()), f"{AGENT_PREFIX}000")) - len(AGENT_PREFIX)
    for i, a in enumerate(new, start=len(mapping) + 1):
        mapping[a] = f"{AGENT_PREFIX}{i:0{width}d}"
    return mapping


def scrub(obj: Any, mapping: Mapping[str, str]) -> Any:
    """Replace every string equal to an agent id by its pseudonym, recursively."""
    if isinstance(obj, str):
        return mapping.get(obj, obj)
    if isinstance(obj, dict):
        return {mapping.get(k, k) if isinstance(k, str) else k: scrub(v, mapping) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [scrub(v, mapping) for v in obj]
    return obj


def scrub_frame(df: pd.DataFrame, mapping: dict[str, str]) -> pd.DataFrame:
    """``df`` without personal columns and with agent ids pseudonymised (``mapping`` grows as needed)."""
    df = df.drop(columns=[c for c in PERSONAL_COLUMNS if c in df.columns]).copy()
    if "agent_id" in df.columns:
        extend_pseudonyms(mapping, df["agent_id"].dropna().astype(str).unique())
        df["agent_id"] = df["agent_id"].astype("string").map(lambda a: mapping.get(a, a) if a is not pd.NA else a)
        df["agent_id"] = df["agent_id"].astype(object)
    for c in df.columns:
        if df[c].dtype == object or str(df[c].dtype) in ("string", "category"):
            s = df[c]
            if s.map(lambda v: isinstance(v, str) and v in mapping).any():
                df[c] = s.map(lambda v: mapping.get(v, v) if isinstance(v, str) else v)
    return df
