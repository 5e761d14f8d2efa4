"""Where the sampling time of an estimation goes (run by hand); appends to bench/RESULTS.md.

For each metric of experiments/demo_ab.toml (or ``--spec``), built exactly as ``qmsprint run`` builds it (same cells,
same model, its compiled code from the cache when there), one line per target accept:

* the cost of one log-density and gradient evaluation (the model's PyTensor graph compiled with
  numba, as nutpie runs it), its cells and parameters;
* the leapfrog steps of the warm-up and of the kept draws (each step is one gradient), the steps per
  kept draw and the wall seconds of the sampling, with the spec's chains, draws, warm-up and seed;
* divergences and the smallest bulk and tail ESS and largest R-hat over the parameters the reported
  effects are computed from (the strict bars), so that the headroom over the bars can be read.

The default target accept of the effect models (0.95) is measured against nutpie's usual 0.9.

    python bench/bench_sampling.py                 # target accept 0.95 and 0.9
    python bench/bench_sampling.py --accept 0.95   # one target accept
    python bench/bench_sampling.py --spec experiments/demo_did.toml   # another experiment file
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import ROOT, append, load, machine

sys.path.insert(0, str(ROOT))
SPEC = ROOT / "experiments" / "demo_ab.toml"
SECONDS_PER_GRADIENT_TIMING = 2.0


def _gradient_us(block: Any) -> tuple[float, int]:
    """(microseconds per log-density + gradient evaluation, number of parameters) of a block's frozen model."""
    from pymc.model.transform.optimization import freeze_dims_and_data

    from qmsprint.models.blocks import build_model

    model = freeze_dims_and_data(build_model([block]))
    fn = model.logp_dlogp_function(ravel_inputs=True, mode="NUMBA")
    fn.set_extra_values({})
    x = np.concatenate([np.ravel(v) for v in model.initial_point().values()])
    fn(x)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < SECONDS_PER_GRADIENT_TIMING:
        fn(x)
        n += 1
    return 1e6 * (time.perf_counter() - t0) / n, int(x.size)


def main() -> None:
    from qmsprint.data import prepare
    from qmsprint.experiments import get_design
    from qmsprint.experiments.prepare import prepare_metric, select_cells
    from qmsprint.models import blocks as mb
    from qmsprint.models import sampling
    from qmsprint.spec import load_spec

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", type=Path, default=SPEC, help="experiment file (default: experiments/demo_ab.toml)")
    ap.add_argument("--accept", type=float, help="one target accept (default: 0.95 and 0.9)")
    args = ap.parse_args()
    spec_file = args.spec.resolve()
    if not spec_file.is_file():
        ap.error(f"--spec {args.spec}: no such experiment file")
    if args.accept is not None and not 0.5 < args.accept < 1:
        ap.error(f"--accept {args.accept}: a target accept is between 0.5 and 1")
    accepts = [0.95, 0.9] if args.accept is None else [args.accept]
    start = load()
    spec = load_spec(spec_file)
    s = spec.sampler
    design = get_design(spec.design)
    used = select_cells(spec, prepare(spec).cells, design)
    rows, totals = [], {a: 0.0 for a in accepts}
    for m in spec.metrics:
        block = prepare_metric(spec, used, m.name, design, None).block
        grad_us, n_par = _gradient_us(block)
        compiled = mb._compiled_block(block, s.backend)[0].compiled
        core = [n.replace(block.name, block.prefix, 1) for n in block.parameters()]
        for accept in accepts:
            t0 = time.perf_counter()
            idata = sampling._start_nutpie(  # as a run samples, with the warm-up kept to count its steps
                compiled,
                draws=s.draws,
                tune=s.tune,
                chains=s.chains,
                seed=s.seed,
                target_accept=accept,
                maxdepth=None,
                save_warmup=True,
            ).wait()
            wall = time.perf_counter() - t0
            totals[accept] += wall
            warm = int(idata.warmup_sample_stats["n_steps"].sum())
            kept = int(idata.sample_stats["n_steps"].sum())
            rhat, bulk, tail = sampling._worst(
                idata.posterior[[n for n in core if n in idata.posterior]], s.chains, s.draws
            )
            rows.append(
                f"| {m.name} | {block.family} | {block.design.n_cells:,} | {n_par} | {grad_us:.0f} | {accept} | "
                f"{warm:,} | {kept:,} | {kept / (s.chains * s.draws):.1f} | {wall:.1f} | "
                f"{int(idata.sample_stats['diverging'].sum())} | {bulk:.0f} / {tail:.0f} | {rhat:.3f} |"
            )
            print(rows[-1], flush=True)
    total = ", ".join(f"{totals[a]:.1f} s at {a}" for a in accepts)
    append(
        f"Where the sampling time of {spec.name}'s estimation goes (bench/bench_sampling.py)",
        [
            machine(start),
            f"The metric models of {spec_file.relative_to(ROOT) if spec_file.is_relative_to(ROOT) else spec_file} "
            "as a run builds them, sampled one after another "
            f"with the file's settings ({s.chains} chains x {s.draws} draws, warm-up {s.tune}, seed {s.seed}, "
            "nutpie with the low-rank mass matrix). Gradient: one log-density and gradient evaluation of the "
            "frozen model compiled with numba. Steps: leapfrog steps (one gradient each) over all chains. ESS and "
            "R-hat: worst over the parameters the reported effects are computed from (bars: ESS 400, R-hat 1.01).",
            "",
            "| metric | family | cells | parameters | gradient, us | target accept | warm-up steps | draw steps "
            "| steps per draw | sampling, s | divergences | ESS bulk / tail | R-hat |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
            *rows,
            "",
            f"Sampling of the models one after another: {total}.",
        ],
    )


if __name__ == "__main__":
    main()
