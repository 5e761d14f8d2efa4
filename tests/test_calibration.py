"""Calibration on simulated DiD pilots with team x period shocks (a small set of bench/bench_calibration.py).

12 pilots of the bench's ``did_shocks`` scenario (6 treated and 6 control teams, each team's outcomes
shifted by a shock of sd 0.15 on the latent scale and of 0.05 on log handle time in each period), all
five metrics, cheaper sampler settings (4 chains x 300 draws, no retries): 60 intervals of 94%.

The bar, computed binomially (intervals treated as independent): at least 50 of the 60 must cover the
true effect. A calibrated method (94%) fails it with probability P(Binomial(60, 0.94) <= 49) = 0.0008,
a method whose true coverage is 90% with 0.034; a method with 75% true coverage passes with
P(Binomial(60, 0.75) >= 50) = 0.086, so it fails at least 90% of the time (91.4%). The model without
team x period terms covered 3 of 8 (FCR) and 4 of 8 (NPS) such pilots.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

PILOTS = 12
BAR = 50


def test_the_bar_is_what_the_docstring_says():
    n = PILOTS * 5
    assert stats.binom.sf(BAR - 1, n, 0.75) <= 0.10  # a 75% method passes at most 10% of the time
    assert stats.binom.cdf(BAR - 1, n, 0.94) < 0.001  # a calibrated one almost never fails


@pytest.mark.slow
def test_did_pilots_with_team_period_shocks_cover_the_truth(tmp_path):
    from bench_calibration import run_pilot

    records = []
    for seed in range(1, PILOTS + 1):
        records += run_pilot("did_shocks", seed, draws=300, tune=300, chains=4, budget=0.0, workdir=tmp_path)
    assert len(records) == PILOTS * 5
    hits = sum(r["lo94"] <= r["truth"] <= r["hi94"] for r in records)
    by_metric = {
        m: sum(r["lo94"] <= r["truth"] <= r["hi94"] for r in records if r["metric"] == m)
        for m in {r["metric"] for r in records}
    }
    assert hits >= BAR, by_metric
