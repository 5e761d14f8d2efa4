"""Run folders (qmsprint.store): round trip, atomic writes, integrity errors, no personal data, compare."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pytest
from test_decide import SPEC, make_result, make_spec

from qmsprint.data.pseudonymise import pseudonym
from qmsprint.decide import decide
from qmsprint.errors import BundleError, Problem
from qmsprint.results import HealthCheck
from qmsprint.spec import parse_spec
from qmsprint.store import (
    COMPARE_COLUMNS,
    FORMAT_VERSION,
    REQUIRED_FILES,
    compare_runs,
    list_runs,
    load_run,
    prior_from_run,
    runs_write,
    save_run,
    spec_to_toml,
)

KEY = b"store-test-key-0123456789abcdef-0123456789"
REAL_AGENTS = [f"A{i:03d}" for i in (7, 3, 11, 42, 5, 19)]
AGENTS = [pseudonym(a, KEY) for a in REAL_AGENTS]  # the data layer hands the store pseudonyms only
CUSTOMERS = [f"CUST-{i:06d}" for i in range(20)]
T0 = dt.datetime(2026, 6, 1, 9, 30, 0)


def make_idata(agents=AGENTS):
    rng = np.random.default_rng(0)
    idata = az.from_dict(
        posterior={"effect": rng.normal(0.2, 0.05, (2, 50)), "u_agent": rng.normal(0, 1, (2, 50, len(agents)))},
        coords={"agent": list(agents)},
        dims={"u_agent": ["agent"]},
        attrs={"nested": {"a": 1, "b": [1, 2]}, "flag": True},
    )
    idata.posterior.attrs["settings"] = {"draws": 50, "chains": [0, 1]}
    return idata


def make_cells(agents=AGENTS):
    rows = []
    for k, a in enumerate(agents):
        for period in ("baseline", "pilot"):
            rows.append(
                {
                    "agent_id": a,
                    "team": f"T{k % 2}",
                    "arm": "behavior" if k % 2 else "checklist",
                    "period": period,
                    "channel": "voice",
                    "n": 100 + k,
                    "csat_n": 20,
                    "customer_id": CUSTOMERS[k],  # must never reach the bundle
                }
            )
    return pd.DataFrame(rows)


def make_weekly():
    return pd.DataFrame(
        {
            "arm": ["checklist", "behavior"],
            "period": ["pilot"] * 2,
            "week": pd.to_datetime(["2026-03-02"] * 2),
            "n": [5, 6],
        }
    )


def make_outputs(csat=(0.3, 0.05), repeat=(-2.0, 0.3), latent=(0.4, 0.1)):
    rs = [
        make_result("csat", *csat, segments=[("channel", "voice", 0.2, 0.9), ("channel", "chat", 0.4, 0.99)]),
        make_result("repeat_contact", *repeat),
        make_result("handle_time", 2.0, 3.0),
    ]
    rs = [r.__class__(**{**r.__dict__, "latent_effect": latent if r.metric == "csat" else (-0.1, 0.05)}) for r in rs]
    rs[0] = rs[0].__class__(**{**rs[0].__dict__, "idata": make_idata()})
    health = [HealthCheck("srm_agents", "ok", "Agents split as planned.", {"p": 0.5})]
    return rs, health, decide(SPEC, rs, health)


def write(runs_dir, now=T0, spec=SPEC, **kw):
    rs, health, rec = make_outputs(**kw)
    return save_run(
        spec,
        results=rs,
        recommendation=rec,
        health=health,
        cells=make_cells(),
        weekly=make_weekly(),
        warnings=[Problem("csat", "12 rows out of scale dropped", rows=(3, 9), count=12, examples=("7",))],
        provenance={"data_fingerprint": "abc", "rows_read": 1000},
        diagnosis={"quadrant": [{"agent_id": AGENTS[3], "quadrant": "high QA, poor outcomes"}], "notes": []},
        runs_dir=runs_dir,
        now=now,
    )


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def run_path(tmp_path_factory):
    return write(tmp_path_factory.mktemp("runs"))


# ------------------------------------------------------------------ layout and round trip


def test_layout_and_manifest(run_path):
    assert run_path.name == "decide-test-20260601-093000"
    m = json.loads((run_path / "manifest.json").read_text())
    assert m["format"] == "qmsprint-run" and m["format_version"] == FORMAT_VERSION
    for name in REQUIRED_FILES + ("posterior/csat.nc", "diagnosis.json"):
        assert name in m["files"], name
        assert (run_path / name).is_file()
    assert "design.json" not in m["files"]
    assert m["files"] == {k: v for k, v in tree_digest(run_path).items() if k != "manifest.json"}


def test_round_trip_gives_identical_effects(run_path):
    rs, health, rec = make_outputs()
    run = load_run(run_path)
    assert [r.metric for r in run.results] == ["csat", "repeat_contact", "handle_time"]
    for a, b in zip(run.results, rs, strict=True):
        assert a.headline == b.headline
        assert a.effects == b.effects
        assert a.segments == b.segments
        assert a.diagnostics == b.diagnostics
        assert a.latent_effect == b.latent_effect
        np.testing.assert_array_equal(a.draws, b.draws)
        np.testing.assert_array_equal(run.draws[a.metric], b.draws)
    assert run.recommendation.to_dict() == json.loads(json.dumps(rec.to_dict()))
    assert run.health == health
    assert run.warnings == [Problem("csat", "12 rows out of scale dropped", rows=(3, 9), count=12, examples=("7",))]
    assert run.spec == SPEC.model_copy(update={"base_dir": run_path})
    assert run.provenance["data_fingerprint"] == "abc" and run.provenance["seed"] == SPEC.sampler.seed
    assert "numpy" in run.provenance["versions"]
    assert run.spec.sampler.target_accept is None and run.provenance["sampler"]["target_accept"] == 0.95  # as sampled
    eff = run.effects
    assert len(eff) == 3 + 2 and eff["headline"].sum() == 3
    assert eff.loc[eff["metric"] == "csat", "mean"].iloc[0] == pytest.approx(rs[0].headline.mean)
    assert set(run.diagnostics["metric"]) == {"csat", "repeat_contact", "handle_time"}
    assert run.diagnostics["converged"].all()
    assert run.weekly["n"].tolist() == [5, 6]
    assert run.cells["n"].sum() == make_cells()["n"].sum()
    assert run.design is None and run.diagnosis["quadrant"][0]["quadrant"] == "high QA, poor outcomes"


def test_posterior_round_trip_with_flat_attrs(run_path):
    post = load_run(run_path).posterior("csat")
    np.testing.assert_allclose(post.posterior["effect"].values, make_idata().posterior["effect"].values)
    attrs = post.posterior.attrs
    assert json.loads(attrs["settings"]) == {"draws": 50, "chains": [0, 1]}
    assert json.loads(post.attrs["nested"]) == {"a": 1, "b": [1, 2]} and post.attrs["flag"] == 1
    assert attrs["qmsprint_metric"] == "csat"
    with pytest.raises(BundleError, match="no posterior for 'nps'"):
        load_run(run_path).posterior("nps")


def test_spec_toml_is_the_file_as_given(tmp_path):
    src = tmp_path / "pilot.toml"
    text = (
        '# my pilot\nname = "from-file"\ndesign = "ab"\n[arms]\ncontrol = "checklist"\ntreatment = "behavior"\n'
        '[data]\nsource = "x.parquet"\n[[metrics]]\nname = "csat"\n'
    )
    src.write_text(text)
    from qmsprint.spec import load_spec

    spec = load_spec(src)
    rs, health, rec = make_outputs()
    path = save_run(spec, results=rs[:1], recommendation=rec, runs_dir=tmp_path / "runs", now=T0)
    assert (path / "spec.toml").read_text() == text
    assert load_run(path).provenance["spec_file"] == "pilot.toml"


def test_regenerated_toml_parses_back_to_the_same_spec():
    import tomllib

    spec = make_spec(decision={"prob_improve": 0.9}, segments=["channel"])
    back = parse_spec(tomllib.loads(spec_to_toml(spec)))
    assert back == spec


# ------------------------------------------------------------------ never overwrite, atomic


def test_refuses_to_overwrite_and_adds_a_suffix(tmp_path):
    first = write(tmp_path)
    before = tree_digest(first)
    second = write(tmp_path)
    third = write(tmp_path)
    assert second.name == first.name + "-2" and third.name == first.name + "-3"
    assert tree_digest(first) == before
    assert [p.name for p in list_runs(tmp_path)] == sorted([first.name, second.name, third.name], reverse=True)


def test_interrupted_write_leaves_nothing_and_keeps_earlier_runs(tmp_path, monkeypatch):
    earlier = write(tmp_path, now=T0 - dt.timedelta(days=1))
    before = tree_digest(earlier)
    real = runs_write._write_posterior

    def boom(*args, **kwargs):
        real(*args, **kwargs)  # half the files are written by now
        raise KeyboardInterrupt

    monkeypatch.setattr(runs_write, "_write_posterior", boom)
    with pytest.raises(KeyboardInterrupt):
        write(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [earlier.name]  # no new folder, no hidden temp folder
    assert tree_digest(earlier) == before

    def oserr(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runs_write, "_write_posterior", oserr)
    with pytest.raises(BundleError, match="No space left on device"):
        write(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [earlier.name]


# ------------------------------------------------------------------ damaged, foreign, newer


@pytest.fixture
def fresh_run(tmp_path, run_path):
    dst = tmp_path / run_path.name
    shutil.copytree(run_path, dst)
    return dst


def test_edited_file_is_reported(fresh_run):
    p = fresh_run / "effects.csv"
    p.write_text(p.read_text().replace("csat", "cs4t", 1))
    with pytest.raises(BundleError) as err:
        load_run(fresh_run)
    assert err.value.exit_code == 5
    assert "effects.csv: file was changed after the run was written (checksum mismatch)" in str(err.value)


def test_deleted_files_are_all_reported(fresh_run):
    (fresh_run / "results.json").unlink()
    (fresh_run / "posterior" / "csat.nc").unlink()
    with pytest.raises(BundleError) as err:
        load_run(fresh_run)
    text = str(err.value)
    assert "results.json: file is missing" in text and "posterior/csat.nc: file is missing" in text
    assert "2 problems" in text


def test_bad_manifest_json(fresh_run):
    (fresh_run / "manifest.json").write_text("{not json")
    with pytest.raises(BundleError, match="damaged: manifest.json is not valid JSON"):
        load_run(fresh_run)


def test_foreign_missing_and_newer_folders(tmp_path, fresh_run):
    foreign = tmp_path / "holiday-photos"
    foreign.mkdir()
    (foreign / "a.jpg").write_bytes(b"x")
    with pytest.raises(BundleError, match="not a qmsprint run folder"):
        load_run(foreign)
    other = tmp_path / "other"
    other.mkdir()
    (other / "manifest.json").write_text(json.dumps({"format": "something-else", "files": {}}))
    with pytest.raises(BundleError, match="format 'something-else', expected 'qmsprint-run'"):
        load_run(other)
    with pytest.raises(BundleError, match="run folder not found"):
        load_run(tmp_path / "nope")
    m = json.loads((fresh_run / "manifest.json").read_text())
    m["format_version"] = FORMAT_VERSION + 1
    (fresh_run / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match="written by a newer qmsprint.*upgrade qmsprint"):
        load_run(fresh_run)
    assert list_runs(tmp_path) == [fresh_run]  # foreign folders are not listed


# ------------------------------------------------------------------ personal data


def _all_text(path: Path) -> str:
    """Every file's bytes, plus decoded tables and NetCDF contents, as one text to search."""
    parts = []
    for p in sorted(path.rglob("*")):
        if not p.is_file():
            continue
        parts.append(p.read_bytes().decode("latin-1"))
        if p.suffix == ".parquet":
            parts.append(pd.read_parquet(p).astype(str).to_csv())
        elif p.suffix == ".nc":
            idata = az.from_netcdf(str(p))
            for g in idata.groups():
                ds = idata[g]
                parts.append(repr({k: v.values.tolist() for k, v in ds.coords.items()}))
                parts.append(repr(ds.attrs))
        elif p.suffix == ".npz":
            with np.load(p) as z:
                parts.append(" ".join(z.files))
    return "\n".join(parts)


