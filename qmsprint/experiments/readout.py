"""From a fitted block to its :class:`~qmsprint.results.MetricResult`: effects, segments, checks.

The latent predictor of each cell with and without the new program comes from the block's
design arrays (:func:`qmsprint.models.terms.untreated`); natural-scale values, scales and units from the
metric registry and the model family (:mod:`qmsprint.effects`); posterior predictive replicates
from the model family (``Family.ppc``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qmsprint import effects as fx
from qmsprint.experiments.prepare import MetricBlock, clusters_per_arm
from qmsprint.models import Fit, Fitted, diagnostics, draws_of, get_family
from qmsprint.models.terms import treated_shift, untreated
from qmsprint.results import Diagnostics, MetricResult
from qmsprint.spec import Spec

PPC_DRAWS = 200


def latent(
    mb: MetricBlock, idata: Any, *, population: bool = True, take: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(base, delta) latent predictors per (draw, cell).

    With ``population`` the cells are the effect population and ``base`` is the predictor without
    the new program; otherwise they are the likelihood cells and ``base`` is the predictor under
    the observed treatment status. ``take``: only these (flattened) draws.
    """
    m = mb.metric
    d = mb.block.design

    def draws(suffix: str) -> np.ndarray:
        v = draws_of(idata, f"{m}_{suffix}")
        return v if take is None else v[take]

    if population:
        u, X, seg = mb.eff_unit, mb.eff_X, mb.eff_seg
        post = mb.eff_post if mb.eff_post is not None else np.ones(len(u))
    else:
        u, X, seg, post = d.unit, d.X, d.seg, d.post
    base = untreated(d, draws, u, X, post)
    delta = treated_shift(d, draws, seg)
    if not population:
        return base + delta * np.asarray(d.active, float)[None, :], delta
    return base, delta


def _params(mb: MetricBlock, idata: Any) -> dict[str, np.ndarray]:
    """Draws of the family's cell parameters (e.g. ordinal cutpoints)."""
    return {p: draws_of(idata, f"{mb.metric}_{p}") for p in get_family(mb.block.family).cell_parameters}


def ppc(mb: MetricBlock, idata: Any, spec: Spec, *, prob: float, seed: int = 0) -> dict[str, list[Any]]:
    """Posterior predictive check by hand: observed vs replicated level shares / rates / means by arm.

    Labels are ``<arm>`` (A/B) or ``<arm> <period>`` (DiD), followed by the level for ordinal
    metrics. Uses up to :data:`PPC_DRAWS` evenly thinned draws.
    """
    rng = np.random.default_rng(seed)
    total = int(idata.posterior.sizes["chain"] * idata.posterior.sizes["draw"])
    take = np.unique(np.linspace(0, total - 1, min(PPC_DRAWS, total)).astype(int))
    eta, _ = latent(mb, idata, population=False, take=take)  # the thinned draws only
    grp, order = mb.design.arm_groups(mb.lik, spec.arms.control, spec.arms.treatment)
    order = [o for o in order if o in set(grp)]
    params = {k: v[take] for k, v in _params(mb, idata).items()}
    groups = get_family(mb.block.family).ppc(eta, params, mb.block.obs, [grp == o for o in order], rng)
    levels = spec.metric(mb.metric).info.levels(spec)
    labels: list[str] = []
    obs_v: list[float] = []
    rep: list[np.ndarray] = []
    for o, rows in zip(order, groups, strict=True):
        for k, observed, replicated in rows:
            labels.append(o if k is None else f"{o} {levels[k]}")
            obs_v.append(observed)
            rep.append(replicated)
    a = (1 - prob) / 2
    return {
        "labels": labels,
        "observed": obs_v,
        "replicated_mean": [float(np.mean(r)) for r in rep],
        "replicated_low": [float(np.quantile(r, a)) for r in rep],
        "replicated_high": [float(np.quantile(r, 1 - a)) for r in rep],
    }


