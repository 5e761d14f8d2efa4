"""Benchmark of keyed pseudonyms at the door: what HMAC-SHA256 of every agent id costs `prepare`.

    .venv/bin/python bench/bench_pseudonymise.py [--rows 1e6] [--repeat 3]

1. ``count(distinct agent_id)`` over N rows in DuckDB: raw ids, an HMAC per row inside DuckDB
   (:func:`qmsprint.data.pseudonymise.hmac_expr`), and the pseudonyms of the distinct ids computed
   in Python and joined back (:func:`~qmsprint.data.pseudonymise.pseudonymise_ids`, what ``prepare``
   does); and the Python HMAC of the distinct ids alone.
2. ``prepare(spec)`` on a simulated Parquet file of N interactions, with the pseudonymisation and
   with it replaced by the identity (same process, best of ``--repeat``).

Results are appended to bench/RESULTS.md with machine and date.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
WORK = Path("/tmp/qmsprint-bench-pseudonymise")


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=float, default=1e6)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    n = int(args.rows)

    import ibis
    import pandas as pd

    import qmsprint.data as data_layer
    from qmsprint.data.pseudonymise import KEY_ENV, hmac_expr, pseudonymise_ids, pseudonyms
    from qmsprint.simulate import SimConfig, simulate
    from qmsprint.spec import parse_spec
    from qmsprint.store import write_simulation

    os.environ.setdefault(KEY_ENV, "bench-key-0123456789abcdef0123456789abcdef")
    key = os.environ[KEY_ENV].encode()
    con = ibis.duckdb.connect()
    agents = 2000
    t = con.create_table(
        "t", ibis.memtable(pd.DataFrame({"agent_id": [f"E{(i * 7919) % agents:05d}" for i in range(n)]}))
    )
    raw = _best(lambda: con.execute(t.agent_id.nunique()), args.repeat)
    hashed = _best(lambda: con.execute(hmac_expr(t.agent_id, key, "agent").nunique()), args.repeat)
    lookup = _best(lambda: con.execute(pseudonymise_ids(con, t, key).agent_id.nunique()), args.repeat)
    ids = [f"E{i:05d}" for i in range(agents)]
    python = _best(lambda: pseudonyms(ids, key), args.repeat)

    WORK.mkdir(parents=True, exist_ok=True)
    shape = {"weeks": 6, "baseline_weeks": 6, "seed": 5}
    source = WORK / f"sim-{n}.parquet"
    if not source.exists():  # 200 agents; interactions_per_agent is per agent and period
        sim = simulate(SimConfig(n_agents=200, n_teams=10, interactions_per_agent=max(1, n // 400), **shape))
        write_simulation(sim, source)
    periods = simulate(SimConfig(n_agents=4, n_teams=2, interactions_per_agent=2, **shape)).truth["periods"]
    spec = parse_spec(
        {"name": "bench", "design": "ab", "arms": {"control": "checklist", "treatment": "behavior"},
         "data": {"source": str(source)}, "periods": periods,
         "metrics": [{"name": m} for m in ("csat", "repeat_contact", "fcr", "handle_time")]},
        base_dir=WORK,
    )  # fmt: skip
    rows = data_layer.prepare(spec).rows_read
    with_key = _best(lambda: data_layer.prepare(spec), args.repeat)
    original = data_layer.pseudonymise_ids
    data_layer.pseudonymise_ids = lambda con, table, key, columns=("agent_id",): table
    try:
        without = _best(lambda: data_layer.prepare(spec), args.repeat)
    finally:
        data_layer.pseudonymise_ids = original

    load = os.getloadavg()[0]
    lines = [
        f"\n## Keyed pseudonyms (bench/bench_pseudonymise.py), {dt.datetime.now():%Y-%m-%d %H:%M}",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; Python "
        f"{platform.python_version()}; load average at the end {load:.1f}. Best of {args.repeat}.",
        "",
        "| what | rows | seconds |",
        "|---|---:|---:|",
        f"| DuckDB `count(distinct agent_id)`, raw ids | {n:,} | {raw:.3f} |",
        f"| same over HMAC-SHA256 pseudonyms, one per row in DuckDB | {n:,} | {hashed:.3f} |",
        f"| same over pseudonyms of the distinct ids joined back (what `prepare` does) | {n:,} | {lookup:.3f} |",
        f"| pseudonyms of {agents:,} distinct ids in Python | {agents:,} | {python:.4f} |",
        f"| `prepare` (4 metrics) with pseudonyms at the door | {rows:,} | {with_key:.2f} |",
        f"| `prepare` with the pseudonymisation replaced by the identity | {rows:,} | {without:.2f} |",
        "",
        f"An HMAC per row costs {hashed - raw:.2f} s per {n:,} rows; the lookup of the distinct ids "
        f"{lookup - raw:.2f} s. In `prepare` pseudonyms at the door cost {with_key - without:+.2f} s "
        f"({100 * (with_key - without) / without:+.0f}%; timings on a shared machine vary by a few percent).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    with RESULTS.open("a", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
