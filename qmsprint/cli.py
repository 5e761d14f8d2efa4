"""Command-line interface: a thin layer over the public API (no statistics here).

Exit codes, for schedulers: 0 ok; 1 unexpected error; 2 invalid experiment file;
3 invalid data; 4 a fit did not converge (results written, no recommendation);
5 run bundle missing/damaged/exists; 6 design request cannot be met; 130 stopped by Ctrl+C
(SIGINT) or SIGTERM (nothing written). ``qmsprint monitor``: 0 nothing new; 7 a new alert or
warning; 8 the pilot is decisive now (nothing else new).
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Iterator
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


@contextlib.contextmanager
def _working(quiet: bool) -> Iterator[Callable[[str, float], None]]:
    """Progress for a long command; Ctrl+C or SIGTERM stops it: exit code 130, nothing written.

    Writers stage files in hidden temporary places, so an interrupted command leaves no folder.
    """
    from qmsprint.interrupt import EXIT_INTERRUPTED, stop_on_signals

    prog = _progress(quiet)
    close = getattr(prog, "close", lambda: None)
    try:
        with stop_on_signals():
            yield prog
    except KeyboardInterrupt:
        close()
        typer.echo("interrupted: stopped before the end; nothing was written", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        close()


def _warn(problems: list[Any]) -> None:
    for w in problems:
        typer.echo(f"warning: {w}", err=True)


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

    with _working(quiet) as prog:
        result = api.validate(spec, progress=prog)
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
    Ctrl+C (or SIGTERM) stops it within seconds with exit code 130 and no run folder.

    Example: qmsprint run experiments/demo_ab.toml
    """
    from qmsprint import api

    with _working(quiet) as prog:
        outcome = api.run_pilot(spec, runs_dir=runs_dir, progress=prog, diagnosis=diagnosis)
    _warn(outcome.warnings)
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
    address: Annotated[
        str | None,
        typer.Option(help="Address to listen on (default: localhost; a share 127.0.0.1).", show_default=False),
    ] = None,
    data_dir: Annotated[Path, typer.Option(help="Folder of client exports for 'Set up a pilot'.")] = Path("data"),
    experiments_dir: Annotated[Path, typer.Option(help="Folder 'Set up a pilot' saves experiment files into.")] = Path(
        "experiments"
    ),
    headless: Annotated[bool, typer.Option(hidden=True, help="Kept for old scripts: always headless.")] = True,
) -> None:
    """Start the Streamlit app (workbench, or read-only share of one run with --share) and print its URL.

    Runs headless (no browser tab, no prompt) until Ctrl+C. Open the URL it prints; in the
    workbench, "Set up a pilot" builds an experiment file from a client's export.

    Example: qmsprint app runs/demo-ab-20261122-101500 --share
    """
    from qmsprint.serve import serve

    del headless
    serve(run_folder=run_folder, runs_dir=runs_dir, share=share, port=port, address=address, data_dir=data_dir,
          experiments_dir=experiments_dir)  # fmt: skip


