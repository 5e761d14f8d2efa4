"""Many pilots of one structure: data baked into each compile or data as inputs; appends to RESULTS.md.

For an A/B and a DiD design (small simulated pilots like the coverage tests': 24 agents, all five
metrics, 2 chains x 400 draws), each line is a fresh process estimating ``--pilots`` pilots (seeds
100, 101, ...) one after another, with qmsprint's compiled-model cache empty at the start:

* ``baked in``: the default of a single run (each pilot's data frozen into its compiled code, so
  every pilot compiles again until the in-process reuse starts at its third sighting of a shape);
* ``data as inputs``: inside :func:`qmsprint.models.many_pilots` (one compile per structure);
* ``data as inputs, later process``: the same again in a new process, with the cache the line above
  filled (what a later monitoring check or calibration batch finds).

PyTensor's own cache of compiled operations is left as it is (filled after the first line). Every line
uses one fixed pseudonym key, so that the cells, and so the draws, are the same across lines.

    python bench/bench_many_pilots.py [--pilots 3]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ROOT, append, child_json, load, machine

# one pseudonym key for every line: the agents' order in the cells (and so the draws) follows the key
KEY = "bench-many-pilots-fixed-key-0123456789"
METRICS = ("csat", "nps", "fcr", "repeat_contact", "handle_time")
CONFIG = {
    "ab": {"design": "ab", "n_agents": 24, "n_teams": 4, "interactions_per_agent": 80, "weeks": 4, "baseline_weeks": 0},
    "did": {
        "design": "did",
        "n_agents": 24,
        "n_teams": 8,
        "unit": "team",
        "interactions_per_agent": 60,
        "weeks": 4,
        "baseline_weeks": 4,
    },
}


def spec_for(design: str, path: Path, periods: dict, hdi_prob: float | None = None) -> Any:
    """The experiment spec of one small pilot: all five metrics, 2 chains x 400 draws, no retries."""
    import datetime as dt

    from qmsprint.spec import parse_spec

    raw: dict[str, Any] = {
        "name": f"many-{design}",
        "design": design,
        "arms": {"control": "checklist", "treatment": "behavior"},
        "data": {"source": str(path)},
        "periods": {
            k: {"start": dt.date.fromisoformat(str(v["start"])), "end": dt.date.fromisoformat(str(v["end"]))}
            for k, v in periods.items()
            if v
        },
        "metrics": [{"name": m} for m in METRICS],
        "sampler": {"draws": 400, "tune": 400, "chains": 2, "seed": 3, "time_budget_s": 0},
    }
    if hdi_prob is not None:
        raw["model"] = {"hdi_prob": hdi_prob}
    return parse_spec(raw, base_dir=path.parent)


def child(design: str, pilots: int, batch: bool) -> None:
    """Estimate ``pilots`` simulated pilots in this process; print one JSON line."""
    import contextlib

    import qmsprint.models.compile_cache as cc
    from qmsprint.data import prepare
    from qmsprint.experiments import estimate
    from qmsprint.models import many_pilots
    from qmsprint.simulate import SimConfig, simulate
    from qmsprint.store import write_simulation

    seconds, means, converged = [], [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(pilots):
            sim = simulate(SimConfig(**CONFIG[design], seed=100 + rep))
            path = write_simulation(sim, Path(tmp) / f"sim{rep}.parquet")[0]
            spec = spec_for(design, path, sim.truth["periods"])
            cells = prepare(spec).cells
            t0 = time.perf_counter()
            with many_pilots() if batch else contextlib.nullcontext():
                results = estimate(spec, cells)
            seconds.append(time.perf_counter() - t0)
            converged += sum(r.diagnostics.converged for r in results)
            means += [float(r.headline.mean) for r in results]
    s = cc.stats
    out = {"seconds": seconds, "compiles": s.misses, "loaded": s.hits, "converged": converged, "means": means}
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pilots", type=int, default=3)
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.child[2] == "batch")
        return
    if args.pilots < 1:
        ap.error(f"--pilots {args.pilots}: at least 1 pilot per line")
    start = load()
    rows = []
    for design in CONFIG:
        common = {**os.environ, "QMSPRINT_KEY": KEY}
        baked = common | {"QMSPRINT_CACHE_DIR": tempfile.mkdtemp(prefix="qmsprint-cache-")}
        inputs = common | {"QMSPRINT_CACHE_DIR": tempfile.mkdtemp(prefix="qmsprint-cache-")}
        for label, mode, env in (
            ("baked in", "single", baked),
            ("data as inputs", "batch", inputs),
            ("data as inputs, later process", "batch", inputs),
        ):
            out = child_json([__file__, "--child", design, str(args.pilots), mode], env=env, cwd=ROOT)
            rows.append((design, label, out))
            print(design, label, out, file=sys.stderr, flush=True)
    lines = [
        machine(start),
        f"{args.pilots} simulated pilots per line (seeds 100-{99 + args.pilots}; 24 agents, five metrics, "
        "2 chains x 400 draws + 400 warm-up, no retries), one after another in a fresh process whose "
        "compiled-model cache is empty at the start, except on the *later process* lines (the cache of the "
        "line above). PyTensor's cache of compiled operations as the machine has it (filled).",
        "",
        "| design | compiles | seconds per pilot (1st, 2nd, ...) | total, s | models compiled | loaded from the cache "
        "| fits converged | estimates as the line above |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    for k, (design, label, out) in enumerate(rows):
        per = ", ".join(f"{x:.1f}" for x in out["seconds"])
        same = (
            "-"
            if k == 0 or rows[k - 1][0] != design
            else ("identical" if out["means"] == rows[k - 1][2]["means"] else "differ (other compiled code)")
        )
        lines.append(
            f"| {design} | {label} | {per} | {sum(out['seconds']):.1f} | {out['compiles']} | {out['loaded']} "
            f"| {out['converged']}/{len(out['seconds']) * len(METRICS)} | {same} |"
        )
    lines += [
        "",
        "Fits converged: at 2 chains x 400 draws many fits fall short of ESS 400 (the coverage tests do not need the "
        "bars); the two ways of compiling are different machine code, so their draws differ at Monte Carlo level.",
    ]
    append("Many pilots of one structure (bench/bench_many_pilots.py)", lines)


if __name__ == "__main__":
    main()
