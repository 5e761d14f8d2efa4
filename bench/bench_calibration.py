"""Calibration bench: coverage, bias and width of the effect intervals on simulated pilots with known truths.

For each scenario, ``--pilots`` pilots (seeds 1..N) are simulated by :mod:`qmsprint.simulate`,
written to Parquet, prepared by the data layer and estimated by :func:`qmsprint.experiments.estimate`
exactly as ``qmsprint run`` does (with its retries within ``[sampler] time_budget_s``). Per metric
(headline scale) it reports the coverage of the 94% HDI (the spec's) and of the 90% HDI computed
from the same draws, each with its Monte Carlo standard error ``sqrt(c (1 - c) / n)``; the bias
(mean of posterior mean - truth, with its standard error) and the mean width; how many fits met the
convergence bars and how many needed a retry. Scenarios:

``ab_agent``
    A/B by agent with a baseline period, team x period shocks, no agent variation in handle time
    and gamma handle times with a 40 s step. Each pilot is estimated twice: with the baseline in
    the model (the default) and without (``model.baseline_adjust = false``): the width with and
    without it.
``ab_team``
    A/B by team (6 teams per arm), with a baseline period and team x period shocks (sd 0.10 on the
    latent scale, 0.05 on log handle time).
``did_shocks``
    Difference-in-differences by team (6 treated, 6 control teams), team x period shocks of sd
    0.15 on the latent scale in each period (the pilots of issue 14), and of sd 0.05 on log handle
    time (a team's calls about 5% longer or shorter in a period: a staffing change moves both).
``did_null``
    The same with a program that does nothing: how often a metric's verdict
    (:func:`qmsprint.decide.verdict_for`) claims an effect (``improved`` or ``worse``).

Usage::

    python bench/bench_calibration.py                      # 40 pilots per scenario, appends to RESULTS.md
    python bench/bench_calibration.py --pilots 12 --scenarios did_shocks --draws 300 --tune 300
    python bench/bench_calibration.py --records /tmp/cal.jsonl   # keep per-pilot records; resume from them
    python bench/bench_calibration.py --records /tmp/cal.jsonl --report-only   # tables of the pilots run so far
    python bench/bench_calibration.py --first-seed 81 --pilots 160 --scenarios did_shocks   # more pilots, new seeds
    python bench/bench_calibration.py --scenarios ab_agent --baseline-only   # the default model only (half the time)

Pilots run seed by seed across the scenarios, so a bench stopped early has every scenario.

Per-pilot records go to ``--records`` (JSON lines); a pilot already in that file is not run again, so
an interrupted bench resumes where it stopped. The test suite runs a small set of these pilots
(``tests/test_calibration.py``).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import math
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import append, load, machine  # noqa: E402

from qmsprint.simulate import SimConfig  # noqa: E402

METRICS = ("csat", "nps", "fcr", "repeat_contact", "handle_time")
# seeds whose ANCOVA error stands for "usual" pilots: 800, so that its sd is known to about 2.5%
# (seeds 1001-1200 alone gave 0.0586, 5001-5200 0.0612, 201-400 0.0626: 200 seeds vary by about 5%)
REFERENCE_SEEDS = range(1001, 1801)
SHOCKS = {"team_period_sd": 0.15, "ht_team_period_sd": 0.05}  # handle time too: 5% per team and period
BASE = {
    "n_agents": 48,
    "n_teams": 12,
    "n_sites": 2,
    "interactions_per_agent": 150,
    "weeks": 4,
    "baseline_weeks": 4,
}
SCENARIOS: dict[str, SimConfig] = {
    "ab_agent": SimConfig(
        design="ab",
        unit="agent",
        **BASE,
        team_period_sd=0.10,
        agent_sd_by_metric={"handle_time": 0.0},
        ht_dist="gamma_shift",
    ),
    "ab_team": SimConfig(design="ab", unit="team", **BASE, team_period_sd=0.10, ht_team_period_sd=0.05),
    "did_shocks": SimConfig(design="did", unit="team", **BASE, **SHOCKS),
    "did_null": SimConfig(
        design="did",
        unit="team",
        **BASE,
        **SHOCKS,
        csat_effect=0.0,
        nps_effect=0.0,
        fcr_effect=0.0,
        repeat_effect=0.0,
        handle_time_effect=0.0,
    ),
}


def spec_for(
    cfg: SimConfig,
    path: Path,
    *,
    draws: int,
    tune: int,
    chains: int,
    budget: float,
    baseline: bool = True,
    name: str = "calibration",
):
    """The experiment spec a consultant would write for a simulated pilot."""
    from qmsprint.spec import parse_spec

    pilot_start = cfg.start + dt.timedelta(weeks=cfg.baseline_weeks)
    periods = {"pilot": {"start": pilot_start, "end": pilot_start + dt.timedelta(weeks=cfg.weeks, days=-1)}}
    if cfg.baseline_weeks:
        periods["baseline"] = {"start": cfg.start, "end": pilot_start - dt.timedelta(days=1)}
    raw = {
        "name": name,
        "design": cfg.design,
        "unit": cfg.unit,
        "arms": {"control": cfg.arms[0], "treatment": cfg.arms[1]},
        "data": {"source": str(path)},
        "periods": periods,
        "metrics": [{"name": m} for m in METRICS],
        "model": {"hdi_prob": 0.94, "baseline_adjust": baseline},
        "sampler": {"draws": draws, "tune": tune, "chains": chains, "seed": 7, "time_budget_s": budget},
    }
    return parse_spec(raw, base_dir=path.parent)


def run_pilot(
    scenario: str,
    seed: int,
    *,
    draws: int = 1000,
    tune: int = 500,
    chains: int = 4,
    budget: float = 600.0,
    workdir: Path | None = None,
    baseline_only: bool = False,
) -> list[dict[str, Any]]:
    """Simulate, prepare and estimate one pilot; one record per metric (and per baseline setting for ``ab_agent``).

    ``baseline_only`` estimates an ``ab_agent`` pilot with the default model only (no width comparison).
    """
    from qmsprint.data import prepare
    from qmsprint.decide import verdict_for
    from qmsprint.experiments import estimate
    from qmsprint.models import many_pilots
    from qmsprint.simulate import simulate
    from qmsprint.stats import hdi
    from qmsprint.store import write_simulation

    cfg = dataclasses.replace(SCENARIOS[scenario], seed=seed)
    sim = simulate(cfg)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        path = write_simulation(sim, Path(tmp) / "pilot.parquet")[0]
        settings = [True, False] if scenario == "ab_agent" and not baseline_only else [True]
        out = []
        for baseline in settings:
            spec = spec_for(cfg, path, draws=draws, tune=tune, chains=chains, budget=budget, baseline=baseline)
            cells = prepare(spec).cells
            t0 = time.perf_counter()
            with many_pilots():  # one compile per model structure serves every pilot of the scenario
                results = estimate(spec, cells)
            seconds = time.perf_counter() - t0
            for r in results:
                truth = float(sim.truth["effects"][r.metric][r.headline.scale])
                lo90, hi90 = hdi(np.asarray(r.draws), 0.90)
                out.append(
                    {
                        "scenario": scenario,
                        "seed": seed,
                        "baseline": baseline,
                        "metric": r.metric,
                        "truth": truth,
                        "mean": r.headline.mean,
                        "lo94": r.headline.hdi_low,
                        "hi94": r.headline.hdi_high,
                        "lo90": float(lo90),
                        "hi90": float(hi90),
                        "converged": bool(r.diagnostics.converged),
                        "attempts": int(r.diagnostics.attempts),
                        "problems": list(r.diagnostics.problems),
                        "verdict": verdict_for(spec, r).verdict,
                        "prob_improve": spec.decision.prob_improve,
                        "seconds": seconds,
                        "draws": draws,
                        "tune": tune,
                        "chains": chains,
                    }
                )
    return out


def ancova_error(scenario: str, seeds: Iterable[int], metric: str = "csat") -> float:
    """Sd of a simple estimator's error over simulated pilots: how hard a set of seeds is, without a model.

    Per agent, the mean of ``metric`` in the pilot is regressed on the arm, the agent's baseline mean
    and team dummies (least squares, agent-level ANCOVA); the error is the arm coefficient minus the
    truth on the metric's first scale (CSAT: the mean score). The same seeds that make this error
    large make any estimator's error large, so comparing its sd over the bench's pilots with its sd
    over many other seeds separates a miscalibrated model from an unlucky set of pilots.
    """
    import pandas as pd

    from qmsprint.simulate import simulate

    errs = []
    for seed in seeds:
        sim = simulate(dataclasses.replace(SCENARIOS[scenario], seed=seed))
        f = sim.frame
        pilot = (f["timestamp"] >= pd.Timestamp(sim.truth["periods"]["pilot"]["start"])).to_numpy()
        by = f.assign(pilot=pilot).groupby(["agent_id", "pilot"])[metric].mean().unstack("pilot").dropna()
        agents = f[pilot].groupby("agent_id").agg(arm=("arm", "first"), team=("team", "first")).loc[by.index]
        X = np.column_stack(
            [
                (agents["arm"] == sim.truth["arms"]["treatment"]).to_numpy(float),
                by[False].to_numpy(float),
                pd.get_dummies(agents["team"]).to_numpy(float),
            ]
        )
        coef = np.linalg.lstsq(X, by[True].to_numpy(float), rcond=None)[0]
        errs.append(coef[0] - next(iter(sim.truth["effects"][metric].values())))
    return float(np.std(errs, ddof=1))


def _rate(hits: np.ndarray) -> str:
    c = float(np.mean(hits))
    se = math.sqrt(max(c * (1 - c), 1e-12) / len(hits))
    return f"{100 * c:.1f} ± {100 * se:.1f}"


def summary(records: Iterable[dict[str, Any]]) -> list[str]:
    """Markdown tables: per scenario and metric, coverage (± MC error), bias, width, convergence, retries."""
    recs = list(records)
    lines = [
        "| scenario | metric | pilots | 90% HDI coverage % | 94% HDI coverage % | bias (± se) | mean 94% width "
        "| converged | retried (mean attempts) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for scenario in SCENARIOS:
        for metric in METRICS:
            rows = [r for r in recs if r["scenario"] == scenario and r["metric"] == metric and r["baseline"]]
            if not rows:
                continue
            truth = np.array([r["truth"] for r in rows])
            cov90 = np.array([r["lo90"] <= r["truth"] <= r["hi90"] for r in rows])
            cov94 = np.array([r["lo94"] <= r["truth"] <= r["hi94"] for r in rows])
            err = np.array([r["mean"] for r in rows]) - truth
            width = np.array([r["hi94"] - r["lo94"] for r in rows])
            conv = sum(r["converged"] for r in rows)
            att = np.array([r["attempts"] for r in rows])
            se = float(np.std(err, ddof=1) / math.sqrt(len(err))) if len(err) > 1 else float("nan")
            lines.append(
                f"| {scenario} | {metric} | {len(rows)} | {_rate(cov90)} | {_rate(cov94)} | "
                f"{np.mean(err):+.3g} ± {se:.2g} | {np.mean(width):.3g} | {conv}/{len(rows)} | "
                f"{int(np.sum(att > 1))} ({np.mean(att):.2f}) |"
            )
    base = [r for r in recs if r["scenario"] == "ab_agent"]
    if any(not r["baseline"] for r in base):
        lines += [
            "",
            "A/B by agent: width of the 94% HDI with each unit's baseline level in the model and without it "
            "(same pilots):",
            "",
            "| metric | pilots | width with baseline | width without | ratio | 94% coverage with "
            "| 94% coverage without |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for metric in METRICS:
            on = {r["seed"]: r for r in base if r["metric"] == metric and r["baseline"]}
            off = {r["seed"]: r for r in base if r["metric"] == metric and not r["baseline"]}
            seeds = sorted(set(on) & set(off))
            if not seeds:
                continue
            w_on = np.array([on[s]["hi94"] - on[s]["lo94"] for s in seeds])
            w_off = np.array([off[s]["hi94"] - off[s]["lo94"] for s in seeds])
            c_on = np.array([on[s]["lo94"] <= on[s]["truth"] <= on[s]["hi94"] for s in seeds])
            c_off = np.array([off[s]["lo94"] <= off[s]["truth"] <= off[s]["hi94"] for s in seeds])
            lines.append(
                f"| {metric} | {len(seeds)} | {np.mean(w_on):.3g} | {np.mean(w_off):.3g} | "
                f"{np.mean(w_on) / np.mean(w_off):.2f} | {_rate(c_on)} | {_rate(c_off)} |"
            )
        seeds = sorted({r["seed"] for r in base})
        if len(seeds) > 2:
            here, other = ancova_error("ab_agent", seeds), ancova_error("ab_agent", REFERENCE_SEEDS)
            lines += [
                "",
                f"How hard these A/B-by-agent pilots are, without any model: the error sd of an agent-level ANCOVA "
                f"of CSAT (pilot mean on arm, baseline mean and team dummies) is {here:.4f} over these "
                f"{len(seeds)} pilots and {other:.4f} over {len(REFERENCE_SEEDS)} other seeds "
                f"({REFERENCE_SEEDS.start}-{REFERENCE_SEEDS.stop - 1}): a ratio of "
                f"{here / other:.2f}. A ratio well above 1 means these pilots are harder than usual, and a "
                "calibrated model's coverage on them is lower than its coverage over all pilots.",
            ]
    null = [r for r in recs if r["scenario"] == "did_null" and r["baseline"]]
    if null:
        claims = np.array([r["verdict"] in ("improved", "worse") for r in null])
        improved = np.array([r["verdict"] == "improved" for r in null])
        worse = np.array([r["verdict"] == "worse" for r in null])
        bars = sorted({r.get("prob_improve", 0.95) for r in null})  # records before the bar was kept: 0.95
        bar = " or ".join(f"{b:g}" for b in bars)
        per_side = " or ".join(f"{100 * (1 - b):g}%" for b in bars)
        lines += [
            "",
            f"Null program (did_null, {len(null) // len(METRICS)} pilots, {len(null)} metric verdicts): "
            f"{int(claims.sum())} claim an effect ({_rate(claims)}%): {int(improved.sum())} improved "
            f"({_rate(improved)}%), {int(worse.sum())} worse ({_rate(worse)}%). A verdict needs P >= {bar} in one "
            f"direction (`[decision] prob_improve`), so a calibrated posterior claims about {per_side} per direction.",
        ]
    return lines


def _settings(records: list[dict[str, Any]], args: argparse.Namespace) -> str:
    """The sampler settings of the summarised pilots (``chains x draws (+warm-up)``), as recorded."""
    got = sorted(
        {(r.get("chains", args.chains), r.get("draws", args.draws), r.get("tune", args.tune)) for r in records}
    ) or [(args.chains, args.draws, args.tune)]
    return " and ".join(f"{c} chains x {d} draws (+{t} warm-up)" for c, d, t in got)


def _time_spent(records: list[dict[str, Any]], wall: float) -> str:
    """The estimations' time (each pilot's setting counted once) and this invocation's wall time."""
    per_fit = {(r["scenario"], r["seed"], r["baseline"]): r["seconds"] for r in records}
    spent = f"Estimation time of these pilots: {sum(per_fit.values()) / 60:.0f} min ({len(per_fit)} estimations)"
    return f"{spent}; wall time of this invocation: {wall / 60:.0f} min." if wall >= 60 else f"{spent}."


