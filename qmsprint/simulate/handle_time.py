"""Handle-time families of the simulator: draws and their exact expectations (see :mod:`qmsprint.simulate`).

Every family is ``shift + exp(lht) R`` seconds, with ``lht`` the log-scale predictor (treatment
effect included) and ``R`` a positive noise factor independent of ``lht``; the treatment therefore
scales the lognormal/gamma part and leaves the shift alone, and the expected handle time of an
interaction is ``shift + exp(lht) E[R]``:

* ``lognormal``: ``R = exp(Normal(0, ht_sd))``, ``E[R] = exp(ht_sd^2 / 2)``;
* ``gamma`` / ``gamma_shift``: ``R ~ Gamma(ht_shape, scale exp(ht_sd^2 / 2) / ht_shape)``, the same mean;
* ``mixture``: ``R = exp(Normal(0, ht_sd))`` with probability ``1 - w``, else
  ``ht_mix_ratio exp(Normal(0, ht_mix_sd))``; ``E[R] = (1 - w) exp(ht_sd^2/2) + w ratio exp(ht_mix_sd^2/2)``.
"""

from __future__ import annotations

import math

import numpy as np

from qmsprint.simulate.config import SimConfig


def mean_factor(cfg: SimConfig) -> float:
    """``E[R]``: the expected noise factor of the handle-time family."""
    base = math.exp(cfg.ht_sd**2 / 2)
    if cfg.ht_dist == "mixture":
        msd = cfg.ht_sd if cfg.ht_mix_sd is None else cfg.ht_mix_sd
        w = cfg.ht_mix_weight
        return (1 - w) * base + w * cfg.ht_mix_ratio * math.exp(msd**2 / 2)
    return base


def is_default(cfg: SimConfig) -> bool:
    """Lognormal without a shift: the simulator's original handle time (byte-identical code path)."""
    return cfg.ht_dist == "lognormal" and cfg.ht_shift_s == 0


def draw(cfg: SimConfig, lht: np.ndarray, eps: np.ndarray, side: np.random.Generator) -> np.ndarray:
    """Handle times in seconds (not rounded).

    Parameters
    ----------
    cfg
        Settings (``ht_dist`` and its parameters).
    lht
        Log-scale predictor of each interaction, treatment effect included.
    eps
        ``Normal(0, ht_sd)`` draws of the main stream (the lognormal noise; drawn in every family
        so the main stream stays aligned).
    side
        The second random stream (:func:`qmsprint.simulate.world.side_rng`) for the other families.

    """
    if cfg.ht_dist in ("gamma", "gamma_shift"):
        r = side.gamma(cfg.ht_shape, mean_factor(cfg) / cfg.ht_shape, len(lht))
        ht = np.exp(lht) * r
    elif cfg.ht_dist == "mixture":
        msd = cfg.ht_sd if cfg.ht_mix_sd is None else cfg.ht_mix_sd
        second = side.random(len(lht)) < cfg.ht_mix_weight
        slow = cfg.ht_mix_ratio * np.exp(side.normal(0, msd, len(lht)))
        ht = np.exp(lht) * np.where(second, slow, np.exp(eps))
    else:
        ht = np.exp(lht + eps)
    return ht + cfg.ht_shift_s if cfg.ht_shift_s else ht


def expected(cfg: SimConfig, lht0: np.ndarray, effect: float = 0.0) -> np.ndarray:
    """Expected handle time of each interaction with log-scale predictor ``lht0 + effect``.

    The lognormal without a shift is computed exactly as the simulator always did
    (``exp(lht0 + ht_sd^2/2 + effect)``), so its truths are unchanged to the last bit.
    """
    if is_default(cfg):
        return np.exp(lht0 + cfg.ht_sd**2 / 2 + effect)
    if cfg.ht_dist == "lognormal":
        m = np.exp(lht0 + cfg.ht_sd**2 / 2 + effect)
    else:
        m = np.exp(lht0 + effect) * mean_factor(cfg)
    return m + cfg.ht_shift_s
