"""Setting up a pilot from a client export: suggested mapping, validation, and the experiment file."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _export_helpers import ARMS, SIM, messy_frame

from qmsprint import metrics
from qmsprint.data import prepare
from qmsprint.setup import (
    ExperimentChoices,
    MetricChoice,
    build_spec_dict,
    choices_from_suggestion,
    experiment_toml_for,
    read_export,
    remap,
    suggest_file,
    suggest_mapping,
    write_experiment_toml,
)
from qmsprint.simulate import SimConfig, simulate
from qmsprint.spec import load_spec, parse_spec, spec_to_dict

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = {
    "interaction_id": "Contact ID",
    "timestamp": "Date/Time",
    "customer_id": "Customer",
    "agent_id": "Agent",
    "team": "Team",
    "site": "Location",
    "channel": "Channel",
    "contact_reason": "Reason",
    "arm": "Program",
    "qa_score": "QA Score",
    "csat": "CSAT",
    "nps": "Likelihood to recommend",
    "fcr": "Resolved?",
    "handle_time": "AHT (s)",
}


@pytest.fixture(scope="module")
def sim():
    return simulate(SimConfig(**SIM))


@pytest.fixture(scope="module")
def export(sim, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("export") / "northwind_export.csv"
    messy_frame(sim.frame, queue=False).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def suggestion(export):
    return suggest_mapping(pd.read_csv(export, dtype=str, keep_default_na=False, na_values=[""]))


def test_every_client_column_is_mapped(suggestion):
    s = suggestion
    items = {k: v for k, v in s.columns.items() if k.startswith("item_")}
    assert {k: v for k, v in s.columns.items() if not k.startswith("item_")} == EXPECTED, s.summary()
    assert items == {"item_q1_greeting": "Q1 Greeting", "item_q2_empathy": "Q2 Empathy"}
    for canon in EXPECTED:
        m = s.mapping[canon]
        assert m.confidence >= 0.8 and m.reason, m
        assert s.candidates[canon][0].column == EXPECTED[canon]
    assert "day-first" in s.mapping["timestamp"].reason
    assert "4 - Satisfied" in s.mapping["csat"].reason
    assert s.unmapped == []


def test_dates_scale_arms_and_weekly_volume(suggestion, sim):
    s, f = suggestion, sim.frame
    assert s.dayfirst is True
    assert s.csat_scale == (1, 5)
    assert sorted(s.arm_values) == sorted(ARMS.values())
    assert s.arm_counts == f.arm.map(ARMS).value_counts().to_dict()
    assert (s.control, s.treatment) == ("Current QA", "Pilot QA")
    assert s.first_day == f.timestamp.min().date() and s.last_day == f.timestamp.max().date()
    assert int(s.weekly["n"].sum()) == len(f)
    assert set(s.weekly["arm"]) == set(ARMS.values())
    assert all(w.weekday() == 0 for w in s.weekly["week"])


def test_good_export_validates_and_previews_parsed_values(suggestion, sim):
    s, f = suggestion, sim.frame
    assert s.problems == [] and s.ok, [str(p) for p in s.problems]
    pv = s.preview
    assert pv is not None and len(pv) == 10
    assert list(pv["timestamp"]) == list(f.timestamp.head(10).dt.floor("min"))
    answered = f.csat.head(10).notna().to_numpy()
    assert list(pv["csat"][answered].astype(int)) == list(f.csat.head(10)[answered].astype(int))


def test_broken_column_is_reported_by_name(sim):
    bad = messy_frame(sim.frame, queue=False)
    bad.loc[[3, 17, 40], "CSAT"] = "Very satisfied"  # a label without its number
    bad.loc[[5, 6], "Program"] = "Pilot QA (wave 2)"  # a third program in a few rows
    s = suggest_mapping(bad)
    assert s.columns["csat"] == "CSAT" and s.columns["arm"] == "Program"
    by_column = s.problems_by_column()
    assert "CSAT" in by_column and "Program" in by_column, s.summary()
    csat = by_column["CSAT"][0]
    assert csat.where == "csat" and csat.count == 3 and "Very satisfied" in csat.examples
    assert csat.rows == (4, 18, 41)  # 1-based data rows
    arm = by_column["Program"][0]
    assert "Pilot QA (wave 2)" in arm.examples and arm.count == 2
    assert not s.ok


def test_a_column_fixed_by_hand_is_revalidated(sim):
    sample = messy_frame(sim.frame, queue=False)
    sample["Queue"] = sample["Reason"].str.upper()
    s = suggest_mapping(sample)
    assert s.columns["contact_reason"] == "Reason" and s.unmapped == ["Queue"]
    fixed = remap(sample, s, {**s.columns, "contact_reason": "Queue"})
    assert fixed.columns["contact_reason"] == "Queue" and fixed.unmapped == ["Reason"]
    assert fixed.mapping["contact_reason"].reason.startswith("chosen by hand")
    assert fixed.mapping["csat"] == s.mapping["csat"]  # untouched columns keep their suggestion
    assert fixed.problems == [] and fixed.dayfirst and fixed.csat_scale == (1, 5)
    assert set(fixed.preview["contact_reason"]) <= set(sim.frame.contact_reason.str.upper())

    wrong = remap(
        sample, s, {**s.columns, "csat": "Channel"}, dayfirst=False, control="Pilot QA", treatment="Current QA"
    )
    by_column = wrong.problems_by_column()
    assert by_column["Channel"][0].where == "csat" and "Date/Time" in by_column  # days above 12 read as months
    assert any("'Channel' does not look like csat" in note for note in wrong.notes)
    assert (wrong.control, wrong.treatment) == ("Pilot QA", "Current QA")
    with pytest.raises(ValueError, match="Nope"):
        remap(sample, s, {"csat": "Nope"})


def test_typed_parquet_with_canonical_names(sim, tmp_path):
    path = tmp_path / "interactions.parquet"
    sim.frame.to_parquet(path)
    s = suggest_file(path)
    assert s.columns == {c: c for c in sim.frame.columns}, s.summary()
    assert s.problems == [] and s.csat_scale == (1, 5) and not s.dayfirst
    assert s.delimiter is None and s.encoding == "utf-8"


def test_init_file_validates_on_the_export(export, tmp_path, sim):
    out = tmp_path / "experiments" / "northwind.toml"
    text, s = experiment_toml_for(export, out)
    assert s.problems == [], s.summary()
    out.parent.mkdir()
    out.write_text(text, encoding="utf-8")
    spec = load_spec(out)
    assert spec.data.dayfirst and spec.csat_scale == (1, 5)
    assert spec.resolve(spec.data.source) == export.resolve()
    assert {k: v for k, v in spec.data.columns.items() if not k.startswith("item_")} == EXPECTED
    assert (spec.arms.control, spec.arms.treatment) == ("Current QA", "Pilot QA")
    assert [(m.name, m.role) for m in spec.metrics] == [
        ("csat", "primary"), ("repeat_contact", "primary"), ("nps", "secondary"), ("fcr", "secondary"),
        ("handle_time", "guardrail"),
    ]  # fmt: skip
    for m in spec.metrics:
        assert m.min_effect == metrics.get(m.name).default_min_effect
    assert spec.segments == ["channel", "contact_reason"]
    prepared = prepare(spec)
    assert prepared.rows_read == len(sim.frame) and prepared.rows_used == len(sim.frame)
    assert set(prepared.items) == {"item_q1_greeting", "item_q2_empathy"}


def test_messy_choices_with_periods_round_trip(suggestion, export, sim, tmp_path):
    per = sim.truth["periods"]
    span = {k: (dt.date.fromisoformat(str(v["start"])), dt.date.fromisoformat(str(v["end"]))) for k, v in per.items()}
    choices = choices_from_suggestion(
        suggestion,
        source=export,
        toml_dir=tmp_path,
        name="northwind-pilot",
        client="Northwind Telecom",
        baseline=span["baseline"],
        pilot=span["pilot"],
        metrics=[MetricChoice("csat", "primary", 0.2), MetricChoice("handle_time", "guardrail")],
        cost_per_contact=6.5,
        contacts_per_month=120000,
    )
    text = write_experiment_toml(choices)
    raw = tomllib.loads(text)
    assert raw == build_spec_dict(choices)
    assert raw["metrics"][1]["min_effect"] == metrics.get("handle_time").default_min_effect
    path = tmp_path / "pilot.toml"
    path.write_text(text, encoding="utf-8")
    spec = load_spec(path)
    assert spec_to_dict(spec) == spec_to_dict(parse_spec(build_spec_dict(choices), base_dir=tmp_path))
    prepared = prepare(spec)
    assert set(prepared.cells["period"]) == {"baseline", "pilot"}
    assert prepared.rows_used == len(sim.frame)


def demo_choices() -> ExperimentChoices:
    return ExperimentChoices(
        name="demo-ab",
        description="Behavior-based QA vs the current checklist, agents randomized within teams",
        client="Northwind Telecom",
        source="../data/sample_ab.parquet",
        control="checklist",
        treatment="behavior",
        metrics=[
            MetricChoice("csat", "primary", 0.1),
            MetricChoice("repeat_contact", "primary", 1.0),
            MetricChoice("fcr", "secondary", 2.0),
            MetricChoice("nps", "secondary", 5.0),
            MetricChoice("handle_time", "guardrail", 20.0),
        ],
        baseline=(dt.date(2026, 1, 5), dt.date(2026, 2, 28)),
        pilot=(dt.date(2026, 3, 2), dt.date(2026, 5, 24)),
        cost_per_contact=6.5,
        contacts_per_month=120000,
        cost_per_agent_minute=0.6,
        program_cost_per_month=6000,
        runs_dir="../runs",
    )


def structure(text: str) -> list[str]:
    """Section headers and keys in file order (comments and values left out)."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            out.append(line.split("#")[0].strip())
        elif line and not line.startswith("#"):
            out.append(line.split("=")[0].strip())
    return out


