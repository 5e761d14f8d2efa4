"""Fits that finish: sample, check the bars, and try again within a time budget.

:func:`fit_until_converged` fits every block (:func:`.blocks.fit`), checks each fit with the
caller's ``diagnose`` and, for a fit that misses the bars, climbs a short ladder of remedies until
one meets them, the ladder ends, or the next step would not finish inside the time budget:

* **more chains** (first for a marginal miss: no divergences, E-BFMI fine, R-hat at most
  :data:`MARGINAL_RHAT` and ESS at least a quarter of the bar): the same compiled model samples as
  many chains again with the same settings, pooled with the first ones (twice the draws for the cost
  of one sampling, where a longer one also repeats a longer warm-up);
* **extend** (a marginal miss that more chains did not fix): the same compiled model, twice the
  draws and warm-up;
* **switch** the parametrisation: after divergences or a low E-BFMI (a funnel), centred levels
  become non-centred; after slow mixing without divergences (a ridge), non-centred levels whose
  members the data pin down (:class:`.priors.LevelChoice` ratio >= 1) become centred;
* **smaller steps** (first after a few divergences, at most :data:`FEW_DIVERGENCES`): the same
  draws and warm-up with target accept :data:`SMALLER_STEP_ACCEPT` (a divergent draw or two usually
  comes from a step size adapted a little too large; on the bundled A/B pilot's handle time this
  cleared them at a third of the cost of a careful attempt);
* **careful** (next after a few divergences): a longer warm-up (3x), more draws (2x) and a smaller
  step (target accept 0.97 after divergences, else 0.95);
* **smallest steps** (when a careful attempt still left a few divergences): the same settings with
  target accept :data:`SMALLEST_STEP_ACCEPT`, before the parametrisation is switched.

Sampler settings that cannot reach the ESS bar at all (chains x draws below it: a quick look)
are not retried. Every attempt is recorded (:class:`Attempt`); the best one is kept (the first that converges,
else the one that misses the fewest bars, then by divergences, R-hat and ESS).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from qmsprint.models.blocks import Fit, ModelBlock, fit, refit, with_more_chains
from qmsprint.models.priors import LevelChoice
from qmsprint.models.terms import LEVEL_LABELS
from qmsprint.results import BFMI_MIN, ESS_MIN, Diagnostics

MARGINAL_RHAT = 1.05
MAX_RETRIES = 4


@dataclass(frozen=True)
class Attempt:
    """One sampling of a block: what was changed, how long it took, which bars it missed."""

    number: int
    action: str
    draws: int
    tune: int
    target_accept: float
    centred: tuple[str, ...]
    seconds: float
    problems: tuple[str, ...]

    @property
    def converged(self) -> bool:
        """Whether this attempt met every bar."""
        return not self.problems

    def text(self) -> str:
        """One line: ``2) sampling extended (4 x 2000 draws, warm-up 600): converged``."""
        result = "converged" if self.converged else "missed " + "; ".join(self.problems)
        return f"{self.number}) {self.action} ({self.draws} draws per chain, warm-up {self.tune}): {result}"


@dataclass
class Fitted:
    """A block's kept fit with its diagnostics and every attempt made."""

    fit: Fit
    diagnostics: Diagnostics
    attempts: list[Attempt] = field(default_factory=list)
    stopped: str = ""  # why the ladder stopped early (time budget), or ""

    @property
    def retries(self) -> int:
        """Attempts after the first."""
        return max(0, len(self.attempts) - 1)

    def notes(self) -> list[str]:
        """Sentences for the results: what was done when the first attempt missed the bars."""
        out = []
        if self.retries:
            kept = "converged" if self.diagnostics.converged else "the best attempt is kept"
            out.append(
                f"the first fit missed the convergence bars; fitted {len(self.attempts)} times ({kept}): "
                + "; ".join(a.text() for a in self.attempts)
            )
        if self.stopped:
            out.append(self.stopped)
        return out


def is_marginal(d: Diagnostics) -> bool:
    """A miss that more draws fix: no divergences, E-BFMI fine, R-hat <= MARGINAL_RHAT, ESS >= a quarter of the bar."""
    return (
        not is_funnel(d)
        and d.rhat_max <= MARGINAL_RHAT
        and d.ess_bulk_min >= ESS_MIN / 4
        and d.ess_tail_min >= ESS_MIN / 4
    )


