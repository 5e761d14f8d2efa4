"""Command-line interface: a thin layer over the public API (no statistics here).

Exit codes, for schedulers: 0 ok; 1 unexpected error; 2 invalid experiment file;
3 invalid data; 4 a fit did not converge (results written, no recommendation);
5 run bundle missing/damaged/exists; 6 design request cannot be met. ``qmsprint monitor``: 0 nothing
new; 7 a new alert or warning; 8 the pilot is decisive now (nothing else new).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from qmsprint.errors import QmsprintError

app = typer.Typer(
    name="qmsprint",
    help="Experiments for contact-center quality-program redesign: diagnose, design, estimate, decide, share.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

F = TypeVar("F", bound=Callable[..., Any])


def _friendly(fn: F) -> F:
    """Turn qmsprint's own errors into a clear message and the error's exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except QmsprintError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(err.exit_code) from None

    return wrapper  # type: ignore[return-value]


def _progress(quiet: bool):
    from qmsprint.progress import ConsoleProgress, silent

    return silent if quiet else ConsoleProgress()


SpecArg = Annotated[Path, typer.Argument(help="Experiment file (.toml).", show_default=False)]
RunArg = Annotated[Path, typer.Argument(help="Run folder written by `qmsprint run`.", show_default=False)]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")]


@app.command()
@_friendly
def validate(spec: SpecArg, quiet: Quiet = False) -> None:
    """Check an experiment file and its data without fitting anything.

    Every problem is reported at once; then the warnings and the pilot's health checks (sample
    ratio, survey response, contamination, balance, trends) with their status: ok, warn or alert.

    Example: qmsprint validate experiments/demo_ab.toml
    """
    from qmsprint import api

    result = api.validate(spec, progress=_progress(quiet))
    result.raise_error()
    typer.echo(result.text())


@app.command()
@_friendly
def run(
    spec: SpecArg,
    runs_dir: Annotated[
        Path | None, typer.Option(help="Folder for run folders (default: the spec's output.runs_dir).")
    ] = None,
    diagnosis: Annotated[
        bool, typer.Option(help="Also diagnose the checklist on the baseline period (the slowest extra step).")
    ] = True,
    quiet: Quiet = False,
) -> None:
    """Run the whole analysis into a new run folder (never overwrites an earlier run).

    Exits 4 when a fit did not converge: results are written and say so, with no recommendation.

    Example: qmsprint run experiments/demo_ab.toml
    """
    from qmsprint import api

    outcome = api.run_pilot(spec, runs_dir=runs_dir, progress=_progress(quiet), diagnosis=diagnosis)
    typer.echo(outcome.summary())
    typer.echo(f"run folder: {outcome.path}")
    if not outcome.converged:
        raise typer.Exit(4)


@app.command("app")
@_friendly
def app_(
    run_folder: Annotated[
        Path | None, typer.Argument(help="Run folder to open (default: newest run).", show_default=False)
    ] = None,
    runs_dir: Annotated[Path, typer.Option(help="Folder the workbench lists runs from.")] = Path("runs"),
    share: Annotated[bool, typer.Option(help="Serve one bundle read-only behind a login.")] = False,
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8501,
    headless: Annotated[bool, typer.Option(help="Do not open a browser.")] = False,
) -> None:
    """Start the Streamlit app (workbench, or read-only share of one run with --share).

    Example: qmsprint app runs/demo-ab-20261122-101500 --share
    """
    from qmsprint.serve import serve

    serve(
        run_folder=run_folder,
        runs_dir=runs_dir,
        share=share,
        port=port,
        headless=headless or bool(os.environ.get("CI")),
    )


@app.command()
@_friendly
def simulate(
    out: Annotated[
        Path,
        typer.Argument(help="Output file (.parquet or .csv); ground truth is written beside it.", show_default=False),
    ],
    design: Annotated[
        str, typer.Option(help="ab, did, waves (staggered roll-out) or prepost (no control group).")
    ] = "ab",
    agents: Annotated[int, typer.Option(help="Number of agents.")] = 60,
    per_agent: Annotated[int, typer.Option(help="Interactions per agent per period.")] = 200,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
) -> None:
    """Write a synthetic interaction table with known true effects (and its ground truth JSON).

    Example: qmsprint simulate /tmp/pilot.parquet --design did --agents 80 --seed 7
    """
    from qmsprint import api

    if design not in ("ab", "did", "waves", "prepost"):
        raise typer.BadParameter("expected 'ab', 'did', 'waves' or 'prepost'", param_hint="--design")
    for p in api.simulate(out, design=design, agents=agents, per_agent=per_agent, seed=seed):
        typer.echo(f"wrote {p}")