@app.command()
@_friendly
def init(
    export: Annotated[Path, typer.Argument(help="The client's export (CSV or Parquet).", show_default=False)],
    out: Annotated[
        Path | None,
        typer.Option(help="Experiment file to write (must not exist; default: experiments/<export name>.toml)."),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Pilot name (default: from the export's file name).")] = None,
) -> None:
    """Write an experiment file for a client export: its columns mapped from their names and values.

    The same suggestion as the app's "Set up a pilot" page, taken as it is: every column qmsprint
    recognised (day-first dates, labelled CSAT scales, Yes/No answers), control and treatment from
    the arm column, every metric the columns allow with the registry's roles and smallest effects.
    Set the periods and check it with `qmsprint validate`. Exits 3 when the data would not
    validate with this mapping (the file is written, the problems printed).

    Example: qmsprint init exports/northwind.csv --out experiments/northwind.toml
    """
    from qmsprint import api
    from qmsprint.words import counted

    target = out if out is not None else Path("experiments") / f"{export.stem}.toml"
    path, suggestion = api.init(export, target, name=name)
    typer.echo(suggestion.summary())
    typer.echo(f"wrote {path}")
    if suggestion.problems:
        problems = counted(len(suggestion.problems), "problem")
        typer.echo(f"`qmsprint validate {path}` will report {problems}: fix the mapping in [data.columns] or the data",
                   err=True)  # fmt: skip
        raise typer.Exit(3)
    typer.echo(f"next: set [periods] in {path}, then qmsprint validate {path}")


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

    with _working(quiet) as prog:
        result, paths = api.diagnose(spec, out=out, progress=prog)
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

    with _working(quiet) as prog:
        result, paths = api.plan(spec, out=out, progress=prog)
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


@app.command("hash-password")
@_friendly
def hash_password(
    stdin: Annotated[
        bool, typer.Option("--stdin", help="Read the password from standard input (one line) instead of asking.")
    ] = False,
) -> None:
    """Print a salted hash of a share's password, for `password_hash` in .streamlit/secrets.toml.

    The password is asked twice without showing it (or read from standard input with --stdin);
    passwords under 12 characters and placeholders such as "change me" are refused (exit 2).

    Example: qmsprint hash-password >> .streamlit/secrets.toml
    """
    from qmsprint import api

    if stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Share password", hide_input=True, confirmation_prompt=True, err=True)
    try:
        hashed = api.hash_password(password)
    except ValueError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f'password_hash = "{hashed}"')


@app.command()
@_friendly
def share(
    run_folder: RunArg,
    out: Annotated[Path, typer.Option(help="New folder for the share (must not exist).", show_default=False)],
    allow_email: Annotated[
        list[str] | None, typer.Option(help="Who may sign in with OIDC (repeat for several).", show_default=False)
    ] = None,
    allow_domain: Annotated[
        list[str] | None, typer.Option(help="A whole e-mail domain that may sign in (repeat).", show_default=False)
    ] = None,
    client_name: Annotated[str | None, typer.Option(help="Client shown in the app's header.")] = None,
) -> None:
    """Build a self-contained folder that serves one run to a client, safely.

    It holds the run redacted (pseudonyms only, no paths, connection strings or per-agent
    results), the app, pinned requirements, a Dockerfile, a secrets template with the allowlist
    and a README for a server behind TLS or Streamlit Community Cloud.

    Example: qmsprint share runs/demo-ab-20261122-101500 --out share-northwind --allow-domain northwind.example
    """
    from qmsprint import api

    paths = api.share(
        run_folder, out, allowed_emails=allow_email or [], allowed_domains=allow_domain or [],
        client_name=client_name or "",
    )  # fmt: skip
    folder = Path(out)
    typer.echo(f"wrote {folder} ({len(paths)} files)")
    typer.echo(f"next: copy {folder / '.streamlit/secrets.example.toml'} to secrets.toml, fill in the login, "
               f"and follow {folder / 'README.md'}")  # fmt: skip


@app.command()
@_friendly
def reveal(
    spec: SpecArg,
    pseudonyms: Annotated[
        list[str] | None, typer.Argument(help="Pseudonyms to look up (default: every agent).", show_default=False)
    ] = None,
) -> None:
    """Print the real agent behind each pseudonym (consultant only: needs the engagement's key and data).

    Example: qmsprint reveal experiments/demo_ab.toml agent-3f09c2a1b7de
    """
    from qmsprint import api

    table = api.reveal_agents(spec, pseudonyms or None)
    typer.echo(table.to_string(index=False) if len(table) else "no such pseudonym among this data's agents")


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
    """Console-script entry point (an interrupted command ends at once, see :func:`qmsprint.interrupt.exit_now`)."""
    from qmsprint.interrupt import EXIT_INTERRUPTED, exit_now
    from qmsprint.progress import hide_library_notices

    hide_library_notices()
    try:
        app(prog_name="qmsprint")
    except SystemExit as done:
        if done.code == EXIT_INTERRUPTED:
            exit_now(EXIT_INTERRUPTED)
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
