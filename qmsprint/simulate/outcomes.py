"""Custom outcomes with known effects on a simulated pilot: retention, sales, churn, counts, amounts.

:func:`add_outcomes` adds one column per :class:`SimOutcome` to a :class:`Simulation` (the columns
a client export would carry, see :mod:`qmsprint.metrics.custom`) and their ground truth, in the
same form as the built-in metrics' (``truth["effects"][name][scale]``, ``truth["control"]``,
``truth["treatment"]``).

Generative model
----------------
Each outcome has its own agent effects ``a ~ Normal(0, agent_sd)`` and team effects
``v ~ Normal(0, team_sd)`` (drawn from ``default_rng([seed, 20, k])`` for the ``k``-th outcome, so
adding an outcome never changes the others' draws), and ``T_i = 1`` for an interaction handled on
the new program (arm = treatment, in the pilot period)::

    binary      P(y_i = 1) = expit(logit(base) + a + v + effect T_i)
    count       y_i ~ NegativeBinomial(mean mu_i, shape), mu_i = base exp(a + v + effect T_i)
    continuous  y_i ~ Gamma(shape, mean mu_i),             mu_i = base exp(a + v + effect T_i)

Derived outcomes (``within_days``): each interaction ``j`` triggers an event of its customer with
probability ``q_j = expit(logit(base) + a + v + effect T_j)``:

* ``event = "flag"``: the event happens during the contact and is flagged on it (a sale); the
  outcome of interaction ``i`` is "an event of the customer on day ``d_i`` .. ``d_i + within_days``";
* ``event = "date"``: the event happens ``D_j ~ Exponential(delay_days)`` days after the contact
  and the customer's **first** event date is written on all their rows (a cancellation date: a
  customer churns once); the outcome is "the customer's event date falls on day ``d_i`` ..
  ``d_i + within_days``".

Truth
-----
As for the built-in metrics: the expected difference between the two programs averaged over the
pilot-period interactions of the design's population (A/B: every unit; DiD: the treated units),
from the probabilities and means given each interaction's effects, not from the drawn outcomes.
Derived outcomes are averaged over the interactions whose window the data layer observes
(:mod:`qmsprint.data.derived`: the window ends before the last day of the data) and account for
every contact of the customer whose event can land in the window; the counterfactual switches
every pilot-period contact of the population to one program. That equals the arm comparison the
models make when a customer's follow-up contacts stay in the unit's arm (team or site
randomization, DiD); with agents randomized inside teams, follow-ups handled in the other arm
dilute the arm comparison of a derived outcome by the share of events from follow-ups.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from qmsprint.simulate.config import Simulation

DAY = 86400.0


@dataclass(frozen=True)
class SimOutcome:
    """One custom outcome of a simulated pilot.

    Parameters
    ----------
    name
        Column name in the frame (and key in the truth).
    kind
        ``binary``, ``count``, ``continuous`` (a column per interaction) or ``derived`` (events).
    base
        Control level: a rate (binary, derived: the per-contact event probability) or a mean.
    effect
        Effect of the new program on the latent scale (logit for rates, log for means).
    agent_sd, team_sd
        Random-effect sds on the latent scale.
    shape
        Count: negative binomial shape (``inf``: Poisson); continuous: gamma shape.
    within_days
        Derived: the window of the outcome.
    event
        Derived: ``flag`` (flagged on the contact) or ``date`` (first event date on every row).
    delay_days
        Derived ``date`` events: mean days from the contact to the event.

    """

    name: str
    kind: Literal["binary", "count", "continuous", "derived"]
    base: float
    effect: float
    agent_sd: float = 0.2
    team_sd: float = 0.0
    shape: float = 2.0
    within_days: int = 7
    event: Literal["flag", "date"] = "flag"
    delay_days: float = 10.0

    def __post_init__(self) -> None:
        problems = []
        if self.kind not in ("binary", "count", "continuous", "derived"):
            problems.append(f"kind must be binary, count, continuous or derived (got {self.kind!r})")
        if self.kind in ("binary", "derived") and not 0 < self.base < 1:
            problems.append(f"{self.name}: a rate base must be between 0 and 1 (got {self.base})")
        if self.kind in ("count", "continuous") and not self.base > 0:
            problems.append(f"{self.name}: a mean base must be > 0 (got {self.base})")
        if not (self.shape > 0 and self.agent_sd >= 0 and self.team_sd >= 0 and self.delay_days > 0):
            problems.append(f"{self.name}: shape and delay_days must be > 0, sds >= 0")
        if self.event not in ("flag", "date") or self.within_days < 1:
            problems.append(f"{self.name}: event must be flag or date, within_days >= 1")
        if problems:
            raise ValueError("; ".join(problems))


def _treated(frame: pd.DataFrame, truth: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(on the new program, in the pilot period, in the truth's population) per row."""
    ts = pd.to_datetime(frame["timestamp"])
    pilot = (ts >= pd.Timestamp(truth["periods"]["pilot"]["start"])).to_numpy()
    on_new = (frame["arm"].astype(str) == truth["arms"]["treatment"]).to_numpy()
    pop = pilot & (True if truth["design"] == "ab" else on_new)
    return on_new & pilot, pilot, np.asarray(pop, bool)


def _summary(kind: str, v0: np.ndarray, v1: np.ndarray) -> tuple[dict, dict, dict]:
    """(control, treatment, effects) scales from per-interaction levels under each program."""
    if kind in ("binary", "derived"):
        c, t = 100 * float(np.mean(v0)), 100 * float(np.mean(v1))
        return {"rate": c}, {"rate": t}, {"rate": t - c, "relative": 100 * (t - c) / c}
    c, t = float(np.mean(v0)), float(np.mean(v1))
    return {"mean": c}, {"mean": t}, {"mean": t - c, "relative": 100 * (t - c) / c}


