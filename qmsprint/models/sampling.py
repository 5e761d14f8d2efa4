"""Joint model of several metric blocks, compiled once per shape, sampled with nutpie (or PyMC).

A :class:`Block` is one metric: its family, :class:`.terms.Design`, observed sufficient
statistics, prior scales and parametrisation. :func:`fit` builds a PyMC model per block and
compiles it with nutpie. A one-off fit is compiled with its data frozen in as constants
(``freeze_model``: faster to compile and to sample). When the same model shape comes back in one
process (repeated simulated pilots, the same experiment on new data), it is compiled once more
with its data in shared containers and cached, and later fits only swap the data
(``CompiledModel.with_data``).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qmsprint.models import binomial, continuous, ordinal
from qmsprint.models.terms import Design, core_parameters
from qmsprint.results import Diagnostics

FAMILIES = {"ordinal": ordinal, "binomial": binomial, "continuous": continuous}
_CACHE: OrderedDict[tuple, tuple[Any, Any]] = OrderedDict()
_CACHE_SIZE = 8
# how often each shape was compiled frozen in this process; the next one is compiled for reuse
_SEEN: dict[tuple, int] = {}
REUSE_AFTER = 2


@dataclass
class Block:
    """One metric in a joint model.

    Parameters
    ----------
    name
        Prefix of its variables (the metric name).
    family
        ``ordinal``, ``binomial`` or ``continuous``.
    design
        Design arrays of its likelihood cells.
    obs
        Sufficient statistics: ordinal ``counts``; binomial ``y``, ``n``; continuous ``n``, ``s1``, ``s2``.
    priors
        Prior scales (:func:`.terms.resolve_priors`).
    centred
        Agent-effect parametrisation.
    effect_prior
        Prior ``(mean, sd)`` of the latent treatment effect; ``None`` = ``(0, priors['effect_sd'])``.

    """

    name: str
    family: str
    design: Design
    obs: dict[str, np.ndarray]
    priors: dict[str, float]
    centred: bool = False
    effect_prior: tuple[float, float] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

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
        extra = self.obs["counts"].shape[1] if self.family == "ordinal" else 0
        return (
            self.family,
            extra,
            self.design.shape_key(),
            self.centred,
            self.flat_effect,
            tuple(sorted(self.priors.items())),
        )

    def data(self) -> dict[str, np.ndarray]:
        """Every data container of this block."""
        fam = FAMILIES[self.family]
        p = self.prefix
        d = self.design.data(p)
        d.update(fam.block_data(p, self.obs))
        if not self.flat_effect:
            mu, sd = self.effect_prior if self.effect_prior is not None else (0.0, self.priors["effect_sd"])
            d[f"{p}__effect_mu"] = np.asarray(float(mu))
            d[f"{p}__effect_sd"] = np.asarray(float(sd))
        if self.family != "ordinal":
            d[f"{p}__center"] = np.asarray(fam.center(self.obs))
        return d

    def initial_point(self) -> dict[str, np.ndarray]:
        """Starting values the sampler needs (e.g. spread-out ordinal cutpoints)."""
        return FAMILIES[self.family].initial_point(self)

    def parameters(self) -> list[str]:
        """Parameters behind this block's effects (for diagnostics), named by the metric."""
        return core_parameters(self.name, self.design) + FAMILIES[self.family].parameters(self.name)


def build_model(blocks: list[Block]):
    """One PyMC model with every block (data in ``pm.Data`` containers)."""
    import pymc as pm

    with pm.Model() as model:
        for b in blocks:
            data = {k: pm.Data(k, v) for k, v in b.data().items()}
            FAMILIES[b.family].build(b, data)
    return model


def nutpie_available() -> bool:
    """Whether nutpie can be imported."""
    try:
        import nutpie  # noqa: F401
    except Exception:  # noqa: BLE001
        return False
    return True


