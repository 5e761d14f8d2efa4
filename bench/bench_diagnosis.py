"""Benchmark of the checklist diagnosis (``make bench``); appends a section to bench/RESULTS.md.

``diagnose`` on the baseline period of the bundled A/B sample (experiments/demo_ab.toml ->
data/sample_ab.parquet), with the spec's sampler, in two fresh processes one after the other
sharing one compiled-model cache folder that starts empty: the first compiles every part
(a first run on a new machine), the second loads them (every later run of the same data). Per
part: cells, seconds (compile or cache load + sampling, both parametrizations when the first
misses the bars) and convergence; per process: the whole diagnosis (load, cells, fits, summaries)
and its CPU seconds.

    python bench/bench_diagnosis.py
    python bench/bench_diagnosis.py --floor   # the cost of one gradient per part, against NumPy's

``--floor`` times, in one process on one thread, each part's log density and gradient as nutpie
evaluates it (pytensor's numba code) and the least NumPy needs for the same cells: the linear
predictor, its transpose product and one vectorised ``log1p(exp(.))`` per cell and outcome level.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable

from _common import ROOT, append, child_json, load, machine

TARGET = 60.0


def child() -> None:
    """Run the diagnosis once; print its parts and totals as JSON."""
    from qmsprint.diagnosis import diagnose
    from qmsprint.models import compile_cache as cc
    from qmsprint.spec import load_spec

    spec = load_spec(ROOT / "experiments" / "demo_ab.toml")
    t0, c0 = time.perf_counter(), time.process_time()
    d = diagnose(spec, progress=lambda msg, frac: print(f"[{time.perf_counter() - t0:6.1f}] {msg}", file=sys.stderr))
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    m = d.meta
    parts = [
        {
            "key": key,
            "cells": m["blocks"][key]["cells"],
            "seconds": diag.seconds,
            "rhat": diag.rhat_max,
            "ess_bulk": diag.ess_bulk_min,
            "ess_tail": diag.ess_tail_min,
            "div": diag.divergences,
            "draws": diag.draws,
            "ok": diag.converged,
            "problems": list(diag.problems),
        }
        for key, diag in d.diagnostics.items()
    ]
    out = {
        "parts": parts,
        "total": total,
        "cpu": cpu,
        "converged": d.converged,
        "n": m["n_interactions"],
        "agents": m["n_agents"],
        "chains": m["chains"],
        "tune": m["tune"],
        "cells": m["n_cells"],
        "compiled": cc.stats.misses,
        "loaded": cc.stats.hits,
    }
    print(json.dumps(out))


def main() -> None:
    start = load()
    runs = {}
    with tempfile.TemporaryDirectory(prefix="qmsprint-cache-") as folder:
        env = {**os.environ, "QMSPRINT_CACHE_DIR": folder}
        for label in ("first", "second"):
            runs[label] = child_json([__file__, "--child"], env=env)
            print(label, runs[label]["total"], flush=True)
    first, second = runs["first"], runs["second"]
    rows = []
    for a, b in zip(first["parts"], second["parts"], strict=True):
        ok = "yes" if b["ok"] else "no: " + ", ".join(b["problems"])
        rows.append(
            f"| {a['key']} | {a['cells']:,} | {a['draws']} | {a['seconds']:.1f} | {b['seconds']:.1f} | "
            f"{b['rhat']:.3f} | {b['ess_bulk']:.0f} | {b['ess_tail']:.0f} | {b['div']} | {ok} |"
        )
    met = second["converged"] and second["total"] <= TARGET
    append(
        "Checklist diagnosis (bench/bench_diagnosis.py)",
        [
            machine(start),
            f"Data: the baseline of the bundled A/B sample ({second['n']:,} interactions, {second['agents']} agents). "
            f"Sampler: {second['chains']} chains x the draws shown (+{second['tune']} tuning) per part, one model per "
            "part. Two fresh processes in turn with one compiled-model cache folder that starts empty: the first "
            f"compiles every part ({first['compiled']} compiles), the second loads them ({second['loaded']} loaded). "
            "Seconds per part = compile (or cache load) + sampling; the next part compiles while one samples, so "
            "part seconds add up to more than the total. R-hat, ESS and divergences of the second process (the "
            "same seeds give the same draws in both).",
            "",
            "| part | cells | draws | s, 1st process | s, 2nd process | R-hat | bulk ESS | tail ESS | divergences | "
            "converged |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
            *rows,
            f"| **whole diagnosis, 1st process** (load, cells, fits, summaries) | {first['cells']:,} | | "
            f"{first['total']:.1f} | | | | | | {'all' if first['converged'] else 'not all'} |",
            f"| **whole diagnosis, 2nd process** | {second['cells']:,} | | | {second['total']:.1f} | | | | | "
            f"{'all' if second['converged'] else 'not all'} |",
            "",
            f"CPU seconds of the diagnosis: {first['cpu']:.0f} (1st process), {second['cpu']:.0f} (2nd). Target: "
            f"{TARGET:.0f} s with every part converged: {'met' if met else 'NOT met'} by the second process "
            f"({second['total']:.1f} s), {'met' if first['total'] <= TARGET else 'not met'} by the first "
            f"({first['total']:.1f} s).",
        ],
    )


def _per_call(f: Callable[[], object], seconds: float = 1.0) -> float:
    """Seconds per call of ``f`` (repeated for about ``seconds``)."""
    f()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        f()
        n += 1
    return (time.perf_counter() - t0) / n


def floor() -> None:
    """One gradient per part: pytensor's numba code against the least NumPy's vectorised code needs."""
    import numpy as np
    import pytensor
    import pytensor.tensor as pt
    from threadpoolctl import threadpool_limits

    from qmsprint.data import load_history
    from qmsprint.diagnosis.blocks import outcome_blocks
    from qmsprint.diagnosis.prepare import prepare_diagnosis
    from qmsprint.models import diagnosis as md
    from qmsprint.spec import load_spec

    start = load()
    spec = load_spec(ROOT / "experiments" / "demo_ab.toml")
    blocks = outcome_blocks(prepare_diagnosis(load_history(spec)[0], spec))
    rng = np.random.default_rng(1)
    rows = []
    with threadpool_limits(limits=1, user_api="blas"):
        for b in blocks:
            part = b.arrays
            model, _ = md.part_model(part, md.centred_agents(part))
            values = model.value_vars
            logp = model.logp(jacobian=True)
            f = pytensor.function(values, [logp, *pt.grad(logp, values)], mode="NUMBA")
            point = [model.initial_point()[v.name] for v in values]
            numba_s = _per_call(lambda f=f, point=point: f(*point))
            X, codes = np.ascontiguousarray(part.X), part.agents[1]
            beta, u = rng.normal(size=X.shape[1]) * 0.1, rng.normal(size=len(part.agents[0])) * 0.1
            levels = part.y.shape[1] - 1 if part.family == "ordinal" else 1

            def numpy_floor(X=X, codes=codes, beta=beta, u=u, levels=levels) -> None:
                eta = X @ beta + u[codes]
                for _ in range(levels):
                    r = np.log1p(np.exp(-np.abs(eta)))
                X.T @ r

            numpy_s = _per_call(numpy_floor) if part.family != "gaussian" else float("nan")
            rows.append(
                f"| {b.key} | {part.family} | {len(part.n):,} | {X.shape[1]} | {1e3 * numba_s:.3f} | "
                + (f"{1e3 * numpy_s:.3f} | {numba_s / numpy_s:.1f} |" if np.isfinite(numpy_s) else "- | - |")
            )
    append(
        "Checklist diagnosis: one gradient per part (bench/bench_diagnosis.py --floor)",
        [
            machine(start),
            "One thread. *model*: the part's log density and gradient as nutpie evaluates them (pytensor's numba "
            "code). *NumPy floor*: the least the same cells need with NumPy's vectorised functions (linear "
            "predictor, its transpose product, one log1p(exp(.)) per cell and outcome level); a normal part "
            "evaluates summary statistics, not cells.",
            "",
            "| part | family | cells | coefficients | model, ms | NumPy floor, ms | ratio |",
            "|---|---|---:|---:|---:|---:|---:|",
            *rows,
        ],
    )


if __name__ == "__main__":
    if "--child" in sys.argv:
        child()
    elif "--floor" in sys.argv:
        floor()
    else:
        main()
