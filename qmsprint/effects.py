"""Posterior draws -> :class:`~qmsprint.results.Effect` on the scales people read.

Effects are counterfactual averages, computed per posterior draw: every cell of the population
(A/B: all pilot-period cells; DiD: the treated units' pilot-period cells) is evaluated under the
new program and under the old one, the natural-scale metric of each cell is averaged with the
cell's weight (interactions, or survey responses), and the effect is the difference of the two
averages. Nothing is read off a single coefficient.

The scales, their units, level keys and directions come from the metric registry
(``MetricDef.scales``, headline first); the natural-scale value of a cell comes from the metric's
model family (``Family.cell_values``: an ordinal scale is ``a + sum_j w_j P(Y <= j)`` from
``MetricDef.cumulative_form``, a binomial ``rate`` is ``100 expit(eta)``, a continuous ``mean``
is ``exp(eta + sigma^2 / 2)``). Nothing here tests a metric's name.

For a ``relative`` effect, ``control`` and ``treatment`` are the levels of the underlying scale
(rate in % or seconds) and the effect is ``100 (treatment / control - 1)`` per draw.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from qmsprint import metrics
from qmsprint.models import Family, get_family
from qmsprint.models.base import CumulativeForm
from qmsprint.results import Effect
from qmsprint.stats import hdi

if TYPE_CHECKING:  # pragma: no cover
    from qmsprint.metrics import MetricDef
    from qmsprint.spec import Spec

CHUNK = 256  # posterior draws per chunk when evaluating cells (bounds memory)


def unit_of(metric: str, scale: str) -> str:
    """Unit of a metric's scale from the registry (empty for an unknown metric or scale)."""
    try:
        return metrics.get(metric).scale(scale).unit
    except KeyError:
        return ""


def summarize(
    metric: str,
    scale: str,
    control: np.ndarray,
    treatment: np.ndarray,
    *,
    better: str | None,
    threshold: float | None,
    hdi_prob: float,
    unit: str | None = None,
    relative: bool = False,
    segment: str | None = None,
    segment_value: str | None = None,
) -> Effect:
    """Summarise per-draw levels under each arm into an :class:`Effect`.

    Parameters
    ----------
    metric, scale
        Names (a registered metric and one of its scales).
    control, treatment
        Per-draw levels of the metric under each program, on the scale's unit.
    better
        ``higher`` / ``lower``: direction of improvement; ``None`` when the scale has none
        (then ``prob_improve`` and ``expected_loss`` are ``nan``).
    threshold
        Smallest improvement worth acting on, in the scale's unit; ``None`` -> ``prob_meaningful`` is nan.
    hdi_prob
        HDI probability.
    unit
        Display unit; default the scale's unit in the metric registry.
    relative
        Effect is ``100 (treatment / control - 1)`` instead of ``treatment - control``.
    segment, segment_value
        Segment column and value, for per-segment effects.

    """
    c = np.asarray(control, float)
    t = np.asarray(treatment, float)
    diff = 100.0 * (t / c - 1.0) if relative else t - c
    lo, hi = hdi(diff, hdi_prob)
    if better is None:
        p_imp = loss = float("nan")
        p_mean = float("nan")
    else:
        improvement = diff if better == "higher" else -diff
        p_imp = float(np.mean(improvement > 0))
        loss = float(np.mean(np.maximum(0.0, -improvement)))
        p_mean = float("nan") if threshold is None else float(np.mean(improvement >= threshold))
    return Effect(
        metric=metric,
        scale=scale,
        unit=unit or unit_of(metric, scale),
        mean=float(np.mean(diff)),
        hdi_low=lo,
        hdi_high=hi,
        hdi_prob=float(hdi_prob),
        prob_improve=p_imp,
        prob_meaningful=p_mean,
        expected_loss=loss,
        control=float(np.mean(c)),
        treatment=float(np.mean(t)),
        segment=segment,
        segment_value=segment_value,
    )


# --------------------------------------------------------------------------------------------
# Natural-scale levels of cells, averaged with weights, per draw
# --------------------------------------------------------------------------------------------

CellFn = Callable[[np.ndarray, slice], dict[str, np.ndarray]]


def weighted_levels(
    fn: CellFn, base: np.ndarray, delta: np.ndarray, weights: np.ndarray, groups: np.ndarray | None = None
) -> dict[str, dict[str, np.ndarray]]:
    """Counterfactual levels per draw.

    Parameters
    ----------
    fn
        ``fn(eta, draw_slice) -> {scale: value per (draw, cell)}``: natural-scale value of each cell.
    base
        Latent predictor of each cell without the new program, shape (draws, cells).
    delta
        Latent treatment effect of each cell, shape (draws, cells).
    weights
        Weight of each cell (interactions or responses).
    groups
        Optional group code per cell (e.g. a segment): then levels are per group, keyed
        ``(scale, group)``; else keyed ``scale``.

    Returns
    -------
    dict
        ``{"control": {key: draws}, "treatment": {key: draws}}``.

    """
    return weighted_levels_by(fn, base, delta, weights, [groups])[0]


