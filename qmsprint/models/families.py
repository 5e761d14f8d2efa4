"""The model family registry: family name -> :class:`~.base.Family` (like Bambi's families).

A metric names its family (``MetricDef.family``); everything that fits or reads a model asks
:func:`get_family` for it. Unknown names raise an error listing the valid ones.
"""

from __future__ import annotations

from qmsprint.models import binomial, continuous, counts, gamma, ordinal
from qmsprint.models.base import Family

FAMILIES: dict[str, Family] = {
    f.name: f for f in (ordinal.FAMILY, binomial.FAMILY, gamma.FAMILY, continuous.FAMILY, counts.FAMILY)
}


def get_family(name: str) -> Family:
    """The family called ``name``.

    Raises
    ------
    KeyError
        For an unknown name, listing the registered families.

    """
    try:
        return FAMILIES[name]
    except KeyError:
        raise KeyError(f"unknown model family {name!r}; expected one of {', '.join(FAMILIES)}") from None
