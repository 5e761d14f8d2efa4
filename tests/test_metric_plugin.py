"""A new outcome metric is one module: from the experiment file to a fitted effect and the app.

The toy metric below lives in a temporary folder, outside the package, and touches no other
module: the experiment file names it in ``metric_modules``, the data layer reads its column, the
models fit it by its family, effects use its scales, the run folder carries the module, and the
app shows it by its label.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from qmsprint import api, metrics
from qmsprint.spec import load_spec
from qmsprint.ui.config import ENV_MODE, ENV_RUN, ENV_RUNS_DIR

ROOT = Path(__file__).resolve().parents[1]

TOY = textwrap.dedent(
    '''
    """Transfers: the share of contacts passed on to another team (a toy metric for tests)."""

    from qmsprint.metrics.base import MetricDef, Scale, WeeklyView, count_of


    class Transfers(MetricDef):
        name = "transfer"
        label = "Transfers"
        plural = True
        family = "binomial"
        direction = "lower"
        unit = "pp"
        default_min_effect = 2.0
        column = "transferred"
        column_kind = "bool"
        scales = (Scale("rate", "pp", "rate", label="transfer rate"), Scale("relative", "%", "rate", relative=True))
        weekly = WeeklyView("transfer_yes", "transfer_n", 100.0, "transfers (%)")
        balance_label = "Baseline transfers (%)"

        def cell_columns(self, spec):
            return "transfer_n", ["transfer_yes"]

        def cell_aggregates(self, t, spec):
            return {"transfer_n": count_of(t.transferred.notnull()), "transfer_yes": count_of(t.transferred)}

        def weekly_aggregates(self, t, spec):
            return self.cell_aggregates(t, spec)


    METRIC = Transfers()
    '''
)


@pytest.fixture
def toy_pilot(tmp_path, _small_data):
    """The small simulated pilot plus a ``transferred`` column: 30% transfers, 20% on the new program."""
    path, truth = _small_data
    frame = pd.read_parquet(path)
    rng = np.random.default_rng(5)
    ts = pd.to_datetime(frame["timestamp"])
    pilot = ts >= pd.Timestamp(str(truth["periods"]["pilot"]["start"]))
    treated = pilot & (frame["arm"] == "behavior")
    frame["transferred"] = rng.random(len(frame)) < np.where(treated, 0.20, 0.30)
    data = tmp_path / "pilot.parquet"
    frame.to_parquet(data)
    (tmp_path / "transfer.py").write_text(TOY, encoding="utf-8")
    periods = truth["periods"]
    spec = tmp_path / "toy.toml"
    spec.write_text(
        textwrap.dedent(
            f"""
            name = "toy"
            design = "ab"
            metric_modules = ["transfer.py"]
            [arms]
            control = "checklist"
            treatment = "behavior"
            [data]
            source = "pilot.parquet"
            [periods]
            baseline = {{ start = {periods["baseline"]["start"]}, end = {periods["baseline"]["end"]} }}
            pilot = {{ start = {periods["pilot"]["start"]}, end = {periods["pilot"]["end"]} }}
            [[metrics]]
            name = "transfer"
            role = "primary"
            [sampler]
            draws = 500
            tune = 300
            chains = 2
            seed = 3
            [output]
            runs_dir = "runs"
            """
        ),
        encoding="utf-8",
    )
    yield spec
    metrics.unregister("transfer")


@pytest.mark.slow
def test_a_metric_module_flows_from_the_experiment_file_to_a_fitted_effect_and_the_app(toy_pilot, monkeypatch):
    spec = load_spec(toy_pilot)
    assert spec.metric("transfer").info.label == "Transfers"
    outcome = api.run_pilot(spec, diagnosis=False)
    run = api.open_folder(outcome.path)
    (result,) = run.results
    assert result.metric == "transfer" and result.headline.unit == "pp"
    # true effect -10 pp (20% vs 30%); the interval holds it and excludes no change
    assert result.headline.hdi_low < -10 < result.headline.hdi_high
    assert result.headline.hdi_high < 0
    assert (outcome.path / "metric_modules" / "transfer.py").is_file()

    # the run folder carries its metric: it opens in a process that never registered it
    metrics.unregister("transfer")
    assert "transfer" not in metrics.names()
    reopened = api.open_folder(outcome.path)
    assert reopened.spec.metric("transfer").info.label == "Transfers"

    monkeypatch.setenv(ENV_MODE, "workbench")
    monkeypatch.setenv(ENV_RUN, str(outcome.path))
    monkeypatch.setenv(ENV_RUNS_DIR, str(outcome.path.parent))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    at = at.switch_page("qmsprint/ui/pages/metrics.py").run()
    assert not at.exception, [e.value for e in at.exception]
    shown = "\n".join(
        str(e.value) for kind in ("title", "header", "subheader", "markdown", "caption") for e in getattr(at, kind)
    )
    assert "Transfers" in shown
