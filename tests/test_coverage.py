"""Columns a metric needs that are empty for part of the rows: `validate` and `run` say how many and what it affects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from qmsprint.data.coverage import missing_value_warnings
from qmsprint.errors import Problem


def _cells(n: list[int], repeat_n: list[int], ht_n: list[int], csat_n: list[int], fcr_n: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"n": n, "repeat_n": repeat_n, "ht_n": ht_n, "csat_n": csat_n, "fcr_n": fcr_n})


def test_known_shares_of_missing_customer_ids_and_handle_times(small_spec):
    from conftest import make_small_spec

    spec = make_small_spec(small_spec.data.source, {k: {"start": v.start, "end": v.end} for k, v in
                                                    (("baseline", small_spec.periods.baseline),
                                                     ("pilot", small_spec.periods.pilot))},
                           metrics=[{"name": "csat"}, {"name": "repeat_contact"}, {"name": "handle_time"},
                                    {"name": "fcr"}])  # fmt: skip
    # 1,000 interactions: 250 without a customer id (+ 50 censored at the end), 100 without a handle time;
    # FCR filled exactly where CSAT was answered (a survey question): no warning for it
    cells = _cells([600, 400], [420, 280], [540, 360], [150, 90], [150, 90])
    warnings = missing_value_warnings(spec, cells, censored=50)
    assert [w.where for w in warnings] == ["customer_id", "handle_time"]
    customer, handle = warnings
    assert customer.count == 250 and "25.0% of the interactions" in customer.message
    assert "(250 of 1,000)" in customer.message and "repeat contacts are estimated from the other" in customer.message
    assert handle.count == 100 and "10.0%" in handle.message and "handle time is estimated" in handle.message
    complete = _cells([600, 400], [590, 360], [600, 400], [150, 90], [150, 90])
    assert missing_value_warnings(spec, complete, censored=50) == []
    fcr_apart = _cells([600, 400], [590, 360], [600, 400], [150, 90], [500, 300])  # not a survey question
    assert [w.where for w in missing_value_warnings(spec, fcr_apart, censored=50)] == ["fcr"]


@pytest.fixture
def gappy_spec(small_spec, tmp_path):
    """The small pilot with 30% of customer ids removed."""
    frame = pd.read_parquet(small_spec.data.source)
    rng = np.random.default_rng(7)
    frame.loc[rng.random(len(frame)) < 0.3, "customer_id"] = None
    path = tmp_path / "gappy.parquet"
    frame.to_parquet(path)
    p = small_spec.periods
    toml = tmp_path / "gappy.toml"
    toml.write_text(
        f'name = "gappy"\ndesign = "ab"\n[arms]\ncontrol = "checklist"\ntreatment = "behavior"\n'
        f'[data]\nsource = "gappy.parquet"\n[periods]\n'
        f"baseline = {{ start = {p.baseline.start}, end = {p.baseline.end} }}\n"
        f"pilot = {{ start = {p.pilot.start}, end = {p.pilot.end} }}\n"
        f'[[metrics]]\nname = "csat"\n[[metrics]]\nname = "repeat_contact"\n'
    )
    return toml


def test_validate_warns_about_missing_customer_ids(gappy_spec):
    from qmsprint import api
    from qmsprint.cli import app

    result = api.validate(gappy_spec)
    (warning,) = [w for w in result.warnings if w.where == "customer_id"]
    assert 25 <= float(warning.message.split("% of")[0].split()[-1]) <= 35
    printed = CliRunner().invoke(app, ["validate", str(gappy_spec), "--quiet"])
    assert printed.exit_code == 0 and "warning: customer_id: customer id is empty for" in printed.output
    assert "repeat contacts are estimated from the other interactions only" in printed.output


def test_run_prints_the_data_warnings(gappy_spec, monkeypatch, tmp_path):
    from qmsprint.cli import app

    gap = Problem("customer_id", "customer id is empty for 30.0% of the interactions in the periods", count=3)

    class Outcome:  # the real run keeps prepare's warnings (warnings.json); here only the printing is tested
        path, converged, warnings = tmp_path / "run", True, [gap]

        def summary(self) -> str:
            return "summary"

    monkeypatch.setattr("qmsprint.api.run_pilot", lambda spec, **kw: Outcome())
    printed = CliRunner().invoke(app, ["run", str(gappy_spec), "--quiet"])
    assert printed.exit_code == 0, printed.output
    assert f"warning: {gap}" in printed.output
