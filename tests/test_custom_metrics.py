"""Custom outcome metrics from the experiment file: each type's metric, columns, checks and cells."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _data_helpers import base_rows, make_spec

from qmsprint import metrics
from qmsprint.data import load_frame, prepare
from qmsprint.errors import DataError, SpecError
from qmsprint.spec import canonical_columns, parse_spec, spec_to_dict

RETAINED = {
    "name": "retained_90d",
    "column": "Retained 90 days",
    "type": "binary",
    "label": "Customers retained 90 days",
    "direction": "higher",
    "min_effect": 1.0,
    "value_per_unit": 400.0,
}


@pytest.fixture(autouse=True)
def _clean_registry():
    before = set(metrics.names())
    yield
    for name in set(metrics.names()) - before:
        metrics.unregister(name)


def _raw(*entries, **over):
    raw = {
        "name": "t",
        "design": "ab",
        "arms": {"control": "old", "treatment": "new"},
        "data": {"source": "data.csv"},
        "metrics": [{"name": "csat"}, *entries],
    }
    raw.update(over)
    return raw


def test_each_type_maps_to_its_family_scales_and_cell_columns():
    spec = parse_spec(
        _raw(
            RETAINED,
            {"name": "cost", "column": "Cost", "type": "continuous", "unit": "EUR", "direction": "lower"},
            {"name": "products", "column": "Products", "type": "count", "label": "Products sold"},
            {"name": "effort", "column": "CES", "type": "ordinal", "levels": [1, 2, 3, 4, 5, 6, 7]},
        )
    )
    r, c, p, e = (spec.metric(n).info for n in ("retained_90d", "cost", "products", "effort"))
    assert (r.family, r.unit, r.headline.name, r.label, r.plural) == (
        "binomial", "pp", "rate", "Customers retained 90 days", True
    )  # fmt: skip
    assert (c.family, c.unit, [s.name for s in c.scales]) == ("gamma", "EUR", ["mean", "relative"])
    assert (p.family, p.unit, p.plural) == ("counts", "per contact", True)
    assert (e.family, e.levels(spec), [s.name for s in e.scales]) == (
        "ordinal",
        (1, 2, 3, 4, 5, 6, 7),
        ["mean", "top2box"],
    )
    assert spec.metric("cost").better == "lower" and spec.metric("retained_90d").threshold == 1.0
    assert spec.metric("retained_90d").value_per_unit == 400.0
    assert r.cell_columns(spec) == ("retained_90d_n", ["retained_90d_yes"])
    assert c.cell_columns(spec) == ("cost_n", ["cost_sum", "cost_log_sum", "cost_sumsq"])
    assert p.cell_columns(spec) == ("products_n", ["products_sum", "products_sumsq"])
    assert e.cell_columns(spec)[1][0] == "effort_1"
    # the client's column is mapped to the metric's canonical column
    assert spec.data.columns["retained_90d"] == "Retained 90 days" and spec.data.columns["effort"] == "CES"
    assert {"retained_90d", "cost", "products", "effort"} <= set(canonical_columns())


@pytest.mark.parametrize(
    ("levels", "key"),
    [([1, 2, 3, 4, 5], None), ([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], None), ([1, 3, 5], "levels"), (None, "levels")],
)
def test_ordinal_levels_must_be_consecutive_whole_numbers(levels, key):
    entry = {"name": "effort", "column": "CES", "type": "ordinal"}
    if levels is not None:
        entry["levels"] = levels
    if key is None:
        spec = parse_spec(_raw(entry))
        lv = np.array(levels, float)
        info = spec.metric("effort").info
        a, w = info.cumulative_form("mean", spec)
        rng = np.random.default_rng(0)
        p = rng.dirichlet(np.ones(len(lv)))  # mean from the cumulative form equals the level mean
        cum = np.cumsum(p)
        assert a + sum(wj * cum[j] for j, wj in w.items()) == pytest.approx(p @ lv)
        a2, w2 = info.cumulative_form("top2box", spec)
        assert a2 + sum(wj * cum[j] for j, wj in w2.items()) == pytest.approx(100 * p[-2:].sum())
    else:
        with pytest.raises(SpecError) as err:
            parse_spec(_raw(entry))
        assert any(p.where == f"metrics[1].{key}" for p in err.value.problems)
        assert not any("unknown metric" in p.message for p in err.value.problems)


def test_every_problem_of_custom_entries_is_reported_with_its_key_path():
    with pytest.raises(SpecError) as err:
        parse_spec(
            _raw(
                {"name": "csat2", "column": "X", "type": "ratio"},
                {"name": "nps", "column": "X", "type": "binary"},
                {"name": "Bad Name", "column": "X", "type": "binary"},
                {"name": "churn", "within_days": 30},
                {"name": "sale", "within_days": 0, "event_column": "Sale", "events": "e.csv"},
                {"name": "team", "column": "X", "type": "binary"},
                {"name": "repeat_contact", "value_per_unit": 3.0},
                {"name": "no_col", "type": "binary"},
            )
        )
    where: dict[str, str] = {}
    for p in err.value.problems:
        where[p.where] = where.get(p.where, "") + " | " + p.message
    assert "expected one of binary, ordinal, count, continuous" in where["metrics[1].type"]
    assert "built-in metric" in where["metrics[2].name"]
    assert "lower-case" in where["metrics[3].name"]
    assert "exactly one of event_column" in where["metrics[4]"]
    assert "exactly one of" in where["metrics[5]"] and "metrics[5].within_days" in where
    assert "clashes" in where["metrics[6].name"]
    assert "cost_per_contact" in where["metrics[7].value_per_unit"]
    assert "client's column" in where["metrics[8].column"]


def test_a_column_mapped_twice_differently_is_an_error_and_the_same_mapping_is_fine():
    with pytest.raises(SpecError, match="keep one of them"):
        parse_spec(_raw(RETAINED, data={"source": "data.csv", "columns": {"retained_90d": "Other"}}))
    spec = parse_spec(_raw(RETAINED, data={"source": "data.csv", "columns": {"retained_90d": "Retained 90 days"}}))
    # the metrics as run (every key, None where not given) parse again
    again = parse_spec(_raw(spec_to_dict(spec)["metrics"][1], data=spec_to_dict(spec)["data"]))
    assert again.metric("retained_90d").info.label == "Customers retained 90 days"


def _custom_rows(n: int = 40) -> pd.DataFrame:
    df = base_rows(n)
    df["Retained 90 days"] = ["yes" if i % 4 else "no" for i in range(n)]
    df["Products"] = [str(i % 3) for i in range(n)]
    df["Cost"] = [f"{10 + i}.5" for i in range(n)]
    df["CES"] = [str(1 + i % 7) for i in range(n)]
    return df


def test_custom_columns_are_parsed_checked_and_reduced_to_cells(tmp_path):
    df = _custom_rows()
    df.to_csv(tmp_path / "data.csv", index=False)
    entries = [
        {"name": "csat"},
        RETAINED,
        {"name": "cost", "column": "Cost", "type": "continuous", "direction": "lower"},
        {"name": "products", "column": "Products", "type": "count"},
        {"name": "effort", "column": "CES", "type": "ordinal", "levels": [1, 2, 3, 4, 5, 6, 7]},
    ]
    spec = make_spec(tmp_path, metrics=entries)
    cells = prepare(spec).cells
    assert cells["retained_90d_n"].sum() == 40 and cells["retained_90d_yes"].sum() == 30
    assert cells["products_sum"].sum() == sum(i % 3 for i in range(40))
    assert cells["products_sumsq"].sum() == sum((i % 3) ** 2 for i in range(40))
    assert cells["cost_sum"].sum() == pytest.approx(sum(10.5 + i for i in range(40)))
    assert cells["cost_log_sum"].sum() == pytest.approx(sum(np.log(10.5 + i) for i in range(40)))
    assert [int(cells[f"effort_{k}"].sum()) for k in range(1, 8)] == [
        sum(1 + i % 7 == k for i in range(40)) for k in range(1, 8)
    ]
    frame = load_frame(spec)
    assert frame["retained_90d"].dtype == "boolean" and frame["effort"].dtype == "Int64"

    bad = _custom_rows()
    bad.loc[3, "Products"] = "1.5"  # not a whole number
    bad.loc[4, "Cost"] = "0"  # not positive
    bad.loc[5, "CES"] = "9"  # off the scale
    bad.loc[6, "Retained 90 days"] = "maybe"
    bad.to_csv(tmp_path / "data.csv", index=False)
    with pytest.raises(DataError) as err:
        prepare(spec)
    where = {p.where for p in err.value.problems}
    assert {"products", "cost", "effort", "retained_90d"} <= where
