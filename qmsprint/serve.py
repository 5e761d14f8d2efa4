"""Start the Streamlit app: the consultant's workbench, or a read-only share of one run.

``qmsprint app [RUN] [--share]`` calls :func:`serve`, which prints the app's URL and then
*becomes* ``streamlit run app.py`` (:func:`launch` replaces the launcher's process, so Ctrl+C,
SIGTERM from a service manager or a test stop the server itself and free its port). The mode and
paths travel in environment variables (see :mod:`qmsprint.ui.config`); the server options are
set on the command line so they hold whatever folder the command is started from: always
headless (no browser, no first-run e-mail prompt, in a terminal or not), no usage statistics,
the toolbar in viewer mode (no Deploy button, no developer menu), error details hidden in share
mode, the upload cap, the theme. The workbench listens on ``localhost``; a share on
``127.0.0.1`` unless an address is given.

Share mode refuses to start unless the secrets file configures a login that is safe to share
(:func:`qmsprint.access.share_problems`): an OIDC provider in an ``[auth]`` section (Streamlit's
``st.login``) with ``[share] allowed_emails`` / ``allowed_domains``, or a ``password_hash`` (or a
strong ``password``). Optional ``[share]`` keys brand the share: ``client_name``, ``primary_color``,
``background_color``, ``secondary_background_color``, ``text_color``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from qmsprint.access import share_problems
from qmsprint.errors import BundleError, QmsprintError
from qmsprint.ui.config import MAX_UPLOAD_MB, SHARE, WORKBENCH, AppConfig

ROOT = Path(__file__).resolve().parents[1]
THEME_KEYS = {
    "primary_color": "theme.primaryColor",
    "background_color": "theme.backgroundColor",
    "secondary_background_color": "theme.secondaryBackgroundColor",
    "text_color": "theme.textColor",
}


class ShareConfigError(QmsprintError):
    """Share mode is not safe to start (no login configured, or an unreadable secrets file)."""

    exit_code = 1


def app_path() -> Path:
    """The Streamlit entry script: ``app.py`` at the repository root, else the packaged entry."""
    root_app = ROOT / "app.py"
    return root_app if root_app.is_file() else Path(__file__).resolve().parent / "ui" / "main.py"


def secrets_files(secrets: Path | None = None) -> list[Path]:
    """Secrets files Streamlit will read: ``secrets`` if given, else the user's and the project's."""
    if secrets is not None:
        return [Path(secrets)]
    return [Path.home() / ".streamlit" / "secrets.toml", Path.cwd() / ".streamlit" / "secrets.toml"]


def read_secrets(paths: list[Path]) -> dict[str, Any]:
    """Merge the existing secrets files (later files win, as in Streamlit).

    Raises
    ------
    ShareConfigError
        If a file exists but is not valid TOML.

    """
    merged: dict[str, Any] = {}
    for path in paths:
        if not path.is_file():
            continue
        try:
            merged.update(tomllib.loads(path.read_text(encoding="utf-8")))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise ShareConfigError(f"secrets file {path} is not valid TOML: {err}") from None
    return merged


def run_paths(runs_dir: Path, *, diagnoses: bool = False) -> list[Path]:
    """Run folders (and, with ``diagnoses``, diagnosis folders) under ``runs_dir``, newest first."""
    from qmsprint import api

    return api.list_runs(Path(runs_dir), diagnoses=diagnoses)


def newest_run(runs_dir: Path) -> Path | None:
    """The newest run folder under ``runs_dir``, or ``None``."""
    paths = run_paths(runs_dir)
    return paths[0] if paths else None


def build_command(
    config: AppConfig, *, port: int, address: str | None = None, secrets: Path | None = None
) -> list[str]:
    """The ``streamlit run`` command line for ``config`` (server options as flags).

    ``address`` defaults to ``localhost`` for the workbench and ``127.0.0.1`` for a share.
    """
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app_path()),
        "--server.port",
        str(port),
        "--server.address",
        address or default_address(config),
        "--server.headless",
        "true",
        "--server.maxUploadSize",
        str(MAX_UPLOAD_MB if config.mode == WORKBENCH else 1),
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
        "--client.showErrorDetails",
        "none" if config.share else "full",
    ]
    if secrets is not None:
        cmd += ["--secrets.files", str(Path(secrets).resolve())]
    if config.share:
        share = read_secrets(secrets_files(secrets)).get("share", {})
        if isinstance(share, dict):
            for key, option in THEME_KEYS.items():
                if share.get(key):
                    cmd += [f"--{option}", str(share[key])]
    return cmd


def default_address(config: AppConfig) -> str:
    """Where the server listens unless told: ``localhost`` (workbench), ``127.0.0.1`` (share)."""
    return "127.0.0.1" if config.share else "localhost"


def url_for(address: str, port: int) -> str:
    """The URL to print for a server on ``address``:``port`` (loopback and all-interfaces as localhost)."""
    host = "localhost" if address in ("", "0.0.0.0", "::", "127.0.0.1", "localhost") else address
    return f"http://{host}:{port}"


def port_free(address: str, port: int) -> bool:
    """Whether nothing listens on ``address``:``port`` yet (checked before starting, for a clear message)."""
    host = "127.0.0.1" if address in ("", "localhost") else address
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def launch(cmd: list[str], env: dict[str, str]) -> int:
    """Become the Streamlit server: replace this process with ``cmd`` (POSIX).

    Signals then reach Streamlit directly and stopping the launcher stops the server. Where a
    process cannot be replaced, ``cmd`` runs as a child: SIGINT and SIGTERM are forwarded to it
    and its exit code is returned once it has stopped.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        os.execve(cmd[0], cmd, env)  # does not return
    proc = subprocess.Popen(cmd, env=env)  # pragma: no cover - non-POSIX systems

    def forward(signum: int, frame: object) -> None:  # pragma: no cover  # noqa: ARG001
        proc.send_signal(signum)

    for sig in (signal.SIGINT, signal.SIGTERM):  # pragma: no cover
        signal.signal(sig, forward)
    return proc.wait()  # pragma: no cover


