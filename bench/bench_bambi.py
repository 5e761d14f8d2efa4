"""Side by side with what a statistician would otherwise fit row by row; appends a section to bench/RESULTS.md.

On the same simulated pilot (qmsprint's simulator: agent-randomized A/B, pilot period only, one
team, no segments), in one run:

* **CSAT** at about 10k and 100k survey responses: Bambi's ``csat ~ treat + (1|agent)``
  cumulative-logit model fitted row by row, against qmsprint's CSAT model on cells (load,
  validation, cells, compile, sampling), once in a process with an empty compiled-model cache
  (a first pilot on a new machine) and once in the next process with that cache (every pilot after);
* **FCR** at 100k and 1M rows: a row-level Bernoulli PyMC model (``a + b treat + u_agent``)
  against qmsprint's FCR model.

Both sides sample 4 chains x the same draws and tuning with nutpie, by default at the same target
acceptance (qmsprint's for effect models, 0.95; ``--row-accept 0.8`` gives the row-level side Bambi's
and PyMC's own default), each clock starting with its libraries imported (the seconds of those
imports are reported apart). Reported: both times, the
ratios, and the difference of the latent treatment effects in posterior sds
(``|mean_row - mean_cells| / sd_cells``). Targets: ratio >= 25x at 10k, >= 200x at 100k (CSAT);
difference < 0.1 sd.

The row-level fits run in their own venv, because Bambi pulls in arviz-plots, which breaks
``import arviz`` in qmsprint's venv::

    python3.11 -m venv bench/.venv-bambi && bench/.venv-bambi/bin/pip install -e ".[bench]"
    .venv/bin/python bench/bench_bambi.py [--sizes csat:10000,csat:100000,fcr:100000,fcr:1000000] [--row-accept 0.8]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, append, child_json, load, machine

from qmsprint.spec_sampler import EFFECT_TARGET_ACCEPT

BAMBI_PYTHON = ROOT / "bench" / ".venv-bambi" / "bin" / "python"
DEFAULT_SIZES = "csat:10000,csat:100000,fcr:100000,fcr:1000000"
N_AGENTS = 100
DRAWS, TUNE, CHAINS = 1000, 300, 4
TARGETS = {("csat", 10_000): 25.0, ("csat", 100_000): 200.0}


def simulate(metric: str, rows: int, folder: Path) -> tuple[Path, Path]:
    """Pilot rows with about ``rows`` answers of ``metric``: (qmsprint's Parquet, the row-level Parquet)."""
    import pandas as pd

    from qmsprint.simulate import SimConfig, simulate

    response = 0.2 if metric == "csat" else 1.0
    weeks = 4
    per_agent = max(1, round(rows / (N_AGENTS * response * 1.1)))  # follow-up contacts add about 10%
    cfg = SimConfig(
        design="ab",
        n_agents=N_AGENTS,
        n_teams=1,
        n_sites=1,
        interactions_per_agent=per_agent,
        weeks=weeks,
        baseline_weeks=0,
        response_rate=(response, response),
        seed=20261124,
    )
    frame = simulate(cfg).frame
    path = folder / f"{metric}_{rows}.parquet"
    frame.to_parquet(path)
    col = metric
    ans = frame[frame[col].notna()]
    rowlevel = pd.DataFrame(
        {
            "y": ans[col].astype(int).to_numpy(),
            "treat": (ans["arm"] == cfg.arms[1]).astype(int).to_numpy(),
            "agent": ans["agent_id"].astype(str).to_numpy(),
        }
    )
    rpath = folder / f"{metric}_{rows}_rows.parquet"
    rowlevel.to_parquet(rpath)
    return path, rpath


def spec_for(metric: str, data: Path, start, weeks: int):
    """A spec with one metric and no segments, on ``data`` (pilot period only)."""
    import datetime as dt

    from qmsprint.spec import parse_spec

    end = start + dt.timedelta(weeks=weeks) - dt.timedelta(days=1)
    raw = {
        "name": f"bench-{metric}",
        "design": "ab",
        "arms": {"control": "checklist", "treatment": "behavior"},
        "data": {"source": str(data)},
        "periods": {"pilot": {"start": start, "end": end}},
        "metrics": [{"name": metric, "role": "primary"}],
        "sampler": {"draws": DRAWS, "tune": TUNE, "chains": CHAINS, "seed": 7},
    }
    return parse_spec(raw, base_dir=data.parent)


def qmsprint_side(metric: str, data: Path) -> tuple[dict, dict]:
    """Fit qmsprint's model in a fresh process with an empty compiled-model cache, then in another with it."""
    code = (
        "import json, sys, time; sys.path.insert(0, 'bench'); t0 = time.perf_counter()\n"
        "from bench_bambi import qmsprint_fit\n"
        f"out = qmsprint_fit({metric!r}, {str(data)!r}); out['process'] = time.perf_counter() - t0\n"
        "print(json.dumps(out))\n"
    )
    with tempfile.TemporaryDirectory(prefix="qmsprint-cache-") as cache:
        env = {**os.environ, "QMSPRINT_CACHE_DIR": cache}
        return child_json(["-c", code], env=env), child_json(["-c", code], env=env)


def import_libraries() -> float:
    """Import qmsprint and the libraries it loads on first use (PyMC, nutpie, PyTensor's numba backend,
    Ibis's DuckDB backend); seconds.

    Both sides start their clock with their libraries imported (the row-level side: PyMC, Bambi,
    nutpie, PyTensor's numba backend), as in an analyst's session: an import is paid once per session,
    not per fit.
    """
    t0 = time.perf_counter()
    import ibis
    import nutpie  # noqa: F401
    import pymc  # noqa: F401
    import pytensor.link.numba.dispatch  # noqa: F401 - nutpie's compile backend

    import qmsprint.data
    import qmsprint.experiments  # noqa: F401

    ibis.duckdb  # noqa: B018 - Ibis imports a backend on its first use
    return time.perf_counter() - t0


def qmsprint_fit(metric: str, data: str) -> dict:
    """prepare + estimate of one metric; seconds, latent effect mean and sd, convergence."""
    imports = import_libraries()
    from qmsprint.data import prepare
    from qmsprint.experiments import estimate
    from qmsprint.models import draws_of
    from qmsprint.simulate import SimConfig

    start = SimConfig().start
    spec = spec_for(metric, Path(data), start, 4)
    t0 = time.perf_counter()
    prep = prepare(spec)
    t1 = time.perf_counter()
    (res,) = estimate(spec, prep.cells)
    seconds = time.perf_counter() - t0
    effect_name = next(v for v in res.idata.posterior.data_vars if str(v).endswith("_effect"))
    d = draws_of(res.idata, effect_name).ravel()
    return {
        "seconds": seconds,
        "imports": imports,
        "prepare": t1 - t0,
        "fit": float(res.diagnostics.seconds),  # compiling (or loading) and sampling the model
        "mean": float(d.mean()),
        "sd": float(d.std()),
        "cells": int(len(prep.cells)),
        "converged": bool(res.diagnostics.converged),
        "rhat": res.diagnostics.rhat_max,
        "ess_bulk": res.diagnostics.ess_bulk_min,
    }


def row_side(metric: str, rows_path: Path, accept: float) -> dict:
    model = "bambi-cumulative" if metric == "csat" else "pymc-bernoulli"
    cmd = [str(ROOT / "bench" / "_bambi_fit.py"), str(rows_path), "--model", model]
    cmd += ["--draws", str(DRAWS), "--tune", str(TUNE), "--chains", str(CHAINS)]
    cmd += ["--target-accept", str(accept)]
    return child_json(cmd, python=str(BAMBI_PYTHON))


def ratio(row: dict, side: dict, target: float | None) -> str:
    """The row-level fit's seconds over qmsprint's, with the verdict against ``target`` when there is one."""
    x = row["seconds"] / side["seconds"]
    return f"{x:.0f}x" + (f" {'met' if x >= target else 'NOT met'} (>= {target:.0f}x)" if target else "")


def parts(side: dict) -> str:
    """Where qmsprint's seconds went: the data, the fit (loading or compiling, and sampling), the rest."""
    rest = side["seconds"] - side["prepare"] - side["fit"]
    return f"data {side['prepare']:.1f}, fit {side['fit']:.1f}, rest {rest:.1f}"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default=DEFAULT_SIZES, help="metric:rows,... (csat or fcr)")
    ap.add_argument(
        "--row-accept",
        type=float,
        default=EFFECT_TARGET_ACCEPT,
        help=f"the row-level side's target acceptance (default qmsprint's {EFFECT_TARGET_ACCEPT}; Bambi's own is 0.8)",
    )
    args = ap.parse_args()
    if not BAMBI_PYTHON.exists():
        print(f"no {BAMBI_PYTHON}: see this script's docstring for the venv", file=sys.stderr)
        return 1
    start = load()
    rows = []
    with tempfile.TemporaryDirectory(prefix="qmsprint-bambi-") as tmp:
        for item in args.sizes.split(","):
            metric, n = item.split(":")
            data, rows_path = simulate(metric, int(n), Path(tmp))
            q, qc = qmsprint_side(metric, data)
            print(metric, n, "qmsprint", q, "cached", qc, flush=True)
            r = row_side(metric, rows_path, args.row_accept)
            print(metric, n, "row-level", r, flush=True)
            diff = abs(r["mean"] - q["mean"]) / q["sd"]
            target = TARGETS.get((metric, int(n)))
            who = "Bambi cumulative" if metric == "csat" else "PyMC Bernoulli"
            rows.append(
                f"| {metric.upper()} | {r['rows']:,} | {who} {r['seconds']:.1f} s | {q['seconds']:.1f} s "
                f"({q['cells']:,} cells) | {ratio(r, q, target)} | "
                f"{qc['seconds']:.1f} s ({parts(qc)}) | {ratio(r, qc, target)} | "
                f"{r['mean']:.3f} +- {r['sd']:.3f} | "
                f"{q['mean']:.3f} +- {q['sd']:.3f} | {diff:.2f} {'ok' if diff < 0.1 else 'over 0.1'} | "
                f"{r['rhat']:.3f} / {q['rhat']:.3f} | {r['ess_bulk'] / r['seconds']:.2g} / "
                f"{qc['ess_bulk'] / qc['seconds']:.0f} | {r['imports']:.1f} / {qc['imports']:.1f} |"
            )
    append(
        "Side by side with row-level models (bench/bench_bambi.py)",
        [
            machine(start),
            f"Simulated agent-randomized pilots ({N_AGENTS} agents, one team, pilot period only, no segments). "
            f"Both sides: {CHAINS} chains x {DRAWS} draws (+{TUNE} tuning), nutpie, qmsprint's default priors "
            f"(bench/_bambi_fit.py); target accept: qmsprint {EFFECT_TARGET_ACCEPT} (its default for effect models), "
            f"row-level {args.row_accept}"
            + {EFFECT_TARGET_ACCEPT: " (the same)", 0.8: " (Bambi's and PyMC's default)"}.get(args.row_accept, "")
            + ". Each side's clock starts in its own new process with its libraries imported "
            "(an import is paid once per session, not per fit; the last column gives those seconds: row-level PyMC, "
            "Bambi, nutpie and PyTensor's numba backend; qmsprint the same without Bambi, with Ibis's DuckDB backend). "
            "Row-level time = model build "
            "+ sampling (Bambi in bench/.venv-bambi; the rows already in memory); qmsprint time = load + validation "
            "+ cells (data) + compile + sampling + effects, in a process with an empty compiled-model cache (new) and "
            "in the next process with that cache (cached); for the cached one, the data, the fit (loading the "
            "compiled model and sampling) and the rest (building the model, the checks and the effects). "
            "Difference = |row mean - qmsprint mean| / qmsprint posterior sd of the "
            "latent treatment effect. ESS per s = the smallest bulk ESS of the fit's parameters per second "
            "(row-level, qmsprint cached): what each side delivers of a trustworthy answer per second.",
            "",
            "| metric | answers (rows) | row-level | qmsprint new | ratio | qmsprint cached | ratio | "
            "row-level effect | qmsprint effect | difference (sd) | R-hat row / qmsprint | ESS per s row / qmsprint | "
            "imports s row / qmsprint |",
            "|---|---:|---:|---:|---|---:|---|---:|---:|---:|---|---|---|",
            *rows,
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
