"""Checks before estimation: the cells have what the spec needs; the priors asked for are valid.

Every problem is collected and raised at once (:class:`~qmsprint.errors.DataError`,
:class:`~qmsprint.errors.SpecError`). What a metric needs comes from the metric registry
(``MetricDef.cell_columns``) and its model family (ordinal level counts add up to the count,
binomial successes do not exceed it, continuous sums may be negative).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from qmsprint.errors import DataError, Problem, SpecError
from qmsprint.models import FAMILIES, get_family
from qmsprint.models.priors import check_prior_overrides
from qmsprint.spec import Spec

KEY_COLUMNS = ("agent_id", "team", "arm", "period")


def _rows(mask: pd.Series) -> tuple[int, ...]:
    return tuple(int(i) + 1 for i in np.flatnonzero(mask.to_numpy())[:5])


def validate(spec: Spec, cells: pd.DataFrame, periods: tuple[str, ...]) -> None:
    """Raise :class:`DataError` listing every problem of ``cells`` for this spec."""
    problems: list[Problem] = []
    if not isinstance(cells, pd.DataFrame):
        raise DataError("cells must be a pandas DataFrame", [Problem("cells", f"got {type(cells).__name__}")])
    columns = {m.name: m.info.cell_columns(spec) for m in spec.metrics}
    need = ["n", *KEY_COLUMNS]
    signed: set[str] = set()  # statistics that may be negative (sums of log values)
    for m in spec.metrics:
        count, stats = columns[m.name]
        need += [count, *stats]
        if get_family(m.info.family).signed_statistics:
            signed.update(stats)
    for s in [*spec.segments, *spec.model.adjust_for, *spec.model.reweight_by]:
        need.append(s)
    missing = [c for c in dict.fromkeys(need) if c not in cells.columns]
    for c in missing:
        problems.append(Problem(c, "column missing from the cells (see the cells contract in ARCHITECTURE.md)"))
    if "arm" in cells.columns:
        arms = set(cells["arm"].astype(str).unique())
        for role, value in (("control", spec.arms.control), ("treatment", spec.arms.treatment)):
            if value not in arms:
                problems.append(
                    Problem("arm", f"no cells for the {role} arm {value!r}", examples=tuple(sorted(arms))[:5])
                )
    if "period" in cells.columns:
        present = set(cells["period"].astype(str).unique())
        for p in periods:
            if p not in present:
                problems.append(Problem("period", f"no cells in the {p} period (the {spec.design} design needs it)"))
    numeric = [
        c
        for c in dict.fromkeys(need)
        if c in cells.columns and c not in (*KEY_COLUMNS, *spec.segments, "channel", "contact_reason", "site")
    ]
    for c in numeric:
        v = pd.to_numeric(cells[c], errors="coerce")
        bad = v.isna() | ~np.isfinite(v.astype(float))
        if c not in signed:
            bad |= v < 0
        if bad.any():
            idx = np.flatnonzero(bad.to_numpy())
            problems.append(
                Problem(
                    c,
                    "expected finite non-negative numbers",
                    rows=tuple(int(i) + 1 for i in idx[:5]),
                    count=int(bad.sum()),
                    examples=tuple(str(x) for x in cells[c].iloc[idx[:5]]),
                )
            )
    if not missing:
        for m in spec.metrics:
            count, stats = columns[m.name]
            family = m.info.family
            if family == "ordinal":  # level counts add up to the count
                diff = cells[stats].sum(axis=1) != cells[count]
                if diff.any():
                    problems.append(
                        Problem(
                            count,
                            f"does not equal the sum of {stats[0]}..{stats[-1]}",
                            rows=_rows(diff),
                            count=int(diff.sum()),
                        )
                    )
            elif family == "binomial":  # successes never exceed trials
                over = cells[stats[0]] > cells[count]
                if over.any():
                    problems.append(Problem(stats[0], f"exceeds {count}", rows=_rows(over), count=int(over.sum())))
            sub = cells[cells["period"].isin(periods) & cells["arm"].isin([spec.arms.control, spec.arms.treatment])]
            for arm in (spec.arms.control, spec.arms.treatment):
                for p in periods:
                    tot = sub.loc[(sub["arm"] == arm) & (sub["period"] == p), count].sum()
                    if tot <= 0:
                        problems.append(Problem(count, f"no {m.name} observations for arm {arm!r} in the {p} period"))
    if problems:
        raise DataError("the cells cannot be analysed", problems)


def check_families(spec: Spec) -> None:
    """Raise :class:`SpecError` for a metric whose model family is not registered in :mod:`qmsprint.models`."""
    problems = [
        Problem(f"metrics.{m.name}", f"unknown model family {m.info.family!r}; expected one of {', '.join(FAMILIES)}")
        for m in spec.metrics
        if m.info.family not in FAMILIES
    ]
    if problems:
        raise SpecError("metrics with an unknown model family", problems)


def check_prior_arg(spec: Spec, prior: dict[str, tuple[float, float]] | None) -> None:
    """Raise :class:`SpecError` for bad ``prior`` entries or ``spec.model.priors`` keys."""
    names = [m.name for m in spec.metrics]
    problems = [Problem("model.priors", msg) for msg in check_prior_overrides(dict(spec.model.priors), names)]
    for name, val in (prior or {}).items():
        where = f"prior[{name!r}]"
        if name not in names:
            problems.append(Problem(where, "not a metric of this experiment"))
            continue
        try:
            mu, sd = (float(v) for v in val)
        except (TypeError, ValueError):
            problems.append(Problem(where, f"expected (mean, sd), got {val!r}"))
            continue
        if not (math.isfinite(mu) and math.isfinite(sd) and sd > 0):
            problems.append(Problem(where, f"expected a finite mean and sd > 0, got ({mu}, {sd})"))
    if problems:
        raise SpecError("invalid priors", problems)
