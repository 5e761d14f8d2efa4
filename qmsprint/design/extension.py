"""Variance decomposition of a pilot's own data: how much of each metric's uncertainty more weeks can reduce.

The recommendation's "extend" advice (:mod:`qmsprint.decide.extend`) needs, per metric, the
variance of one randomized unit's summary split into what more pilot weeks shrink and what they
do not. The decomposition is the one the assurance simulates (:mod:`qmsprint.design.simulation`),
estimated by the method of moments on the pilot's rows, within each arm (so the effect itself
does not count as spread):

* A/B: unit means over the pilot; ``Var(unit mean) = between + sigma^2 / n_u``; ``between`` is
  the variance of the unit means minus their average sampling variance, ``noise`` the average
  ``sigma^2 / n_u`` (``sigma^2`` the pooled within-unit variance of single observations);
* DiD: unit changes from the baseline to the pilot; ``Var(change) = unit_period + sigma^2 / n_pilot
  + sigma^2 / n_baseline``: ``unit_period`` (the shocks that move a unit between periods) plus the
  baseline noise do not shrink with more pilot weeks, the pilot noise does.

Observations are on each metric's natural scale (the unit of its ``min_effect``), read through the
metric registry like the design's baseline.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from qmsprint.decide import VarianceParts
from qmsprint.design.baseline import natural_values
from qmsprint.health import unit_column
from qmsprint.spec import Spec

MIN_UNITS = 2  # units per arm needed to estimate a between-unit variance


def _unit_stats(df: pd.DataFrame) -> pd.DataFrame:
    """Per unit: observations ``n``, ``mean`` and within-unit variance ``var`` of ``y``."""
    return df.groupby("u", sort=True)["y"].agg(n="count", mean="mean", var="var")


def _pooled_variance(stats: list[pd.DataFrame]) -> float:
    num = sum(float((s["var"].fillna(0.0) * (s["n"] - 1)).clip(lower=0).sum()) for s in stats)
    den = sum(float((s["n"] - 1).clip(lower=0).sum()) for s in stats)
    return num / den if den > 0 else float("nan")


def _excess(values: pd.Series, noise: pd.Series) -> tuple[float, int]:
    """(variance of ``values`` beyond their average sampling variance ``noise``, degrees of freedom)."""
    v = values.dropna()
    if len(v) < MIN_UNITS:
        return float("nan"), 0
    return max(0.0, float(v.var(ddof=1)) - float(noise.loc[v.index].mean())), len(v) - 1


def variance_parts(spec: Spec, frame: pd.DataFrame) -> dict[str, VarianceParts]:
    """Per metric of ``spec``, the variance decomposition of the pilot's rows (see the module doc).

    Parameters
    ----------
    spec
        The pilot's spec (design, arms, unit, metrics).
    frame
        Validated rows with ``period`` and ``arm`` (:func:`qmsprint.data.load_frame`): the pilot
        period (and, for a DiD, the baseline).

    Returns
    -------
    dict
        ``{metric: VarianceParts}`` for the metrics with at least two units per arm with
        observations; the others are left out.

    """
    unit = unit_column(spec)
    arms = (spec.arms.control, spec.arms.treatment)
    f = frame[frame["arm"].astype(str).isin(arms)].reset_index(drop=True)
    out: dict[str, VarianceParts] = {}
    agents_per_unit = 1.0
    if unit != "agent" and len(f):
        agents_per_unit = float(f.groupby(unit)["agent_id"].nunique().mean())
    for m in spec.metrics:
        obs = m.info.observations(f, m, spec)
        if obs is None:
            continue
        y = natural_values(obs[0], obs[1], m.info, spec)
        d = pd.DataFrame({"u": f[unit].astype(str), "arm": f["arm"].astype(str), "period": f["period"].astype(str),
                          "y": pd.to_numeric(y, errors="coerce")}).dropna(subset=["y"])  # fmt: skip
        per = {
            (a, p): _unit_stats(d[(d["arm"] == a) & (d["period"] == p)]) for a in arms for p in ("pilot", "baseline")
        }
        sigma2 = _pooled_variance([s for s in per.values() if len(s)])
        if not np.isfinite(sigma2):
            continue
        fixed, dfs, noise, units = [], [], [], []
        for a in arms:
            pil = per[(a, "pilot")]
            if spec.design == "did":
                base = per[(a, "baseline")]
                both = pil.add_suffix("_p").join(base.add_suffix("_b"), how="inner")
                change = both["mean_p"] - both["mean_b"]
                v, df = _excess(change, sigma2 / both["n_p"] + sigma2 / both["n_b"])
                fixed.append(v + float((sigma2 / both["n_b"]).mean()) if df else float("nan"))
                noise.append(float((sigma2 / both["n_p"]).mean()) if len(both) else float("nan"))
                units.append(len(both))
            else:
                v, df = _excess(pil["mean"], sigma2 / pil["n"])
                fixed.append(v)
                noise.append(float((sigma2 / pil["n"]).mean()) if len(pil) else float("nan"))
                units.append(len(pil))
            dfs.append(df)
        if min(units) < MIN_UNITS or not all(np.isfinite(fixed)) or sum(dfs) == 0:
            continue
        w = np.asarray(dfs, float)
        between = float(np.average(fixed, weights=w))
        out[m.name] = VarianceParts(
            between_unit=0.0 if spec.design == "did" else between,
            unit_period=between if spec.design == "did" else 0.0,
            noise=float(np.average(noise, weights=units)),
            units_per_arm=int(min(units)),
            agents_per_unit=agents_per_unit,
        )
    return out
