"""The diagnosis's normal likelihood on summary statistics: exact against the values it summarises."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from qmsprint.models.diagnosis import DiagnosisPart, gaussian_loglik, gaussian_stats, part_model


def _raw(seed: int, between: bool):
    """Values of 3 agents x 4 cells, with a design whose second column is each agent's mean of the first."""
    rng = np.random.default_rng(seed)
    agents, per = 3, 4
    codes = np.repeat(np.arange(agents), per)
    x0 = rng.normal(size=agents * per)
    x1 = np.repeat([x0[codes == j].mean() for j in range(agents)], per) if between else rng.normal(size=agents * per)
    X = np.column_stack([x0, x1, rng.integers(0, 2, agents * per)])
    n = rng.integers(1, 6, agents * per)
    values = [rng.normal(0.3, 1.2, k) for k in n]  # the interactions of each cell
    y = np.array([[v.sum(), (v**2).sum()] for v in values])
    return X, codes, n, y, values


def _const(n_values: float) -> float:
    return -0.5 * n_values * np.log(2 * np.pi)


def test_the_statistics_give_the_normal_log_likelihood_of_the_values():
    import pytensor
    import pytensor.tensor as pt

    X, codes, n, y, values = _raw(1, between=False)
    st = gaussian_stats(X, codes, 3, n, y)
    a, beta, u, sigma = pt.dscalar(), pt.dvector(), pt.dvector(), pt.dscalar()
    f = pytensor.function([a, beta, u, sigma], gaussian_loglik(a, beta, u, sigma, st))
    g = pytensor.function([a, u, sigma], gaussian_loglik(a, None, u, sigma, st))
    rng = np.random.default_rng(2)
    for _ in range(5):
        a0, b0, u0, s0 = rng.normal(), rng.normal(size=3), rng.normal(size=3), rng.uniform(0.5, 2)
        mu = a0 + X @ b0 + u0[codes]
        truth = sum(stats.norm.logpdf(v, m, s0).sum() for v, m in zip(values, mu, strict=True))
        assert f(a0, b0, u0, s0) + _const(n.sum()) == pytest.approx(truth, rel=1e-10)
        mu = a0 + u0[codes]
        truth = sum(stats.norm.logpdf(v, m, s0).sum() for v, m in zip(values, mu, strict=True))
        assert g(a0, u0, s0) + _const(n.sum()) == pytest.approx(truth, rel=1e-10)


@pytest.mark.parametrize("between", [False, True])
@pytest.mark.parametrize("centred", [False, True])
def test_a_gaussian_part_model_is_the_normal_model_of_its_values(between, centred):
    """The part's likelihood term at random points equals the values' log density (between slope or not)."""
    X, codes, n, y, values = _raw(3, between)
    part = DiagnosisPart("t/x", "gaussian", ["a", "b", "c"], X, codes, n, y, between_slope=between)
    model, _ = part_model(part, centred)
    (graph,) = model.replace_rvs_by_values([model.potentials[0]])
    term = model.compile_fn(graph, inputs=model.value_vars, on_unused_input="ignore")
    rng = np.random.default_rng(4)
    for _ in range(3):
        point = {k: rng.normal(size=np.shape(v)) * 0.5 for k, v in model.initial_point().items()}
        beta = point["beta"]
        sd, sigma = np.exp(point["sd_agent_log__"]), np.exp(point["sigma_log__"])
        xbar = np.array([X[codes == j, 1].mean() for j in range(3)])
        m = beta[1] * xbar if between else 0.0
        u = point["u_agent"] if centred else m + sd * point["z_agent"]
        fixed = beta[0] * X[:, 0] + beta[2] * X[:, 2] if between else X @ beta
        mu = point["intercept"] + fixed + u[codes]
        truth = sum(stats.norm.logpdf(v, mm, sigma).sum() for v, mm in zip(values, mu, strict=True))
        assert float(term(point)) + _const(n.sum()) == pytest.approx(truth, rel=1e-10)
