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
