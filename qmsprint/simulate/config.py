"""Settings of a simulated pilot and the simulation record (see :mod:`qmsprint.simulate`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

CHANNELS = ("voice", "chat", "email", "messaging")
REASONS = ("billing", "technical", "account", "moving", "cancellation", "other")


@dataclass(frozen=True)
class SimItem:
    """One checklist item: pass rate, effect on the CSAT latent scale, handle-time effect (log)."""

    name: str
    pass_rate: float
    csat_effect: float
    ht_effect: float = 0.0


DEFAULT_ITEMS = (
    SimItem("greeting", 0.93, 0.05),
    SimItem("verified_identity", 0.90, 0.0),
    SimItem("name_used_3x", 0.82, 0.0),
    SimItem("empathy_statement", 0.72, 0.30),
    SimItem("confirmed_resolution", 0.75, 0.40),
    SimItem("explained_next_steps", 0.70, 0.30),
    SimItem("offered_upsell", 0.60, -0.25, 0.08),
    SimItem("read_full_disclosure", 0.85, -0.10, 0.05),
)


@dataclass(frozen=True)
class SimConfig:
    """Settings of one simulated pilot (all effects on the latent scale).

    Parameters
    ----------
    design
        ``ab`` or ``did``.
    n_agents, n_teams, n_sites
        Agents are spread evenly over teams, teams over sites.
    interactions_per_agent
        First contacts per agent per week-period block: each agent gets this many first contacts in
        the pilot period and (pro rata by weeks) in the baseline; follow-up (repeat) contacts come
        on top (about ``repeat rate`` more).
    weeks, baseline_weeks
        Length of the pilot and of the baseline before it (0: no baseline; DiD needs one).
    start
        First day of the data (the baseline's, else the pilot's); a Monday keeps weeks aligned.
    arms
        ``(control, treatment)`` values of the ``arm`` column.
    unit
        What is randomized / switched: ``agent`` or ``team`` (DiD always switches teams).
    treated_share
        Share of units on the new program.
    csat_effect, nps_effect, fcr_effect, repeat_effect
        Treatment effects on the logit scale (repeat: negative = fewer repeats).
    handle_time_effect
        Treatment effect on log handle time.
    agent_sd, team_sd, site_sd
        Random-effect standard deviations of the latent experience predictor.
    response_rate
        Survey response probability ``(control group, treated group in the pilot)``.
    nps_answer_share
        Share of survey respondents who also answer the NPS question.

    """

    design: Literal["ab", "did"] = "ab"
    n_agents: int = 60
    n_teams: int = 6
    n_sites: int = 2
    interactions_per_agent: int = 200
    weeks: int = 12
    baseline_weeks: int = 8
    start: dt.date = dt.date(2026, 1, 5)
    arms: tuple[str, str] = ("checklist", "behavior")
    unit: Literal["agent", "team"] = "agent"
    treated_share: float = 0.5
    csat_scale: tuple[int, int] = (1, 5)
    csat_cutpoints: tuple[float, ...] = (-3.6, -2.6, -1.3, 0.5)
    nps_cutpoints: tuple[float, ...] = (-4.6, -4.2, -3.8, -3.4, -3.0, -2.5, -1.8, -1.0, 0.2, 1.4)
    csat_effect: float = 0.25
    nps_effect: float = 0.25
    fcr_effect: float = 0.15
    repeat_effect: float = -0.2
    handle_time_effect: float = 0.02
    agent_sd: float = 0.35
    team_sd: float = 0.15
    site_sd: float = 0.05
    fcr_base: float = 1.2
    repeat_base: float = -1.75
    ht_median: float = 360.0
    ht_sd: float = 0.5
    response_rate: tuple[float, float] = (0.2, 0.2)
    nps_answer_share: float = 0.85
    repeat_window_days: int = 7
    behavior_weight: float = 0.35
    season_amplitude: float = 0.08
    did_group_offset: float = -0.15
    did_period_shock: float = 0.10
    channel_mix: tuple[float, ...] = (0.50, 0.25, 0.10, 0.15)
    reason_mix: tuple[float, ...] = (0.28, 0.24, 0.16, 0.10, 0.08, 0.14)
    items: tuple[SimItem, ...] = DEFAULT_ITEMS
    include_nps: bool = True
    include_fcr: bool = True
    seed: int = 1

    def __post_init__(self) -> None:
        if self.design not in ("ab", "did"):
            raise ValueError(f"design must be 'ab' or 'did' (got {self.design!r})")
        if self.design == "did" and self.baseline_weeks < 1:
            raise ValueError("a DiD simulation needs baseline_weeks >= 1")
        if self.n_agents < 2 or self.n_teams < 1 or self.n_agents < self.n_teams:
            raise ValueError("need n_agents >= 2 and n_teams <= n_agents")
        if len(self.csat_cutpoints) != self.csat_scale[1] - self.csat_scale[0]:
            raise ValueError("csat_cutpoints needs one cutpoint fewer than the scale has levels")
        if len(self.nps_cutpoints) != 10:
            raise ValueError("nps_cutpoints needs 10 cutpoints (levels 0-10)")


@dataclass
class Simulation:
    """A simulated interaction table and its ground truth.

    Attributes
    ----------
    frame
        Canonical interaction table (both periods), see ARCHITECTURE.md.
    truth
        Ground truth, see the module docstring.
    config
        The configuration used.

    """

    frame: pd.DataFrame
    truth: dict[str, Any]
    config: SimConfig = field(default_factory=SimConfig)
