"""Start the Streamlit app: the consultant's workbench, or a read-only share of one run.

``qmsprint app [RUN] [--share]`` calls :func:`serve`, which runs ``streamlit run app.py`` with the
mode and paths in environment variables (see :mod:`qmsprint.ui.config`) and the server options
set on the command line (upload cap, theme, no usage statistics), so they hold whatever folder
the command is started from.

Share mode refuses to start unless the secrets file configures a login: an OIDC provider in an
``[auth]`` section (Streamlit's ``st.login``) or a ``password``. Optional ``[share]`` keys brand the
share: ``client_name``, ``primary_color``, ``background_color``, ``secondary_background_color``,
``text_color``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from qmsprint.errors import BundleError, Problem, QmsprintError
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


def login_method(secrets: dict[str, Any]) -> str | None:
    """``oidc`` when an ``[auth]`` section configures ``st.login``, ``password`` when a password is set.

    An ``[auth]`` section counts when it has ``redirect_uri`` and ``cookie_secret`` and a client id
    (directly or in a named provider sub-section). The password is ``password`` at the top level or
    in ``[share]``.
    """
    auth = secrets.get("auth")
    if isinstance(auth, dict) and auth.get("redirect_uri") and auth.get("cookie_secret"):
        providers = [auth] + [v for v in auth.values() if isinstance(v, dict)]
        if any(p.get("client_id") for p in providers):
            return "oidc"
    if share_password(secrets):
        return "password"
    return None


def share_password(secrets: dict[str, Any]) -> str | None:
    """The share password from the secrets, if any (top-level ``password`` or ``[share].password``)."""
    pw = secrets.get("password")
    share = secrets.get("share")
    if not pw and isinstance(share, dict):
        pw = share.get("password")
    return str(pw) if pw else None


def run_paths(runs_dir: Path, *, diagnoses: bool = False) -> list[Path]:
    """Run folders (and, with ``diagnoses``, diagnosis folders) under ``runs_dir``, newest first."""
    from qmsprint import api

    return api.list_runs(Path(runs_dir), diagnoses=diagnoses)


def newest_run(runs_dir: Path) -> Path | None:
    """The newest run folder under ``runs_dir``, or ``None``."""
    paths = run_paths(runs_dir)
    return paths[0] if paths else None


def build_command(config: AppConfig, *, port: int, headless: bool, secrets: Path | None = None) -> list[str]:
    """The ``streamlit run`` command line for ``config`` (server options as flags)."""
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app_path()),
        "--server.port",
        str(port),
        "--server.headless",
        "true" if headless else "false",
        "--server.maxUploadSize",
        str(MAX_UPLOAD_MB if config.mode == WORKBENCH else 1),
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal" if config.share else "auto",
    ]
    if not config.share:
        cmd += ["--server.address", "localhost"]
    if secrets is not None:
        cmd += ["--secrets.files", str(Path(secrets).resolve())]
    if config.share:
        share = read_secrets(secrets_files(secrets)).get("share", {})
        if isinstance(share, dict):
            for key, option in THEME_KEYS.items():
                if share.get(key):
                    cmd += [f"--{option}", str(share[key])]
    return cmd


def serve(
    run_folder: Path | None = None,
    runs_dir: Path = Path("runs"),
    share: bool = False,
    port: int = 8501,
    headless: bool = False,
    secrets: Path | None = None,
) -> int:
    """Run the app until it is stopped (Ctrl+C) and return Streamlit's exit code.

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
    headless
        Do not open a browser (also when the ``CI`` environment variable is set).
    secrets
        Secrets file to use instead of ``~/.streamlit/secrets.toml`` and ``./.streamlit/secrets.toml``.

    Raises
    ------
    ShareConfigError
        Share mode with no login configured (neither ``[auth]`` nor ``password`` in the secrets).
    BundleError
        Share mode with no run to serve, or a missing or damaged run folder.

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
        if login_method(read_secrets(paths)) is None:
            raise ShareConfigError(
                "share mode needs a login; refusing to start",
                [
                    Problem(
                        " or ".join(str(p) for p in paths),
                        "add an [auth] section (OIDC provider for st.login: redirect_uri, cookie_secret, "
                        'client_id, client_secret, server_metadata_url) or a password = "..." line',
                    )
                ],
            )
        if run_folder is None:
            run_folder = newest_run(runs_dir)
            if run_folder is None:
                raise BundleError(f"no run to share: {runs_dir} has no run folders; pass the run folder")
        from qmsprint import api

        api.open_folder(run_folder)  # a damaged or foreign folder fails here, with a clear message
    headless = headless or bool(os.environ.get("CI"))
    config = AppConfig(mode=SHARE if share else WORKBENCH, run_folder=run_folder, runs_dir=runs_dir)
    cmd = build_command(config, port=port, headless=headless, secrets=secrets)
    env = {**os.environ, **config.to_env()}
    what = f"run {run_folder.name} (read-only share)" if share and run_folder else "workbench"
    print(f"qmsprint app ({what}): http://localhost:{port}", flush=True)
    try:
        return subprocess.call(cmd, env=env)
    except KeyboardInterrupt:  # pragma: no cover - interactive stop
        return 0
