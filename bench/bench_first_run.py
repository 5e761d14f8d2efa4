"""Where the first estimation of the bundled A/B pilot spends its time (run by hand); appends to bench/RESULTS.md.

The five metric models of experiments/demo_ab.toml are built exactly as ``qmsprint run`` builds
them (``experiments.estimate``, same seeds, same retry ladder). Each line is a fresh process, first
with the models compiled and sampled one after another (so that each model's compile and sampling
seconds can be read apart), then as ``qmsprint run`` does it (each compile overlapped with the
previous model's sampling), in three cache states each:

* ``new machine``: PyTensor's caches (its base_compiledir, which holds its numba cache too), numba's
  cache and qmsprint's compiled-model cache empty;
* ``ops cached``: PyTensor's and numba's caches from the line above, qmsprint's cache
  empty (the floor of a model that qmsprint has not compiled before);
* ``every cache filled``: all three from the lines above (a pilot's later runs);

and with ``--jax`` (needs ``pip install jax``, not a dependency of qmsprint), one model after
another with every cache empty, nutpie's JAX backend (``backend="jax", gradient_backend="jax"``)
instead of numba; with ``--numpyro`` (needs ``pip install numpyro``), PyMC's NumPyro NUTS instead of
nutpie (no compile step of qmsprint's: XLA compiles the whole sampler when it starts).

    python bench/bench_first_run.py          # the six numba lines
    python bench/bench_first_run.py --jax    # and the JAX line
    python bench/bench_first_run.py --numpyro    # and the NumPyro line
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ROOT, append, child_json, load, machine

SPEC = ROOT / "experiments" / "demo_ab.toml"


def _use_jax() -> None:
    """Compile every model with nutpie's JAX backend (no disk cache: its code cannot be stored)."""
    import nutpie
    from pymc.model.transform.optimization import freeze_dims_and_data

    import qmsprint.models.compile_cache as cc

    def compile_jax(model, initial_points=None, *, freeze=True):  # noqa: ANN001, ANN202 - compile_cached's
        t0 = time.perf_counter()
        frozen = freeze_dims_and_data(model) if freeze else model
        out = nutpie.compile_pymc_model(
            frozen, backend="jax", gradient_backend="jax", initial_points=initial_points or None
        )
        cc.stats.misses += 1
        cc.stats.seconds_compiling += time.perf_counter() - t0
        return out

    cc.compile_cached = compile_jax


def _use_numpyro() -> None:
    """Sample every model with PyMC's NumPyro NUTS (the whole sampler compiled by XLA, chains vectorised)."""
    from qmsprint.models import blocks, sampling

    def sample_numpyro(model, *, draws, tune, chains, seed, target_accept, initvals=None):  # noqa: ANN001, ANN202
        import pymc as pm

        with model:
            return pm.sample(
                draws=draws,
                tune=tune,
                chains=chains,
                random_seed=seed,
                target_accept=target_accept,
                initvals=initvals,
                nuts_sampler="numpyro",
                nuts_sampler_kwargs={"chain_method": "vectorized"},
                progressbar=False,
            )

    blocks.nutpie_available = lambda: False  # the PyMC path, which samples through sample_numpyro
    sampling._sample_pymc = sample_numpyro


def _row(model: str, fit: Any) -> dict:
    """One model's line: compile (or cache load) and sampling seconds of a fit."""
    return {"model": model, "compile": fit.compile_seconds, "sampling": fit.seconds - fit.compile_seconds}


def _one_at_a_time(rows: list[dict]) -> None:
    """Fit the blocks of each ``blocks.fit`` call one by one (compile, then sample), and record every sampling."""
    from qmsprint.models import blocks as mb

    whole = mb._fit_all

    def fit_each(blocks, draws, tune, chains, seed, target_accept, backend, progress):  # noqa: ANN001, ANN202
        out = []
        for i, b in enumerate(blocks):
            fit = whole([b], draws, tune, chains, int(seed) + i, target_accept, backend, progress)[0]
            rows.append(_row(b.name, fit))
            out.append(fit)
        return out

    mb._fit_all = fit_each

    from qmsprint.models import retry

    again = retry.refit

    def refit_recorded(previous, block, **kwargs):  # noqa: ANN001, ANN003, ANN202
        fit = again(previous, block, **kwargs)
        rows.append(_row(block.name, fit))
        return fit

    retry.refit = refit_recorded


def child(mode: str, source: Path) -> None:
    """Estimate the bundled A/B pilot of ``source`` (a checkout); print the per-model seconds as JSON."""
    sys.path.insert(0, str(source))
    from qmsprint.data import prepare
    from qmsprint.experiments import estimate
    from qmsprint.models import compile_cache as cc
    from qmsprint.spec import load_spec

    rows: list[dict] = []
    if mode != "overlap":
        _one_at_a_time(rows)
    if mode == "jax":
        _use_jax()
    elif mode == "numpyro":
        _use_numpyro()
    spec = load_spec(source / SPEC.relative_to(ROOT))
    cells = prepare(spec).cells
    t0, c0 = time.perf_counter(), time.process_time()
    results = estimate(spec, cells)
    out = {
        "rows": rows,
        "estimate": time.perf_counter() - t0,
        "cpu": time.process_time() - c0,
        "compiled": cc.stats.misses,
        "loaded": cc.stats.hits,
        "converged": all(r.diagnostics.converged for r in results),
        "attempts": {r.metric: getattr(r.diagnostics, "attempts", 1) for r in results},
    }
    print(json.dumps(out))


