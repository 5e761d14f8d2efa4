"""The diagnosis chooses centred or non-centred agent effects from the data, not from an assumed sd."""

from __future__ import annotations

import numpy as np
import pytest

from qmsprint.models.diagnosis import DiagnosisPart, agent_moments, centred_agents


def _part(family: str, sd: float, *, agents: int = 150, per_cell: int = 40, cells: int = 4, slope: float = 0.0, seed=0):
    """Cells of ``agents`` agents with agent effects of sd ``sd`` beyond ``slope`` x the agent's score."""
    rng = np.random.default_rng(seed)
    score = rng.normal(0, 1, agents)  # agent-level covariate, constant over the agent's cells
    u = slope * score + rng.normal(0, sd, agents)
    idx = np.repeat(np.arange(agents), cells)
    n = np.full(agents * cells, per_cell)
    X = np.column_stack([np.zeros(len(idx)), score[idx]])  # [within (none here), between]
    eta = u[idx]
    if family == "binomial":
        y = rng.binomial(n, 1 / (1 + np.exp(-(0.4 + eta))))
    elif family == "ordinal":
        cut = np.array([-2.0, -1.0, 0.0, 1.5])
        p_le = 1 / (1 + np.exp(-(cut[None, :] - eta[:, None])))
        probs = np.diff(np.column_stack([np.zeros(len(eta)), p_le, np.ones(len(eta))]), axis=1)
        y = np.array([rng.multinomial(k, p) for k, p in zip(n, probs, strict=True)])
    else:  # standardized values with residual sd 1: y = (sum, sum of squares) per cell
        v = [rng.normal(e, 1.0, k) for e, k in zip(eta, n, strict=True)]
        y = np.array([[x.sum(), (x**2).sum()] for x in v])
    return DiagnosisPart("o/p", family, ["within", "between"], X, idx, n, y, between_slope=True)


@pytest.mark.parametrize("family", ["binomial", "ordinal", "gaussian"])
@pytest.mark.parametrize("sd", [0.0, 0.4])
def test_the_moment_estimate_recovers_the_agent_sd_beyond_the_score(family, sd):
    # the score moves the agents by 0.5 per sd: that is not agent variation left for the random effects
    ests = [agent_moments(_part(family, sd, slope=0.5, seed=s))[0] for s in range(8)]
    assert np.sqrt(np.mean(ests)) == pytest.approx(sd, abs=0.06)


def test_the_sampling_variance_is_one_agents_and_the_count_is_the_agents():
    s2, v, k = agent_moments(_part("gaussian", 0.2, agents=60, per_cell=25, cells=4))
    assert v == pytest.approx(1 / 100, rel=0.1)  # residual sd 1 over 100 interactions per agent
    assert k == 60 - 1  # one degree of freedom left to the score's slope


@pytest.mark.parametrize("family", ["binomial", "ordinal", "gaussian"])
def test_agents_without_variation_are_non_centred_and_well_measured_varied_agents_centred(family):
    assert centred_agents(_part(family, 0.0, per_cell=200)) is False  # the centred form is a funnel
    assert centred_agents(_part(family, 0.05, per_cell=10)) is False  # little data per agent
    assert centred_agents(_part(family, 0.6, per_cell=200)) is True  # the data pin every agent down


def test_too_few_agents_are_non_centred():
    assert centred_agents(_part("binomial", 1.0, agents=3, per_cell=1000)) is False
