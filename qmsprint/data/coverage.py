"""Columns a metric needs that are empty for part of the rows: say how many and what that affects.

Computed from the cells (no extra pass over the data). Survey answers are left out: an empty
CSAT or NPS is a customer who did not answer, which the survey-response health check covers; so
is a column filled exactly where the survey was answered (FCR asked in the survey).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qmsprint import metrics as metric_registry
from qmsprint.errors import Problem
from qmsprint.metrics.base import MetricDef

if TYPE_CHECKING:
    import pandas as pd

    from qmsprint.spec import Spec

CUSTOMER_ID = "customer_id"
REPEAT_COUNT = "repeat_n"  # interactions whose repeat contact is known (customer id present, window complete)


def _share(part: int, whole: int) -> str:
    share = 100 * part / whole
    return f"{share:.1f}%" if share >= 0.1 else "under 0.1%"


def _subjects(metrics: list[MetricDef]) -> str:
    names = list(dict.fromkeys(m.subject() for m in metrics))
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _with_survey(cells: pd.DataFrame, count_col: str, spec: Spec) -> bool:
    """Whether a column is filled exactly where a survey was answered (e.g. FCR asked in the CSAT survey).

    Its gaps are then survey non-response, which the survey-response health check covers.
    """
    for m in metric_registry.registry().values():
        if not m.survey:
            continue
        col = m.cell_columns(spec)[0]
        if col in cells and col != count_col and (cells[col] == cells[count_col]).all():
            return True
    return False


def missing_value_warnings(spec: Spec, cells: pd.DataFrame, censored: int = 0) -> list[Problem]:
    """Warnings for columns the spec's metrics need that are empty for part of the rows in the periods.

    Parameters
    ----------
    spec
        The experiment spec (its metrics say which columns matter).
    cells
        The cells of :func:`qmsprint.data.prepare` (``n`` and each metric's count column).
    censored
        Interactions left out of repeat contacts because their window is incomplete (not missing data).

    Returns
    -------
    list of Problem
        One per column, with the share and count of rows without a value and the metrics affected.

    """
    if cells is None or "n" not in cells or not len(cells):
        return []
    total = int(cells["n"].sum())
    if total <= 0:
        return []
    out: list[Problem] = []
    by_customer = [m.info for m in spec.metrics if CUSTOMER_ID in m.info.inputs(m)]
    if by_customer and REPEAT_COUNT in cells:
        missing = total - int(cells[REPEAT_COUNT].sum()) - int(censored)
        verb = "is" if len(by_customer) == 1 and not by_customer[0].plural else "are"
        if missing > 0:
            out.append(
                Problem(
                    CUSTOMER_ID,
                    f"customer id is empty for {_share(missing, total)} of the interactions in the periods "
                    f"({missing:,} of {total:,}): they cannot be linked to later contacts, so "
                    f"{_subjects(by_customer)} {verb} estimated from the other interactions only",
                    count=missing,
                )
            )
    for m in spec.metrics:
        info = m.info
        if info.survey or info.column is None or info.column not in info.inputs(m):
            continue
        count_col = info.cell_columns(spec)[0]
        if count_col not in cells:
            continue
        missing = total - int(cells[count_col].sum())
        if missing > 0 and not _with_survey(cells, count_col, spec):
            out.append(
                Problem(
                    info.column,
                    f"{info.subject()} is empty for {_share(missing, total)} of the interactions in the periods "
                    f"({missing:,} of {total:,}): {info.subject()} is estimated from the other interactions only",
                    count=missing,
                )
            )
    return out
