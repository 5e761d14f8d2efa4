"""App page render times with a cached run, and opening a big run folder; appended to RESULTS.md.

Uses Streamlit's AppTest (the script run on the server, without the browser's drawing time).

1. Every page of the app on one run folder (the first argument, else the newest run under
   ``runs/``, else a new run of ``experiments/demo_ab.toml``): the first visit of each page once
   the folder is loaded, then the median and worst of 5 cached visits. Target: under 1 s.
   ``--waves`` runs a simulated staggered roll-out first (the pilot of ``bench_waves.py``) and times
   that run's pages instead: the roll-out page is listed only for such a run.
2. ``--big RUN_FOLDER`` (e.g. a run of the 10M-interaction pilot): opening it in an app process
   that is already up (imports done on another folder first): checking the folder (manifest and
   every file's hash), loading it and drawing its first page. Target: under 3 s.
   ``--make-big N`` first runs ``qmsprint run --no-diagnosis`` on the simulated pilot of about N
   interactions that ``bench_data.py`` reads (all five metrics, 4 chains x 500 draws) in a child
   process, reports its time, and opens that folder.

    python bench/bench_app.py [RUN_FOLDER | --waves] [--big RUN_FOLDER | --make-big 1e7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, append, load, machine

PAGES = sorted(p.stem for p in (ROOT / "qmsprint" / "ui" / "pages").glob("*.py") if p.stem != "__init__")
REPEATS = 5
TARGET = 1.0
TARGET_OPEN = 3.0


def _run_folder(arg: str | None) -> Path:
    if arg:
        return Path(arg).resolve()
    from qmsprint.serve import newest_run

    newest = newest_run(ROOT / "runs")
    if newest is not None:
        return newest
    from qmsprint.api import run_pilot
    from qmsprint.progress import ConsoleProgress
    from qmsprint.spec import load_spec

    print("no run under runs/: running experiments/demo_ab.toml first", flush=True)
    return Path(run_pilot(load_spec(ROOT / "experiments" / "demo_ab.toml"), progress=ConsoleProgress()).path)


def _waves_run(folder: Path) -> Path:
    """A run folder of a simulated staggered roll-out (bench_waves.py's pilot), written under ``folder``."""
    from bench_waves import PILOT, spec_raw

    from qmsprint.api import run_pilot
    from qmsprint.simulate import SimConfig, simulate
    from qmsprint.spec import parse_spec
    from qmsprint.store import write_simulation

    sim = simulate(SimConfig(**PILOT, seed=5000))
    data = write_simulation(sim, folder / "waves.parquet")[0]
    raw = {**spec_raw(sim.truth, data, seed=1), "output": {"runs_dir": str(folder / "runs")}}
    print("running a simulated staggered roll-out first", flush=True)
    return Path(run_pilot(parse_spec(raw, base_dir=folder)).path)


BIG_RUN = r"""
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from bench_calibration import spec_for
from bench_data import WORK, big_config, make_input
from qmsprint.api import run_pilot
from qmsprint.progress import ConsoleProgress

n = int(float(sys.argv[2]))
path = make_input(n)
spec = spec_for(big_config(n), path, draws=500, tune=300, chains=4, budget=3600.0, name=f"pilot-{n // 1_000_000}m")
out = run_pilot(spec, runs_dir=WORK / "runs", progress=ConsoleProgress(), diagnosis=False)
print("RUN", out.path, out.converged, flush=True)
"""


def _big_run(n: float) -> tuple[Path, float, str]:
    """(run folder, seconds, convergence) of ``qmsprint run --no-diagnosis`` on the pilot of about ``n`` rows."""
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", BIG_RUN, str(Path(__file__).parent), str(n)], stdout=subprocess.PIPE, text=True
    )
    seconds = time.perf_counter() - t
    last = [line for line in proc.stdout.splitlines() if line.startswith("RUN ")]
    if proc.returncode != 0 or not last:
        raise SystemExit(f"the big run failed (exit code {proc.returncode})")
    _, folder, converged = last[-1].split(" ")
    return Path(folder), seconds, converged


def _app(run: Path):
    from streamlit.testing.v1 import AppTest

    os.environ.update(
        {"QMSPRINT_APP_MODE": "workbench", "QMSPRINT_APP_RUN": str(run), "QMSPRINT_APP_RUNS_DIR": str(run.parent)}
    )
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)


def _folder_bytes(run: Path) -> int:
    return sum(p.stat().st_size for p in run.rglob("*") if p.is_file())


