"""Whole runs as a user starts them (``qmsprint run``) and what ``make demo`` does after the install.

Every command runs as its own process, with one compiled-model cache folder, one PyTensor
compiledir and one numba cache folder that start empty (a new machine):

1. ``make demo-runs``: ``make demo``'s two runs as it starts them (``experiments/demo_ab.toml``
   with the checklist diagnosis, ``experiments/demo_did.toml --no-diagnosis`` beside it), up to
   the app's start (the app then starts in a few seconds);
2. ``make demo-runs`` again: the same models, now in the cache (``make demo`` a second time);
3. ``qmsprint run experiments/demo_ab.toml`` alone, its models cached (every later run of the same
   data on this machine).

Per command: wall time, CPU time (user + system, every thread of every process), peak memory (max
resident set size of the command's largest process), exit code; per run folder, its own seconds
(started to finished) and each stage's from its ``provenance.json``. Targets: ``make demo`` after
the install <= 4 min; the A/B run with the diagnosis <= 120 s.

The CPU seconds give the floor of the work as it is: ``make demo``'s runs cannot end before their
CPU seconds over the machine's cores, in any order or overlap; the same runs with their models
cached give the part of it that is compiling.

    python bench/bench_run.py
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from _common import ROOT, append, load, machine

QMSPRINT = ROOT / ".venv" / "bin" / "qmsprint"
TARGET_DEMO = 240.0
TARGET_RUN = 120.0


def run(cmd: list[str], env: dict[str, str]) -> dict:
    """One command: wall and CPU seconds, peak memory (GB), exit code, and the run folders it wrote."""
    with tempfile.TemporaryFile("w+") as stdout:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=stdout, stderr=subprocess.STDOUT, text=True)
        # this command's own usage (with every process it waited for), not the bench's children so far
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        text = stdout.read()
    if proc.returncode not in (0, 4):
        raise RuntimeError(text[-6000:])
    folders: dict[str, Path] = {}
    for line in text.splitlines():
        for word in line.split():
            p = Path(word.strip("`'\".,:"))
            if "runs" in p.parts and (ROOT / p / "provenance.json").exists():
                folders[p.name] = ROOT / p
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak": usage.ru_maxrss / 1e6,  # KB: the largest process's resident set
        "code": proc.returncode,
        "runs": [_run_row(f) for f in folders.values()],
    }


def _run_row(folder: Path) -> str:
    """A run folder's own seconds (started to finished) and its stages', from its provenance.json."""
    import datetime as dt

    prov = json.loads((folder / "provenance.json").read_text())
    own = (dt.datetime.fromisoformat(prov["finished"]) - dt.datetime.fromisoformat(prov["started"])).total_seconds()
    stages = ", ".join(f"{k} {v:.1f}" for k, v in prov.get("seconds", {}).items())
    return f"`{folder.name}`: {own:.0f} s ({stages})"


def main() -> None:
    start = load()
    with tempfile.TemporaryDirectory(prefix="qmsprint-cache-") as cache:
        # a new machine: PyTensor's compiled ops (its numba cache lives in <base_compiledir>/numba) and
        # numba's own cache start empty too, not only qmsprint's compiled models
        flags = ",".join(f for f in (os.environ.get("PYTENSOR_FLAGS", ""), f"base_compiledir={cache}/pytensor") if f)
        env = {**os.environ, "QMSPRINT_CACHE_DIR": f"{cache}/qmsprint", "PYTENSOR_FLAGS": flags,
               "NUMBA_CACHE_DIR": f"{cache}/numba"}  # fmt: skip
        for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
            env.pop(k, None)
        new = run(["make", "-s", "demo-runs"], env)
        print(new, flush=True)
        cached = run(["make", "-s", "demo-runs"], env)
        print(cached, flush=True)
        again = run([str(QMSPRINT), "run", "experiments/demo_ab.toml"], env)
        print(again, flush=True)
    rows = [
        f"| {label} | {r['wall']:.1f} | {r['cpu']:.0f} | {r['peak']:.1f} | {r['code']} | {'; '.join(r['runs'])} |"
        for label, r in (
            ("`make demo-runs`, empty caches (make demo after the install)", new),
            ("`make demo-runs` again, models cached", cached),
            ("`qmsprint run experiments/demo_ab.toml`, models cached", again),
        )
    ]
    cores = os.cpu_count() or 1
    floor = new["cpu"] / cores
    compiling = new["cpu"] - cached["cpu"]
    reach = "within reach" if floor <= TARGET_DEMO else "out of reach without less work"
    append(
        "Whole runs and make demo (bench/bench_run.py)",
        [
            machine(start),
            "Each line is one command; one compiled-model cache folder, PyTensor's compiledir and numba's cache "
            "folder start empty (a new machine) and are kept from line to line. `make demo-runs` is `make demo` "
            "up to the app's start: the A/B run with its diagnosis and the DiD run beside it. Runs: each run "
            "folder's own seconds (started to finished) and its stages' (provenance.json).",
            "",
            "| command | wall s | CPU s | peak GB | exit code | runs |",
            "|---|---:|---:|---:|---:|---|",
            *rows,
            "",
            f"`make demo` after the install (up to the app's start): {new['wall']:.0f} s "
            f"(target {TARGET_DEMO:.0f} s: {'met' if new['wall'] <= TARGET_DEMO else 'NOT met'}); a second time, "
            f"with the models cached: {cached['wall']:.0f} s. The A/B run with the diagnosis, alone with its "
            f"models cached: {again['wall']:.0f} s (target {TARGET_RUN:.0f} s: "
            f"{'met' if again['wall'] <= TARGET_RUN else 'NOT met'}).",
            "",
            f"Floor of `make demo`'s work on this machine: its runs used {new['cpu']:.0f} CPU seconds, so on "
            f"{cores} cores no order or overlap of them ends before {floor:.0f} s (target {TARGET_DEMO:.0f} s: "
            f"{reach}). Compiling is {compiling:.0f} CPU s of them (the CPU seconds less those of the same runs "
            f"with their models cached, {cached['cpu']:.0f}).",
        ],
    )


if __name__ == "__main__":
    main()
