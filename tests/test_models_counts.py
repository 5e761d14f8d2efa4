"""The counts family: the cell-sum likelihood is PyMC's negative binomial, the dispersion is recovered."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import pytest

from qmsprint.models import counts, get_family


def _cells(rng, mu, r, n_cells=400):
    n = rng.integers(1, 40, n_cells)
    rows = [rng.negative_binomial(r, r / (r + mu), k) for k in n]
    return {
        "n": n.astype(float),
        "sum": np.array([x.sum() for x in rows], float),
        "sumsq": np.array([(x.astype(float) ** 2).sum() for x in rows]),
    }


def test_cell_sum_likelihood_equals_pymc_negative_binomial_up_to_a_constant():
    rng = np.random.default_rng(2)
    obs = _cells(rng, 0.7, 1.5, 30)
    data = {k: pt.as_tensor(v) for k, v in counts.block_data("c", obs).items()}
    r = float(counts.shape(obs))
    eta = pt.vector("eta")
    ours = counts.loglik(eta, data, "c")
    ref = pm.logp(pm.NegativeBinomial.dist(mu=obs["n"] * pt.exp(eta), alpha=obs["n"] * r), obs["sum"]).sum()
    diffs = []
    for scale in (0.3, 1.0, 2.0):
        e = rng.normal(-0.3, 1.0, len(obs["n"])) * scale
        diffs.append(float(ours.eval({eta: e})) - float(ref.eval({eta: e})))
    np.testing.assert_allclose(diffs, diffs[0], atol=1e-6 * max(1.0, abs(diffs[0])))


@pytest.mark.parametrize(("mu", "r"), [(0.4, 0.8), (2.0, 3.0), (3.0, 10.0)])
def test_dispersion_from_within_cell_variance_recovers_the_shape(mu, r):
    obs = _cells(np.random.default_rng(7), mu, r, 1500)
    assert 1.0 / counts.dispersion(obs) == pytest.approx(r, rel=0.25)


def test_poisson_counts_have_no_over_dispersion_and_the_family_is_registered():
    rng = np.random.default_rng(3)
    n = rng.integers(2, 30, 500)
    rows = [rng.poisson(0.8, k) for k in n]
    obs = {"n": n.astype(float), "sum": np.array([x.sum() for x in rows], float),
           "sumsq": np.array([(x**2).sum() for x in rows], float)}  # fmt: skip
    assert counts.dispersion(obs) < 0.03
    fam = get_family("counts")
    assert fam.keys == ("mean",)
    stats = np.column_stack([obs["sum"], obs["sumsq"]])
    assert set(fam.observed(obs["n"], stats)) == {"n", "sum", "sumsq"}
    est, var = fam.group_estimates(obs, np.arange(len(n)) % 4, 4)
    assert np.all(np.abs(est) < 0.2) and np.all(var > 0)
    eta = np.log(0.8) + np.zeros((50, len(n)))
    (row,) = fam.ppc(eta, {}, obs, [np.ones(len(n), bool)], rng)[0]
    assert row[0] is None and abs(row[2].mean() - 0.8) < 0.05


def test_the_counts_family_has_every_prior_the_shared_model_terms_read():
    from qmsprint.models import binomial

    assert set(binomial.FAMILY.default_priors) <= set(counts.FAMILY.default_priors)
