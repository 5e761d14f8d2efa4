"""Metric blocks: one metric's model, fitted through the one sampling API (:mod:`.sampling`).

A :class:`ModelBlock` is one metric: its model family (:func:`.families.get_family`),
:class:`.terms.CellDesign`, observed sufficient statistics, prior scales and parametrisation.
:func:`fit` builds a PyMC model per block, compiles it with nutpie and samples it; a block samples
in the background while the next one compiles. A one-off fit is compiled with its data frozen in
as constants (faster to compile and to sample). When the same model shape comes back in one
process (repeated simulated pilots, the same experiment on new data), it is compiled once more
with its data in shared containers and cached, and later fits only swap the data (nutpie's
``with_data``). Inside :func:`many_pilots` (loops over simulated pilots, repeated monitoring
checks) every shape is compiled that way from its first fit, and the compiled-model cache on disk
keeps such a compile for any later process fitting the same structure. :func:`prior_draws`
samples a block's priors; :func:`diagnostics` checks a fit.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import OrderedDict
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from qmsprint.models.base import Family
from qmsprint.models.families import get_family
from qmsprint.models.sampling import (
    CompiledModel,
    Started,
    compile_nutpie,
    diagnostics_of,
    finish_sampling,
    nutpie_available,
    one_blas_thread,
    start_sampling,
)
from qmsprint.models.terms import CellDesign, core_parameters, spread_parameters
from qmsprint.results import Diagnostics

_CACHE: OrderedDict[tuple, tuple[Any, Any]] = OrderedDict()
_CACHE_SIZE = 8
# how often each shape was compiled frozen in this process; the next one is compiled for reuse
_SEEN: dict[tuple, int] = {}
REUSE_AFTER = 2


@dataclass
class ModelBlock:
    """One metric's model.

    Parameters
    ----------
    name
        Prefix of its variables (the metric name).
    family
        Model family name (``ordinal``, ``binomial``, ``continuous``; see :mod:`.families`).
    design
        Design arrays of its likelihood cells.
    obs
        Sufficient statistics (``Family.observed``): ordinal ``counts``; binomial ``y``, ``n``;
        continuous ``n``, ``s1``, ``s2`` (and ``sum`` for the predictive check).
    priors
        Prior scales (:func:`.priors.resolve_priors`).
    centred
        Random-effect levels in the centred form (:data:`.terms.LEVELS`; the others are
        non-centred); ``True`` / ``False`` = every level / none. Stored as a sorted tuple.
    effect_prior
        Prior ``(mean, sd)`` of the latent treatment effect; ``None`` = ``(0, priors['effect_sd'])``.

    """

    name: str
    family: str
    design: CellDesign
    obs: dict[str, np.ndarray]
    priors: dict[str, float]
    centred: Collection[str] | bool = ()
    effect_prior: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.centred is True:
            self.centred = tuple(self.design.levels)
        elif self.centred is False:
            self.centred = ()
        else:
            self.centred = tuple(sorted(lv for lv in self.centred if lv in self.design.levels))

    @property
    def fam(self) -> Family:
        """The model family (raises ``KeyError`` listing the valid names for an unknown one)."""
        return get_family(self.family)

    @property
    def prefix(self) -> str:
        """Variable prefix inside the model: the family, so metrics of one family share a compiled model."""
        return self.family

    @property
    def flat_effect(self) -> bool:
        """True when the effect prior is flat (``effect_sd = inf``)."""
        return self.effect_prior is None and math.isinf(self.priors["effect_sd"])

    def effect_args(self, data: dict[str, Any]) -> dict[str, Any]:
        """Effect prior arguments for :func:`.terms.linear_predictor`."""
        if self.flat_effect:
            return {"effect_mu": 0.0, "effect_sd": math.inf}
        p = self.prefix
        return {"effect_mu": data[f"{p}__effect_mu"], "effect_sd": data[f"{p}__effect_sd"]}

    def key(self) -> tuple:
        """Shape key: blocks with equal keys share a compiled model."""
        return (
            self.family,
            self.fam.shape_key(self.obs),
            self.design.shape_key(),
            self.centred,
            self.flat_effect,
            tuple(sorted(self.priors.items())),
        )

    def data(self) -> dict[str, np.ndarray]:
        """Every data container of this block."""
        fam = self.fam
        p = self.prefix
        d = self.design.data(p)
        d.update(fam.block_data(p, self.obs))
        if not self.flat_effect:
            mu, sd = self.effect_prior if self.effect_prior is not None else (0.0, self.priors["effect_sd"])
            d[f"{p}__effect_mu"] = np.asarray(float(mu))
            d[f"{p}__effect_sd"] = np.asarray(float(sd))
        if fam.intercept:
            d[f"{p}__center"] = np.asarray(fam.center(self.obs))
        return d

    def initial_point(self) -> dict[str, np.ndarray]:
        """Starting values the sampler needs (e.g. spread-out ordinal cutpoints)."""
        return self.fam.initial_point(self)

    def parameters(self) -> list[str]:
        """Parameters behind this block's effects (for diagnostics), named by the metric."""
        return core_parameters(self.name, self.design) + self.fam.parameters(self.name)

    def spread_parameters(self) -> list[str]:
        """Variance components of this block (diagnosed with looser bars)."""
        return spread_parameters(self.name, self.design)