def compile_nutpie(model: Any, initial_points: dict[str, np.ndarray] | None = None, *, freeze: bool = True) -> Any:
    """Compile a PyMC model for nutpie; ``freeze`` bakes the data in as constants (no ``with_data``)."""
    import nutpie

    return nutpie.compile_pymc_model(model, freeze_model=freeze, initial_points=initial_points or None)


def _compiled(blocks: list[Block], backend: str) -> tuple[Any, Any, bool]:
    """(PyMC model, compiled nutpie model or None, reused) for these blocks, from the cache if possible."""
    key = (backend, tuple(b.key() for b in blocks))
    if key in _CACHE:
        model, compiled = _CACHE[key]
        _CACHE.move_to_end(key)
        data = {k: v for b in blocks for k, v in b.data().items()}
        if compiled is not None:
            return model, compiled.with_data(**data), True
        import pymc as pm

        with model:
            pm.set_data(data)
        return model, None, True
    model = build_model(blocks)
    compiled = None
    if backend == "nutpie":
        init = {k: v for b in blocks for k, v in b.initial_point().items()}
        seen = _SEEN.get(key, 0)
        if seen < REUSE_AFTER:
            _SEEN[key] = seen + 1
            return model, compile_nutpie(model, init, freeze=True), False
        compiled = compile_nutpie(model, init, freeze=False)
    _CACHE[key] = (model, compiled)
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return model, compiled, False


def clear_cache() -> None:
    """Forget every compiled model (and which shapes were seen)."""
    _CACHE.clear()
    _SEEN.clear()


@dataclass
class Fit:
    """One sampled block (variables renamed from the family prefix to the metric name)."""

    idata: Any
    block: Block
    sampler: str
    seconds: float
    compile_seconds: float
    reused: bool


def _rename(idata: Any, prefix: str, name: str) -> Any:
    if prefix == name:
        return idata
    post = idata.posterior
    mapping = {v: name + str(v)[len(prefix) :] for v in post.data_vars if str(v).startswith(prefix + "_")}
    idata.posterior = post.rename(mapping)
    return idata


HEARTBEAT_SECONDS = 10.0


def _start_nutpie(compiled: Any, *, draws: int, tune: int, chains: int, seed: int, target_accept: float) -> Any:
    """Start nutpie sampling in the background (low-rank mass matrix adaptation, no warm-up kept)."""
    import nutpie

    return nutpie.sample(
        compiled,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=int(seed),
        target_accept=target_accept,
        progress_bar=False,
        low_rank_modified_mass_matrix=True,
        save_warmup=False,
        blocking=False,
    )


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run BLAS calls single-threaded (restored afterwards).

    The chains are the parallelism: OpenBLAS threading each chain's matrix products as well
    oversubscribes the cores (a 16k-cell model sampled 4x slower on 2 cores).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _finished(sampler: Any) -> bool:
    """Whether a background nutpie sampler is done (nutpie 0.16 raises TimeoutError while it runs)."""
    try:
        return bool(sampler.is_finished)
    except TimeoutError:
        return False


def _wait(sampler: Any, label: str, progress: Any, fraction: float) -> Any:
    """Wait for a background nutpie sampler, reporting every :data:`HEARTBEAT_SECONDS` that it still runs."""
    t0 = last = time.perf_counter()
    while progress is not None and not _finished(sampler):
        time.sleep(0.25)
        now = time.perf_counter()
        if now - last >= HEARTBEAT_SECONDS:
            progress(f"still sampling {label} ({now - t0:.0f} s)", fraction)
            last = now
    return sampler.wait()


@dataclass
class Prepared:
    """A PyMC model ready to sample: compiled for nutpie, or left to PyMC (``compiled`` is None)."""

    model: Any
    compiled: Any
    initial_points: dict[str, np.ndarray] | None
    compile_seconds: float


