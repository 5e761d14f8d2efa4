"""Health check: A/A on the baseline, fast and with the full models (qmsprint.health.aa)."""

from __future__ import annotations

import pytest
from _health_helpers import by_name, make_cells, make_spec, make_weekly, prepared_pilot

from qmsprint.health import check_aa, check_health


def test_aa_gives_no_effect_on_randomized_baseline_and_catches_a_broken_one():
    spec = make_spec()
    statuses = [check_aa(make_cells(seed=s), None, spec).status for s in range(20)]
    assert statuses.count("ok") >= 18
    broken = check_aa(make_cells(seed=1, shift_treated_baseline=0.6, agent_sd=0.1), None, spec)
    assert broken.status == "alert", broken.message
    assert broken.data["metrics"]["csat"]["low"] > 0


def test_aa_placebo_did_on_weekly_baseline():
    spec = make_spec(design="did", metrics=("csat",))
    cells = make_cells(seed=1)
    flat = check_aa(cells, make_weekly(seed=3), spec)
    early = check_aa(cells, make_weekly(step=0.15, seed=3), spec)
    assert flat.status == "ok", flat.message
    assert early.status == "alert", early.message
    assert early.data["metrics"]["csat"]["difference"] == pytest.approx(0.15, abs=0.04)
    assert early.data["metrics"]["csat"]["low"] > 0
    # a drifting gap shows too: second half minus first half of 0.08/week over 8 weeks = 4 x 0.08
    drift = check_aa(cells, make_weekly(trend=0.08, seed=3), spec)
    assert drift.status != "ok"
    assert drift.data["metrics"]["csat"]["difference"] == pytest.approx(0.32, abs=0.06)


@pytest.mark.slow
def test_full_model_aa_option(tmp_path):
    pytest.importorskip("qmsprint.experiments")
    spec, prepared = prepared_pilot(tmp_path)
    spec = spec.model_copy(
        update={
            "metrics": [spec.metrics[1]],
            "sampler": spec.sampler.model_copy(update={"draws": 300, "tune": 300, "chains": 2}),
        }
    )
    checks = by_name(check_health(spec, prepared, full_aa=True))
    aa, fast = checks["aa_model"], checks["aa"].data["metrics"]["fcr"]
    assert set(aa.data["metrics"]) == {"fcr"}
    # the model and the fast cluster-level comparison measure the same baseline difference
    assert aa.data["metrics"]["fcr"]["mean"] == pytest.approx(fast["difference"], abs=fast["se"])
    assert aa.status == checks["aa"].status == "ok", aa.message
