"""Experiment-file sections of pilots that roll out over time, and of their monitoring.

``[waves]`` (``design = "waves"``: units switch to the new program on their own dates),
``[prepost]`` (``design = "prepost"``: before/after without a control group) and ``[monitor]``
(``qmsprint monitor``: where new alerts are sent). :mod:`qmsprint.spec` includes them in
:class:`~qmsprint.spec.Spec`; :func:`rollout_problems` holds their cross-field checks.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field

from qmsprint.errors import Problem
from qmsprint.spec_base import Strict

WEEKLY_DESIGNS = ("waves", "prepost")


class Waves(Strict):
    """Staggered roll-out: when each unit (team, site or agent) switched to the new program.

    Either a table here (``switch = { T01 = 2026-02-02, T02 = 2026-03-02 }``: the unit's first day
    on the new program; units not listed never switch) or, when the table is empty, the data's
    ``arm`` column: a unit switches in the first week it has rows in the treatment arm.
    """

    switch: dict[str, dt.date] = Field(
        default_factory=dict, description="unit id = first day on the new program (empty: read the data's arm column)"
    )
    event_weeks: int = Field(
        8, ge=1, le=52, description="weeks since the switch reported one by one; later weeks are pooled in the last"
    )


class PrePost(Strict):
    """Before/after without a control group: an interrupted time series on weekly cells."""

    trend: bool = Field(True, description="a linear trend over the weeks (extrapolated into the pilot)")
    season_weeks: int = Field(52, ge=0, le=104, description="length of the seasonal cycle in weeks (0: no season)")
    harmonics: int = Field(1, ge=1, le=6, description="sine/cosine pairs of the seasonal cycle")
    allow_decisive: bool = Field(
        False,
        description="let a before/after comparison call scale up, iterate or stop (default: at most extend)",
    )


class Monitor(Strict):
    """``qmsprint monitor``: where new alerts go besides ``alerts.jsonl`` and the exit code."""

    webhook: str | None = Field(None, description="http(s) URL that receives each check's new alerts as JSON (POST)")
    timeout_seconds: float = Field(10.0, gt=0, le=120, description="how long to wait for the webhook")


def rollout_problems(raw: dict[str, Any]) -> list[Problem]:
    """Cross-field checks of the roll-out designs and the monitor section (on the raw mapping)."""
    problems: list[Problem] = []
    design = raw.get("design")
    periods = raw.get("periods") if isinstance(raw.get("periods"), dict) else {}
    if design == "prepost":
        for key in ("baseline", "pilot"):
            if not isinstance(periods.get(key), dict):
                problems.append(Problem(f"periods.{key}", f"a before/after (prepost) design needs a {key} period"))
    waves = raw.get("waves")
    if isinstance(waves, dict) and waves.get("switch") and design != "waves":
        problems.append(Problem("waves.switch", f'switch dates apply only to design = "waves" (not {design!r})'))
    mon = raw.get("monitor")
    hook = mon.get("webhook") if isinstance(mon, dict) else None
    if isinstance(hook, str) and not hook.startswith(("http://", "https://")):
        problems.append(Problem("monitor.webhook", f"expected an http:// or https:// URL (got {hook!r})"))
    return problems
