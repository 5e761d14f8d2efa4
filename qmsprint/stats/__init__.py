"""Small pure statistical functions used across qmsprint (one home for each).

``hdi`` is the one highest-density interval and ``modal_by`` each group's most frequent value; the
tests used by the health checks and the pilot design (two proportions, Welch, cluster-aware,
sample ratio mismatch, trend slope) live in :mod:`qmsprint.stats.tests`.
"""

from qmsprint.stats.groups import modal_by
from qmsprint.stats.intervals import discretized_normal_shares, hdi, ordinal_exceedance, ordinal_probs
from qmsprint.stats.tests import (
    cluster_share_test,
    ratio_difference_test,
    ratio_estimate,
    srm_test,
    standardized_difference,
    student_t,
    trend_slope,
    two_proportion_test,
    welch,
    welch_rows,
)

__all__ = [
    "cluster_share_test",
    "discretized_normal_shares",
    "hdi",
    "modal_by",
    "ordinal_exceedance",
    "ordinal_probs",
    "ratio_difference_test",
    "ratio_estimate",
    "srm_test",
    "standardized_difference",
    "student_t",
    "trend_slope",
    "two_proportion_test",
    "welch",
    "welch_rows",
]