def test_no_personal_data_in_the_bundle(run_path):
    text = _all_text(run_path)
    for c in CUSTOMERS:
        assert c not in text
    assert "customer_id" not in text
    for a in REAL_AGENTS:
        assert a not in text, a
    run = load_run(run_path)
    assert sorted(run.cells["agent_id"].unique()) == sorted(AGENTS)  # stored as given: never rewritten
    assert list(run.posterior("csat").posterior["agent"].values) == AGENTS
    assert run.diagnosis["quadrant"][0]["agent_id"] == AGENTS[3]


@pytest.mark.parametrize("where", ["cells", "posterior", "diagnosis"])
def test_agent_ids_that_are_not_pseudonyms_are_refused(tmp_path, where):
    rs, health, rec = make_outputs()
    cells, diagnosis = make_cells(), None
    if where == "cells":
        cells = make_cells(REAL_AGENTS)
    elif where == "posterior":
        rs[0] = rs[0].__class__(**{**rs[0].__dict__, "idata": make_idata(REAL_AGENTS)})
    else:
        diagnosis = {"quadrant": [{"agent_id": "A042"}]}
    with pytest.raises(BundleError, match="not pseudonyms") as err:
        save_run(SPEC, results=rs, recommendation=rec, cells=cells, diagnosis=diagnosis, runs_dir=tmp_path)
    assert "A0" not in str(err.value)  # the refusal never quotes the ids themselves
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_tenure_is_stored_in_bands_only(tmp_path):
    rs, health, rec = make_outputs()
    cells = make_cells().assign(tenure_n=10, tenure_sum=[37.0 * 10] * 6 + [3.0 * 10] * 6)
    run = load_run(save_run(SPEC, results=rs, recommendation=rec, cells=cells, runs_dir=tmp_path, now=T0))
    assert "tenure_sum" not in run.cells and "tenure_n" not in run.cells
    assert set(run.cells["tenure_band"]) == {"2-5 years", "under 6 months"}


