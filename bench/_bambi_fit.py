"""The row-level side of bench/bench_bambi.py, run in its own venv (bench/.venv-bambi).

Reads a Parquet file of rows (``y``, ``treat`` 0/1, ``agent``), fits one model row by row and
prints one JSON line: seconds (model build + sampling, with the libraries imported first, as
qmsprint's side of the bench does), the seconds of those imports, the posterior mean and sd of the
treatment coefficient, and the worst R-hat / lowest ESS of it.

* ``--model bambi-cumulative``: Bambi's ``y ~ treat + (1|agent)``, family ``cumulative``
  (cumulative logit; ``y`` the ordered CSAT level);
* ``--model pymc-bernoulli``: a hand-written PyMC model, ``y ~ Bernoulli(logit^-1(a + b treat + u_agent))``
  with ``u_agent ~ Normal(0, sd)`` (non-centred), what one writes without Bambi for FCR.

Both use qmsprint's default priors (effect Normal(0, 1), agent sd HalfNormal(0.5), cutpoints
Normal(0, 3) ordered, intercept Normal(0, 2.5) about the observed log-odds), so the two sides fit the
same model. Bambi's own defaults differ (cutpoints Normal([-2, -0.67, 0.67, 2], 1), agent sd
HalfNormal(3.56) on the bundled bench data) and moved the CSAT effect by about 0.4 posterior sds.

Both sample with nutpie when it is installed (as qmsprint does), else PyMC's NUTS, at
``--target-accept`` (bench_bambi.py passes qmsprint's, so that both sides sample alike).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd


def fit_bambi(df: pd.DataFrame, draws: int, tune: int, chains: int, seed: int, sampler: str, accept: float):
    import bambi as bmb

    df = df.assign(y=pd.Categorical(df["y"], ordered=True), agent=df["agent"].astype(str))
    import pymc as pm

    levels = df["y"].cat.categories.size
    priors = {
        "treat": bmb.Prior("Normal", mu=0.0, sigma=1.0),
        "1|agent": bmb.Prior("Normal", mu=0.0, sigma=bmb.Prior("HalfNormal", sigma=0.5)),
        "threshold": bmb.Prior(
            "Normal",
            mu=np.zeros(levels - 1),
            sigma=3.0,
            transform=pm.distributions.transforms.ordered,
            initval=np.linspace(-2.0, 2.0, levels - 1),
        ),
    }
    model = bmb.Model("y ~ treat + (1|agent)", df, family="cumulative", priors=priors)
    idata = model.fit(
        draws=draws,
        tune=tune,
        chains=chains,
        random_seed=seed,
        progressbar=False,
        inference_method=sampler,
        target_accept=accept,
    )
    return idata, "treat"


def fit_pymc_bernoulli(df: pd.DataFrame, draws: int, tune: int, chains: int, seed: int, sampler: str, accept: float):
    import pymc as pm

    agent = pd.Categorical(df["agent"].astype(str))
    codes = agent.codes.astype(np.int64)
    y = df["y"].to_numpy().astype(np.int64)
    treat = df["treat"].to_numpy().astype(float)
    with pm.Model(coords={"agent": agent.categories}):
        rate = (y.sum() + 0.5) / (len(y) + 1.0)
        a = pm.Normal("a", np.log(rate / (1 - rate)), 2.5)
        b = pm.Normal("treat", 0.0, 1.0)
        sd = pm.HalfNormal("sd", 0.5)
        z = pm.Normal("z", 0.0, 1.0, dims="agent")
        pm.Bernoulli("y", logit_p=a + b * treat + sd * z[codes], observed=y)
        idata = pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            random_seed=seed,
            progressbar=False,
            nuts_sampler=sampler,
            target_accept=accept,
        )
    return idata, "treat"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--model", choices=["bambi-cumulative", "pymc-bernoulli"], required=True)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=300)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--target-accept", type=float, default=0.8, help="NUTS target acceptance (PyMC's default 0.8)")
    args = ap.parse_args()
    t_imports = time.perf_counter()
    import pymc  # noqa: F401
    import pytensor.link.numba.dispatch  # noqa: F401 - nutpie's compile backend

    if args.model == "bambi-cumulative":
        import bambi  # noqa: F401
    try:
        import nutpie  # noqa: F401

        sampler = "nutpie"
    except ImportError:
        sampler = "pymc"
    imports = time.perf_counter() - t_imports
    df = pd.read_parquet(args.data)
    t0 = time.perf_counter()
    fit = fit_bambi if args.model == "bambi-cumulative" else fit_pymc_bernoulli
    idata, name = fit(df, args.draws, args.tune, args.chains, args.seed, sampler, args.target_accept)
    seconds = time.perf_counter() - t0
    draws = idata.posterior[name].to_numpy().ravel()
    import arviz as az

    summ = az.summary(idata, var_names=[name])
    print(
        json.dumps(
            {
                "seconds": seconds,
                "imports": imports,
                "mean": float(draws.mean()),
                "sd": float(draws.std()),
                "rhat": float(summ["r_hat"].max()),
                "ess_bulk": float(summ["ess_bulk"].min()),
                "rows": len(df),
                "target_accept": args.target_accept,
                "sampler": sampler,
            }
        )
    )


if __name__ == "__main__":
    main()
