"""Roll-out designs on weekly cells (waves, prepost): the steps they share.

Both :mod:`.waves` (staggered roll-out) and :mod:`.prepost` (before/after without a control group)
model weekly cells (the cells carry ``week`` for these designs) with
:class:`qmsprint.models.event_time.EventCellDesign`. They differ in which cells carry the new
program and in the time terms, which each design returns from ``time_terms(spec, cells)`` as
:class:`TimeTerms`. This module collapses one metric's cells, builds its model block, fits every
metric and reads the results: effects are counterfactual averages over the cells on the new
program (weighted by interactions, as for the other designs), overall, by the design's groupings
(wave, weeks since the switch) and by segment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from qmsprint import effects as fx
from qmsprint.errors import DataError, Problem, SpecError
from qmsprint.experiments.checks import check_families, check_prior_arg
from qmsprint.models import ModelBlock, choose_centred, diagnostics, draws_of, fit, get_family, prior_draws
from qmsprint.models.event_time import EventCellDesign
from qmsprint.progress import Progress, silent
from qmsprint.results import MetricResult
from qmsprint.spec import Spec
from qmsprint.spec_sampler import EFFECT_TARGET_ACCEPT
from qmsprint.words import counted

PPC_DRAWS = 200
WEEK = pd.Timedelta(days=7)


@dataclass
class TimeTerms:
    """What a roll-out design adds to the collapsed cells of one metric.

    Attributes
    ----------
    keep
        Cells modelled (others are left out, with a note saying why).
    active
        Per kept cell: 1 on the new program.
    arrays
        Keyword arguments of :class:`~qmsprint.models.event_time.EventCellDesign` per kept cell
        (``week``, ``unit_week``, ``pair``) and for the whole model (``n_weeks``, ...).
    groupings
        ``(name, code per kept cell (-1: none), labels)``: the effect is also reported per group.
    notes
        What the reader should know about the cells left out or the terms used.

    """

    keep: np.ndarray
    active: np.ndarray
    arrays: dict[str, Any]
    groupings: list[tuple[str, np.ndarray, list[str]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class RolloutDesign(Protocol):
    """A roll-out design: its model kind, its checks of the cells and its time terms."""

    KIND: str

    def check_cells(self, spec: Spec, cells: pd.DataFrame) -> list[Problem]:
        """Problems of the cells for this design (empty when they can be analysed)."""
        ...

    def time_terms(self, spec: Spec, cells: pd.DataFrame) -> TimeTerms:
        """Time terms of one metric's collapsed cells (columns ``week``, ``arm``, ``period`` and the units)."""
        ...


@dataclass
class RolloutBlock:
    """One metric's weekly cells, model block and what its readout needs (arrays per collapsed cell)."""

    metric: str
    block: ModelBlock
    cells: pd.DataFrame
    lik: np.ndarray
    pop: np.ndarray
    unit: np.ndarray
    X: np.ndarray
    seg: np.ndarray
    week: np.ndarray
    unit_week: np.ndarray
    pair: np.ndarray
    active: np.ndarray
    groupings: list[tuple[str, np.ndarray, list[str]]]
    seg_cols: list[str]
    seg_labels: list[list[str]]
    units: pd.DataFrame
    notes: list[str]


def week_number(weeks: pd.Series) -> np.ndarray:
    """Weeks since the first week of ``weeks`` (ISO Mondays), as integers."""
    w = pd.to_datetime(weeks.astype(str))
    return ((w - w.min()) / WEEK).round().astype(int).to_numpy()


def _factor_columns(spec: Spec, metric: str, has_teams: bool) -> list[str]:
    extra = list(spec.model.adjust_for)
    if spec.metric(metric).info.survey:
        extra += list(spec.model.reweight_by)
    extra += [s for s in spec.segments if not (s == "team" and has_teams)]
    return list(dict.fromkeys(extra))


def _codes(df: pd.DataFrame, col: str) -> tuple[np.ndarray, list[str]]:
    """Codes per row (most interactions first) and the levels."""
    freq = df.groupby(col)["n"].sum().sort_values(ascending=False, kind="stable")
    levels = [str(x) for x in freq.index]
    return df[col].astype(str).map({v: i for i, v in enumerate(levels)}).to_numpy().astype(int), levels


