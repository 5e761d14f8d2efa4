"""Diagnosis (qmsprint.diagnosis): known-answer tests on simulated interactions with known truth."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from qmsprint.data.pseudonymise import pseudonym
from qmsprint.diagnosis import PRACTICAL_EFFECT, Diagnosis, diagnose, prepare_diagnosis
from qmsprint.errors import BundleError, DataError
from qmsprint.present.diagnosis import figures, summary_text
from qmsprint.results import Diagnostics
from qmsprint.spec import parse_spec

ITEM_EFFECTS = {"greeting": 0.6, "empathy": 0.35, "name_x3": 0.0, "upsell_attempt": 0.0, "script_read": -0.45}
ITEM_PASS = {"greeting": 0.8, "empathy": 0.7, "name_x3": 0.85, "upsell_attempt": 0.6, "script_read": 0.75}
TRUE_LABELS = {"greeting": "matters", "empathy": "matters", "name_x3": "noise", "upsell_attempt": "noise",
               "script_read": "hurts"}  # fmt: skip
LOGISTIC_VAR = np.pi**2 / 3
KEY = b"diagnosis-test-key-0123456789abcdef"


def make_frame(n_agents=60, per_agent=400, seed=1, response=0.25, extra_items=None):
    """Interactions with a known latent CSAT model; returns (frame, truth).

    Latent CSAT eta = sum(item effects) + 0.9 * behavior(z) + agent + channel + reason; CSAT is ordered-logit
    on eta; repeat contact is logit(-1.6 - 0.5 * eta). truth["r2"][score] is the latent-scale R-squared of CSAT
    explained by the score alone: corr(score, eta)^2 * Var(eta) / (Var(eta) + pi^2/3).
    """
    rng = np.random.default_rng(seed)
    n = n_agents * per_agent
    agent = np.repeat(np.arange(n_agents), per_agent)
    channels, reasons = np.array(["voice", "chat", "email"]), np.array(["billing", "tech", "move", "cancel", "other"])
    ch, rs = rng.choice(3, n, p=[0.5, 0.3, 0.2]), rng.choice(5, n)
    ceff, reff = np.array([0.0, -0.2, -0.4]), np.array([-0.5, 0.3, 0.0, -0.3, 0.2])
    u, skill = rng.normal(0, 0.3, n_agents), rng.normal(0, 1, n_agents)
    names = list(ITEM_EFFECTS)
    items = np.column_stack([rng.random(n) < ITEM_PASS[k] for k in names]).astype(int)
    beh = np.clip(60 + 12 * (0.6 * skill[agent] + 0.8 * rng.normal(0, 1, n)), 0, 100)  # a 0-100 score
    bz = (beh - beh.mean()) / beh.std()
    eta = items @ np.array([ITEM_EFFECTS[k] for k in names]) + 0.9 * bz + u[agent] + ceff[ch] + reff[rs]
    cut = np.array([-2.2, -1.2, 0.0, 1.5])
    csat = 1 + (eta[:, None] + rng.logistic(size=n)[:, None] > cut).sum(1)
    resp = rng.random(n) < response
    rep = rng.random(n) < expit(-1.6 - 0.5 * eta)
    qa = 100 * items.mean(1)
    df = pd.DataFrame(
        {
            "agent_id": [pseudonym(f"A{a:03d}", KEY) for a in agent],  # as load_frame hands them over
            "team": [f"T{a % 5}" for a in agent],
            "channel": channels[ch],
            "contact_reason": reasons[rs],
            "qa_score": qa,
            "behavior_score": beh,
            "csat": pd.array(np.where(resp, csat, None), dtype="Int64"),
            "repeat_contact": rep,
        }
    )
    for k, name in enumerate(names):
        df[f"item_{name}"] = items[:, k]
    for name, col in (extra_items or {}).items():
        df[f"item_{name}"] = col
    ve = eta.var()
    truth = {
        "r2": {
            s: float(np.corrcoef(x, eta)[0, 1] ** 2 * ve / (ve + LOGISTIC_VAR))
            for s, x in (("qa_score", qa), ("behavior_score", beh))
        },  # fmt: skip
        # agent level: share of the variance of agents' mean latent CSAT that their mean score explains
        "r2_agent": {
            s: float(np.corrcoef(pd.Series(x).groupby(agent).mean(), pd.Series(eta).groupby(agent).mean())[0, 1] ** 2)
            for s, x in (("qa_score", qa), ("behavior_score", beh))
        },
        "worst_reason": "billing",
    }
    return df, truth


def make_spec(tmp_path=None, **sampler):
    raw = {
        "name": "diag-test",
        "design": "ab",
        "arms": {"control": "checklist", "treatment": "behavior"},
        "data": {"source": "interactions.parquet"},
        "metrics": [{"name": "csat"}, {"name": "repeat_contact"}],
        "sampler": {"chains": 2, "draws": 500, "tune": 500, "seed": 11, **sampler},
    }
    return parse_spec(raw, base_dir=tmp_path or ".")


# ------------------------------------------------------------------------------------ errors (fast)


def test_missing_qa_score_column_is_a_clear_error():
    df, _ = make_frame(n_agents=12, per_agent=50)
    with pytest.raises(DataError) as err:
        diagnose(make_spec(), frame=df.drop(columns="qa_score"))
    assert err.value.problems[0].where == "qa_score"
    assert "missing" in str(err.value)


def test_items_asked_for_but_missing_lists_them_and_what_exists():
    df, _ = make_frame(n_agents=12, per_agent=50)
    with pytest.raises(DataError) as err:
        diagnose(make_spec(), frame=df, items=["greeting", "closing"])
    text = str(err.value)
    assert "item_closing" in text and "item_greeting" in text  # missing one, and the ones the data has
    assert "item_greeting'" not in text.split("e.g.")[1]  # the present item is not reported as missing


def test_no_item_columns_skips_the_item_part_with_a_note():
    df, _ = make_frame(n_agents=12, per_agent=50)
    p = prepare_diagnosis(df.drop(columns=[c for c in df if c.startswith("item_")]), make_spec(), None)
    assert p.fit_items == []
    assert any("per-item analysis is skipped" in n for n in p.notes)


def test_constant_and_uninformative_items_are_labelled_and_not_fitted():
    n = 12 * 100
    rng = np.random.default_rng(3)
    always = np.ones(n, dtype=int)
    almost = (rng.random(n) < 0.995).astype(int)
    df, _ = make_frame(n_agents=12, per_agent=100, extra_items={"disclosure": always, "brand_phrase": almost})
    p = prepare_diagnosis(df, make_spec(), None)
    status = p.item_table.set_index("item")["status"]
    assert status["disclosure"] == "constant"
    assert status["brand_phrase"] == "no information"
    assert status["greeting"] == "fit"
    assert "item_disclosure" not in p.fit_items and "item_brand_phrase" not in p.fit_items
    assert any("disclosure never varies" in x for x in p.notes)


def test_tiny_samples_say_how_many_there_are_and_how_many_are_needed():
    df, _ = make_frame(n_agents=6, per_agent=30)
    with pytest.raises(DataError) as err:
        diagnose(make_spec(), frame=df)
    assert "6 agents with QA-scored" in str(err.value) and "at least 10" in str(err.value)
    df, _ = make_frame(n_agents=12, per_agent=20, response=0.2)  # ~48 CSAT answers, 240 repeat trials
    p = prepare_diagnosis(df, make_spec(), None)
    assert [o.name for o in p.outcomes] == ["repeat_contact"]
    assert any(n.startswith("csat is skipped") and "need" in n for n in p.notes)
    df["repeat_contact"] = None
    with pytest.raises(DataError) as err:
        prepare_diagnosis(df.astype({"repeat_contact": "object"}), make_spec(), None)
    assert "csat" in str(err.value) and "at least 100 responses" in str(err.value)


def test_invalid_values_are_all_reported():
    df, _ = make_frame(n_agents=12, per_agent=50)
    df.loc[3, "qa_score"] = 130
    df["csat"] = df["csat"].astype("object")
    df.loc[df.index[df["csat"].notna()][:2], "csat"] = 9
    df.loc[5, "item_greeting"] = 2
    with pytest.raises(DataError) as err:
        prepare_diagnosis(df, make_spec(), None)
    wheres = {p.where for p in err.value.problems}
    assert {"qa_score", "csat", "item_greeting"} <= wheres


def test_outcomes_come_from_the_metric_registry():
    from qmsprint import metrics
    from qmsprint.diagnosis import diagnosable_outcomes
    from qmsprint.diagnosis.prepare import outcome_specs

    names = [n for n, m in metrics.registry().items() if m.family in ("ordinal", "binomial")]
    assert list(diagnosable_outcomes()) == names and "handle_time" not in names  # continuous: not diagnosed
    assert names[:4] == ["csat", "nps", "fcr", "repeat_contact"]
    spec = parse_spec(
        {**make_spec().model_dump(include={"name", "design", "arms", "data"}), "csat_scale": [1, 7],
         "metrics": [{"name": "csat"}, {"name": "fcr", "direction": "lower"}]}
    )  # fmt: skip
    o = outcome_specs(spec)
    assert o["csat"].levels == tuple(range(1, 8)) and o["csat"].family == "ordinal" and o["csat"].sign == 1.0
    assert o["nps"].levels == tuple(range(11))
    assert o["fcr"].better == "lower"  # the spec's direction
    assert o["repeat_contact"].better == "lower" and o["repeat_contact"].column == "repeat_contact"  # the default


def test_the_canonical_frame_gives_the_same_cells_as_plain_columns():
    from qmsprint.diagnosis.blocks import outcome_blocks

    df, _ = make_frame(n_agents=12, per_agent=100)
    canon = df.copy()  # the types qmsprint.data.load_frame returns
    canon["repeat_contact"] = canon["repeat_contact"].astype("boolean")
    canon.loc[canon.index[:7], "repeat_contact"] = pd.NA  # censored windows
    plain = canon.astype({"repeat_contact": "object"})
    for c in [c for c in df if c.startswith("item_")]:
        canon[c] = canon[c].astype("float64")
    for c in ("agent_id", "team", "channel", "contact_reason"):
        canon[c] = canon[c].astype("string")
    a = outcome_blocks(prepare_diagnosis(canon, make_spec(), None))
    b = outcome_blocks(prepare_diagnosis(plain, make_spec(), None))
    assert [x.key for x in a] == [x.key for x in b]
    for x, y in zip(a, b, strict=True):
        for field in ("X", "agent_idx", "n", "y"):
            np.testing.assert_array_equal(getattr(x.arrays, field), getattr(y.arrays, field), err_msg=x.key)


def _diag(bad: bool) -> Diagnostics:
    return Diagnostics(
        rhat_max=1.08 if bad else 1.002, ess_bulk_min=900, ess_tail_min=800, divergences=0, bfmi_min=0.9,
        draws=1000, chains=4, sampler="nutpie",
    )  # fmt: skip


def test_a_fit_that_misses_the_bars_is_tried_with_the_other_parametrization(monkeypatch):
    from qmsprint.diagnosis.blocks import fit_blocks, outcome_blocks
    from qmsprint.models import diagnosis as model
    from qmsprint.models import sampling

    df, _ = make_frame(n_agents=12, per_agent=100)
    blocks = [b for b in outcome_blocks(prepare_diagnosis(df, make_spec(), None)) if b.kind == "r2"]
    events: list[tuple] = []  # what ran, in order
    monkeypatch.setattr(model, "part_model", lambda part, centered: ((part.key, centered), {}))
    monkeypatch.setattr(
        sampling,
        "compile_model",
        lambda m, init, backend: events.append(("compile", *m)) or sampling.CompiledModel(m, None, init, 0.0),
    )
    monkeypatch.setattr(sampling, "start_sampling", lambda run, **kw: events.append(("sample", *run.model)) or run)
    monkeypatch.setattr(sampling, "finish_sampling", lambda run, *a: (run.model, "nutpie"))
    outcome = iter([_diag(bad=True), _diag(bad=False), _diag(bad=False), _diag(bad=True), _diag(bad=True)])
    monkeypatch.setattr(sampling, "diagnostics_of", lambda idata, names, **kw: next(outcome))
    fits = list(fit_blocks(blocks[:3], make_spec(), 1000, 300, lambda *a: None))
    k0, k1, k2 = (b.key for b in blocks[:3])
    c0, c1, c2 = (model.centred_agents(b.arrays) for b in blocks[:3])
    assert events == [
        ("compile", k0, c0),
        ("sample", k0, c0),
        ("compile", k1, c1),  # the next part compiles while this one samples
        ("compile", k0, not c0),  # part 0 missed the bars: the other parametrization
        ("sample", k0, not c0),
        ("sample", k1, c1),
        ("compile", k2, c2),
        ("sample", k2, c2),
        ("compile", k2, not c2),  # missed again: tried, and the first (as good) is kept
        ("sample", k2, not c2),
    ]
    assert [f[1] for f in fits] == [(k0, not c0), (k1, c1), (k2, c2)]
    assert [f[2].converged for f in fits] == [True, True, False]
    assert [f[2].attempts for f in fits] == [2, 1, 2]


def test_item_parts_hold_the_agents_sd_to_the_variance_component_bars(monkeypatch):
    """The agents' sd of an item part feeds no reported number: looser bars; a score's R-squared reads it: strict."""
    from qmsprint.diagnosis.blocks import fit_blocks, outcome_blocks
    from qmsprint.models import diagnosis as model
    from qmsprint.models import sampling

    df, _ = make_frame(n_agents=12, per_agent=100)
    blocks = outcome_blocks(prepare_diagnosis(df, make_spec(), None))
    assert {b.kind for b in blocks} == {"r2", "items", "rc"}
    checked: dict[str, tuple] = {}
    monkeypatch.setattr(model, "part_model", lambda part, centered: ((part.key, centered), {}))
    monkeypatch.setattr(sampling, "compile_model", lambda m, init, backend: sampling.CompiledModel(m, None, init, 0.0))
    monkeypatch.setattr(sampling, "start_sampling", lambda run, **kw: run)
    monkeypatch.setattr(sampling, "finish_sampling", lambda run, *a: (run.model, "nutpie"))

    def diagnostics(idata, names, **kw):
        checked[idata[0]] = (tuple(names), tuple(kw.get("spread") or ()))
        return _diag(bad=False)

    monkeypatch.setattr(sampling, "diagnostics_of", diagnostics)
    list(fit_blocks(blocks, make_spec(), 1000, 300, lambda *a: None))
    for b in blocks:
        strict, spread = checked[b.key]
        assert "beta" in strict
        if b.kind == "items":
            assert spread == ("sd_agent",) and "sd_agent" not in strict
        else:
            assert spread == () and "sd_agent" in strict


def test_only_a_parts_first_sampling_caps_its_trees(monkeypatch):
    """The first sampling of a part caps the tree depth (cheaper warm-up); samplings after a miss do not."""
    from qmsprint.diagnosis.blocks import fit_blocks, outcome_blocks
    from qmsprint.models import diagnosis as model
    from qmsprint.models import sampling

    df, _ = make_frame(n_agents=12, per_agent=100)
    blocks = [b for b in outcome_blocks(prepare_diagnosis(df, make_spec(), None)) if b.kind == "r2"][:2]
    depths: list = []
    monkeypatch.setattr(model, "part_model", lambda part, centered: ((part.key, centered), {}))
    monkeypatch.setattr(sampling, "compile_model", lambda m, init, backend: sampling.CompiledModel(m, None, init, 0.0))
    monkeypatch.setattr(sampling, "start_sampling", lambda run, **kw: depths.append(kw["maxdepth"]) or run)
    monkeypatch.setattr(sampling, "finish_sampling", lambda run, *a: (run.model, "nutpie"))
    outcome = iter([_diag(bad=True), _diag(bad=False), _diag(bad=False)])  # part 0 misses, then both converge
    monkeypatch.setattr(sampling, "diagnostics_of", lambda idata, names, **kw: next(outcome))
    list(fit_blocks(blocks, make_spec(), 1000, 300, lambda *a: None))
    assert depths == [model.FIRST_MAXDEPTH, None, model.FIRST_MAXDEPTH]
    assert 4 < model.FIRST_MAXDEPTH < 10  # above the parts' depth after warm-up, below nutpie's default


@pytest.mark.parametrize(("sampler", "large_first"), [({}, 0.7), ({"target_accept": 0.97}, 0.97)])
def test_a_large_parts_first_sampling_takes_longer_steps_unless_the_spec_sets_a_target_accept(
    monkeypatch, sampler, large_first
):
    """A large (item) part first samples at LARGE_PART_ACCEPT, a small part and every later sampling at 0.8."""
    from qmsprint.diagnosis.blocks import first_accept, fit_blocks, outcome_blocks
    from qmsprint.models import diagnosis as model
    from qmsprint.models import sampling

    df, _ = make_frame(n_agents=12, per_agent=100)
    spec = make_spec(**sampler)
    small = next(b for b in outcome_blocks(prepare_diagnosis(df, spec, None)) if b.kind == "r2")
    monkeypatch.setattr(model, "LARGE_PART_CELLS", len(small.arrays.n) - 1)  # this part counts as large
    monkeypatch.setattr(model, "part_model", lambda part, centered: ((part.key, centered), {}))
    monkeypatch.setattr(sampling, "compile_model", lambda m, init, backend: sampling.CompiledModel(m, None, init, 0.0))
    accepts: list = []
    monkeypatch.setattr(sampling, "start_sampling", lambda run, **kw: accepts.append(kw["target_accept"]) or run)
    monkeypatch.setattr(sampling, "finish_sampling", lambda run, *a: (run.model, "nutpie"))
    outcome = iter([_diag(bad=True), _diag(bad=False)])  # misses at first, converges with the other parametrization
    monkeypatch.setattr(sampling, "diagnostics_of", lambda idata, names, **kw: next(outcome))
    list(fit_blocks([small], spec, 1000, 300, lambda *a: None))
    later = sampler.get("target_accept", 0.8)
    assert accepts == [large_first, later]
    assert first_accept(small, spec) == large_first
    monkeypatch.setattr(model, "LARGE_PART_CELLS", len(small.arrays.n))  # now a small part: the spec's default
    assert first_accept(small, spec) == later
    assert model.LARGE_PART_ACCEPT == 0.7


def _one_part_sampled_by_fakes(monkeypatch) -> tuple[list, list[tuple]]:
    """One R-squared block, and the (compile/sample, key, centred[, draws]) events of its fake fitting."""
    from qmsprint.diagnosis.blocks import outcome_blocks
    from qmsprint.models import diagnosis as model
    from qmsprint.models import sampling

    df, _ = make_frame(n_agents=12, per_agent=100)
    blocks = [b for b in outcome_blocks(prepare_diagnosis(df, make_spec(), None)) if b.kind == "r2"][:1]
    events: list[tuple] = []
    monkeypatch.setattr(model, "part_model", lambda part, centered: ((part.key, centered), {}))
    monkeypatch.setattr(
        sampling,
        "compile_model",
        lambda m, init, backend: events.append(("compile", *m)) or sampling.CompiledModel(m, None, init, 0.0),
    )
    monkeypatch.setattr(
        sampling, "start_sampling", lambda run, **kw: events.append(("sample", *run.model, kw["draws"])) or run
    )
    monkeypatch.setattr(sampling, "finish_sampling", lambda run, *a: (run.model, "nutpie"))
    return blocks, events


def test_a_fit_short_only_of_ess_is_sampled_again_with_twice_the_draws(monkeypatch):
    from qmsprint.diagnosis.blocks import fit_blocks
    from qmsprint.models import diagnosis as model
    from qmsprint.models import sampling

    blocks, events = _one_part_sampled_by_fakes(monkeypatch)
    short = replace(_diag(bad=False), ess_tail_min=325.0)  # fcr/items of the A/B demo at 4 x 1000 draws
    first = model.part_draws(blocks[0].arrays, 1000)  # a small part's first draws
    assert first == model.SMALL_PART_DRAWS
    outcome = iter([replace(short, draws=first), _diag(bad=False)])
    monkeypatch.setattr(sampling, "diagnostics_of", lambda idata, names, **kw: next(outcome))
    (fitted,) = fit_blocks(blocks, make_spec(), 1000, 300, lambda *a: None)
    (key, centred, _), compiled = events[1][1:], events[0]
    assert events == [compiled, ("sample", key, centred, first), ("sample", key, centred, 2 * first)]  # no new compile
    assert fitted[2].converged and fitted[2].attempts == 2
    # a bad miss first switches the parametrization (every draw); a switched fit a little short is then extended
    events.clear()
    outcome = iter([_diag(bad=True), short, _diag(bad=False)])
    (fitted,) = fit_blocks(blocks, make_spec(), 1000, 300, lambda *a: None)
    assert events[2:] == [
        ("compile", key, not centred),
        ("sample", key, not centred, 1000),
        ("sample", key, not centred, 2000),
    ]
    assert fitted[2].converged and fitted[2].attempts == 3  # every sampling counts


def test_a_slow_mixing_part_is_sampled_for_the_draws_its_ess_rate_needs():
    from qmsprint.models.diagnosis import LONGER_MAX_FACTOR, longer_draws

    slow = replace(_diag(bad=False), rhat_max=1.016, ess_bulk_min=279.0, ess_tail_min=91.0, draws=500)
    assert longer_draws(slow) == 2800  # 500 x 1.25 x 400 / 91 = 2747, to the next hundred
    assert longer_draws(replace(slow, ess_tail_min=350.0)) == 1000  # at least twice the draws
    assert longer_draws(replace(slow, ess_tail_min=20.0)) == LONGER_MAX_FACTOR * 500  # at most six times
    # more draws do not cure a funnel, chains that disagree, or a fit already past the ESS bars
    for other in (
        replace(slow, divergences=3),
        replace(slow, bfmi_min=0.1),
        replace(slow, rhat_max=1.08),
        replace(slow, ess_bulk_min=500.0, ess_tail_min=450.0),
        replace(slow, ess_tail_min=float("nan")),
        _diag(bad=False),
    ):
        assert longer_draws(other) is None, other


def test_a_part_that_mixes_slowly_in_both_parametrizations_is_sampled_longer(monkeypatch):
    """fcr/qa_score of the bundled A/B data at seed 7: tail ESS 91 non-centred, too low an E-BFMI centred."""
    from qmsprint.diagnosis.blocks import fit_blocks
    from qmsprint.models import sampling

    blocks, events = _one_part_sampled_by_fakes(monkeypatch)
    slow = replace(_diag(bad=False), rhat_max=1.016, ess_bulk_min=279.0, ess_tail_min=91.0, draws=500)
    funnel = replace(_diag(bad=False), rhat_max=1.012, ess_bulk_min=209.0, ess_tail_min=259.0, bfmi_min=0.1)
    outcome = iter([slow, replace(funnel, draws=1000), replace(_diag(bad=False), draws=2800)])
    monkeypatch.setattr(sampling, "diagnostics_of", lambda idata, names, **kw: next(outcome))
    (fitted,) = fit_blocks(blocks, make_spec(), 1000, 300, lambda *a: None)
    (_, key, centred, first) = events[1]
    assert events[2:] == [
        ("compile", key, not centred),
        ("sample", key, not centred, 1000),
        ("sample", key, centred, 2800),  # the kept (first) model again, long enough for its ESS rate
    ]
    assert fitted[1] == (key, centred) and fitted[2].converged and fitted[2].attempts == 3
    # a longer sampling that is still a little short is then extended as any marginal miss
    events.clear()
    outcome = iter([slow, replace(funnel, draws=1000), replace(slow, ess_tail_min=300.0, draws=2800),
                    replace(_diag(bad=False), draws=5600)])  # fmt: skip
    (fitted,) = fit_blocks(blocks, make_spec(), 1000, 300, lambda *a: None)
    assert [e[-1] for e in events if e[0] == "sample"] == [first, 1000, 2800, 5600]
    assert fitted[2].converged and fitted[2].attempts == 4


def test_the_diagnosis_draws_its_own_plan_whatever_the_effects_draw(monkeypatch):
    """A spec's ``draws`` are the effects'; the item parts still start at 800, unless it asks for a quick look."""
    from qmsprint import diagnosis as diag_mod
    from qmsprint.models import diagnosis as model

    assert diag_mod.diagnosis_draws(500) == diag_mod.diagnosis_draws(4000) == diag_mod.DIAGNOSIS_DRAWS
    assert diag_mod.diagnosis_draws(100) == 100
    df, _ = make_frame(n_agents=12, per_agent=100)
    seen: list[int] = []

    def fake_fit_blocks(blocks, spec, draws, tune, progress):
        seen.append(draws)
        return iter(())

    monkeypatch.setattr(diag_mod, "fit_blocks", fake_fit_blocks)
    for draws in (500, 100):
        with pytest.raises(KeyError):  # nothing was fitted: the summary finds no headline draws
            diag_mod.diagnose(make_spec(draws=draws), frame=df)
    assert seen == [diag_mod.DIAGNOSIS_DRAWS, 100]
    cells = model.LARGE_PART_CELLS + 1
    big = model.DiagnosisPart("x/items", "binomial", [], np.zeros((cells, 0)), np.zeros(cells, int), np.ones(cells),
                              np.ones(cells))  # fmt: skip
    assert model.part_draws(big, seen[0]) == model.LARGE_PART_DRAWS == 800
    assert model.part_draws(big, seen[1]) == 100


def test_facet_titles_read_as_a_client_reads_them():
    r2 = pd.DataFrame(
        [
            {"outcome": o, "score": "qa_score", "level": lv, "mean": 0.3, "hdi_low": 0.2, "hdi_high": 0.4}
            for o in ("csat", "fcr")
            for lv in ("interaction", "agent")
        ]
    )
    items = pd.DataFrame(
        [
            {"outcome": o, "item": "greeting", "effect": 0.1, "good_effect": 0.1, "good_hdi_low": 0.0,
             "good_hdi_high": 0.2, "label": "noise", "pass_rate": 0.9, "prob_good": 0.9}
            for o in ("csat", "fcr")
        ]
    )  # fmt: skip
    empty = pd.DataFrame()
    figs = figures(Diagnosis(r2, items, empty, empty, empty, diagnostics={}, meta={}))
    titles = {name: sorted(a.text for a in figs[name].layout.annotations) for name in ("r2", "items")}
    assert titles["r2"] == ["Between agents", "Between interactions"]
    assert set(titles["items"]) == {
        "CSAT",
        "First contact resolution",
        "within-agent effect (log-odds, + = better for customers)",
    }
    assert not any(ax.title.text for ax in figs["items"].select_xaxes())  # one shared title, not one per facet


def test_a_diagnosis_that_missed_the_bars_says_so():
    empty = pd.DataFrame()
    d = Diagnosis(empty, empty, empty, empty, empty, diagnostics={"csat/items": _diag(bad=True)}, meta={})
    assert not d.converged
    assert "Caution: some fits missed the convergence bars (csat/items: R-hat 1.080 > 1.01)" in summary_text(d)
    assert Diagnosis(empty, empty, empty, empty, empty, diagnostics={"csat/items": _diag(bad=False)}).converged


@pytest.mark.slow
def test_centred_and_non_centred_agent_effects_give_the_same_posterior():
    import arviz as az

    from qmsprint.diagnosis.blocks import outcome_blocks
    from qmsprint.models.diagnosis import part_model
    from qmsprint.models.sampling import sample_model

    df, _ = make_frame(n_agents=20, per_agent=200, seed=3)
    p = prepare_diagnosis(df, make_spec(), None)
    block = next(b for b in outcome_blocks(p) if b.key == "repeat_contact/qa_score")
    means, mcses = [], []
    for centered in (True, False):
        model, init = part_model(block.arrays, centered)
        idata, _ = sample_model(model, draws=1000, tune=500, chains=2, seed=5, initial_points=init)
        post = idata.posterior[["beta", "sd_agent", "intercept"]]  # beta: within, between
        mcse = az.mcse(post, method="mean")  # Monte Carlo standard error of each posterior mean
        means.append(np.concatenate([np.atleast_1d(post[v].mean(("chain", "draw")).to_numpy()) for v in post]))
        mcses.append(np.concatenate([np.atleast_1d(mcse[v].to_numpy()) for v in post]))
    assert abs(means[0][1]) > 0.1  # the between slope is there to agree on
    # two runs of one posterior differ by Monte Carlo error only: allow 4 combined standard errors
    # (a 1-in-15,000 miss per quantity by chance), plus a floor of 0.005 against tiny MCSEs
    tol = 4 * np.hypot(mcses[0], mcses[1]) + 0.005
    assert np.all(np.abs(means[0] - means[1]) <= tol), (means, tol)


# ------------------------------------------------------------------------------------ recovery (slow)


@pytest.fixture(scope="module")
def fitted():
    """The diagnosis of ``make_frame()``, its item parts (1,300-1,700 cells) sampled as large parts are.

    On client-size data the item parts are the large ones (more than LARGE_PART_CELLS cells): their
    first sampling draws LARGE_PART_DRAWS at LARGE_PART_ACCEPT. The known answers below hold there too.
    """
    from qmsprint.models import diagnosis as model

    df, truth = make_frame()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(model, "LARGE_PART_CELLS", 1_200)
        d = diagnose(make_spec(), frame=df)
    assert all(
        d.meta["blocks"][k]["first_accept"] == model.LARGE_PART_ACCEPT for k in ("csat/items", "repeat_contact/items")
    )
    assert d.meta["blocks"]["csat/qa_score"]["first_accept"] == 0.8
    return d, truth


@pytest.mark.slow
def test_item_labels_recover_the_known_effects(fitted):
    d, _ = fitted
    for outcome in ("csat", "repeat_contact"):
        got = d.items[d.items["outcome"] == outcome].set_index("item")["label"].to_dict()
        assert got == TRUE_LABELS, outcome
    csat = d.items[d.items["outcome"] == "csat"].set_index("item")
    for name, eff in ITEM_EFFECTS.items():
        assert csat.loc[name, "hdi_low"] - 0.05 <= eff <= csat.loc[name, "hdi_high"] + 0.05, name
    # sorted best first within an outcome; repeat contacts are direction-aware (fewer repeats = good)
    assert csat["good_effect"].is_monotonic_decreasing
    rep = d.items[d.items["outcome"] == "repeat_contact"].set_index("item")
    assert rep.loc["greeting", "effect"] < -PRACTICAL_EFFECT and rep.loc["greeting", "good_effect"] > 0


@pytest.mark.slow
def test_r2_recovers_the_known_latent_scale_values(fitted):
    d, truth = fitted
    r2 = d.r2[(d.r2["outcome"] == "csat") & (d.r2["level"] == "interaction")].set_index("score")
    for score, true in truth["r2"].items():
        lo, hi = r2.loc[score, "hdi_low"], r2.loc[score, "hdi_high"]
        assert lo - 0.02 <= true <= hi + 0.02, (score, true, lo, hi)
    assert r2.loc["behavior_score", "mean"] > 10 * r2.loc["qa_score", "mean"]
    agent = d.r2[(d.r2["outcome"] == "csat") & (d.r2["level"] == "agent")].set_index("score")
    for score, true in truth["r2_agent"].items():
        lo, hi = agent.loc[score, "hdi_low"], agent.loc[score, "hdi_high"]
        assert lo - 0.05 <= true <= hi + 0.05, (score, true, lo, hi)
    assert agent.loc["behavior_score", "hdi_low"] > 0.3  # behavior tracks agents' true skill
    assert ((d.r2["hdi_low"] <= d.r2["mean"]) & (d.r2["mean"] <= d.r2["hdi_high"])).all()


@pytest.mark.slow
def test_root_causes_and_quadrant(fitted):
    d, truth = fitted
    rc = d.root_causes[(d.root_causes["outcome"] == "csat") & (d.root_causes["factor"] == "contact_reason")]
    assert rc.iloc[0]["value"] == truth["worst_reason"] and rc.iloc[0]["prob_worse"] > 0.95
    v = d.variance[d.variance["outcome"] == "csat"].set_index("component")
    assert v["share"].sum() == pytest.approx(1.0, abs=0.01)
    assert v.loc[["agent", "contact_reason", "channel"], "systematic_share"].sum() == pytest.approx(1.0, abs=1e-6)
    q = d.quadrant
    assert len(q) == 60 and set(q["quadrant"]) <= {
        "high QA, good outcomes", "high QA, poor outcomes", "low QA, good outcomes", "low QA, poor outcomes"
    }  # fmt: skip
    assert q["n_responses"].sum() == int(d.r2.iloc[0]["n_obs"])


@pytest.mark.slow
def test_outputs_summary_dict_figures_and_tables(fitted, tmp_path):
    d, _ = fitted
    assert isinstance(d, Diagnosis)
    text = summary_text(d)
    assert "CSAT" in text and "behavior score explains" in text and "100 for whom?" in text
    assert set(d.diagnostics) >= {"csat/qa_score", "csat/items", "repeat_contact/root_causes"}
    for diag in d.diagnostics.values():  # cheap settings (2 chains x 500): the strict bars are the product's
        assert diag.rhat_max < 1.05 and diag.divergences == 0 and diag.chains == 2
    payload = json.loads(json.dumps(d.to_dict()))
    assert payload["r2"] and payload["items"] and payload["diagnostics"]["csat/items"]["chains"] == 2
    figs = figures(d)
    assert {"r2", "items", "quadrant", "root_causes"} <= set(figs)
    assert "agent_id" in json.dumps(figs["quadrant"].to_plotly_json()["data"][0]["hovertemplate"])
    from qmsprint.store import save_diagnosis

    tables = d.tables()
    assert list(tables) == ["r2", "items", "quadrant", "root_causes", "variance", "reliability"]
    assert all(tables[name] is getattr(d, name) for name in tables)
    paths = save_diagnosis(d.to_dict(), tables, tmp_path / "diag")
    assert {p.name for p in paths} >= {"diagnosis.json", "items.csv", "quadrant.csv", "r2.csv"}
    assert all(p.exists() for p in paths)
    assert json.loads((tmp_path / "diag" / "diagnosis.json").read_text())["summary"] == text
    with pytest.raises(BundleError):
        save_diagnosis(d.to_dict(), tables, tmp_path / "diag")


@pytest.mark.slow
def test_the_bare_minimum_of_columns_still_diagnoses_and_says_what_it_cannot_tell():
    df, _ = make_frame(n_agents=12, per_agent=100)
    d = diagnose(make_spec(chains=1, draws=100, tune=100), frame=df[["agent_id", "qa_score", "csat"]])
    assert set(d.r2["score"]) == {"qa_score"} and d.items.empty and len(d.quadrant) == 12
    text = summary_text(d)
    assert "without channel or contact-reason data the system's share cannot be estimated" in text
    assert "adjusted for contact mix" not in text and "no checklist item columns" in text
    assert "Caution: some fits missed the convergence bars" in text  # 1 chain: R-hat cannot be checked


# ------------------------------------------------------------------------------------ CLI


@pytest.mark.slow
def test_cli_diagnose_prints_the_summary_and_writes_the_folder(tmp_path):
    data = pytest.importorskip("qmsprint.data", reason="the data loader is not available yet")
    if not hasattr(data, "load_frame"):
        pytest.skip("qmsprint.data.load_frame is not available yet")
    from typer.testing import CliRunner

    from qmsprint.cli import app

    df, _ = make_frame(n_agents=12, per_agent=150, seed=5)
    n = len(df)
    df.insert(0, "interaction_id", [f"I{i}" for i in range(n)])
    df.insert(1, "timestamp", pd.Timestamp("2026-01-05") + pd.to_timedelta(np.arange(n) % (50 * 24), unit="h"))
    df.insert(2, "customer_id", [f"C{i % 900}" for i in range(n)])
    df["arm"] = "checklist"
    df["handle_time"] = 300.0
    df.to_parquet(tmp_path / "interactions.parquet")
    (tmp_path / "spec.toml").write_text(
        'name = "cli-diag"\ndesign = "ab"\n[arms]\ncontrol = "checklist"\ntreatment = "behavior"\n'
        '[data]\nsource = "interactions.parquet"\n[[metrics]]\nname = "csat"\n'
        "[sampler]\ndraws = 100\ntune = 100\nchains = 1\n"
    )
    result = CliRunner().invoke(app, ["diagnose", str(tmp_path / "spec.toml"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "Diagnosis of cli-diag" in result.output and "CSAT" in result.output
    (out,) = (tmp_path / "runs").iterdir()  # a new folder in the spec's runs folder, which the app lists
    assert out.name.startswith("cli-diag-diagnosis-") and f"qmsprint app {out}" in result.output
    assert (out / "diagnosis.json").exists() and (out / "items.csv").exists()
    from qmsprint.store import list_runs, load_diagnosis

    assert list_runs(tmp_path / "runs", diagnoses=True) == [out] and list_runs(tmp_path / "runs") == []
    assert load_diagnosis(out).spec["name"] == "cli-diag"
    again = CliRunner().invoke(app, ["diagnose", str(tmp_path / "spec.toml"), "--out", str(out), "--quiet"])
    assert again.exit_code == 5 and "already exists" in again.output


@pytest.mark.parametrize(("sampler", "expected"), [({}, 0.8), ({"target_accept": 0.97}, 0.97)])
def test_diagnosis_samples_at_0_8_unless_the_spec_sets_a_target_accept(monkeypatch, tmp_path, sampler, expected):
    import tomllib

    from qmsprint.diagnosis import blocks as dblocks
    from qmsprint.store.spec_toml import spec_to_toml

    seen = []

    def fake_fit_parts(arrays, **kw):
        seen.append((kw["target_accept"], kw["large_accept"]))
        return []

    monkeypatch.setattr(dblocks, "fit_parts", fake_fit_parts)
    spec = make_spec(**sampler)
    # the spec a run folder keeps (defaults filled in) must sample the diagnosis the same way
    again = parse_spec(tomllib.loads(spec_to_toml(spec)), base_dir=tmp_path)
    for s in (spec, again):
        assert list(dblocks.fit_blocks([], s, 100, 100, lambda *a: None)) == []
        assert s.sampler.accept(0.95) == (0.95 if not sampler else expected)  # the effect models' default
    large = 0.7 if not sampler else None  # a large part's first sampling: its own default unless the spec sets one
    assert seen == [(expected, large), (expected, large)]
