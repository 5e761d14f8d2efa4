"""The one sampling API: waiting reports that sampling still runs; block fits compile once per shape."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest

from qmsprint.models import blocks, get_family, sampling


class _FakeSampler:
    """Finishes ``after`` seconds from creation; ``wait`` returns a marker."""

    def __init__(self, after: float) -> None:
        self.done_at = time.perf_counter() + after

    @property
    def is_finished(self) -> bool:
        if time.perf_counter() < self.done_at:
            raise TimeoutError("Timeout while waiting for sampler to finish")  # as nutpie 0.16 does
        return True

    def wait(self) -> str:
        return "trace"


def test_wait_reports_heartbeats_while_sampling(monkeypatch):
    monkeypatch.setattr(sampling, "HEARTBEAT_SECONDS", 0.3)
    seen: list[tuple[str, float]] = []
    out = sampling._wait(_FakeSampler(1.2), "csat", lambda m, f: seen.append((m, f)), 0.4)
    assert out == "trace"
    assert 2 <= len(seen) <= 5, seen
    assert all(m.startswith("still sampling csat (") and f == 0.4 for m, f in seen)


def test_wait_without_progress_just_waits():
    assert sampling._wait(_FakeSampler(0.0), "csat", None, 0.0) == "trace"


def test_wait_on_a_real_nutpie_sampler():
    import pymc as pm

    if not sampling.nutpie_available():
        pytest.skip("nutpie is not installed")
    with pm.Model() as model:
        pm.Normal("x", 0.0, 1.0, shape=2)
    seen: list[str] = []
    idata, used = sampling.sample_model(
        model, draws=60, tune=60, chains=2, seed=1, progress=lambda m, f: seen.append(m), label="x"
    )
    assert used == "nutpie"
    assert idata.posterior["x"].shape == (2, 60, 2)


def _tiny_block(rate: float) -> blocks.ModelBlock:
    """FCR of two control and two treated agents (no agent effects): log-odds effect log(rate/(1-rate) / (3/7))."""
    from qmsprint.models import CellDesign, resolve_priors

    n = np.full(4, 400)
    design = CellDesign(
        kind="ab",
        unit=np.arange(4),
        post=np.ones(4),
        active=np.array([0.0, 0.0, 1.0, 1.0]),
        X=np.zeros((4, 0)),
        seg=np.zeros((4, 0), dtype=int),
        unit_group=np.array([0.0, 0.0, 1.0, 1.0]),
        unit_team=np.zeros(4, dtype=int),
        unit_effects=False,
    )
    y = np.round(n * np.array([0.3, 0.3, rate, rate])).astype(int)
    return blocks.ModelBlock("fcr", "binomial", design, {"y": y, "n": n}, resolve_priors("binomial", "fcr", {}))


def test_more_chains_of_the_same_model_are_pooled_after_the_first_ones():
    from qmsprint.models.sampling import diagnostics_of

    if not sampling.nutpie_available():
        pytest.skip("nutpie is not installed")
    block = _tiny_block(0.5)
    (first,) = blocks.fit(block, draws=150, tune=150, chains=2, seed=1)
    more = blocks.refit(first, block, draws=150, tune=150, chains=2, seed=2)
    pooled = blocks.with_more_chains(first, more)
    post = pooled.idata.posterior
    assert post.sizes["chain"] == 4 and list(post["chain"].values) == [0, 1, 2, 3]
    np.testing.assert_array_equal(post["fcr_effect"].values[:2], first.idata.posterior["fcr_effect"].values)
    np.testing.assert_array_equal(post["fcr_effect"].values[2:], more.idata.posterior["fcr_effect"].values)
    assert not np.array_equal(post["fcr_effect"].values[0], post["fcr_effect"].values[2])  # another seed
    assert pooled.idata.sample_stats.sizes["chain"] == 4 and pooled.seconds == more.seconds
    d = diagnostics_of(pooled.idata, ["fcr_effect"], sampler="nutpie", seconds=1.0)
    assert (d.chains, d.draws) == (4, 150)
    np.testing.assert_allclose(float(post["fcr_effect"].mean()), 0.847, atol=0.12)  # log(1 / (3/7))
    shorter = blocks.refit(first, block, draws=100, tune=150, chains=2, seed=3)
    with pytest.raises(ValueError, match="150 and 100 draws"):
        blocks.with_more_chains(first, shorter)
    wider = {k: 2 * v for k, v in block.priors.items()}
    for other in (replace(block, name="csat"), replace(block, priors=wider)):
        with pytest.raises(ValueError, match="different models"):
            blocks.with_more_chains(first, replace(more, block=other))


def test_one_off_fits_are_frozen_and_a_returning_shape_is_reused_with_new_data(monkeypatch):
    """The first fits of a shape bake their data in; from REUSE_AFTER on, the data are swapped."""
    if not sampling.nutpie_available():
        pytest.skip("nutpie is not installed")
    calls: list[bool] = []
    real = sampling.compile_nutpie

    def spy(model, initial_points=None, *, freeze=True):
        calls.append(freeze)
        return real(model, initial_points, freeze=freeze)

    monkeypatch.setattr(blocks, "compile_nutpie", spy)
    blocks.clear_cache()

    def fits(rates: tuple[float, ...]) -> tuple[list[float], list[bool]]:
        means, reused = [], []
        for rate in rates:
            (f,) = blocks.fit(_tiny_block(rate), draws=200, tune=200, chains=2, seed=1)
            means.append(float(f.idata.posterior["fcr_effect"].mean()))
            reused.append(f.reused)
        blocks.clear_cache()
        return means, reused

    means, reused = fits((0.3, 0.5, 0.7, 0.3))
    assert calls == [True] * blocks.REUSE_AFTER + [False]
    assert reused == [False] * (blocks.REUSE_AFTER + 1) + [True]
    # each fit saw its own data: log-odds effect 0, log(0.5/0.5 / (0.3/0.7)) = 0.85, 1.69, 0
    np.testing.assert_allclose(means, [0.0, 0.847, 1.695, 0.0], atol=0.12)

    # many pilots of one structure: compiled for reuse from the first fit, then only swapped
    calls.clear()
    with blocks.many_pilots():
        means, reused = fits((0.5, 0.7, 0.3))
    assert calls == [False] and reused == [False, True, True]
    np.testing.assert_allclose(means, [0.847, 1.695, 0.0], atol=0.12)
    assert blocks.REUSE_AFTER == 2  # restored on leaving


def test_families_by_name_and_unknown_names_list_the_valid_ones():
    assert get_family("ordinal").name == "ordinal" and not get_family("ordinal").intercept
    assert get_family("binomial").keys == ("rate",) and get_family("continuous").keys == ("mean",)
    with pytest.raises(KeyError, match="expected one of ordinal, binomial, gamma, continuous"):
        get_family("poisson")


def _idata(effect: np.ndarray, sd: np.ndarray):
    import arviz as az

    return az.from_dict(
        posterior={"m_effect": effect, "m_sd_team": sd},
        sample_stats={"diverging": np.zeros(effect.shape, dtype=bool)},
    )


def test_variance_components_have_looser_bars_than_the_effects():
    from qmsprint.models.sampling import diagnostics_of

    rng = np.random.default_rng(0)
    mixed = rng.normal(size=(4, 1000))
    # an AR(1) chain with strong autocorrelation: well mixed across chains but about 250 effective draws
    slow = np.zeros((4, 1000))
    for t in range(1, 1000):
        slow[:, t] = 0.94 * slow[:, t - 1] + rng.normal(size=4) * np.sqrt(1 - 0.94**2)
    d = diagnostics_of(_idata(mixed, slow), ["m_effect"], sampler="nutpie", seconds=1.0, spread=["m_sd_team"])
    assert 100 < d.spread_ess_min < 400 and d.ess_bulk_min > 2000
    assert d.converged, d.problems  # ESS under 400 on a variance component alone is not a miss
    # the same slow chain as a reported effect misses the strict bar
    strict = diagnostics_of(_idata(slow, mixed), ["m_effect"], sampler="nutpie", seconds=1.0, spread=["m_sd_team"])
    assert not strict.converged and any("ESS" in p for p in strict.problems)
    # a variance component whose chains sit in different places has not converged
    stuck = mixed + np.array([0.0, 0.0, 0.0, 3.0])[:, None]
    bad = diagnostics_of(_idata(mixed, stuck), ["m_effect"], sampler="nutpie", seconds=1.0, spread=["m_sd_team"])
    assert not bad.converged and any("variance components R-hat" in p for p in bad.problems)


def test_blocks_sample_one_at_a_time_and_each_fit_times_only_itself(monkeypatch):
    """The next block compiles while one samples, but starts sampling only when that one is done."""
    import types

    events: list[str] = []
    compile_s = 0.2
    clock = [0.0]  # blocks' clock: a compile takes 0.2 s, a sampling 0.3 s
    monkeypatch.setattr(blocks, "time", types.SimpleNamespace(perf_counter=lambda: clock[0]))

    def compiled(block, backend):  # noqa: ANN001, ANN202
        events.append(f"compile {block}")
        clock[0] += compile_s
        return sampling.CompiledModel(None, object(), {}, compile_s), False

    class Run:
        def __init__(self, name: str) -> None:
            self.name, self.sampler = name, "nutpie"

    def start(compiled_model, **kw):  # noqa: ANN001, ANN003, ANN202
        events.append(f"start {kw['seed']}")
        return Run(str(kw["seed"]))

    def finish(started, label, progress, fraction):  # noqa: ANN001, ANN202
        clock[0] += 0.3  # this block's sampling
        events.append(f"finish {started.name}")
        return "trace", "nutpie"

    monkeypatch.setattr(blocks, "_compiled_block", compiled)
    monkeypatch.setattr(blocks, "start_sampling", start)
    monkeypatch.setattr(blocks, "finish_sampling", finish)
    monkeypatch.setattr(blocks, "_rename", lambda idata, prefix, name: idata)

    class B:
        def __init__(self, name: str) -> None:
            self.name, self.prefix = name, name

        def __str__(self) -> str:
            return self.name

    fits = blocks._fit_all([B("a"), B("b"), B("c")], 10, 10, 2, 0, 0.9, "nutpie", None)
    assert events == [
        "compile a", "start 0",
        "compile b", "finish 0", "start 1",  # b compiled while a sampled; b samples after a is done
        "compile c", "finish 1", "start 2",
        "finish 2",
    ]  # fmt: skip
    # a fit's seconds: its compile (0.2 s) and its sampling (0.3 s) up to when it was collected, which is
    # after the next block's compile (0.2 s); not the wall time since the first compile began
    assert [f.seconds for f in fits] == pytest.approx([0.7, 0.7, 0.5])
    assert [f.compile_seconds for f in fits] == [compile_s] * 3


def test_diagnostics_use_arviz_numpy_path_with_the_same_numbers_and_leave_its_setting(monkeypatch):
    """No per-process numba compile for R-hat and ESS; the values are ArviZ's own; the user's setting is restored."""
    import arviz as az
    from arviz.utils import Numba

    from qmsprint.models.sampling import diagnostics_of

    rng = np.random.default_rng(1)
    effect = rng.normal(size=(4, 500)) + np.array([0.0, 0.0, 0.5, 0.0])[:, None]
    idata = _idata(effect, np.abs(rng.normal(size=(4, 500))))
    idata.sample_stats["energy"] = (("chain", "draw"), rng.normal(size=(4, 500)).cumsum(axis=1))
    seen: list[bool] = []
    rhat, bfmi = az.rhat, az.bfmi
    monkeypatch.setattr(az, "rhat", lambda *a, **k: (seen.append(Numba.numba_flag), rhat(*a, **k))[1])
    monkeypatch.setattr(az, "bfmi", lambda *a, **k: (seen.append(Numba.numba_flag), bfmi(*a, **k))[1])
    for flag in (True, False):
        monkeypatch.setattr(Numba, "numba_flag", flag)
        d = diagnostics_of(idata, ["m_effect"], sampler="nutpie", seconds=1.0)
        assert Numba.numba_flag is flag
    assert seen == [False, False, False, False]  # R-hat and E-BFMI, once with each setting
    monkeypatch.setattr(Numba, "numba_flag", True)  # the reference: ArviZ's numba path
    assert d.bfmi_min == pytest.approx(float(np.min(bfmi(idata))), rel=1e-9) and d.bfmi_min < 0.3
    ds = idata.posterior[["m_effect"]]
    assert d.rhat_max == pytest.approx(float(rhat(ds)["m_effect"]), rel=1e-9)
    assert d.ess_bulk_min == pytest.approx(float(az.ess(ds, method="bulk")["m_effect"]), rel=1e-9)
    assert d.ess_tail_min == pytest.approx(float(az.ess(ds, method="tail")["m_effect"]), rel=1e-9)
    assert d.rhat_max > 1.01  # one chain shifted: a value the check can get wrong
