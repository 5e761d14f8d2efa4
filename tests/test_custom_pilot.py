"""A pilot with retention and sales columns, end to end from the experiment file (known truths).

The simulator adds a retention column, a sale flag, a cancellation date, a count and an amount with
known effects (:mod:`qmsprint.simulate.outcomes`); the experiment file declares them as custom
metrics (two derived from the contact log), with a value per unit for retention and sales. The run
folder must hold effects whose intervals cover the truths, decisions, the business value of both,
a report that names them and app pages that show them; a coverage study over several pilots checks
the intervals' calibration as the calibration bench does.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest
from scipy import stats
from streamlit.testing.v1 import AppTest

from qmsprint import api, metrics
from qmsprint.simulate import SimConfig, simulate
from qmsprint.simulate.outcomes import SimOutcome, add_outcomes
from qmsprint.spec import load_spec
from qmsprint.store import write_simulation
from qmsprint.ui.config import ENV_MODE, ENV_RUN, ENV_RUNS_DIR

ROOT = Path(__file__).resolve().parents[1]
OUTCOMES = (
    SimOutcome("Retained 90 days", "binary", 0.8, 0.35),
    SimOutcome("Sale", "derived", 0.06, 0.5, within_days=7, event="flag"),
    SimOutcome("Cancellation date", "derived", 0.03, -0.5, within_days=30, event="date", delay_days=8.0),
    SimOutcome("Products", "count", 0.5, 0.25, shape=1.5),
    SimOutcome("Basket value", "continuous", 40.0, 0.08, shape=3.0),
)
# metric name in the experiment file -> the simulated column it comes from
SOURCE = {
    "retained_90d": "Retained 90 days",
    "sale_7d": "Sale",
    "churn_30d": "Cancellation date",
    "products": "Products",
    "basket": "Basket value",
}
METRICS = """
[[metrics]]
name = "retained_90d"
column = "Retained 90 days"
type = "binary"
label = "Customers retained 90 days"
direction = "higher"
min_effect = 1.0
value_per_unit = 300.0

[[metrics]]
name = "sale_7d"
label = "Sales within 7 days"
within_days = 7
event_column = "Sale"
min_effect = 1.0
value_per_unit = 80.0

[[metrics]]
name = "churn_30d"
label = "Customers churned within 30 days"
within_days = 30
event_date_column = "Cancellation date"
direction = "lower"
role = "secondary"

[[metrics]]
name = "products"
column = "Products"
type = "count"
label = "Products per contact"
role = "secondary"
min_effect = 0.05