def _listed(at: object, page: str) -> bool:
    """Whether the app's navigation lists ``page`` for the loaded run."""
    try:
        at.switch_page(f"qmsprint/ui/pages/{page}.py")  # type: ignore[attr-defined]
    except ValueError:
        return False
    return True


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", nargs="?")
    ap.add_argument("--waves", action="store_true", help="time the pages of a simulated staggered roll-out's run")
    ap.add_argument("--big", help="a big run folder to time opening (e.g. the 10M-interaction pilot)")
    ap.add_argument("--make-big", type=float, help="run the simulated pilot of N interactions first, then open it")
    args = ap.parse_args()
    start = load()
    made = ""
    if args.make_big:
        big_folder, big_s, big_ok = _big_run(args.make_big)
        args.big = str(big_folder)
        made = (
            f"The folder is a `qmsprint run --no-diagnosis` of bench_data.py's simulated pilot of "
            f"{args.make_big:,.0f} interactions (five metrics, 4 chains x 500 draws): {big_s:.0f} s from the "
            f"Parquet file to the folder, all fits converged: {big_ok}. "
        )
    tmp = tempfile.TemporaryDirectory(prefix="qmsprint-bench-app-")
    run = _waves_run(Path(tmp.name)) if args.waves else _run_folder(args.run)
    import streamlit

    at = _app(run)
    t0 = time.perf_counter()
    at.run()
    cold = time.perf_counter() - t0  # imports, folder load, first page
    pages = [p for p in PAGES if _listed(at, p)]  # e.g. the roll-out page only for a roll-out run
    first: dict[str, float] = {}
    warm: dict[str, list[float]] = {p: [] for p in pages}
    for page in pages:  # first visit: folder cached, this page's figures not yet
        at.switch_page(f"qmsprint/ui/pages/{page}.py")
        t = time.perf_counter()
        at.run()
        first[page] = time.perf_counter() - t
        if at.exception:
            print(f"{page}: exception {at.exception[0].value}", file=sys.stderr)
            return 1
    for _ in range(REPEATS):
        for page in pages:
            at.switch_page(f"qmsprint/ui/pages/{page}.py")
            t = time.perf_counter()
            at.run()
            warm[page].append(time.perf_counter() - t)
    rows = []
    for page in pages:
        med = statistics.median(warm[page])
        rows.append((page, first[page], med, max(warm[page])))
        print(f"{page:15s} first {first[page]:6.3f} s   cached median {med:6.3f} s   max {max(warm[page]):6.3f} s")
    ok = all(max(r[1], r[3]) < TARGET for r in rows)
    lines = [
        machine(start),
        f"Streamlit {streamlit.__version__}; run `{run.name}` ({_folder_bytes(run) / 1e6:.1f} MB); AppTest script "
        f"time (server side, no browser drawing); first app run incl. imports and folder load {cold:.2f} s. "
        f"Target: every page under {TARGET:.0f} s with a cached run ({'met' if ok else 'NOT met'}).",
        "",
        f"Pages the app lists for this run: {len(pages)} of {len(PAGES)}"
        + (f" (not listed: {', '.join(sorted(set(PAGES) - set(pages)))})" if len(pages) < len(PAGES) else "")
        + ".",
        "",
        "| page | first visit (s) | cached, median of 5 (s) | cached, max (s) |",
        "|---|---:|---:|---:|",
        *[f"| {p} | {f:.3f} | {m:.3f} | {x:.3f} |" for p, f, m, x in rows],
    ]
    ok_open = True
    if args.big:
        from qmsprint.store import load_run

        big = Path(args.big).resolve()
        t = time.perf_counter()
        load_run(big)
        check = time.perf_counter() - t
        at_big = _app(big)  # this process has imported everything already
        t = time.perf_counter()
        at_big.run()
        opened = time.perf_counter() - t
        at_big.switch_page("qmsprint/ui/pages/metrics.py")
        t = time.perf_counter()
        at_big.run()
        metrics_first = time.perf_counter() - t
        ok_open = opened < TARGET_OPEN and not at_big.exception
        lines += [
            "",
            made + f"Opening `{big.name}` ({_folder_bytes(big) / 1e6:.0f} MB on disk) in the running app: "
            f"{opened:.2f} s to the first page (target {TARGET_OPEN:.0f} s: {'met' if ok_open else 'NOT met'}); "
            f"`load_run` alone, called first in this process (manifest, every file's hash, small JSON files; "
            f"its first call, imports included) {check:.2f} s; its metrics page first drawn in {metrics_first:.2f} s.",
        ]
        print(lines[-1])
    append("App page render times (bench/bench_app.py)", lines)
    tmp.cleanup()
    return 0 if ok and ok_open else 1


if __name__ == "__main__":
    sys.exit(main())
