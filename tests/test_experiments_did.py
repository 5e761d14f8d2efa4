"""estimate() on difference-in-differences cells: exact recovery on noiseless data, plumbing."""

import numpy as np
import pytest
from models_cellsim import make_cells, spec_for

from qmsprint.experiments import estimate, prior_predictive_check


@pytest.fixture(scope="module")
def noiseless():
    # no agent variation, no sampling noise: counts are the expected counts (rounded), handle-time
    # statistics the exact expectations; 8 agents x 2 periods x 20,000 interactions
    return make_cells(
        "did", n_agents=8, n_teams=2, per_agent=20_000, noiseless=True, channels=("voice",), channel_shift=(0.0,)
    )


def test_noiseless_did_recovers_the_exact_effect(noiseless):
    cells, truth, _ = noiseless
    spec = spec_for("did", metrics=("fcr", "handle_time"), draws=500, tune=500, chains=2)
    res = {r.metric: r for r in estimate(spec, cells)}
    # the DiD effect on the treated, in pp and seconds; agent effects cancel within agents
    assert res["fcr"].headline.mean == pytest.approx(truth["fcr"]["rate"], abs=0.1)
    assert res["fcr"].effects[1].mean == pytest.approx(truth["fcr"]["relative"], abs=0.2)
    assert res["handle_time"].headline.mean == pytest.approx(truth["handle_time"]["mean"], abs=0.5)
    # baseline group difference (0.2) and period shock (-0.1) on the latent scale
    post = res["fcr"].idata.posterior
    assert float(post["fcr_period"].mean()) == pytest.approx(-0.1, abs=0.02)
    assert float(post["fcr_effect"].mean()) == pytest.approx(0.2, abs=0.02)
    assert res["fcr"].latent_effect[0] == pytest.approx(0.2, abs=0.02)
    # PPC labels by arm and period
    assert res["fcr"].ppc["labels"] == [
        "checklist baseline",
        "checklist pilot",
        "behavior baseline",
        "behavior pilot",
    ]
    assert res["fcr"].design == "did"


def test_prior_predictive_check_covers_the_data(noiseless):
    cells, _, _ = noiseless
    out = prior_predictive_check(spec_for("did", metrics=("fcr", "handle_time")), cells, draws=300)
    for m, d in out.items():
        obs, lo, hi = (np.array(d[k]) for k in ("observed", "replicated_low", "replicated_high"))
        assert np.all((obs >= lo) & (obs <= hi)), m
        assert np.all(hi - lo > 0)