def serve(
    run_folder: Path | None = None,
    runs_dir: Path = Path("runs"),
    share: bool = False,
    port: int = 8501,
    secrets: Path | None = None,
    address: str | None = None,
    data_dir: Path = Path("data"),
    experiments_dir: Path = Path("experiments"),
) -> int:
    """Print the app's URL and become the Streamlit server until it is stopped (Ctrl+C, SIGTERM).

    Always headless: no browser is opened and Streamlit never prompts, whether or not a terminal
    is attached. Returns only where the process cannot be replaced (then Streamlit's exit code).

    Parameters
    ----------
    run_folder
        Run (or ``qmsprint diagnose`` folder) to open (default: the newest under ``runs_dir``). In
        share mode the only folder served.
    runs_dir
        Folder the workbench lists runs from and writes new runs into.
    share
        Serve one run read-only behind a login (no upload, no runs, no file browsing).
    port
        Port to serve on.
    secrets
        Secrets file to use instead of ``~/.streamlit/secrets.toml`` and ``./.streamlit/secrets.toml``.
    address
        Address to listen on (default: ``localhost``; a share ``127.0.0.1``, put it behind a
        TLS proxy to reach it from elsewhere).
    data_dir, experiments_dir
        Where the workbench's "Set up a pilot" finds client exports and saves experiment files.

    Raises
    ------
    ShareConfigError
        Share mode without a safe login (every problem listed: no login, OIDC without an allowlist,
        a placeholder or short password or cookie secret, ...).
    BundleError
        Share mode with no run to serve, or a missing or damaged run folder.
    QmsprintError
        The port is already in use.

    """
    runs_dir = Path(runs_dir).expanduser().resolve()
    if run_folder is not None:
        run_folder = Path(run_folder).expanduser().resolve()
        if not run_folder.is_dir():
            raise BundleError(f"run folder not found: {run_folder}")
    if share:
        if secrets is not None and not Path(secrets).is_file():
            raise ShareConfigError(f"secrets file not found: {secrets}")
        paths = secrets_files(secrets)
        problems = share_problems(read_secrets(paths))  # who may see, checked before anything is served
        if problems:
            where = " or ".join(str(p) for p in paths)
            raise ShareConfigError(
                f"share mode needs a login that is safe to share ({where}); refusing to start", problems
            )
        if run_folder is None:
            run_folder = newest_run(runs_dir)
            if run_folder is None:
                raise BundleError(f"no run to share: {runs_dir} has no run folders; pass the run folder")
        from qmsprint import api

        api.open_folder(run_folder)  # a damaged or foreign folder fails here, with a clear message
    config = AppConfig(
        mode=SHARE if share else WORKBENCH,
        run_folder=run_folder,
        runs_dir=runs_dir,
        data_dir=Path(data_dir).expanduser().resolve(),
        experiments_dir=Path(experiments_dir).expanduser().resolve(),
    )
    address = address or default_address(config)
    if not port_free(address, port):
        raise QmsprintError(f"port {port} is already in use (another app?); stop it or start with --port {port + 1}")
    cmd = build_command(config, port=port, address=address, secrets=secrets)
    env = {**os.environ, **config.to_env(), "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    what = f"run {run_folder.name} (read-only share)" if share and run_folder else "workbench"
    print(f"qmsprint app ({what}): {url_for(address, port)}  (Ctrl+C stops it)", flush=True)
    return launch(cmd, env)
