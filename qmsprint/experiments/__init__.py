"""Effect estimation for A/B and difference-in-differences pilots.

:func:`estimate` is the interface the pipeline uses: cells in, one
:class:`~qmsprint.results.MetricResult` per metric of the spec out (in the spec's order).
"""

from __future__ import annotations

import pandas as pd

from qmsprint.experiments import ab, did
from qmsprint.experiments.core import prior_predictive, run
from qmsprint.progress import Progress
from qmsprint.results import MetricResult
from qmsprint.spec import Spec

__all__ = ["estimate", "prior_predictive_check"]


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
        One per metric, in the spec's order. All metrics are fitted in one joint model.

    Raises
    ------
    DataError
        If the cells miss columns, arms, periods or observations the spec needs (all listed).
    SpecError
        If ``prior`` or ``spec.model.priors`` name unknown metrics / priors or invalid values.

    """
    mod = did if spec.design == "did" else ab
    return run(spec, cells, mod, progress=progress, prior=prior)


def prior_predictive_check(spec: Spec, cells: pd.DataFrame, *, draws: int = 500) -> dict[str, dict[str, list]]:
    """Prior predictive check per metric: shares / rates by arm the priors alone predict.

    Returns ``{metric: {"labels", "observed", "replicated_mean", "replicated_low", "replicated_high"}}``
    (the layout of :attr:`MetricResult.ppc`).
    """
    mod = did if spec.design == "did" else ab
    return prior_predictive(spec, cells, mod, draws=draws)
