"""Shared machinery of A/B and DiD estimation: cells -> blocks -> joint fit -> MetricResults."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from qmsprint import effects as fx
from qmsprint.errors import DataError, Problem, SpecError
from qmsprint.models import binomial, continuous, ordinal
from qmsprint.models.sampling import Block, Fit, diagnostics, draws_of, fit
from qmsprint.models.terms import Design, check_prior_overrides, choose_centred, resolve_priors
from qmsprint.progress import Progress, silent
from qmsprint.results import MetricResult
from qmsprint.spec import Spec

KEY_COLUMNS = ("agent_id", "team", "arm", "period")
SURVEY = ("csat", "nps")
PPC_DRAWS = 200


def metric_columns(spec: Spec, metric: str) -> tuple[str, list[str]]:
    """(count column, statistic columns) a metric needs in the cells."""
    if metric == "csat":
        lo, hi = spec.csat_scale
        return "csat_n", [f"csat_{k}" for k in range(lo, hi + 1)]
    if metric == "nps":
        return "nps_n", [f"nps_{k}" for k in range(11)]
    if metric == "fcr":
        return "fcr_n", ["fcr_yes"]
    if metric == "repeat_contact":
        return "repeat_n", ["repeat_yes"]
    return "ht_n", ["lht_sum", "lht_sumsq", "ht_sum"]


def _factor_columns(spec: Spec, metric: str, has_teams: bool) -> list[str]:
    cols: list[str] = []
    extra = list(spec.model.adjust_for)
    if metric in SURVEY:
        extra += list(spec.model.reweight_by)
    for s in spec.segments:
        if s == "team" and has_teams:
            continue
        extra.append(s)
    for c in extra:
        if c not in cols:
            cols.append(c)
    return cols


def validate(spec: Spec, cells: pd.DataFrame, periods: tuple[str, ...]) -> None:
    """Raise :class:`DataError` listing every problem of ``cells`` for this spec."""
    problems: list[Problem] = []
    if not isinstance(cells, pd.DataFrame):
        raise DataError("cells must be a pandas DataFrame", [Problem("cells", f"got {type(cells).__name__}")])
    need = ["n", *KEY_COLUMNS]
    for m in spec.metrics:
        count, stats = metric_columns(spec, m.name)
        need += [count, *stats]
    for s in [*spec.segments, *spec.model.adjust_for, *spec.model.reweight_by]:
        need.append(s)
    missing = [c for c in dict.fromkeys(need) if c not in cells.columns]
    for c in missing:
        problems.append(Problem(c, "column missing from the cells (see the cells contract in ARCHITECTURE.md)"))
    if "arm" in cells.columns:
        arms = set(cells["arm"].astype(str).unique())
        for role, value in (("control", spec.arms.control), ("treatment", spec.arms.treatment)):
            if value not in arms:
                problems.append(
                    Problem("arm", f"no cells for the {role} arm {value!r}", examples=tuple(sorted(arms))[:5])
                )
    if "period" in cells.columns:
        present = set(cells["period"].astype(str).unique())
        for p in periods:
            if p not in present:
                problems.append(Problem("period", f"no cells in the {p} period (the {spec.design} design needs it)"))
    numeric = [
        c
        for c in dict.fromkeys(need)
        if c in cells.columns and c not in (*KEY_COLUMNS, *spec.segments, "channel", "contact_reason", "site")
    ]
    for c in numeric:
        v = pd.to_numeric(cells[c], errors="coerce")
        bad = v.isna() | ~np.isfinite(v.astype(float))
        if not (c.startswith("lht_") or c == "ht_sum"):
            bad |= v < 0
        if bad.any():
            idx = np.flatnonzero(bad.to_numpy())
            problems.append(
                Problem(
                    c,
                    "expected finite non-negative numbers",
                    rows=tuple(int(i) + 1 for i in idx[:5]),
                    count=int(bad.sum()),
                    examples=tuple(str(x) for x in cells[c].iloc[idx[:5]]),
                )
            )
    if not missing:
        for m in spec.metrics:
            count, stats = metric_columns(spec, m.name)
            if m.name in ("csat", "nps"):
                diff = cells[stats].sum(axis=1) != cells[count]
                if diff.any():
                    idx = np.flatnonzero(diff.to_numpy())
                    problems.append(
                        Problem(
                            count,
                            f"does not equal the sum of {stats[0]}..{stats[-1]}",
                            rows=tuple(int(i) + 1 for i in idx[:5]),
                            count=int(diff.sum()),
                        )
                    )
            elif m.name in ("fcr", "repeat_contact"):
                over = cells[stats[0]] > cells[count]
                if over.any():
                    idx = np.flatnonzero(over.to_numpy())
                    problems.append(
                        Problem(
                            stats[0], f"exceeds {count}", rows=tuple(int(i) + 1 for i in idx[:5]), count=int(over.sum())
                        )
                    )
            sub = cells[cells["period"].isin(periods) & cells["arm"].isin([spec.arms.control, spec.arms.treatment])]
            for arm in (spec.arms.control, spec.arms.treatment):
                for p in periods:
                    tot = sub.loc[(sub["arm"] == arm) & (sub["period"] == p), count].sum()
                    if tot <= 0:
                        problems.append(Problem(count, f"no {m.name} observations for arm {arm!r} in the {p} period"))
    if problems:
        raise DataError("the cells cannot be analysed", problems)


@dataclass
class Prepared:
    """One metric's block and what its results need."""

    metric: str
    block: Block
    eff: pd.DataFrame  # effect-population cells (collapsed)
    eff_unit: np.ndarray
    eff_X: np.ndarray
    eff_seg: np.ndarray
    eff_group: np.ndarray
    weights: np.ndarray
    lik: pd.DataFrame  # likelihood cells (collapsed), with arm/period labels
    seg_cols: list[str]
    seg_labels: list[list[str]]
    units: pd.DataFrame
    notes: list[str]


