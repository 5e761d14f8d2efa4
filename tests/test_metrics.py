"""The metric registry: one module per metric, known answers for what each declares."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from qmsprint import metrics
from qmsprint.metrics.nps import NPS_VALUES
from qmsprint.spec import parse_spec
from qmsprint.stats import ordinal_probs


def _spec(**over):
    raw = {
        "name": "t",
        "design": "ab",
        "arms": {"control": "A", "treatment": "B"},
        "data": {"source": "x.csv"},
        "periods": {"pilot": {"start": "2026-01-05", "end": "2026-02-01"}},
        "metrics": [{"name": n} for n in metrics.BUILTIN],
    }
    raw.update(over)
    return parse_spec(raw)


def test_the_registry_lists_the_builtins_in_order_and_names_the_valid_ones_for_an_unknown_name():
    assert metrics.names()[:5] == ("csat", "nps", "fcr", "repeat_contact", "handle_time")
    with pytest.raises(KeyError, match="expected one of csat, nps, fcr, repeat_contact, handle_time"):
        metrics.get("retention")


def test_every_metric_declares_a_headline_scale_in_its_own_unit():
    for m in metrics.registry().values():
        assert m.headline.unit == m.unit
        assert m.family in ("ordinal", "binomial", "gamma", "continuous", "counts")
        assert m.balance_label and m.label


@pytest.mark.parametrize("scale", [(1, 5), (1, 7), (0, 10)])
def test_ordinal_scales_as_cumulative_forms_equal_the_level_distribution(scale):
    spec = _spec(csat_scale=list(scale))
    rng = np.random.default_rng(1)
    for name in ("csat", "nps"):
        m = metrics.get(name)
        lv = np.array(m.levels(spec), float)
        cuts = np.sort(rng.normal(0, 1.5, len(lv) - 1))
        eta = rng.normal(0, 1, 7)
        p = ordinal_probs(eta, cuts)  # (7, K)
        if name == "csat":
            expected = {"mean": p @ lv, "top2box": 100 * p[:, -2:].sum(1)}
        else:
            expected = {
                "nps": p @ NPS_VALUES,
                "promoters": 100 * p[:, 9:].sum(1),
                "passives": 100 * p[:, 7:9].sum(1),
                "detractors": 100 * p[:, :7].sum(1),
            }
        for s in m.scales:
            a, w = m.cumulative_form(s.key, spec)
            got = a + sum(wj * expit(cuts[j] - eta) for j, wj in w.items())
            np.testing.assert_allclose(got, expected[s.key], atol=1e-10)


def test_verbs_agree_with_the_label_in_number_and_direction():
    assert metrics.get("csat").verbs("higher") == ("improves", "worsens")
    assert metrics.get("repeat_contact").verbs("lower") == ("fall", "rise")
    assert metrics.get("handle_time").verbs("lower") == ("falls", "rises")
    assert metrics.get("fcr").subject() == "first contact resolution"
    assert metrics.get("nps").subject() == "NPS"


def test_scale_directions_flip_for_detractors_and_vanish_for_passives():
    nps = metrics.get("nps")
    assert nps.scale_direction("detractors", "higher") == "lower"
    assert nps.scale_direction("passives", "higher") is None
    assert nps.scale_direction("promoters", "higher") == "higher"


def test_cell_columns_follow_the_csat_scale_and_fcr_source():
    spec = _spec(csat_scale=[1, 7])
    assert metrics.get("csat").cell_columns(spec) == ("csat_n", [f"csat_{k}" for k in range(1, 8)])
    fcr = metrics.get("fcr")
    assert fcr.inputs(spec.metric("fcr")) == ("fcr",)
    no_repeat = _spec(metrics=[{"name": "fcr", "source": "no_repeat"}])
    assert fcr.inputs(no_repeat.metric("fcr")) == ("customer_id",)


def test_observations_and_weekly_levels_read_the_canonical_columns():
    spec = _spec()
    frame = pd.DataFrame(
        {
            "csat": pd.array([5, 4, None], "Int64"),
            "fcr": pd.array([True, False, None], "boolean"),
            "repeat_contact": pd.array([False, True, None], "boolean"),
        }
    )
    vals, levels = metrics.get("csat").observations(frame, spec.metric("csat"), spec)
    assert list(levels) == [1, 2, 3, 4, 5] and vals.iloc[0] == 5 and pd.isna(vals.iloc[2])
    vals, levels = metrics.get("fcr").observations(frame, spec.metric("fcr"), spec)
    assert list(levels) == [0, 100] and list(vals.iloc[:2]) == [1.0, 0.0]
    weekly = pd.DataFrame({"nps_promoters": [30], "nps_detractors": [10], "nps_n": [80]})
    num, den = metrics.get("nps").weekly_level(weekly)
    assert float(num.iloc[0] / den.iloc[0]) == pytest.approx(25.0)
    assert metrics.get("csat").weekly_level(weekly) is None  # its columns are absent


def test_stated_baselines_name_the_missing_rate():
    spec = _spec(design_grid={"baseline_rates": {"interactions_per_agent_week": 50, "fcr_rate": 0.7}})
    rates = spec.design_settings.baseline_rates
    values, shares, rr, _, _ = metrics.get("fcr").stated_baseline(rates, spec.metric("fcr"), spec)
    assert list(shares) == pytest.approx([0.3, 0.7]) and list(values) == [0, 100]
    assert metrics.get("nps").stated_baseline(rates, spec.metric("nps"), spec)[0] == "nps_promoters"


def test_a_registered_metric_is_known_to_the_spec_and_unregistering_forgets_it():
    from qmsprint.metrics.base import MetricDef, Scale

    class Toy(MetricDef):
        name = "toy_rate"
        label = "Toy rate"
        family = "binomial"
        unit = "pp"
        default_min_effect = 1.0
        column = "toy"
        column_kind = "bool"
        scales = (Scale("rate", "pp", "rate"),)

    metrics.register(Toy())
    try:
        spec = _spec(metrics=[{"name": "toy_rate"}])
        assert spec.metric("toy_rate").info.label == "Toy rate"
        assert spec.metric("toy_rate").threshold == 1.0
    finally:
        metrics.unregister("toy_rate")
    with pytest.raises(Exception, match="unknown metric 'toy_rate'"):
        _spec(metrics=[{"name": "toy_rate"}])