def build_model(blocks: list[ModelBlock]) -> Any:
    """One PyMC model with every block (data in ``pm.Data`` containers)."""
    import pymc as pm

    with pm.Model() as model:
        for b in blocks:
            data = {k: pm.Data(k, v) for k, v in b.data().items()}
            b.fam.build(b, data)
    return model


def _compiled_block(block: ModelBlock, backend: str) -> tuple[CompiledModel, bool]:
    """(compiled model, reused) for one block, from the cache when its shape came back."""
    t0 = time.perf_counter()
    key = (backend, (block.key(),))
    if key in _CACHE:
        model, compiled = _CACHE[key]
        _CACHE.move_to_end(key)
        data = block.data()
        if compiled is not None:  # containers the graph does not use are not shared variables of the compiled model
            compiled = compiled.with_data(**{k: v for k, v in data.items() if k in compiled.shared_data})
        else:
            import pymc as pm

            with model:
                pm.set_data(data)
        return CompiledModel(model, compiled, block.initial_point(), time.perf_counter() - t0), True
    model = build_model([block])
    init = block.initial_point()
    compiled = None
    if backend == "nutpie":
        seen = _SEEN.get(key, 0)
        if seen < REUSE_AFTER:
            _SEEN[key] = seen + 1
            return CompiledModel(model, compile_nutpie(model, init, freeze=True), init, time.perf_counter() - t0), False
        compiled = compile_nutpie(model, init, freeze=False)
    _CACHE[key] = (model, compiled)
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return CompiledModel(model, compiled, init, time.perf_counter() - t0), False


@contextlib.contextmanager
def many_pilots() -> Iterator[None]:
    """Compile every model shape for reuse from its first fit while inside (data swapped in, not baked in).

    For work that fits many data sets of one structure: simulated pilots (calibration, coverage,
    assurance), or the checks of a monitored pilot. One compile per shape then serves every later
    fit in this process and, through the compiled-model cache (keyed by structure for such
    compiles), in later processes too. A single run is best left outside: baking its data in
    compiles faster on a machine that has not compiled that structure before.
    """
    global REUSE_AFTER
    old = REUSE_AFTER
    REUSE_AFTER = 0
    try:
        yield
    finally:
        REUSE_AFTER = old


def clear_cache() -> None:
    """Forget every compiled model (and which shapes were seen)."""
    _CACHE.clear()
    _SEEN.clear()


@dataclass
class Fit:
    """One sampled block (variables renamed from the family prefix to the metric name).

    ``compiled`` is the compiled model it was sampled with (a longer run of the same block reuses it).
    """

    idata: Any
    block: ModelBlock
    sampler: str
    seconds: float
    compile_seconds: float
    reused: bool
    compiled: CompiledModel | None = field(default=None, repr=False, compare=False)

    def posterior_idata(self) -> Any:
        """InferenceData with only the block's posterior variables and the sample stats (for saving)."""
        import arviz as az

        post = self.idata.posterior
        names = [v for v in post.data_vars if str(v).startswith(self.block.name + "_")]
        return az.InferenceData(posterior=post[names], sample_stats=self.idata.sample_stats)


def _rename(idata: Any, prefix: str, name: str) -> Any:
    if prefix == name:
        return idata
    post = idata.posterior
    mapping = {v: name + str(v)[len(prefix) :] for v in post.data_vars if str(v).startswith(prefix + "_")}
    idata.posterior = post.rename(mapping)
    return idata


def fit(
    blocks: list[ModelBlock] | ModelBlock,
    *,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    seed: int = 0,
    target_accept: float = 0.9,
    backend: str = "nutpie",
    progress: Any = None,
) -> list[Fit]:
    """Fit each block in its own model, compiled once per shape and cached.

    With nutpie, a block samples in the background while the next one compiles; one block samples
    at a time (concurrent samplers would only share the cores), so each fit's ``seconds`` are its
    own compile and sampling. Falls back to PyMC's NUTS when ``backend == "nutpie"`` but nutpie is
    not importable. Block ``i`` samples with seed ``seed + i``.

    Returns
    -------
    list[Fit]
        One per block, variables named ``<metric>_<what>``.

    """
    if isinstance(blocks, ModelBlock):
        blocks = [blocks]
    if backend == "nutpie" and not nutpie_available():
        backend = "pymc"
    with one_blas_thread():
        return _fit_all(blocks, draws, tune, chains, seed, target_accept, backend, progress)


