"""From effect posteriors to verdicts, one recommendation and the money behind it: rules and numbers only.

:func:`decide` reads the headline draws of every :class:`~qmsprint.results.MetricResult`
(treatment - control, in the unit of the metric's ``min_effect``) and the spec's ``[decision]``
thresholds (defaults in :class:`qmsprint.spec.Decision`: ``prob_improve`` 0.975,
``prob_equivalent`` 0.9, ``rope_fraction`` 1.0, ``guardrail_prob_worse`` 0.9,
``guardrail_max_risk`` 0.1, ``prob_meaningful`` 0.8, ``max_expected_loss`` 0.1 of min_effect,
``min_units_per_arm`` 8). Words come from :func:`qmsprint.present.text.explain`.

- :mod:`.rules`: the rule on arrays (verdicts, guardrail states, the meaningful bar, the action),
  shared with the assurance of :mod:`qmsprint.design`;
- :mod:`.verdicts`: :class:`Verdict` per metric from its draws, and the data that would settle it;
- :mod:`.extend`: how much more data (weeks or agents) from the pilot's variance decomposition;
- :mod:`.value`: net business value per month as a distribution;
- :mod:`.recommendation`: :class:`Recommendation`, :func:`decide`.

In short: ``scale_up`` needs every primary metric improved, one of them meaningfully
(P(effect >= min_effect) >= ``prob_meaningful``, or an expected shortfall from min_effect at most
``max_expected_loss`` x min_effect), and every guardrail holding (P(harm beyond its margin) <=
``guardrail_max_risk``). A guardrail between that and ``guardrail_prob_worse`` is at risk: the
call is ``extend`` when more data could clear it, else ``iterate``.
"""

from qmsprint.decide.extend import MAX_PRACTICAL_FACTOR, VarianceParts, extension, weeks_factor
from qmsprint.decide.metric_value import metric_value_draws, metric_values, stored_value_draws, value_factor
from qmsprint.decide.recommendation import (
    Groups,
    Recommendation,
    action_for,
    decide,
    groups,
    segment_summary,
    small_arms,
)
from qmsprint.decide.rules import ACTIONS, DECISIVE
from qmsprint.decide.value import (
    HANDLE_TIME_METRIC,
    IMPACT_METRIC,
    business_impact,
    handle_time_cost_draws,
    impact_draws,
    impact_inputs,
    net_value_draws,
)
from qmsprint.decide.verdicts import (
    MAX_FACTOR,
    Verdict,
    draws_of,
    guardrail_factor,
    meaningful_factor,
    more_data_factor,
    verdict_for,
)

__all__ = [
    "ACTIONS",
    "DECISIVE",
    "HANDLE_TIME_METRIC",
    "IMPACT_METRIC",
    "MAX_FACTOR",
    "MAX_PRACTICAL_FACTOR",
    "Groups",
    "Recommendation",
    "VarianceParts",
    "Verdict",
    "action_for",
    "business_impact",
    "decide",
    "draws_of",
    "extension",
    "groups",
    "guardrail_factor",
    "handle_time_cost_draws",
    "impact_draws",
    "impact_inputs",
    "meaningful_factor",
    "metric_value_draws",
    "metric_values",
    "more_data_factor",
    "net_value_draws",
    "segment_summary",
    "small_arms",
    "stored_value_draws",
    "value_factor",
    "verdict_for",
    "weeks_factor",
]
