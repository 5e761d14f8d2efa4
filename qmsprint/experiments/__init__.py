"""Effect estimation for A/B and difference-in-differences pilots.

:func:`estimate` is the interface the pipeline uses: cells in, one
:class:`~qmsprint.results.MetricResult` per metric of the spec out (in the spec's order).
Designs implement the :class:`Design` protocol and are registered by name in :data:`DESIGNS`
(``ab``, ``did``); metrics come from the metric registry and their model families from
:mod:`qmsprint.models`, so a new metric module needs no change here.

Modules: :mod:`.designs` (protocol and registry; :mod:`.ab`, :mod:`.did`), :mod:`.checks`
(cells and priors), :mod:`.prepare` (cells -> model block), :mod:`.readout` (fit -> result),
:mod:`.core` (the steps end to end).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from qmsprint.experiments.core import estimate_all, prior_predictive
from qmsprint.experiments.designs import DESIGNS, Design, get_design
from qmsprint.progress import Progress
from qmsprint.results import MetricResult
from qmsprint.spec import Spec

__all__ = ["DESIGNS", "Design", "estimate", "get_design", "prior_predictive_check"]


def estimate(
    spec: Spec,
    cells: pd.DataFrame,
    *,
    progress: Progress | None = None,
    prior: dict[str, tuple[float, float]] | None = None,
) -> list[MetricResult]:
    """Estimate the effect of the new program on every metric of ``spec``.

    Parameters
    ----------
    spec
        The experiment (design, arms, metrics, model and sampler settings).
    cells
        Sufficient statistics per agent x team x site x arm x period x channel x contact reason
        (the cells contract of ARCHITECTURE.md).
    progress
        Optional ``progress(message, fraction)`` callback.
    prior
        Optional ``{metric: (mean, sd)}`` replacing the default prior of the latent treatment
        effect (e.g. an earlier run's ``MetricResult.latent_effect``); a note records it.

    Returns
    -------
    list[MetricResult]
        One per metric, in the spec's order. Each metric is fitted in its own model.

    Raises
    ------
    DataError
        If the cells miss columns, arms, periods or observations the spec needs (all listed).
    SpecError
        If ``prior`` or ``spec.model.priors`` name unknown metrics / priors or invalid values.

    """
    return estimate_all(spec, cells, get_design(spec.design), progress=progress, prior=prior)


def prior_predictive_check(spec: Spec, cells: pd.DataFrame, *, draws: int = 500) -> dict[str, dict[str, Any]]:
    """Prior predictive check per metric: shares / rates by arm the priors alone predict.

    Returns ``{metric: {"labels", "observed", "replicated_mean", "replicated_low", "replicated_high"}}``
    (the layout of :attr:`MetricResult.ppc`).
    """
    return prior_predictive(spec, cells, get_design(spec.design), draws=draws)
