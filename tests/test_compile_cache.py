"""The disk cache of compiled models: hits sample the same draws; damaged or foreign entries are rebuilt."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from qmsprint.models import compile_cache as cc
from qmsprint.models import sampling

pytestmark = pytest.mark.skipif(not sampling.nutpie_available(), reason="nutpie is not installed")


def tiny_model(scale: float = 1.0, n_groups: int = 5, y_shift: int = 0):
    import pymc as pm

    rng = np.random.default_rng(0)
    g = np.arange(40) % n_groups
    y = rng.binomial(10, 0.4, 40) + y_shift
    with pm.Model(coords={"g": np.arange(n_groups)}) as m:
        b = pm.Normal("b", 0.0, scale)
        sd = pm.HalfNormal("sd", 1.0)
        u = pm.Normal("u", 0.0, sd, dims="g")
        pm.Deterministic("twice_b", 2 * b)
        pm.Binomial("y", n=10, logit_p=b + u[g], observed=np.clip(y, 0, 10))
    return m


def draws(compiled, names: tuple[str, ...] = ("b", "sd", "u", "twice_b")) -> np.ndarray:
    import nutpie

    idata = nutpie.sample(compiled, draws=30, tune=30, chains=1, seed=7, progress_bar=False)
    return np.concatenate([idata.posterior[v].to_numpy().ravel() for v in names])


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    """One real compile (a miss) into a fresh cache: (cache folder, compiled model, entry bytes, its draws)."""
    folder = tmp_path_factory.mktemp("cache")
    old = os.environ.get(cc.ENV_DIR)
    os.environ[cc.ENV_DIR] = str(folder)
    try:
        before = cc.stats.misses
        compiled = cc.compile_cached(tiny_model())
        assert cc.stats.misses == before + 1
    finally:
        if old is None:
            os.environ.pop(cc.ENV_DIR)
        else:
            os.environ[cc.ENV_DIR] = old
    (entry,) = (folder / "compiled").glob("*.bin")
    return folder, compiled, entry.read_bytes(), draws(compiled)


@pytest.fixture
def cache(first, tmp_path, monkeypatch):
    """A cache folder holding the first model's entry; compiling again is counted, not done."""
    _, compiled, raw, _ = first
    monkeypatch.setenv(cc.ENV_DIR, str(tmp_path))
    (tmp_path / "compiled").mkdir()
    path = tmp_path / "compiled" / f"{cc.model_key(_frozen(tiny_model()), True)}.bin"
    path.write_bytes(raw)
    calls: list[int] = []

    import nutpie

    def fake_compile(model, **kw):
        calls.append(1)
        return compiled

    monkeypatch.setattr(nutpie, "compile_pymc_model", fake_compile)
    return path, calls


def _frozen(model):
    from pymc.model.transform.optimization import freeze_dims_and_data

    return freeze_dims_and_data(model)


def test_a_hit_samples_exactly_the_draws_of_the_fresh_compile(first, monkeypatch):
    folder, _, _, fresh = first
    monkeypatch.setenv(cc.ENV_DIR, str(folder))
    hits = cc.stats.hits
    loaded = cc.compile_cached(tiny_model())
    assert cc.stats.hits == hits + 1
    np.testing.assert_array_equal(draws(loaded), fresh)
    assert list(loaded.coords["g"]) == list(range(5)) and loaded.n_dim == 7


