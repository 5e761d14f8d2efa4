"""PyMC models fitted on cells (sufficient statistics): model families and ONE fit / sampling API.

* :mod:`.base` and :mod:`.families`: what a model family provides and the registry
  ``FAMILIES`` (``ordinal``, ``binomial``, ``continuous``; :func:`get_family` by name);
  :mod:`.ordinal`, :mod:`.binomial`, :mod:`.continuous` (likelihoods and natural-scale transforms).
* :mod:`.terms` (design arrays of a metric's cells, the shared linear predictor) and
  :mod:`.priors` (prior scales, parametrisation).
* :mod:`.sampling`: compile, sample (nutpie, or PyMC), diagnose: the one sampling path, used by
  :mod:`.blocks` (metric blocks of the experiments: joint fit, compile cache, prior draws) and by
  the diagnosis model.

Models see only arrays: they never import data, experiments, spec or files.
"""

from qmsprint.models.base import Family
from qmsprint.models.blocks import Fit, ModelBlock, clear_cache, diagnostics, fit, prior_draws
from qmsprint.models.families import FAMILIES, get_family
from qmsprint.models.priors import choose_centred, resolve_priors
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
from qmsprint.models.terms import CellDesign

__all__ = [
    "FAMILIES",
    "CellDesign",
    "CompiledModel",
    "Family",
    "Fit",
    "ModelBlock",
    "Started",
    "choose_centred",
    "clear_cache",
    "compile_model",
    "diagnostics",
    "diagnostics_of",
    "draws_of",
    "finish_sampling",
    "fit",
    "get_family",
    "one_blas_thread",
    "prior_draws",
    "resolve_priors",
    "sample_model",
    "start_sampling",
]