def headline_draws(mb: MetricBlock, idata: Any, spec: Spec) -> np.ndarray:
    """Draws of the headline effect (treatment - control on the headline scale), flattened."""
    info = spec.metric(mb.metric).info
    base, delta = latent(mb, idata)
    (lv,) = fx.weighted_levels_by(fx.metric_cells(info, spec, _params(mb, idata)), base, delta, mb.weights, [None])
    key = info.headline.key
    return lv["treatment"][key] - lv["control"][key]


def diagnose(mb: MetricBlock, fit_: Fit, spec: Spec) -> Diagnostics:
    """Convergence diagnostics of a fit: the parameters behind the effects and the headline effect itself."""
    return diagnostics(fit_, mb.block, headline_draws(mb, fit_.idata, spec))


def metric_result(mb: MetricBlock, fitted: Fit | Fitted, spec: Spec, cells_used: Any) -> MetricResult:
    """Effects, segments, diagnostics, PPC and descriptive numbers of one metric.

    ``fitted`` is a plain fit, or a :class:`~qmsprint.models.retry.Fitted` whose kept fit,
    diagnostics (over every attempt) and attempt notes are used.
    """
    fit_ = fitted.fit if isinstance(fitted, Fitted) else fitted
    idata = fit_.idata
    m = mb.metric
    sm = spec.metric(m)
    info = sm.info
    prob = spec.model.hdi_prob
    base, delta = latent(mb, idata)
    fn = fx.metric_cells(info, spec, _params(mb, idata))
    lv, *by_segment = fx.weighted_levels_by(
        fn, base, delta, mb.weights, [None, *(mb.eff_seg[:, j] for j in range(len(mb.seg_cols)))]
    )
    effs = fx.metric_effects(info, lv, better=sm.better, threshold=sm.threshold, hdi_prob=prob)
    head_key = info.headline.key
    head_draws = lv["treatment"][head_key] - lv["control"][head_key]
    segs = fx.segment_effects(
        info, by_segment, mb.seg_cols, mb.seg_labels, better=sm.better, threshold=sm.threshold, hdi_prob=prob
    )
    diag = fitted.diagnostics if isinstance(fitted, Fitted) else diagnostics(fit_, mb.block, head_draws)
    tau = draws_of(idata, f"{m}_effect")
    count, _ = info.cell_columns(spec)
    arms = (spec.arms.control, spec.arms.treatment)
    response, shares = fx.arm_responses(info, spec, cells_used[cells_used["period"] == "pilot"])
    n_units = {
        a: int(((mb.units["arm"] == a) & (np.bincount(mb.block.design.unit, minlength=len(mb.units)) > 0)).sum())
        for a in arms
    }
    modelled = cells_used[cells_used["period"].isin(mb.design.PERIODS)]
    n_obs = {a: int(modelled.loc[modelled["arm"] == a, count].sum()) for a in arms}
    notes = list(mb.notes)
    if isinstance(fitted, Fitted):
        notes += fitted.notes()
        if fit_.block.centred != mb.block.centred:
            notes.append("kept parametrisation: centred levels " + (", ".join(fit_.block.centred) or "none"))
    if not diag.converged:
        notes.append("the fit missed the convergence bars: " + "; ".join(diag.problems))
    return MetricResult(
        metric=m,
        design=spec.design,
        headline=effs[0],
        effects=effs,
        segments=segs,
        draws=head_draws,
        diagnostics=diag,
        response_rates=response,
        ppc=ppc(mb, idata, spec, prob=prob, seed=spec.sampler.seed),
        level_shares=shares,
        n_units=n_units,
        n_obs=n_obs,
        unit=spec.unit,
        n_clusters=clusters_per_arm(spec, mb.units[np.bincount(mb.block.design.unit, minlength=len(mb.units)) > 0]),
        notes=notes,
        latent_effect=(float(np.mean(tau)), float(np.std(tau, ddof=1))),
        idata=fit_.posterior_idata(),
    )
