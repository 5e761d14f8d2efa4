"""Keeping secrets and machine details out of what leaves the consultant's machine, and private temp space.

- :func:`redact_text` / :func:`redact` replace absolute paths by their last part (``/home/ana/
  northwind/export.csv`` -> ``export.csv``), connection strings by ``<database connection>`` and
  passwords in ``key=value`` strings by ``***``, in text and, recursively, in JSON-able data. Run
  folders, reports, share folders and the share-mode app pass their free text through them.
- :func:`describe_source` says where a spec's data came from without paths or credentials;
  :func:`without_password` keeps a connection string usable but drops its password (run folders).
- :func:`pseudonym` / :func:`is_pseudonym`: the keyed pseudonym of an id and its shape.
- :func:`private_dir` makes a folder only the current user can enter (``mkdtemp``, mode 0700),
  removed when the process exits; :func:`spill_dir` is the one such folder DuckDB spills to.

Nothing here imports the rest of qmsprint, so every layer can use it.
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

CONNECTION = "<database connection>"

# scheme://... that is not a web page: database URLs, file URLs, cloud buckets
_URL = re.compile(r"\b([A-Za-z][A-Za-z0-9+.\-]*)://[^\s'\"<>`]+")
_WEB = {"http", "https"}
_USERINFO = re.compile(r"(https?://)[^/\s@'\"<>`]+@")
# key=value secrets in ODBC / libpq strings: password=..., pwd=..., secret=..., token=...
_SECRET_KEYS = r"password|passwd|pwd|secret|token|api_key|apikey"
_SECRET_KV = re.compile(rf"(?i)\b({_SECRET_KEYS})\s*=\s*[^;\s,'\"]+")
# absolute POSIX paths with at least one folder (/home/ana/x.csv, /tmp/runs/), ~/ paths, Windows paths
_POSIX = re.compile(r"(?<![\w.:/~\\-])(?:~)?/(?:[\w.@+\-]+/)+[\w.@+\-]*")
_HOME = re.compile(r"(?<![\w.:/\\-])~/(?:[\w.@+\-]+/)*[\w.@+\-]*")
_WINDOWS = re.compile(r"(?<![\w])[A-Za-z]:\\(?:[^\\\s'\"<>|:*?]+\\)*[^\\\s'\"<>|:*?]*")


def _last_part(path: str) -> str:
    parts = [p for p in re.split(r"[\\/]", path) if p and p != "~"]
    return parts[-1] if parts else ""


def redact_text(text: str) -> str:
    """``text`` without absolute paths, connection strings or passwords (see the module docstring).

    Web addresses stay (without any user name or password in them).
    """
    if not text:
        return text

    def url(m: re.Match[str]) -> str:
        return m.group(0) if m.group(1).lower() in _WEB else CONNECTION

    out = _URL.sub(url, text)
    out = _USERINFO.sub(r"\1", out)
    out = _SECRET_KV.sub(lambda m: f"{m.group(1)}=***", out)
    out = _WINDOWS.sub(lambda m: _last_part(m.group(0)), out)
    out = _HOME.sub(lambda m: _last_part(m.group(0)), out)
    return _POSIX.sub(lambda m: _last_part(m.group(0)), out)


def redact(obj: Any) -> Any:
    """``obj`` (JSON-able: dicts, lists, strings, numbers) with :func:`redact_text` applied to every string.

    Dictionary keys are redacted too; other values are returned as they are.
    """
    if isinstance(obj, str):
        return redact_text(obj)
    if isinstance(obj, Mapping):
        return {redact_text(k) if isinstance(k, str) else k: redact(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [redact(v) for v in obj]
    return obj


_URL_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://[^/@:\s]*):[^@/\s]*@")
_QUERY_SECRET = re.compile(rf"(?i)([?&])({_SECRET_KEYS})=[^&#\s]*&?")


def without_password(connection: str) -> str:
    """A connection string that still says where the data is, with its password (or token) removed.

    ``postgresql://ana:pw@db/cx?sslmode=require&password=x`` -> ``postgresql://ana@db/cx?sslmode=require``;
    ``host=db user=ana password=pw`` -> ``host=db user=ana``. The database client then takes the password
    from its usual places (``PGPASSWORD``, ``~/.pgpass``), so a re-run from a run folder still connects.
    """
    out = _URL_PASSWORD.sub(r"\1@", connection)
    out = _QUERY_SECRET.sub(lambda m: m.group(1), out).rstrip("?&")
    out = _SECRET_KV.sub("", out)
    return re.sub(r"\s{2,}", " ", re.sub(r";{2,}", ";", out)).strip(" ;")


def has_secret_text(text: str) -> bool:
    """True when :func:`redact_text` would change ``text`` (it holds a path, connection string or password)."""
    return redact_text(text) != text


def describe_source(source: str | None, connection: str | None = None, table: str | None = None) -> str:
    """Where data came from, safe to show anyone: file names (no folders) or ``database table <t>``."""
    if connection:
        scheme = connection.split(":", 1)[0].split("+", 1)[0] if ":" in connection else "database"
        return f"{scheme} database, table {table or '?'}"
    if source:
        return _last_part(str(source)) or str(source)
    return "n/a"


# ------------------------------------------------------------------------------------------- pseudonyms

HEX_DIGITS = {"agent": 12, "customer": 16, "interaction": 16}


def pseudonym(value: str, key: bytes, kind: str = "agent") -> str:
    """The keyed pseudonym of one id: ``<kind>-`` + the start of HMAC-SHA256(key, ``"<kind>:<value>"``) in hex.

    :mod:`qmsprint.data.pseudonymise` applies it to every id at loading; the store checks shapes with
    :func:`is_pseudonym`. Both live here so that reading a run never needs the data layer.
    """
    digest = hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
    return f"{kind}-{digest[: HEX_DIGITS[kind]]}"


def is_pseudonym(value: Any, kind: str = "agent") -> bool:
    """True when ``value`` has the shape of a pseudonym of ``kind``."""
    n = HEX_DIGITS[kind]
    s = str(value)
    prefix = f"{kind}-"
    return len(s) == len(prefix) + n and s.startswith(prefix) and all(c in "0123456789abcdef" for c in s[-n:])


# ------------------------------------------------------------------------------------------- temp space

_OWNED: dict[str, int] = {}  # private folder -> pid of the process that made it (children never remove it)
_SPILL: list[Path] = []


def _remove_owned() -> None:
    for path, pid in list(_OWNED.items()):
        if pid == os.getpid():
            shutil.rmtree(path, ignore_errors=True)
            _OWNED.pop(path, None)


atexit.register(_remove_owned)


def private_dir(purpose: str) -> Path:
    """A new folder only this user can enter (mode 0700, from ``mkdtemp``), removed at exit.

    Parameters
    ----------
    purpose
        Short word in the folder's name (``duckdb``, ``upload`` ...).

    """
    path = Path(tempfile.mkdtemp(prefix=f"qmsprint-{purpose}-"))
    os.chmod(path, 0o700)  # mkdtemp already does; say it where it matters
    _OWNED[str(path)] = os.getpid()
    return path


def remove_private_dir(path: str | Path) -> None:
    """Remove a folder made by :func:`private_dir` now (it is forgotten, so exit does not retry)."""
    shutil.rmtree(path, ignore_errors=True)
    _OWNED.pop(str(path), None)
    if _SPILL and str(_SPILL[0]) == str(path):
        _SPILL.clear()


def spill_dir() -> Path:
    """The process's private folder for DuckDB to spill to (made on first use, removed at exit)."""
    if not _SPILL or not _SPILL[0].is_dir():
        _SPILL[:] = [private_dir("duckdb")]
    return _SPILL[0]
