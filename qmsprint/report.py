"""Self-contained HTML report of a run bundle (opens offline: plotly.js is embedded once).

Sections, in order: the recommendation (call, headline, reasons, caveats, how much more data), a line when
a prior from an earlier run was used, per-metric effects with intervals, probabilities and a plain-language
sentence (with the posterior of each headline effect against its smallest effect worth acting on), segment
breakdown, business impact, data quality (warnings, health checks, row counts), sampler diagnostics, the
checklist diagnosis and the balance table when the run has them, and provenance.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path
from typing import Any

import pandas as pd

from qmsprint.errors import BundleError
from qmsprint.present import figures, rollout
from qmsprint.present import format as fmt
from qmsprint.present.text import explain
from qmsprint.present.values import value_rows
from qmsprint.privacy import redact_text
from qmsprint.store import RunBundle, load_run, write_file_atomic
from qmsprint.words import counted


def _hex(tone: str) -> str:
    return figures.TONE_HEX.get(tone, figures.NEUTRAL)


TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
 body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 0; color: #1d3557;
        background: #f7f7f9; }
 main { max-width: 1100px; margin: 0 auto; padding: 24px 32px 64px; background: #fff; }
 h1 { margin-bottom: 4px; } h2 { border-bottom: 2px solid #e5e5ea; padding-bottom: 4px; margin-top: 40px; }
 .sub { color: #555; margin-top: 0; }
 .call { border-left: 10px solid {{ action_colour }}; background: #fafafa; padding: 16px 20px; margin: 16px 0; }
 .call .action { font-size: 1.6em; font-weight: 700; color: {{ action_colour }}; }
 .call .headline { font-size: 1.15em; margin-top: 6px; }
 table { border-collapse: collapse; width: 100%; margin: 12px 0; font-size: 0.92em; }
 th, td { border-bottom: 1px solid #e5e5ea; padding: 6px 8px; text-align: left; vertical-align: top; }
 th { background: #f1f1f5; }
 td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
 .pill { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 0.85em; }
 .note { background: #eef6fb; border-left: 4px solid #457b9d; padding: 8px 12px; margin: 12px 0; }
 .caveats li { color: #8a4b08; }
 .muted { color: #777; font-size: 0.88em; }
 pre { white-space: pre-wrap; background: #f6f6f8; padding: 10px; }
</style>
</head>
<body><main>
<h1>{{ title }}</h1>
<p class="sub">{{ subtitle }}</p>

<section id="recommendation">
<h2>Recommendation</h2>
<div class="call">
  <div class="action">{{ action_label }}</div>
  <div class="headline">{{ rec.headline }}</div>
</div>
{% if prior_line %}<div class="note" id="prior">{{ prior_line }}</div>{% endif %}
{% if rec.reasons %}<h3>Why</h3><ul>{% for r in rec.reasons %}<li>{{ r }}</li>{% endfor %}</ul>{% endif %}
{% if rec.caveats %}<h3>What qualifies this</h3>
<ul class="caveats">{% for c in rec.caveats %}<li>{{ c }}</li>{% endfor %}</ul>{% endif %}
{% if rec.extend and rec.extend.sentence %}<p><b>More data:</b> {{ rec.extend.sentence }}</p>{% endif %}
</section>

<section id="effects">
<h2>Effects by metric</h2>
<p class="muted">Effect = {{ treatment }} minus {{ control }}{% if design == "did" %} (difference in differences:
change from baseline to pilot, compared between the groups){% endif %}. Intervals are {{ hdi_pct }}% highest-density
intervals; probabilities are posterior probabilities.</p>
<table>
<tr><th>Metric</th><th>Role</th><th>Verdict</th><th>Effect</th><th>Interval</th><th>P(better)</th>
<th>P(better by at least the threshold)</th><th>P(no meaningful change)</th></tr>
{% for m in metrics %}
<tr><td>{{ m.label }}</td><td>{{ m.role }}</td>
<td><span class="pill" style="background: {{ m.colour }}">{{ m.verdict }}</span></td>
<td class="num">{{ m.effect }}</td><td class="num">{{ m.interval }}</td><td class="num">{{ m.p_better }}</td>
<td class="num">{{ m.p_meaningful }}</td><td class="num">{{ m.p_equivalent }}</td></tr>
{% endfor %}
</table>
<ul>{% for m in metrics %}<li><b>{{ m.label }}.</b> {{ m.sentence }}</li>{% endfor %}</ul>
{% if other_effects %}<h3>All scales</h3>
<table><tr><th>Metric</th><th>Scale</th><th>{{ control }}</th><th>{{ treatment }}</th><th>Effect</th>
<th>Interval</th><th>P(better)</th></tr>
{% for e in other_effects %}<tr><td>{{ e.label }}</td><td>{{ e.scale }}</td><td class="num">{{ e.control }}</td>
<td class="num">{{ e.treatment }}</td><td class="num">{{ e.effect }}</td><td class="num">{{ e.interval }}</td>
<td class="num">{{ e.p_better }}</td></tr>{% endfor %}</table>{% endif %}
{{ fig_effects | safe }}
</section>{{ rollout_html | safe }}

<section id="segments">
<h2>Segments</h2>
{% if segment_sentences %}<ul>{% for s in segment_sentences %}<li>{{ s }}</li>{% endfor %}</ul>{% endif %}
{% if segments %}
<table><tr><th>Metric</th><th>Segment</th><th>Value</th><th>Effect</th><th>Interval</th><th>P(better)</th></tr>
{% for s in segments %}<tr><td>{{ s.label }}</td><td>{{ s.segment }}</td><td>{{ s.value }}</td>
<td class="num">{{ s.effect }}</td><td class="num">{{ s.interval }}</td><td class="num">{{ s.p_better }}</td></tr>
{% endfor %}</table>
{{ fig_segments | safe }}
{% else %}<p>No segment breakdown in this run (add <code>segments = ["channel", ...]</code> to the experiment file).</p>
{% endif %}
</section>

<section id="impact">
<h2>Business impact</h2>
{% if impact %}
<p>{{ impact.sentence }}</p>
<table><tr><th></th><th>Mean</th><th>{{ hdi_pct }}% interval</th></tr>
{% if impact.repeat %}<tr><td>Repeat contacts avoided per month</td><td class="num">{{ impact.avoided }}</td>
<td class="num">{{ impact.avoided_interval }}</td></tr>
<tr><td>Value of contacts avoided per month</td><td class="num">{{ impact.value }}</td>
<td class="num">{{ impact.value_interval }}</td></tr>{% endif %}
{% for v in impact.metric_values %}<tr><td>{{ v.what }}</td><td class="num">{{ v.value }}</td>
<td class="num">{{ v.interval }}</td></tr>{% endfor %}
{% if impact.ht_cost %}<tr><td>Cost of the handle-time change per month</td><td class="num">{{ impact.ht_cost }}</td>
<td class="num">{{ impact.ht_cost_interval }}</td></tr>{% endif %}
{% if impact.program %}<tr><td>Program cost per month</td><td class="num">{{ impact.program }}</td>
<td></td></tr>{% endif %}
<tr><td><b>Net value per month</b></td><td class="num"><b>{{ impact.net }}</b></td>
<td class="num">{{ impact.net_interval }}</td></tr>
<tr><td>Probability of a net saving</td><td class="num">{{ impact.p_net }}</td><td></td></tr>
</table>
{% if impact.net_sentence %}<p>{{ impact.net_sentence }}</p>{% endif %}
<p class="muted">Inputs: {{ impact.inputs }}.</p>
{{ fig_impact | safe }}
{% else %}<p>No repeat-contact metric and no metric with a value_per_unit in this run, so no money figure.</p>
{% endif %}
</section>

<section id="data-quality">
<h2>Data quality</h2>
<table>{% for k, v in counts %}<tr><td>{{ k }}</td><td class="num">{{ v }}</td></tr>{% endfor %}</table>
<h3>Health checks</h3>
{% if health %}<table><tr><th>Check</th><th>Status</th><th>Finding</th></tr>
{% for h in health %}<tr><td>{{ h.name }}</td>
<td><span class="pill" style="background: {{ h.colour }}">{{ h.status }}</span></td><td>{{ h.message }}</td></tr>
{% endfor %}</table>{% else %}<p>No health checks recorded.</p>{% endif %}
<h3>Warnings</h3>
{% if warnings %}<ul>{% for w in warnings %}<li>{{ w }}</li>{% endfor %}</ul>
{% else %}<p>No data warnings.</p>{% endif %}
</section>

<section id="diagnostics">
<h2>Diagnostics</h2>
<p class="muted">A fit can be trusted when R-hat &le; 1.01 and bulk and tail ESS &ge; 400 for the effects,
R-hat &le; 1.05 and ESS &ge; 100 for the variance components (spread), no divergences and E-BFMI &ge; 0.3.</p>
<table><tr>{% for h in diagnostics.header %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in diagnostics.rows %}<tr>{% for v, num in row %}<td{% if num %} class="num"{% endif %}>{{ v }}</td>
{%- endfor %}</tr>
{% endfor %}</table>
{% if rec.notes %}<h3>Model notes</h3><ul>{% for n in rec.notes %}<li>{{ n }}</li>{% endfor %}</ul>{% endif %}
</section>

{% if diagnosis %}
<section id="diagnosis">
<h2>Checklist diagnosis (baseline)</h2>
<pre>{{ diagnosis }}</pre>
</section>
{% endif %}

{% if design_html %}
<section id="design">
<h2>Balance by arm</h2>
{{ design_html | safe }}
</section>
{% endif %}

<section id="provenance">
<h2>Provenance</h2>
<table>{% for k, v in provenance %}<tr><td>{{ k }}</td><td>{{ v }}</td></tr>{% endfor %}</table>
</section>
<p class="muted">Written by qmsprint {{ version }} on {{ today }} from run folder {{ run_name }}.</p>
</main></body></html>
"""


