"""qmsprint: experiments for contact-center quality-program redesign.

The public API is re-exported here; see ARCHITECTURE.md for the layers behind it.
"""

from qmsprint.errors import BundleError, ConvergenceError, DataError, DesignError, Problem, QmsprintError, SpecError
from qmsprint.spec import Spec, load_spec, parse_spec

__version__ = "0.1.0"

__all__ = [
    "BundleError",
    "ConvergenceError",
    "DataError",
    "DesignError",
    "Problem",
    "QmsprintError",
    "Spec",
    "SpecError",
    "__version__",
    "load_spec",
    "parse_spec",
]