def _low_bfmi(d: Diagnostics) -> bool:
    return d.bfmi_min == d.bfmi_min and d.bfmi_min < BFMI_MIN  # nan (not reported) counts as fine


def is_funnel(d: Diagnostics) -> bool:
    """Divergences or a low E-BFMI: the geometry is the problem, and more draws of the same model do not help."""
    return d.divergences > 0 or _low_bfmi(d)


def _switched(block: ModelBlock, d: Diagnostics, choices: Mapping[str, LevelChoice]) -> tuple[str, tuple] | None:
    """(description, new centred levels) of the parametrisation switch for this miss, or None."""
    centred = set(block.centred)
    if is_funnel(d):
        if not centred:
            return None
        names = ", ".join(LEVEL_LABELS[lv] for lv in sorted(centred))
        return f"{names} effects non-centred", ()
    candidates = [
        lv
        for lv in block.design.levels
        if lv not in centred and lv not in block.design.fixed and lv in choices and choices[lv].ratio >= 1.0
    ]
    if not candidates:
        return None
    names = ", ".join(LEVEL_LABELS[lv] for lv in candidates)
    return f"{names} effects centred", tuple(sorted(centred | set(candidates)))


FEW_DIVERGENCES = 10
SMALLER_STEP_ACCEPT = 0.97
SMALLEST_STEP_ACCEPT = 0.99


def _badness(d: Diagnostics) -> tuple:
    """Order of attempts from best to worst: fewer bars missed, fewer divergences, lower R-hat, more ESS."""
    return (len(d.problems), d.divergences, round(d.rhat_max, 3), -min(d.ess_bulk_min, d.ess_tail_min))


def _ladder(d: Diagnostics) -> tuple[str, ...]:
    """Order of the remedies for this miss (module docstring)."""
    if is_marginal(d):
        return ("more chains", "extend", "careful", "switch")
    if 0 < d.divergences <= FEW_DIVERGENCES and d.rhat_max <= MARGINAL_RHAT and not _low_bfmi(d):
        return ("smaller steps", "careful", "smallest", "switch", "extend")  # a few divergences: smaller steps first
    return ("switch", "careful", "smallest", "extend")


def _cost(first: Fit, draws: int, tune: int, draws0: int, tune0: int, compile_too: bool) -> float:
    """Expected seconds of an attempt, scaled from the first one's sampling time."""
    sampling = max(first.seconds - first.compile_seconds, 0.5)
    return sampling * (draws + tune) / max(draws0 + tune0, 1) + (first.compile_seconds + 5.0 if compile_too else 0.0)


def fit_until_converged(
    blocks: list[ModelBlock],
    *,
    diagnose: Callable[[int, Fit], Diagnostics],
    draws: int,
    tune: int,
    chains: int,
    seed: int,
    target_accept: float = 0.9,
    backend: str = "nutpie",
    progress: Any = None,
    deadline: float | None = None,
    choices: list[Mapping[str, LevelChoice]] | None = None,
) -> list[Fitted]:
    """Fit every block; retry each that misses the bars (module docstring) until ``deadline``.

    Parameters
    ----------
    blocks
        The metric blocks.
    diagnose
        ``diagnose(i, fit) -> Diagnostics`` for block ``i`` (the caller adds derived quantities).
    draws, tune, chains, seed, target_accept, backend, progress
        Sampler settings of the first attempt (see :func:`.blocks.fit`).
    deadline
        ``time.perf_counter()`` value after which no retry starts; a retry starts only when its
        expected duration fits before it. ``None``: no limit.
    choices
        Per block, the data's parametrisation choice per level (:func:`.priors.choose_levels`).

    Returns
    -------
    list[Fitted]
        One per block, in order.

    """
    firsts = fit(
        blocks,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        target_accept=target_accept,
        backend=backend,
        progress=progress,
    )
    # every first fit is done before any retry: a retry reports at the end of the fitting's range, so
    # the progress bar does not go back to its start
    held = None if progress is None else (lambda message, _fraction: progress(message, 1.0))
    out = []
    for i, first in enumerate(firsts):
        diag = diagnose(i, first)
        attempt = Attempt(
            1, "first fit", draws, tune, target_accept, tuple(first.block.centred), first.seconds, tuple(diag.problems)
        )
        done = Fitted(first, diag, [attempt])
        if not diag.converged and chains * draws < ESS_MIN:
            done.stopped = (
                f"no retry: {chains} chains x {draws} draws cannot reach the ESS bar of {ESS_MIN:.0f} "
                "(a quick look; raise [sampler] draws for a fit to rely on)"
            )
        elif not diag.converged:
            done = _retry(
                done,
                diagnose=lambda f, i=i: diagnose(i, f),
                chains=chains,
                seed=seed + 1000 * (i + 1),
                backend=backend,
                progress=held,
                deadline=deadline,
                choices=(choices[i] if choices else {}),
            )
        total = sum(a.seconds for a in done.attempts)
        done.diagnostics = replace(done.diagnostics, seconds=total, attempts=len(done.attempts))
        out.append(done)
    return out


