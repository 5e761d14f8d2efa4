"""What the terms of issue 14 cost: the bundled pilots estimated with and without them; appended to RESULTS.md.

For each bundled pilot (``experiments/demo_ab.toml``, ``experiments/demo_did.toml``) the effect
estimation (:func:`qmsprint.experiments.estimate`, all metrics of the spec, its sampler) runs in a
fresh process per variant:

``all terms``
    The default model.
``no unit x period``
    DiD only: without the team x period, site x period and agent x period effects (the cell design
    built with ``period_effects = False``; this switch is not offered to users). An A/B pilot with a
    baseline fits the pilot period alone, with the baseline as a covariate: it has no such terms.
``no baseline``
    A/B only: without each unit's baseline level (``[model] baseline_adjust = false``).

Each variant runs twice in turn, sharing the compiled-model cache: the first process compiles
what the cache does not hold yet, the second loads it. Reported per variant: the wall time of the
estimation in both processes, the retries, and each metric's 94% interval width on its headline
scale (what the terms change).

    .venv/bin/python bench/bench_terms.py
"""

from __future__ import annotations

from pathlib import Path

from _common import ROOT, append, child_json, load, machine

CHILD = r"""
import json, sys, time
from qmsprint.data import prepare
from qmsprint.experiments import estimate
from qmsprint.models import terms
from qmsprint.spec import load_spec

path, variant = sys.argv[1], sys.argv[2]
spec = load_spec(path)
if variant == "no baseline":
    spec = spec.model_copy(update={"model": spec.model.model_copy(update={"baseline_adjust": False})})
if variant == "no unit x period":
    post = terms.CellDesign.__post_init__

    def without(self):
        post(self)
        self.period_effects = False

    terms.CellDesign.__post_init__ = without
cells = prepare(spec).cells
t = time.perf_counter()
results = estimate(spec, cells)
seconds = time.perf_counter() - t
print(json.dumps({
    "seconds": seconds,
    "metrics": {
        r.metric: {
            "width": r.headline.hdi_high - r.headline.hdi_low,
            "attempts": r.diagnostics.attempts,
            "converged": r.diagnostics.converged,
        }
        for r in results
    },
}))
"""

PILOTS = {
    "demo_ab": ("all terms", "no baseline"),
    "demo_did": ("all terms", "no unit x period"),
}


def _estimate(spec: Path, variant: str) -> dict:
    return child_json(["-c", CHILD, str(spec), variant])


def main() -> None:
    start = load()
    rows = []
    for pilot, variants in PILOTS.items():
        spec = ROOT / "experiments" / f"{pilot}.toml"
        for variant in variants:
            first, second = _estimate(spec, variant), _estimate(spec, variant)
            print(f"{pilot} / {variant}: {first['seconds']:.1f} s, then {second['seconds']:.1f} s", flush=True)
            rows.append((pilot, variant, first, second))
    metrics = list(rows[0][2]["metrics"])
    lines = [
        machine(start),
        "Effect estimation of the bundled pilots (all metrics of the spec, its sampler), each variant in two "
        "fresh processes in turn sharing the compiled-model cache (the first compiles what the cache lacks, "
        "the second loads it). Width: the 94% interval of the headline effect (second process). Attempts: "
        "the metrics sampled more than once (none: every metric at its first sampling).",
        "",
        "| pilot | model | first process s | second process s | attempts | "
        + " | ".join(f"{m} width" for m in metrics)
        + " |",
        "|---|---|---:|---:|---|" + "---:|" * len(metrics),
    ]
    for pilot, variant, first, second in rows:
        ms = second["metrics"]
        attempts = ", ".join(f"{m} {v['attempts']}" for m, v in ms.items() if v["attempts"] > 1) or "none"
        if not all(v["converged"] for v in ms.values()):
            attempts += " (not all converged)"
        widths = " | ".join(f"{ms[m]['width']:.3g}" if m in ms else "" for m in metrics)
        lines.append(
            f"| {pilot} | {variant} | {first['seconds']:.1f} | {second['seconds']:.1f} | {attempts} | {widths} |"
        )
    append("Time cost of the unit x period and baseline terms (bench/bench_terms.py)", lines)


if __name__ == "__main__":
    main()
