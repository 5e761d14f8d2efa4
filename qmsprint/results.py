"""Result records passed from the models to decisions, bundles, reports and the app.

These small frozen dataclasses are the contract between layers: the estimation layer
(:mod:`qmsprint.experiments`) fills them, everything downstream only reads them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

# Convergence bars, as PyMC and Vehtari et al. (2021) advise.
RHAT_MAX = 1.01
ESS_MIN = 400.0
BFMI_MIN = 0.3
# Looser bars for the variance components (level sds, team effects): they do not enter a reported
# number directly (the effects and their headline carry the strict bars), but a spread whose chains
# have not mixed at all is a fit that has not converged.
SPREAD_RHAT_MAX = 1.05
SPREAD_ESS_MIN = 100.0


@dataclass(frozen=True)
class Diagnostics:
    """Sampler diagnostics of one fit: the reported effects with strict bars, the variance components with looser ones.

    Parameters
    ----------
    rhat_max, ess_bulk_min, ess_tail_min
        Worst rank-normalized R-hat and smallest bulk / tail ESS over the reported effects and the
        parameters they are computed from (effect, segment deviations, period and group terms,
        adjustments, cutpoints or shape, and the headline effect itself): R-hat <= 1.01, ESS >= 400.
    divergences
        Number of divergent transitions after tuning.
    bfmi_min
        Smallest E-BFMI over chains.
    draws, chains
        Posterior draws per chain and number of chains.
    sampler
        ``nutpie`` or ``pymc``.
    seconds
        Wall time of compile + sampling (every attempt).
    attempts
        Samplings it took (1 = the first fit met the bars or no retry was possible; see
        :mod:`qmsprint.models.retry`).
    spread_rhat_max, spread_ess_min
        Worst R-hat and smallest bulk / tail ESS over the variance components (level sds, team
        effects): R-hat <= ``SPREAD_RHAT_MAX``, ESS >= ``SPREAD_ESS_MIN`` (1 and infinity when there are none).

    """

    rhat_max: float
    ess_bulk_min: float
    ess_tail_min: float
    divergences: int
    bfmi_min: float
    draws: int
    chains: int
    sampler: str
    seconds: float = 0.0
    attempts: int = 1
    spread_rhat_max: float = 1.0
    spread_ess_min: float = float("inf")

    @property
    def problems(self) -> list[str]:
        """Plain-language list of the bars this fit misses (empty when it can be trusted)."""
        out = []
        if not np.isfinite(self.rhat_max) or self.rhat_max > RHAT_MAX:
            out.append(f"R-hat {self.rhat_max:.3f} > {RHAT_MAX}")
        if not np.isfinite(self.ess_bulk_min) or self.ess_bulk_min < ESS_MIN:
            out.append(f"bulk ESS {self.ess_bulk_min:.0f} < {ESS_MIN:.0f}")
        if not np.isfinite(self.ess_tail_min) or self.ess_tail_min < ESS_MIN:
            out.append(f"tail ESS {self.ess_tail_min:.0f} < {ESS_MIN:.0f}")
        if self.divergences > 0:
            out.append(f"{self.divergences} divergent transitions")
        if np.isfinite(self.bfmi_min) and self.bfmi_min < BFMI_MIN:
            out.append(f"E-BFMI {self.bfmi_min:.2f} < {BFMI_MIN}")
        if not self.spread_rhat_max <= SPREAD_RHAT_MAX:
            out.append(f"variance components R-hat {self.spread_rhat_max:.3f} > {SPREAD_RHAT_MAX}")
        if self.spread_ess_min < SPREAD_ESS_MIN:
            out.append(f"variance components ESS {self.spread_ess_min:.0f} < {SPREAD_ESS_MIN:.0f}")
        return out

    @property
    def converged(self) -> bool:
        """True when the fit meets every bar: R-hat, bulk and tail ESS, divergences, E-BFMI."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, with ``converged`` and ``problems``."""
        d = asdict(self)
        d["converged"] = self.converged
        d["problems"] = self.problems
        return d


