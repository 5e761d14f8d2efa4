"""Parametrisation per level from the data (qmsprint.models.priors.choose_levels): moment sds recover known sds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from qmsprint.models import CellDesign, choose_levels
from qmsprint.models.priors import level_moments, moment_variance


def _binomial_pilot(n_per_cell: int, sds: dict[str, float], seed: int = 0, n_agents: int = 240, n_teams: int = 24):
    """Agents in teams, two periods, binomial cells; each agent-period is one cell."""
    rng = np.random.default_rng(seed)
    team = np.arange(n_agents) % n_teams
    group = (team % 2).astype(float)  # teams randomized
    b = rng.normal(0, sds.get("unit", 0.0), n_agents) + rng.normal(0, sds.get("team", 0.0), n_teams)[team]
    change = (
        rng.normal(0, sds.get("unit_period", 0.0), n_agents) + rng.normal(0, sds.get("team_period", 0.0), n_teams)[team]
    )
    unit = np.repeat(np.arange(n_agents), 2)
    post = np.tile([0.0, 1.0], n_agents)
    eta = -0.5 + b[unit] + post * (0.1 + change[unit]) + 0.2 * group[unit] * post
    n = np.full(unit.size, n_per_cell)
    y = rng.binomial(n, expit(eta))
    design = CellDesign(
        kind="did",
        unit=unit,
        post=post,
        active=group[unit] * post,
        X=np.zeros((unit.size, 0)),
        seg=np.zeros((unit.size, 0), dtype=int),
        unit_group=group,
        unit_team=team,
        n_teams=n_teams,
    )
    return design, {"y": y, "n": n}


def test_moment_variance_of_known_groups():
    rng = np.random.default_rng(2)
    est = rng.normal(0, 0.5, 4000) + rng.normal(0, 0.2, 4000)  # between sd 0.5, noise sd 0.2
    var = np.full(4000, 0.04)
    v, used = moment_variance(est, var, np.arange(4000) % 4)
    assert v == pytest.approx(0.25, rel=0.08) and used == 4000
    assert np.isnan(moment_variance(np.zeros(3), np.ones(3), np.arange(3))[0])  # no parent with two members


def test_moment_sds_recover_each_level_of_a_large_pilot():
    truth = {"unit": 0.4, "team": 0.25, "team_period": 0.2, "unit_period": 0.15}
    design, obs = _binomial_pilot(4000, truth)
    moments = level_moments("binomial", design, obs)
    assert set(moments) == set(design.levels) == set(truth)
    for level, sd in truth.items():
        assert np.sqrt(moments[level][0]) == pytest.approx(sd, abs=0.35 * sd), level
    choices = choose_levels("binomial", design, obs)
    # 4000 observations per agent and period pin every member down: every level has a large ratio ...
    assert all(c.ratio > 4 for c in choices.values()), choices
    # ... the agent levels (240 members) are centred; 24 teams leave a small team sd possible
    assert choices["unit"].centred and choices["unit_period"].centred
    assert choices["team"].centred == (choices["team"].ratio * (1 - 2 * np.sqrt(2 / 23)) >= 4)
    few, obs_few = _binomial_pilot(4000, truth, n_agents=90, n_teams=9)
    assert not any(c.centred for lv, c in choose_levels("binomial", few, obs_few).items() if lv.startswith("team"))


def test_little_data_or_no_variation_means_non_centred():
    design, obs = _binomial_pilot(30, {"unit": 0.3, "team": 0.2, "team_period": 0.1, "unit_period": 0.1}, seed=1)
    small = choose_levels("binomial", design, obs)
    assert not small["unit"].centred and not small["unit_period"].centred  # 30 per cell: the prior matters
    design, obs = _binomial_pilot(4000, {"unit": 0.4}, seed=2)
    none = choose_levels("binomial", design, obs)
    assert none["unit"].centred
    # no team, team x period or agent x period variation: a centred form would be a funnel
    for level in ("team", "team_period", "unit_period"):
        assert not none[level].centred and none[level].sd < 0.05, (level, none[level])


@pytest.mark.parametrize("family", ["ordinal", "gamma"])
def test_group_estimates_of_other_families_find_agent_spread(family):
    from qmsprint.models import get_family

    rng = np.random.default_rng(4)
    n_agents, n = 300, 3000
    b = rng.normal(0, 0.3, n_agents)
    if family == "ordinal":
        cuts = np.array([-2.0, -1.0, 0.5, 1.5])
        cdf = expit(cuts[None, :] - b[:, None])
        p = np.diff(np.concatenate([np.zeros((n_agents, 1)), cdf, np.ones((n_agents, 1))], axis=1), axis=1)
        obs = {"counts": np.array([rng.multinomial(n, pi) for pi in p])}
    else:
        t = rng.gamma(2.0, np.exp(6 + b)[:, None] / 2.0, (n_agents, n))
        obs = {"n": np.full(n_agents, float(n)), "sum": t.sum(1), "slog": np.log(t).sum(1), "sumsq": (t * t).sum(1)}
    est, var = get_family(family).group_estimates(obs, np.arange(n_agents), n_agents)
    v, _ = moment_variance(est, var, np.zeros(n_agents))
    assert np.sqrt(v) == pytest.approx(0.3, rel=0.15)
