"""The shared linear predictor: levels by design, and the readout's numpy counterfactual equals the model's eta."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest

from qmsprint.models import CellDesign, resolve_priors
from qmsprint.models.terms import core_parameters, linear_predictor, spread_parameters, treated_shift, untreated


def _design(kind="did", periods=2, fixed=(), n_sites=2, seg=True) -> CellDesign:
    rng = np.random.default_rng(1)
    n_units, n_cells = 12, 60
    unit = np.repeat(np.arange(n_units), n_cells // n_units)
    post = np.tile([0.0, 0.0, 1.0, 1.0, 1.0], n_units) if periods == 2 else np.ones(n_cells)
    group = (np.arange(n_units) % 2).astype(float)
    active = group[unit] * post
    x = rng.integers(0, 3, n_cells)
    X = np.column_stack([(x == 1), (x == 2)]).astype(float)
    return CellDesign(
        kind=kind,
        unit=unit,
        post=post,
        active=active,
        X=X,
        seg=(x % 2)[:, None] if seg else np.zeros((n_cells, 0), dtype=int),
        unit_group=group,
        unit_team=np.arange(n_units) // 2,
        n_teams=6,
        seg_levels=(2,) if seg else (),
        x_blocks=(2,),
        unit_site=np.arange(n_units) // 6,
        n_sites=n_sites,
        periods=periods,
        fixed=fixed,
    )


@pytest.mark.parametrize(
    ("kind", "periods", "fixed", "centred"),
    [
        ("did", 2, ("site", "site_period"), ("unit",)),
        ("ab", 2, (), ("team", "team_period")),
        ("ab", 1, ("site",), ()),
        ("did", 2, (), ("unit", "team", "site", "team_period", "site_period", "unit_period")),
    ],
)
def test_numpy_counterfactual_equals_the_model_predictor(kind, periods, fixed, centred):
    d = _design(kind, periods, fixed)
    pri = resolve_priors("binomial", "m", {})
    with pm.Model():
        data = {k: pm.Data(k, v) for k, v in d.data("m").items()}
        eta = linear_predictor("m", d, data, pri, centred=centred, intercept=True, effect_mu=0.0, effect_sd=1.0)
        pm.Deterministic("m_eta", eta)
        prior = pm.sample_prior_predictive(draws=20, random_seed=3)
    post = prior.prior

    def draws(suffix: str) -> np.ndarray:
        v = post[f"m_{suffix}"].to_numpy()
        return v.reshape(v.shape[0] * v.shape[1], *v.shape[2:])

    base = untreated(d, draws, d.unit, d.X, d.post)
    ours = base + treated_shift(d, draws, d.seg) * d.active[None, :]
    np.testing.assert_allclose(ours, draws("eta"), atol=1e-10)
    # the effect cells of a DiD are treated units in the pilot: their untreated predictor has no tau
    treated = d.active > 0
    np.testing.assert_allclose(
        untreated(d, draws, d.unit[treated], d.X[treated], d.post[treated]) + treated_shift(d, draws, d.seg[treated]),
        draws("eta")[:, treated],
        atol=1e-10,
    )


def test_levels_follow_teams_sites_and_periods():
    assert _design("did", 2).levels == ("unit", "team", "site", "team_period", "site_period", "unit_period")
    assert _design("ab", 1).levels == ("unit", "team", "site")
    assert _design("ab", 2, n_sites=1).levels == ("unit", "team", "team_period", "unit_period")
    d = _design("did", 2, fixed=("site", "site_period"))
    names = spread_parameters("m", d)
    assert "m_sd_site" not in names and "m_sd_site_period" not in names and "m_sd_team_period" in names
    assert not set(names) & set(core_parameters("m", d))
    assert d.arm_centred is False and _design("ab", 1).arm_centred is True
    # the compiled shape changes with the levels and the fixed ones
    assert d.shape_key() != _design("did", 2).shape_key()


@pytest.mark.parametrize("centred", [(), ("unit", "team", "site", "team_period", "site_period", "unit_period")])
def test_levels_above_agents_sum_to_zero_with_the_sd_of_unconstrained_effects(centred):
    d = _design("did", 2, fixed=("site",))
    pri = {**resolve_priors("binomial", "m", {}), "site_sd": 0.5}
    with pm.Model():
        data = {k: pm.Data(k, v) for k, v in d.data("m").items()}
        linear_predictor("m", d, data, pri, centred=centred, intercept=True, effect_mu=0.0, effect_sd=1.0)
        prior = pm.sample_prior_predictive(draws=4000, random_seed=5).prior
    for level, n in [("team", 6), ("site", 2), ("team_period", 6), ("site_period", 2), ("unit_period", 12)]:
        eff = prior[f"m_{level}"].to_numpy().reshape(-1, n)
        np.testing.assert_allclose(eff.sum(axis=1), 0.0, atol=1e-9, err_msg=level)
    # a fixed level: each member's sd is that of n iid effects of sd 0.5 net of their mean
    site = prior["m_site"].to_numpy().reshape(-1, 2)
    assert site[:, 0].std() == pytest.approx(0.5 * np.sqrt(1 / 2), rel=0.05)
    # with an estimated sd: member = sd * z, z summing to zero with sd sqrt((n - 1) / n)
    team = prior["m_team"].to_numpy().reshape(-1, 6)
    sd = prior["m_sd_team"].to_numpy().reshape(-1)
    assert (team[:, 0] / sd).std() == pytest.approx(np.sqrt(5 / 6), rel=0.05)
    # agents are not constrained (their mean carries the arm difference of an A/B by agent)
    unit = prior["m_unit"].to_numpy().reshape(-1, 12)
    assert np.abs(unit.sum(axis=1)).max() > 0.1