def check_cells(spec: Spec, cells: pd.DataFrame, design: RolloutDesign) -> None:
    """Raise :class:`DataError` with every problem of the cells for a roll-out design."""
    if not isinstance(cells, pd.DataFrame):
        raise DataError("cells must be a pandas DataFrame", [Problem("cells", f"got {type(cells).__name__}")])
    need = ["n", "agent_id", "team", "arm", "period", "week"]
    for m in spec.metrics:
        count, stats = m.info.cell_columns(spec)
        need += [count, *stats]
    need += [*spec.segments, *spec.model.adjust_for, *spec.model.reweight_by]
    problems = [
        Problem(c, f"column missing from the cells (the {spec.design} design reduces to weekly cells)")
        for c in dict.fromkeys(need)
        if c not in cells.columns
    ]
    if not problems:
        problems += design.check_cells(spec, cells)
        for m in spec.metrics:
            count, _ = m.info.cell_columns(spec)
            for arm in (spec.arms.control, spec.arms.treatment):
                if cells.loc[cells["arm"].astype(str) == arm, count].sum() <= 0:
                    problems.append(Problem(count, f"no {m.name} observations on the {arm!r} program"))
    if problems:
        raise DataError("the cells cannot be analysed", problems)


def prepare(spec: Spec, cells: pd.DataFrame, metric: str, design: RolloutDesign, prior: Any) -> RolloutBlock:
    """Collapse one metric's weekly cells and build its model block."""
    info = spec.metric(metric).info
    count, stats = info.cell_columns(spec)
    fam = get_family(info.family)
    df = cells.copy()
    teams = sorted(df["team"].astype(str).unique())
    has_teams = spec.model.team_effects and len(teams) >= 2
    factors = _factor_columns(spec, metric, has_teams)
    seg_cols = list(spec.segments)
    unit_col = {"agent": "agent_id", "team": "team", "site": "site"}[spec.unit]
    keys = list(dict.fromkeys(["agent_id", "team", unit_col, "week", "period", "arm", *factors, *seg_cols]))
    for k in keys:
        df[k] = df[k].astype(str)
    sums = list(dict.fromkeys(["n", count, *stats]))
    cd = df.groupby(keys, sort=True, observed=True)[sums].sum().reset_index()
    terms = design.time_terms(spec, cd)
    cd = cd[terms.keep].reset_index(drop=True)
    units = cd.groupby("agent_id", sort=True).agg(team=("team", lambda s: s.mode().iloc[0])).reset_index()
    unit_index = {a: i for i, a in enumerate(units["agent_id"])}
    u = cd["agent_id"].map(unit_index).to_numpy()
    blocks, x_blocks = [], []
    for c in factors:
        codes, levels = _codes(cd, c)
        x_blocks.append(len(levels) - 1)
        blocks += [(codes == j).astype(float) for j in range(1, len(levels))]
    X = np.column_stack(blocks) if blocks else np.zeros((len(cd), 0))
    seg_pairs = [_codes(cd, s) for s in seg_cols]
    seg = np.column_stack([c for c, _ in seg_pairs]) if seg_pairs else np.zeros((len(cd), 0), dtype=int)
    team_idx = units["team"].map({t: i for i, t in enumerate(teams)}).to_numpy()
    lik = cd[count].to_numpy() > 0
    active = np.asarray(terms.active, float)
    a = terms.arrays
    per_cell = {k: np.asarray(a[k])[lik] for k in ("week", "unit_week", "pair") if k in a}
    whole = {k: v for k, v in a.items() if k not in ("week", "unit_week", "pair")}
    design_arrays = EventCellDesign(
        kind=design.KIND,  # type: ignore[arg-type]
        unit=u[lik],
        post=active[lik],
        active=active[lik],
        X=X[lik],
        seg=seg[lik],
        unit_group=np.zeros(len(units)),
        unit_team=team_idx if has_teams else np.zeros(len(units), dtype=int),
        n_teams=len(teams) if has_teams else 1,
        seg_levels=tuple(len(lv) for _, lv in seg_pairs),
        x_blocks=tuple(x_blocks),
        **per_cell,
        **whole,
    )
    lc = cd[lik]
    obs = fam.observed(lc[count].to_numpy(), lc[stats].to_numpy())
    from qmsprint.models.priors import resolve_priors

    per_unit_n = np.bincount(design_arrays.unit, weights=lc[count].to_numpy(), minlength=len(units))
    centred = choose_centred(fam.name, fam.unit_information(obs, per_unit_n))
    notes = list(terms.notes)
    notes.append(
        f"agent effects {'centred' if centred else 'non-centred'} (median {np.median(per_unit_n):.0f} observations "
        "per agent)"
    )
    if prior is not None:
        notes.append(f"prior on the latent effect from an earlier run: Normal({prior[0]:.3g}, {prior[1]:.3g})")
    block = ModelBlock(
        name=metric,
        family=fam.name,
        design=design_arrays,
        obs=obs,
        priors=resolve_priors(fam.name, metric, dict(spec.model.priors)),
        centred=("unit",) if centred else (),
        effect_prior=prior,
    )
    pop = (active > 0) & (cd["n"].to_numpy() > 0)
    return RolloutBlock(
        metric=metric,
        block=block,
        cells=cd,
        lik=lik,
        pop=pop,
        unit=u,
        X=X,
        seg=seg,
        week=np.asarray(a["week"]),
        unit_week=np.asarray(a.get("unit_week", np.zeros(len(cd), dtype=int))),
        pair=np.asarray(a.get("pair", np.zeros(len(cd), dtype=int))),
        active=active,
        groupings=[(name, np.asarray(codes), labels) for name, codes, labels in terms.groupings],
        seg_cols=seg_cols,
        seg_labels=[lv for _, lv in seg_pairs],
        units=units,
        notes=notes,
    )


