"""Agreement with an independent row-by-row implementation of the same hierarchical models.

Rows are simulated, reduced to cells by a plain pandas groupby, and fitted (a) by the cell-level
models of qmsprint.models and (b) by the same models written row by row in PyMC
(Bernoulli / OrderedLogistic / Normal on log handle time per interaction). The posterior mean of
each latent treatment effect must agree within Monte Carlo error (4 combined MCSEs), and the
posterior sds within 15%.
"""

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import pytest
from scipy.special import expit

from qmsprint.models import CellDesign, ModelBlock, fit, resolve_priors
from qmsprint.models.binomial import center as binomial_center

N_AGENTS, PER_AGENT = 12, 40
CUTS = np.array([-2.0, -1.0, 0.3, 1.6])


def _rows(seed=4):
    rng = np.random.default_rng(seed)
    agent = np.repeat(np.arange(N_AGENTS), PER_AGENT)
    g = (np.arange(N_AGENTS) % 2)[agent]
    u = rng.normal(0, 0.4, N_AGENTS)[agent]
    eta = u + 0.4 * g
    fcr = rng.binomial(1, expit(0.5 + eta))
    cdf = expit(CUTS[None, :] - eta[:, None])
    csat = 1 + (rng.uniform(size=len(eta))[:, None] > cdf).sum(1)
    lht = rng.normal(np.log(300) + 0.2 * u - 0.1 * g, 0.5)
    return pd.DataFrame({"agent": agent, "g": g, "fcr": fcr, "csat": csat, "lht": lht})


def _design(cells):
    n = len(cells)
    return CellDesign(
        kind="ab",
        unit=cells["agent"].to_numpy(),
        post=np.ones(n),
        active=cells["g"].to_numpy().astype(float),
        X=np.zeros((n, 0)),
        seg=np.zeros((n, 0), dtype=int),
        unit_group=cells["g"].to_numpy(),
        unit_team=np.zeros(n, dtype=int),
    )


def _row_model(rows):
    agent = rows["agent"].to_numpy()
    gu = (np.arange(N_AGENTS) % 2).astype(float)
    pb, pc, pl = (resolve_priors(f, m, {}) for f, m in (("binomial", "fcr"), ("ordinal", "csat"), ("continuous", "ht")))
    y = rows["fcr"].to_numpy()
    with pm.Model() as m:
        # FCR: Bernoulli per interaction
        tau = pm.Normal("fcr_effect", 0, pb["effect_sd"])
        mu = binomial_center({"y": y, "n": np.ones_like(y)}) + pb["intercept_sd"] * pm.Normal("fcr_mu_raw", 0, 1)
        sd = pm.HalfNormal("fcr_sd", pb["unit_sd"])
        b = mu + tau * gu + sd * pm.Normal("fcr_z", 0, 1, shape=N_AGENTS)
        pm.Bernoulli("fcr", logit_p=b[agent], observed=y)
        # CSAT: ordered logistic per response
        tau_c = pm.Normal("csat_effect", 0, pc["effect_sd"])
        sd_c = pm.HalfNormal("csat_sd", pc["unit_sd"])
        b_c = tau_c * gu + sd_c * pm.Normal("csat_z", 0, 1, shape=N_AGENTS)
        cut = pm.Normal(
            "csat_cut",
            0,
            pc["cutpoint_sd"],
            shape=4,
            transform=pm.distributions.transforms.ordered,
            initval=np.linspace(-2, 2, 4),
        )
        pm.OrderedLogistic("csat", eta=b_c[agent], cutpoints=cut, observed=rows["csat"].to_numpy() - 1)
        # handle time: normal on log seconds per interaction
        lht = rows["lht"].to_numpy()
        tau_h = pm.Normal("ht_effect", 0, pl["effect_sd"])
        mu_h = lht.mean() + pl["intercept_sd"] * pm.Normal("ht_mu_raw", 0, 1)
        sd_h = pm.HalfNormal("ht_sd", pl["unit_sd"])
        b_h = mu_h + tau_h * gu + sd_h * pm.Normal("ht_z", 0, 1, shape=N_AGENTS)
        pm.Normal("lht", b_h[agent], pm.HalfNormal("ht_sigma", pl["sigma_sd"]), observed=lht)
    return m


@pytest.mark.slow
def test_cell_models_agree_with_row_by_row_models():
    rows = _rows()
    cells = rows.groupby(["agent", "g"]).agg(
        fcr_yes=("fcr", "sum"), n=("fcr", "size"), s1=("lht", "sum"), s2=("lht", lambda x: (x**2).sum())
    )
    counts = pd.crosstab(rows["agent"], rows["csat"]).reindex(columns=range(1, 6), fill_value=0)
    cells = cells.reset_index()
    design = _design(cells)
    blocks = [
        ModelBlock(
            "fcr",
            "binomial",
            design,
            {"y": cells["fcr_yes"].to_numpy(), "n": cells["n"].to_numpy()},
            resolve_priors("binomial", "fcr", {}),
        ),
        ModelBlock("csat", "ordinal", design, {"counts": counts.to_numpy()}, resolve_priors("ordinal", "csat", {})),
        ModelBlock(
            "ht",
            "continuous",
            design,
            {"n": cells["n"].to_numpy(), "s1": cells["s1"].to_numpy(), "s2": cells["s2"].to_numpy()},
            resolve_priors("continuous", "ht", {}),
        ),
    ]
    fits = fit(blocks, draws=2000, tune=1000, chains=4, seed=5)
    with _row_model(rows):
        idata_rows = pm.sample(
            draws=2000,
            tune=1000,
            chains=4,
            random_seed=6,
            nuts_sampler="nutpie",
            progressbar=False,
            nuts_sampler_kwargs={"low_rank_modified_mass_matrix": True},
        )
    for f in fits:
        name = f"{f.block.name}_effect"
        a = az.summary(f.idata, var_names=[name])
        b = az.summary(idata_rows, var_names=[name])
        se = np.hypot(a["mcse_mean"].iloc[0], b["mcse_mean"].iloc[0])
        assert abs(a["mean"].iloc[0] - b["mean"].iloc[0]) < 4 * se + 1e-3, (name, a, b)
        assert a["sd"].iloc[0] == pytest.approx(b["sd"].iloc[0], rel=0.15), (name, a, b)