def _run(mode: str, dirs: dict[str, Path], source: Path = ROOT) -> dict:
    env = {
        **os.environ,
        # base_compiledir: PyTensor keeps its numba cache there too (<base_compiledir>/numba)
        "PYTENSOR_FLAGS": f"base_compiledir={dirs['pytensor']}",
        "NUMBA_CACHE_DIR": str(dirs["numba"]),
        "QMSPRINT_CACHE_DIR": str(dirs["qmsprint"]),
    }
    result = child_json([__file__, "--child", mode, str(source)], env=env, cwd=source)
    print(mode, json.dumps(result), flush=True)
    return result


def _source() -> tuple[Path, str]:
    """The checkout to measure (``--source DIR``, default this one) and its commit."""
    source = ROOT
    if "--source" in sys.argv:
        at = sys.argv.index("--source") + 1
        if at >= len(sys.argv):
            raise SystemExit("--source needs a directory: a checkout of qmsprint")
        source = Path(sys.argv[at]).resolve()
    if not (source / SPEC.relative_to(ROOT)).is_file():
        raise SystemExit(f"--source {source}: no {SPEC.relative_to(ROOT)} there (expected a checkout of qmsprint)")
    commit = subprocess.run(
        ["git", "-C", str(source), "log", "-1", "--format=%h"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return source, commit or "?"


def main() -> None:
    start = load()
    source, commit = _source()
    lines: list[tuple[str, dict]] = []
    with tempfile.TemporaryDirectory(prefix="qmsprint-first-run-") as tmp:
        root = Path(tmp)

        def fresh(name: str) -> Path:
            path = root / name
            path.mkdir()
            return path

        modes = [("apart", "one model after another"), ("overlap", "as a run does")]
        if source != ROOT:  # another checkout: only what its own run does
            modes = [("overlap", f"as a run of {commit} does")]
        for mode, how in modes:
            dirs = {"pytensor": fresh(f"pytensor-{mode}"), "numba": fresh(f"numba-{mode}")}
            dirs["qmsprint"] = fresh(f"qmsprint-{mode}-1")
            lines.append((f"{how}: new machine (every cache empty)", _run(mode, dirs, source)))
            dirs["qmsprint"] = fresh(f"qmsprint-{mode}-2")
            ops = f"{how}: ops cached (PyTensor's and numba's caches filled, qmsprint's empty)"
            lines.append((ops, _run(mode, dirs, source)))
            lines.append((f"{how}: every cache filled (a later run)", _run(mode, dirs, source)))
        if "--jax" in sys.argv:
            try:
                import jax  # noqa: F401
            except ImportError:
                print("--jax: jax is not installed (pip install jax); its line is left out", flush=True)
            else:
                empty = {
                    "pytensor": fresh("pytensor-jax"),
                    "numba": fresh("numba-jax"),
                    "qmsprint": fresh("qmsprint-jax"),
                }
                lines.append(("nutpie's JAX backend, every cache empty", _run("jax", empty)))
        if "--numpyro" in sys.argv:
            try:
                import numpyro  # noqa: F401
            except ImportError:
                print("--numpyro: numpyro is not installed (pip install numpyro); its line is left out", flush=True)
            else:
                empty = {"pytensor": fresh("pytensor-np"), "numba": fresh("numba-np"), "qmsprint": fresh("qmsprint-np")}
                lines.append(("PyMC's NumPyro NUTS (chains vectorised), every cache empty", _run("numpyro", empty)))

    apart = [(label, r) for label, r in lines if r["rows"]]
    models = list(dict.fromkeys(x["model"] for _, r in apart for x in r["rows"]))
    head = "| model | " + " | ".join(f"{label.split(': ', 1)[-1]}: compile / sampling, s" for label, _ in apart) + " |"
    table = [head, "|---|" + "---:|" * len(apart)] if apart else []
    for name in models:
        cells = []
        for _, r in apart:
            got = [x for x in r["rows"] if x["model"] == name]
            cells.append(" + ".join(f"{x['compile']:.1f} / {x['sampling']:.1f}" for x in got) or "-")
        table.append(f"| {name} | " + " | ".join(cells) + " |")
    totals = [
        f"{sum(x['compile'] for x in r['rows']):.1f} / {sum(x['sampling'] for x in r['rows']):.1f}" for _, r in apart
    ]
    if apart:
        table += ["| **total** | " + " | ".join(totals) + " |", ""]
    summary = [
        "| process | estimate, wall s | CPU s | models compiled | loaded from qmsprint's cache | attempts "
        "| converged |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for label, r in lines:
        attempts = ", ".join(f"{m} {n}" for m, n in r["attempts"].items() if n > 1) or "none retried"
        summary.append(
            f"| {label} | {r['estimate']:.1f} | {r['cpu']:.1f} | {r['compiled']} | {r['loaded']} | {attempts} | "
            f"{'yes' if r['converged'] else 'no'} |"
        )
    where = "this checkout" if source == ROOT else str(source)
    append(
        "First estimation of the bundled A/B pilot by cache state (bench/bench_first_run.py)",
        [
            machine(start),
            f"Each line is a fresh process estimating the metrics of experiments/demo_ab.toml of {where} "
            f"(commit {commit}) with the file's sampler settings and retry ladder. Per model: compile (or cache "
            "load) and sampling seconds, one model after another (a retried model shows one pair per sampling).",
            "",
            *table,
            *summary,
        ],
    )


if __name__ == "__main__":
    if "--child" in sys.argv:
        at = sys.argv.index("--child")
        child(sys.argv[at + 1], Path(sys.argv[at + 2]))
    else:
        main()