def latent(rb: RolloutBlock, idata: Any, mask: np.ndarray, take: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """(base, delta) latent predictors per (draw, cell) of the cells ``mask``: off and on the new program."""
    m = rb.metric
    d = rb.block.design

    def draws(name: str) -> np.ndarray:
        v = draws_of(idata, f"{m}_{name}")
        return v if take is None else v[take]

    u, w = rb.unit[mask], rb.week[mask]
    base = draws("unit")[:, u]
    if rb.X.shape[1]:
        base = base + draws("adjust") @ rb.X[mask].T
    if f"{m}_week" in idata.posterior:
        base = base + draws("week")[:, w]
    if getattr(d, "n_unit_weeks", 0):
        base = base + draws("unit_week")[:, rb.unit_week[mask]]
    if f"{m}_pair_effect" in idata.posterior:
        pairs = draws("pair_effect")
        pairs = np.concatenate([np.zeros((pairs.shape[0], 1)), pairs], axis=1)
        delta = pairs[:, rb.pair[mask]]
    else:
        delta = np.repeat(draws("effect")[:, None], int(mask.sum()), axis=1)
    for i in range(len(d.seg_levels)):
        delta = delta + draws(f"seg{i}")[:, rb.seg[mask, i]]
    return base, delta


def _params(rb: RolloutBlock, idata: Any) -> dict[str, np.ndarray]:
    return {p: draws_of(idata, f"{rb.metric}_{p}") for p in get_family(rb.block.family).cell_parameters}


def ppc(rb: RolloutBlock, idata: Any, spec: Spec, *, prob: float, seed: int = 0) -> dict[str, list[Any]]:
    """Posterior predictive check by program (observed vs replicated shares / rates / means)."""
    rng = np.random.default_rng(seed)
    total = idata.posterior.sizes["chain"] * idata.posterior.sizes["draw"]
    take = np.unique(np.linspace(0, total - 1, min(PPC_DRAWS, total)).astype(int))
    base, delta = latent(rb, idata, rb.lik, take)
    eta = base + delta * rb.active[rb.lik][None, :]
    params = {k: v[take] for k, v in _params(rb, idata).items()}
    arm = rb.cells["arm"].to_numpy()[rb.lik]
    order = [a for a in (spec.arms.control, spec.arms.treatment) if (arm == a).any()]
    groups = get_family(rb.block.family).ppc(eta, params, rb.block.obs, [arm == o for o in order], rng)
    levels = spec.metric(rb.metric).info.levels(spec)
    labels, observed, rep = [], [], []
    for o, rows in zip(order, groups, strict=True):
        for k, obs_v, r in rows:
            labels.append(o if k is None else f"{o} {levels[k]}")
            observed.append(obs_v)
            rep.append(r)
    a = (1 - prob) / 2
    return {
        "labels": labels,
        "observed": observed,
        "replicated_mean": [float(np.mean(r)) for r in rep],
        "replicated_low": [float(np.quantile(r, a)) for r in rep],
        "replicated_high": [float(np.quantile(r, 1 - a)) for r in rep],
    }


def metric_result(rb: RolloutBlock, fit_: Any, spec: Spec) -> MetricResult:
    """Effects (overall, by group, by segment), diagnostics, PPC and descriptive numbers of one metric."""
    idata = fit_.idata
    m = rb.metric
    sm = spec.metric(m)
    info = sm.info
    prob = spec.model.hdi_prob
    pop = rb.pop
    base, delta = latent(rb, idata, pop)
    weights = rb.cells["n"].to_numpy()[pop].astype(float)
    groups = [codes[pop] for _, codes, _ in rb.groupings] + [rb.seg[pop, j] for j in range(len(rb.seg_cols))]
    fn = fx.metric_cells(info, spec, _params(rb, idata))
    lv, *by = fx.weighted_levels_by(fn, base, delta, weights, [None, *groups])
    effs = fx.metric_effects(info, lv, better=sm.better, threshold=sm.threshold, hdi_prob=prob)
    head = info.headline.key
    head_draws = lv["treatment"][head] - lv["control"][head]
    k = len(rb.groupings)
    kwargs = {"better": sm.better, "threshold": sm.threshold, "hdi_prob": prob}
    event = fx.segment_effects(info, by[:k], [g[0] for g in rb.groupings], [g[2] for g in rb.groupings], **kwargs)
    segs = fx.segment_effects(info, by[k:], rb.seg_cols, rb.seg_labels, **kwargs)
    diag = diagnostics(fit_, rb.block, head_draws)
    tau = draws_of(idata, f"{m}_effect")
    count, _ = info.cell_columns(spec)
    cd = rb.cells
    arms = (spec.arms.control, spec.arms.treatment)

    response, shares = fx.arm_responses(info, spec, cd)
    notes = list(rb.notes)
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
        ppc=ppc(rb, idata, spec, prob=prob, seed=spec.sampler.seed),
        level_shares=shares,
        n_units={a: int(cd.loc[cd["arm"] == a, "agent_id"].nunique()) for a in arms},
        n_obs={a: int(cd.loc[cd["arm"] == a, count].sum()) for a in arms},
        notes=notes,
        latent_effect=(float(np.mean(tau)), float(np.std(tau, ddof=1))),
        idata=fit_.posterior_idata(),
        event_effects=event,
    )


