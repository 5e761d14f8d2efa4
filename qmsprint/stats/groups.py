"""Per-group summaries that pandas has no single call for."""

from __future__ import annotations

import pandas as pd

__all__ = ["modal_by"]


def modal_by(keys: pd.Series, values: pd.Series) -> pd.Series:
    """The most frequent non-missing value of ``values`` within each key, in one pass.

    Parameters
    ----------
    keys
        The group of each row.
    values
        The value of each row (aligned with ``keys`` by position).

    Returns
    -------
    pd.Series
        Indexed by the sorted distinct keys: each group's mode, the smallest value on a tie (as
        ``Series.mode().iat[0]``), missing where a group has no value.

    """
    frame = pd.DataFrame({"k": keys.to_numpy(), "v": values.to_numpy()})
    index = pd.Index(frame["k"].drop_duplicates().sort_values(), name=keys.name)
    counts = frame.dropna(subset=["v"]).groupby(["k", "v"], sort=True).size().reset_index(name="c")
    best = counts.sort_values(["k", "c"], ascending=[True, False], kind="stable").drop_duplicates("k")
    return best.set_index("k")["v"].reindex(index).rename(values.name)