@app.command()
@_friendly
def diagnose(
    spec: SpecArg,
    out: Annotated[
        Path | None,
        typer.Option(help="New folder for the diagnosis (JSON + CSV); default: a new folder in the runs folder."),
    ] = None,
    quiet: Quiet = False,
) -> None:
    """Diagnose how well the checklist score and each item explain customer outcomes.

    Uses the baseline period when the spec has one (before any program change), else all rows.
    The diagnosis is written to a new folder (never over an earlier one) that `qmsprint app` opens.

    Example: qmsprint diagnose experiments/demo_ab.toml --out diagnosis/
    """
    from qmsprint import api
    from qmsprint.present.diagnosis import summary_text

    result, paths = api.diagnose(spec, out=out, progress=_progress(quiet))
    typer.echo(summary_text(result))
    for p in paths:
        typer.echo(f"wrote {p}")
    typer.echo(f"open it in the app: qmsprint app {paths[0].parent}")


@app.command()
@_friendly
def design(
    spec: SpecArg,
    out: Annotated[
        Path | None, typer.Option(help="Write the assurance table (CSV) and plot (HTML) into this new folder.")
    ] = None,
    quiet: Quiet = False,
) -> None:
    """Estimate assurance (chance of a decisive pilot) for a grid of agents per arm and weeks.

    Example: qmsprint design experiments/demo_ab.toml --out design/
    """
    from qmsprint import api
    from qmsprint.present.design import plan_summary

    result, paths = api.plan(spec, out=out, progress=_progress(quiet))
    typer.echo(plan_summary(result))
    for p in paths:
        typer.echo(f"wrote {p}")


@app.command()
@_friendly
def assign(
    spec: SpecArg,
    out: Annotated[Path, typer.Option(help="Assignment CSV to write (must not exist).")] = Path("assignment.csv"),
    seed: Annotated[int | None, typer.Option(help="Random seed (default: the spec's sampler seed).")] = None,
) -> None:
    """Randomize units (agents, teams or sites) to arms, stratified, with a balance table.

    Example: qmsprint assign experiments/demo_ab.toml --out assignment.csv --seed 42
    """
    from qmsprint import api
    from qmsprint.present.design import assignment_summary

    result, paths = api.assign(spec, out=out, seed=seed)
    for p in paths:
        typer.echo(f"wrote {p}")
    typer.echo(assignment_summary(result))


@app.command()
@_friendly
def report(
    run_folder: RunArg,
    out: Annotated[
        Path | None, typer.Option(help="HTML file to write (default: report.html in the run folder).")
    ] = None,
) -> None:
    """Write a self-contained HTML report of a run (opens offline, plots embedded).

    Example: qmsprint report runs/demo-ab-20261122-101500
    """
    from qmsprint import api

    typer.echo(f"wrote {api.report(run_folder, out)}")


@app.command()
@_friendly
def compare(
    runs: Annotated[list[Path], typer.Argument(help="Two or more run folders.", show_default=False)],
    out: Annotated[Path | None, typer.Option(help="Also write the comparison as CSV.")] = None,
) -> None:
    """Put pilots side by side: same metrics, effects and recommendation.

    Example: qmsprint compare runs/pilot-march runs/pilot-april
    """
    from qmsprint import api

    if out is not None and out.exists():
        raise typer.BadParameter(f"{out} exists; choose a new file", param_hint="--out")
    table = api.compare(runs, out=out)
    typer.echo(table.to_string(index=False))
    if out is not None:
        typer.echo(f"wrote {out}")


@app.command()
@_friendly
def monitor(
    spec: SpecArg,
    every: Annotated[
        str | None,
        typer.Option(help="Check again every interval (1d, 12h, 30m, 90s) until stopped; default: one check (cron)."),
    ] = None,
    checks: Annotated[int | None, typer.Option(help="With --every: stop after this many checks.", min=1)] = None,
    runs_dir: Annotated[
        Path | None, typer.Option(help="Folder of the runs and of alerts.jsonl (default: the spec's output.runs_dir).")
    ] = None,
    quiet: Quiet = False,
) -> None:
    """Watch a running pilot: health checks, a new run when the data grew, alerts when something changes.

    Alerts (sample ratio mismatch, a guardrail at risk, a survey response gap, contamination, a fit
    that stopped converging, and "decisive now" from the expected-loss stopping rule) are appended
    to alerts.jsonl beside the runs and POSTed to [monitor] webhook when the experiment file has one.
    Exit codes: 0 nothing new; 7 a new alert or warning; 8 decisive now (nothing else new);
    2 invalid experiment file; 3 invalid data (also an alert).

    Example: qmsprint monitor experiments/demo_ab.toml --every 1d
    """
    from qmsprint import api

    if every is None:
        result = api.monitor(spec, runs_dir=runs_dir, progress=_progress(quiet))
        typer.echo(result.summary())
        raise typer.Exit(result.exit_code)
    try:
        seconds = api.parse_every(every)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--every") from None
    last: list[int] = []

    def shown(result: Any) -> None:
        typer.echo(result.summary())
        last.append(result.exit_code)

    def failed(err: Exception) -> None:
        typer.echo(f"error: {err}", err=True)
        last.append(getattr(err, "exit_code", 1))

    typer.echo(f"checking {spec} every {every} (Ctrl+C to stop)")
    try:
        api.watch(spec, seconds, checks=checks, runs_dir=runs_dir, on_result=shown, on_error=failed)
    except KeyboardInterrupt:
        typer.echo("stopped")
    raise typer.Exit(last[-1] if last else 0)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="qmsprint")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
