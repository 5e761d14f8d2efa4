"""modal_by: each group's most frequent value in one pass, as pandas' per-group mode gives it."""

import numpy as np
import pandas as pd

from qmsprint.stats import modal_by


def test_modal_by_known_answer_ties_and_missing():
    keys = pd.Series(["b", "a", "a", "a", "b", "b", "c", "b", "d"], name="unit")
    values = pd.Series(["x", "y", "y", "z", "t2", "t1", None, None, "q"], name="team")
    out = modal_by(keys, values)
    assert list(out.index) == ["a", "b", "c", "d"]
    assert out.name == "team" and out.index.name == "unit"
    assert out["a"] == "y"  # two of three
    assert out["b"] == "t1"  # a three-way tie (x, t2, t1): the smallest, as Series.mode().iat[0]
    assert pd.isna(out["c"])  # only missing values
    assert out["d"] == "q"


def test_modal_by_matches_pandas_mode_per_group():
    rng = np.random.default_rng(3)
    keys = pd.Series(rng.integers(0, 40, 2_000).astype(str))
    values = pd.Series(rng.choice(["t1", "t2", "t3", "t4"], 2_000, p=[0.4, 0.3, 0.2, 0.1]))
    values[rng.random(2_000) < 0.05] = None
    expected = values.groupby(keys, sort=True).agg(lambda s: s.dropna().mode().iat[0] if s.notna().any() else None)
    pd.testing.assert_series_equal(modal_by(keys, values), expected, check_names=False)
