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
``[decision] max_expected_loss x min_effect`` and the data resolve effects of the size that
matters: the posterior sd of the improvement is at most ``min_effect`` (:data:`MAX_SD_FRACTION`).
The pilot can stop now (:func:`stop_check`) when every deciding metric is settled, no guardrail is
at risk (each holds or vetoes), every fit converged, and the recommendation is decisive
(``scale_up``, ``iterate`` or ``stop``): the stop and the call then agree.

Why the precision bar: an expected loss is small either because the posterior is far from
``min_effect`` or because it is narrow. In the first weeks a chance difference of two posterior
sds makes the expected shortfall of a program without effect small although the posterior is
wide; checked every week, the loss alone scaled up 2 of 40 null pilots in
``bench/bench_peeking.py``. Asking for a posterior sd of at most ``min_effect`` as well means a
null program must look at least 2.15 posterior sds better than nothing before it can win, which
keeps wrong scale-ups under 5% however often the pilot is checked (the bench measures it).
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

__all__ = ["MAX_SD_FRACTION", "MetricStop", "StopCheck", "expected_losses", "stop_check"]

MAX_SD_FRACTION = 1.0  # a metric settles only when the posterior sd of its improvement is at most this x min_effect


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
    sd, max_sd
        Posterior sd of the improvement, and the most it may be (``MAX_SD_FRACTION x min_effect``).
    choice
        The better choice: ``scale_up`` or ``keep``.
    settled
        The better choice's expected loss is at most the threshold and ``sd <= max_sd``.

    """

    metric: str
    loss_scale_up: float
    loss_keep: float
    threshold: float
    choice: str
    settled: bool
    sd: float = float("nan")
    max_sd: float = float("nan")


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
        gain = sign * np.asarray(r.draws, float)
        up, keep = expected_losses(gain, delta)
        thr = spec.decision.max_expected_loss * delta
        sd = float(np.std(gain, ddof=1)) if len(gain) > 1 else float("inf")
        max_sd = MAX_SD_FRACTION * delta
        choice = "scale_up" if up <= keep else "keep"
        settled = min(up, keep) <= thr and sd <= max_sd
        out.append(MetricStop(name, up, keep, thr, choice, bool(settled), sd, max_sd))
        if min(up, keep) > thr:
            open_.append(f"{name}: expected loss {min(up, keep):.3g} > {thr:.3g}")
        if sd > max_sd:
            open_.append(f"{name}: posterior sd {sd:.3g} > {max_sd:.3g}")
    open_ += [f"{name}: guardrail at risk" for name in g.at_risk]
    open_ += [f"{name}: fit not converged" for name in g.not_converged]
    if action not in rules.DECISIVE:
        open_.append(f"recommendation is {action}")
    return StopCheck(stop=not open_, action=action, metrics=out, open=open_)