def weighted_levels_by(
    fn: CellFn, base: np.ndarray, delta: np.ndarray, weights: np.ndarray, groupings: list[np.ndarray | None]
) -> list[dict[str, dict[str, np.ndarray]]]:
    """:func:`weighted_levels` for several groupings at once, evaluating the cells only once.

    ``groupings`` holds, per grouping, a group code per cell or ``None`` (all cells together).
    Returns one result per grouping, in order.
    """
    w = np.asarray(weights, float)
    n_draws = base.shape[0]
    cols: list[tuple[int, Any]] = []  # (grouping, group or None) of each weight column
    vecs = []
    for i, groups in enumerate(groupings):
        if groups is None:
            cols.append((i, None))
            vecs.append(w / w.sum())
            continue
        for g in np.unique(groups):
            wg = np.where(groups == g, w, 0.0)
            if wg.sum() > 0:
                cols.append((i, g))
                vecs.append(wg / wg.sum())
    wmat = np.column_stack(vecs) if vecs else np.zeros((len(w), 0))
    parts: dict[str, dict[str, list[np.ndarray]]] = {"control": {}, "treatment": {}}
    for start in range(0, n_draws, CHUNK):
        sl = slice(start, min(n_draws, start + CHUNK))
        for arm, eta in (("control", base[sl]), ("treatment", base[sl] + delta[sl])):
            for scale, v in fn(eta, sl).items():
                parts[arm].setdefault(scale, []).append(v @ wmat)
    out: list[dict[str, dict[str, np.ndarray]]] = [{"control": {}, "treatment": {}} for _ in groupings]
    for arm, by_scale in parts.items():
        for scale, chunks in by_scale.items():
            full = np.concatenate(chunks)
            for j, (i, g) in enumerate(cols):
                out[i][arm][scale if g is None else (scale, g)] = full[:, j]
    return out


def family_cells(
    family: str | Family,
    params: Mapping[str, np.ndarray] | None = None,
    keys: tuple[str, ...] = (),
    form: Callable[[str], CumulativeForm] | None = None,
) -> CellFn:
    """Cell function of a model family: its natural-scale values per key (see :func:`weighted_levels`).

    Parameters
    ----------
    family
        Model family or its registered name.
    params
        Draws of the family's ``cell_parameters`` (first axis: draws), e.g. ``{"cut": ...}``.
    keys
        Level keys wanted (ordinal families evaluate any key with a cumulative form).
    form
        ``form(key)`` -> ``(a, {j: w_j})`` (ordinal families).

    """
    fam = get_family(family) if isinstance(family, str) else family
    params = dict(params or {})

    def no_form(key: str) -> CumulativeForm:
        raise KeyError(f"no cumulative form for {key!r}")

    def fn(eta: np.ndarray, sl: slice) -> dict[str, np.ndarray]:
        return fam.cell_values(eta, {k: v[sl] for k, v in params.items()}, keys, form or no_form)

    return fn


def metric_cells(info: MetricDef, spec: Spec, params: Mapping[str, np.ndarray]) -> CellFn:
    """Cell function of a metric: the level key of each of its scales, from its family.

    Raises
    ------
    ValueError
        When the metric's scales ask for a level key its family does not evaluate.

    """
    fam = get_family(info.family)
    keys = tuple(dict.fromkeys(s.key for s in info.scales))
    unknown = [k for k in keys if fam.keys and k not in fam.keys]
    if unknown:
        raise ValueError(
            f"metric {info.name!r}: scales use level key(s) {', '.join(unknown)}, but the {fam.name} family "
            f"evaluates {', '.join(fam.keys)}"
        )
    return family_cells(fam, params, keys, lambda key: info.cumulative_form(key, spec))


def metric_effects(
    info: MetricDef,
    levels: dict[str, dict[Any, np.ndarray]],
    *,
    better: str,
    threshold: float,
    hdi_prob: float,
) -> list[Effect]:
    """One :class:`Effect` per scale of the metric (headline first; the threshold applies to it only).

    ``levels`` is one result of :func:`weighted_levels_by` without groups.
    """
    return [
        summarize(
            info.name,
            s.name,
            levels["control"][s.key],
            levels["treatment"][s.key],
            better=info.scale_direction(s.name, better),
            threshold=threshold if i == 0 else None,
            hdi_prob=hdi_prob,
            unit=s.unit,
            relative=s.relative,
        )
        for i, s in enumerate(info.scales)
    ]


def segment_effects(
    info: MetricDef,
    by_segment: Sequence[dict[str, dict[Any, np.ndarray]]],
    columns: Sequence[str],
    labels: Sequence[Sequence[str]],
    *,
    better: str,
    threshold: float,
    hdi_prob: float,
) -> list[Effect]:
    """Headline effect per segment value, from :func:`weighted_levels_by` grouped by segment codes."""
    head = info.headline
    out = []
    for j, (col, glv) in enumerate(zip(columns, by_segment, strict=True)):
        for code in sorted({k[1] for k in glv["control"] if k[0] == head.key}):
            out.append(
                summarize(
                    info.name,
                    head.name,
                    glv["control"][(head.key, code)],
                    glv["treatment"][(head.key, code)],
                    better=info.scale_direction(head.name, better),
                    threshold=threshold,
                    hdi_prob=hdi_prob,
                    unit=head.unit,
                    relative=head.relative,
                    segment=col,
                    segment_value=str(labels[j][code]),
                )
            )
    return out


def arm_responses(info: MetricDef, spec: Spec, cells: Any) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Per arm, from ``cells``: the survey response rate and, for an ordinal metric, each level's share.

    Both are empty for a metric that is not a survey answer. ``cells`` has an ``arm`` column, ``n``
    and the metric's cell columns (:meth:`~qmsprint.metrics.MetricDef.cell_columns`).
    """
    count, stats = info.cell_columns(spec)
    response: dict[str, float] = {}
    shares: dict[str, dict[str, float]] = {}
    if not info.survey:
        return response, shares
    for a in (spec.arms.control, spec.arms.treatment):
        sub = cells[cells["arm"] == a]
        response[a] = float(sub[count].sum() / sub["n"].sum()) if sub["n"].sum() > 0 else float("nan")
        if info.family == "ordinal":
            tot = sub[stats].sum()
            levels = zip(info.levels(spec), stats, strict=True)
            shares[a] = {str(lv): float(tot[c] / max(tot.sum(), 1)) for lv, c in levels}
    return response, shares
