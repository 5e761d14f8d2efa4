"""PyMC models fitted on cells (sufficient statistics): model families and ONE fit / sampling API.

* :mod:`.base` and :mod:`.families`: what a model family provides and the registry
  ``FAMILIES`` (``ordinal``, ``binomial``, ``gamma``, ``continuous``; :func:`get_family` by name);
  :mod:`.ordinal`, :mod:`.binomial`, :mod:`.gamma`, :mod:`.continuous` (likelihoods and
  natural-scale transforms).
* :mod:`.terms` (design arrays of a metric's cells, the shared linear predictor with agent, team,
  site and unit x period levels) and :mod:`.priors` (prior scales, parametrisation per level
  from the data).
* :mod:`.retry`: fits that finish (retries within a time budget, every attempt recorded).
* :mod:`.sampling`: compile, sample (nutpie, or PyMC), diagnose: the one sampling path, used by
  :mod:`.blocks` (metric blocks of the experiments: joint fit, compile cache, prior draws) and by
  the diagnosis model.

Models see only arrays: they never import data, experiments, spec or files.
"""

from qmsprint.models.base import Family
from qmsprint.models.blocks import Fit, ModelBlock, clear_cache, diagnostics, fit, many_pilots, prior_draws, refit
from qmsprint.models.families import FAMILIES, get_family
from qmsprint.models.priors import LevelChoice, choose_centred, choose_levels, resolve_priors
from qmsprint.models.retry import Attempt, Fitted, fit_until_converged
from qmsprint.models.sampling import (
    CompiledModel,
    Started,
    compile_model,
    diagnostics_of,
    draws_of,
    finish_sampling,
    one_blas_thread,
    sample_model,
    start_sampling,
)
from qmsprint.models.terms import LEVELS, CellDesign

__all__ = [
    "FAMILIES",
    "LEVELS",
    "Attempt",
    "CellDesign",
    "CompiledModel",
    "Family",
    "Fit",
    "Fitted",
    "LevelChoice",
    "ModelBlock",
    "Started",
    "choose_centred",
    "choose_levels",
    "clear_cache",
    "compile_model",
    "diagnostics",
    "diagnostics_of",
    "draws_of",
    "finish_sampling",
    "fit",
    "fit_until_converged",
    "get_family",
    "many_pilots",
    "one_blas_thread",
    "prior_draws",
    "refit",
    "resolve_priors",
    "sample_model",
    "start_sampling",
]
