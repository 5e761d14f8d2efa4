"""What every health check shares: statuses, JSON-safe numbers, p-values in words, table records."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["STATUS_ORDER", "fmt_p", "json_float", "p_status", "records", "worst"]

STATUS_ORDER = {"ok": 0, "warn": 1, "alert": 2}


def json_float(x: Any) -> float | None:
    """JSON-safe float (None for nan/inf and for what is not a number)."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def worst(statuses: Iterable[str]) -> str:
    """The most severe of some statuses (``ok`` when there are none)."""
    out = "ok"
    for s in statuses:
        if STATUS_ORDER[s] > STATUS_ORDER[out]:
            out = s
    return out


def p_status(p: float, alert: float, warn: float) -> str:
    """``alert`` below ``alert``, ``warn`` below ``warn``, else ``ok`` (also for an unknown p)."""
    if not np.isfinite(p):
        return "ok"
    return "alert" if p < alert else "warn" if p < warn else "ok"


def fmt_p(p: float) -> str:
    """A p-value as written in the checks' messages (``p = 0.0032``, ``p < 0.0001``, ``p = n/a``)."""
    if not np.isfinite(p):
        return "p = n/a"
    return "p < 0.0001" if p < 1e-4 else f"p = {p:.4f}" if p < 0.01 else f"p = {p:.2f}"


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """A table as JSON-able records (numbers through :func:`json_float`)."""
    out = []
    for rec in df.to_dict(orient="records"):
        out.append(
            {k: (json_float(v) if isinstance(v, float | np.floating | np.integer) else v) for k, v in rec.items()}
        )
    return out
