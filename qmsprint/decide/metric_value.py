"""Business value of each metric with a ``value_per_unit``: its effect turned into money per month.

A ``[[metrics]]`` entry may say what one unit of improvement is worth (``value_per_unit``, in the
``[business]`` currency): one more customer retained, one churn avoided, one sale, a CSAT point
or one unit of a count or amount per contact. Per posterior draw of the headline effect ``d``
(treatment - control) and with ``s = +1`` when higher is better (``-1`` when lower is)::

    binary metrics (effect in pp):  events per month = d / 100 * contacts_per_month
                                    value per month  = s * events per month * value_per_unit
    other metrics (effect per contact, in the headline's unit):
                                    value per month  = s * d * contacts_per_month * value_per_unit

so ``value per month = factor * d`` with :func:`value_factor`. The values of all such metrics
join the net value of :func:`qmsprint.decide.value.business_impact` (their posteriors are paired
at random with the others', as independent fits). Repeat contacts and handle time are priced by
``[business]`` (``cost_per_contact``, ``cost_per_agent_minute``) and take no ``value_per_unit``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qmsprint.decide.verdicts import draws_of
from qmsprint.results import MetricResult
from qmsprint.spec import Metric, Spec
from qmsprint.stats import hdi


def value_factor(spec: Spec, m: Metric) -> float | None:
    """Money per month per unit of the metric's headline effect (improvement positive); None without a value."""
    if m.value_per_unit is None:
        return None
    sign = 1.0 if m.better == "higher" else -1.0
    per = spec.business.contacts_per_month / (100.0 if m.info.headline.unit == "pp" else 1.0)
    return sign * per * float(m.value_per_unit)


def metric_value_draws(spec: Spec, results: list[MetricResult]) -> dict[str, np.ndarray]:
    """Per metric with a ``value_per_unit``: draws of its value per month."""
    out = {}
    for r in results:
        f = value_factor(spec, spec.metric(r.metric))
        if f is not None:
            out[r.metric] = f * draws_of(r)
    return out


def metric_values(spec: Spec, results: list[MetricResult]) -> list[dict[str, Any]]:
    """One summary per metric with a ``value_per_unit`` (in the spec's order).

    Returns
    -------
    list of dict
        ``metric``, ``label``, ``value_per_unit``, ``factor`` (money per month per unit of effect),
        ``events`` (binary metrics: the effect counts events), ``unit`` (of the headline effect),
        ``effect`` and ``value_per_month`` (each ``{mean, hdi_low, hdi_high}``), ``events_per_month``
        (binary metrics, else None) and ``prob_positive`` (P(value > 0)).

    """
    prob = spec.model.hdi_prob
    by_name = {r.metric: r for r in results}
    out = []

    def summ(x: np.ndarray) -> dict[str, float]:
        lo, hi = hdi(x, prob)
        return {"mean": float(np.mean(x)), "hdi_low": float(lo), "hdi_high": float(hi)}

    for m in spec.metrics:
        f = value_factor(spec, m)
        if f is None or m.name not in by_name:
            continue
        d = draws_of(by_name[m.name])
        events = m.info.headline.unit == "pp"
        out.append(
            {
                "metric": m.name,
                "label": m.info.label,
                "value_per_unit": float(m.value_per_unit or 0.0),
                "factor": f,
                "events": events,
                "unit": m.info.headline.unit,
                "effect": summ(d),
                "events_per_month": summ(d / 100.0 * spec.business.contacts_per_month) if events else None,
                "value_per_month": summ(f * d),
                "prob_positive": float(np.mean(f * d > 0)),
            }
        )
    return out


def stored_value_draws(impact: dict[str, Any], draws: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Value-per-month draws of a stored impact's metrics, from headline draws per metric (e.g. a run's)."""
    out = {}
    for v in impact.get("metric_values") or []:
        d = draws.get(v["metric"])
        if d is not None and len(d) >= 2:
            out[v["metric"]] = float(v["factor"]) * np.asarray(d, float)
    return out
