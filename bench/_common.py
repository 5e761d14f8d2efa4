"""Shared by the bench scripts: the machine line of a RESULTS.md section, and appending a section."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"


def load() -> str:
    """The 1-, 5- and 15-minute load averages (other users of the cores show up here)."""
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def machine(load_at_start: str) -> str:
    """One line: machine, cores, OS, Python, and the load average at the start and the end."""
    return (
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; Python "
        f"{platform.python_version()}; load average (1/5/15 min) at the start {load_at_start}, at the end {load()}."
    )


def child_json(
    args: list[str], *, env: dict[str, str] | None = None, cwd: Path = ROOT, python: str = sys.executable
) -> dict:
    """Run ``python *args`` in a child process and return its last line of output, read as JSON.

    A child that fails raises RuntimeError with the end of its error output.
    """
    out = subprocess.run([python, *args], env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])} failed (exit code {out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def append(title: str, lines: list[str]) -> None:
    """Append a section ``## <title>, <date time>`` to RESULTS.md (and print it)."""
    text = "\n".join(["", f"## {title}, {dt.datetime.now():%Y-%m-%d %H:%M}", *lines, ""])
    with open(RESULTS, "a", encoding="utf-8") as fh:
        fh.write(text)
    print(text, flush=True)
