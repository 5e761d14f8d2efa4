"""Benchmark of the disk cache of compiled models (``make bench``); appends a section to bench/RESULTS.md.

Two fresh processes, one after the other, fit the same models: the five metrics of the bundled
A/B pilot (experiments/demo_ab.toml) and the parts of its checklist diagnosis. The first starts
from an empty cache folder (so it compiles every model), the second finds them cached. For each:
models compiled and loaded, seconds compiling (nutpie/numba, while the previous model samples)
and seconds loading from the cache (graph key, machine code, initial-point function), and the
wall time of the whole process.

    python bench/bench_compile.py                  # both processes, then the RESULTS.md section
    python bench/bench_compile.py --compile-only   # the diagnosis parts compiled without sampling
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

from _common import ROOT, append, child_json, load, machine


def child() -> None:
    """Fit the metrics and the diagnosis; print the cache's counters as JSON."""
    t0 = time.perf_counter()
    from qmsprint.data import prepare
    from qmsprint.diagnosis import diagnose
    from qmsprint.experiments import estimate
    from qmsprint.models import compile_cache as cc
    from qmsprint.spec import load_spec

    spec = load_spec(ROOT / "experiments" / "demo_ab.toml")
    prep = prepare(spec)
    res = estimate(spec, prep.cells)
    d = diagnose(spec)
    s = cc.stats
    print(
        json.dumps(
            {
                "compiled": s.misses,
                "loaded": s.hits,
                "rejected": s.rejected,
                "uncacheable": s.uncacheable,
                "compiling": s.seconds_compiling,
                "loading": s.seconds_loading,
                "wall": time.perf_counter() - t0,
                "converged": all(r.diagnostics.converged for r in res) and d.converged,
            }
        )
    )


def child_compile_only() -> None:
    """Build and compile (no sampling) every part of the diagnosis, both parametrizations; print JSON."""
    t0 = time.perf_counter()
    from qmsprint.data import load_history
    from qmsprint.diagnosis.blocks import outcome_blocks
    from qmsprint.diagnosis.prepare import prepare_diagnosis
    from qmsprint.models import compile_cache as cc
    from qmsprint.models import sampling
    from qmsprint.models.diagnosis import part_model
    from qmsprint.spec import load_spec

    spec = load_spec(ROOT / "experiments" / "demo_ab.toml")
    frame, _ = load_history(spec)
    blocks = outcome_blocks(prepare_diagnosis(frame, spec))
    c0 = time.process_time()
    for b in blocks:
        model, init = part_model(b.arrays, True)
        sampling.compile_model(model, init, "nutpie")
    s = cc.stats
    print(
        json.dumps(
            {
                "models": len(blocks),
                "compiled": s.misses,
                "loaded": s.hits,
                "uncacheable": s.uncacheable,
                "compiling": s.seconds_compiling,
                "loading": s.seconds_loading,
                "cpu": time.process_time() - c0,
                "wall": time.perf_counter() - t0,
            }
        )
    )


def main_compile_only() -> None:
    """Compile the diagnosis parts in two processes (no sampling): the compile cost alone."""
    start = load()
    rows = []
    with tempfile.TemporaryDirectory(prefix="qmsprint-cache-") as folder:
        env = {**os.environ, "QMSPRINT_CACHE_DIR": folder}
        for label in ("first process (empty cache)", "second process (same models)"):
            r = child_json([__file__, "--child-compile-only"], env=env)
            rows.append(
                f"| {label} | {r['models']} | {r['compiled']} | {r['loaded']} | {r['uncacheable']} | "
                f"{r['compiling']:.1f} | {r['loading']:.1f} | {r['cpu']:.1f} |"
            )
            print(rows[-1], flush=True)
    append(
        "Compiled-model cache, compiles only (bench/bench_compile.py --compile-only)",
        [
            machine(start),
            "Two fresh processes in turn build and compile (no sampling) the parts of the checklist diagnosis of "
            "the bundled A/B data, with one cache folder that starts empty.",
            "",
            "| process | models | compiled | loaded from cache | not cacheable | s compiling | s loading | CPU s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
        ],
    )


def main() -> None:
    start = load()
    rows = []
    with tempfile.TemporaryDirectory(prefix="qmsprint-cache-") as folder:
        env = {**os.environ, "QMSPRINT_CACHE_DIR": folder}
        for label in ("first process (empty cache)", "second process (same models)"):
            r = child_json([__file__, "--child"], env=env)
            rows.append(
                f"| {label} | {r['compiled']} | {r['loaded']} | {r['uncacheable']} | {r['compiling']:.1f} | "
                f"{r['loading']:.1f} | {r['compiling'] + r['loading']:.1f} | {r['wall']:.1f} | "
                f"{'yes' if r['converged'] else 'no'} |"
            )
            print(rows[-1], flush=True)
    append(
        "Compiled-model cache (bench/bench_compile.py)",
        [
            machine(start),
            "Two fresh processes in turn fit the 5 metrics of the bundled A/B pilot and the parts of its "
            "checklist diagnosis, with one cache folder that starts empty. Seconds compiling = nutpie/numba "
            "compiles (each beside the previous model's sampling); seconds loading = cache hits (graph key, "
            "machine code, initial-point function).",
            "",
            "| process | models compiled | loaded from cache | not cacheable | s compiling | s loading | "
            "s compile total | wall s | all converged |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|",
            *rows,
        ],
    )


if __name__ == "__main__":
    if "--child" in sys.argv:
        child()
    elif "--child-compile-only" in sys.argv:
        child_compile_only()
    elif "--compile-only" in sys.argv:
        main_compile_only()
    else:
        main()
