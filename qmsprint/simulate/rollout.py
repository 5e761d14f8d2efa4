"""Ground truth of the roll-out designs (``waves``, ``prepost``): switch dates, effects by wave and by week.

The effect population is every interaction on the new program (a unit from its switch day on);
each gets ``min(1, (e + 1) / effect_ramp_weeks)`` of the full latent effect in week ``e`` since its
unit's switch. Besides the overall truth (``truth["effects"]``), :func:`rollout_truth` adds:

* ``switch``: ``{unit id: first day on the new program}`` of the units that switch (teams, or
  sites with ``unit="site"``), the table an experiment file's ``[waves] switch`` takes;
* ``waves``: one entry per wave, in switch order: ``date``, ``units`` and ``effects`` (every metric
  and scale, averaged over that wave's interactions on the new program);
* ``by_event_week``: ``{week since the switch: effects}`` (0 = the switch week), and
  ``event_weeks_pooled_from`` (None: every week apart).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from qmsprint.simulate.world import World

WEEK_SECONDS = 7 * 86400


def rollout_truth(
    world: World,
    agent: np.ndarray,
    sec: np.ndarray,
    truth_of: Callable[[np.ndarray], tuple[dict, dict, dict]],
    team_ids: np.ndarray,
    site_ids: np.ndarray,
) -> dict[str, Any]:
    """Switch table, effects by wave and by week since the switch (see the module docstring).

    Parameters
    ----------
    world
        The simulated contact center (its ``agent_wave`` and ``agent_switch_s``).
    agent, sec
        Agent index and second of the data of every interaction of the effect population.
    truth_of
        ``truth_of(mask over those interactions) -> (control, treatment, effects)``.
    team_ids, site_ids
        Unit ids as written in the data.

    """
    cfg = world.cfg
    assert world.agent_switch_s is not None
    wave = world.agent_wave[agent]
    unit_ids = site_ids[world.team_site[world.agent_team]] if cfg.unit == "site" else team_ids[world.agent_team]
    switch: dict[str, str] = {}
    for a in np.flatnonzero(world.agent_wave >= 0):
        day = world.t0 + pd.Timedelta(seconds=float(world.agent_switch_s[a]))
        switch[str(unit_ids[a])] = str(day.date())
    waves = []
    offsets = cfg.wave_weeks if cfg.design == "waves" else (0,)
    for k, weeks in enumerate(offsets):
        sel = wave == k
        members = sorted({str(unit_ids[a]) for a in np.flatnonzero(world.agent_wave == k)})
        if not members:
            continue
        day = (world.pilot_start + pd.Timedelta(days=7 * int(weeks))).date()
        waves.append({"date": str(day), "units": members, "effects": truth_of(sel)[2] if sel.any() else {}})
    since = np.floor((sec - world.agent_switch_s[agent]) / WEEK_SECONDS).astype(int)
    by_week = {int(e): truth_of(since == e)[2] for e in np.unique(since)}
    return {
        "switch": switch,
        "waves": waves,
        "by_event_week": by_week,
        "effect_ramp_weeks": cfg.effect_ramp_weeks,
        "never_switched": sorted(set(map(str, unit_ids)) - set(switch)),
    }
