"""PyMC models fitted on cells (sufficient statistics): one module per family.

:mod:`.terms` (design arrays, priors, the shared linear predictor), :mod:`.ordinal`,
:mod:`.binomial`, :mod:`.continuous` (likelihoods and natural-scale transforms) and
:mod:`.sampling` (joint model, compile cache, nutpie / PyMC sampling, diagnostics).
Models see only arrays.
"""

from qmsprint.models.sampling import Block, Fit, clear_cache, diagnostics, draws_of, fit
from qmsprint.models.terms import Design, choose_centred, resolve_priors

__all__ = [
    "Block",
    "Design",
    "Fit",
    "choose_centred",
    "clear_cache",
    "diagnostics",
    "draws_of",
    "fit",
    "resolve_priors",
]