def _interval(lo: float, hi: float, unit: str) -> str:
    return fmt.range_text(lo, hi, unit, style="plain")


def _value(x: float, unit: str) -> str:
    return fmt.num(x, unit, signed=True, style="plain")


class _Figures:
    """Plotly figures as HTML fragments; plotly.js is embedded with the first one only."""

    def __init__(self) -> None:
        self.embedded = False

    def html(self, fig: Any) -> str:
        if fig is None or not fig.data:
            return ""
        out = fig.to_html(full_html=False, include_plotlyjs=not self.embedded, config={"displaylogo": False})
        self.embedded = True
        return out


def _effects_html(run: RunBundle, figs: _Figures) -> str:
    """The posterior of each headline effect against its smallest effect worth acting on."""
    parts = []
    for r in run.results:
        draws = run.draws.get(r.metric)
        if draws is None or len(draws) < 2:
            continue
        m = run.spec.metric(r.metric)
        h = r.headline
        fig = figures.posterior_figure(draws, r.metric, h.unit, m.threshold, m.better, (h.hdi_low, h.hdi_high))
        parts.append(figs.html(fig))
    return "\n".join(parts)


def _segments_html(run: RunBundle, figs: _Figures) -> str:
    """One forest plot per metric with segment effects."""
    parts = []
    for r in run.results:
        if r.segments:
            m = run.spec.metric(r.metric)
            parts.append(figs.html(figures.forest_figure(r.segments, r.metric, r.headline.unit, m.threshold, m.better)))
    return "\n".join(parts)


