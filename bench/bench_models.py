"""Benchmark of the effect estimation (``make bench``); appends a section to bench/RESULTS.md.

1. All metrics of the bundled A/B pilot (experiments/demo_ab.toml -> data/sample_ab.parquet),
   the spec's sampler (4 chains), in a fresh process: compile + sampling, converged or not.
2. The same cells at 10x the interactions (every count and sum x 10, i.e. ten copies of every
   interaction), twice.
3. The row-by-row model on the same pilot data (FCR: Bernoulli per interaction, the same
   hierarchical model), against the cell-level FCR fit, measured in the same run.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def _scale(cells, k: int):
    out = cells.copy()
    cols = [c for c in out.columns if c == "n" or c.endswith("_n") or c.startswith(("csat_", "nps_"))]
    cols += [c for c in ("fcr_yes", "repeat_yes", "ht_sum", "ht_sumsq", "lht_sum", "lht_sumsq") if c in out]
    for c in dict.fromkeys(cols):
        if np.issubdtype(out[c].dtype, np.number):
            out[c] = out[c] * k
    return out


def _row_fcr(spec, frame, cells_result):
    import pymc as pm

    from qmsprint.models.binomial import center

    rows = frame[(frame["period"] == "pilot") & frame["fcr"].notna()]
    units = (rows["agent_id"].astype(str) + "|" + rows["arm"].astype(str)).astype("category")
    uidx = units.cat.codes.to_numpy()
    ucats = units.cat.categories
    g = np.array([c.split("|")[1] == spec.arms.treatment for c in ucats], float)
    team_of = rows.groupby(units.to_numpy(), observed=True)["team"].first().reindex(ucats).astype("category")
    tidx = team_of.cat.codes.to_numpy()
    y = rows["fcr"].astype(int).to_numpy()
    with pm.Model() as m:
        tau = pm.Normal("effect", 0, 1.0)
        mu = center({"y": y, "n": np.ones_like(y)}) + 2.5 * pm.Normal("mu_raw", 0, 1)
        team = pm.Normal("team", 0, 0.3, shape=len(team_of.cat.categories))
        sd = pm.HalfNormal("sd", 0.5)
        mean = mu + tau * g + team[tidx]
        centred = any("centred on" in n for n in cells_result.notes)
        if centred:
            b = pm.Normal("unit", mean, sd, shape=len(ucats))
        else:
            b = mean + sd * pm.Normal("z", 0, 1, shape=len(ucats))
        pm.Bernoulli("y", logit_p=b[uidx], observed=y)
    t0 = time.perf_counter()
    with m:
        idata = pm.sample(
            draws=spec.sampler.draws,
            tune=spec.sampler.tune,
            chains=spec.sampler.chains,
            random_seed=1,
            nuts_sampler="nutpie",
            progressbar=False,
            nuts_sampler_kwargs={"low_rank_modified_mass_matrix": True},
        )
    return time.perf_counter() - t0, len(rows), float(idata.posterior["effect"].mean())


def main() -> None:
    from qmsprint.data import load_frame, prepare
    from qmsprint.experiments import estimate
    from qmsprint.models import clear_cache
    from qmsprint.spec import load_spec

    spec = load_spec(ROOT / "experiments" / "demo_ab.toml")
    prep = prepare(spec)
    cells = prep.cells
    lines = []

    def run(label, c):
        t0 = time.perf_counter()
        res = estimate(spec, c)
        secs = time.perf_counter() - t0
        conv = all(r.diagnostics.converged for r in res)
        worst = {
            r.metric: (
                round(r.diagnostics.rhat_max, 3),
                int(r.diagnostics.ess_bulk_min),
                int(r.diagnostics.ess_tail_min),
                r.diagnostics.divergences,
            )
            for r in res
        }
        n_int = int(c.loc[c["period"] == "pilot", "n"].sum())
        lines.append(f"| {label} | {n_int:,} | {secs:.1f} | {'yes' if conv else 'NO'} | {worst} |")
        print(lines[-1], flush=True)
        return res, secs

    res, _ = run("demo_ab, fresh process (compile + sample)", cells)
    big = _scale(cells, 10)
    clear_cache()
    run("10x interactions, fresh compile", big)
    run("10x interactions, again in the same process", big)

    # row-by-row FCR model vs the cell-level FCR fit on the same data
    from qmsprint.spec import parse_spec, spec_to_dict

    raw = spec_to_dict(spec)
    raw["metrics"] = [m for m in raw["metrics"] if m["name"] == "fcr"]
    raw.pop("design_grid", None)
    fcr_spec = parse_spec(raw, base_dir=spec.base_dir)
    clear_cache()
    t0 = time.perf_counter()
    (fres,) = estimate(fcr_spec, cells)
    cell_secs = time.perf_counter() - t0
    frame = load_frame(spec)
    row_secs, n_rows, row_mean = _row_fcr(spec, frame, fres)
    ratio = row_secs / cell_secs
    lines.append(
        f"| FCR only: cells {cell_secs:.1f} s vs row-by-row {row_secs:.1f} s on {n_rows:,} rows "
        f"(ratio {ratio:.1f}x; latent effect {fres.latent_effect[0]:.3f} vs {row_mean:.3f}) | | | | |"
    )
    print(lines[-1], flush=True)
    load = os.getloadavg()[0]
    section = [
        "",
        f"## Effect estimation (bench/bench_models.py), {dt.datetime.now():%Y-%m-%d %H:%M}",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; Python "
        f"{platform.python_version()}; load average at the end {load:.1f}. Sampler: nutpie, "
        f"{spec.sampler.chains} chains x {spec.sampler.draws} draws (+{spec.sampler.tune} tuning), one model per "
        "metric, data frozen into the compiled model. Time = wall time of `estimate` "
        "(compile + sampling + effects). Worst R-hat, bulk ESS, tail ESS, divergences per metric.",
        "",
        "| run | pilot interactions | seconds | all converged | diagnostics |",
        "|---|---:|---:|---|---|",
        *lines,
    ]
    with open(ROOT / "bench" / "RESULTS.md", "a", encoding="utf-8") as fh:
        fh.write("\n".join(section) + "\n")


if __name__ == "__main__":
    main()
