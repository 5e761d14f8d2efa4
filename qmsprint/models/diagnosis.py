"""The diagnosis model: an outcome on fixed effects and agent random effects, fitted part by part.

Each part of the checklist diagnosis (the R-squared of one score, the item effects, the root
causes; per outcome) is a :class:`DiagnosisPart`: cells with trials and counts, a design matrix of
fixed effects and each cell's agent. :func:`part_model` is its PyMC model, :func:`fit_parts` fits
the parts in turn through the public sampling functions of :mod:`.sampling`. Like every model,
this one sees only arrays.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np

from qmsprint.models import binomial, ordinal, sampling
from qmsprint.models.families import get_family
from qmsprint.models.priors import centred_from_moments
from qmsprint.models.retry import MARGINAL_RHAT, is_funnel, is_marginal
from qmsprint.results import ESS_MIN, Diagnostics

__all__ = [
    "PARAMETERS",
    "DiagnosisPart",
    "Factor",
    "GaussianStats",
    "agent_moments",
    "centred_agents",
    "fit_parts",
    "gaussian_loglik",
    "gaussian_stats",
    "linear_predictor",
    "longer_draws",
    "part_model",
]

# A part draws at most SMALL_PART_DRAWS per chain, or LARGE_PART_DRAWS when it has more than
# LARGE_PART_CELLS cells. The small parts (scores, root causes) reach bulk and tail ESS >= 0.2 per
# draw on the bundled data, so 4 x 500 draws leave ESS near 400 or more; the large (item) parts
# reach ESS >= 0.16 per draw at 4 x 800, but at 4 x 400 the item effects themselves miss R-hat 1.01
# in most samplings (1.010-1.013 with bulk ESS above 2,000: the tail R-hat of 24 coefficients) and
# would be sampled again at 800, which costs more than starting at 800. A part that misses the bars is
# fitted again (see :func:`fit_parts`).
SMALL_PART_DRAWS = 500
LARGE_PART_CELLS = 5_000
LARGE_PART_DRAWS = 800

# A large part's first sampling targets LARGE_PART_ACCEPT (unless the spec sets a target accept):
# the item parts of the bundled data take 15 leapfrog steps a draw at 0.9, 9-11 at 0.8 and 7 at 0.7,
# with the same tail ESS (1,700-1,900 at 4 x 800) and no divergences. The small parts stay at the
# diagnosis's default (qmsprint.spec_sampler.DIAGNOSIS_TARGET_ACCEPT, 0.8): at 0.7, 5 of the 13
# missed the bars by a little and were sampled again (one R-hat 1.013), and they cost little.
# Samplings after a miss use that default too.
LARGE_PART_ACCEPT = 0.7

# A part's first sampling caps its trees at 2**FIRST_MAXDEPTH leapfrog steps. After warm-up the parts
# take 7-15 steps per draw (depth 3-4, by target accept), but their first warm-up iterations, with the
# step size and mass matrix not yet adapted, took up to 1,023: on the bundled data (at accept 0.9) the
# cap cut the item parts' warm-up from 30-42k to 24-27k leapfrog steps (of about 85k) with the same
# draws and diagnostics.
# Samplings after a miss keep nutpie's default depth (10), in case a part does need deeper trees.
FIRST_MAXDEPTH = 6

# A part still short of ESS after both parametrizations, its sampler otherwise healthy (no divergences,
# E-BFMI fine, R-hat <= MARGINAL_RHAT), mixes slowly: it is sampled again for the draws its ESS rate
# needs (LONGER_MARGIN x the bar), between 2 and LONGER_MAX_FACTOR times its draws. On the bundled A/B
# data at seed 7, fcr/qa_score (the agents' sd near zero) had tail ESS 91 at 4 x 500 non-centred and too
# low an E-BFMI centred; neither parametrization was a little short, and nothing else was tried.
LONGER_MARGIN = 1.25
LONGER_MAX_FACTOR = 6

# Agent effects are centred when the low estimate of their variance is at least this many times one
# agent's sampling variance (:func:`centred_agents`). The parts have no treatment effect to form a
# ridge with, so centring pays earlier than in the effect models (:data:`.priors.LEVEL_CENTRED_RATIO`):
# on the bundled data the CSAT and NPS parts (variance ratio 1.4-1.6) reach bulk ESS 2,600-4,200
# centred against 1,500-1,900 non-centred, while the FCR parts (ratio 0.3) fail centred (E-BFMI
# 0.07-0.18) and converge non-centred.
CENTRED_RATIO = 1.0

# parameters whose convergence is checked (those a part has); a part's ``spread`` ones (the agents'
# sd of an item part) with the looser bars of variance components, like the effect models' level sds
PARAMETERS = ["beta", "sd_agent", "intercept", "cut", "sigma"]


@dataclass(frozen=True)
class Factor:
    """Columns of a part's design that are a small table looked up per cell: ``X[:, cols] = table[codes]``.

    Where several factors cover a column, the column is the sum of their lookups (an item's pass
    minus the agent's pass rate: a lookup by item pattern plus one by agent). The model then
    evaluates ``table @ beta[cols]`` once per level and gathers it per cell, instead of a
    cells x columns product (:func:`linear_predictor`).
    """

    cols: tuple[int, ...]
    codes: np.ndarray
    table: np.ndarray


@dataclass
class DiagnosisPart:
    """The arrays of one diagnosis model.

    Attributes
    ----------
    key
        Label of the part (``<outcome>/<part>``), used in progress messages.
    family
        ``ordinal`` (``y`` holds level counts, cells x levels), ``binomial`` (``y`` successes) or
        ``gaussian`` (``y`` holds each cell's sum and sum of squares of a standardized value, cells x 2).
    coefs
        Names of the fixed effects (columns of ``X``).
    X
        Fixed-effect design, cells x coefs.
    agent_idx
        Each cell's agent (any integer codes; the model uses the agents that occur).
    n
        Trials per cell.
    y
        Level counts (ordinal) or successes (binomial) per cell.
    between_slope
        ``X`` starts with ``[within, between]`` of a score: the agent effects are centred on the
        between slope times the agent's mean score (``X[:, 1]``), instead of on zero; further
        columns (e.g. the program) enter as ordinary fixed effects.
    spread
        Parameters checked with the looser bars of variance components (:data:`qmsprint.results.
        SPREAD_RHAT_MAX`), because no reported number is read from them: the agents' sd in an item
        part, whose reading uses the item effects only.
    factors
        Columns of ``X`` given as lookups of small tables (:class:`Factor`), for a cheaper linear
        predictor; they must add up to those columns of ``X`` exactly (checked).

    """

    key: str
    family: str
    coefs: list[str]
    X: np.ndarray
    agent_idx: np.ndarray
    n: np.ndarray
    y: np.ndarray
    between_slope: bool = False
    spread: tuple[str, ...] = ()
    factors: tuple[Factor, ...] = ()

    def __post_init__(self) -> None:
        if not self.factors:
            return
        if self.between_slope:
            raise ValueError(f"{self.key}: a part with a between slope takes no factors")
        covered = sorted({c for f in self.factors for c in f.cols})
        rebuilt = np.zeros((len(self.X), len(covered)))
        where = {c: j for j, c in enumerate(covered)}
        for f in self.factors:
            rebuilt[:, [where[c] for c in f.cols]] += f.table[f.codes]
        if not np.allclose(rebuilt, self.X[:, covered], rtol=0.0, atol=1e-12):
            raise ValueError(f"{self.key}: the factors do not add up to the design's columns {covered}")

    @cached_property
    def agents(self) -> tuple[np.ndarray, np.ndarray]:
        """(the agent codes that occur, sorted; each cell's index into them)."""
        return np.unique(self.agent_idx, return_inverse=True)


@dataclass(frozen=True)
class GaussianStats:
    """What the normal log-likelihood of a part's cells needs when the cell means are ``a + X b + u[agent]``.

    Sums over the cells (``n`` values with sum ``s1`` and sum of squares ``s2`` each) of the terms
    of ``sum(s2 - 2 mu s1 + n mu^2)``: the likelihood then costs O(coefs^2 + agents x coefs) per
    evaluation instead of O(cells x coefs), and is exact.
    """

    n: float
    s1: float
    s2: float
    xs1: np.ndarray  # X' s1
    xn: np.ndarray  # X' n
    xnx: np.ndarray  # X' diag(n) X
    agent_s1: np.ndarray  # per agent: sum of s1
    agent_n: np.ndarray  # per agent: sum of n
    agent_xn: np.ndarray  # per agent: sum of n x (agents x coefs)


def gaussian_stats(X: np.ndarray, codes: np.ndarray, agents: int, n: np.ndarray, y: np.ndarray) -> GaussianStats:
    """The :class:`GaussianStats` of cells: design ``X``, agent ``codes``, counts ``n``, ``y`` (sum, sum of squares)."""
    n = np.asarray(n, float)
    s1, s2 = np.asarray(y, float)[:, 0], np.asarray(y, float)[:, 1]
    X = np.asarray(X, float).reshape(len(n), -1)
    agent_xn = np.zeros((agents, X.shape[1]))
    np.add.at(agent_xn, codes, X * n[:, None])
    return GaussianStats(
        n=float(n.sum()),
        s1=float(s1.sum()),
        s2=float(s2.sum()),
        xs1=X.T @ s1,
        xn=X.T @ n,
        xnx=(X * n[:, None]).T @ X,
        agent_s1=np.bincount(codes, weights=s1, minlength=agents),
        agent_n=np.bincount(codes, weights=n, minlength=agents),
        agent_xn=agent_xn,
    )


def gaussian_loglik(a: Any, beta: Any, u: Any, sigma: Any, st: GaussianStats) -> Any:
    """Normal log-likelihood (up to a constant) of the values in ``st``'s cells, means ``a + X beta + u[agent]``.

    ``beta`` is None when the part has no cell-level fixed effects.
    """
    import pytensor.tensor as pt

    cross = a * st.s1 + pt.dot(st.agent_s1, u)
    quad = a**2 * st.n + pt.dot(st.agent_n, u**2) + 2 * a * pt.dot(st.agent_n, u)
    if beta is not None:
        cross = cross + pt.dot(st.xs1, beta)
        quad = quad + pt.dot(beta, pt.dot(st.xnx, beta)) + 2 * a * pt.dot(st.xn, beta)
        quad = quad + 2 * pt.dot(u, pt.dot(st.agent_xn, beta))
    return -st.n * pt.log(sigma) - (st.s2 - 2 * cross + quad) / (2 * sigma**2)


# numba refers to a constant array over 1 MB (or a strided one) by its address in this process,
# which keeps the compiled model out of the disk cache (.compile_cache): designs are split below it
CONSTANT_BYTES = 10**6


def _dot(X: np.ndarray, beta: Any) -> Any:
    """``X @ beta`` as a sum over contiguous column blocks of at most :data:`CONSTANT_BYTES` each."""
    import pytensor.tensor as pt

    per = max(1, CONSTANT_BYTES // max(1, X.shape[0] * X.itemsize))
    out: Any = 0.0
    for a in range(0, X.shape[1], per):
        out = out + pt.dot(np.ascontiguousarray(X[:, a : a + per]), beta[a : a + per])
    return out


def linear_predictor(part: DiagnosisPart, beta: Any, u: Any) -> Any:
    """``X @ beta + u[agent]`` for each cell, the factored columns by lookup (:class:`Factor`).

    A factor whose levels are nested in the agents (each agent's cells share a level: an agent's
    pass rates) is added to ``u`` before its one gather. The other columns are a cells x columns
    product (:func:`_dot`). ``beta`` may be None when the part has no fixed effects.
    """
    import pytensor.tensor as pt

    agents, codes = part.agents
    covered = {c for f in part.factors for c in f.cols}
    rest = [c for c in range(part.X.shape[1]) if c not in covered]
    out: Any = _dot(part.X[:, rest], beta[rest]) if rest and beta is not None else 0.0
    per_agent: Any = u
    for f in part.factors:
        cols = list(f.cols)
        of_agent = np.full(len(agents), -1)
        of_agent[codes] = f.codes
        if np.array_equal(of_agent[codes], f.codes):  # nested in agents: one row per agent
            per_agent = per_agent + pt.dot(np.ascontiguousarray(f.table[of_agent]), beta[cols])
        else:
            out = out + pt.dot(np.ascontiguousarray(f.table), beta[cols])[f.codes]
    return out + per_agent[codes]


def agent_moments(part: DiagnosisPart) -> tuple[float, float, int]:
    """(moment variance of the agent effects, median sampling variance of one agent's effect, members).

    Each agent's latent level is estimated on its own (:meth:`~.base.Family.group_estimates`; a
    standardized value's mean for a gaussian part) and regressed on the agent's mean of every fixed
    effect (its score, item pass rates, channel and reason mix), so that what the fixed effects
    explain does not count as agent variation; the residual variance less the mean sampling
    variance is the moment variance (:func:`.priors.moment_variance` without the fixed effects).
    ``members`` is the agents' residual degrees of freedom plus one (the agents with data when
    there are fewer than three), the ``k`` of :func:`.priors.centred_from_moments`.
    """
    agents, codes = part.agents
    k = len(agents)
    n = np.bincount(codes, weights=part.n.astype(float), minlength=k)
    if part.family == "gaussian":  # y = (sum, sum of squares) of a standardized value per cell
        s1 = np.bincount(codes, weights=part.y[:, 0], minlength=k)
        within = (part.y[:, 1].sum() - np.sum(s1**2 / np.maximum(n, 1))) / max(n.sum() - k, 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            est, var = np.where(n > 0, s1 / n, np.nan), np.where(n > 0, within / n, np.inf)
    elif part.family == "binomial":
        est, var = get_family("binomial").group_estimates({"y": part.y, "n": part.n}, codes, k)
    else:
        est, var = get_family("ordinal").group_estimates({"counts": part.y}, codes, k)
    ok = np.isfinite(est) & np.isfinite(var)
    m = int(ok.sum())
    if m < 3:
        return float("nan"), float("nan"), m
    means = [np.bincount(codes, weights=part.n * x, minlength=k)[ok] / n[ok] for x in part.X.T]
    A = np.column_stack([np.ones(m), *means])  # each agent's mean of every fixed effect
    coef, _, rank, _ = np.linalg.lstsq(A, est[ok], rcond=None)
    dof = m - rank
    if dof < 2:
        return float("nan"), float(np.median(var[ok])), m
    resid = est[ok] - A @ coef
    s2 = max(0.0, float(resid @ resid) / dof - float(np.mean(var[ok])))
    return s2, float(np.median(var[ok])), dof + 1


def centred_agents(part: DiagnosisPart, ratio: float = CENTRED_RATIO) -> bool:
    """Centred agent effects when the data pin the agents down, judged from the data (as :func:`.priors.choose_levels`).

    Centred when a low estimate of the agents' variance beyond the fixed effects (from
    :func:`agent_moments`, through :func:`.priors.centred_from_moments`) is at least ``ratio``
    times the median sampling variance of one agent's effect; else non-centred (little data per
    agent or little variation between agents: where the centred form is a funnel).
    """
    return centred_from_moments(*agent_moments(part), ratio)


def part_model(part: DiagnosisPart, centered: bool) -> tuple[Any, dict[str, np.ndarray]]:
    """The PyMC model of one part and the sampler's starting values.

    Agent effects ``u_j ~ Normal(m_j, sd_agent)`` with ``m_j = b_b xbar_j`` when the part has a
    between slope and 0 otherwise, ``centered`` or as ``m_j + sd_agent z_j``. The likelihoods are
    :func:`.binomial.loglik` and :func:`.ordinal.loglik` (PyMC's binomial and ordered multinomial
    up to a constant, cheaper to differentiate) and :func:`gaussian_loglik` (a normal on the cells' sums,
    through :func:`gaussian_stats`: its cost does not grow with the cells).
    """
    import pymc as pm

    agents, codes = part.agents
    initial: dict[str, np.ndarray] = {}
    with pm.Model(coords={"agent": agents.tolist(), "coef": part.coefs}) as model:
        beta = pm.Normal("beta", 0.0, 1.0, dims="coef") if part.coefs else None
        sd = pm.HalfNormal("sd_agent", 1.0)
        mean: Any = 0.0
        if part.between_slope:  # X = [within, between]; the between slope is the agents' mean
            xbar = np.zeros(len(agents))
            xbar[codes] = part.X[:, 1]
            mean = beta[1] * xbar
        if centered:
            u = pm.Normal("u_agent", mean, sd, dims="agent")
        else:
            z = pm.Normal("z_agent", 0.0, 1.0, dims="agent")
            u = pm.Deterministic("u_agent", mean + sd * z, dims="agent")
        if part.family == "gaussian":  # y = (sum, sum of squares) of standardized values per cell
            a = pm.Normal("intercept", 0.0, 2.5)
            sigma = pm.HalfNormal("sigma", 2.0)
            cols = [0, *range(2, part.X.shape[1])] if part.between_slope else list(range(len(part.coefs)))
            stats = gaussian_stats(part.X[:, cols], codes, len(agents), part.n, part.y)
            pm.Potential("y", gaussian_loglik(a, beta[cols] if cols else None, u, sigma, stats))
            return model, initial
        if part.between_slope:
            fixed = beta[0] * np.ascontiguousarray(part.X[:, 0])
            if part.X.shape[1] > 2:
                fixed = fixed + _dot(part.X[:, 2:], beta[2:])
            eta = fixed + u[codes]
        else:
            eta = linear_predictor(part, beta, u)
        if part.family == "binomial":
            a = pm.Normal("intercept", mu=binomial.center({"y": part.y, "n": part.n}), sigma=2.5)
            data = {"y__y": part.y.astype(float), "y__n": part.n.astype(float)}
            pm.Potential("y", binomial.loglik(a + eta, data, "y"))
        else:
            tot = part.y.sum(axis=0) + 0.5
            cum = np.clip(np.cumsum(tot)[:-1] / tot.sum(), 1e-3, 1 - 1e-3)
            initial["cut"] = np.log(cum / (1 - cum)) + np.arange(len(cum)) * 1e-3
            cut = pm.Normal("cut", mu=0.0, sigma=4.0, shape=len(cum), transform=pm.distributions.transforms.ordered)
            data = {f"y__{k}": v for k, v in ordinal.pair_data(part.y).items()}
            pm.Potential("y", ordinal.loglik(eta, cut, data, "y"))
    return model, initial


def part_draws(part: DiagnosisPart, draws: int) -> int:
    """Draws per chain for a part at first: ``draws``, at most :data:`SMALL_PART_DRAWS` or :data:`LARGE_PART_DRAWS`."""
    return min(draws, LARGE_PART_DRAWS if len(part.n) > LARGE_PART_CELLS else SMALL_PART_DRAWS)


def part_accept(part: DiagnosisPart, target_accept: float, large_accept: float | None) -> float:
    """Target accept of a part's first sampling: ``large_accept`` for a large part when set, else ``target_accept``."""
    return large_accept if large_accept is not None and len(part.n) > LARGE_PART_CELLS else target_accept


def longer_draws(d: Diagnostics) -> int | None:
    """Draws per chain for a slow-mixing fit's longer sampling, or ``None`` when more draws would not help."""
    if math.isnan(d.ess_bulk_min) or math.isnan(d.ess_tail_min):
        return None
    ess = min(d.ess_bulk_min, d.ess_tail_min)
    if is_funnel(d) or not d.rhat_max <= MARGINAL_RHAT or ess >= ESS_MIN:
        return None
    need = max(d.draws * LONGER_MARGIN * ESS_MIN / max(ess, 1.0), 2 * d.draws)
    return int(min(math.ceil(need / 100) * 100, LONGER_MAX_FACTOR * d.draws))


def fit_parts(
    parts: Sequence[DiagnosisPart],
    *,
    draws: int,
    tune: int,
    chains: int,
    seed: int,
    target_accept: float,
    backend: str,
    large_accept: float | None = LARGE_PART_ACCEPT,
    centred_ratio: float = CENTRED_RATIO,
    progress: Callable[[str, float], Any],
) -> Iterator[tuple[DiagnosisPart, Any, Diagnostics]]:
    """Fit every part in turn, yielding (part, posterior, diagnostics).

    The next part compiles while this one samples. Part ``k`` is sampled with seed ``seed + k``.
    A part's agent effects are centred when its agents carry enough information
    (:func:`centred_agents` at ``centred_ratio``), else non-centred. A fit that misses the
    convergence bars by more than a little is repeated with the other parametrization (``draws``
    per chain) and the better-converged fit is kept; if that one is still more than a little short
    only because it mixes slowly, it is sampled again for the draws its ESS rate needs
    (:func:`longer_draws`); a kept fit that misses them only a little (ESS short or R-hat a little
    high: :func:`.retry.is_marginal`) is sampled again with twice its draws. A part draws
    :func:`part_draws` per chain at first, its trees capped at :data:`FIRST_MAXDEPTH` (later
    samplings: nutpie's default) and at :func:`part_accept` (later samplings: ``target_accept``;
    ``large_accept=None`` samples every part at ``target_accept``).
    ``attempts`` in the diagnostics counts the part's samplings and ``seconds`` adds up their
    compile and wall times.
    """
    centred = [centred_agents(p, centred_ratio) for p in parts]

    def compile_part(k: int, centered: bool) -> Any:
        model, initial = part_model(parts[k], centered)
        return sampling.compile_model(model, initial, backend)

    def sample(k: int, ready: Any, fraction: float, after: Callable[[], Any] = lambda: None, n: int | None = None):
        t0 = time.perf_counter()
        first = n is None
        n = part_draws(parts[k], draws) if n is None else n
        run = sampling.start_sampling(
            ready,
            draws=n,
            tune=tune,
            chains=chains,
            seed=seed + k,
            target_accept=part_accept(parts[k], target_accept, large_accept) if first else target_accept,
            maxdepth=FIRST_MAXDEPTH if first else None,
        )
        extra = after()  # e.g. compile the next part while this one samples
        idata, sampler = sampling.finish_sampling(run, parts[k].key, progress, fraction)
        seconds = time.perf_counter() - t0
        strict = [name for name in PARAMETERS if name not in parts[k].spread]
        diag = sampling.diagnostics_of(idata, strict, sampler=sampler, seconds=seconds, spread=list(parts[k].spread))
        return idata, diag, extra

    with sampling.one_blas_thread():
        ready = compile_part(0, centred[0]) if parts else None
        for k, part in enumerate(parts):
            frac = 0.15 + 0.75 * k / len(parts)
            size = f"{len(part.n):,} cells, {chains} chains x {part_draws(part, draws)}"
            progress(f"fitting {part.key} ({k + 1} of {len(parts)}: {size})", frac)
            nxt = (lambda k=k: compile_part(k + 1, centred[k + 1])) if k + 1 < len(parts) else (lambda: None)
            idata, diag, following = sample(k, ready, frac, nxt)
            model_k, spent, tries = ready, ready.compile_seconds + diag.seconds, 1
            if not diag.converged and not is_marginal(diag):
                progress(f"{part.key} missed the bars ({', '.join(diag.problems)}): the other parametrization", frac)
                other = compile_part(k, not centred[k])
                idata2, diag2, _ = sample(k, other, frac, n=draws)
                spent, tries = spent + other.compile_seconds + diag2.seconds, tries + 1
                if diag2.converged or is_marginal(diag2) or len(diag2.problems) < len(diag.problems):
                    idata, diag, model_k = idata2, diag2, other
            longer = None if is_marginal(diag) else longer_draws(diag)
            if longer:  # both parametrizations short of ESS, the sampler healthy: the kept model, long enough
                progress(f"{part.key} mixes slowly ({', '.join(diag.problems)}): {longer} draws per chain", frac)
                idata2, diag2, _ = sample(k, model_k, frac, n=longer)
                spent, tries = spent + diag2.seconds, tries + 1
                if diag2.converged or is_marginal(diag2) or len(diag2.problems) <= len(diag.problems):
                    idata, diag = idata2, diag2
            if not diag.converged and is_marginal(diag):  # only a little short: the same model, more draws
                n = 2 * diag.draws
                progress(f"{part.key} missed the bars ({', '.join(diag.problems)}): {n} draws per chain", frac)
                idata2, diag2, _ = sample(k, model_k, frac, n=n)
                spent, tries = spent + diag2.seconds, tries + 1
                if diag2.converged or len(diag2.problems) <= len(diag.problems):
                    idata, diag = idata2, diag2
            ready = following
            yield part, idata, replace(diag, seconds=spent, attempts=tries)
