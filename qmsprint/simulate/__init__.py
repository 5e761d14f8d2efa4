"""Seeded simulator of contact-center interaction tables with known true effects.

The tests' ground truth: every estimator in qmsprint is checked against data generated here.

Generative model
----------------
Agents are nested in teams, teams in sites. Each interaction ``i`` handled by agent ``a`` of team
``t`` has a latent *experience* predictor (logit scale)::

    core_i = u_a + v_t + s_site + channel_i + reason_i + season(week_i)
             + sum_k item_effect_k (pass_ik - pass_rate_k) + behavior_weight * e_i
             + [DiD] group_offset * treated_group + period_shock * pilot

with agent effects ``u_a = agent_sd * z_a`` and team effects ``v_t ~ Normal(0, team_sd)``;
``e_i`` is the interaction-level part of the behavior score (``behavior_score = 65 + 12 q_i``,
``q_i = 0.6 z_a + 0.8 e_i``, clipped to 0-100). Checklist items pass with their own rates (a bit
more often for better agents); ``qa_score`` is the percentage of items passed. Some items raise
CSAT, some are noise, some hurt (and prolong the call).

``T_i = 1`` when the interaction is handled by a unit on the new program during the pilot period.
Outcomes, given ``core_i`` (independent draws):

* CSAT: ordered logit on ``core_i + csat_effect T_i`` with ``csat_cutpoints`` over the scale;
* NPS 0-10: ordered logit on ``core_i + nps_effect T_i`` with ``nps_cutpoints``;
* FCR (survey question): ``logit p = fcr_base + 0.6 core_i + fcr_effect T_i``;
* repeat contact: ``logit p = repeat_base - 0.5 core_i + reason_repeat_i + repeat_effect T_i``;
  each interaction spawns a follow-up contact of the same customer (same contact reason with
  probability 0.8, a random agent of the same team) after a delay strictly inside
  ``(0, repeat_window_days)`` days with that probability; follow-ups can spawn follow-ups.
  Every chain has its own customer id, so the data's repeat contacts (window ``repeat_window_days``)
  are exactly the spawned follow-ups, except where the window is censored at the end of the data;
* handle time: ``log ht = log(ht_median) + channel_ht + reason_ht + agent_ht + items_ht
  + handle_time_effect T_i + Normal(0, ht_sd)`` seconds.

Survey response (CSAT, and NPS for ``nps_answer_share`` of the respondents, FCR for all of them)
is missing at random with ``response_rate[0]`` for the control group and, during the pilot,
``response_rate[1]`` for the treated group.

Designs: ``ab`` randomizes units (agents, or teams with ``unit="team"``; agents within teams)
to the two arms for the whole data; both arms run over the same pilot period after a baseline in
which everybody is on the old program. ``did`` lets whole teams switch at the pilot start; the
treated teams differ at baseline (``did_group_offset``) and everyone shifts in the pilot
(``did_period_shock``). The ``arm`` column always holds the unit's group.

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
* ``handle_time``: ``mean`` = mean_i(E[ht|eta1] - E[ht|eta0]) seconds (lognormal means);
  ``relative`` in %.

``truth["control"][metric][scale]`` / ``truth["treatment"][metric][scale]`` hold the two means.
``truth["latent"]`` has the latent parameters (effects, cutpoints, agent/team sd, bases);
``truth["repeat_share"]`` the share of uncensored interactions (window ``(t, t + W]``, censored
when ``t + W`` is after the last timestamp) that have a repeat contact in the data, overall and
``by_period_arm``; ``truth["response_rates"]`` the realised CSAT response share by period and arm;
``truth["items"]`` each item's pass rate and effects; ``truth["periods"]`` the period dates.
"""

from __future__ import annotations

from qmsprint.simulate.config import CHANNELS, DEFAULT_ITEMS, REASONS, SimConfig, SimItem, Simulation
from qmsprint.simulate.generate import simulate

__all__ = ["CHANNELS", "DEFAULT_ITEMS", "REASONS", "SimConfig", "SimItem", "Simulation", "simulate"]
