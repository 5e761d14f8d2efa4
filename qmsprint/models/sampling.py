"""The one fit / sampling API of qmsprint: compile with nutpie (or leave to PyMC), sample, diagnose.

Every model is sampled through the same three steps, used by metric blocks
(:func:`.blocks.fit`, for the experiments) and by the diagnosis model:

* :func:`compile_model` -> :class:`CompiledModel` (nutpie compiles the PyMC model with its data
  frozen in as constants; with the PyMC backend, or without nutpie, there is nothing to compile),
* :func:`start_sampling` -> :class:`Started` (nutpie samples in the background, so the caller can
  compile the next model meanwhile; PyMC samples right away),
* :func:`finish_sampling` -> ``(InferenceData, sampler)`` (waits, reporting that it still runs),

all under :func:`one_blas_thread`. :func:`sample_model` does the three for one model;
:func:`diagnostics_of` checks a posterior against the convergence bars; :func:`draws_of`
flattens a variable's draws.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from qmsprint.results import Diagnostics


def nutpie_available() -> bool:
    """Whether nutpie can be imported."""
    try:
        import nutpie  # noqa: F401
    except Exception:  # noqa: BLE001
        return False
    return True


def compile_nutpie(model: Any, initial_points: dict[str, np.ndarray] | None = None, *, freeze: bool = True) -> Any:
    """Compile a PyMC model for nutpie; ``freeze`` bakes the data in as constants (no ``with_data``).

    Goes through the disk cache of compiled models (:mod:`.compile_cache`): a model compiled
    before, by any process with the same libraries on this machine, is loaded instead.
    """
    from qmsprint.models.compile_cache import compile_cached

    return compile_cached(model, initial_points, freeze=freeze)


@dataclass
class CompiledModel:
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


def compile_model(
    model: Any, initial_points: dict[str, np.ndarray] | None = None, backend: str = "nutpie"
) -> CompiledModel:
    """Compile ``model`` for nutpie (data frozen in); with PyMC (or no nutpie) there is nothing to do.

    Parameters
    ----------
    model
        A PyMC model.
    initial_points
        Starting values the sampler needs (e.g. spread-out ordinal cutpoints), or None.
    backend
        ``nutpie`` (falls back to PyMC's NUTS when nutpie is not importable) or ``pymc``.

    """
    t0 = time.perf_counter()
    compiled = compile_nutpie(model, initial_points) if backend == "nutpie" and nutpie_available() else None
    return CompiledModel(model, compiled, initial_points, time.perf_counter() - t0)


HEARTBEAT_SECONDS = 10.0
POLL_SECONDS = 0.05  # how often a wait looks whether the sampler is done (its delay is on every fit)


def _start_nutpie(
    compiled: Any,
    *,
    draws: int,
    tune: int,
    chains: int,
    seed: int,
    target_accept: float,
    maxdepth: int | None,
    save_warmup: bool = False,
) -> Any:
    """Start nutpie sampling in the background (low-rank mass matrix adaptation, no warm-up kept unless asked)."""
    import nutpie

    extra = {} if maxdepth is None else {"maxdepth": int(maxdepth)}
    return nutpie.sample(
        compiled,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=int(seed),
        target_accept=target_accept,
        progress_bar=False,
        low_rank_modified_mass_matrix=True,
        save_warmup=save_warmup,
        blocking=False,
        **extra,
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
        time.sleep(POLL_SECONDS)
        now = time.perf_counter()
        if now - last >= HEARTBEAT_SECONDS:
            progress(f"still sampling {label} ({now - t0:.0f} s)", fraction)
            last = now
    return sampler.wait()


def start_sampling(
    compiled: CompiledModel,
    *,
    draws: int,
    tune: int,
    chains: int,
    seed: int,
    target_accept: float = 0.9,
    maxdepth: int | None = None,
) -> Started:
    """Start sampling: nutpie in the background (call :func:`finish_sampling`), PyMC right away.

    ``maxdepth`` caps a draw's tree at ``2**maxdepth`` leapfrog steps (nutpie's default, 10, when
    None; PyMC's own NUTS keeps its default). Run it under :func:`one_blas_thread` until
    :func:`finish_sampling` returns.
    """
    if compiled.compiled is not None:
        handle = _start_nutpie(
            compiled.compiled,
            draws=draws,
            tune=tune,
            chains=chains,
            seed=seed,
            target_accept=target_accept,
            maxdepth=maxdepth,
        )
        return Started(handle, "nutpie")
    idata = _sample_pymc(
        compiled.model,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        target_accept=target_accept,
        initvals=compiled.initial_points,
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
    compiled = compile_model(model, initial_points, backend)
    with one_blas_thread():
        run = start_sampling(compiled, draws=draws, tune=tune, chains=chains, seed=seed, target_accept=target_accept)
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


def draws_of(idata: Any, name: str) -> np.ndarray:
    """Posterior draws of ``name`` flattened over chains: shape (chains * draws, ...)."""
    v = idata.posterior[name].to_numpy()
    return v.reshape(v.shape[0] * v.shape[1], *v.shape[2:])


def diagnostics_of(
    idata: Any,
    names: list[str],
    *,
    sampler: str,
    seconds: float,
    extra: dict[str, np.ndarray] | None = None,
    spread: list[str] | None = None,
) -> Diagnostics:
    """Convergence diagnostics of a posterior over ``names`` (and the variance components ``spread``)."""
    import arviz as az

    post = idata.posterior
    chains, n_draws = int(post.sizes["chain"]), int(post.sizes["draw"])
    ds = post[[n for n in names if n in post]]
    if extra:
        ds = ds.assign({k: (("chain", "draw"), np.asarray(v)) for k, v in extra.items()})
    present = [n for n in spread or [] if n in post]
    with _arviz_without_numba():
        rmax, eb, et = _worst(ds, chains, n_draws)
        if present:
            s_rhat, s_bulk, s_tail = _worst(post[present], chains, n_draws)
            spread_rhat, spread_ess = s_rhat, min(s_bulk, s_tail)
        else:
            spread_rhat, spread_ess = 1.0, math.inf
        try:
            bfmi = float(np.min(az.bfmi(idata)))
        except Exception:  # noqa: BLE001 - energy missing from some backends
            bfmi = float("nan")
    stats = idata.sample_stats
    div = int(stats["diverging"].sum()) if "diverging" in stats else 0
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
        spread_rhat_max=spread_rhat,
        spread_ess_min=spread_ess,
    )


_ARVIZ_NUMBA = threading.Lock()


@contextlib.contextmanager
def _arviz_without_numba() -> Iterator[None]:
    """ArviZ's NumPy code path meanwhile (its Numba one compiles a variance function in each process).

    The numba path saves nothing on a few thousand draws and its compile cost about 0.26 s per
    process. The lock keeps concurrent callers from restoring each other's setting.
    """
    from arviz.utils import Numba

    with _ARVIZ_NUMBA:
        before = Numba.numba_flag
        Numba.numba_flag = False
        try:
            yield
        finally:
            Numba.numba_flag = before


def _worst(ds: Any, chains: int, n_draws: int) -> tuple[float, float, float]:
    """(worst R-hat, smallest bulk ESS, smallest tail ESS) over every variable of ``ds``."""
    import arviz as az

    if chains * n_draws < 8 or n_draws < 4:
        return math.inf, 0.0, 0.0

    def agg(d: Any, f: Any) -> float:
        vals = np.concatenate([np.atleast_1d(d[v].to_numpy()).ravel() for v in d.data_vars])
        vals = np.where(np.isnan(vals), np.inf if f is np.max else 0.0, vals)
        return float(f(vals))

    return agg(az.rhat(ds), np.max), agg(az.ess(ds, method="bulk"), np.min), agg(az.ess(ds, method="tail"), np.min)