def comments(text: str) -> list[str]:
    return [re.sub(r"\s+", " ", line.split("#", 1)[1]) for line in text.splitlines() if "#" in line]


def test_demo_choices_reproduce_the_demo_file():
    demo = ROOT / "experiments" / "demo_ab.toml"
    text = write_experiment_toml(demo_choices())
    assert spec_to_dict(parse_spec(tomllib.loads(text), base_dir=demo.parent)) == spec_to_dict(load_spec(demo))
    demo_text = demo.read_text(encoding="utf-8")
    assert structure(text) == structure(demo_text)
    body = [c for c in comments(demo_text)[2:] if "run folders go" not in c]  # beyond the demo's own header
    assert set(body) <= set(comments(text))


def test_scales_dates_and_names_from_values():
    n = 60
    rng = np.random.default_rng(1)
    days = pd.date_range("2026-02-02", periods=n, freq="4h")  # days 1-12 only: day/month cannot be told
    frame = pd.DataFrame(
        {
            "Call ID": [f"X{i:05d}" for i in range(n)],
            "Date": days.strftime("%m/%d/%Y %H:%M"),
            "Agent Name": rng.choice(["Ann", "Bo", "Cy", "Di"], n),
            "AgentID": rng.choice(["E1", "E2", "E3", "E4"], n),
            "Survey score": rng.integers(1, 8, n).astype(str),  # 1-7
            "Rating": rng.integers(1, 11, n),  # 1-10
            "LTR": rng.integers(0, 11, n),
            "Variant": rng.choice(["A", "B"], n),
            "Comments": rng.choice(["great", "slow", "fine"], n),
        }
    )
    s = suggest_mapping(frame, check=False)
    assert s.columns["interaction_id"] == "Call ID" and s.columns["timestamp"] == "Date"
    assert s.columns["agent_id"] == "AgentID"
    assert s.columns["csat"] == "Survey score" and s.csat_scale == (1, 7)
    assert s.columns["nps"] == "LTR" and s.columns["arm"] == "Variant"
    assert (s.control, s.treatment) == ("A", "B")
    assert s.dayfirst is False and any("day or month" in note for note in s.notes)
    assert s.problems == [] and s.preview is None  # check=False: no validation run
    alone = suggest_mapping(frame[["Rating"]], check=False)
    assert alone.columns == {"csat": "Rating"} and alone.csat_scale == (1, 10)


