"""Roll-out designs without sampling: experiment-file sections, simulated wave and before/after pilots, their
weekly cells (switch table or arm column), the time terms of a staggered roll-out, and their health checks."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from qmsprint.data import prepare
from qmsprint.errors import SpecError
from qmsprint.experiments.waves import Waves
from qmsprint.health import check_health
from qmsprint.health.rollout import pre_trends
from qmsprint.simulate import SimConfig, simulate
from qmsprint.spec import parse_spec, spec_to_dict
from qmsprint.store import write_simulation

WAVES = dict(
    design="waves",
    n_agents=24,
    n_teams=6,
    interactions_per_agent=60,
    weeks=8,
    baseline_weeks=3,
    wave_weeks=(0, 3),
    effect_ramp_weeks=4,
    fcr_effect=0.6,
    treated_share=0.67,
    include_nps=False,
    seed=4,
)


def _periods(truth):
    return {k: {"start": dt.date.fromisoformat(v["start"]), "end": dt.date.fromisoformat(v["end"])}
            for k, v in truth["periods"].items() if v}  # fmt: skip


def _spec(design, path, truth, **extra):
    raw = {
        "name": f"t-{design}",
        "design": design,
        "unit": "team",
        "arms": {"control": "checklist", "treatment": "behavior"},
        "data": {"source": str(path)},
        "periods": _periods(truth),
        "metrics": [{"name": "fcr", "min_effect": 2.0}],
        **extra,
    }
    return parse_spec(raw, base_dir=path.parent)


# ------------------------------------------------------------------------------ experiment file


def test_roll_out_sections_are_checked():
    base = {
        "name": "x",
        "arms": {"control": "a", "treatment": "b"},
        "data": {"source": "x.csv"},
        "metrics": [{"name": "fcr"}],
    }
    with pytest.raises(SpecError) as err:
        parse_spec({**base, "design": "prepost", "monitor": {"webhook": "ftp://host/x"}})
    wheres = {p.where for p in err.value.problems}
    assert {"periods.baseline", "periods.pilot", "monitor.webhook"} <= wheres
    with pytest.raises(SpecError) as err:
        parse_spec({**base, "design": "ab", "waves": {"switch": {"T01": dt.date(2026, 2, 2)}}})
    assert [p.where for p in err.value.problems] == ["waves.switch"]
    s = parse_spec({**base, "design": "waves", "waves": {"switch": {"T01": dt.date(2026, 2, 2)}, "event_weeks": 6}})
    assert s.waves.switch == {"T01": dt.date(2026, 2, 2)} and s.waves.event_weeks == 6
    again = parse_spec(spec_to_dict(parse_spec({**base, "design": "ab"})))  # run folders re-read spec.json
    assert again.design == "ab" and again.prepost.allow_decisive is False


# ------------------------------------------------------------------------------ simulator


def test_simulated_waves_switch_units_on_their_dates_with_a_growing_effect():
    sim = simulate(SimConfig(**WAVES))
    t, f = sim.truth, sim.frame
    assert len(t["switch"]) == 4 and len(t["never_switched"]) == 2
    assert [w["date"] for w in t["waves"]] == sorted({w["date"] for w in t["waves"]})
    for team, day in t["switch"].items():
        rows = f[f["team"] == team]
        before = rows["timestamp"].dt.date < dt.date.fromisoformat(day)
        assert (rows.loc[before, "arm"] == "checklist").all() and (rows.loc[~before, "arm"] == "behavior").all()
    assert (f.loc[f["team"].isin(t["never_switched"]), "arm"] == "checklist").all()
    ramp = [t["by_event_week"][e]["fcr"]["rate"] for e in range(4)]
    assert ramp == sorted(ramp) and ramp[0] < 0.5 * ramp[3]  # the effect grows over the first weeks
    full = [t["by_event_week"][e]["fcr"]["rate"] for e in range(4, 8)]
    assert min(full) > 0.8 * max(full)
    assert min(ramp[0], *full) < t["effects"]["fcr"]["rate"] < max(full)


def test_simulated_before_after_pilot_switches_everyone_and_drifts():
    sim = simulate(SimConfig(design="prepost", n_agents=12, n_teams=3, interactions_per_agent=40, weeks=4,
                             baseline_weeks=4, trend_per_week=0.05, fcr_effect=0.4, seed=2))  # fmt: skip
    f, t = sim.frame, sim.truth
    pilot = f["timestamp"].dt.date >= dt.date.fromisoformat(t["periods"]["pilot"]["start"])
    assert (f.loc[pilot, "arm"] == "behavior").all() and (f.loc[~pilot, "arm"] == "checklist").all()
    assert t["never_switched"] == [] and t["effects"]["fcr"]["rate"] > 0
    flat = simulate(SimConfig(design="prepost", n_agents=12, n_teams=3, interactions_per_agent=40, weeks=4,
                              baseline_weeks=4, fcr_effect=0.4, seed=2))  # fmt: skip
    assert t["control"]["fcr"]["rate"] > flat.truth["control"]["fcr"]["rate"]  # the trend lifts the pilot weeks


def test_simulator_rejects_bad_roll_out_settings():
    with pytest.raises(ValueError, match="wave_weeks"):
        SimConfig(design="waves", weeks=4, wave_weeks=(0, 5))
    with pytest.raises(ValueError, match="prepost"):
        SimConfig(design="prepost", baseline_weeks=0)


# ------------------------------------------------------------------------------ weekly cells


def test_switch_table_and_arm_column_give_the_same_weekly_cells(tmp_path):
    sim = simulate(SimConfig(**WAVES))
    path = write_simulation(sim, tmp_path / "w.parquet")[0]
    from_data = prepare(_spec("waves", path, sim.truth)).cells
    table = {k: dt.date.fromisoformat(v) for k, v in sim.truth["switch"].items()}
    no_arm = sim.frame.drop(columns=["arm"])
    p2 = tmp_path / "no_arm.parquet"
    no_arm.to_parquet(p2)
    from_table = prepare(_spec("waves", p2, sim.truth, waves={"switch": table})).cells
    keys = ["agent_id", "week", "arm", "channel", "contact_reason"]
    cols = [*keys, "n", "fcr_n", "fcr_yes"]
    a = from_data[cols].sort_values(keys).reset_index(drop=True)
    b = from_table[cols].sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    weeks = pd.to_datetime(from_data["week"].astype(str))
    assert (weeks.dt.day_of_week == 0).all() and from_data["week"].nunique() == 11


def test_before_after_needs_no_arm_column(tmp_path):
    sim = simulate(SimConfig(design="prepost", n_agents=12, n_teams=3, interactions_per_agent=40, weeks=4,
                             baseline_weeks=4, seed=2))  # fmt: skip
    p = tmp_path / "pp.parquet"
    sim.frame.drop(columns=["arm"]).to_parquet(p)
    prep = prepare(_spec("prepost", p, sim.truth))
    c = prep.cells
    assert set(c.loc[c["period"] == "pilot", "arm"]) == {"behavior"}
    assert set(c.loc[c["period"] == "baseline", "arm"]) == {"checklist"}
    names = {h.name: h.status for h in check_health(_spec("prepost", p, sim.truth), prep)}
    assert names["no_control"] == "warn" and "response_rate" in names


# ------------------------------------------------------------------------------ time terms of a roll-out


def _cells(rows):
    df = pd.DataFrame(rows, columns=["team", "week", "arm", "n", "fcr_yes"])
    df["agent_id"] = "A-" + df["team"]
    df["site"] = "S0"
    df["period"] = "pilot"
    df["fcr_n"] = df["n"]
    return df


def test_waves_compare_only_with_units_still_on_the_current_program():
    spec = parse_spec({"name": "x", "design": "waves", "unit": "team", "arms": {"control": "c", "treatment": "t"},
                       "data": {"source": "x.csv"}, "metrics": [{"name": "fcr"}],
                       "waves": {"event_weeks": 2}})  # fmt: skip
    w = ["2026-01-05", "2026-01-12", "2026-01-19", "2026-01-26", "2026-02-02"]
    rows = []
    for i, week in enumerate(w):
        rows.append(("E", week, "t", 10, 5))  # on the new program from its first week: nothing to compare with
        rows.append(("A", week, "t" if i >= 1 else "c", 10, 5))  # wave 1
        rows.append(("B", week, "t" if i >= 2 else "c", 10, 5))  # wave 2
        if i < 4:
            rows.append(("N", week, "c", 10, 5))  # never switches; not in the data the last week
    terms = Waves().time_terms(spec, _cells(rows))
    cells = _cells(rows)[terms.keep]
    assert "E" not in set(cells["team"])  # always on the new program: left out
    assert "2026-02-02" not in set(cells["week"])  # every unit on the new program that week: left out
    assert any("left out" in n for n in terms.notes)
    wave_name, wave, wave_labels = terms.groupings[0]
    event_name, event, event_labels = terms.groupings[1]
    assert (wave_name, wave_labels) == ("wave", ["2026-01-12", "2026-01-19"])
    assert event_name == "weeks_since_switch" and event_labels == ["0", "1+"]  # pooled after event_weeks
    active = terms.active.astype(bool)
    assert (wave[~active] == -1).all() and (event[~active] == -1).all()
    pairs = terms.arrays["pair"]
    assert (pairs[~active] == 0).all() and len(np.unique(pairs[active])) == len(terms.arrays["pair_event"])
    assert terms.arrays["n_weeks"] == 4 and terms.arrays["n_unit_weeks"] == len(cells)


def test_pre_trend_check_flags_a_wave_drifting_before_its_switch():
    spec = parse_spec({"name": "x", "design": "waves", "unit": "team", "arms": {"control": "c", "treatment": "t"},
                       "data": {"source": "x.csv"}, "metrics": [{"name": "fcr", "min_effect": 2.0}]})  # fmt: skip
    weeks = pd.date_range("2026-01-05", periods=10, freq="7D").strftime("%Y-%m-%d")
    rows = []
    for i, week in enumerate(weeks):
        rows.append(("W", week, "t" if i >= 7 else "c", 1000, 500 + 40 * i))  # +4 pp a week before its switch
        rows.append(("N", week, "c", 1000, 500))
    check = pre_trends(_cells(rows), spec)
    assert check.status == "alert" and "wave of " + weeks[7] in check.message
    (row,) = check.data["rows"]
    assert row["slope"] == pytest.approx(4.0, abs=0.01) and row["weeks"] == 7
    flat = [(t, w, a, n, 500 if t == "N" else 520) for t, w, a, n, _ in rows]
    assert pre_trends(_cells(flat), spec).status == "ok"
