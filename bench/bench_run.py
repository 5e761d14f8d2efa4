"""Whole runs as a user starts them (``qmsprint run``) and what ``make demo`` does after the install.

Every command runs as its own process (``.venv/bin/qmsprint``), with one compiled-model cache
folder, one PyTensor compiledir and one numba cache folder that start empty (a new machine):

1. ``make demo``'s two runs, in its order: ``qmsprint run experiments/demo_did.toml --no-diagnosis``
   then ``qmsprint run experiments/demo_ab.toml`` (with the checklist diagnosis). Their sum is
   ``make demo`` after the install, up to the app's start (the app then starts in a few seconds).
2. ``qmsprint run experiments/demo_ab.toml`` again: the same models, now in the cache (every later
   run of the same data on this machine).

Per run: wall time, CPU time (user + system, every thread), each stage's seconds from the run's
``provenance.json``, peak memory (max resident set size). Targets: ``make demo`` after the install
<= 4 min; the A/B run with the diagnosis <= 120 s.

The CPU seconds give the floor of the work as it is: ``make demo``'s two runs cannot end before
their CPU seconds over the machine's cores, in any order or overlap; the same run with its models
cached gives the part of it that is compiling.

    python bench/bench_run.py
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path

from _common import ROOT, append, load, machine

QMSPRINT = ROOT / ".venv" / "bin" / "qmsprint"
TARGET_DEMO = 240.0
TARGET_RUN = 120.0


def run(args: list[str], env: dict[str, str]) -> dict:
    """One CLI run: wall and CPU seconds, stage seconds, peak memory (GB), exit code, its folder."""
    t0 = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([str(QMSPRINT), *args], cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    folder = None
    for line in (out.stdout + out.stderr).splitlines():
        for word in line.split():
            p = Path(word.strip("`'\".,"))
            if "runs" in p.parts and (ROOT / p / "provenance.json").exists():
                folder = ROOT / p
    stages = {}
    if folder is not None:
        stages = json.loads((folder / "provenance.json").read_text()).get("seconds", {})
    if out.returncode not in (0, 4):
        raise RuntimeError(out.stderr[-3000:])
    return {
        "wall": wall,
        "cpu": cpu,
        "stages": stages,
        "peak": max(after.ru_maxrss, before.ru_maxrss) / 1e6,
        "code": out.returncode,
        "folder": folder.name if folder else "?",
    }


def main() -> None:
    start = load()
    rows = []
    with tempfile.TemporaryDirectory(prefix="qmsprint-cache-") as cache:
        # a new machine: PyTensor's compiled ops (its numba cache lives in <base_compiledir>/numba) and
        # numba's own cache start empty too, not only qmsprint's compiled models
        flags = ",".join(f for f in (os.environ.get("PYTENSOR_FLAGS", ""), f"base_compiledir={cache}/pytensor") if f)
        env = {**os.environ, "QMSPRINT_CACHE_DIR": f"{cache}/qmsprint", "PYTENSOR_FLAGS": flags,
               "NUMBA_CACHE_DIR": f"{cache}/numba"}  # fmt: skip
        did = run(["run", "experiments/demo_did.toml", "--no-diagnosis"], env)
        ab = run(["run", "experiments/demo_ab.toml"], env)
        again = run(["run", "experiments/demo_ab.toml"], env)
    for label, r in (
        ("demo_did --no-diagnosis, empty cache", did),
        ("demo_ab with diagnosis, empty cache", ab),
        ("demo_ab with diagnosis, models cached", again),
    ):
        stages = ", ".join(f"{k} {v:.1f}" for k, v in r["stages"].items())
        rows.append(f"| {label} | {r['wall']:.1f} | {r['cpu']:.0f} | {stages} | {r['code']} | `{r['folder']}` |")
        print(rows[-1], flush=True)
    demo = did["wall"] + ab["wall"]
    cores = os.cpu_count() or 1
    floor = (did["cpu"] + ab["cpu"]) / cores
    compiling = ab["cpu"] - again["cpu"]
    reach = "within reach" if floor <= TARGET_DEMO else "out of reach without less work"
    append(
        "Whole runs and make demo (bench/bench_run.py)",
        [
            machine(start),
            "Each line is one `qmsprint run` process; one compiled-model cache folder, PyTensor's compiledir "
            "and numba's cache folder start empty (a new machine). Stage seconds from the run's provenance.json.",
            "",
            "| run | wall s | CPU s | stages (s) | exit code | folder |",
            "|---|---:|---:|---|---:|---|",
            *rows,
            "",
            f"`make demo` after the install (its two runs, up to the app's start): {demo:.0f} s "
            f"(target {TARGET_DEMO:.0f} s: {'met' if demo <= TARGET_DEMO else 'NOT met'}). The A/B run with the "
            f"diagnosis: {ab['wall']:.0f} s on a new machine, {again['wall']:.0f} s once its models are cached "
            f"(target {TARGET_RUN:.0f} s: {'met' if again['wall'] <= TARGET_RUN else 'NOT met'} with the cache, "
            f"{'met' if ab['wall'] <= TARGET_RUN else 'not met'} without). Peak memory of a run: "
            f"{max(did['peak'], ab['peak'], again['peak']):.1f} GB.",
            "",
            f"Floor of `make demo`'s work on this machine: its two runs used {did['cpu'] + ab['cpu']:.0f} CPU seconds, "
            f"so on {cores} cores no order or overlap of them ends before {floor:.0f} s "
            f"(target {TARGET_DEMO:.0f} s: {reach}). "
            f"The A/B run's compiling (its CPU seconds on a new machine less those with its models cached): "
            f"{compiling:.0f} CPU s of its {ab['cpu']:.0f}.",
        ],
    )


if __name__ == "__main__":
    main()
