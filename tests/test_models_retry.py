"""Fits that finish: the retry ladder, the time budget and what is recorded (qmsprint.models.retry)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np
import pytest

from qmsprint.models import CellDesign, ModelBlock, resolve_priors, retry
from qmsprint.models.priors import LevelChoice
from qmsprint.results import Diagnostics


def _diag(rhat=1.0, ess=2000.0, div=0, bfmi=1.0) -> Diagnostics:
    return Diagnostics(rhat, ess, ess, div, bfmi, draws=1000, chains=4, sampler="nutpie", seconds=1.0)


def _block(centred=("unit",)) -> ModelBlock:
    n = 8
    design = CellDesign(
        kind="did",
        unit=np.repeat(np.arange(4), 2),
        post=np.tile([0.0, 1.0], 4),
        active=np.array([0, 0, 0, 0, 0, 1, 0, 1.0]),
        X=np.zeros((n, 0)),
        seg=np.zeros((n, 0), dtype=int),
        unit_group=np.array([0, 0, 1, 1.0]),
        unit_team=np.zeros(4, dtype=int),
    )
    return ModelBlock(
        "fcr",
        "binomial",
        design,
        {"y": np.ones(n), "n": np.full(n, 5)},
        resolve_priors("binomial", "fcr", {}),
        centred=centred,
    )


@pytest.fixture
def fake_sampling(monkeypatch):
    """Replace sampling: record every call; each fit is a namespace carrying its settings."""
    calls = []

    def fake_fit(blocks, **kw):
        calls.append(("fit", blocks[0].centred, kw["draws"], kw["tune"], kw["target_accept"]))
        return [
            SimpleNamespace(block=b, seconds=10.0, compile_seconds=2.0, settings=(kw["draws"], kw["tune"]))
            for b in blocks
        ]

    def fake_refit(previous, block, **kw):
        calls.append(("refit", block.centred, kw["draws"], kw["tune"], kw["target_accept"]))
        return SimpleNamespace(block=block, seconds=20.0, compile_seconds=0.0, settings=(kw["draws"], kw["tune"]))

    def fake_more_chains(earlier, more):
        calls.append(("pooled", earlier.settings, more.settings))
        return SimpleNamespace(block=more.block, seconds=more.seconds, compile_seconds=0.0, settings=more.settings)

    monkeypatch.setattr(retry, "fit", fake_fit)
    monkeypatch.setattr(retry, "refit", fake_refit)
    monkeypatch.setattr(retry, "with_more_chains", fake_more_chains)
    return calls


def _run(diags, block=None, deadline=None, choices=None, progress=None):
    queue = list(diags)
    return retry.fit_until_converged(
        [block or _block()],
        diagnose=lambda i, f: queue.pop(0),
        draws=1000,
        tune=300,
        chains=4,
        seed=1,
        deadline=deadline,
        choices=[choices or {}],
        progress=progress,
    )[0]


def test_a_retry_reports_progress_at_the_end_of_the_fitting_not_back_at_its_start(fake_sampling, monkeypatch):
    seen = []

    def fake_refit(previous, block, **kw):  # a retry's sampling reports as a fit does: its block's share
        kw["progress"]("still sampling fcr (10 s)", 0.0)
        return SimpleNamespace(block=block, seconds=20.0, compile_seconds=0.0, settings=(kw["draws"], kw["tune"]))

    monkeypatch.setattr(retry, "refit", fake_refit)
    _run([_diag(rhat=1.011), _diag()], progress=lambda message, fraction: seen.append((message, fraction)))
    assert [m.split(":")[0].split(" (")[0] for m, _ in seen] == ["fcr", "still sampling fcr"]
    assert [f for _, f in seen] == [1.0, 1.0]


def test_a_converged_first_fit_is_kept_without_retries(fake_sampling):
    out = _run([_diag()])
    assert out.retries == 0 and out.notes() == [] and out.diagnostics.attempts == 1
    assert [c[0] for c in fake_sampling] == ["fit"]


def test_a_marginal_miss_adds_as_many_chains_of_the_same_model_and_pools_them(fake_sampling):
    out = _run([_diag(rhat=1.011), _diag()])
    assert fake_sampling[1] == ("refit", ("unit",), 1000, 300, 0.9)  # the same settings again
    assert fake_sampling[2] == ("pooled", (1000, 300), (1000, 300))  # with the first fit's chains
    assert out.diagnostics.converged and out.diagnostics.attempts == 2 and out.retries == 1
    assert out.diagnostics.seconds == pytest.approx(30.0)  # both attempts count
    (note,) = out.notes()
    assert (
        "fitted 2 times (converged)" in note
        and "2) sampling extended with 4 more chains, 8 in all (1000 draws per chain, warm-up 300): converged" in note
    )


def test_a_marginal_miss_that_more_chains_leave_marginal_samples_longer(fake_sampling):
    out = _run([_diag(rhat=1.012), _diag(rhat=1.011), _diag()])
    assert [c[0] for c in fake_sampling] == ["fit", "refit", "pooled", "refit"]
    assert fake_sampling[3] == ("refit", ("unit",), 2000, 600, 0.9)  # twice the draws and warm-up, not pooled
    assert out.diagnostics.converged and out.diagnostics.attempts == 3
    assert "3) sampling extended (2000 draws per chain, warm-up 600): converged" in out.notes()[0]


def test_a_few_divergences_take_smaller_steps_then_another_parametrisation(fake_sampling):
    out = _run([_diag(div=3), _diag(div=2), _diag(div=1), _diag(div=1), _diag()])
    assert fake_sampling[1] == ("refit", ("unit",), 1000, 300, 0.97)  # smaller steps, the same length
    assert fake_sampling[2] == ("refit", ("unit",), 2000, 900, 0.97)  # then a longer warm-up and more draws
    assert fake_sampling[3] == ("refit", ("unit",), 2000, 900, 0.99)  # still a few: the smallest steps
    assert fake_sampling[4][:2] == ("refit", ())  # centred agents -> non-centred
    assert out.diagnostics.converged and out.diagnostics.attempts == 5
    note = out.notes()[0]
    assert "2) smaller steps (target accept 0.97) (1000 draws per chain, warm-up 300)" in note
    assert "4) smallest steps (target accept 0.99)" in note


def test_smaller_steps_converge_without_switching_a_parametrisation_that_fits(fake_sampling):
    out = _run([_diag(div=4, rhat=1.011, ess=352), _diag(div=1), _diag()])
    assert [c[2:] for c in fake_sampling] == [(1000, 300, 0.9), (1000, 300, 0.97), (2000, 900, 0.97)]
    assert all(c[1] == ("unit",) for c in fake_sampling)  # the parametrisation is kept
    assert out.diagnostics.converged and out.diagnostics.attempts == 3


def test_slow_mixing_centres_levels_the_data_pin_down(fake_sampling):
    choices = {
        "unit": LevelChoice("unit", 0.3, 0.05, 40, False),
        "team": LevelChoice("team", 0.0, 0.05, 4, False),  # ratio 0: stays non-centred
    }
    block = _block(centred=())
    out = _run([_diag(rhat=1.3, ess=20), _diag()], block=block, choices=choices)
    assert fake_sampling[1][:2] == ("refit", ("unit",))
    assert "agent effects centred" in out.notes()[0]


def test_fits_that_still_fail_keep_the_best_attempt_and_say_so(fake_sampling):
    out = _run([_diag(div=50), _diag(div=40, rhat=1.2), _diag(div=5), _diag(div=9), _diag(div=7)])
    assert out.diagnostics.attempts == 5 and not out.diagnostics.converged
    assert out.diagnostics.divergences == 5  # the attempt with the fewest problems (then fewer divergences)
    assert "the best attempt is kept" in out.notes()[0]


def test_no_attempt_starts_that_would_not_finish_in_the_time_budget(fake_sampling):
    out = _run([_diag(rhat=1.011)], deadline=time.perf_counter() + 5.0)
    assert [c[0] for c in fake_sampling] == ["fit"] and out.retries == 0
    (note,) = out.notes()
    assert "time budget" in note and "sampling extended" in note


def test_settings_too_small_for_the_ess_bar_are_not_retried(fake_sampling):
    queue = [_diag(ess=150)]
    out = retry.fit_until_converged(
        [_block()], diagnose=lambda i, f: queue.pop(0), draws=100, tune=100, chains=2, seed=1
    )[0]
    assert [c[0] for c in fake_sampling] == ["fit"] and out.retries == 0
    assert "quick look" in out.notes()[0]


def test_a_few_divergences_at_small_steps_already_go_straight_to_a_careful_attempt(fake_sampling):
    queue = [_diag(div=2), _diag()]
    out = retry.fit_until_converged(
        [_block()], diagnose=lambda i, f: queue.pop(0), draws=1000, tune=300, chains=4, seed=1, target_accept=0.97
    )[0]
    assert fake_sampling[1] == ("refit", ("unit",), 2000, 900, 0.97)
    assert out.diagnostics.converged and "longer warm-up" in out.notes()[0]