@dataclass
class Started:
    """A sampling under way (nutpie, in the background) or done (PyMC)."""

    handle: Any  # nutpie's background sampler, or PyMC's InferenceData
    sampler: str  # nutpie | pymc


def prepare_model(model: Any, initial_points: dict[str, np.ndarray] | None = None, backend: str = "nutpie") -> Prepared:
    """Compile ``model`` for nutpie (data frozen in); with PyMC (or no nutpie) there is nothing to do."""
    t0 = time.perf_counter()
    compiled = compile_nutpie(model, initial_points) if backend == "nutpie" and nutpie_available() else None
    return Prepared(model, compiled, initial_points, time.perf_counter() - t0)


def start_sampling(
    prepared: Prepared, *, draws: int, tune: int, chains: int, seed: int, target_accept: float = 0.9
) -> Started:
    """Start sampling: nutpie in the background (call :func:`finish_sampling`), PyMC right away.

    Run it under :func:`one_blas_thread` until :func:`finish_sampling` returns.
    """
    if prepared.compiled is not None:
        handle = _start_nutpie(
            prepared.compiled, draws=draws, tune=tune, chains=chains, seed=seed, target_accept=target_accept
        )
        return Started(handle, "nutpie")
    idata = _sample_pymc(
        prepared.model,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        target_accept=target_accept,
        initvals=prepared.initial_points,
    )
    return Started(idata, "pymc")


def finish_sampling(
    started: Started, label: str = "the model", progress: Any = None, fraction: float = 0.0
) -> tuple[Any, str]:
    """Wait for a sampling (reporting that it still runs) and return (InferenceData, sampler)."""
    if started.sampler == "nutpie":
        return _wait(started.handle, label, progress, fraction), "nutpie"
    return started.handle, started.sampler


def sample_model(
    model: Any,
    *,
    draws: int,
    tune: int,
    chains: int,
    seed: int,
    target_accept: float = 0.9,
    backend: str = "nutpie",
    progress: Any = None,
    label: str = "the model",
    fraction: float = 0.0,
    initial_points: dict[str, np.ndarray] | None = None,
) -> tuple[Any, str]:
    """Sample one PyMC model with nutpie (PyMC's NUTS when nutpie is unavailable or not asked for).

    Returns
    -------
    tuple[InferenceData, str]
        The posterior and the sampler used (``nutpie`` or ``pymc``).

    """
    prepared = prepare_model(model, initial_points, backend)
    with one_blas_thread():
        run = start_sampling(prepared, draws=draws, tune=tune, chains=chains, seed=seed, target_accept=target_accept)
        return finish_sampling(run, label, progress, fraction)


def _sample_pymc(
    model: Any,
    *,
    draws: int,
    tune: int,
    chains: int,
    seed: int,
    target_accept: float,
    initvals: dict[str, np.ndarray] | None = None,
) -> Any:
    """PyMC's own NUTS, one process (the fallback when nutpie is missing or not asked for)."""
    import pymc as pm

    with model:
        return pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            cores=1,
            random_seed=int(seed),
            target_accept=target_accept,
            initvals=initvals or None,
            progressbar=False,
            compute_convergence_checks=False,
        )


