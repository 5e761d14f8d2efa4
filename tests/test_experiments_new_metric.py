"""A metric module qmsprint does not ship flows through estimate() without changes to experiments/models.

A binary "transfer" metric (column ``transferred``, binomial family, scales ``rate`` / ``relative``)
is registered, cells carry its columns, and its fit equals the fit of FCR on the same counts.
"""

from __future__ import annotations

import numpy as np
import pytest
from models_cellsim import make_cells, spec_for

from qmsprint import metrics
from qmsprint.experiments import estimate
from qmsprint.metrics.base import MetricDef, Scale, count_of


class Transfer(MetricDef):
    """Share of interactions transferred to another agent (lower is better)."""

    name = "transfer"
    label = "Transfers"
    plural = True
    family = "binomial"
    direction = "lower"
    unit = "pp"
    default_min_effect = 1.0
    column = "transferred"
    column_kind = "bool"
    scales = (Scale("rate", "pp", "rate", label="transfer rate"), Scale("relative", "%", "rate", relative=True))
    balance_label = "Baseline transfers (%)"

    def cell_columns(self, spec):  # noqa: D102
        return "transfer_n", ["transfer_yes"]

    def cell_aggregates(self, t, spec):  # noqa: D102
        return {"transfer_n": count_of(t.transferred.notnull()), "transfer_yes": count_of(t.transferred)}


@pytest.fixture
def transfer():
    metrics.register(Transfer())
    yield
    metrics.unregister("transfer")


def test_a_new_binary_metric_is_estimated_like_any_other(transfer):
    cells, _, _ = make_cells("ab", n_agents=12, per_agent=40, seed=2)
    cells = cells.assign(transfer_n=cells["fcr_n"], transfer_yes=cells["fcr_yes"])
    kw = {"draws": 100, "tune": 100, "chains": 2, "segments": ["channel"]}
    (new,) = estimate(spec_for("ab", metrics=("transfer",), **kw), cells)
    (fcr,) = estimate(spec_for("ab", metrics=("fcr",), **kw), cells)
    assert new.metric == "transfer" and [e.scale for e in new.effects] == ["rate", "relative"]
    assert [e.unit for e in new.effects] == ["pp", "%"]
    assert new.headline.mean == fcr.headline.mean and new.effects[1].mean == fcr.effects[1].mean
    # the direction comes from the metric: fewer transfers is better
    assert new.headline.prob_improve == pytest.approx(1 - fcr.headline.prob_improve)
    assert [s.segment_value for s in new.segments] == [s.segment_value for s in fcr.segments]
    assert new.ppc["observed"] == fcr.ppc["observed"]
    assert "transfer_effect" in new.idata.posterior
    assert np.array_equal(new.draws, fcr.draws)


def test_a_metric_of_an_unknown_model_family_is_a_spec_error(transfer):
    from qmsprint.errors import SpecError

    class Count(Transfer):
        name = "contacts"
        family = "poisson"

    metrics.register(Count())
    try:
        cells, _, _ = make_cells("ab", n_agents=4, per_agent=5, seed=2)
        with pytest.raises(SpecError, match="poisson") as err:
            estimate(spec_for("ab", metrics=("contacts",)), cells)
        assert "expected one of ordinal, binomial, gamma, continuous" in str(err.value)
    finally:
        metrics.unregister("contacts")
