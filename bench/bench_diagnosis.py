"""Benchmark of the checklist diagnosis (``make bench``); appends a section to bench/RESULTS.md.

``diagnose`` on the baseline period of the bundled A/B sample (experiments/demo_ab.toml ->
data/sample_ab.parquet), with the spec's sampler, in this (fresh) process: every part's time
(compile + sampling, both parametrizations when the first misses the bars) and its convergence.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    """Run the diagnosis once and append the table to RESULTS.md."""
    from qmsprint.diagnosis import diagnose
    from qmsprint.spec import load_spec

    spec = load_spec(ROOT / "experiments" / "demo_ab.toml")
    t0 = time.perf_counter()
    d = diagnose(spec, progress=lambda msg, frac: print(f"[{time.perf_counter() - t0:6.1f}] {msg}", flush=True))
    total = time.perf_counter() - t0
    m = d.meta
    rows = [
        f"| {key} | {m['blocks'][key]['cells']:,} | {diag.seconds:.1f} | {diag.rhat_max:.3f} | "
        f"{diag.ess_bulk_min:.0f} | {diag.ess_tail_min:.0f} | {diag.divergences} | "
        f"{'yes' if diag.converged else 'no: ' + ', '.join(diag.problems)} |"
        for key, diag in d.diagnostics.items()
    ]
    now = dt.datetime.now()
    text = "\n".join(
        [
            "",
            f"## Checklist diagnosis (bench/bench_diagnosis.py), {now:%Y-%m-%d %H:%M}",
            f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; Python "
            f"{platform.python_version()}; load average at the end {os.getloadavg()[0]:.1f}. Data: the baseline "
            f"of the bundled A/B sample ({m['n_interactions']:,} interactions, {m['n_agents']} agents). Sampler: "
            f"{m['chains']} chains x {m['draws']} draws (+{m['tune']} tuning) per part, one model per part. "
            "Seconds = the kept fit's compile + its sampling's wall time, while the next part compiles (a part "
            "that misses the bars is fitted once more with the other parametrization of its agent effects; the "
            "total includes both).",
            "",
            "| part | cells | seconds | R-hat | bulk ESS | tail ESS | divergences | converged |",
            "|---|---:|---:|---:|---:|---:|---:|---|",
            *rows,
            f"| **whole diagnosis** (load, cells, {len(rows)} fits, summaries) | {m['n_cells']:,} | {total:.1f} | | | "
            f"| | {'all' if d.converged else 'not all'} |",
            "",
        ]
    )
    with open(ROOT / "bench" / "RESULTS.md", "a", encoding="utf-8") as fh:
        fh.write(text)
    print(text)


if __name__ == "__main__":
    main()
