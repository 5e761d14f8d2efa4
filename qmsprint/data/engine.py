"""The machine the data layer runs on: threads and memory for DuckDB (and for local Spark).

DuckDB gets one thread per core this process may use and a memory limit of half the memory
available (at least 256 MiB). DuckDB takes only what a query needs: at 10M interactions the peak
is the same 1.6 GB with a limit of 2 GiB or 8 GB; at 100M the reduction to 2.2M cells needs about
6 GB, and with a limit of 2 GiB it ran out of memory instead of spilling (bench/bench_data.py).
Work beyond the limit spills to this user's private temp folder. The environment variable
``QMSPRINT_DUCKDB_MEMORY`` (e.g. ``4GB``) overrides the limit.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from qmsprint import privacy

__all__ = ["MEMORY_FLOOR", "configure", "duckdb_settings", "machine_resources"]

MEMORY_FLOOR = 256 << 20


def machine_resources() -> tuple[int, int]:
    """Cores this process may use and the memory available to it (bytes; a cgroup limit is respected)."""
    try:
        threads = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        threads = os.cpu_count() or 1
    avail = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                avail = int(line.split()[1]) * 1024
                break
        cap = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if cap.isdigit():
            avail = min(avail, int(cap))
    except OSError:  # pragma: no cover - no /proc or no cgroup v2
        pass
    return max(1, threads), avail


def duckdb_settings() -> dict[str, str]:
    """``threads`` and ``memory_limit`` for DuckDB on this machine (see the module docstring)."""
    threads, avail = machine_resources()
    limit = max(MEMORY_FLOOR, avail // 2)
    memory = os.environ.get("QMSPRINT_DUCKDB_MEMORY") or f"{limit >> 20}MiB"
    return {"threads": str(threads), "memory_limit": memory}


def configure(con: Any) -> None:
    """Settings of a DuckDB connection (other backends are left alone).

    No progress bar (the library never prints); threads and memory limit from the machine
    (:func:`duckdb_settings`); larger work spills to this user's own temp folder.
    """
    if getattr(con, "name", "") != "duckdb":
        return
    try:
        con.raw_sql("SET enable_progress_bar = false")
        for key, value in duckdb_settings().items():
            con.raw_sql(f"SET {key} = '{value}'")
        spill = str(privacy.spill_dir()).replace("'", "''")  # this user's own folder (0700), removed at exit
        con.raw_sql(f"SET temp_directory = '{spill}'")
    except Exception:  # noqa: BLE001 # pragma: no cover - an old DuckDB without a setting
        pass
