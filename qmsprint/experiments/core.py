"""Estimation end to end: check the cells, build one block per metric, fit them, read the results.

A fit that misses the convergence bars is tried again within ``[sampler] time_budget_s``
(:func:`qmsprint.models.fit_until_converged`); what was done is a note of the metric's result.

:func:`estimate_all` is what :func:`qmsprint.experiments.estimate` runs for a design;
:func:`prior_predictive` is the same path with parameters drawn from the priors. The steps live in
:mod:`.checks`, :mod:`.prepare` and :mod:`.readout`.
"""

from __future__ import annotations

import math
import time
from typing import Any

import pandas as pd

from qmsprint.errors import Problem, SpecError
from qmsprint.experiments.checks import check_families, check_prior_arg, validate
from qmsprint.experiments.designs import Design
from qmsprint.experiments.prepare import prepare_metric, select_cells
from qmsprint.experiments.readout import diagnose, metric_result, ppc
from qmsprint.models import fit_until_converged, prior_draws
from qmsprint.progress import Progress, silent
from qmsprint.results import MetricResult
from qmsprint.spec import Spec
from qmsprint.spec_sampler import EFFECT_TARGET_ACCEPT
from qmsprint.words import counted


def estimate_all(
    spec: Spec,
    cells: pd.DataFrame,
    design: Design,
    *,
    progress: Progress | None = None,
    prior: dict[str, tuple[float, float]] | None = None,
) -> list[MetricResult]:
    """Estimate every metric of ``spec`` under ``design`` (see :func:`qmsprint.experiments.estimate`)."""
    own = getattr(design, "estimate", None)
    if own is not None:  # designs with their own weekly cells and readout (qmsprint.experiments.rollout)
        return own(spec, cells, progress=progress, prior=prior)
    prog = progress or silent
    check_families(spec)
    check_prior_arg(spec, prior)
    validate(spec, cells, design.PERIODS)
    prog("preparing cells", 0.02)
    used = select_cells(spec, cells, design)
    blocks = [
        prepare_metric(
            spec, used, m.name, design, tuple(map(float, prior[m.name])) if prior and m.name in prior else None
        )
        for m in spec.metrics
    ]
    s = spec.sampler
    n_cells = sum(b.block.design.n_cells for b in blocks)
    prog(f"fitting {counted(len(blocks), 'metric')} on {n_cells:,} cells ({s.chains} chains x {s.draws} draws)", 0.05)

    def sub(message: str, fraction: float) -> None:
        prog(message, 0.05 + 0.75 * fraction)

    deadline = time.perf_counter() + s.time_budget_s

    def check(i: int, f: Any) -> Any:
        return diagnose(blocks[i], f, spec)

    fits = fit_until_converged(
        [b.block for b in blocks],
        diagnose=check,
        draws=s.draws,
        tune=s.tune,
        chains=s.chains,
        seed=s.seed,
        target_accept=s.accept(EFFECT_TARGET_ACCEPT),
        backend=s.backend,
        progress=sub,
        deadline=deadline,
        choices=[b.choices for b in blocks],
    )
    out = []
    for i, b in enumerate(blocks):
        prog(f"summarising {b.metric}", 0.8 + 0.2 * i / len(blocks))
        out.append(metric_result(b, fits[i], spec, used))
    prog("estimation done", 1.0)
    return out


def prior_predictive(spec: Spec, cells: pd.DataFrame, design: Design, *, draws: int = 500) -> dict[str, dict[str, Any]]:
    """Prior predictive check: what the priors alone predict for each metric's shares / rates by arm.

    Same layout as :attr:`MetricResult.ppc` (``observed`` is the data, ``replicated_*`` come from
    parameters drawn from the priors), so a reader can see that the priors allow every plausible
    outcome without piling up on extremes. Flat priors cannot be sampled and raise ``SpecError``.
    """
    own = getattr(design, "prior_predictive", None)
    if own is not None:  # designs with their own weekly cells and readout (qmsprint.experiments.rollout)
        return own(spec, cells, draws=draws)
    check_families(spec)
    check_prior_arg(spec, None)
    validate(spec, cells, design.PERIODS)
    used = select_cells(spec, cells, design)
    out = {}
    for m in spec.metrics:
        b = prepare_metric(spec, used, m.name, design, None)
        if b.block.flat_effect or any(math.isinf(v) for v in b.block.priors.values()):
            raise SpecError("a flat prior cannot be sampled", [Problem("model.priors", f"{m.name}: flat prior")])
        prior = prior_draws(b.block, draws=draws, seed=spec.sampler.seed)
        out[m.name] = ppc(b, prior, spec, prob=spec.model.hdi_prob, seed=spec.sampler.seed)
    return out
