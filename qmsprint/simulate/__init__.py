"""Seeded simulator of contact-center interaction tables with known true effects.

The tests' ground truth: every estimator in qmsprint is checked against data generated here.

Generative model
----------------
Agents are nested in teams, teams in sites. Each interaction ``i`` handled by agent ``a`` of team
``t`` has a latent *experience* predictor (logit scale)::

    core_i = u_a + v_t + s_site + channel_i + reason_i + season(week_i)
             + sum_k item_effect_k (pass_ik - pass_rate_k) + behavior_weight * e_i
             + [DiD] group_offset * treated_group + period_shock * pilot
             + TP[t, p] + TW[t, w] + SP[site, p] + AP[a, p]

with agent effects ``u_a = agent_sd * z_a`` and team effects ``v_t ~ Normal(0, team_sd)``;
``e_i`` is the interaction-level part of the behavior score (``behavior_score = 65 + 12 q_i``,
``q_i = 0.6 z_a + 0.8 e_i``, clipped to 0-100). Checklist items pass with their own rates (a bit
more often for better agents: ``item_agent_loading * z_a`` on the pass logit); ``qa_score`` is the
percentage of items passed. Some items raise CSAT, some are noise, some hurt (and prolong the call).

Unit x period shocks (all 0 by default): ``TP[t, p] ~ Normal(0, team_period_sd)`` per team and
period ``p`` (baseline, pilot), ``TW[t, w] ~ Normal(0, team_week_sd)`` per team and calendar week,
``SP ~ Normal(0, site_period_sd)`` per site and period, ``AP ~ Normal(0, agent_period_sd)`` per
agent and period: what a staffing change or a product launch does to one unit's outcomes in one
period. They shift every outcome that depends on ``core`` and leave the treatment effect alone.

Per-metric agent variation: ``agent_sd_by_metric`` (e.g. ``{"csat": 0.0}``) replaces ``u_a`` by
``sd_m z_a`` in that metric's predictor below (``core_m``; ``core`` elsewhere).

``T_i = 1`` when the interaction is handled by a unit on the new program during the pilot period.
Outcomes, given ``core_i`` (independent draws):

* CSAT: ordered logit on ``core_i + csat_effect T_i`` with ``csat_cutpoints`` over the scale;
* NPS 0-10: ordered logit on ``core_i + nps_effect T_i`` with ``nps_cutpoints``;
* FCR (survey question): ``logit p = fcr_base + 0.6 core_i + fcr_effect T_i``;
* repeat contact: ``logit p = repeat_base - 0.5 core_i + reason_repeat_i + repeat_effect T_i``
  (each with its ``core_m`` when ``agent_sd_by_metric`` names it);
  each interaction spawns a follow-up contact of the same customer (same contact reason with
  probability 0.8, a random agent of the same team) after a delay strictly inside
  ``(0, repeat_window_days)`` days with that probability; follow-ups can spawn follow-ups.
  Every chain has its own customer id, so the data's repeat contacts (window ``repeat_window_days``)
  are exactly the spawned follow-ups, except where the window is censored at the end of the data;
* handle time: with the log-scale predictor ``lht_i = log(ht_median) + channel_ht + reason_ht
  + agent_ht + items_ht + ht_team + HTP[t, p] + HAP[a, p] + handle_time_effect T_i``
  (``agent_ht ~ Normal(0, agent_sd_by_metric["handle_time"])``, default 0.12; ``ht_team``,
  ``HTP``, ``HAP``: team effect and team/agent x period shocks, sds ``ht_team_sd``,
  ``ht_team_period_sd``, ``ht_agent_period_sd``, default 0), ``ht_i = shift + exp(lht_i) R_i``
  seconds with ``R`` by ``ht_dist`` (:mod:`qmsprint.simulate.handle_time`): ``lognormal`` (default,
  ``exp(Normal(0, ht_sd))``, no shift), ``gamma`` (shape ``ht_shape``, same mean as the lognormal),
  ``gamma_shift`` (that gamma plus ``ht_shift``, default 40 s) or ``mixture`` (a second, slower
  lognormal component with weight ``ht_mix_weight``). The treatment scales ``exp(lht)``, not the shift.

Survey response (CSAT, and NPS for ``nps_answer_share`` of the respondents, FCR for all of them)
is missing at random with ``response_rate[0]`` for the control group and, during the pilot,
``response_rate[1]`` for the treated group. With ``response_depends_on_outcome`` it is not: the
log-odds of answering rise by ``response_outcome_slope`` per CSAT level above the mean CSAT of all
interactions, so respondents overstate CSAT, NPS and FCR (a case the analysis should warn about;
``truth["response_rates"]`` shows the realised CSAT of everybody and of the respondents).

Designs: ``ab`` randomizes units (agents within teams; whole teams with ``unit="team"``; whole
sites with ``unit="site"``) to the two arms for the whole data; both arms run over the same pilot
period after a baseline in which everybody is on the old program. ``did`` lets whole teams (or
sites with ``unit="site"``) switch at the pilot start; the treated teams differ at baseline
(``did_group_offset``) and everyone shifts in the pilot (``did_period_shock``). The ``arm`` column
always holds the unit's group. Few clusters: ``n_teams=4, unit="team"`` puts 2 teams in each arm.
``waves`` rolls the new program out to teams (sites with ``unit="site"``) in waves (``wave_weeks``:
the pilot weeks the waves switch in), the other teams never switching; ``prepost`` switches every
unit at the pilot start (no control group). In both the ``arm`` column is the program of the row
(the control arm before the unit's switch), the effect can grow over its first weeks
(``effect_ramp_weeks``) and ``trend_per_week`` adds a trend; their truth also has the switch dates,
the effect per wave and per week since the switch (:mod:`qmsprint.simulate.rollout`).

Random streams: the main stream ``default_rng(seed)`` makes exactly the draws the simulator has
always made, whatever the options; shocks, the gamma and mixture draws come from a second stream
(``default_rng([seed, 14])``). The default settings therefore reproduce earlier data byte for byte,
and switching on a shock, a handle-time family or outcome-dependent response keeps every other draw
of the same seed (common random numbers; e.g. with ``response_depends_on_outcome`` the drawn CSAT is
the same, only who answers changes). The assignment unit changes the assignment draws.

Messy pilots (settings for calibration studies)::

    SimConfig(design="did", n_teams=12, team_period_sd=0.15)            # team x period shocks
    SimConfig(agent_sd_by_metric={"handle_time": 0.0}, item_agent_loading=0.0,
              ht_dist="gamma_shift")                                     # no agent variation, gamma + 40 s
    SimConfig(n_teams=6, unit="team", team_period_sd=0.1)                # 3 teams per arm
    SimConfig(n_teams=8, n_sites=4, unit="site", site_period_sd=0.1)     # 2 sites per arm
    SimConfig(response_depends_on_outcome=True)                          # respondents not at random

Truth (``Simulation.truth``)
----------------------------
``truth["effects"][metric][scale]`` is the **expected** difference between the new and the
current program, averaged over the pilot-period interactions of the design's population (A/B: all
units; DiD: the treated units), computed from probabilities and expectations given each
interaction's latent predictor, not from sampled outcomes. With ``eta0_i`` the predictor without
treatment and ``eta1_i = eta0_i + effect``:

* ``csat``: ``mean`` = mean_i(E[y|eta1_i] - E[y|eta0_i]) points; ``top2box`` = mean_i(P(top two
  levels|eta1) - P(...|eta0)) in pp;
* ``nps``: ``nps`` = 100 (mean P(9-10) - mean P(0-6)) difference in NPS points; ``promoters``,
  ``passives``, ``detractors`` in pp;
* ``fcr``, ``repeat_contact``: ``rate`` = difference of mean probabilities in pp; ``relative`` =
  100 (r1 - r0) / r0 in % with ``r0, r1`` the mean probabilities;
* ``handle_time``: ``mean`` = mean_i(E[ht|lht1] - E[ht|lht0]) seconds with
  ``E[ht|lht] = shift + exp(lht) E[R]`` (lognormal: ``exp(lht + ht_sd^2/2)``); ``relative`` in %.

Shocks and agent terms are part of each interaction's ``eta0_i`` (``lht0_i``), so the truth averages
over the realised shocks of the pilot period, exactly as over the realised agent effects.

``truth["control"][metric][scale]`` / ``truth["treatment"][metric][scale]`` hold the two means.
``truth["latent"]`` has the latent parameters (effects, cutpoints, agent/team sd, bases, shock sds,
per-metric agent sds); ``truth["shocks"]`` the realised shocks by unit id (kinds with a positive sd);
``truth["handle_time_model"]`` the handle-time family (``dist``, ``shift_s``, ``shape``,
``mixture``, ``mean_factor`` = E[R]); ``truth["unit"]`` the assignment unit and
``truth["treated_units"]`` the treated agents, teams or sites;
``truth["repeat_share"]`` the share of uncensored interactions (window ``(t, t + W]``, censored
when ``t + W`` is after the last timestamp) that have a repeat contact in the data, overall and
``by_period_arm``; ``truth["response_rates"]`` the realised CSAT response share by period and arm;
``truth["items"]`` each item's pass rate and effects; ``truth["periods"]`` the period dates.
"""

from __future__ import annotations

from qmsprint.simulate.config import CHANNELS, DEFAULT_ITEMS, REASONS, SimConfig, SimItem, Simulation
from qmsprint.simulate.generate import simulate

__all__ = ["CHANNELS", "DEFAULT_ITEMS", "REASONS", "SimConfig", "SimItem", "Simulation", "simulate"]