def read_records(path: Path | None) -> list[dict[str, Any]]:
    """Records of pilots already run (JSON lines), or none."""
    if path is None or not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pilots", type=int, default=40)
    ap.add_argument("--first-seed", type=int, default=1, help="run seeds FIRST..PILOTS (default 1)")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=500)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--budget", type=float, default=600.0, help="[sampler] time_budget_s of each estimation")
    ap.add_argument("--records", type=Path, default=None, help="JSON-lines file of per-pilot records (resumable)")
    ap.add_argument("--no-append", action="store_true", help="print the tables without appending to RESULTS.md")
    ap.add_argument("--report-only", action="store_true", help="summarise the pilots in --records without running more")
    ap.add_argument(
        "--baseline-only", action="store_true", help="ab_agent: only the default model (no width without the baseline)"
    )
    args = ap.parse_args(argv)
    start_load = load()
    t0 = time.perf_counter()
    records = read_records(args.records)
    done = {(r["scenario"], r["seed"]) for r in records}
    scenarios = [s for s in args.scenarios.split(",") if s]
    # seed by seed across the scenarios, so that a bench stopped early has every scenario
    for seed in range(args.first_seed, 0 if args.report_only else args.pilots + 1):
        for scenario in scenarios:
            if (scenario, seed) in done:
                continue
            t = time.perf_counter()
            recs = run_pilot(
                scenario,
                seed,
                draws=args.draws,
                tune=args.tune,
                chains=args.chains,
                budget=args.budget,
                baseline_only=args.baseline_only,
            )
            records += recs
            if args.records is not None:
                with open(args.records, "a", encoding="utf-8") as fh:
                    fh.writelines(json.dumps(r) + "\n" for r in recs)
            bad = [r["metric"] for r in recs if not r["converged"]]
            print(
                f"{scenario} seed {seed}: {time.perf_counter() - t:.0f} s"
                + (f", not converged: {', '.join(bad)}" if bad else ""),
                flush=True,
            )
    selected = [r for r in records if r["scenario"] in scenarios and args.first_seed <= r["seed"] <= args.pilots]
    n_pilots = {s: len({r["seed"] for r in selected if r["scenario"] == s}) for s in scenarios}
    lines = [
        machine(start_load),
        f"Pilots per scenario: {n_pilots} (seeds {args.first_seed}-{args.pilots}). "
        "Each: 48 agents in 12 teams (2 sites), 150 first contacts per agent "
        "in each of the baseline and the pilot period (4 weeks each), all five metrics, 94% HDI from the spec and "
        f"90% HDI from the same draws. Sampler: {_settings(selected, args)}, "
        f"retries within {args.budget:.0f} s per estimation. {_time_spent(selected, time.perf_counter() - t0)}",
        "",
        *summary(selected),
    ]
    if args.no_append:
        print("\n".join(lines))
    else:
        append("Calibration (bench/bench_calibration.py)", lines)


if __name__ == "__main__":
    main()
