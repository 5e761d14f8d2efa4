"""HTML report (qmsprint.report): sections, plain-language content, self-contained (no external scripts)."""

from __future__ import annotations

import html
import re
import shutil

import pytest
from test_store import write

from qmsprint.errors import BundleError
from qmsprint.present import format as fmt
from qmsprint.report import render_report, write_report
from qmsprint.store import load_run


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    run = write(tmp_path_factory.mktemp("runs"))
    path = write_report(run)
    return run, path, path.read_text(encoding="utf-8")


def test_written_into_the_run_folder_and_bundle_still_loads(report):
    run, path, _ = report
    assert path == run / "report.html"
    load_run(run)  # an extra file does not damage the bundle


def test_sections_in_order_with_the_recommendation_first(report):
    _, _, text = report
    ids = ["recommendation", "effects", "segments", "impact", "data-quality", "diagnostics", "provenance"]
    positions = [text.index(f'<section id="{i}">') for i in ids]
    assert positions == sorted(positions)
    rec = load_run(report[0]).recommendation
    assert "Scale up" in text[positions[0] : positions[1]]
    assert rec.headline in text


def test_plain_language_numbers(report):
    text = html.unescape(report[2])
    assert ">99% probability that CSAT improves by at least 0.1 points" in text
    assert "About 2,400 repeat contacts avoided per month" in text  # 2.0 pp of 120,000 contacts
    assert "EUR 15,600 a month" in text  # x EUR 6.50
    assert "works best in chat" in text
    assert "12 rows out of scale dropped" in text  # data warning
    assert "Agents split as planned." in text  # health check
    assert "R-hat" in text


def test_self_contained_no_external_scripts(report):
    _, _, text = report
    assert not re.search(r"<script[^>]*\bsrc\s*=", text, flags=re.I)
    assert not re.search(r"<link[^>]*\bhref\s*=\s*[\"']?https?:", text, flags=re.I)
    assert "cdn.plot.ly" not in text.split("<body>", 1)[1].split("<script", 1)[0]
    assert text.count("plotly.js v") <= 2 and "Plotly.newPlot" in text  # the library is embedded once
    assert len(re.findall(r"<script type=\"text/javascript\">/\*\*\s*\n?\s*\* plotly\.js", text)) <= 1


def test_prior_line_only_when_a_prior_was_used(report, tmp_path):
    run, _, text = report
    assert 'id="prior"' not in text
    copy = tmp_path / run.name
    shutil.copytree(run, copy)
    loaded = load_run(copy)
    loaded.provenance["prior_from"] = {
        "run": "pilot-march-20260401-090000",
        "created": "2026-04-01",
        "metrics": {"csat": [0.1, 0.05]},
    }
    page = render_report(loaded)
    assert "used the posterior of an earlier run, pilot-march-20260401-090000" in page
    assert 'id="prior"' in page


def test_custom_output_and_damaged_run(report, tmp_path):
    run, _, _ = report
    out = write_report(run, tmp_path / "deep" / "r.html")
    assert out.is_file() and out.read_text().startswith("<!DOCTYPE html>")
    with pytest.raises(BundleError):
        write_report(tmp_path / "not-a-run")


@pytest.mark.slow
def test_report_of_a_real_run(small_run, tmp_path):
    out = write_report(small_run, tmp_path / "small.html")
    text = out.read_text()
    for section in ("recommendation", "effects", "segments", "impact", "data-quality", "diagnostics"):
        assert f'<section id="{section}">' in text
    assert not re.search(r"<script[^>]*\bsrc\s*=", text, flags=re.I)
    # the variance components' bars and numbers are in the diagnostics table
    assert "<th>Spread R-hat (max)</th><th>Spread ESS (min)</th>" in text and "R-hat &le; 1.05" in text
    diag = text[text.index('<section id="diagnostics">') :]
    # the numbers as the app's Data quality page shows them (one formatter for both): R-hat, bulk and
    # tail ESS, then the variance components' R-hat and ESS
    num = r'<td class="num">{}</td>'
    row = "".join(num.format(x) for x in (r"1\.0\d\d", r"[\d,]+", r"[\d,]+", r"1\.0\d\d", r"[\d,]+"))
    assert re.search(f"<td>{fmt.metric_label('csat')}</td><td>(yes|no)</td>{row}", diag), diag[:2000]
