"""Prior scales (family defaults with overrides) and the choice of parametrisation.

The default prior scales live with each family (``Family.default_priors``, on the latent scale
of its link); ``spec.model.priors`` overrides them by name (every metric) or ``<metric>.<name>``.

:func:`choose_levels` chooses the centred or non-centred form of each random-effect level from
the data: a moment estimate of the level's sd against the sampling variance of one member's
effect. :func:`choose_centred` is the older rule with an assumed typical sd (the checklist
diagnosis still uses it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from qmsprint.models.families import FAMILIES, get_family

if TYPE_CHECKING:  # pragma: no cover
    from qmsprint.models.terms import CellDesign

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


# Centre a level when its (moment) variance is at least this many times one member's sampling variance.
LEVEL_CENTRED_RATIO = 4.0


@dataclass(frozen=True)
class LevelChoice:
    """The parametrisation chosen for one random-effect level, and why.

    Attributes
    ----------
    level
        Level name (:data:`.terms.LEVELS`).
    sd
        Moment estimate of the level's sd on the latent scale (``nan`` when it cannot be estimated).
    se
        Median sampling sd of one member's effect, given the levels below it.
    groups
        Members with data.
    centred
        The choice.

    """

    level: str
    sd: float
    se: float
    groups: int
    centred: bool

    @property
    def ratio(self) -> float:
        """``sd^2 / se^2``: how far the data pin a member down relative to the level's spread."""
        if not (np.isfinite(self.sd) and np.isfinite(self.se)) or self.se <= 0:
            return float("nan")
        return float(self.sd**2 / self.se**2)


def moment_variance(est: np.ndarray, var: np.ndarray, parent: np.ndarray) -> tuple[float, int]:
    """Between-member variance within parents: pooled ``var(est) - mean(var)`` (method of moments).

    Returns ``(variance >= 0 or nan, members used)``; parents with fewer than two members are skipped.
    """
    est, var, parent = (np.asarray(x) for x in (est, var, parent))
    ok = np.isfinite(est) & np.isfinite(var)
    num = vsum = den = 0.0
    used = 0
    for pv in np.unique(parent[ok]):
        m = ok & (parent == pv)
        k = int(m.sum())
        if k < 2:
            continue
        num += (k - 1) * float(np.var(est[m], ddof=1))
        vsum += (k - 1) * float(np.mean(var[m]))
        den += k - 1
        used += k
    if den == 0:
        return float("nan"), used
    return max(0.0, (num - vsum) / den), used


def _median(x: np.ndarray) -> float:
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    return float(np.median(x)) if x.size else float("nan")