def _dummies(df: pd.DataFrame, cols: list[str], levels: dict[str, list[str]]) -> np.ndarray:
    blocks = []
    for c in cols:
        lv = levels[c]
        v = df[c].astype(str).to_numpy()
        for level in lv[1:]:
            blocks.append((v == level).astype(float))
    return np.column_stack(blocks) if blocks else np.zeros((len(df), 0))


def prepare_metric(
    spec: Spec, df: pd.DataFrame, metric: str, mod: ModuleType, prior: tuple[float, float] | None
) -> Prepared:
    """Collapse cells for one metric and build its model block."""
    count, stats = metric_columns(spec, metric)
    family = spec.metric(metric).info.family
    notes: list[str] = []
    trt = spec.arms.treatment
    df = df.assign(_unit=df["agent_id"].astype(str) + "\x1f" + df["arm"].astype(str))
    units = (
        df.groupby("_unit", sort=True)
        .agg(arm=("arm", "first"), team=("team", lambda s: s.astype(str).mode().iloc[0]), n=("n", "sum"))
        .reset_index()
    )
    units["group"] = (units["arm"] == trt).astype(int)
    teams = sorted(units["team"].unique())
    has_teams = spec.model.team_effects and len(teams) >= 2
    unit_index = {u: i for i, u in enumerate(units["_unit"])}
    factor_cols = _factor_columns(spec, metric, has_teams)
    seg_cols = list(spec.segments)
    keys = ["_unit", "arm", "period", *dict.fromkeys([*factor_cols, *seg_cols])]
    sums = ["n", count, *stats]
    col = df[keys + [c for c in dict.fromkeys(sums)]].copy()
    for k in keys:
        col[k] = col[k].astype(str)
    cd = col.groupby(keys, sort=True, observed=True)[list(dict.fromkeys(sums))].sum().reset_index()
    levels = {}
    for c in dict.fromkeys([*factor_cols, *seg_cols]):
        freq = cd.groupby(c)["n"].sum().sort_values(ascending=False, kind="stable")
        levels[c] = list(freq.index)
    group_of = units.set_index("_unit")["group"]
    cd_group = cd["_unit"].map(group_of).to_numpy().astype(float)
    post, active = mod.flags(cd, cd_group)
    unit_idx = cd["_unit"].map(unit_index).to_numpy()
    X = _dummies(cd, factor_cols, levels)
    seg_levels = tuple(len(levels[s]) for s in seg_cols)
    seg = (
        np.column_stack([cd[s].map({v: i for i, v in enumerate(levels[s])}).to_numpy() for s in seg_cols])
        if seg_cols
        else np.zeros((len(cd), 0), dtype=int)
    )
    team_idx = units["team"].map({t: i for i, t in enumerate(teams)}).to_numpy()
    lik_mask = cd[count].to_numpy() > 0
    lik = cd[lik_mask].reset_index(drop=True)
    design = Design(
        kind=mod.KIND,
        unit=unit_idx[lik_mask],
        post=post[lik_mask],
        active=active[lik_mask],
        X=X[lik_mask],
        seg=seg[lik_mask],
        unit_group=units["group"].to_numpy(),
        unit_team=team_idx if has_teams else np.zeros(len(units), dtype=int),
        n_teams=len(teams) if has_teams else 1,
        seg_levels=seg_levels,
        x_blocks=tuple(len(levels[c]) - 1 for c in factor_cols),
    )
    # observed statistics and information per unit (for the parametrisation)
    per_unit_n = np.bincount(design.unit, weights=lik[count].to_numpy(), minlength=len(units))
    if family == "ordinal":
        counts = lik[stats].to_numpy().astype("int64")
        obs = {"counts": counts}
        info = per_unit_n * ordinal.information(counts)
    elif family == "binomial":
        obs = {"y": lik[stats[0]].to_numpy(), "n": lik[count].to_numpy()}
        info = binomial.information(obs["y"], per_unit_n)
    else:
        obs = {"n": lik[count].to_numpy(), "s1": lik["lht_sum"].to_numpy(), "s2": lik["lht_sumsq"].to_numpy()}
        info = continuous.information(per_unit_n, continuous.pooled_var(obs))
    fam_name = "continuous" if family == "continuous" else family
    pri = resolve_priors(fam_name, metric, dict(spec.model.priors))
    centred = choose_centred(fam_name, info)
    notes.append(
        f"agent effects {'centred on their arm mean' if centred else 'non-centred'} "
        f"(median {np.median(per_unit_n):.0f} observations per agent)"
    )
    if not has_teams and spec.model.team_effects:
        notes.append("no team effects: the data have fewer than two teams")
    if prior is not None:
        notes.append(f"prior on the latent effect from an earlier run: Normal({prior[0]:.3g}, {prior[1]:.3g})")
    block = Block(name=metric, family=fam_name, design=design, obs=obs, priors=pri, centred=centred, effect_prior=prior)
    pop = mod.population(cd, cd_group)
    eff = cd[pop].reset_index(drop=True)
    # every effect is averaged over the population's interactions (weights n), as the estimand
    # "expected difference between programs over pilot-period interactions" asks; for survey
    # metrics reweight_by adds the channel / reason terms to the model so that the respondents'
    # mix is post-stratified to all customers' mix.
    weights = eff["n"].to_numpy().astype(float)
    if metric in SURVEY and spec.model.reweight_by:
        notes.append(
            f"{metric} post-stratified to all customers by {', '.join(spec.model.reweight_by)} "
            "(cells weighted by interactions, not responses)"
        )
    return Prepared(
        metric=metric,
        block=block,
        eff=eff,
        eff_unit=unit_idx[pop],
        eff_X=X[pop],
        eff_seg=seg[pop],
        eff_group=cd_group[pop],
        weights=weights,
        lik=lik,
        seg_cols=seg_cols,
        seg_labels=[levels[s] for s in seg_cols],
        units=units,
        notes=notes,
    )