def test_short_ids_and_labels_are_never_rewritten(tmp_path):
    """With agents called "1".."6" the old scrub turned CSAT level "1", arm "0"/"1" and team "1" into agent-00x."""
    import dataclasses

    spec = make_spec(arms={"control": "0", "treatment": "1"})
    agents = [pseudonym(str(i), KEY) for i in range(1, 7)]
    cells = make_cells(agents).assign(team=["1", "2"] * 6, arm=["0", "1"] * 6)
    rs, health, rec = make_outputs()
    rs[0] = dataclasses.replace(rs[0], idata=make_idata(agents), level_shares={"0": {"1": 0.1, "5": 0.9}})
    path = save_run(
        spec,
        results=rs,
        recommendation=rec,
        cells=cells,
        runs_dir=tmp_path,
        now=T0,
        warnings=[Problem("agent_id", "1 agent has few interactions", examples=(f"{agents[0]} (1)",))],
    )
    run = load_run(path)
    assert sorted(run.cells["team"].unique()) == ["1", "2"] and sorted(run.cells["arm"].unique()) == ["0", "1"]
    assert run.results[0].level_shares == {"0": {"1": 0.1, "5": 0.9}}
    assert run.warnings[0].examples == (f"{agents[0]} (1)",)
    assert run.spec.arms.control == "0" and run.spec.arms.treatment == "1"
    assert "agent-00" not in _all_text(path)


