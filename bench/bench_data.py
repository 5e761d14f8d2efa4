"""Benchmark of the data layer: validation + repeat contacts + reduction to cells, from Parquet.

    .venv/bin/python bench/bench_data.py [--sizes 1e6 1e7] [--keep]

For each size the input is simulated into /tmp (not into the repository; sizes above 20M are copies
of the 10M simulation with distinct ids), then `prepare(spec)` runs
in a fresh subprocess whose wall time and peak resident memory (``wait4`` rusage, like
``/usr/bin/time -v``) are measured. Results are appended to bench/RESULTS.md with machine and date.
Targets: 10M interactions under 60 s and under 4 GB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
WORK = Path("/tmp/qmsprint-bench-data")

CHILD = r"""
import sys, time
from datetime import date
from qmsprint.spec import parse_spec
from qmsprint.data import prepare
spec = parse_spec({
    "name": "bench", "design": "ab", "arms": {"control": "checklist", "treatment": "behavior"},
    "data": {"source": sys.argv[1]},
    "periods": {"baseline": {"start": date(2026, 1, 5), "end": date(2026, 3, 1)},
                "pilot": {"start": date(2026, 3, 2), "end": date(2026, 5, 24)}},
    "metrics": [{"name": n} for n in ("csat", "nps", "repeat_contact", "fcr", "handle_time")],
})
t = time.perf_counter()
p = prepare(spec)
print(f"{time.perf_counter() - t:.2f} {p.rows_read} {len(p.cells)}")
"""


SIMULATE_MAX = 20_000_000  # larger inputs are copies of the 10M simulation (simulating them needs too much memory)


def replicate(base: Path, copies: int, path: Path) -> Path:
    """``copies`` copies of ``base`` with distinct interaction, customer, agent and team ids (DuckDB)."""
    import duckdb

    suffix = "|| '-' || k::VARCHAR"
    ids = ", ".join(f"{c} {suffix} AS {c}" for c in ("interaction_id", "customer_id", "agent_id", "team"))
    tmp = path.with_suffix(".tmp.parquet")
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    con.execute(
        f"COPY (SELECT * REPLACE ({ids}) FROM read_parquet('{base}'), range({copies}) t(k)) "
        f"TO '{tmp}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)"
    )
    con.close()
    tmp.replace(path)
    return path


def make_input(n: int) -> Path:
    """Simulate about ``n`` interactions into /tmp (cached by size); above 20M, copies of the 10M one."""
    from qmsprint.simulate import SimConfig, simulate
    from qmsprint.store import write_simulation

    path = WORK / f"interactions_{n}.parquet"
    if path.exists():
        return path
    if n > SIMULATE_MAX:
        return replicate(make_input(10_000_000), round(n / 10_000_000), path)
    agents = max(50, n // 2200)
    cfg = SimConfig(n_agents=agents, n_teams=max(5, agents // 12), n_sites=4, interactions_per_agent=1150, seed=1)
    sim = simulate(cfg)
    write_simulation(sim, path)
    return path


def measure(path: Path) -> dict:
    """Run prepare() in a child process; wall seconds and peak RSS."""
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    out = proc.stdout.read().decode().strip()
    err = proc.stderr.read().decode().strip()
    if status != 0:
        raise SystemExit(f"prepare failed on {path}:\n{err[-2000:]}")
    inner, rows, cells = out.split()
    return {
        "rows": int(rows),
        "cells": int(cells),
        "prepare_s": float(inner),
        "process_s": wall,
        "peak_gb": usage.ru_maxrss / 1024**2,  # ru_maxrss is in KiB on Linux
        "mb": path.stat().st_size / 1e6,
    }


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GB RAM, Python {platform.python_version()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", type=float, default=[1e6, 1e7])
    ap.add_argument("--keep", action="store_true", help="keep the generated inputs in /tmp")
    args = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in args.sizes:
        n = int(size)
        t = time.perf_counter()
        path = make_input(n)
        gen = time.perf_counter() - t
        r = measure(path)
        r["gen_s"] = gen
        rows.append(r)
        print(
            f"{r['rows']:>12,} rows ({r['mb']:.0f} MB Parquet): prepare {r['prepare_s']:.1f} s, "
            f"process {r['process_s']:.1f} s, peak {r['peak_gb']:.2f} GB, {r['cells']:,} cells",
            flush=True,
        )
        if not args.keep:
            path.unlink(missing_ok=True)
            path.with_name(path.stem + ".truth.json").unlink(missing_ok=True)
    if not RESULTS.exists():
        RESULTS.write_text("# Benchmark results\n\nEach script under bench/ appends its section here.\n")
    lines = [
        "",
        f"## Data layer: validation + repeat contacts + cells from Parquet ({dt.date.today()})",
        "",
        f"Machine: {machine()}. `prepare(spec)` (A/B spec: CSAT, NPS, FCR, repeat contacts, handle time; "
        "7-day window) in a fresh process; peak = max resident set size of that process; "
        f"load average at the end {os.getloadavg()[0]:.1f}.",
        "",
        "| interactions | Parquet MB | prepare s | process s (incl. imports) | peak memory GB | cells |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['rows']:,} | {r['mb']:.0f} | {r['prepare_s']:.1f} | {r['process_s']:.1f} | "
            f"{r['peak_gb']:.2f} | {r['cells']:,} |"
        )
    with RESULTS.open("a") as fh:
        fh.write("\n".join(lines) + "\n")
    print(f"appended to {RESULTS}")


if __name__ == "__main__":
    main()
