"""Peeking simulation (calibration bench): do weekly checks with the expected-loss rule keep wrong scale-ups rare?

Null pilots (no effect on first contact resolution) are analysed after every week, the way
``qmsprint monitor`` sees a pilot whose data grow: the full estimation (``qmsprint.experiments``),
the recommendation (``qmsprint.decide``) and the stopping rule (``qmsprint.decide.stopping``:
stop when the expected loss of the better choice is under ``[decision] max_expected_loss`` x
min_effect and the call is decisive). A pilot stops at the first week the rule says so and acts
on the call; one that never stops acts on the call of its last week. A wrong scale-up is a null
pilot acted on with ``scale_up``. For contrast, on the same fits: the naive peeking rule "scale up
the first week P(better) >= 95%". Pilots with a real effect (2 x min_effect) show how soon the
rule stops when there is something to find.

Usage: ``python bench/bench_peeking.py [null pilots] [effect pilots]`` (default 60 and 20); appends a
section to bench/RESULTS.md.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parent.parent
WEEKS = 6
MIN_EFFECT = 2.0  # pp of first contact resolution
PILOT = dict(design="ab", n_agents=40, n_teams=2, interactions_per_agent=180, weeks=WEEKS, baseline_weeks=0,
             response_rate=(0.5, 0.5), include_nps=False)  # fmt: skip


def _spec(path: Path, start: dt.date, weeks: int, seed: int):
    from qmsprint.spec import parse_spec

    raw = {
        "name": "peek",
        "design": "ab",
        "arms": {"control": "checklist", "treatment": "behavior"},
        "data": {"source": str(path)},
        "periods": {"pilot": {"start": start, "end": start + dt.timedelta(days=7 * weeks - 1)}},
        "metrics": [{"name": "fcr", "min_effect": MIN_EFFECT}],
        "model": {"team_effects": False},
        "sampler": {"draws": 1000, "tune": 500, "chains": 2, "seed": seed},
    }
    return parse_spec(raw, base_dir=path.parent)


def one_pilot(seed: int, effect: float, folder: Path) -> dict:
    """Weekly looks at one simulated pilot: stop week and call of the rule, the naive rule's call, truth."""
    from qmsprint.data import prepare
    from qmsprint.decide import decide
    from qmsprint.decide.stopping import stop_check
    from qmsprint.experiments import estimate
    from qmsprint.simulate import SimConfig, simulate
    from qmsprint.store import write_simulation

    sim = simulate(SimConfig(**PILOT, fcr_effect=effect, seed=seed))
    path = write_simulation(sim, folder / f"p{seed}.parquet")[0]
    start = dt.date.fromisoformat(sim.truth["periods"]["pilot"]["start"])
    out = {"seed": seed, "truth": sim.truth["effects"]["fcr"]["rate"], "stop_week": None, "action": None,
           "naive_week": None, "unconverged": 0}  # fmt: skip
    for week in range(1, WEEKS + 1):
        spec = _spec(path, start, week, seed)
        results = estimate(spec, prepare(spec).cells)
        rec = decide(spec, results, [])
        out["unconverged"] += rec.action == "none"
        if out["naive_week"] is None and results[0].headline.prob_improve >= 0.95:
            out["naive_week"] = week
        if stop_check(spec, results, rec.action, rec.verdicts).stop:
            out["stop_week"], out["action"] = week, rec.action
            break
        out["action"] = rec.action  # the call of the last look, if the rule never stops
    return out


def _rate(k: int, n: int) -> str:
    lo, hi = stats.beta.ppf([0.025, 0.975], [k, k + 1], [n - k + 1, n - k]) if n else (np.nan, np.nan)
    lo = 0.0 if k == 0 else lo
    hi = 1.0 if k == n else hi
    return f"{k}/{n} = {100 * k / n:.1f}% (95% CI {100 * lo:.1f}-{100 * hi:.1f}%)"


def main(n_null: int = 60, n_effect: int = 20) -> None:
    from qmsprint.models import one_blas_thread

    t0 = time.perf_counter()
    rows = {"null": [], "effect": []}
    with tempfile.TemporaryDirectory() as tmp, one_blas_thread():
        for kind, n, effect in (("null", n_null, 0.0), ("effect", n_effect, 0.23)):
            for i in range(n):
                r = one_pilot(1000 * (kind == "effect") + i, effect, Path(tmp))
                rows[kind].append(r)
                print(kind, i, r, flush=True)
    null, eff = rows["null"], rows["effect"]
    wrong = sum(r["action"] == "scale_up" for r in null)
    naive = sum(r["naive_week"] is not None for r in null)
    stopped = [r for r in null if r["stop_week"] is not None]
    eff_up = [r for r in eff if r["action"] == "scale_up"]
    eff_stop = [r["stop_week"] for r in eff if r["stop_week"] is not None]
    seconds = time.perf_counter() - t0
    lines = [
        f"## Peeking: weekly checks with the expected-loss stopping rule (bench/bench_peeking.py), "
        f"{dt.datetime.now():%Y-%m-%d %H:%M}",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; Python "
        f"{platform.python_version()}; load average at the end {os.getloadavg()[0]:.1f}; {seconds / 60:.0f} min.",
        f"A/B pilots of {PILOT['n_agents']} agents, {WEEKS} weeks (about {PILOT['interactions_per_agent'] // WEEKS} "
        f"contacts per agent a week, half of them with an FCR answer), FCR primary with min_effect "
        f"{MIN_EFFECT:g} pp, `max_expected_loss` 0.1 (stop when the better choice's expected loss is at most 0.2 pp "
        "and the call is decisive); the full estimation and recommendation after every week, 2 chains x 1000 draws.",
        "",
        "| pilots | result | rate |",
        "|---|---|---:|",
        f"| {len(null)} null (true effect 0) | wrong scale-ups with weekly checks and the expected-loss rule | "
        f"{_rate(wrong, len(null))} |",
        f"| | stopped early (weeks 1-{WEEKS}), acting on the call | {_rate(len(stopped), len(null))}; calls: "
        f"{sorted({r['action'] for r in stopped})} |",
        f"| | naive peeking: scale up the first week P(better) >= 95% | {_rate(naive, len(null))} |",
        f"| {len(eff)} with a true effect of about 2 x min_effect | scaled up | {_rate(len(eff_up), len(eff))}; "
        f"median stop week {np.median(eff_stop) if eff_stop else float('nan'):.0f} |",
        f"| all | looks whose fit missed the convergence bars (call `none`) | "
        f"{sum(r['unconverged'] for r in null + eff)} |",
        "",
        f"Wrong scale-ups with weekly checks: {wrong} of {len(null)} null pilots "
        f"({'under' if wrong / len(null) < 0.05 else 'NOT under'} 5%), against {naive} with naive peeking. Stopping "
        "needs the better choice's expected loss under a tenth of min_effect and a posterior sd of at most "
        "min_effect, so a program without effect must look more than two posterior sds better than nothing "
        "before it can win, however often the pilot is looked at.",
        "",
    ]
    with open(ROOT / "bench" / "RESULTS.md", "a", encoding="utf-8") as fh:
        fh.write("\n" + "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    main(*args)
