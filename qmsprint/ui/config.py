"""How the app learns its mode and paths (no Streamlit here, so :mod:`qmsprint.serve` can use it).

:func:`qmsprint.serve.serve` passes the mode and paths to ``streamlit run app.py`` through
environment variables; the app reads them back with :func:`from_env`. Without them (a bare
``streamlit run app.py``) or with an unknown mode the app is :data:`CLOSED`: it shows how to start
it and nothing else, so no run and no upload is ever served by accident.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_MODE = "QMSPRINT_APP_MODE"
ENV_RUN = "QMSPRINT_APP_RUN"
ENV_RUNS_DIR = "QMSPRINT_APP_RUNS_DIR"
ENV_DATA_DIR = "QMSPRINT_APP_DATA_DIR"
ENV_EXPERIMENTS_DIR = "QMSPRINT_APP_EXPERIMENTS_DIR"

WORKBENCH = "workbench"
SHARE = "share"
CLOSED = "closed"  # not started by qmsprint's launcher (or an unknown mode): serve nothing

# Upload cap of the workbench, in megabytes (also in .streamlit/config.toml).
MAX_UPLOAD_MB = 500


@dataclass(frozen=True)
class AppConfig:
    """Mode and paths of one app server.

    Parameters
    ----------
    mode
        ``workbench`` (local: pick, upload and run) or ``share`` (one bundle, read-only, login).
    run_folder
        The run to open first (share mode: the only run served); ``None`` opens the newest run.
    runs_dir
        Folder the workbench lists runs from and writes new runs into.
    data_dir
        Folder whose CSV and Parquet files "Set up a pilot" offers (and keeps uploaded exports in
        when an experiment file is saved).
    experiments_dir
        Folder "Set up a pilot" saves experiment files into.

    """

    mode: str = WORKBENCH
    run_folder: Path | None = None
    runs_dir: Path = Path("runs")
    data_dir: Path = Path("data")
    experiments_dir: Path = Path("experiments")

    @property
    def share(self) -> bool:
        """True in share mode."""
        return self.mode == SHARE

    def to_env(self) -> dict[str, str]:
        """Environment variables that carry this configuration to the app."""
        env = {ENV_MODE: self.mode, ENV_RUNS_DIR: str(self.runs_dir), ENV_DATA_DIR: str(self.data_dir),
               ENV_EXPERIMENTS_DIR: str(self.experiments_dir)}  # fmt: skip
        if self.run_folder is not None:
            env[ENV_RUN] = str(self.run_folder)
        return env


def from_env(environ: dict[str, str] | None = None) -> AppConfig:
    """Read the configuration :func:`qmsprint.serve.serve` set; no mode or an unknown one is :data:`CLOSED`."""
    env = os.environ if environ is None else environ
    mode = env.get(ENV_MODE, CLOSED)
    if mode not in (WORKBENCH, SHARE):
        mode = CLOSED  # fail closed: never fall back to the workbench
    run = env.get(ENV_RUN) or None
    return AppConfig(
        mode=mode,
        run_folder=Path(run) if run else None,
        runs_dir=Path(env.get(ENV_RUNS_DIR) or "runs"),
        data_dir=Path(env.get(ENV_DATA_DIR) or "data"),
        experiments_dir=Path(env.get(ENV_EXPERIMENTS_DIR) or "experiments"),
    )
