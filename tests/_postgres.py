"""A throwaway PostgreSQL server for the warehouse tests, from the system's (Debian's) packages.

``initdb`` into a fresh folder, ``pg_ctl start`` on a free localhost port (trust authentication,
no fsync), stopped and deleted at the end. PostgreSQL refuses to run as root: as root the server
runs as the ``postgres`` system user the Debian package creates (or ``nobody``).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

USER = "qms"


def server_binaries() -> Path | None:
    """Folder with ``initdb`` and ``pg_ctl`` (PATH first, then Debian's /usr/lib/postgresql/<version>/bin)."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_as() -> dict:
    if os.geteuid() != 0:
        return {}
    for name in ("postgres", "nobody"):
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            continue
        return {"user": pw.pw_uid, "group": pw.pw_gid}
    raise RuntimeError("running as root and no non-root user (postgres, nobody) to run PostgreSQL as")


@contextmanager
def postgres_server(bindir: Path) -> Iterator[str]:
    """Start a server; yield its URL (``postgres://qms@127.0.0.1:<port>/postgres``); stop and delete it."""
    who = _run_as()
    folder = Path(tempfile.mkdtemp(prefix="qmsprint-pg-"))
    data = folder / "data"
    if who:
        os.chown(folder, who["user"], who["group"])
    port = _free_port()
    run = {"check": True, "capture_output": True, "text": True, **who}
    stop = [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
    try:
        subprocess.run(
            [str(bindir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8", "--locale=C"], **run
        )
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        subprocess.run(
            [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w", "-t", "120",
             "-o", options, "start"],
            **run,
        )  # fmt: skip
    except subprocess.CalledProcessError as err:
        log = folder / "server.log"
        detail = log.read_text()[-2000:] if log.exists() else ""
        subprocess.run(stop, capture_output=True, **who)
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL did not start: {err.stderr or err}\n{detail}") from None
    try:
        yield f"postgres://{USER}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(stop, capture_output=True, **who)
        shutil.rmtree(folder, ignore_errors=True)
