"""Handle time as a log-link gamma: the mean effect in seconds is unbiased when handle times are not gamma.

Known truth from :mod:`models_cellsim`: handle times drawn one by one from a lognormal, a gamma
(shape 2), that gamma plus a fixed 40 s step, and a lognormal mixture with a slow component (20% of
calls three times longer), with no agent variation (the case whose fits did not converge before).
The true effect is the difference of expected handle times, averaged over the pilot cells; with
90,000 interactions per pilot its posterior sd is about 1.5 s, so a bias of a few seconds (what a
lognormal's ``exp(mean log + sigma^2 / 2)`` makes of the shifted times, 8% of the effect) fails it.
"""

from __future__ import annotations

import numpy as np
import pytest
from models_cellsim import make_cells, spec_for

from qmsprint.experiments import estimate

DISTS = ("lognormal", "gamma", "gamma_shift", "mixture")


@pytest.mark.slow
def test_mean_effect_in_seconds_is_unbiased_for_skewed_shifted_and_mixed_handle_times():
    rows = []
    for i, dist in enumerate(DISTS):
        cells, truth, _ = make_cells(
            "ab",
            n_agents=30,
            per_agent=3000,
            seed=40 + i,
            agent_sd=0.0,  # no agent variation in handle time (nor in anything else here)
            channels=("voice",),
            channel_shift=(0.0,),
            effects={"csat": 0, "nps": 0, "fcr": 0, "repeat_contact": 0, "handle_time": -0.05},
            ht_dist=dist,
        )
        spec = spec_for("ab", metrics=("handle_time",), draws=500, tune=500, chains=4, time_budget_s=300)
        (r,) = estimate(spec, cells)
        t = truth["handle_time"]["mean"]
        sd = float(np.std(r.draws))
        rows.append((dist, t, r.headline.mean, sd, r))
    for dist, t, mean, sd, r in rows:
        assert r.diagnostics.converged, (dist, r.diagnostics.problems)
        assert r.headline.unit == "seconds" and r.headline.scale == "mean"
        assert r.headline.hdi_low <= t <= r.headline.hdi_high, (dist, t, r.headline)
        assert abs(mean - t) < 3 * sd, (dist, mean, t, sd)
    # pooled over the four families: the standardized errors average near zero
    z = np.array([(mean - t) / sd for _, t, mean, sd, _ in rows])
    assert abs(z.mean()) < 3 / np.sqrt(len(z)), z


def test_log_gamma_and_its_gradient_match_scipy():
    import pytensor
    import pytensor.tensor as pt
    from scipy.special import digamma, gammaln

    from qmsprint.models.gamma import log_gamma

    a = pt.dvector("a")
    f = pytensor.function([a], [log_gamma(a), pytensor.grad(log_gamma(a).sum(), a)])
    x = np.array([1e-3, 0.05, 0.5, 1.0, 2.0, 3.7, 10.0, 150.0, 1e4, 1e6])
    value, grad = f(x)
    np.testing.assert_allclose(value, gammaln(x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad, digamma(x), rtol=1e-10, atol=1e-10)


def test_the_handle_time_model_is_kept_in_the_compiled_model_cache(tmp_path, monkeypatch):
    """Its log-likelihood has no SciPy call by address (digamma), so a second process loads it."""
    from qmsprint.experiments.designs import get_design
    from qmsprint.experiments.prepare import prepare_metric, select_cells
    from qmsprint.models import compile_cache as cc
    from qmsprint.models.blocks import build_model

    monkeypatch.setenv(cc.ENV_DIR, str(tmp_path))
    cells, _, _ = make_cells("ab", n_agents=12, per_agent=50, seed=3)
    spec = spec_for("ab", metrics=("handle_time",))
    design = get_design("ab")
    mb = prepare_metric(spec, select_cells(spec, cells, design), "handle_time", design, None)
    before = (cc.stats.uncacheable, cc.stats.misses)
    cc.compile_cached(build_model([mb.block]), mb.block.initial_point())
    assert (cc.stats.uncacheable, cc.stats.misses) == (before[0], before[1] + 1)
    assert len(list(tmp_path.rglob("*.bin"))) == 1
