"""Small pure statistical functions used across qmsprint (one home for each).

``hdi`` is the one highest-density interval; the tests used by the health checks and the
pilot design (two proportions, Welch, cluster-aware, sample ratio mismatch, trend slope)
live in :mod:`qmsprint.stats.tests`.
"""

from qmsprint.stats.intervals import discretized_normal_shares, hdi, ordinal_exceedance, ordinal_probs

__all__ = ["discretized_normal_shares", "hdi", "ordinal_exceedance", "ordinal_probs"]
