"""Settings of a simulated pilot and the simulation record (see :mod:`qmsprint.simulate`)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

CHANNELS = ("voice", "chat", "email", "messaging")
REASONS = ("billing", "technical", "account", "moving", "cancellation", "other")
METRICS = ("csat", "nps", "fcr", "repeat_contact", "handle_time")
HT_DISTS = ("lognormal", "gamma", "gamma_shift", "mixture")
HT_AGENT_SD = 0.12  # sd of the agent term of log handle time unless ``agent_sd_by_metric`` says otherwise


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
        ``ab``, ``did``, ``waves`` (a staggered roll-out: units switch to the new program on their
        own dates, see ``wave_weeks``) or ``prepost`` (every unit switches at the pilot start: a
        before/after comparison without a control group).
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
        What is randomized / switched: ``agent`` (within teams), ``team`` or ``site`` (whole teams or
        sites, completely randomized: ``round(treated_share * n)`` of them, at least one per arm).
        DiD switches teams unless ``unit="site"``. Few clusters: e.g. ``n_teams=4, unit="team"`` gives
        2 teams per arm, ``n_sites=4, n_teams=8, unit="site"`` 2 sites per arm.
    treated_share
        Share of units on the new program.
    csat_effect, nps_effect, fcr_effect, repeat_effect
        Treatment effects on the logit scale (repeat: negative = fewer repeats).
    handle_time_effect
        Treatment effect on log handle time.
    agent_sd, team_sd, site_sd
        Random-effect standard deviations of the latent experience predictor.
    team_period_sd, site_period_sd, agent_period_sd
        Unit x period shocks on the latent experience predictor (so on CSAT, NPS, FCR (x 0.6) and
        repeat contact (x -0.5)): one Normal(0, sd) draw per team (site, agent) and period
        (baseline, pilot), shared by all of that unit's interactions in the period. A staffing change
        or product launch; it does not change the treatment effect. Default 0 (none).
    team_week_sd
        Team x week shocks on the same scale: one draw per team and calendar week (both periods).
    agent_sd_by_metric
        Per-metric agent variation, e.g. ``{"handle_time": 0.0}``. For ``csat``, ``nps``, ``fcr`` and
        ``repeat_contact`` the value replaces ``agent_sd`` in that metric's predictor (the same agent
        ``z_a``, so agents stay correlated across metrics; FCR and repeat apply their loadings 0.6 and
        -0.5 on top); for ``handle_time`` it is the sd of the agent term of log handle time (default
        ``HT_AGENT_SD = 0.12``). With 0 the metric has no agent term; items still pass a little more
        often for better agents (``item_agent_loading``), so set that to 0 too for exactly none.
        A mapping is stored as sorted ``(metric, sd)`` pairs (the config stays hashable); read one
        metric's value with :meth:`agent_sd_for`.
    item_agent_loading
        Loading of the agent's ``z_a`` on every item's pass logit (0.3: better agents pass more).
    ht_team_sd
        Team effect sd on log handle time (default 0: no team differences in handle time).
    ht_team_period_sd, ht_agent_period_sd
        Team x period and agent x period shocks on log handle time (independent of the experience
        shocks). Default 0.
    ht_dist
        Handle-time distribution given the log-scale predictor ``lht`` (which includes the treatment
        effect): ``lognormal`` (today's): ``exp(lht + Normal(0, ht_sd))``; ``gamma``: ``exp(lht) G``
        with ``G ~ Gamma(ht_shape, mean exp(ht_sd^2 / 2))`` (the lognormal's mean, coefficient of
        variation ``1 / sqrt(ht_shape)``); ``gamma_shift``: that gamma plus ``ht_shift`` seconds
        (default 40 s: wrap-up, a system step); ``mixture``: ``exp(lht + Normal(0, ht_sd))`` with
        probability ``1 - ht_mix_weight``, else ``ht_mix_ratio exp(lht + Normal(0, ht_mix_sd))`` (a slow
        second component). The treatment acts multiplicatively on the lognormal/gamma part; the shift
        is unaffected. Values are rounded to 0.1 s (at least 0.1 s for the non-default families).
    ht_shape
        Gamma shape (``gamma``, ``gamma_shift``).
    ht_shift
        Fixed seconds added to every handle time; ``None``: 40 for ``gamma_shift``, else 0.
    ht_mix_weight, ht_mix_ratio, ht_mix_sd
        ``mixture``: share of the second component, its median relative to the first, its log sd
        (``None``: ``ht_sd``).
    response_rate
        Survey response probability ``(control group, treated group in the pilot)``.
    response_depends_on_outcome, response_outcome_slope
        When true, survey response is not at random: the log-odds of answering are
        ``logit(response_rate) + response_outcome_slope * (csat_i - mean csat)`` with ``csat_i`` the
        interaction's (drawn, possibly unobserved) CSAT and the mean over all interactions. Happy
        customers answer more often, so respondents' CSAT (and FCR, NPS) overstate the population's: a
        warning case. The truth stays the population truth.
    nps_answer_share
        Share of survey respondents who also answer the NPS question.
    wave_weeks
        ``waves``: the pilot week (0 = its first) in which each wave of units switches. The switching
        units (``round(treated_share * n)`` teams, or sites / agents with ``unit``) are spread evenly
        over the waves at random; the others never switch (a never-treated comparison). Each unit's
        ``arm`` is the control arm before its switch and the treatment arm from its switch day on.
    effect_ramp_weeks
        ``waves`` and ``prepost``: the effect grows over the first weeks on the new program: in week
        ``e`` since the switch (0, 1, ...) it is ``min(1, (e + 1) / effect_ramp_weeks)`` times the
        full effect (1: the full effect at once).
    trend_per_week
        A linear trend of the latent experience predictor per week since the first day of the data
        (all designs; default 0). With ``season_amplitude`` (a 13-week cycle) it makes a before/after
        comparison without a control group drift.

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
    unit: Literal["agent", "team", "site"] = "agent"
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
    team_period_sd: float = 0.0
    team_week_sd: float = 0.0
    site_period_sd: float = 0.0
    agent_period_sd: float = 0.0
    agent_sd_by_metric: Mapping[str, float] | tuple[tuple[str, float], ...] = ()
    item_agent_loading: float = 0.3
    fcr_base: float = 1.2
    repeat_base: float = -1.75
    ht_median: float = 360.0
    ht_sd: float = 0.5
    ht_team_sd: float = 0.0
    ht_team_period_sd: float = 0.0
    ht_agent_period_sd: float = 0.0
    ht_dist: Literal["lognormal", "gamma", "gamma_shift", "mixture"] = "lognormal"
    ht_shape: float = 2.0
    ht_shift: float | None = None
    ht_mix_weight: float = 0.2
    ht_mix_ratio: float = 3.0
    ht_mix_sd: float | None = None
    response_rate: tuple[float, float] = (0.2, 0.2)
    response_depends_on_outcome: bool = False
    response_outcome_slope: float = 0.5
    nps_answer_share: float = 0.85
    repeat_window_days: int = 7
    behavior_weight: float = 0.35
    season_amplitude: float = 0.08
    did_group_offset: float = -0.15
    did_period_shock: float = 0.10
    wave_weeks: tuple[int, ...] = (0, 3, 6)
    effect_ramp_weeks: int = 1
    trend_per_week: float = 0.0
    channel_mix: tuple[float, ...] = (0.50, 0.25, 0.10, 0.15)
    reason_mix: tuple[float, ...] = (0.28, 0.24, 0.16, 0.10, 0.08, 0.14)
    items: tuple[SimItem, ...] = DEFAULT_ITEMS
    include_nps: bool = True
    include_fcr: bool = True
    seed: int = 1

    def __post_init__(self) -> None:
        # a mapping is stored as sorted (metric, sd) pairs: the config stays immutable and hashable
        by = self.agent_sd_by_metric
        pairs = tuple(sorted((str(k), float(v)) for k, v in (by.items() if isinstance(by, Mapping) else by)))
        object.__setattr__(self, "agent_sd_by_metric", pairs)
        problems = []
        if self.design not in ("ab", "did", "waves", "prepost"):
            problems.append(f"design must be 'ab', 'did', 'waves' or 'prepost' (got {self.design!r})")
        if self.design == "prepost" and self.baseline_weeks < 1:
            problems.append("a before/after (prepost) simulation needs baseline_weeks >= 1")
        waves = tuple(self.wave_weeks)
        increasing = all(a < b for a, b in zip(waves, waves[1:], strict=False))
        if self.design == "waves" and not (waves and all(0 <= w < self.weeks for w in waves) and increasing):
            problems.append(f"wave_weeks must be increasing pilot weeks in 0..{self.weeks - 1} (got {waves})")
        if self.effect_ramp_weeks < 1:
            problems.append(f"effect_ramp_weeks must be >= 1 (got {self.effect_ramp_weeks})")
        if not math.isfinite(self.trend_per_week):
            problems.append(f"trend_per_week must be finite (got {self.trend_per_week})")
        if self.design == "did" and self.baseline_weeks < 1:
            problems.append("a DiD simulation needs baseline_weeks >= 1")
        if self.n_agents < 2 or self.n_teams < 1 or self.n_agents < self.n_teams:
            problems.append("need n_agents >= 2 and n_teams <= n_agents")
        if len(self.csat_cutpoints) != self.csat_scale[1] - self.csat_scale[0]:
            problems.append("csat_cutpoints needs one cutpoint fewer than the scale has levels")
        if len(self.nps_cutpoints) != 10:
            problems.append("nps_cutpoints needs 10 cutpoints (levels 0-10)")
        if self.unit not in ("agent", "team", "site"):
            problems.append(f"unit must be 'agent', 'team' or 'site' (got {self.unit!r})")
        if self.unit == "site" and not 2 <= self.n_sites <= self.n_teams:
            problems.append(f"unit='site' needs 2 <= n_sites <= n_teams (got n_sites={self.n_sites})")
        if (self.unit == "team" or (self.design == "did" and self.unit != "site")) and self.n_teams < 2:
            problems.append("randomizing or switching teams needs n_teams >= 2")
        if not 0 < self.treated_share < 1:
            problems.append(f"treated_share must be between 0 and 1 (got {self.treated_share})")
        sds = "agent team site team_period team_week site_period agent_period ht ht_team ht_team_period ht_agent_period"
        for name in (f"{k}_sd" for k in sds.split()):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                problems.append(f"{name} must be a finite number >= 0 (got {v})")
        for m, v in pairs:
            if m not in METRICS:
                problems.append(f"agent_sd_by_metric: unknown metric {m!r} (expected one of {', '.join(METRICS)})")
            if not (math.isfinite(v) and v >= 0):
                problems.append(f"agent_sd_by_metric[{m!r}] must be a finite number >= 0 (got {v})")
        if self.ht_dist not in HT_DISTS:
            problems.append(f"ht_dist must be one of {', '.join(HT_DISTS)} (got {self.ht_dist!r})")
        if not (math.isfinite(self.ht_shape) and self.ht_shape > 0):
            problems.append(f"ht_shape must be > 0 (got {self.ht_shape})")
        if self.ht_shift is not None and not (math.isfinite(self.ht_shift) and self.ht_shift >= 0):
            problems.append(f"ht_shift must be >= 0 seconds (got {self.ht_shift})")
        if not 0 <= self.ht_mix_weight <= 1:
            problems.append(f"ht_mix_weight must be between 0 and 1 (got {self.ht_mix_weight})")
        if not (math.isfinite(self.ht_mix_ratio) and self.ht_mix_ratio > 0):
            problems.append(f"ht_mix_ratio must be > 0 (got {self.ht_mix_ratio})")
        if self.ht_mix_sd is not None and not (math.isfinite(self.ht_mix_sd) and self.ht_mix_sd >= 0):
            problems.append(f"ht_mix_sd must be >= 0 (got {self.ht_mix_sd})")
        if not math.isfinite(self.response_outcome_slope):
            problems.append(f"response_outcome_slope must be finite (got {self.response_outcome_slope})")
        if problems:
            raise ValueError("; ".join(problems))

    def agent_sd_for(self, metric: str) -> float:
        """Agent sd of one metric: its ``agent_sd_by_metric`` entry, else ``agent_sd`` (handle time: 0.12)."""
        by = dict(self.agent_sd_by_metric)  # type: ignore[arg-type]
        return by.get(metric, HT_AGENT_SD if metric == "handle_time" else self.agent_sd)

    @property
    def ht_shift_s(self) -> float:
        """Seconds added to every handle time (``ht_shift``, default 40 for ``gamma_shift``, else 0)."""
        if self.ht_shift is not None:
            return float(self.ht_shift)
        return 40.0 if self.ht_dist == "gamma_shift" else 0.0


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