def level_moments(family: str, design: CellDesign, obs: dict[str, np.ndarray]) -> dict[str, tuple[float, float, int]]:
    """Per level of ``design``: (moment variance, median member sampling variance, members).

    Agents are compared within team x arm, teams and sites within arm; the period levels are each
    member's change from baseline to pilot (as in the model; fixed differences between members
    drop out), and a member's sampling variance includes the variance the levels below it add.
    """
    fam = get_family(family)
    d = design
    u = np.asarray(d.unit, dtype="int64")
    q = np.asarray(d.post, float).astype("int64") if d.periods == 2 else np.zeros(len(u), dtype="int64")
    g = np.asarray(d.unit_group, float).astype("int64")
    team = np.asarray(d.unit_team, dtype="int64")
    site = np.asarray(d.unit_site, dtype="int64")
    n_units = d.n_units
    out: dict[str, tuple[float, float, int]] = {}
    levels = d.levels
    est_u, var_u = fam.group_estimates(obs, u, n_units)
    slope, x = 0.0, np.zeros(n_units)
    if d.unit_covariate is not None:  # the levels left once the baseline level is accounted for
        x = np.asarray(d.unit_covariate, float)
        ok = np.isfinite(est_u)
        if ok.sum() >= 3 and np.var(x[ok]) > 0:
            slope = float(np.polyfit(x[ok], est_u[ok], 1)[0])
            est_u = est_u - slope * x
    s2_unit, k = moment_variance(est_u, var_u, team * 2 + g)
    if "unit" in levels:
        out["unit"] = (s2_unit, _median(var_u), k)
    s2u = s2_unit if np.isfinite(s2_unit) else 0.0
    s2_ap = 0.0
    if d.periods == 2:
        est, var = fam.group_estimates(obs, u * 2 + q, 2 * n_units)
        diff, vdiff = est[1::2] - est[0::2], var[1::2] + var[0::2]
        v, k = moment_variance(diff, vdiff, team * 2 + g)
        s2_ap = v if np.isfinite(v) else 0.0
        if "unit_period" in levels:
            out["unit_period"] = (v, _median(vdiff), k)
    for name, owner_of_unit in (("team", team), ("site", site)):
        if name not in levels:
            continue
        key = owner_of_unit * 2 + g  # owner x arm
        n_keys = int(key.max()) + 1
        members = np.bincount(key, minlength=n_keys).astype(float)
        extra_var = s2u / np.maximum(members, 1)
        extra_pvar = s2_ap / np.maximum(members, 1)
        if name == "site" and "team" in out:
            teams_in = np.array([len(np.unique(team[key == i])) for i in range(n_keys)], float)
            extra_var = extra_var + max(out["team"][0], 0.0) / np.maximum(teams_in, 1)
            if "team_period" in out and np.isfinite(out["team_period"][0]):
                extra_pvar = extra_pvar + out["team_period"][0] / np.maximum(teams_in, 1)
        parent = np.arange(n_keys) % 2
        est, var = fam.group_estimates(obs, key[u], n_keys)
        est = est - slope * np.bincount(key, weights=x, minlength=n_keys) / np.maximum(members, 1)
        s2, k = moment_variance(est, var + extra_var, parent)
        out[name] = (s2, _median(var + extra_var), k)
        if f"{name}_period" in levels:
            est, var = fam.group_estimates(obs, key[u] * 2 + q, 2 * n_keys)
            diff, vdiff = est[1::2] - est[0::2], var[1::2] + var[0::2] + extra_pvar
            v, k = moment_variance(diff, vdiff, parent)
            out[f"{name}_period"] = (v, _median(vdiff), k)
    return {lv: out[lv] for lv in levels if lv in out}


def centred_from_moments(s2: float, v: float, k: int, ratio: float) -> bool:
    """Whether a level with moment variance ``s2`` from ``k`` members, each measured with variance ``v``, is centred.

    Centred when a low estimate of the variance (``s2`` times ``1 - 2 sqrt(2 / (k - 1))``, about its
    lower 95% bound: never with fewer than ten members) is at least ``ratio`` times ``v``.
    """
    if k < 3 or not (np.isfinite(s2) and np.isfinite(v) and v > 0):
        return False
    return bool(s2 * max(0.0, 1.0 - 2.0 * np.sqrt(2.0 / (k - 1))) >= ratio * v)


def choose_levels(
    family: str, design: CellDesign, obs: dict[str, np.ndarray], ratio: float = LEVEL_CENTRED_RATIO
) -> dict[str, LevelChoice]:
    """Centred or non-centred for each random-effect level of ``design``, from the data.

    A level is centred when a low estimate of its variance (the moment variance :func:`level_moments`
    times ``1 - 2 sqrt(2 / (k - 1))``, about its lower 95% bound with ``k`` members: never with fewer
    than ten) is at least ``ratio`` times the median sampling variance of one member's effect:
    then the data pin every member down even if the level's sd is at the low end of what the data
    allow, and the non-centred form would have to follow a ridge between the members and their
    common mean. Otherwise (little data per member, a level with no variation, or too few members
    to rule a small sd out: where the centred form is a funnel) it is non-centred. Families
    that cannot estimate group levels (no :meth:`~.base.Family.group_estimates`) get non-centred
    levels.
    """
    try:
        moments = level_moments(family, design, obs)
    except NotImplementedError:
        moments = {}
    out = {}
    for level in design.levels:
        s2, v, k = moments.get(level, (float("nan"), float("nan"), 0))
        centred = centred_from_moments(s2, v, k, ratio) and level not in design.fixed
        sd = float(np.sqrt(s2)) if np.isfinite(s2) else float("nan")
        se = float(np.sqrt(v)) if np.isfinite(v) else float("nan")
        out[level] = LevelChoice(level, sd, se, int(k), centred)
    return out
