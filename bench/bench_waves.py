"""Calibration bench of the staggered roll-out (design = "waves") on the simulator's wave pilots.

R simulated pilots (8 teams of 4 agents, 3 waves of 2 teams 3 weeks apart, 2 teams never switching,
an effect on first contact resolution that grows over its first 6 weeks) are estimated with the
full waves model; per pilot the 90% intervals of the overall effect, of each wave and of each week
since the switch are checked against the simulator's truth. For comparison, on the same data: the
naive two-way fixed-effects estimate (OLS on team x week means with team and week dummies), and
the imputation estimator of Borusyak, Jaravel & Spiess (unit and week effects fitted on the cells
not on the new program, the switched cells' difference from them averaged).

Usage: ``python bench/bench_waves.py [pilots]`` (default 40); appends a section to bench/RESULTS.md.
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
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
PILOT = dict(design="waves", n_agents=32, n_teams=8, interactions_per_agent=360, weeks=9, baseline_weeks=3,
             wave_weeks=(0, 3, 6), effect_ramp_weeks=6, fcr_effect=0.6, treated_share=0.75,
             response_rate=(1.0, 1.0), include_nps=False)  # fmt: skip


def _cell_means(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    f = frame.dropna(subset=["fcr"]).copy()
    f["week"] = f["timestamp"].dt.to_period("W").dt.start_time.astype(str)
    f["y"] = 100 * f["fcr"].astype(float)
    f["d"] = (f["arm"] == "behavior").astype(float)
    return f.groupby([*by, "week"]).agg(y=("y", "mean"), d=("d", "mean"), n=("y", "size")).reset_index()


def twfe(frame: pd.DataFrame) -> float:
    g = _cell_means(frame, ["team"])
    X = np.column_stack([g["d"], pd.get_dummies(g["team"]).to_numpy(float),
                         pd.get_dummies(g["week"], drop_first=True).to_numpy(float)])  # fmt: skip
    return float(np.linalg.lstsq(X, g["y"].to_numpy(), rcond=None)[0][0])


def imputation(frame: pd.DataFrame) -> float:
    g = _cell_means(frame.assign(on=frame["arm"] == "behavior"), ["agent_id", "on"])
    off, on = g[~g["on"]], g[g["on"]]
    A, W = pd.get_dummies(off["agent_id"]).astype(float), pd.get_dummies(off["week"], drop_first=True).astype(float)
    w = np.sqrt(off["n"].to_numpy())
    beta = np.linalg.lstsq(np.column_stack([A, W]) * w[:, None], off["y"].to_numpy() * w, rcond=None)[0]
    a, wk = dict(zip(A.columns, beta[: A.shape[1]], strict=True)), dict(zip(W.columns, beta[A.shape[1] :], strict=True))
    pred = on["agent_id"].map(a) + on["week"].map(wk).fillna(0.0)
    return float(np.average(on["y"] - pred, weights=on["n"]))


def spec_raw(truth: dict, data: Path, seed: int) -> dict:
    """The experiment file (as parsed TOML) of one simulated wave pilot: its data, periods and FCR."""
    return {
        "name": "bench-waves",
        "design": "waves",
        "unit": "team",
        "arms": {"control": "checklist", "treatment": "behavior"},
        "data": {"source": str(data)},
        "periods": {
            k: {"start": dt.date.fromisoformat(v["start"]), "end": dt.date.fromisoformat(v["end"])}
            for k, v in truth["periods"].items()
            if v
        },
        "waves": {"event_weeks": 9},
        "metrics": [{"name": "fcr", "min_effect": 2.0}],
        "sampler": {"draws": 1000, "tune": 500, "chains": 4, "seed": seed},
    }


def main(r: int = 40) -> None:
    from qmsprint.data import prepare
    from qmsprint.experiments import estimate
    from qmsprint.simulate import SimConfig, simulate
    from qmsprint.spec import parse_spec
    from qmsprint.store import write_simulation

    t0 = time.perf_counter()
    rows, parts, fits = [], {"wave": [0, 0], "weeks_since_switch": [0, 0]}, []
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(r):
            sim = simulate(SimConfig(**PILOT, seed=5000 + rep))
            truth = sim.truth
            path = write_simulation(sim, Path(tmp) / f"w{rep}.parquet")[0]
            raw = {**spec_raw(truth, path, seed=rep), "model": {"hdi_prob": 0.9}}
            spec = parse_spec(raw, base_dir=Path(tmp))
            t1 = time.perf_counter()
            (res,) = estimate(spec, prepare(spec).cells)
            fits.append(time.perf_counter() - t1)
            t = truth["effects"]["fcr"]["rate"]
            h = res.headline
            by = {(e.segment, e.segment_value): e for e in res.event_effects}
            for w in truth["waves"]:
                e = by[("wave", w["date"])]
                parts["wave"][0] += e.hdi_low <= w["effects"]["fcr"]["rate"] <= e.hdi_high
                parts["wave"][1] += 1
            for k, eff in truth["by_event_week"].items():
                e = by[("weeks_since_switch", str(k))]
                parts["weeks_since_switch"][0] += e.hdi_low <= eff["fcr"]["rate"] <= e.hdi_high
                parts["weeks_since_switch"][1] += 1
            rows.append({"truth": t, "mean": h.mean, "covers": h.hdi_low <= t <= h.hdi_high, "width": h.hdi_high -
                         h.hdi_low, "twfe": twfe(sim.frame), "imputation": imputation(sim.frame),
                         "converged": res.diagnostics.converged})  # fmt: skip
            print(rep, rows[-1], flush=True)
    df = pd.DataFrame(rows)
    err = df["mean"] - df["truth"]
    tw = df["twfe"] - df["truth"]
    im = df["imputation"] - df["truth"]
    cov = df["covers"].mean()
    se = np.sqrt(0.9 * 0.1 / len(df))
    lines = [
        f'## Staggered roll-out (design = "waves") on simulated wave pilots (bench/bench_waves.py), '
        f"{dt.datetime.now():%Y-%m-%d %H:%M}",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; Python "
        f"{platform.python_version()}; load average at the end {os.getloadavg()[0]:.1f}; "
        f"{(time.perf_counter() - t0) / 60:.0f} min; median fit {np.median(fits):.1f} s.",
        f"{len(df)} pilots: 8 teams of 4 agents, 3 weeks of baseline and 9 of roll-out, waves of 2 teams in pilot "
        "weeks 0, 3 and 6, 2 teams never switching, FCR effect growing over its first 6 weeks (0.6 on the log-odds "
        "at full size, about +7.5 pp), every customer answering. 4 chains x 1000 draws, 90% intervals.",
        "",
        "| estimate | mean error (pp) | sd of the error | 90% interval covers the truth |",
        "|---|---:|---:|---:|",
        f"| qmsprint waves model, overall | {err.mean():+.2f} | {err.std(ddof=1):.2f} | "
        f"{100 * cov:.1f}% (binomial se {100 * se:.1f}); mean width {df['width'].mean():.1f} pp |",
        f"| qmsprint, per wave | | | {100 * parts['wave'][0] / parts['wave'][1]:.1f}% of {parts['wave'][1]} |",
        f"| qmsprint, per week since the switch | | | "
        f"{100 * parts['weeks_since_switch'][0] / parts['weeks_since_switch'][1]:.1f}% of "
        f"{parts['weeks_since_switch'][1]} |",
        f"| imputation (Borusyak et al.), same data | {im.mean():+.2f} | {im.std(ddof=1):.2f} | |",
        f"| naive two-way fixed effects, same data | {tw.mean():+.2f} | {tw.std(ddof=1):.2f} | "
        f"(bias {100 * tw.mean() / df['truth'].mean():+.0f}% of the effect) |",
        "",
        f"Converged fits: {int(df['converged'].sum())} of {len(df)}. Mean error of the waves model "
        f"{err.mean():+.2f} pp ({err.mean() / (err.std(ddof=1) / np.sqrt(len(df))):+.1f} standard errors), of the "
        f"naive two-way fixed effects {tw.mean():+.2f} pp: the latter is biased towards zero because it compares "
        "later waves with units already on the new program while their effect still grows.",
        "",
    ]
    with open(ROOT / "bench" / "RESULTS.md", "a", encoding="utf-8") as fh:
        fh.write("\n" + "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main(*[int(a) for a in sys.argv[1:2]])