def test_values_overrule_names():
    frame = pd.DataFrame(
        {
            "CSAT": ["good", "bad", "ok", "good"] * 5,  # no numbers: not a CSAT answer
            "Date": ["soon", "later", "n/a", "x"] * 5,
            "Program": [f"P{i}" for i in range(20)],  # 20 values: not two arms
            "Handle time (min)": ["5.5", "3.0", "12.2", "7.1"] * 5,
        }
    )
    s = suggest_mapping(frame, check=False)
    assert not {"csat", "timestamp", "arm"} & set(s.columns)
    assert s.columns == {"handle_time": "Handle time (min)"}
    assert s.mapping["handle_time"].confidence < 0.8
    assert any("minutes" in note for note in s.notes)


def test_semicolon_latin1_export(sim, tmp_path):
    frame = messy_frame(sim.frame, queue=False)
    frame["Team"] = frame["Team"].map({"T00": "Équipe Nord", "T01": "Équipe Sud"})
    path = tmp_path / "export.csv"
    frame.to_csv(path, sep=";", index=False, encoding="latin-1")
    ex = read_export(path)
    assert ex.delimiter == ";" and ex.encoding == "latin-1" and len(ex.frame) == len(frame)
    s = suggest_file(path)
    assert s.problems == [], s.summary()
    assert s.columns["team"] == "Team" and s.delimiter == ";"
    raw = build_spec_dict(choices_from_suggestion(s))
    assert raw["data"]["delimiter"] == ";" and raw["data"]["encoding"] == "latin-1"


def test_an_export_without_outcomes_says_what_to_map():
    s = suggest_mapping(pd.DataFrame({"Agent": ["a", "b"] * 3, "Program": ["x", "y"] * 3}))
    assert s.columns == {"agent_id": "Agent", "arm": "Program"}
    assert [p.where for p in s.problems] == ["metrics", "interaction_id", "timestamp"]
    assert "csat" in s.problems[0].message
