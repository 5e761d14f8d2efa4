"""Binomial model known answers: flat priors, no agent effects -> the conjugate posterior."""

import arviz as az
import numpy as np
import pytest
from scipy import stats

from qmsprint.models import CellDesign, ModelBlock, draws_of, fit, resolve_priors
from qmsprint.models.binomial import rate


def _two_arm_design():
    return CellDesign(
        kind="ab",
        unit=np.array([0, 1]),
        post=np.ones(2),
        active=np.array([0.0, 1.0]),
        X=np.zeros((2, 0)),
        seg=np.zeros((2, 0), dtype=int),
        unit_group=np.array([0, 1]),
        unit_team=np.zeros(2, dtype=int),
        unit_effects=False,
    )


def test_flat_priors_match_the_conjugate_beta_posterior():
    # Flat priors on the log-odds of each arm <=> p ~ Beta(0, 0) (Haldane), so the posterior of
    # each arm's rate is Beta(y, n - y), independently.
    y, n = np.array([30, 45]), np.array([100, 100])
    pri = resolve_priors("binomial", "fcr", {"intercept_sd": np.inf, "effect_sd": np.inf})
    block = ModelBlock("fcr", "binomial", _two_arm_design(), {"y": y, "n": n}, pri, centred=False)
    (f,) = fit(block, draws=1500, tune=1000, chains=4, seed=11)
    mu = draws_of(f.idata, "fcr_intercept")
    tau = draws_of(f.idata, "fcr_effect")
    pc, pt = rate(mu), rate(mu + tau)
    rng = np.random.default_rng(0)
    exact_c = stats.beta(y[0], n[0] - y[0])
    exact_t = stats.beta(y[1], n[1] - y[1])
    exact_diff = exact_t.rvs(200_000, random_state=rng) - exact_c.rvs(200_000, random_state=rng)
    chains = f.idata.posterior.sizes["chain"]
    for draws, exact_mean, exact_q in (
        (pc, exact_c.mean(), exact_c.ppf([0.05, 0.5, 0.95])),
        (pt, exact_t.mean(), exact_t.ppf([0.05, 0.5, 0.95])),
        (pt - pc, exact_diff.mean(), np.quantile(exact_diff, [0.05, 0.5, 0.95])),
    ):
        ess = float(az.ess(draws.reshape(chains, -1)))
        se = draws.std() / np.sqrt(ess)
        assert abs(draws.mean() - exact_mean) < 4 * se + 1e-4
        # quantile MC error: sqrt(q (1 - q) / ess) / density; 4 x that with the normal density bound
        q = np.quantile(draws, [0.05, 0.5, 0.95])
        tol = 4 * np.sqrt(0.05 * 0.95 / ess) / stats.norm.pdf(1.645) * draws.std()
        np.testing.assert_allclose(q, exact_q, atol=tol)


def test_prior_overrides_resolve_per_metric():
    pri = resolve_priors("binomial", "fcr", {"effect_sd": 0.3, "fcr.unit_sd": 0.2, "repeat_contact.unit_sd": 9})
    assert pri["effect_sd"] == 0.3 and pri["unit_sd"] == 0.2
    with pytest.raises(KeyError):
        resolve_priors("nope", "fcr", {})