def _fit_all(
    blocks: list[ModelBlock],
    draws: int,
    tune: int,
    chains: int,
    seed: int,
    target_accept: float,
    backend: str,
    progress: Any,
) -> list[Fit]:
    out: list[Fit] = []
    running: tuple[int, Started, float, CompiledModel, bool, float | None] | None = None

    def finish(i: int, started: Started, t0: float, compiled: CompiledModel, reused: bool, done: float | None) -> None:
        b = blocks[i]
        idata, _ = finish_sampling(started, b.name, progress, i / max(len(blocks), 1))
        # its compile and its sampling, collected after the next block compiled (or at the end)
        seconds = compiled.compile_seconds + (done or time.perf_counter()) - t0
        out.append(
            Fit(_rename(idata, b.prefix, b.name), b, backend, seconds, compiled.compile_seconds, reused, compiled)
        )

    for i, b in enumerate(blocks):
        if progress is not None:
            progress(f"compiling and sampling {b.name}", i / max(len(blocks), 1))
        compiled, reused = _compiled_block(b, backend)  # while the previous block samples
        if running is not None:  # one sampling at a time
            finish(*running)
        t0 = time.perf_counter()
        started = start_sampling(
            compiled, draws=draws, tune=tune, chains=chains, seed=int(seed) + i, target_accept=target_accept
        )
        # PyMC has sampled already: its time is taken now, not after the later blocks compile
        done = time.perf_counter() if started.sampler == "pymc" else None
        running = (i, started, t0, compiled, reused, done)
    if running is not None:
        finish(*running)
    return out


def refit(
    previous: Fit,
    block: ModelBlock,
    *,
    draws: int,
    tune: int,
    chains: int,
    seed: int,
    target_accept: float = 0.9,
    backend: str = "nutpie",
    progress: Any = None,
) -> Fit:
    """Sample ``block`` again: with the compiled model of ``previous`` when the block's shape is the same.

    A longer run of the same model (more draws, longer warm-up, another step size target) costs
    only the sampling; another parametrisation is compiled (or taken from the cache).
    """
    if backend == "nutpie" and not nutpie_available():
        backend = "pymc"
    t0 = time.perf_counter()
    with one_blas_thread():
        if previous.compiled is not None and previous.block.key() == block.key():
            compiled, reused = previous.compiled, True
            compile_seconds = 0.0
        else:
            compiled, reused = _compiled_block(block, backend)
            compile_seconds = compiled.compile_seconds
        started = start_sampling(
            compiled, draws=draws, tune=tune, chains=chains, seed=int(seed), target_accept=target_accept
        )
        idata, _ = finish_sampling(started, block.name, progress, 0.0)
    seconds = time.perf_counter() - t0
    return Fit(_rename(idata, block.prefix, block.name), block, backend, seconds, compile_seconds, reused, compiled)


def with_more_chains(earlier: Fit, more: Fit) -> Fit:
    """``earlier``'s chains followed by ``more``'s, as one fit of the same block (chains renumbered from 0).

    Both must sample the same block with the same draws per chain: each chain adapted on its own, so
    chains of two samplings are as independent as the chains of one. ``seconds`` are ``more``'s.
    """
    import arviz as az

    if (earlier.block.name, earlier.block.key()) != (more.block.name, more.block.key()):
        raise ValueError("chains of different models cannot be pooled")
    sizes = (earlier.idata.posterior.sizes["draw"], more.idata.posterior.sizes["draw"])
    if sizes[0] != sizes[1]:
        raise ValueError(f"chains of {sizes[0]} and {sizes[1]} draws cannot be pooled")
    idata = az.concat(earlier.idata, more.idata, dim="chain")
    return replace(more, idata=idata)


def prior_draws(block: ModelBlock, *, draws: int, seed: int) -> Any:
    """Draws of a block's parameters from their priors, as an InferenceData whose ``posterior`` they are.

    Variables are named ``<metric>_<what>`` like a :class:`Fit`'s; the likelihood is not replicated
    (callers replicate it from the parameters, e.g. a prior predictive check).
    """
    import warnings

    import pymc as pm

    model = build_model([block])
    with model, warnings.catch_warnings():
        # only parameters are drawn (the likelihood terms are pm.Potential)
        warnings.simplefilter("ignore", UserWarning)
        names = [v.name for v in model.free_RVs] + [v.name for v in model.deterministics]
        prior = pm.sample_prior_predictive(draws=draws, var_names=names, random_seed=seed)
    prior.posterior = prior.prior
    return _rename(prior, block.prefix, block.name)


def diagnostics(fit_: Fit, block: ModelBlock, headline: np.ndarray) -> Diagnostics:
    """Convergence diagnostics of one block's fit.

    The strict bars apply to the parameters behind its effects and to ``headline`` (the flat draws of
    the headline effect, chain by chain); its variance components get the looser bars. Divergences
    and E-BFMI are those of the whole joint fit.
    """
    post = fit_.idata.posterior
    head = np.asarray(headline).reshape(post.sizes["chain"], post.sizes["draw"])
    return diagnostics_of(
        fit_.idata,
        block.parameters(),
        sampler=fit_.sampler,
        seconds=fit_.seconds,
        extra={f"{block.name}_headline_effect": head},
        spread=block.spread_parameters(),
    )
