"""Speed of pilot design and health checks on the bundled demo data, appended to RESULTS.md.

* ``check_health`` on the prepared demo pilots (A/B and DiD): it runs inside ``qmsprint validate``,
  so it must stay a small fraction of ``prepare``;
* ``plan_pilot`` with the default grid (4 agent counts x 3 lengths, ``design_grid.simulations``
  simulated pilots analysed at every size, the demo's five metrics), baseline estimation included,
  and the quality of its assurance grid: Monte Carlo error per size and between neighbouring sizes,
  whether the simulated shares are monotone in agents and weeks before the monotone fit, how far the
  fit moved them, and the grid itself;
* ``assign_units`` on the demo's 120 agents.

    python bench/bench_design.py
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
REPEATS = 3


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (OSError, ValueError):
        mem = float("nan")
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GB RAM, Python {platform.python_version()}"


def best_of(fn, repeats: int = REPEATS) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> int:
    from qmsprint.data import prepare
    from qmsprint.design import assign_units, history_frame, plan_pilot
    from qmsprint.health import check_health
    from qmsprint.spec import load_spec

    rows, grids = [], []
    for name in ("demo_ab", "demo_did"):
        spec = load_spec(ROOT / "experiments" / f"{name}.toml")
        t_prep, prepared = best_of(lambda spec=spec: prepare(spec), 1)
        t_health, checks = best_of(lambda spec=spec, prepared=prepared: check_health(spec, prepared))
        frame = history_frame(spec)
        t_plan, plan = best_of(lambda spec=spec, frame=frame: plan_pilot(spec, baseline=frame), 1)
        t_assign, _ = best_of(lambda spec=spec, frame=frame: assign_units(spec, frame=frame))
        n = len(prepared.cells)
        cells_grid = len(plan.table[plan.table["metric"] != "overall"])
        rows.append(
            f"| {name} | {prepared.rows_used:,} | {n:,} | {t_prep:.1f} | {t_health:.2f} | {len(checks)} | "
            f"{cells_grid} | {t_plan:.1f} | {t_assign:.2f} |"
        )
        print(rows[-1], flush=True)
        m = plan.meta
        over = plan.table[plan.table["metric"] == "overall"]
        grid = over.pivot(index="agents_per_arm", columns="weeks", values="assurance")
        raw = over.pivot(index="agents_per_arm", columns="weeks", values="assurance_raw")
        rec = plan.recommended
        grids.append(
            f"**{name}** ({m['simulations']:,} simulated pilots, nested at every size): standard error at most "
            f"{m['mc_error']:.3f} per size and {m['mc_error_difference']:.3f} for the difference between "
            f"neighbouring sizes; simulated shares monotone before the fit: {'yes' if m['raw_monotone'] else 'no'} "
            f"(largest drop {m['raw_largest_drop']:.3f}); largest correction by the monotone fit "
            f"{m['largest_correction']:.3f}; reported grid monotone: {'yes' if m['monotone'] else 'no'}; "
            + (
                f"recommended {rec['agents_per_arm']} agents per arm x {rec['weeks']} weeks ({rec['assurance']:.0%})."
                if rec
                else "no size reaches the target."
            )
            + "\n\nP(decisive), reported (simulated before the fit):\n\n| agents per arm | "
            + " | ".join(f"{w} weeks" for w in grid.columns)
            + " |\n|---:|"
            + "---:|" * len(grid.columns)
            + "\n"
            + "\n".join(
                f"| {k} | " + " | ".join(
                    "n/a" if grid.loc[k, w] != grid.loc[k, w] else f"{grid.loc[k, w]:.3f} ({raw.loc[k, w]:.3f})"
                    for w in grid.columns
                ) + " |"
                for k in grid.index
            )
        )  # fmt: skip
        print(grids[-1], flush=True)
    if not RESULTS.exists():
        RESULTS.write_text("# Benchmark results\n\nEach script under bench/ appends its section here.\n")
    text = (
        f"\n## Design and health checks on the demo data ({dt.date.today()})\n\n"
        f"Machine: {machine()}; load average {os.getloadavg()[0]:.1f} (shared machine). "
        f"`check_health` best of {REPEATS} on the prepared pilot (fast A/A, no model); "
        "`plan_pilot` with the default grid (4 x 3 sizes, the same simulated pilots analysed at every size; "
        f"baseline estimation included); `assign_units` best of {REPEATS} (baseline rows already loaded).\n\n"
        "| spec | interactions | cells | prepare s | check_health s | checks | metric x size cells | "
        "plan_pilot s | assign_units s |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n"
        "\nAssurance grid: P(decisive) = P(scale up, iterate or stop under the decision rule), effects drawn "
        "from the design prior and ICCs from their uncertainty.\n\n" + "\n\n".join(grids) + "\n"
    )
    with RESULTS.open("a") as fh:
        fh.write(text)
    print(f"appended to {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
