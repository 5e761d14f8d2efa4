"""Repeat pilots: an earlier run's latent treatment effects as the priors of a new run."""

from __future__ import annotations

import math
from typing import Any

from qmsprint.errors import BundleError
from qmsprint.spec import Spec
from qmsprint.store.runs_read import load_run


def prior_from_run(spec: Spec) -> tuple[dict[str, tuple[float, float]], dict[str, Any]] | None:
    """The latent treatment effects of the run named by ``spec.model.prior_from``, as priors.

    Returns
    -------
    (prior, info) or None
        ``prior`` maps metric -> (mean, sd) for metrics of this spec that the earlier run
        estimated; ``info`` says which run and which metrics (for provenance and the report).
        ``None`` when the spec names no earlier run.

    Raises
    ------
    BundleError
        If the earlier run is missing or damaged, or shares no metric with this spec.

    """
    if not spec.model.prior_from:
        return None
    path = spec.resolve(spec.model.prior_from)
    try:
        run = load_run(path)
    except BundleError as err:
        raise BundleError(f"model.prior_from: {err}", err.problems) from None
    wanted = [m.name for m in spec.metrics]
    prior: dict[str, tuple[float, float]] = {}
    for r in run.results:
        if r.metric in wanted and r.latent_effect is not None:
            mean, sd = float(r.latent_effect[0]), float(r.latent_effect[1])
            if math.isfinite(mean) and math.isfinite(sd) and sd > 0:
                prior[r.metric] = (mean, sd)
    if not prior:
        raise BundleError(
            f"model.prior_from: run {run.name} has no latent effect for any metric of this spec ({', '.join(wanted)})"
        )
    info = {
        "run": run.name,
        "created": run.created,
        "design": run.spec.design,
        "metrics": {k: list(v) for k, v in prior.items()},
        "without_prior": [m for m in wanted if m not in prior],
    }
    return prior, info
