"""The ``[sampler]`` section of an experiment file: MCMC settings, kept apart from model settings.

:mod:`qmsprint.spec` includes it in :class:`~qmsprint.spec.Spec`. A setting left unset that each
model fills in with its own default (the target accept) stays unset in the spec, so a run folder's
filled-in experiment file samples every model as the first run did.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from qmsprint.spec_base import Strict

# Target accept when the spec leaves it unset. The effect models: at 0.9 a divergent draw or two
# (sds near zero, few teams) sent most runs to a retry. The diagnosis's regressions (one agent level,
# no period terms) converge at nutpie's default, 0.8: on the bundled A/B data its small parts take
# 7-11 leapfrog steps a draw there against 15 at 0.9, and every part converged (one sampled again
# with more draws, as at 0.9); its large parts go further (qmsprint.models.diagnosis.LARGE_PART_ACCEPT).
EFFECT_TARGET_ACCEPT = 0.95
DIAGNOSIS_TARGET_ACCEPT = 0.8


class Sampler(Strict):
    """MCMC settings (kept apart from model settings)."""

    draws: int = Field(1000, ge=50)
    tune: int = Field(1000, ge=50)
    chains: int = Field(4, ge=1, le=16)
    seed: int = 20261122
    target_accept: float | None = Field(
        None,
        gt=0.5,
        lt=1,
        description=f"NUTS target acceptance; unset: {EFFECT_TARGET_ACCEPT} for the effect models, "
        f"{DIAGNOSIS_TARGET_ACCEPT} for the checklist diagnosis",
    )
    backend: Literal["nutpie", "pymc"] = "nutpie"
    time_budget_s: float = Field(
        600.0,
        ge=0,
        description="seconds the estimation may take with retries: a fit that misses the convergence bars is "
        "sampled again (longer, or with another parametrisation) while the next attempt fits in this budget",
    )

    def accept(self, default: float) -> float:
        """The target accept to sample with: the spec's, else ``default`` (the model's own)."""
        return default if self.target_accept is None else self.target_accept