# ------------------------------------------------------------------ compare, priors, listing


def test_compare_two_runs(tmp_path):
    a = write(tmp_path, now=T0)
    b = write(tmp_path, now=T0 + dt.timedelta(days=31), csat=(0.02, 0.1))
    table = compare_runs([a, b])
    assert list(table.columns) == COMPARE_COLUMNS
    assert len(table) == 6
    csat = table[table["metric"] == "csat"].set_index("run")
    assert csat.loc[a.name, "verdict"] == "improved"
    assert csat.loc[b.name, "verdict"] == "inconclusive"
    assert csat.loc[a.name, "effect"] == pytest.approx(0.3, abs=1e-6)
    assert csat.loc[b.name, "effect"] == pytest.approx(0.02, abs=1e-6)
    assert csat.loc[a.name, "recommendation"] == "scale_up"  # codes: the store holds no wording
    worded = compare_runs([a, b], action_label=str.upper, verdict_label=lambda v: f"<{v}>")
    # b: CSAT not settled yet, so the call is extend (scale up needs every primary metric improved)
    assert set(worded["recommendation"]) == {"SCALE_UP", "EXTEND"} and "<improved>" in set(worded["verdict"])
    assert csat.loc[b.name, "date"] == "2026-07-02"
    with pytest.raises(BundleError, match="cannot compare"):
        compare_runs([a, tmp_path / "missing"])
    with pytest.raises(BundleError, match="at least one"):
        compare_runs([])


def test_prior_from_an_earlier_run(tmp_path, run_path):
    spec = make_spec(model={"prior_from": str(run_path)})
    prior, info = prior_from_run(spec)
    assert prior == {"csat": (0.4, 0.1), "repeat_contact": (-0.1, 0.05), "handle_time": (-0.1, 0.05)}
    assert info["run"] == run_path.name
    assert prior_from_run(SPEC) is None
    with pytest.raises(BundleError, match="model.prior_from: run folder not found"):
        prior_from_run(make_spec(model={"prior_from": str(tmp_path / "nope")}))


def test_list_runs_ignores_hidden_temp_folders(tmp_path):
    a = write(tmp_path)
    (tmp_path / f".{a.name}.x.tmp").mkdir()
    assert list_runs(tmp_path) == [a]
    assert list_runs(tmp_path / "none") == []
    os.chmod(a, 0o755)
