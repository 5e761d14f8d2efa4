"""Time to render each app page with a cached bundle (target: under 2 s), appended to RESULTS.md.

Uses Streamlit's AppTest (the script run on the server, without the browser's drawing time) on
the run folder given as the first argument, else the newest run under ``runs/``, else a new run
of ``experiments/demo_ab.toml`` (which takes a few minutes).

    python bench/bench_app.py [RUN_FOLDER]
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
PAGES = ["recommendation", "metrics", "segments", "diagnosis", "design", "quality", "compare", "new_run"]
REPEATS = 5
TARGET = 2.0


def _run_folder() -> Path:
    if len(sys.argv) > 1:
        return Path(sys.argv[1]).resolve()
    from qmsprint.serve import newest_run

    newest = newest_run(ROOT / "runs")
    if newest is not None:
        return newest
    from qmsprint.api import run_pilot
    from qmsprint.progress import ConsoleProgress
    from qmsprint.spec import load_spec

    print("no run under runs/: running experiments/demo_ab.toml first", flush=True)
    return Path(run_pilot(load_spec(ROOT / "experiments" / "demo_ab.toml"), progress=ConsoleProgress()).path)


def main() -> int:
    run = _run_folder()
    os.environ.update({"QMSPRINT_APP_MODE": "workbench", "QMSPRINT_APP_RUN": str(run)})
    os.environ["QMSPRINT_APP_RUNS_DIR"] = str(run.parent)
    import streamlit
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    t0 = time.perf_counter()
    at.run()
    cold = time.perf_counter() - t0  # imports, bundle load, first page
    first: dict[str, float] = {}
    warm: dict[str, list[float]] = {p: [] for p in PAGES}
    for page in PAGES:  # first visit: bundle cached, this page's figures not yet
        at.switch_page(f"qmsprint/ui/pages/{page}.py")
        t = time.perf_counter()
        at.run()
        first[page] = time.perf_counter() - t
        if at.exception:
            print(f"{page}: exception {at.exception[0].value}", file=sys.stderr)
            return 1
    for _ in range(REPEATS):
        for page in PAGES:
            at.switch_page(f"qmsprint/ui/pages/{page}.py")
            t = time.perf_counter()
            at.run()
            warm[page].append(time.perf_counter() - t)
    rows = []
    for page in PAGES:
        med = statistics.median(warm[page])
        rows.append((page, first[page], med, max(warm[page])))
        print(f"{page:15s} first {first[page]:6.3f} s   cached median {med:6.3f} s   max {max(warm[page]):6.3f} s")
    ok = all(max(r[1], r[3]) < TARGET for r in rows)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"
    lines = [
        "",
        f"## App page render times (bench/bench_app.py), {dt.datetime.now():%Y-%m-%d %H:%M}",
        f"Machine: {machine}; Python {platform.python_version()}; Streamlit {streamlit.__version__}.",
        f"Run `{run.name}`; AppTest script time (server side, no browser drawing); first app run incl. imports "
        f"and bundle load {cold:.2f} s. Target: every page under {TARGET:.0f} s with a cached bundle "
        f"({'met' if ok else 'NOT met'}).",
        "",
        "| page | first visit (s) | cached, median of 5 (s) | cached, max (s) |",
        "|---|---|---|---|",
        *[f"| {p} | {f:.3f} | {m:.3f} | {x:.3f} |" for p, f, m, x in rows],
        "",
    ]
    with RESULTS.open("a", encoding="utf-8") as fh:
        fh.write("\n".join(lines))
    print(f"appended to {RESULTS}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