def test_the_key_follows_structure_data_and_versions(monkeypatch):
    key = cc.model_key(_frozen(tiny_model()), True)
    assert key == cc.model_key(_frozen(tiny_model()), True)  # rebuilt from scratch: same key
    others = {
        cc.model_key(_frozen(tiny_model(scale=2.0)), True),  # another prior
        cc.model_key(_frozen(tiny_model(n_groups=4)), True),  # another shape
        cc.model_key(_frozen(tiny_model(y_shift=1)), True),  # other data
        cc.model_key(_frozen(tiny_model()), False),  # another compile option
    }
    assert key not in others and len(others) == 4
    monkeypatch.setattr(cc, "_versions", lambda: "pymc 99")
    assert cc.model_key(_frozen(tiny_model()), True) != key  # another library version


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw[:-10] + bytes(10),  # payload changed: checksum mismatch
        lambda raw: raw[: len(raw) // 2],  # truncated
        lambda raw: b"garbage",  # not an entry at all
        lambda raw: b"",
    ],
    ids=["flipped", "truncated", "garbage", "empty"],
)
def test_a_damaged_entry_is_rebuilt_never_used(cache, damage):
    path, calls = cache
    good = path.read_bytes()
    path.write_bytes(damage(good))
    rejected = cc.stats.rejected
    cc.compile_cached(tiny_model())
    assert calls == [1] and cc.stats.rejected == rejected + 1
    assert path.read_bytes()[: len(cc.MAGIC)] == cc.MAGIC
    assert cc._read(path, path.stem) is not None  # rewritten whole


def test_an_entry_of_another_model_is_not_used(cache):
    path, calls = cache
    other = path.with_name(f"{cc.model_key(_frozen(tiny_model(scale=3.0)), True)}.bin")
    path.rename(other)  # a whole, valid entry under another model's name
    rejected = cc.stats.rejected
    cc.compile_cached(tiny_model(scale=3.0))
    assert calls == [1] and cc.stats.rejected == rejected + 1


def test_a_hit_does_not_compile(cache):
    path, calls = cache
    cc.compile_cached(tiny_model())
    assert calls == []


def test_the_cache_can_be_switched_off_and_moved(cache, monkeypatch, tmp_path):
    _, calls = cache
    monkeypatch.setenv(cc.ENV_SWITCH, "off")
    assert cc.cache_dir() is None
    cc.compile_cached(tiny_model())
    assert calls == [1]
    monkeypatch.delenv(cc.ENV_SWITCH)
    monkeypatch.delenv(cc.ENV_DIR)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cc.cache_dir() == tmp_path / "xdg" / "qmsprint" / "compiled"


def test_the_least_recently_used_entries_go_beyond_the_size_limit(tmp_path, monkeypatch):
    for k in range(5):
        p = tmp_path / f"{k}.bin"
        p.write_bytes(bytes(100))
        os.utime(p, (1000 + k, 1000 + k))
    monkeypatch.setattr(cc, "MAX_BYTES", 250)
    cc._prune(tmp_path, tmp_path / "0.bin")
    assert sorted(p.name for p in tmp_path.glob("*.bin")) == ["0.bin", "4.bin"]


SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    sys.path.insert(0, {tests!r})
    from test_compile_cache import draws, tiny_model
    from qmsprint.models import compile_cache as cc
    t0 = time.perf_counter()
    compiled = cc.compile_cached(tiny_model())
    seconds = time.perf_counter() - t0
    c_backend = "setuptools" in sys.modules  # imported with PyTensor's C backend
    print(json.dumps({{"hits": cc.stats.hits, "seconds": seconds, "c": c_backend, "draws": draws(compiled).tolist()}}))
    """
)


@pytest.mark.slow
def test_a_second_process_loads_instead_of_compiling(tmp_path):
    env = {**os.environ, cc.ENV_DIR: str(tmp_path)}
    script = SCRIPT.format(tests=str(Path(__file__).parent))
    runs = []
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    assert [r["hits"] for r in runs] == [0, 1]
    assert runs[1]["draws"] == runs[0]["draws"]
    assert runs[1]["seconds"] < runs[0]["seconds"]
    assert runs[0]["c"] and not runs[1]["c"]  # a load needs no C backend (0.3 s of imports)


def test_the_initial_points_of_a_hit_are_pymcs():
    """Run by the Python linker, the seeded jittered initial points equal PyMC's own function's."""
    from pymc.initial_point import make_initial_point_fn

    model = _frozen(tiny_model())
    for overrides in (None, {"b": np.array(0.3), "sd": np.array(0.7)}):
        ours = cc._initial_point_fn(model, overrides)
        pymcs = make_initial_point_fn(
            model=model, overrides=overrides, default_strategy="support_point", jitter_rvs=set(model.free_RVs)
        )
        for seed in (0, 7, 12345):
            a, b = ours(seed), pymcs(seed)
            assert list(a) == list(b) == ["b", "sd_log__", "u"]
            for k in a:
                np.testing.assert_array_equal(a[k], b[k])
        assert ours(1)["b"] != ours(2)["b"]  # jittered by the seed


@pytest.mark.slow
def test_a_model_tied_to_process_memory_is_compiled_not_cached(tmp_path, monkeypatch):
    import pymc as pm

    monkeypatch.setenv(cc.ENV_DIR, str(tmp_path))
    big = np.random.default_rng(1).normal(size=(200_000,))  # 1.6 MB: numba refers to it by address
    with pm.Model() as m:
        b = pm.Normal("b")
        pm.Normal("y", b * big[:5], 1.0, observed=np.zeros(5))
        pm.Potential("big", -((b - big) ** 2).sum() * 1e-6)
    before = cc.stats.uncacheable
    compiled = cc.compile_cached(m)
    assert cc.stats.uncacheable == before + 1
    assert not list((tmp_path / "compiled").glob("*.bin")) if (tmp_path / "compiled").exists() else True
    assert np.isfinite(draws(compiled, names=("b",))).all()


def test_compiles_run_llvm_at_the_cheaper_level_unless_numba_opt_is_set(monkeypatch):
    from numba.core import config

    before = int(config.OPT)
    monkeypatch.delenv("NUMBA_OPT", raising=False)
    with cc._compile_opt():
        assert int(config.OPT) == cc.COMPILE_OPT
    assert int(config.OPT) == before
    monkeypatch.setenv("NUMBA_OPT", "3")
    with cc._compile_opt():
        assert int(config.OPT) == before


def data_model(n_rows: int, seed: int, n_groups: int = 5):
    """A model whose data sit in ``pm.Data`` containers (as qmsprint's metric blocks keep them)."""
    import pymc as pm

    rng = np.random.default_rng(seed)
    with pm.Model() as m:
        g = pm.Data("g", np.arange(n_rows) % n_groups)
        y = pm.Data("y", rng.binomial(10, 0.3 + 0.1 * seed, n_rows).astype("float64"))
        b = pm.Normal("b", 0.0, 1.0)
        sd = pm.HalfNormal("sd", 1.0)
        u = pm.Normal("u", 0.0, sd, shape=n_groups)
        pm.Potential("ll", pm.logp(pm.Binomial.dist(n=10, logit_p=b + u[g]), y).sum())
    return m


def test_a_model_compiled_with_data_as_inputs_is_keyed_by_structure_not_data(monkeypatch):
    base = cc.model_key(data_model(40, 1), False)
    assert cc.model_key(data_model(70, 2), False) == base  # other data, other length: same code
    assert cc.model_key(data_model(40, 1, n_groups=4), False) != base  # other parameter shapes
    assert cc.model_key(_frozen(data_model(40, 1)), True) != cc.model_key(_frozen(data_model(70, 2)), True)
    monkeypatch.setattr(cc, "_versions", lambda: "pymc 99")
    assert cc.model_key(data_model(40, 1), False) != base


@pytest.mark.slow
def test_an_entry_compiled_with_data_as_inputs_serves_other_data_exactly(tmp_path, monkeypatch):
    monkeypatch.setenv(cc.ENV_DIR, str(tmp_path))
    misses, hits = cc.stats.misses, cc.stats.hits
    cc.compile_cached(data_model(40, 1), freeze=False)
    loaded = cc.compile_cached(data_model(70, 2), freeze=False)  # another pilot of the same structure
    assert (cc.stats.misses, cc.stats.hits) == (misses + 1, hits + 1)
    monkeypatch.setenv(cc.ENV_SWITCH, "off")
    fresh = cc.compile_cached(data_model(70, 2), freeze=False)  # compiled for these data, no cache
    np.testing.assert_array_equal(draws(loaded, ("b", "sd", "u")), draws(fresh, ("b", "sd", "u")))
    first_data = draws(cc.compile_cached(data_model(40, 1), freeze=False), ("b",))
    assert abs(draws(loaded, ("b",)).mean() - first_data.mean()) > 0.1  # it sampled its own data
