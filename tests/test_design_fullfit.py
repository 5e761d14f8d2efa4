"""The assurance's fast posterior approximation against full fits of the same simulated pilots (slow).

The plan judges thousands of simulated pilots with a Student-t approximation of the posterior
(Welch's comparison of unit means). Here a few of those pilots are turned into cells and fitted
with the real model (``qmsprint.experiments.estimate``, small sampler), and both posteriors go
through the same decision rule: the share of decisive pilots must agree within Monte Carlo error,
at two sizes.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from _design_helpers import make_frame, make_spec

from qmsprint.decide import DECISIVE, decide
from qmsprint.decide import rules as rule
from qmsprint.design import fit_baseline
from qmsprint.design.simulation import approximate_posterior, draw_parameters, grid_cell, simulate_metric
from qmsprint.experiments import estimate
from qmsprint.models import many_pilots
from qmsprint.results import Diagnostics

PILOTS = 16
GOOD = Diagnostics(1.0, 2000.0, 2000.0, 0, 1.0, 1000, 4, "nutpie")


def _cells(sim, i: int, units_t: int, units_c: int, weeks: int) -> pd.DataFrame:
    """Cells (the contract of ARCHITECTURE.md) of simulated pilot ``i`` at one size: one row per agent."""
    counts = sim.levels[i, :, :weeks].sum(axis=1)  # (agents, [no, yes])
    rows = []
    for j in [*range(units_t), *range(sim.units_t, sim.units_t + units_c)]:
        n = int(counts[j].sum())
        rows.append(
            {"agent_id": f"a{j:03d}", "team": f"t{j % 2}", "site": "s1",
             "arm": "behavior" if j < sim.units_t else "checklist", "period": "pilot", "channel": "voice",
             "contact_reason": "billing", "n": n, "fcr_n": n, "fcr_yes": int(counts[j, 1])}
        )  # fmt: skip
    return pd.DataFrame(rows)


@pytest.mark.slow
def test_fast_posterior_agrees_with_full_fits_on_the_share_of_decisive_pilots():
    spec = make_spec(grid={"agents_per_arm": [10, 20], "weeks": [2]})
    spec = spec.model_copy(update={"sampler": spec.sampler.model_copy(update={"draws": 500, "tune": 400, "chains": 2})})
    base = fit_baseline(make_frame(), spec)
    mb = base.metrics["fcr"]
    rng = np.random.default_rng(11)
    draws = draw_parameters(mb, base, spec, (5.0, 2.5), PILOTS, rng)  # the plan's design prior for fcr
    largest = grid_cell(spec, 20, 2, base)
    sim = simulate_metric(mb, base, spec, draws, largest, 2, rng, keep_levels=True)
    dec = spec.decision
    fast_all, full_all = [], []
    for k in (10, 20):
        cell = grid_cell(spec, k, 2, base)
        mean, sd, df = approximate_posterior(sim, cell.units_t, cell.units_c, 2)
        n = rule.numbers_from_t(mean, sd, df, 5.0, 5.0)
        fast = rule.action_codes(
            ["primary"],
            rule.verdict_codes(n, dec)[None, :],
            rule.meaningful_mask(n, 5.0, dec)[None, :],
            rule.reachable_mask(n["mean"], 5.0, dec)[None, :],
            np.full((1, PILOTS), ""),
            rule.settleable_mask(n["mean"], 5.0)[None, :],
        )
        full, full_mean, full_sd = [], [], []
        for i in range(PILOTS):
            with many_pilots():  # one compile per size for its pilots
                (r,) = estimate(spec, _cells(sim, i, cell.units_t, cell.units_c, 2))
            full_mean.append(float(np.mean(r.draws)))
            full_sd.append(float(np.std(r.draws)))
            r = dataclasses.replace(r, diagnostics=GOOD)  # the bars guard production runs, not this comparison
            full.append(decide(spec, [r]).action)
        full = np.array(full)
        # the two posteriors of each pilot are close ...
        assert np.corrcoef(mean, full_mean)[0, 1] > 0.95
        ratio = np.median(np.asarray(full_sd) / sd)
        assert 0.7 < ratio < 1.3, ratio
        fast_all.append(np.isin(fast, DECISIVE))
        full_all.append(np.isin(full, DECISIVE))
        agree = np.mean(fast_all[-1] == full_all[-1])
        print(f"{k} agents per arm: decisive fast {fast_all[-1].mean():.2f}, full {full_all[-1].mean():.2f}, "
              f"agreement {agree:.2f}, sd ratio {ratio:.2f}")  # fmt: skip
        assert agree >= 0.75, (k, agree, list(zip(fast, full, strict=True)))
    # ... and so are the shares of decisive pilots: paired difference within 3 Monte Carlo standard errors
    fast_all, full_all = np.concatenate(fast_all), np.concatenate(full_all)
    d = full_all.astype(float) - fast_all.astype(float)
    se = max(d.std(ddof=1) / np.sqrt(len(d)), 1.0 / len(d))
    assert abs(d.mean()) <= 3 * se, (full_all.mean(), fast_all.mean(), se)