def _plan(
    step: str,
    block: ModelBlock,
    draws: int,
    tune: int,
    accept: float,
    d: Diagnostics,
    choices: Mapping[str, LevelChoice],
    chains: int,
) -> tuple[str, ModelBlock, int, int, float] | None:
    """(action, block, draws, warm-up, target accept) of a ladder step, or None when it does not apply."""
    if step == "more chains":
        return f"sampling extended with {chains} more chains, {2 * chains} in all", block, draws, tune, accept
    if step == "extend":
        return "sampling extended", block, draws * 2, tune * 2, accept
    if step == "switch":
        sw = _switched(block, d, choices)
        if sw is None:
            return None
        return sw[0], replace(block, centred=sw[1]), draws, tune, accept
    if step == "smaller steps":
        if accept >= SMALLER_STEP_ACCEPT:
            return None
        return f"smaller steps (target accept {SMALLER_STEP_ACCEPT})", block, draws, tune, SMALLER_STEP_ACCEPT
    if step == "smallest":
        if accept >= SMALLEST_STEP_ACCEPT:
            return None
        return f"smallest steps (target accept {SMALLEST_STEP_ACCEPT})", block, draws, tune, SMALLEST_STEP_ACCEPT
    new_accept = max(accept, 0.97 if is_funnel(d) else 0.95)
    return f"longer warm-up and smaller steps (target accept {new_accept})", block, draws * 2, tune * 3, new_accept


def _retry(
    done: Fitted,
    *,
    diagnose: Callable[[Fit], Diagnostics],
    chains: int,
    seed: int,
    backend: str,
    progress: Any,
    deadline: float | None,
    choices: Mapping[str, LevelChoice],
) -> Fitted:
    first = done.fit
    a0 = done.attempts[0]
    block, draws, tune, accept = first.block, a0.draws, a0.tune, a0.target_accept
    compiled_fits = {first.block.key(): first}  # a fit per compiled shape, to sample it again
    last_fit, last_diag = first, done.diagnostics
    best, best_diag = first, done.diagnostics
    used: set[str] = set()
    number = 1
    while number <= MAX_RETRIES:
        plan, step = None, ""
        for step in _ladder(last_diag):
            if step in used:
                continue
            used.add(step)
            plan = _plan(step, block, draws, tune, accept, last_diag, choices, chains)
            if plan is not None:
                break
        if plan is None:
            break
        action, new_block, new_draws, new_tune, new_accept = plan
        number += 1
        previous = compiled_fits.get(new_block.key())
        cost = _cost(first, new_draws, new_tune, a0.draws, a0.tune, previous is None)
        if deadline is not None and time.perf_counter() + cost > deadline:
            done.stopped = (
                f"no further attempt ({action}, about {cost:.0f} s) fits in the sampler's time budget "
                "([sampler] time_budget_s)"
            )
            break
        if progress is not None:
            progress(f"{block.name}: the fit missed the bars, trying again ({action})", 0.0)
        f = refit(
            previous or first,
            new_block,
            draws=new_draws,
            tune=new_tune,
            chains=chains,
            seed=seed + number,
            target_accept=new_accept,
            backend=backend,
            progress=progress,
        )
        compiled_fits.setdefault(new_block.key(), f)
        if step == "more chains":  # pooled with the chains it extends (the attempt's seconds stay its own)
            f = with_more_chains(last_fit, f)
        d = diagnose(f)
        done.attempts.append(
            Attempt(
                number, action, new_draws, new_tune, new_accept, tuple(new_block.centred), f.seconds, tuple(d.problems)
            )
        )
        if _badness(d) <= _badness(best_diag):
            best, best_diag = f, d
        if d.converged:
            break
        block, draws, tune, accept, last_fit, last_diag = new_block, new_draws, new_tune, new_accept, f, d
    done.fit, done.diagnostics = best, best_diag
    return done
