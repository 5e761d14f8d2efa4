"""The money behind a recommendation: net business value per month, as a posterior distribution.

Per posterior draw, with ``d`` the repeat-contact effect (treatment - control, pp) and ``h`` the
handle-time effect (seconds per contact)::

    repeat contacts avoided per month = -(d / 100) * contacts_per_month
    value of contacts avoided         = contacts avoided * cost_per_contact
    handle-time cost per month        = (h / 60) * contacts_per_month * cost_per_agent_minute
    net value per month               = value of contacts avoided - handle-time cost - program_cost_per_month
                                        + value of the metrics with a value_per_unit (:mod:`.metric_value`)

(inputs from ``[business]``). The two effects come from separate fits, so their draws are paired
at random (fixed seed) as independent posteriors. Summaries are the posterior mean, the HDI
(``model.hdi_prob``) and ``prob_net_saving`` = P(net value > 0). Without a repeat-contact metric
there is no money figure; without a handle-time metric, or with ``cost_per_agent_minute = 0``,
the handle-time cost is not counted (and the impact says so).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from qmsprint.decide.metric_value import metric_value_draws, metric_values
from qmsprint.decide.verdicts import draws_of
from qmsprint.results import MetricResult
from qmsprint.spec import Spec
from qmsprint.stats import hdi

IMPACT_METRIC = "repeat_contact"  # the metric whose effect is turned into money
HANDLE_TIME_METRIC = "handle_time"  # the metric whose effect (seconds per contact) is priced per agent minute


def impact_draws(
    effect: np.ndarray, contacts_per_month: float, cost_per_contact: float
) -> tuple[np.ndarray, np.ndarray]:
    """(repeat contacts avoided per month, their value per month) per draw of the repeat-contact effect (pp)."""
    avoided = -(np.asarray(effect, dtype=float) / 100.0) * contacts_per_month
    return avoided, avoided * cost_per_contact


def handle_time_cost_draws(effect: np.ndarray, contacts_per_month: float, cost_per_agent_minute: float) -> np.ndarray:
    """Cost per month of the change in handle time, per draw of its effect (seconds per contact)."""
    return np.asarray(effect, dtype=float) / 60.0 * contacts_per_month * cost_per_agent_minute


def _paired(*arrays: np.ndarray | None) -> list[np.ndarray | None]:
    """Draws of independent posteriors paired at random (fixed seed), brought to the longest length.

    The first array keeps its order; every other one is shuffled, so an accidental order (sorted
    draws, chains one after the other) cannot correlate the pairs.
    """
    n = max((len(a) for a in arrays if a is not None), default=0)
    rng = np.random.default_rng(20261122)
    out: list[np.ndarray | None] = []
    for i, a in enumerate(arrays):
        if a is None:
            out.append(None)
            continue
        x = np.asarray(a, float)[np.arange(n) % len(a)]
        out.append(x if i == 0 else x[rng.permutation(n)])
    return out


def net_value_draws(
    repeat: np.ndarray,
    handle_time: np.ndarray | None,
    *,
    contacts_per_month: float,
    cost_per_contact: float,
    cost_per_agent_minute: float = 0.0,
    program_cost_per_month: float = 0.0,
    values: Mapping[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Per draw: ``avoided``, ``value`` (of contacts avoided), ``handle_time_cost``, ``metric_values`` and ``net``.

    ``values`` holds draws of the value per month of metrics with a ``value_per_unit``
    (:func:`qmsprint.decide.metric_value.metric_value_draws`); they add to the net value.
    """
    rep, ht, *extra = _paired(repeat, handle_time, *(values or {}).values())
    avoided, value = impact_draws(rep, contacts_per_month, cost_per_contact)
    cost = (
        handle_time_cost_draws(ht, contacts_per_month, cost_per_agent_minute)
        if ht is not None
        else np.zeros_like(value)
    )
    more = np.sum([x for x in extra if x is not None], axis=0) if extra else np.zeros_like(value)
    net = value - cost - program_cost_per_month + more
    return {"avoided": avoided, "value": value, "handle_time_cost": cost, "metric_values": more, "net": net}


def impact_inputs(impact: Mapping[str, Any]) -> dict[str, float]:
    """The ``[business]`` inputs a stored impact was computed with (keyword arguments of :func:`net_value_draws`)."""
    return {
        "contacts_per_month": float(impact["contacts_per_month"]),
        "cost_per_contact": float(impact["cost_per_contact"]),
        "cost_per_agent_minute": float(impact.get("cost_per_agent_minute", 0.0) or 0.0),
        "program_cost_per_month": float(impact.get("program_cost_per_month", 0.0) or 0.0),
    }


def business_impact(spec: Spec, results: list[MetricResult]) -> dict[str, Any] | None:
    """Repeat contacts avoided, their value, the handle-time cost and the net value per month (see the module doc).

    Returns
    -------
    dict or None
        ``contacts_avoided_per_month``, ``value_per_month`` (gross), ``handle_time_cost_per_month``
        (None when not counted), ``net_value_per_month`` (each ``{mean, hdi_low, hdi_high}``),
        ``prob_saves`` (P(gross value > 0)), ``prob_net_saving``, ``handle_time_counted`` and the
        inputs; ``metric_values`` (:func:`qmsprint.decide.metric_value.metric_values`) and their sum
        ``metric_values_per_month``; None without a repeat-contact metric or a metric with a
        ``value_per_unit``. Without a repeat-contact metric ``metric`` is None and its parts are 0.

    """
    r = next((x for x in results if x.metric == IMPACT_METRIC), None)
    values = metric_values(spec, results)
    if r is None and not values:
        return None
    b = spec.business
    prob = spec.model.hdi_prob
    h = next((x for x in results if x.metric == HANDLE_TIME_METRIC), None)
    counted = h is not None and b.cost_per_agent_minute > 0
    d = net_value_draws(
        draws_of(r) if r is not None else np.zeros(1),
        draws_of(h) if counted else None,
        contacts_per_month=b.contacts_per_month,
        cost_per_contact=b.cost_per_contact,
        cost_per_agent_minute=b.cost_per_agent_minute,
        program_cost_per_month=b.program_cost_per_month,
        values=metric_value_draws(spec, results),
    )

    def summ(x: np.ndarray) -> dict[str, float]:
        lo, hi = hdi(x, prob)
        return {"mean": float(x.mean()), "hdi_low": lo, "hdi_high": hi}

    p_save = float(np.mean(d["value"] > 0)) if b.cost_per_contact > 0 else float(np.mean(d["avoided"] > 0))
    return {
        "metric": IMPACT_METRIC if r is not None else None,
        "metric_values": values,
        "metric_values_per_month": summ(d["metric_values"]) if values else None,
        "contacts_avoided_per_month": summ(d["avoided"]),
        "value_per_month": summ(d["value"]),
        "prob_saves": p_save,
        "handle_time_metric": HANDLE_TIME_METRIC if counted else None,
        "handle_time_counted": counted,
        "handle_time_present": h is not None,
        "handle_time_cost_per_month": summ(d["handle_time_cost"]) if counted else None,
        "program_cost_per_month": float(b.program_cost_per_month),
        "net_value_per_month": summ(d["net"]),
        "prob_net_saving": float(np.mean(d["net"] > 0)),
        "currency": b.currency,
        "cost_per_contact": float(b.cost_per_contact),
        "contacts_per_month": float(b.contacts_per_month),
        "cost_per_agent_minute": float(b.cost_per_agent_minute),
        "hdi_prob": float(prob),
    }