def _latent(pr: Prepared, idata: Any, *, population: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(base, delta) latent predictors per (draw, cell) of the effect population (or likelihood cells)."""
    m = pr.metric
    d = pr.block.design
    b = draws_of(idata, f"{m}_unit")
    tau = draws_of(idata, f"{m}_effect")
    if population:
        u, X, seg, g = pr.eff_unit, pr.eff_X, pr.eff_seg, pr.eff_group
        post = np.ones(len(u))
        active = np.zeros(len(u))
    else:
        u, X, seg, post, active = d.unit, d.X, d.seg, d.post, d.active
        g = d.unit_group[u].astype(float)
    base = b[:, u]
    if X.shape[1]:
        base = base + draws_of(idata, f"{m}_adjust") @ X.T
    if d.kind == "did":
        base = base + draws_of(idata, f"{m}_period")[:, None] * post[None, :]
    else:
        base = base - tau[:, None] * g[None, :]
    delta = np.repeat(tau[:, None], len(u), axis=1)
    for i in range(len(d.seg_levels)):
        delta = delta + draws_of(idata, f"{m}_seg{i}")[:, seg[:, i]]
    if not population:
        # observed treatment status: A/B treated units and DiD treated x pilot cells
        on = g if d.kind == "ab" else active
        return base + delta * on[None, :], delta
    return base, delta


def _cell_fn(pr: Prepared, idata: Any, spec: Spec) -> fx.CellFn:
    m, fam = pr.metric, pr.block.family
    if fam == "ordinal":
        levels = np.arange(spec.csat_scale[0], spec.csat_scale[1] + 1) if m == "csat" else np.arange(11)
        return fx.ordinal_cells(draws_of(idata, f"{m}_cut"), levels, "csat" if m == "csat" else "nps")
    if fam == "binomial":
        return fx.binomial_cells()
    return fx.lognormal_cells(draws_of(idata, f"{m}_sigma"))


def _arm_labels(pr: Prepared, spec: Spec, cells: pd.DataFrame) -> list[str]:
    if pr.block.design.kind == "did":
        return [f"{a} {p}" for a in (spec.arms.control, spec.arms.treatment) for p in ("baseline", "pilot")]
    return [spec.arms.control, spec.arms.treatment]


def ppc(pr: Prepared, idata: Any, spec: Spec, *, prob: float, seed: int = 0) -> dict[str, list[Any]]:
    """Posterior predictive check by hand: observed vs replicated level shares / rates by arm.

    Labels are ``<arm>`` (A/B) or ``<arm> <period>`` (DiD), followed by the level for ordinal metrics.
    Uses up to :data:`PPC_DRAWS` evenly thinned draws.
    """
    rng = np.random.default_rng(seed)
    m, fam = pr.metric, pr.block.family
    lik = pr.lik
    eta_all, _ = _latent(pr, idata, population=False)
    total = eta_all.shape[0]
    take = np.unique(np.linspace(0, total - 1, min(PPC_DRAWS, total)).astype(int))
    eta = eta_all[take]
    if pr.block.design.kind == "did":
        grp = (lik["arm"] + " " + lik["period"]).to_numpy()
        order = [f"{a} {p}" for a in (spec.arms.control, spec.arms.treatment) for p in ("baseline", "pilot")]
    else:
        grp = lik["arm"].to_numpy()
        order = [spec.arms.control, spec.arms.treatment]
    order = [o for o in order if o in set(grp)]
    labels: list[str] = []
    obs_v: list[float] = []
    rep: list[np.ndarray] = []
    if fam == "ordinal":
        counts = pr.block.obs["counts"]
        cut = draws_of(idata, f"{m}_cut")[take]
        probs = np.clip(ordinal.level_probs(eta, cut), 0.0, 1.0)
        probs = probs / probs.sum(-1, keepdims=True)
        n = counts.sum(axis=1)
        reps = rng.multinomial(np.broadcast_to(n, probs.shape[:2]), probs)
        levels = list(range(spec.csat_scale[0], spec.csat_scale[1] + 1)) if m == "csat" else list(range(11))
        for o in order:
            mask = grp == o
            oc = counts[mask].sum(0)
            rc = reps[:, mask].sum(1)
            for k, lv in enumerate(levels):
                labels.append(f"{o} {lv}")
                obs_v.append(float(oc[k] / oc.sum()))
                rep.append(rc[:, k] / rc.sum(1))
    elif fam == "binomial":
        y, n = pr.block.obs["y"], pr.block.obs["n"]
        reps = rng.binomial(np.broadcast_to(n, eta.shape), binomial.rate(eta))
        for o in order:
            mask = grp == o
            labels.append(o)
            obs_v.append(float(100 * y[mask].sum() / n[mask].sum()))
            rep.append(100 * reps[:, mask].sum(1) / n[mask].sum())
    else:
        n = pr.block.obs["n"].astype(float)
        sig = draws_of(idata, f"{m}_sigma")[take][:, None]
        tot = continuous.replicate_mean(eta, sig, n[None, :], rng)
        ht = lik["ht_sum"].to_numpy()
        for o in order:
            mask = grp == o
            labels.append(o)
            obs_v.append(float(ht[mask].sum() / n[mask].sum()))
            rep.append(tot[:, mask].sum(1) / n[mask].sum())
    a = (1 - prob) / 2
    return {
        "labels": labels,
        "observed": obs_v,
        "replicated_mean": [float(np.mean(r)) for r in rep],
        "replicated_low": [float(np.quantile(r, a)) for r in rep],
        "replicated_high": [float(np.quantile(r, 1 - a)) for r in rep],
    }


def _metric_idata(fit_: Fit, metric: str) -> Any:
    import arviz as az

    post = fit_.idata.posterior
    names = [v for v in post.data_vars if str(v).startswith(metric + "_")]
    return az.InferenceData(posterior=post[names], sample_stats=fit_.idata.sample_stats)


def result(pr: Prepared, fit_: Fit, spec: Spec, cells_used: pd.DataFrame) -> MetricResult:
    """Effects, segments, diagnostics, PPC and descriptive numbers of one metric."""
    idata = fit_.idata
    m = pr.metric
    sm = spec.metric(m)
    prob = spec.model.hdi_prob
    base, delta = _latent(pr, idata)
    fn = _cell_fn(pr, idata, spec)
    lv, *by_segment = fx.weighted_levels_by(
        fn, base, delta, pr.weights, [None, *(pr.eff_seg[:, j] for j in range(len(pr.seg_cols)))]
    )
    effs = []
    for i, (scale, key, rel) in enumerate(fx.scales_of(m)):
        effs.append(
            fx.summarize(
                m,
                scale,
                lv["control"][key],
                lv["treatment"][key],
                better=fx.scale_direction(m, scale, sm.better),
                threshold=sm.threshold if i == 0 else None,
                hdi_prob=prob,
                relative=rel,
            )
        )
    head_key = fx.scales_of(m)[0][1]
    head_draws = lv["treatment"][head_key] - lv["control"][head_key]
    segs = []
    for j, (col, glv) in enumerate(zip(pr.seg_cols, by_segment, strict=True)):
        for code in sorted({k[1] for k in glv["control"] if k[0] == head_key}):
            segs.append(
                fx.summarize(
                    m,
                    fx.HEADLINE[m],
                    glv["control"][(head_key, code)],
                    glv["treatment"][(head_key, code)],
                    better=sm.better,
                    threshold=sm.threshold,
                    hdi_prob=prob,
                    segment=col,
                    segment_value=str(pr.seg_labels[j][code]),
                )
            )
    chains, n_draws = idata.posterior.sizes["chain"], idata.posterior.sizes["draw"]
    diag = diagnostics(fit_, pr.block.parameters(), {f"{m}_headline_effect": head_draws.reshape(chains, n_draws)})
    tau = draws_of(idata, f"{m}_effect")
    count, stats = metric_columns(spec, m)
    pilot = cells_used[cells_used["period"] == "pilot"]
    arms = (spec.arms.control, spec.arms.treatment)
    response, shares = {}, {}
    if m in SURVEY:
        for a in arms:
            sub = pilot[pilot["arm"] == a]
            response[a] = float(sub[count].sum() / sub["n"].sum()) if sub["n"].sum() > 0 else float("nan")
            tot = sub[stats].sum()
            shares[a] = {c.split("_", 1)[1]: float(tot[c] / max(tot.sum(), 1)) for c in stats}
    n_units = {
        a: int(((pr.units["arm"] == a) & (np.bincount(pr.block.design.unit, minlength=len(pr.units)) > 0)).sum())
        for a in arms
    }
    n_obs = {a: int(cells_used.loc[cells_used["arm"] == a, count].sum()) for a in arms}
    notes = list(pr.notes)
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
        ppc=ppc(pr, idata, spec, prob=prob, seed=spec.sampler.seed),
        level_shares=shares,
        n_units=n_units,
        n_obs=n_obs,
        notes=notes,
        latent_effect=(float(np.mean(tau)), float(np.std(tau, ddof=1))),
        idata=_metric_idata(fit_, m),
    )


def check_prior_arg(spec: Spec, prior: dict[str, tuple[float, float]] | None) -> None:
    """Raise :class:`SpecError` for bad ``prior`` entries or ``spec.model.priors`` keys."""
    problems = [
        Problem("model.priors", msg)
        for msg in check_prior_overrides(dict(spec.model.priors), [m.name for m in spec.metrics])
    ]
    for name, val in (prior or {}).items():
        where = f"prior[{name!r}]"
        if name not in [m.name for m in spec.metrics]:
            problems.append(Problem(where, "not a metric of this experiment"))
            continue
        try:
            mu, sd = (float(v) for v in val)
        except (TypeError, ValueError):
            problems.append(Problem(where, f"expected (mean, sd), got {val!r}"))
            continue
        if not (math.isfinite(mu) and math.isfinite(sd) and sd > 0):
            problems.append(Problem(where, f"expected a finite mean and sd > 0, got ({mu}, {sd})"))
    if problems:
        raise SpecError("invalid priors", problems)


def run(
    spec: Spec,
    cells: pd.DataFrame,
    mod: ModuleType,
    *,
    progress: Progress | None = None,
    prior: dict[str, tuple[float, float]] | None = None,
) -> list[MetricResult]:
    """Estimate every metric of ``spec`` with the design module ``mod`` (ab or did)."""
    prog = progress or silent
    check_prior_arg(spec, prior)
    validate(spec, cells, mod.PERIODS)
    prog("preparing cells", 0.02)
    arms = [spec.arms.control, spec.arms.treatment]
    used = cells[cells["arm"].astype(str).isin(arms) & cells["period"].astype(str).isin(mod.PERIODS)].copy()
    used["arm"] = used["arm"].astype(str)
    used["period"] = used["period"].astype(str)
    preps = [
        prepare_metric(spec, used, m.name, mod, tuple(map(float, prior[m.name])) if prior and m.name in prior else None)
        for m in spec.metrics
    ]
    s = spec.sampler
    n_cells = sum(p.block.design.n_cells for p in preps)
    prog(f"fitting {len(preps)} metric(s) on {n_cells:,} cells ({s.chains} chains x {s.draws} draws)", 0.05)

    def sub(message: str, fraction: float) -> None:
        prog(message, 0.05 + 0.75 * fraction)

    fits = fit(
        [p.block for p in preps],
        draws=s.draws,
        tune=s.tune,
        chains=s.chains,
        seed=s.seed,
        target_accept=s.target_accept,
        backend=s.backend,
        progress=sub,
    )
    out = []
    for i, p in enumerate(preps):
        prog(f"summarising {p.metric}", 0.8 + 0.2 * i / len(preps))
        out.append(result(p, fits[i], spec, used))
    prog("estimation done", 1.0)
    return out


def prior_predictive(
    spec: Spec, cells: pd.DataFrame, mod: ModuleType, *, draws: int = 500
) -> dict[str, dict[str, list[Any]]]:
    """Prior predictive check: what the priors alone predict for each metric's shares / rates by arm.

    Same layout as :attr:`MetricResult.ppc` (``observed`` is the data, ``replicated_*`` come from
    parameters drawn from the priors), so a reader can see that the priors allow every plausible
    outcome without piling up on extremes. Flat priors cannot be sampled and raise ``SpecError``.
    """
    import pymc as pm

    from qmsprint.models.sampling import _rename, build_model

    check_prior_arg(spec, None)
    validate(spec, cells, mod.PERIODS)
    arms = [spec.arms.control, spec.arms.treatment]
    used = cells[cells["arm"].astype(str).isin(arms) & cells["period"].astype(str).isin(mod.PERIODS)].copy()
    used["arm"] = used["arm"].astype(str)
    used["period"] = used["period"].astype(str)
    out = {}
    for m in spec.metrics:
        pr = prepare_metric(spec, used, m.name, mod, None)
        if pr.block.flat_effect or any(math.isinf(v) for v in pr.block.priors.values()):
            raise SpecError("a flat prior cannot be sampled", [Problem("model.priors", f"{m.name}: flat prior")])
        model = build_model([pr.block])
        with model, warnings.catch_warnings():
            # only parameters are drawn (the likelihood terms are replicated by hand in ppc)
            warnings.simplefilter("ignore", UserWarning)
            names = [v.name for v in model.free_RVs] + [v.name for v in model.deterministics]
            prior = pm.sample_prior_predictive(draws=draws, var_names=names, random_seed=spec.sampler.seed)
        prior.posterior = prior.prior
        _rename(prior, pr.block.prefix, m.name)
        out[m.name] = ppc(pr, prior, spec, prob=spec.model.hdi_prob, seed=spec.sampler.seed)
    return out
