"""Limits a design puts on the call: a before/after comparison without a control group is at most ``extend``.

With ``design = "prepost"`` the effect is a level shift against an extrapolated trend and season;
whatever else changed at the switch is in it. :func:`limit_action` therefore turns a decisive call
(``scale_up``, ``iterate``, ``stop``) into ``extend`` unless the experiment file opts in with
``[prepost] allow_decisive = true``. The call the data alone would make is kept in
``Recommendation.thresholds["uncapped_action"]`` (and the limit in ``"max_action"``), so the words
(:func:`qmsprint.present.rollout.word_limits`) can say what was capped.
"""

from __future__ import annotations

import dataclasses

from qmsprint.decide.recommendation import Recommendation
from qmsprint.decide.rules import DECISIVE
from qmsprint.spec import Spec

__all__ = ["MAX_ACTION", "capped", "limit_action"]

MAX_ACTION = "extend"


def capped(spec: Spec) -> bool:
    """Whether the spec's design caps the call at ``extend`` (prepost without ``allow_decisive``)."""
    return spec.design == "prepost" and not spec.prepost.allow_decisive


def limit_action(spec: Spec, rec: Recommendation) -> Recommendation:
    """``rec`` with its action capped at ``extend`` where the design asks for it (a copy; see the module doc)."""
    if not capped(spec):
        return rec
    thresholds = {**rec.thresholds, "max_action": MAX_ACTION}
    if rec.action not in DECISIVE:
        return dataclasses.replace(rec, thresholds=thresholds)
    thresholds["uncapped_action"] = rec.action
    return dataclasses.replace(rec, action=MAX_ACTION, thresholds=thresholds)