@dataclass(frozen=True)
class Effect:
    """One effect summary on a scale people read.

    ``effect = treatment - control`` on ``scale`` (for DiD: the difference in differences).

    Parameters
    ----------
    metric
        Metric name (a registered metric: ``csat``, ``nps``, ``fcr``, ...).
    scale
        What the number measures: one of the metric's scales in the registry
        (``MetricDef.scales``), e.g. ``mean``, ``top2box``, ``nps``, ``rate``, ``relative`` (% change).
    unit
        Unit label for display (the scale's unit): ``points``, ``pp``, ``NPS points``, ``seconds``, ``%``.
    mean, hdi_low, hdi_high, hdi_prob
        Posterior mean and highest-density interval.
    prob_improve
        Posterior probability that the new program is better (direction-aware).
    prob_meaningful
        Posterior probability that it is better by at least the metric's ``min_effect``
        (``nan`` for scales the threshold does not apply to).
    expected_loss
        Expected loss of adopting: E[max(0, -improvement)], in ``unit``.
    control, treatment
        Posterior means of the metric under each arm (pilot period), on ``scale``.
    segment, segment_value
        ``None`` for the overall effect, else e.g. ``("channel", "chat")``.

    """

    metric: str
    scale: str
    unit: str
    mean: float
    hdi_low: float
    hdi_high: float
    hdi_prob: float
    prob_improve: float
    prob_meaningful: float
    expected_loss: float
    control: float
    treatment: float
    segment: str | None = None
    segment_value: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict."""
        return asdict(self)


@dataclass(frozen=True)
class MetricResult:
    """Everything the estimation layer knows about one metric.

    Parameters
    ----------
    metric
        Metric name.
    design
        ``ab`` or ``did``.
    headline
        The effect decisions are made on (the metric's headline scale, ``MetricDef.headline``),
        in the metric's own unit (the unit of ``min_effect``).
    effects
        All overall effects, headline first (e.g. CSAT ``mean`` and ``top2box``).
    segments
        Per-segment effects on the headline scale.
    draws
        Flattened posterior draws of the headline effect (treatment - control, not direction-
        adjusted), used by decisions and business impact.
    diagnostics
        Sampler diagnostics; decisions refuse to recommend from a fit that did not converge.
    response_rates
        Survey response rate by arm value (survey metrics), else empty.
    ppc
        Posterior predictive check: ``{"labels": [...], "observed": [...], "replicated_mean":
        [...], "replicated_low": [...], "replicated_high": [...]}``.
    level_shares
        For ordinal metrics, observed share of each level by arm: ``{arm: {level: share}}``.
    n_units, n_obs
        Agents and observations (responses / trials) behind the fit, by arm.
    notes
        Caveats the estimation layer wants shown (e.g. reweighting applied, prior from run X).
    latent_effect
        Posterior mean and sd of the model's treatment-effect parameter (latent scale); a later
        pilot can use it as its prior.
    idata
        The ArviZ InferenceData of the fit (saved to the bundle as NetCDF).
    event_effects
        Roll-out designs: the headline effect per wave (``segment="wave"``, the wave's switch week)
        and per week since the switch (``segment="weeks_since_switch"``, ``"0"`` = the switch week;
        the last one pools the later weeks, e.g. ``"7+"``); empty for the other designs.
    unit, n_clusters
        The randomization unit (``agent``, ``team``, ``site``) and how many of them are behind the
        fit, by arm (what limits the precision of a cluster-randomized pilot).

    """

    metric: str
    design: str
    headline: Effect
    effects: list[Effect]
    segments: list[Effect]
    draws: np.ndarray
    diagnostics: Diagnostics
    response_rates: dict[str, float] = field(default_factory=dict)
    ppc: dict[str, list[Any]] = field(default_factory=dict)
    level_shares: dict[str, dict[str, float]] = field(default_factory=dict)
    n_units: dict[str, int] = field(default_factory=dict)
    n_obs: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    latent_effect: tuple[float, float] | None = None
    idata: Any = field(default=None, repr=False, compare=False)
    event_effects: list[Effect] = field(default_factory=list)
    unit: str = "agent"
    n_clusters: dict[str, int] = field(default_factory=dict)

    @property
    def clusters(self) -> dict[str, int]:
        """Randomization units per arm (agents when the fit did not count them)."""
        return dict(self.n_clusters) if self.n_clusters else dict(self.n_units)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict without the draws and the posterior."""
        return {
            "metric": self.metric,
            "design": self.design,
            "headline": self.headline.to_dict(),
            "effects": [e.to_dict() for e in self.effects],
            "segments": [e.to_dict() for e in self.segments],
            "diagnostics": self.diagnostics.to_dict(),
            "response_rates": dict(self.response_rates),
            "ppc": dict(self.ppc),
            "level_shares": dict(self.level_shares),
            "n_units": dict(self.n_units),
            "n_obs": dict(self.n_obs),
            "notes": list(self.notes),
            "latent_effect": list(self.latent_effect) if self.latent_effect else None,
            "event_effects": [e.to_dict() for e in self.event_effects],
            "unit": self.unit,
            "n_clusters": dict(self.n_clusters),
        }


@dataclass(frozen=True)
class HealthCheck:
    """One health check of a pilot (sample ratio, response rates, contamination, trends, A/A).

    Parameters
    ----------
    name
        Short id, e.g. ``srm_agents``, ``response_rate``, ``contamination``, ``parallel_trends``.
    status
        ``ok``, ``warn`` or ``alert`` (an alert is a caveat on any recommendation).
    message
        One plain-language sentence with the size of the problem.
    data
        JSON-able details for plots and other checks.
    table
        The details as rows for display (one dict per row, column -> value; no personal data).

    """

    name: str
    status: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)
    table: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict."""
        return asdict(self)
