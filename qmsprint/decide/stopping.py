"""When a running pilot can stop: the expected loss of the better choice is small enough.

As GrowthBook and Eppo do, a pilot watched week by week stops when choosing now costs little in
expectation. For each deciding (primary) metric, with ``g`` the improvement (direction-aware) and
``delta`` its ``min_effect``, the choice is between scaling up (worth it when ``g >= delta``) and
keeping the current program:

* expected loss of scaling up: ``E[max(0, delta - g)]``, the expected shortfall from the smallest
  effect worth acting on (the same number :mod:`qmsprint.decide.rules` calls ``shortfall``);
* expected loss of keeping the current program: ``E[max(0, g - delta)]``, the worthwhile gain
  given up.

The better choice is the one with the smaller loss; the metric is settled when that loss is at most
``[decision] max_expected_loss x min_effect``. The pilot can stop now (:func:`stop_check`) when
every deciding metric is settled, no guardrail is at risk (each holds or vetoes), every fit
converged, and the recommendation is decisive (``scale_up``, ``iterate`` or ``stop``): the stop
and the call then agree. Measuring both losses from ``min_effect`` keeps a null program from
looking like a win however often the pilot is checked: scaling up needs most of the posterior
above ``min_effect``, which a program without effect rarely shows, so weekly checks keep wrong
scale-ups rare (``bench/bench_peeking.py`` measures it on null pilots).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from qmsprint.decide import rules
from qmsprint.decide.recommendation import groups
from qmsprint.decide.verdicts import Verdict, verdict_for
from qmsprint.results import MetricResult
from qmsprint.spec import Spec

__all__ = ["MetricStop", "StopCheck", "expected_losses", "stop_check"]


@dataclass(frozen=True)
class MetricStop:
    """The stopping numbers of one deciding metric (in its unit).

    Attributes
    ----------
    metric
        Metric name.
    loss_scale_up, loss_keep
        Expected loss of scaling up and of keeping the current program.
    threshold
        ``max_expected_loss x min_effect``.
    choice
        The better choice: ``scale_up`` or ``keep``.
    settled
        The better choice's expected loss is at most the threshold.

    """

    metric: str
    loss_scale_up: float
    loss_keep: float
    threshold: float
    choice: str
    settled: bool


@dataclass(frozen=True)
class StopCheck:
    """Whether the pilot can stop now, and why (see the module doc).

    Attributes
    ----------
    stop
        Every condition holds: stop and act on ``action``.
    action
        The recommendation's action (the call to act on when ``stop``).
    metrics
        The numbers of each deciding metric.
    open
        What keeps the pilot running (metric names with what is open), empty when ``stop``.

    """

    stop: bool
    action: str
    metrics: list[MetricStop] = field(default_factory=list)
    open: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return asdict(self)


def expected_losses(improvement: np.ndarray, delta: float) -> tuple[float, float]:
    """``(E[max(0, delta - g)], E[max(0, g - delta)])`` from draws of the improvement ``g``."""
    g = np.asarray(improvement, float)
    return float(np.mean(np.maximum(0.0, delta - g))), float(np.mean(np.maximum(0.0, g - delta)))


def stop_check(
    spec: Spec, results: list[MetricResult], action: str, verdicts: Mapping[str, Verdict] | None = None
) -> StopCheck:
    """Whether a running pilot can stop now (see the module doc).

    Parameters
    ----------
    spec
        The experiment file (metric roles, ``min_effect``, ``[decision] max_expected_loss``).
    results
        The current results, one per metric.
    action
        The current recommendation's action (:func:`qmsprint.decide.decide`).
    verdicts
        The recommendation's verdicts (default: computed from ``results``).

    """
    vs = dict(verdicts) if verdicts is not None else {r.metric: verdict_for(spec, r) for r in results}
    g = groups(vs)
    by_metric = {r.metric: r for r in results}
    out: list[MetricStop] = []
    open_: list[str] = []
    for name in g.primaries:
        r = by_metric[name]
        m = spec.metric(name)
        sign = 1.0 if m.better == "higher" else -1.0
        delta = float(m.threshold)
        up, keep = expected_losses(sign * np.asarray(r.draws, float), delta)
        thr = spec.decision.max_expected_loss * delta
        choice = "scale_up" if up <= keep else "keep"
        settled = min(up, keep) <= thr
        out.append(MetricStop(name, up, keep, thr, choice, bool(settled)))
        if not settled:
            open_.append(f"{name}: expected loss {min(up, keep):.3g} > {thr:.3g}")
    open_ += [f"{name}: guardrail at risk" for name in g.at_risk]
    open_ += [f"{name}: fit not converged" for name in g.not_converged]
    if action not in rules.DECISIVE:
        open_.append(f"recommendation is {action}")
    return StopCheck(stop=not open_, action=action, metrics=out, open=open_)
