"""Experiment-file parsing: valid examples, defaults, and every bad case reported at once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from qmsprint import metrics
from qmsprint.errors import SpecError
from qmsprint.spec import load_spec, parse_spec, spec_to_dict

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "experiments").glob("*.toml"))


def minimal(**over):
    raw = {
        "name": "pilot",
        "design": "ab",
        "arms": {"control": "checklist", "treatment": "behavior"},
        "data": {"source": "data.parquet"},
        "metrics": [{"name": "csat"}],
    }
    raw.update(over)
    return raw


def problems_of(raw) -> dict[str, str]:
    with pytest.raises(SpecError) as info:
        parse_spec(raw)
    return {p.where: p.message for p in info.value.problems}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_shipped_examples_parse(path):
    spec = load_spec(path)
    assert spec.metrics
    assert spec.data.source is None or spec.resolve(spec.data.source).parent.exists()


def test_at_least_an_ab_and_a_did_example():
    designs = {load_spec(p).design for p in EXAMPLES}
    assert {"ab", "did"} <= designs


def test_defaults_filled_in():
    spec = parse_spec(minimal())
    assert spec.unit == "agent"
    assert spec.repeat_contacts.window_days == 7
    assert spec.csat_scale == (1, 5)
    assert spec.decision.prob_improve == 0.975
    assert spec.sampler.chains == 4 and spec.sampler.backend == "nutpie"
    assert spec.metric("csat").better == "higher"
    assert spec.metric("csat").threshold == metrics.get("csat").default_min_effect
    assert spec.arms.planned_split == 0.5


def test_metric_direction_and_threshold_override():
    spec = parse_spec(
        minimal(metrics=[{"name": "repeat_contact", "min_effect": 0.5}, {"name": "fcr", "direction": "lower"}])
    )
    assert spec.metric("repeat_contact").better == "lower"
    assert spec.metric("repeat_contact").threshold == 0.5
    assert spec.metric("fcr").better == "lower"


def test_paths_resolve_against_the_spec_file(tmp_path):
    f = tmp_path / "sub" / "p.toml"
    f.parent.mkdir()
    f.write_text(
        'name = "p"\ndesign = "ab"\n[arms]\ncontrol = "a"\ntreatment = "b"\n[data]\nsource = "../x.csv"\n'
        '[[metrics]]\nname = "fcr"\n'
    )
    spec = load_spec(f)
    assert spec.resolve(spec.data.source) == (tmp_path / "x.csv").resolve()
    assert spec.runs_dir == (tmp_path / "sub" / "runs").resolve()


def test_round_trip_to_dict():
    spec = parse_spec(minimal(segments=["channel"]))
    again = parse_spec(spec_to_dict(spec))
    assert again == spec.model_copy(update={"base_dir": again.base_dir})


def test_unknown_keys_reported_with_path():
    probs = problems_of(minimal(colour="blue", arms={"control": "a", "treatment": "b", "bogus": 1}))
    assert "unknown key" in probs["colour"]
    assert "unknown key" in probs["arms.bogus"]


def test_wrong_types_reported_with_path_and_value():
    probs = problems_of(minimal(metrics=[{"name": "csat", "min_effect": "big"}], sampler={"draws": "many"}))
    assert "valid number" in probs["metrics[0].min_effect"] and "'big'" in probs["metrics[0].min_effect"]
    assert "valid integer" in probs["sampler.draws"]


def test_metric_named_twice():
    probs = problems_of(minimal(metrics=[{"name": "csat"}, {"name": "fcr"}, {"name": "csat"}]))
    assert probs["metrics[2].name"] == "metric 'csat' is named twice (also metrics[0])"


def test_unknown_metric_lists_valid_ones():
    probs = problems_of(minimal(metrics=[{"name": "happiness"}]))
    assert "unknown metric 'happiness'" in probs["metrics[0].name"]
    for name in metrics.names():
        assert name in probs["metrics[0].name"]


def test_baseline_after_pilot():
    periods = {
        "baseline": {"start": dt.date(2026, 3, 1), "end": dt.date(2026, 4, 1)},
        "pilot": {"start": dt.date(2026, 2, 1), "end": dt.date(2026, 5, 1)},
    }
    probs = problems_of(minimal(design="did", periods=periods))
    assert "baseline must end before the pilot starts" in probs["periods.baseline"]


def test_period_end_before_start():
    probs = problems_of(minimal(periods={"pilot": {"start": dt.date(2026, 5, 1), "end": dt.date(2026, 4, 1)}}))
    assert "before start" in probs["periods.pilot.end"]


def test_did_needs_both_periods():
    probs = problems_of(minimal(design="did"))
    assert "needs a baseline period" in probs["periods.baseline"]
    assert "needs a pilot period" in probs["periods.pilot"]


def test_missing_arm():
    probs = problems_of(minimal(arms={"control": "checklist"}))
    assert probs["arms.treatment"] == "required key is missing"


def test_same_arm_twice():
    probs = problems_of(minimal(arms={"control": "x", "treatment": "x"}))
    assert "must differ" in probs["arms.treatment"]


def test_unknown_design():
    probs = problems_of(minimal(design="multivariate"))
    assert "'ab', 'did', 'waves' or 'prepost'" in probs["design"]


def test_data_source_and_columns():
    probs = problems_of(
        minimal(data={"source": "a.csv", "connection": "duckdb:///x.db", "columns": {"happiness": "H"}})
    )
    assert "exactly one of" in probs["data"]
    assert "unknown qmsprint column" in probs["data.columns.happiness"]
    probs = problems_of(minimal(data={"connection": "duckdb:///x.db"}))
    assert "needs the table" in probs["data.table"]
    spec = parse_spec(minimal(data={"source": "a.csv", "columns": {"csat": "Survey Score", "item_greeting": "Greet"}}))
    assert spec.data.columns["csat"] == "Survey Score"


def test_every_problem_reported_at_once():
    raw = minimal(
        design="xy",
        colour=1,
        arms={"control": "a", "treatment": "a"},
        metrics=[{"name": "csat"}, {"name": "csat", "role": "boss"}],
        csat_scale=[5, 1],
    )
    with pytest.raises(SpecError) as info:
        parse_spec(raw)
    wheres = [p.where for p in info.value.problems]
    assert {"design", "colour", "arms.treatment", "metrics[1].name", "metrics[1].role", "csat_scale"} <= set(wheres)
    text = str(info.value)
    assert text.startswith("invalid experiment file (")
    assert len(wheres) == len(set(wheres))


def test_file_level_errors(tmp_path):
    with pytest.raises(SpecError, match="not found"):
        load_spec(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(SpecError, match="not valid TOML"):
        load_spec(bad)
    latin = tmp_path / "latin.toml"
    latin.write_bytes('name = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(SpecError, match="not UTF-8"):
        load_spec(latin)
    wrong = tmp_path / "wrong.toml"
    wrong.write_text('name = "x"\ndesign = "ab"\n')
    with pytest.raises(SpecError) as info:
        load_spec(wrong)
    assert str(wrong) in str(info.value)
    assert {"arms", "data", "metrics"} <= {p.where for p in info.value.problems}
