"""A diagnosis not fooled by the pilot, and what each item costs in handle time (known answers).

The export is made independently of qmsprint's own item model: an A/B pilot where the new program
raises NPS and, on the side, makes agents drop a checklist item that has no effect on customers
(a pass-to-fail flip after the outcomes were drawn). Pooled, failing that item goes with higher
NPS; within an agent and adjusted for the program it does not. Items also carry a known time cost
(``SimItem.ht_effect``, multiplicative), whose seconds per call the diagnosis must recover.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from qmsprint.diagnosis import diagnose, prepare_diagnosis
from qmsprint.diagnosis.program import PILOT, PROGRAM, handling, program_columns, program_labels
from qmsprint.present.diagnosis import figures, summary_text
from qmsprint.simulate import SimConfig, SimItem, simulate
from qmsprint.spec import parse_spec

ITEMS = (
    SimItem("empathy", 0.7, 0.4),
    SimItem("name_used_3x", 0.82, 0.0),
    SimItem("read_disclosure", 0.7, 0.0, 0.12),  # time on every call, no customer outcome
    SimItem("upsell", 0.6, -0.3, 0.06),
)


def _spec(periods: dict, **over):
    raw = {
        "name": "pilot-export",
        "design": "ab",
        "arms": {"control": "checklist", "treatment": "behavior"},
        "data": {"source": "x.parquet"},
        "periods": {
            k: {"start": dt.date.fromisoformat(v["start"]), "end": dt.date.fromisoformat(v["end"])}
            for k, v in periods.items()
        },
        "metrics": [{"name": "nps"}],
        "sampler": {"chains": 2, "draws": 500, "tune": 500, "seed": 3},
    }
    raw.update(over)
    return parse_spec(raw)


@pytest.fixture(scope="module")
def export():
    sim = simulate(
        SimConfig(
            design="ab", n_agents=40, n_teams=4, interactions_per_agent=250, weeks=6, baseline_weeks=0,
            nps_effect=0.8, items=ITEMS, response_rate=(0.3, 0.3), nps_answer_share=1.0, seed=4,
        )
    )  # fmt: skip
    f = sim.frame.copy()
    rng = np.random.default_rng(9)
    flip = f["arm"].eq("behavior").to_numpy() & (rng.random(len(f)) < 0.6)  # the new program drops the item
    f.loc[flip, "item_name_used_3x"] = 0
    f["qa_score"] = 100 * f[[f"item_{i.name}" for i in ITEMS]].mean(axis=1)
    f = f.drop(columns=["csat", "fcr", "behavior_score"])  # NPS and handle time only: fewer fits
    # truth: seconds per call an item adds, E[ht | pass] - E[ht | fail] averaged over the rows
    ht = f["handle_time"].to_numpy(float)
    seconds = {}
    for it in ITEMS:
        passed = sim.frame[f"item_{it.name}"].to_numpy(float)  # the passes behind the handle times
        seconds[it.name] = float(np.mean(ht * np.exp(-it.ht_effect * passed)) * np.expm1(it.ht_effect))
    return f, sim.truth, seconds


def test_program_columns_mark_the_new_program_and_the_pilot_period():
    spec = _spec({"pilot": {"start": "2026-01-05", "end": "2026-02-01"}})
    f = pd.DataFrame({"arm": ["checklist", "behavior", "behavior", "checklist"],
                      "period": ["baseline", "baseline", "pilot", "pilot"]})  # fmt: skip
    cols = program_columns(f, spec)
    assert cols[PROGRAM].tolist() == [0, 0, 1, 0] and cols[PILOT].tolist() == [0, 0, 1, 1]
    assert program_labels(cols).tolist() == ["old/baseline", "old/baseline", "new/pilot", "old/pilot"]
    assert handling(cols, False) == "adjusted"
    one = program_columns(f.assign(arm="checklist"), spec)
    assert one.empty and handling(one, True) == "pre_pilot" and handling(one, False) == "single"
    assert program_columns(f.drop(columns=["arm"]), spec).empty


def test_a_spec_with_a_baseline_uses_only_pre_pilot_rows(export):
    f, truth, _ = export
    spec = _spec({"baseline": {"start": "2025-12-01", "end": "2025-12-31"}, "pilot": truth["periods"]["pilot"]})
    framed = f.assign(period=np.where(np.arange(len(f)) % 3 == 0, "baseline", "pilot"))
    baseline_rows = framed[framed["period"] == "baseline"]
    p = prepare_diagnosis(baseline_rows, spec)
    assert p.adjust == []  # one program in the baseline rows: nothing to adjust for
    p_all = prepare_diagnosis(f, _spec({"pilot": truth["periods"]["pilot"]}))
    assert p_all.adjust == [PROGRAM] and p_all.time is not None


@pytest.fixture(scope="module")
def fitted(export):
    f, truth, _ = export
    return diagnose(_spec({"pilot": truth["periods"]["pilot"]}), frame=f)


@pytest.mark.slow
def test_an_item_the_program_drops_is_not_labelled_hurts(export, fitted):
    f, _, _ = export
    # pooled, failing the item goes with higher NPS (the program's doing) ...
    answered = f[f["nps"].notna()]
    by_pass = answered.groupby("item_name_used_3x")["nps"].mean()
    assert by_pass.loc[0] > by_pass.loc[1] + 0.2
    d = fitted
    nps = d.items[d.items["outcome"] == "nps"].set_index("item")
    # ... within agents and adjusted for the program it is noise, and the interval says so
    assert nps.loc["name_used_3x", "label"] == "noise"
    assert nps.loc["name_used_3x", "hdi_low"] < 0 < nps.loc["name_used_3x", "hdi_high"]
    assert nps.loc["empathy", "label"] == "matters" and nps.loc["upsell", "label"] == "hurts"
    assert d.meta["program"] == "adjusted" and d.meta["program_columns"] == [PROGRAM]
    text = summary_text(d)
    assert "every model adjusts for the program" in text and "within-agent association" in text


@pytest.mark.slow
def test_the_time_cost_of_each_item_is_recovered(export, fitted):
    _, _, seconds = export
    t = fitted.items[fitted.items["outcome"] == "handle_time"].set_index("item")
    assert set(t["unit"]) == {"seconds"}
    for name, true in seconds.items():
        assert t.loc[name, "hdi_low"] <= true <= t.loc[name, "hdi_high"], (name, true, t.loc[name].to_dict())
    assert t.loc["read_disclosure", "label"] == "adds time" and t.loc["empathy", "label"] == "no time effect"
    text = summary_text(fitted)
    assert "read_disclosure adds" in text and "moves no customer outcome" in text
    assert "First to remove in a redesign: read_disclosure" in text
    assert "upsell adds" in text and "hurts NPS" in text
    assert "item_time" in figures(fitted)
