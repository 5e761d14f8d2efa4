"""Recovery: across repeated simulated pilots (qmsprint.simulate, row level -> qmsprint.data.prepare
-> cells), 90% intervals cover the known true effect at close to the nominal rate, for every metric
and both designs.

Tolerance by binomial error: with R pilots per design and 5 metrics, the number of covering
intervals is Binomial(5R, 0.9) if the intervals are calibrated (pilots are independent; metrics of
one pilot are nearly so). We require (a) pooled coverage per design >= the 0.0005 quantile of that
binomial and (b) per metric and design at least the 0.005 quantile of Binomial(R, 0.9). Compiled
models are reused across pilots (``many_pilots``: one compile per structure), so each later pilot
costs only sampling.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from qmsprint.data import prepare
from qmsprint.experiments import estimate
from qmsprint.models import many_pilots
from qmsprint.simulate import SimConfig, simulate
from qmsprint.store import write_simulation

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import bench_many_pilots  # noqa: E402

R = 6
# the small pilots bench/bench_many_pilots.py times (A/B by agent, DiD by team; 24 agents), and their spec
CONFIG = bench_many_pilots.CONFIG
METRICS = bench_many_pilots.METRICS


@pytest.mark.slow
@pytest.mark.parametrize("design", ["ab", "did"])
def test_intervals_cover_the_truth_at_nominal_rate(design, tmp_path):
    hits = {m: 0 for m in METRICS}
    for rep in range(R):
        sim = simulate(SimConfig(**CONFIG[design], seed=100 + rep))
        path = write_simulation(sim, tmp_path / f"sim{rep}.parquet")[0]
        spec = bench_many_pilots.spec_for(design, path, sim.truth["periods"], hdi_prob=0.9)
        cells = prepare(spec).cells
        with many_pilots():
            results = estimate(spec, cells)
        for r in results:
            t = sim.truth["effects"][r.metric][r.headline.scale]
            hits[r.metric] += int(r.headline.hdi_low <= t <= r.headline.hdi_high)
    total = sum(hits.values())
    n = R * len(METRICS)
    assert total >= stats.binom.ppf(0.0005, n, 0.9), hits
    per_metric_min = stats.binom.ppf(0.005, R, 0.9)
    assert all(h >= per_metric_min for h in hits.values()), hits
    assert np.isfinite(total)