def _days(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    ts = pd.to_datetime(frame["timestamp"])
    sec = ((ts - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1)).to_numpy(np.int64).astype(float)
    return sec, np.floor(sec / DAY)


def _pairs(cust: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All ordered pairs (i, j) of rows of the same customer (i == j included)."""
    df = pd.DataFrame({"c": cust, "i": np.arange(len(cust))})
    m = df.merge(df, on="c", suffixes=("", "_j"))
    return m["i"].to_numpy(), m["i_j"].to_numpy()


def _derived_probability(
    o: SimOutcome, q: np.ndarray, sec: np.ndarray, day: np.ndarray, cust: np.ndarray
) -> np.ndarray:
    """P(outcome) of every row given each contact's event probability ``q`` (module docstring)."""
    i, j = _pairs(cust)
    lo, hi = day[i], day[i] + o.within_days
    if o.event == "flag":  # an event on contact j, on its own day
        inside = (day[j] >= lo) & (day[j] <= hi)
        log_none = np.bincount(i, weights=np.where(inside, np.log1p(-q[j]), 0.0), minlength=len(q))
        return 1.0 - np.exp(log_none)
    m = o.delay_days * DAY

    def by_day(d: np.ndarray) -> np.ndarray:  # P(the event of contact j falls on a day <= d)
        return 1.0 - np.exp(-np.maximum((d + 1) * DAY - sec[j], 0.0) / m)

    # first event on day lo..hi = no event before lo, minus no event up to hi
    before = np.bincount(i, weights=np.log1p(-q[j] * by_day(lo - 1)), minlength=len(q))
    upto = np.bincount(i, weights=np.log1p(-q[j] * by_day(hi)), minlength=len(q))
    return np.exp(before) - np.exp(upto)


def add_outcomes(sim: Simulation, outcomes: Sequence[SimOutcome], seed: int | None = None) -> Simulation:
    """The simulation with one column per custom outcome and their truth (see the module docstring).

    Parameters
    ----------
    sim
        A simulated pilot (:func:`qmsprint.simulate.simulate`).
    outcomes
        The outcomes to add; ``flag`` events add a yes/no column ``<name>`` (the flag), ``date``
        events a date column ``<name>`` (empty without an event).
    seed
        Seed of the outcomes' random streams (default: the simulation's seed).

    Returns
    -------
    Simulation
        A new record: the frame with the added columns, the truth with ``effects``, ``control``,
        ``treatment`` and ``custom`` (each outcome's settings) for every added outcome.

    """
    frame = sim.frame.copy()
    truth = {k: (dict(v) if isinstance(v, dict) else v) for k, v in sim.truth.items()}
    seed = sim.truth.get("seed", 1) if seed is None else seed
    treat, _, pop = _treated(frame, truth)
    agents = frame["agent_id"].astype(str).to_numpy()
    teams = frame["team"].astype(str).to_numpy()
    cust = frame["customer_id"].astype(str).to_numpy()
    sec, day = _days(frame)
    last_known = day.max() - 1  # the data layer's default censoring (qmsprint.data.derived)
    custom = dict(truth.get("custom", {}))
    for k, o in enumerate(outcomes):
        rng = np.random.default_rng([int(seed), 20, k])
        ua, ia = np.unique(agents, return_inverse=True)
        ut, it = np.unique(teams, return_inverse=True)
        lat = rng.normal(0, o.agent_sd, len(ua))[ia] + rng.normal(0, o.team_sd, len(ut))[it]
        if o.kind in ("binary", "derived"):
            eta0 = logit(o.base) + lat
            p = expit(eta0 + o.effect * treat)
            if o.kind == "binary":
                frame[o.name] = pd.array(rng.random(len(p)) < p, dtype="boolean")
                v0, v1 = expit(eta0[pop]), expit(eta0[pop] + o.effect)
            else:
                hit = rng.random(len(p)) < p
                if o.event == "flag":
                    frame[o.name] = pd.array(hit, dtype="boolean")
                else:
                    at = np.where(hit, sec + rng.exponential(o.delay_days * DAY, len(p)), np.inf)
                    first = pd.Series(at).groupby(cust).transform("min")
                    dates = pd.to_datetime(first.where(np.isfinite(first)), unit="s").dt.strftime("%Y-%m-%d")
                    frame[o.name] = pd.array(dates.to_numpy(), dtype="string")
                known = pop & (day + o.within_days <= last_known)
                # counterfactuals: every pilot contact of the population on one program (the others as drawn)
                q0 = np.where(pop, expit(eta0), p)
                q1 = np.where(pop, expit(eta0 + o.effect), p)
                v0 = _derived_probability(o, q0, sec, day, cust)[known]
                v1 = _derived_probability(o, q1, sec, day, cust)[known]
        else:
            mu0 = o.base * np.exp(lat)
            mu = mu0 * np.exp(o.effect * treat)
            if o.kind == "count":
                r = o.shape
                y = rng.poisson(mu) if math.isinf(r) else rng.negative_binomial(r, r / (r + mu))
                frame[o.name] = y.astype("int64")
            else:
                frame[o.name] = rng.gamma(o.shape, mu / o.shape)
            v0, v1 = mu0[pop], mu0[pop] * math.exp(o.effect)
        control, treatment, effects = _summary(o.kind, v0, v1)
        for key, val in (("control", control), ("treatment", treatment), ("effects", effects)):
            truth[key] = {**truth[key], o.name: val}
        custom[o.name] = dataclasses.asdict(o) | {"n_truth_interactions": int(len(v0))}
    truth["custom"] = custom
    return Simulation(frame=frame, truth=truth, config=sim.config)