def _metric_rows(run: RunBundle, rec: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(headline row per metric, row per metric x scale) of the effects tables."""
    metrics, other = [], []
    for r in run.results:
        v = rec.verdicts.get(r.metric)
        h = r.headline
        metrics.append(
            {
                "label": fmt.metric_label(r.metric),
                "role": fmt.role_label(v.role if v else run.spec.metric(r.metric).role),
                "verdict": fmt.verdict_label(v.verdict) if v else "n/a",
                "colour": _hex(fmt.VERDICT_TONES.get(v.verdict, "gray")) if v else figures.NEUTRAL,
                "effect": _value(v.mean if v else h.mean, h.unit),
                "interval": _interval(v.hdi_low, v.hdi_high, h.unit) if v else _interval(h.hdi_low, h.hdi_high, h.unit),
                "p_better": fmt.pct(v.prob_better if v else h.prob_improve),
                "p_meaningful": fmt.pct(v.prob_meaningful if v else h.prob_meaningful),
                "p_equivalent": fmt.pct(v.prob_equivalent) if v else "n/a",
                "sentence": v.sentence if v else "",
            }
        )
        for e in r.effects:
            other.append(
                {
                    "label": fmt.metric_label(r.metric),
                    "scale": fmt.scale_label(r.metric, e.scale),
                    "control": fmt.level_text(e.control, r.metric, e.scale),
                    "treatment": fmt.level_text(e.treatment, r.metric, e.scale),
                    "effect": _value(e.mean, e.unit),
                    "interval": _interval(e.hdi_low, e.hdi_high, e.unit),
                    "p_better": fmt.pct(e.prob_improve),
                }
            )
    return metrics, other


def _impact_rows(imp: dict[str, Any]) -> dict[str, Any]:
    cur = imp["currency"]
    av, val = imp["contacts_avoided_per_month"], imp["value_per_month"]
    net = imp.get("net_value_per_month") or val
    ht = imp.get("handle_time_cost_per_month")
    program = imp.get("program_cost_per_month") or 0.0
    inputs = f"{fmt.whole(imp['contacts_per_month'])} contacts a month, {cur} {imp['cost_per_contact']:,.2f} a contact"
    if imp.get("handle_time_counted"):
        inputs += f", {cur} {imp['cost_per_agent_minute']:,.2f} per agent minute"
    if program:
        inputs += f", program {fmt.money(program, cur)} a month"
    for v in imp.get("metric_values") or []:
        inputs += f", {v['label']} {fmt.money(v['value_per_unit'], cur)} a unit"
    return {
        "net_sentence": imp.get("net_sentence", ""),
        "ht_cost": fmt.money(ht["mean"], cur) if ht else "",
        "ht_cost_interval": f"{fmt.money(ht['hdi_low'], cur)} to {fmt.money(ht['hdi_high'], cur)}" if ht else "",
        "program": fmt.money(program, cur) if program else "",
        "net": fmt.money(net["mean"], cur),
        "net_interval": f"{fmt.money(net['hdi_low'], cur)} to {fmt.money(net['hdi_high'], cur)}",
        "p_net": fmt.pct(imp.get("prob_net_saving", imp["prob_saves"])),
        "sentence": imp["sentence"],
        "avoided": fmt.whole(av["mean"]),
        "avoided_interval": f"{fmt.whole(av['hdi_low'])} to {fmt.whole(av['hdi_high'])}",
        "value": fmt.money(val["mean"], cur),
        "value_interval": f"{fmt.money(val['hdi_low'], cur)} to {fmt.money(val['hdi_high'], cur)}",
        "p_save": fmt.pct(imp["prob_saves"]),
        "inputs": f"{inputs} (experiment file, [business])",
        "repeat": bool(imp.get("metric", "repeat_contact")),
        "metric_values": value_rows(imp),
    }


def _diagnostics_rows(run: RunBundle) -> dict[str, Any]:
    """The diagnostics table as the app's Data quality page shows it (:func:`fmt.diagnostics_table`)."""
    table = fmt.diagnostics_table(run.diagnostics)
    text = {"Metric", "Converged", "Problems"}
    return {
        "header": list(table.columns),
        "rows": [[(v, c not in text) for c, v in zip(table.columns, r, strict=True)] for r in table.to_numpy()],
    }


def render_report(run: RunBundle) -> str:
    """The report of a loaded run as one HTML string.

    The recommendation is worded from the run's numbers (:func:`qmsprint.present.text.explain`),
    with the same words the run folder stores.
    """
    import jinja2

    import qmsprint

    spec = run.spec
    rec = explain(run.recommendation, spec, run.results, run.health)
    prov = run.provenance
    figs = _Figures()
    metrics, other = _metric_rows(run, rec)
    fig_effects = _effects_html(run, figs)

    seg_rows = [e.to_dict() for r in run.results for e in r.segments]
    segments = [
        {
            "label": fmt.metric_label(s["metric"]),
            "segment": str(s["segment"]).replace("_", " "),
            "value": s["segment_value"],
            "effect": _value(s["mean"], s["unit"]),
            "interval": _interval(s["hdi_low"], s["hdi_high"], s["unit"]),
            "p_better": fmt.pct(s["prob_improve"]),
        }
        for s in seg_rows
    ]
    fig_segments = _segments_html(run, figs)

    impact = None
    fig_impact = ""
    if rec.impact:
        impact = _impact_rows(rec.impact)
        fig_impact = figs.html(figures.impact_figure(dict(run.draws), rec.impact))

    counts = [
        (label, f"{prov[key]:,}" if isinstance(prov.get(key), int | float) else "n/a")
        for key, label in (
            ("rows_read", "Rows read"),
            ("rows_used", "Rows used"),
            ("rows_outside_periods", "Rows outside the baseline and pilot periods"),
            ("repeat_censored", "Contacts whose repeat window runs past the end of the data"),
        )
    ]
    counts.append(("Agents (pseudonymised)", f"{prov.get('agents_pseudonymised', 'n/a')}"))
    health = [
        {
            "name": h.name,
            "status": fmt.status_label(h.status),
            "message": h.message,
            "colour": _hex(fmt.STATUS_TONES.get(h.status, "gray")),
        }
        for h in sorted(run.health, key=lambda h: {"alert": 0, "warn": 1}.get(h.status, 2))
    ]
    prior = prov.get("prior_from")
    prior_line = ""
    if prior:
        prior_line = (
            f"This run used the posterior of an earlier run, {prior['run']}"
            + (f" ({str(prior.get('created', ''))[:10]})" if prior.get("created") else "")
            + f", as its prior for {', '.join(fmt.metric_label(m) for m in prior.get('metrics', {}))}: evidence "
            "accumulates across pilots, so these results are not from this pilot's data alone."
        )
        if prior.get("checks"):
            prior_line += " Checked before fitting: " + "; ".join(prior["checks"]) + "."
        shared = prior.get("units_in_common") or {}
        if shared.get("count"):
            prior_line += (
                f" The two runs share {counted(shared['count'], shared.get('unit', 'unit'))}: their lasting "
                "differences count in both, so the combined evidence is somewhat overconfident."
            )
    diagnosis = None
    if run.diagnosis:
        diagnosis = run.diagnosis.get("summary") or "Diagnosis computed; see diagnosis.json in the run folder."
    design = ""
    if run.design:
        table = run.design.get("table") if isinstance(run.design, dict) else None
        if isinstance(table, list) and table:
            design = pd.DataFrame(table).to_html(index=False, border=0, float_format=lambda x: f"{x:,.3f}")
        else:
            design = f"<pre>{html.escape(str(run.design))}</pre>"
    provenance = [
        ("Run", run.name),
        ("Created", run.created),
        ("Experiment file", prov.get("spec_file") or "(built in code)"),
        ("Data source", redact_text(str(prov.get("data_source") or "n/a"))),  # no folders or connection strings
        ("Data fingerprint (sha256)", prov.get("data_fingerprint") or "n/a"),
        ("Seed", prov.get("seed")),
        ("Sampler", ", ".join(f"{k} {v}" for k, v in (prov.get("sampler") or {}).items())),
        ("Versions", ", ".join(f"{k} {v}" for k, v in (prov.get("versions") or {}).items())),
    ]
    arms = spec.arms
    subtitle = " · ".join(
        x
        for x in (
            spec.client,
            spec.description,
            f"{rollout.design_label(spec.design)}: {arms.treatment_display} vs {arms.control_label}",
            f"run {run.name}",
        )
        if x
    )
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(TEMPLATE).render(
        title=f"{spec.name}: pilot report",
        subtitle=subtitle,
        rec=rec,
        action_label=rec.action_label,
        action_colour=_hex(fmt.ACTION_TONES.get(rec.action, "gray")),
        prior_line=prior_line,
        metrics=metrics,
        other_effects=other,
        treatment=arms.treatment_display,
        control=arms.control_label,
        design=spec.design,
        hdi_pct=f"{100 * spec.model.hdi_prob:.0f}",
        fig_effects=fig_effects,
        rollout_html=rollout.section_html(run, figs.html),
        segment_sentences=[s["sentence"] for s in rec.segments],
        segments=segments,
        fig_segments=fig_segments,
        impact=impact,
        fig_impact=fig_impact,
        counts=counts,
        health=health,
        warnings=[redact_text(str(w)) for w in run.warnings],
        diagnostics=_diagnostics_rows(run),
        diagnosis=diagnosis,
        design_html=design,
        provenance=provenance,
        version=qmsprint.__version__,
        today=dt.date.today().isoformat(),
        run_name=run.name,
    )


def write_report(run_folder: str | Path, out: str | Path | None = None) -> Path:
    """Write the self-contained HTML report of a run.

    Parameters
    ----------
    run_folder
        A run folder written by ``qmsprint run``.
    out
        HTML file to write (default: ``report.html`` in the run folder). Written atomically.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    BundleError
        If the run folder is missing or damaged, or the file cannot be written.

    """
    run = load_run(run_folder)
    target = Path(out) if out is not None else Path(run_folder) / "report.html"
    text = render_report(run)
    try:
        write_file_atomic(target, text)
    except OSError as err:
        raise BundleError(f"cannot write the report to {target}: {err}") from None
    return target
