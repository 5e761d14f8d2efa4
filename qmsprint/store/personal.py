"""What stored folders may hold about people: keyed pseudonyms only, tenure in bands, no customer ids.

Agent ids are pseudonymised when the data is loaded (:mod:`qmsprint.data.pseudonymise`), so the
store never rewrites values (a string that merely equals an agent id, such as a CSAT level
``"1"`` or a team called ``"1"``, is left alone). What it does here:

- :func:`check_pseudonymised` refuses to write an agent id that is not a pseudonym (a safety net:
  nothing reaches a folder that did not pass through the door);
- :func:`stored_frame` drops ``customer_id`` / ``interaction_id`` columns and turns the exact
  tenure of cells (``tenure_sum`` / ``tenure_n``) into a band (:data:`TENURE_BANDS`): a team and
  an exact tenure can point at one person;
- :func:`without_agents` is the share's version of the cells: summed over agents, no tenure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import pandas as pd

from qmsprint.errors import BundleError, Problem
from qmsprint.privacy import is_pseudonym
from qmsprint.words import counted

PERSONAL_COLUMNS = ("customer_id", "interaction_id")
AGENT_COLUMNS = ("agent_id", "agent")
# (upper bound in months, label); the last band is open
TENURE_BANDS = (
    (6, "under 6 months"),
    (12, "6-12 months"),
    (24, "1-2 years"),
    (60, "2-5 years"),
    (math.inf, "5+ years"),
)
TENURE_COLUMNS = ("tenure_sum", "tenure_n", "tenure_months")


def tenure_band(months: Any) -> str | None:
    """The band of a tenure in months (``None`` when unknown)."""
    try:
        m = float(months)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(m):
        return None
    return next(label for upper, label in TENURE_BANDS if m < upper)


def check_pseudonymised(values: Iterable[Any], where: str) -> None:
    """Raise unless every non-null value is an agent pseudonym (the raw values are never quoted).

    Raises
    ------
    BundleError
        Naming ``where`` and how many values are not pseudonyms.

    """
    bad = {str(v) for v in values if v is not None and not pd.isna(v) and not is_pseudonym(v)}
    if bad:
        raise BundleError(
            "refusing to store agent ids that are not pseudonyms",
            [Problem(where, f"{counted(len(bad), 'agent id')} {'is' if len(bad) == 1 else 'are'} not keyed "
                            "pseudonyms; load the data with qmsprint.data (prepare / load_frame), which "
                            "pseudonymises them")],
        )  # fmt: skip


def stored_frame(df: pd.DataFrame, where: str) -> pd.DataFrame:
    """``df`` as a folder may hold it: no customer or interaction ids, agent pseudonyms only, tenure in bands."""
    df = df.drop(columns=[c for c in PERSONAL_COLUMNS if c in df.columns])
    for c in AGENT_COLUMNS:
        if c in df.columns:
            check_pseudonymised(df[c], f"{where}: {c}")
    if "tenure_sum" in df.columns and "tenure_n" in df.columns:
        n = pd.to_numeric(df["tenure_n"], errors="coerce")
        mean = pd.to_numeric(df["tenure_sum"], errors="coerce") / n.where(n > 0)
        df = df.assign(tenure_band=mean.map(tenure_band).astype("string"))
    if "tenure_months" in df.columns:
        df = df.assign(tenure_band=df["tenure_months"].map(tenure_band).astype("string"))
    return df.drop(columns=[c for c in TENURE_COLUMNS if c in df.columns])


def without_agents(cells: pd.DataFrame) -> pd.DataFrame:
    """Cells summed over agents (keys without ``agent_id``, no tenure): what a share needs of them."""
    df = cells.drop(columns=[c for c in (*PERSONAL_COLUMNS, *AGENT_COLUMNS, *TENURE_COLUMNS, "tenure_band")
                             if c in cells.columns])  # fmt: skip
    if not len(df.columns):
        return df
    keys = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    if not keys:
        return df.sum(numeric_only=True).to_frame().T
    return df.groupby(keys, dropna=False, as_index=False, sort=True).sum(numeric_only=True)


def strip_agent_ids(records: Any) -> Any:
    """Records (list of dicts) without their agent id fields (diagnosis quadrant in a share)."""
    if not isinstance(records, list):
        return records
    return [{k: v for k, v in r.items() if k not in AGENT_COLUMNS} if isinstance(r, dict) else r for r in records]