def _prior_of(prior: dict[str, tuple[float, float]] | None, metric: str) -> tuple[float, float] | None:
    return tuple(map(float, prior[metric])) if prior and metric in prior else None  # type: ignore[return-value]


def estimate(
    spec: Spec,
    cells: pd.DataFrame,
    design: RolloutDesign,
    *,
    progress: Progress | None = None,
    prior: dict[str, tuple[float, float]] | None = None,
) -> list[MetricResult]:
    """Estimate every metric of ``spec`` under a roll-out design (one model per metric)."""
    prog = progress or silent
    check_families(spec)
    check_prior_arg(spec, prior)
    check_cells(spec, cells, design)
    prog("preparing weekly cells", 0.02)
    blocks = [prepare(spec, cells, m.name, design, _prior_of(prior, m.name)) for m in spec.metrics]
    s = spec.sampler
    n_cells = sum(b.block.design.n_cells for b in blocks)
    prog(
        f"fitting {counted(len(blocks), 'metric')} on {n_cells:,} weekly cells ({s.chains} chains x {s.draws} draws)",
        0.05,
    )

    def sub(message: str, fraction: float) -> None:
        prog(message, 0.05 + 0.75 * fraction)

    fits = fit(
        [b.block for b in blocks],
        draws=s.draws,
        tune=s.tune,
        chains=s.chains,
        seed=s.seed,
        target_accept=s.accept(EFFECT_TARGET_ACCEPT),
        backend=s.backend,
        progress=sub,
    )
    out = []
    for i, b in enumerate(blocks):
        prog(f"summarising {b.metric}", 0.8 + 0.2 * i / len(blocks))
        out.append(metric_result(b, fits[i], spec))
    prog("estimation done", 1.0)
    return out


def prior_predictive(
    spec: Spec, cells: pd.DataFrame, design: RolloutDesign, *, draws: int = 500
) -> dict[str, dict[str, Any]]:
    """What the priors alone predict for each metric by program (layout of ``MetricResult.ppc``)."""
    check_families(spec)
    check_prior_arg(spec, None)
    check_cells(spec, cells, design)
    out = {}
    for m in spec.metrics:
        b = prepare(spec, cells, m.name, design, None)
        if b.block.flat_effect or any(math.isinf(v) for v in b.block.priors.values()):
            raise SpecError("a flat prior cannot be sampled", [Problem("model.priors", f"{m.name}: flat prior")])
        out[m.name] = ppc(b, prior_draws(b.block, draws=draws, seed=spec.sampler.seed), spec, prob=spec.model.hdi_prob)
    return out