def fit(
    blocks: list[Block] | Block,
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

    With nutpie, a block samples in the background while the next one compiles. Falls back to
    PyMC's NUTS when ``backend == "nutpie"`` but nutpie is not importable.

    Returns
    -------
    list[Fit]
        One per block, variables named ``<metric>_<what>``.

    """
    if isinstance(blocks, Block):
        blocks = [blocks]
    if backend == "nutpie" and not nutpie_available():
        backend = "pymc"
    with one_blas_thread():
        return _fit_all(blocks, draws, tune, chains, seed, target_accept, backend, progress)


def _fit_all(
    blocks: list[Block],
    draws: int,
    tune: int,
    chains: int,
    seed: int,
    target_accept: float,
    backend: str,
    progress: Any,
) -> list[Fit]:
    out: list[Fit | None] = [None] * len(blocks)
    running: list[tuple[int, Any, float, float, bool]] = []
    for i, b in enumerate(blocks):
        if progress is not None:
            progress(f"compiling and sampling {b.name}", i / max(len(blocks), 1))
        t0 = time.perf_counter()
        model, compiled, reused = _compiled([b], backend)
        t1 = time.perf_counter()
        if compiled is not None:
            sampler = _start_nutpie(
                compiled, draws=draws, tune=tune, chains=chains, seed=int(seed) + i, target_accept=target_accept
            )
            running.append((i, sampler, t0, t1 - t0, reused))
        else:
            idata = _sample_pymc(
                model,
                draws=draws,
                tune=tune,
                chains=chains,
                seed=int(seed) + i,
                target_accept=target_accept,
                initvals=b.initial_point(),
            )
            out[i] = Fit(_rename(idata, b.prefix, b.name), b, backend, time.perf_counter() - t0, t1 - t0, reused)
    for i, sampler, t0, comp, reused in running:
        b = blocks[i]
        idata = _wait(sampler, b.name, progress, i / max(len(blocks), 1))
        out[i] = Fit(_rename(idata, b.prefix, b.name), b, backend, time.perf_counter() - t0, comp, reused)
    return [f for f in out if f is not None]


def draws_of(idata: Any, name: str) -> np.ndarray:
    """Posterior draws of ``name`` flattened over chains: shape (chains * draws, ...)."""
    v = idata.posterior[name].to_numpy()
    return v.reshape(v.shape[0] * v.shape[1], *v.shape[2:])


def diagnostics(fit_: Fit, names: list[str], extra: dict[str, np.ndarray] | None = None) -> Diagnostics:
    """Convergence diagnostics of a fit over ``names`` (plus derived quantities, shape (chains, draws)).

    Divergences and E-BFMI are those of the whole joint fit.
    """
    return diagnostics_of(fit_.idata, names, sampler=fit_.sampler, seconds=fit_.seconds, extra=extra)


def diagnostics_of(
    idata: Any,
    names: list[str],
    *,
    sampler: str,
    seconds: float,
    extra: dict[str, np.ndarray] | None = None,
) -> Diagnostics:
    """Convergence diagnostics of a posterior over ``names`` (see :func:`diagnostics`)."""
    import arviz as az
    import xarray as xr

    post = idata.posterior
    present = [n for n in names if n in post]
    ds = post[present]
    if extra:
        ds = ds.assign({k: (("chain", "draw"), np.asarray(v)) for k, v in extra.items()})
    chains, n_draws = int(post.sizes["chain"]), int(post.sizes["draw"])
    if chains * n_draws < 8 or n_draws < 4:
        rmax, eb, et = math.inf, 0.0, 0.0
    else:
        rhat = az.rhat(ds)
        ess_b = az.ess(ds, method="bulk")
        ess_t = az.ess(ds, method="tail")

        def agg(d: xr.Dataset, f) -> float:
            vals = np.concatenate([np.atleast_1d(d[v].to_numpy()).ravel() for v in d.data_vars])
            vals = np.where(np.isnan(vals), np.inf if f is np.max else 0.0, vals)
            return float(f(vals))

        rmax, eb, et = agg(rhat, np.max), agg(ess_b, np.min), agg(ess_t, np.min)
    stats = idata.sample_stats
    div = int(stats["diverging"].sum()) if "diverging" in stats else 0
    try:
        bfmi = float(np.min(az.bfmi(idata)))
    except Exception:  # noqa: BLE001 - energy missing from some backends
        bfmi = float("nan")
    return Diagnostics(
        rhat_max=rmax,
        ess_bulk_min=eb,
        ess_tail_min=et,
        divergences=div,
        bfmi_min=bfmi,
        draws=n_draws,
        chains=chains,
        sampler=sampler,
        seconds=seconds,
    )
