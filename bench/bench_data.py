"""Benchmark of the data layer: validation + repeat contacts + reduction to cells, from Parquet.

    .venv/bin/python bench/bench_data.py [--sizes 1e6 1e7 1e8] [--engine duckdb spark] [--keep]

For each size the input is simulated into /tmp in a separate process (not into the repository;
sizes above 20M are copies of the 10M simulation with distinct ids), then ``prepare(spec)`` runs in
a fresh process whose wall time, CPU time and peak resident memory (``wait4`` rusage, like
``/usr/bin/time -v``) are measured. The peak is explained: the child reports the resident memory
after imports and its high-water mark at the end of each stage, with DuckDB's threads and memory
limit. With ``--engine spark`` the same spec runs with ``[data] engine = "spark"`` (a local session
on all cores; the JVM's own peak is read from /proc before the child exits). Results are appended
to bench/RESULTS.md with machine, date and load average.
Targets (issue 18): 10M interactions in at most 15 s and 3 GB; 100M in at most 150 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qmsprint.simulate import SimConfig

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
WORK = Path("/tmp/qmsprint-bench-data")

CHILD = r"""
import json, os, sys, time
from pathlib import Path
from datetime import date

def hwm():
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmHWM:", "VmRSS:")):
            out[line.split(":")[0]] = int(line.split()[1]) / 1024**2
    return out

