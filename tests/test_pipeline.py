"""The pipeline (qmsprint.api.run_pilot): end to end on simulated data, and its plumbing.

Plumbing tests replace the estimation step with constructed posteriors (known answers, no
sampling); the end-to-end tests use the session's real run (``small_run``) and one more real run
with a prior from an earlier run (slow).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make_small_spec
from test_decide import make_result

import qmsprint.experiments
from qmsprint.api import pilot, run_pilot
from qmsprint.decide import decide
from qmsprint.errors import BundleError, DataError
from qmsprint.store import compare_runs, load_run, save_run


@pytest.fixture
def fake_estimate(monkeypatch):
    """Replace estimation by known posteriors; records the prior it was given."""
    calls: list[dict] = []

    def fake(spec, cells, *, progress=None, prior=None):
        calls.append({"prior": prior, "n_cells": len(cells)})
        if progress:
            progress("fitting", 0.5)
        effects = {"csat": (0.3, 0.05), "repeat_contact": (-2.0, 0.3), "handle_time": (2.0, 3.0)}
        return [make_result(m.name, *effects[m.name]) for m in spec.metrics]

    monkeypatch.setattr(qmsprint.experiments, "estimate", fake)
    return calls


def _ids_in(folder: Path) -> set[str]:
    """Every token in every file of a folder that looks like a simulator id (A0001, C00000001, I00000001)."""
    found: set[str] = set()
    for p in folder.rglob("*"):
        if p.is_file():
            found |= set(re.findall(r"[ACI]\d{4,}", p.read_bytes().decode("latin-1")))
            if p.suffix == ".parquet":
                found |= set(re.findall(r"[ACI]\d{4,}", pd.read_parquet(p).astype(str).to_csv()))
    return found


# ------------------------------------------------------------------ plumbing (no sampling)


def test_pipeline_writes_a_bundle_with_progress(small_spec, tmp_path, fake_estimate):
    seen = []
    out = run_pilot(small_spec, runs_dir=tmp_path, progress=lambda m, f: seen.append((m, f)), diagnosis=False)
    assert out.converged
    assert out.recommendation.action == "scale_up"
    fractions = [f for _, f in seen]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert all(0.0 <= f <= 1.0 for f in fractions) and fractions == sorted(fractions)
    run = load_run(out.path)
    assert run.recommendation.action == "scale_up"
    assert run.provenance["rows_read"] > 0 and run.provenance["data_fingerprint"]
    assert run.provenance["prior_from"] is None
    assert {h.name for h in run.health} >= {"srm_units", "response_rate", "contamination"}
    assert run.design is not None and run.design["kind"] == "balance" and run.design["table"]
    # the run sizes the pilot from its baseline, as `qmsprint design` would
    sizing = run.design["assurance"]
    assert {"meta", "table", "summary", "recommended"} <= set(sizing)
    grid = pd.DataFrame(sizing["table"])
    assert grid["assurance"].between(0, 1).all() and (grid["metric"] == "overall").any()
    assert sizing["meta"]["name"] == small_spec.name and "Pilot design for" in sizing["summary"]
    assert "design" in run.provenance["seconds"]
    assert out.summary().startswith(out.recommendation.headline)
    assert "CSAT: +0.30 points" in out.summary()


def test_no_personal_data_in_a_pipeline_bundle(small_spec, small_truth, tmp_path, fake_estimate):
    out = run_pilot(small_spec, runs_dir=tmp_path, diagnosis=False)
    source = set(small_truth["agent_ids"]) | set(small_truth["customer_ids"])
    assert len(source) > 16
    assert not (_ids_in(out.path) & source)
    cells = load_run(out.path).cells
    assert "customer_id" not in cells.columns
    assert cells["agent_id"].str.fullmatch(r"agent-[0-9a-f]{12}").all()  # keyed pseudonyms
    assert cells["agent_id"].nunique() == len(small_truth["agent_ids"])


def test_diagnosis_failure_becomes_a_warning(small_spec, tmp_path, fake_estimate, monkeypatch):
    def broken(spec, frame, prog):
        raise DataError("too few responses for the diagnosis")

    monkeypatch.setattr(pilot, "_diagnosis", broken)
    out = run_pilot(small_spec, runs_dir=tmp_path)
    assert any("checklist diagnosis skipped: too few responses" in n for n in out.notes)
    run = load_run(out.path)
    assert run.diagnosis is None
    assert any(w.where == "diagnosis" for w in run.warnings)


def test_sizing_failure_becomes_a_warning(small_spec, tmp_path, fake_estimate, monkeypatch):
    def broken(spec, frame, prog):
        raise DataError("no baseline volume")

    monkeypatch.setattr(pilot, "_plan", broken)
    out = run_pilot(small_spec, runs_dir=tmp_path, diagnosis=False)
    assert any("pilot sizing (assurance) skipped: no baseline volume" in n for n in out.notes)
    run = load_run(out.path)
    assert "assurance" not in run.design and run.design["kind"] == "balance"
    assert any(w.where == "design" for w in run.warnings)


def test_diagnosis_is_stored_when_it_works(small_spec, tmp_path, fake_estimate, monkeypatch):
    seen = {}

    def fake_diag(spec, frame, prog):
        seen["periods"] = set(frame["period"])
        return {"summary": "Diagnosis of small-ab", "quadrant": [], "converged": True}

    monkeypatch.setattr(pilot, "_diagnosis", fake_diag)
    out = run_pilot(small_spec, runs_dir=tmp_path)
    assert load_run(out.path).diagnosis["summary"] == "Diagnosis of small-ab"
    assert seen["periods"] == {"baseline"}  # the diagnosis sees the baseline rows only


def test_bad_data_writes_nothing(small_spec, tmp_path, fake_estimate):
    spec = small_spec.model_copy(
        update={"data": small_spec.data.model_copy(update={"source": str(tmp_path / "missing.parquet")})}
    )
    with pytest.raises(DataError):
        run_pilot(spec, runs_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    assert fake_estimate == []


def test_prior_from_a_run_without_latent_effects_is_refused(small_spec, small_truth, tmp_path, fake_estimate):
    earlier = run_pilot(small_spec, runs_dir=tmp_path, diagnosis=False).path  # fake results: no latent effects
    spec = make_small_spec(small_spec.data.source, small_truth["periods"], model={"prior_from": str(earlier)})
    with pytest.raises(BundleError, match="has no latent effect for any metric"):
        run_pilot(spec, runs_dir=tmp_path, diagnosis=False)
    assert len(fake_estimate) == 1


def _weeks_before(spec, truth, weeks=8):
    """The spec of an earlier pilot: the same file, periods ``weeks`` weeks earlier (prior_from needs other data)."""
    import datetime as dt

    shift = dt.timedelta(weeks=weeks)
    periods = {
        k: {key: dt.date.fromisoformat(str(v[key])) - shift for key in ("start", "end")}
        for k, v in truth["periods"].items()
    }
    return make_small_spec(spec.data.source, periods)


def test_prior_from_with_latent_effects(small_spec, small_truth, tmp_path, fake_estimate):
    r = make_result("csat", 0.3, 0.05)
    rs = [r.__class__(**{**r.__dict__, "latent_effect": (0.5, 0.1)})]
    before = _weeks_before(small_spec, small_truth)
    earlier = save_run(before, results=rs, recommendation=decide(before, rs, []), runs_dir=tmp_path)
    spec = make_small_spec(small_spec.data.source, small_truth["periods"], model={"prior_from": str(earlier)})
    out = run_pilot(spec, runs_dir=tmp_path / "runs", diagnosis=False)
    assert fake_estimate[-1]["prior"] == {"csat": (0.5, 0.1)}
    prov = load_run(out.path).provenance["prior_from"]
    assert prov["run"] == earlier.name and prov["without_prior"] == ["repeat_contact", "handle_time"]
    assert any(f"prior from earlier run {earlier.name} for csat" in n for n in out.notes)


def test_missing_prior_run_fails_before_any_work(small_spec, small_truth, tmp_path, fake_estimate):
    spec = make_small_spec(small_spec.data.source, small_truth["periods"], model={"prior_from": str(tmp_path / "x")})
    with pytest.raises(BundleError, match="model.prior_from"):
        run_pilot(spec, runs_dir=tmp_path / "runs")
    assert fake_estimate == [] and not (tmp_path / "runs").exists()


# ------------------------------------------------------------------ end to end (real fits)


@pytest.mark.slow
def test_small_run_end_to_end(small_run, small_spec, small_truth):
    run = load_run(small_run)
    assert [r.metric for r in run.results] == ["csat", "repeat_contact", "handle_time"]
    for r in run.results:
        assert len(run.draws[r.metric]) == small_spec.sampler.draws * small_spec.sampler.chains
        assert r.latent_effect is not None
        assert r.headline.hdi_low <= r.headline.mean <= r.headline.hdi_high
        run.posterior(r.metric)  # the NetCDF loads
    converged = all(r.diagnostics.converged for r in run.results)
    assert (run.recommendation.action == "none") == (not converged)
    assert run.provenance["converged"] == converged
    assert not (_ids_in(small_run) & (set(small_truth["agent_ids"]) | set(small_truth["customer_ids"])))
    # the repeat-contact effect's interval covers the simulator's true effect
    true = small_truth["effects"]["repeat_contact"]["rate"]
    h = run.result("repeat_contact").headline
    assert h.hdi_low - 1.0 <= true <= h.hdi_high + 1.0


@pytest.mark.slow
def test_prior_from_previous_run_shifts_the_estimate(small_run, small_spec, small_truth, tmp_path):
    """A strong prior on a large CSAT effect from an earlier run pulls this run's CSAT effect up."""
    base = load_run(small_run)
    r0 = base.result("csat")
    mean0, sd0 = r0.latent_effect
    strong = (mean0 + 1.5, 0.05)  # far above this run's own estimate, and very sure
    rs = [r0.__class__(**{**r0.__dict__, "latent_effect": strong})]
    before = _weeks_before(small_spec, small_truth)
    earlier = save_run(before, results=rs, recommendation=decide(before, rs, []), runs_dir=tmp_path)
    spec = make_small_spec(small_spec.data.source, small_truth["periods"], model={"prior_from": str(earlier)})
    out = run_pilot(spec, runs_dir=tmp_path, diagnosis=False)
    run = load_run(out.path)
    mean1, _ = run.result("csat").latent_effect
    assert mean1 > mean0 + 0.5  # pulled towards the prior
    assert mean1 < strong[0] + 0.2
    assert run.result("csat").headline.mean > r0.headline.mean
    assert run.provenance["prior_from"]["run"] == earlier.name
    table = compare_runs([small_run, out.path])
    csat = table[table["metric"] == "csat"]
    assert list(csat["prior_from"]) == ["", earlier.name]
    assert np.diff(csat["effect"].to_numpy())[0] > 0