[[metrics]]
name = "basket"
column = "Basket value"
type = "continuous"
unit = "EUR"
label = "Basket value"
role = "guardrail"
min_effect = 2.0
"""


@pytest.fixture(autouse=True)
def _clean_registry():
    before = set(metrics.names())
    yield
    for name in set(metrics.names()) - before:
        metrics.unregister(name)


def _pilot(folder: Path, seed: int, hdi_prob: float = 0.94, draws: int = 500) -> tuple[Path, dict]:
    cfg = SimConfig(
        design="ab", n_agents=32, n_teams=8, unit="team", interactions_per_agent=120, weeks=6, baseline_weeks=2,
        seed=seed,
    )  # fmt: skip
    sim = add_outcomes(simulate(cfg), OUTCOMES)
    data = write_simulation(sim, folder / "pilot.parquet")[0]
    p = sim.truth["periods"]
    (folder / "pilot.toml").write_text(
        textwrap.dedent(
            f"""
            name = "retention-pilot"
            design = "ab"
            unit = "team"
            [arms]
            control = "checklist"
            treatment = "behavior"
            [data]
            source = "{data.name}"
            [periods]
            baseline = {{ start = {p["baseline"]["start"]}, end = {p["baseline"]["end"]} }}
            pilot = {{ start = {p["pilot"]["start"]}, end = {p["pilot"]["end"]} }}
            [business]
            currency = "EUR"
            contacts_per_month = 50000
            [model]
            hdi_prob = {hdi_prob}
            [sampler]
            draws = {draws}
            tune = {min(draws, 400)}
            chains = 2
            seed = {seed}
            [output]
            runs_dir = "runs"
            """
        )
        + METRICS,
        encoding="utf-8",
    )
    return folder / "pilot.toml", sim.truth


@pytest.mark.slow
def test_retention_and_sales_pilot_runs_end_to_end_from_the_experiment_file(tmp_path, monkeypatch):
    spec_path, truth = _pilot(tmp_path, seed=7)
    spec = load_spec(spec_path)
    outcome = api.run_pilot(spec, diagnosis=False)
    run = api.open_folder(outcome.path)
    by = {r.metric: r for r in run.results}
    assert list(by) == list(SOURCE)
    for name, column in SOURCE.items():
        h = by[name].headline
        t = truth["effects"][column][h.scale]
        assert h.hdi_low <= t <= h.hdi_high, (name, t, h)
        assert by[name].diagnostics.rhat_max < 1.05, name
    assert by["retained_90d"].headline.unit == "pp" and by["basket"].headline.unit == "EUR"
    assert by["products"].headline.scale == "mean" and by["churn_30d"].headline.scale == "rate"
    # decisions and the money: retention and sales are valued, their sum is the net value
    rec = run.recommendation
    assert set(rec.verdicts) == set(SOURCE) and rec.action in ("scale_up", "extend", "iterate", "stop", "none")
    values = {v["metric"]: v for v in rec.impact["metric_values"]}
    assert set(values) == {"retained_90d", "sale_7d"}
    true_value = (
        truth["effects"]["Retained 90 days"]["rate"] / 100 * 50000 * 300
        + truth["effects"]["Sale"]["rate"] / 100 * 50000 * 80
    )
    net = rec.impact["net_value_per_month"]
    assert net["hdi_low"] <= true_value <= net["hdi_high"]
    assert "Customers retained 90 days: about" in rec.impact["sentence"]
    # the report names both and their value
    html = api.report(outcome.path).read_text(encoding="utf-8")
    assert "Customers retained 90 days" in html and "Value of the change in Sales within 7 days per month" in html
    # a fresh process (no custom metric registered) opens the run from its own experiment file
    for name in SOURCE:
        metrics.unregister(name)
    assert api.open_folder(outcome.path).spec.metric("sale_7d").info.label == "Sales within 7 days"
    # the app's pages show them
    monkeypatch.setenv(ENV_MODE, "workbench")
    monkeypatch.setenv(ENV_RUN, str(outcome.path))
    monkeypatch.setenv(ENV_RUNS_DIR, str(outcome.path.parent))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    assert not at.exception, [e.value for e in at.exception]
    for page, expected in (("metrics", "Customers retained 90 days"), ("recommendation", "Sales within 7 days")):
        at = at.switch_page(f"qmsprint/ui/pages/{page}.py").run()
        assert not at.exception, [e.value for e in at.exception]
        shown = "\n".join(
            str(e.value)
            for kind in ("title", "header", "subheader", "markdown", "caption", "success", "warning", "info", "error")
            for e in getattr(at, kind)
        )
        assert expected in shown, page


@pytest.mark.slow
def test_intervals_of_custom_outcomes_cover_the_truth_at_nominal_rate(tmp_path):
    """4 pilots x 5 custom metrics, 90% intervals: coverage as the calibration bench checks it."""
    from qmsprint.data import prepare
    from qmsprint.experiments import estimate
    from qmsprint.models import many_pilots

    reps, hits, n = 4, {m: 0 for m in SOURCE}, 0
    for rep in range(reps):
        folder = tmp_path / f"p{rep}"
        folder.mkdir()
        spec_path, truth = _pilot(folder, seed=100 + rep, hdi_prob=0.9, draws=300)
        spec = load_spec(spec_path)
        with many_pilots():  # one compile per model structure for the four pilots
            results = estimate(spec, prepare(spec).cells)
        for r in results:
            t = truth["effects"][SOURCE[r.metric]][r.headline.scale]
            hits[r.metric] += int(r.headline.hdi_low <= t <= r.headline.hdi_high)
            n += 1
    assert sum(hits.values()) >= stats.binom.ppf(0.0005, n, 0.9), hits
    assert all(h >= stats.binom.ppf(0.005, reps, 0.9) for h in hits.values()), hits
    assert n == reps * len(SOURCE) and isinstance(dt.date.today(), dt.date)