def jvm_peak():
    best = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) != os.getpid():
                continue
            for line in (stat.parent / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    best = max(best, int(line.split()[1]) / 1024**2)
        except (OSError, ValueError, IndexError):
            continue
    return best

from qmsprint.spec import parse_spec
from qmsprint.data import prepare
from qmsprint.data.engine import duckdb_settings
after_imports = hwm()["VmRSS"]
data = {"source": sys.argv[1]}
if sys.argv[2] == "spark":
    data["engine"] = "spark"
spec = parse_spec({
    "name": "bench", "design": "ab", "arms": {"control": "checklist", "treatment": "behavior"},
    "data": data,
    "periods": {"baseline": {"start": date(2026, 1, 5), "end": date(2026, 3, 1)},
                "pilot": {"start": date(2026, 3, 2), "end": date(2026, 5, 24)}},
    "metrics": [{"name": n} for n in ("csat", "nps", "repeat_contact", "fcr", "handle_time")],
})
stages = []
t0 = time.perf_counter()
c0 = time.process_time()
def progress(message, fraction):
    stages.append({"stage": message, "s": time.perf_counter() - t0, "cpu": time.process_time() - c0, **hwm()})
p = prepare(spec, progress=progress)
print(json.dumps({
    "prepare_s": time.perf_counter() - t0, "rows": p.rows_read, "cells": len(p.cells),
    "after_imports_gb": after_imports, "stages": stages, "duckdb": duckdb_settings(),
    "jvm_peak_gb": jvm_peak(),
}))
"""

MAKE_INPUT = r"""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(sys.argv[3])))
from bench_data import make_input_here
make_input_here(int(sys.argv[1]), Path(sys.argv[2]))
"""

SIMULATE_MAX = 20_000_000  # larger inputs are copies of the 10M simulation (simulating them needs too much memory)


def replicate(base: Path, copies: int, path: Path) -> Path:
    """``copies`` copies of ``base`` with distinct interaction, customer, agent and team ids (DuckDB)."""
    import duckdb

    suffix = "|| '-' || k::VARCHAR"
    ids = ", ".join(f"{c} {suffix} AS {c}" for c in ("interaction_id", "customer_id", "agent_id", "team"))
    tmp = path.with_suffix(".tmp.parquet")
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("SET preserve_insertion_order = false")
    con.execute(
        f"COPY (SELECT * REPLACE ({ids}) FROM read_parquet('{base}'), range({copies}) t(k)) "
        f"TO '{tmp}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)"
    )
    con.close()
    tmp.replace(path)
    return path


def make_input_here(n: int, path: Path) -> None:
    """Simulate about ``n`` interactions to ``path`` (in this process)."""
    from qmsprint.simulate import simulate
    from qmsprint.store import write_simulation

    if n > SIMULATE_MAX:
        replicate(make_input(10_000_000), round(n / 10_000_000), path)
        return
    write_simulation(simulate(big_config(n)), path)


def big_config(n: int) -> SimConfig:
    """The simulated pilot of about ``n`` interactions (at most :data:`SIMULATE_MAX`): agents grow with ``n``."""
    from qmsprint.simulate import SimConfig

    agents = max(50, n // 2200)
    return SimConfig(n_agents=agents, n_teams=max(5, agents // 12), n_sites=4, interactions_per_agent=1150, seed=1)


def make_input(n: int) -> Path:
    """The input for ``n`` interactions, cached in /tmp; made in a child process.

    The simulation needs several GB; made in this process, a later child would inherit that
    high-water mark in its own ``ru_maxrss`` (the peak a fork reports includes its parent's pages).
    """
    path = WORK / f"interactions_{n}.parquet"
    if not path.exists():
        subprocess.run([sys.executable, "-c", MAKE_INPUT, str(n), str(path), str(Path(__file__).parent)], check=True)
    return path


def measure(path: Path, engine: str) -> dict:
    """Run prepare() in a child process; wall and CPU seconds and peak RSS."""
    t = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), engine], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    out = proc.stdout.read().decode().strip()
    err = proc.stderr.read().decode().strip()
    if status != 0:
        raise SystemExit(f"prepare failed on {path}:\n{err[-3000:]}")
    r = json.loads(out.splitlines()[-1])
    r.update(
        engine=engine,
        process_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_gb=usage.ru_maxrss / 1024**2,  # ru_maxrss is in KiB on Linux
        mb=path.stat().st_size / 1e6,
    )
    return r


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


def _stages(r: dict) -> str:
    """Each stage's wall and CPU seconds and the memory high-water mark at its end."""
    parts = [f"after imports {r['after_imports_gb']:.2f} GB resident"]
    st = r["stages"]
    for a, b in zip(st, st[1:], strict=False):
        wall, cpu = b["s"] - a["s"], b["cpu"] - a["cpu"]
        parts.append(f"{a['stage']} {wall:.1f} s (CPU {cpu:.1f} s, peak {b['VmHWM']:.2f} GB by its end)")
    return "; ".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", type=float, default=[1e6, 1e7])
    ap.add_argument("--engine", nargs="+", choices=["duckdb", "spark"], default=["duckdb"])
    ap.add_argument("--keep", action="store_true", help="keep the generated inputs in /tmp")
    ap.add_argument("--no-record", action="store_true", help="print only; do not append to RESULTS.md")
    args = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    load_start = os.getloadavg()[0]
    rows = []
    for size in args.sizes:
        n = int(size)
        t = time.perf_counter()
        path = make_input(n)
        gen = time.perf_counter() - t
        for engine in args.engine:
            r = measure(path, engine)
            r["gen_s"] = gen
            rows.append(r)
            print(
                f"{engine}: {r['rows']:>12,} rows ({r['mb']:.0f} MB Parquet): prepare {r['prepare_s']:.1f} s, "
                f"process {r['process_s']:.1f} s, CPU {r['cpu_s']:.1f} s, peak {r['peak_gb']:.2f} GB"
                + (f" (JVM {r['jvm_peak_gb']:.2f} GB)" if engine == "spark" else "")
                + f", {r['cells']:,} cells\n  {_stages(r)}",
                flush=True,
            )
        if not args.keep:
            path.unlink(missing_ok=True)
            path.with_name(path.stem + ".truth.json").unlink(missing_ok=True)
    if args.no_record:
        return
    if not RESULTS.exists():
        RESULTS.write_text("# Benchmark results\n\nEach script under bench/ appends its section here.\n")
    duck = rows[0]["duckdb"]
    lines = [
        "",
        f"## Data layer: validation + repeat contacts + cells from Parquet ({dt.datetime.now():%Y-%m-%d %H:%M})",
        "",
        f"Machine: {machine()}. `prepare(spec)` (A/B spec: CSAT, NPS, FCR, repeat contacts, handle time; "
        "7-day window; agent ids pseudonymised) in a fresh process; peak = max resident set size of that "
        f"process (Spark: plus the JVM's own peak); DuckDB threads {duck['threads']}, memory limit "
        f"{duck['memory_limit']} (from the machine); load average {load_start:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end (2 cores: a load above 2 means shared CPUs).",
        "",
        "| engine | interactions | Parquet MB | prepare s | process s (with imports) | CPU s | peak GB | cells |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        peak = f"{r['peak_gb']:.2f}" + (f" + JVM {r['jvm_peak_gb']:.2f}" if r["engine"] == "spark" else "")
        lines.append(
            f"| {r['engine']} | {r['rows']:,} | {r['mb']:.0f} | {r['prepare_s']:.1f} | {r['process_s']:.1f} | "
            f"{r['cpu_s']:.1f} | {peak} | {r['cells']:,} |"
        )
    lines.append("")
    lines.append("Where the time and the peak come from (stage ends, cumulative):")
    lines.append("")
    for r in rows:
        lines.append(f"- {r['engine']}, {r['rows']:,} rows: {_stages(r)}.")
    with RESULTS.open("a") as fh:
        fh.write("\n".join(lines) + "\n")
    print(f"appended to {RESULTS}")


if __name__ == "__main__":
    main()
