"""Prior scales (family defaults with overrides) and the choice of parametrisation.

The default prior scales live with each family (``Family.default_priors``, on the latent scale
of its link); ``spec.model.priors`` overrides them by name (every metric) or ``<metric>.<name>``.
"""

from __future__ import annotations

import numpy as np

from qmsprint.models.families import FAMILIES, get_family

# Centre agent effects when the data precision per agent is this many times the prior precision.
CENTRED_RATIO = 10.0


def prior_keys() -> set[str]:
    """Every prior name that ``spec.model.priors`` may override."""
    return {k for f in FAMILIES.values() for k in f.default_priors}


def resolve_priors(family: str, metric: str, overrides: dict[str, float]) -> dict[str, float]:
    """Default prior scales of ``family`` with overrides applied.

    ``overrides`` keys are either a prior name (``effect_sd``: every metric whose family has it)
    or ``<metric>.<name>`` (one metric). ``inf`` makes a location prior flat.

    Raises
    ------
    KeyError
        For an unknown family.

    """
    out = dict(get_family(family).default_priors)
    for key, value in overrides.items():
        name = key.split(".", 1)[1] if key.startswith(metric + ".") else key
        if "." in name:
            continue
        if name in out:
            out[name] = float(value)
    return out


def check_prior_overrides(overrides: dict[str, float], metrics: list[str]) -> list[str]:
    """Messages for override keys that name no prior or no metric of the spec (empty if fine)."""
    bad = []
    keys = prior_keys()
    for key, value in overrides.items():
        metric, _, name = key.rpartition(".")
        if metric and metric not in metrics:
            bad.append(f"{key!r}: {metric!r} is not a metric of this experiment ({', '.join(metrics)})")
        elif name not in keys:
            bad.append(f"{key!r}: unknown prior; expected one of {', '.join(sorted(keys))}")
        elif not (value > 0):
            bad.append(f"{key!r}: a prior scale must be > 0 (got {value})")
    return bad


def choose_centred(family: str, info_per_unit: np.ndarray, ratio: float = CENTRED_RATIO) -> bool:
    """Centred agent effects when each agent's data dominate the prior, else non-centred.

    ``info_per_unit`` is the Fisher information about each agent's latent level (e.g.
    ``n p (1 - p)`` for a binomial). With information ``I`` and a typical agent sd ``s``
    (``Family.typical_unit_sd``), the data pin an agent down when the median ``I s^2`` reaches
    ``ratio``: then the non-centred form mixes badly (a ridge between the effect, the intercept
    and all agent effects); with little data per agent the centred form has a funnel. See
    STACK.md for the measurements.
    """
    info = np.asarray(info_per_unit, float)
    if info.size == 0:
        return False
    return bool(np.median(info) * get_family(family).typical_unit_sd ** 2 >= ratio)
