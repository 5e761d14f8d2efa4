"""The hand-shaped likelihood terms equal PyMC's own distributions up to a constant.

The binomial and ordinal families write their log-likelihood in a form that is cheaper to
differentiate (no binomial / multinomial coefficient, one log per cell and cutpoint). These tests
evaluate both at several parameter values: the differences must be the same constant everywhere,
so the posteriors are identical.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import pytest

from qmsprint.models import binomial, ordinal


def _same_up_to_constant(ours: list[float], reference: list[float]) -> None:
    diff = np.asarray(ours) - np.asarray(reference)
    assert np.all(np.isfinite(diff))
    np.testing.assert_allclose(diff, diff[0], rtol=0, atol=1e-8 * max(1.0, abs(diff[0])))


def test_binomial_kernel_matches_pm_binomial():
    rng = np.random.default_rng(3)
    n = rng.integers(1, 60, size=40)
    y = rng.binomial(n, 0.3)
    y[:3] = 0
    y[3:6] = n[3:6]
    data = {"b__y": pt.as_tensor(y), "b__n": pt.as_tensor(n)}
    eta = pt.vector("eta")
    ours = binomial.loglik(eta, data, "b")
    ref = pm.logp(pm.Binomial.dist(n=n, logit_p=eta), y).sum()
    vals_ours, vals_ref = [], []
    for scale in (0.5, 1.0, 2.0, 4.0, 8.0):
        e = rng.normal(-0.8, 1.0, size=len(n)) * scale
        vals_ours.append(float(ours.eval({eta: e})))
        vals_ref.append(float(ref.eval({eta: e})))
    _same_up_to_constant(vals_ours, vals_ref)
    # stays finite where p rounds to 0 or 1 in floating point (PyMC's gives -inf there)
    assert np.isfinite(float(ours.eval({eta: np.where(np.arange(len(n)) % 2, 40.0, -40.0)})))


@pytest.mark.parametrize("levels", [5, 11])
def test_ordinal_kernel_matches_pm_ordered_multinomial(levels):
    rng = np.random.default_rng(levels)
    cells = 30
    counts = rng.multinomial(rng.integers(0, 25), np.ones(levels) / levels, size=cells)
    counts[0] = 0  # an empty cell
    counts[1] = 0
    counts[1, -1] = 7  # everything in the top level
    data = {k: pt.as_tensor(v) for k, v in ordinal.block_data("o", {"counts": counts}).items()}
    eta = pt.vector("eta")
    cut = pt.vector("cut")
    ours = ordinal.loglik(eta, cut, data, "o")
    ref = pm.logp(pm.OrderedMultinomial.dist(eta=eta, cutpoints=cut, n=counts.sum(1)), counts).sum()
    vals_ours, vals_ref = [], []
    for _ in range(6):
        e = rng.normal(0.0, 1.5, size=cells)
        c = np.sort(rng.normal(0.0, 2.0, size=levels - 1))
        vals_ours.append(float(ours.eval({eta: e, cut: c})))
        vals_ref.append(float(ref.eval({eta: e, cut: c})))
    _same_up_to_constant(vals_ours, vals_ref)


def test_ordinal_block_data_keeps_only_pairs_with_data():
    counts = np.array([[0, 0, 3, 0, 0], [1, 0, 0, 0, 2]])
    d = ordinal.block_data("o", {"counts": counts})
    # cell 0: level 2 touches cutpoints 1 and 2; cell 1: level 0 -> cut 0, level 4 -> cut 3
    assert sorted(zip(d["o__pair_cell"], d["o__pair_cut"], strict=True)) == [(0, 1), (0, 2), (1, 0), (1, 3)]
    assert d["o__pair_w"].tolist() == [3.0, 3.0, 1.0, 2.0]
    assert d["o__middle"].tolist() == [0.0, 3.0, 0.0]


def test_gamma_cell_loglik_equals_the_row_by_row_gamma_density():
    """n, sum t, sum log t of a cell give exactly the sum of the rows' gamma log-densities (no constant)."""
    from qmsprint.models import gamma

    rng = np.random.default_rng(7)
    sizes = rng.integers(1, 40, size=25)
    cell = np.repeat(np.arange(len(sizes)), sizes)
    t = rng.gamma(2.5, 150.0, size=cell.size) + 20.0  # not gamma: the likelihood is still the gamma's
    obs = {
        "n": np.bincount(cell).astype(float),
        "sum": np.bincount(cell, weights=t),
        "slog": np.bincount(cell, weights=np.log(t)),
    }
    data = {k: pt.as_tensor(v) for k, v in gamma.block_data("h", obs).items()}
    eta, shape = pt.vector("eta"), pt.scalar("shape")
    ours = gamma.loglik(eta, shape, data, "h")
    mu_rows = pt.exp(eta)[cell]
    ref = pm.logp(pm.Gamma.dist(alpha=shape, beta=shape / mu_rows), t).sum()
    for a in (0.7, 2.0, 9.0):
        e = rng.normal(np.log(400.0), 0.3, size=len(sizes))
        assert float(ours.eval({eta: e, shape: a})) == pytest.approx(float(ref.eval({eta: e, shape: a})), rel=1e-10)


def test_gamma_shape_and_temperature_from_the_cells():
    """The shape estimate recovers a gamma's shape; the temperature is 1 on gamma values and below 1 on a mixture."""
    from qmsprint.models import gamma

    rng = np.random.default_rng(11)

    def cells(values: np.ndarray, size: int = 200) -> dict[str, np.ndarray]:
        cell = np.arange(values.size) // size
        return {
            "n": np.bincount(cell).astype(float),
            "sum": np.bincount(cell, weights=values),
            "slog": np.bincount(cell, weights=np.log(values)),
            "sumsq": np.bincount(cell, weights=values**2),
        }

    g = cells(rng.gamma(3.0, 100.0, 200_000) * np.repeat(rng.lognormal(0, 0.3, 1000), 200))
    assert gamma.shape_estimate(g) == pytest.approx(3.0, rel=0.03)
    assert gamma.dispersion_factor(g) == pytest.approx(1.0, abs=0.05)
    slow = rng.random(200_000) < 0.2
    mix = cells(np.exp(rng.normal(6.0, 0.5, 200_000)) * np.where(slow, 3.0, 1.0))
    # the gamma fitted through the logs understates this mixture's variance: the likelihood is tempered
    assert gamma.dispersion_factor(mix) < 0.8
