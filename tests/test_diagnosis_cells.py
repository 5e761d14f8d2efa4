"""Item parts on agent x item-pattern cells: the channel and reason mix adjusts the item effects (known answer)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit

from qmsprint.diagnosis import prepare_diagnosis
from qmsprint.diagnosis.blocks import items_block
from qmsprint.spec import parse_spec

TRUE = {"greeting": 0.5, "empathy": 0.0}
CHANNEL_EFFECT = {"voice": 0.0, "chat": -0.8, "email": -1.2}
GREETING_PASS = {"voice": 0.95, "chat": 0.55, "email": 0.4}  # greeting is skipped where outcomes are worse


def confounded_frame(n_agents: int = 40, per_agent: int = 500, seed: int = 5) -> pd.DataFrame:
    """Rows where passing the greeting goes with the channel, and the channel with the outcome."""
    rng = np.random.default_rng(seed)
    n = n_agents * per_agent
    agent = np.repeat(np.arange(n_agents), per_agent)
    channel = rng.choice(list(CHANNEL_EFFECT), n, p=[0.5, 0.3, 0.2])
    reason = rng.choice(["billing", "tech", "other"], n)
    greeting = (rng.random(n) < pd.Series(channel).map(GREETING_PASS).to_numpy()).astype(int)
    empathy = (rng.random(n) < 0.7).astype(int)
    eta = (
        TRUE["greeting"] * greeting
        + TRUE["empathy"] * empathy
        + pd.Series(channel).map(CHANNEL_EFFECT).to_numpy()
        + pd.Series(reason).map({"billing": -0.3, "tech": 0.2, "other": 0.0}).to_numpy()
        + rng.normal(0, 0.3, n_agents)[agent]
    )
    return pd.DataFrame(
        {
            "agent_id": [f"A{a:02d}" for a in agent],
            "channel": channel,
            "contact_reason": reason,
            "qa_score": 50.0 * (greeting + empathy),
            "fcr": rng.random(n) < expit(0.5 + eta),
            "item_greeting": greeting,
            "item_empathy": empathy,
        }
    )


def spec():
    raw = {
        "name": "cells",
        "design": "ab",
        "arms": {"control": "checklist", "treatment": "behavior"},
        "data": {"source": "x.parquet"},
        "metrics": [{"name": "fcr"}],
    }
    return parse_spec(raw, base_dir=".")


def test_item_cells_are_agent_by_pattern_with_each_cells_mix():
    df = confounded_frame(n_agents=12, per_agent=200)
    p = prepare_diagnosis(df, spec(), None)
    o = next(o for o in p.outcomes if o.name == "fcr")
    b = items_block(p, o)
    part = b.arrays
    assert len(part.n) == df.groupby(["agent_id", "item_empathy", "item_greeting"]).ngroups
    assert int(part.n.sum()) == len(df)
    mix = [k for k, c in enumerate(part.coefs) if c.startswith(("channel=", "contact_reason="))]
    assert [part.coefs[k] for k in mix][:2] == [
        "channel=chat",
        "channel=email",
    ]  # voice, the most frequent, is the reference
    shares = part.X[:, mix]
    assert ((shares >= 0) & (shares <= 1)).all()
    # the chat share of a cell is the share of its rows in chat
    first = df[(df["agent_id"] == "A00") & (df["item_empathy"] == 0) & (df["item_greeting"] == 0)]
    assert shares[0, 0] == pytest.approx((first["channel"] == "chat").mean())


@pytest.mark.slow
def test_item_effects_are_recovered_when_items_go_with_the_channel():
    from qmsprint.models.diagnosis import part_model
    from qmsprint.models.sampling import draws_of, sample_model

    df = confounded_frame()
    # the confounding is real: within agents, the greeting's raw log-odds difference is far from its effect
    passed = df.groupby("item_greeting")["fcr"].mean()
    assert abs(logit(passed[1]) - logit(passed[0]) - TRUE["greeting"]) > 0.25
    p = prepare_diagnosis(df, spec(), None)
    b = items_block(p, next(o for o in p.outcomes if o.name == "fcr"))
    model, init = part_model(b.arrays, centered=True)
    idata, _ = sample_model(model, draws=500, tune=300, chains=2, seed=3, initial_points=init)
    beta = draws_of(idata, "beta")
    for k, name in enumerate(b.info["items"]):
        d = beta[:, k]
        assert abs(d.mean() - TRUE[name]) <= 3 * d.std() + 0.03, (name, d.mean(), d.std())


def _factored_part(rng: np.random.Generator, nested: bool):
    """A part whose first 3 columns are lookups (by pattern; minus a by-group rate), the last 2 cell-level."""
    from qmsprint.models.diagnosis import DiagnosisPart, Factor

    cells, agents, k = 400, 15, 3
    agent = rng.integers(0, agents, cells)
    # a group nested in agents (one per agent), or agent x program (two levels within some agents)
    group = agent if nested else agent * 2 + rng.integers(0, 2, cells)
    rate = rng.random((group.max() + 1, k))
    pattern = rng.integers(0, 5, cells)
    table = rng.integers(0, 2, (5, k)).astype(float)
    X = np.column_stack([table[pattern] - rate[group], rate[group], rng.random((cells, 2))])
    factors = (Factor((0, 1, 2), pattern, table), Factor((0, 1, 2, 3, 4, 5), group, np.hstack([-rate, rate])))
    n = np.full(cells, 10.0)
    return DiagnosisPart("t/items", "binomial", [f"c{j}" for j in range(8)], X, agent, n, n / 2, factors=factors)


@pytest.mark.parametrize("nested", [True, False])
def test_the_factored_linear_predictor_is_the_design_times_the_coefficients(nested):
    import pytensor
    import pytensor.tensor as pt

    from qmsprint.models.diagnosis import linear_predictor

    rng = np.random.default_rng(4)
    part = _factored_part(rng, nested)
    beta, u = pt.vector("beta"), pt.vector("u")
    f = pytensor.function([beta, u], linear_predictor(part, beta, u))
    _, codes = part.agents
    for _ in range(3):
        b, v = rng.normal(size=8), rng.normal(size=len(part.agents[0]))
        np.testing.assert_allclose(f(b, v), part.X @ b + v[codes], rtol=1e-12, atol=1e-12)


def test_factors_that_do_not_add_up_to_the_design_are_refused():
    from dataclasses import replace

    rng = np.random.default_rng(4)
    part = _factored_part(rng, nested=True)
    X = part.X.copy()
    X[7, 1] += 0.5
    with pytest.raises(ValueError, match=r"do not add up to the design's columns \[0, 1, 2, 3, 4, 5\]"):
        replace(part, X=X)


def test_an_item_part_has_the_same_log_density_and_gradient_with_its_factors_as_without():
    """The item part of the confounded export through its factors: the same model as the full design."""
    from dataclasses import replace

    import pytensor
    import pytensor.tensor as pt

    from qmsprint.models.diagnosis import part_model

    df = confounded_frame(n_agents=12, per_agent=200)
    p = prepare_diagnosis(df, spec(), None)
    part = items_block(p, next(o for o in p.outcomes if o.name == "fcr")).arrays
    assert len(part.factors) == 2
    rng = np.random.default_rng(2)
    funcs = []
    for q in (part, replace(part, factors=())):
        model, _ = part_model(q, centered=True)
        logp = model.logp(jacobian=True)
        funcs.append((pytensor.function(model.value_vars, [logp, *pt.grad(logp, model.value_vars)]), model))
    (f1, m1), (f2, _) = funcs
    for _ in range(3):
        point = [v + rng.normal(0, 0.3, np.shape(v)) for v in m1.initial_point().values()]
        for a, b in zip(f1(*point), f2(*point), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)
