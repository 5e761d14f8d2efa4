"""Sharing with a client: the share folder, the redacted copy, safe downloads, password hashes, pseudonyms back.

- :func:`share`: ``qmsprint share RUN --out DIR``, a self-contained folder to deploy for one client.
- :func:`redact`: a redacted copy of a run (or diagnosis) folder, as the share serves it.
- :func:`effects_csv`: the effects table a share offers for download (formulas neutralised, no
  paths or connection strings).
- :func:`hash_password`: the salted hash for ``password_hash`` in the share's secrets.
- :func:`reveal_agents`: pseudonym -> real agent id, for the consultant, from the engagement's key.
"""

from __future__ import annotations

import importlib.metadata as md
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from qmsprint.api.validation import SpecLike, as_spec

if TYPE_CHECKING:
    import pandas as pd

    from qmsprint.store import DiagnosisFolder, RunBundle

# What a share's app imports (checked by a test that serves a share without the rest); extras in brackets.
SHARE_DISTRIBUTIONS = (
    ("streamlit", "auth"),
    ("Authlib", ""),
    ("numpy", ""),
    ("pandas", ""),
    ("pyarrow", ""),
    ("scipy", ""),
    ("pydantic", ""),
    ("plotly", ""),
    ("jinja2", ""),
)


def share_requirements() -> list[str]:
    """``name[extra]==version`` of every library a share needs, pinned to the versions installed here."""
    out = []
    for name, extra in SHARE_DISTRIBUTIONS:
        try:
            version = md.version(name)
        except md.PackageNotFoundError:  # pragma: no cover - part of qmsprint's dependencies
            continue
        out.append(f"{name}{f'[{extra}]' if extra else ''}=={version}")
    return out


def share(
    folder: str | Path,
    out: str | Path,
    *,
    allowed_emails: Sequence[str] = (),
    allowed_domains: Sequence[str] = (),
    client_name: str = "",
) -> list[Path]:
    """Build the share folder ``out`` (new) for one client from a run (or diagnosis) folder.

    It holds the redacted run, the app entry, qmsprint's code, pinned requirements, a Dockerfile,
    a secrets template with the allowlist and a README for a server behind TLS or Streamlit
    Community Cloud (see :mod:`qmsprint.store.share`).

    Raises
    ------
    BundleError
        Missing or damaged folder, or ``out`` exists.

    """
    from qmsprint.store import open_folder, write_share_folder

    source = open_folder(Path(folder))
    client = client_name or _client_of(source)
    return write_share_folder(
        source,
        out,
        allowed_emails=[e.strip() for e in allowed_emails if e.strip()],
        allowed_domains=[d.strip().lstrip("@") for d in allowed_domains if d.strip()],
        client_name=client,
        requirements=share_requirements(),
    )


def _client_of(folder: RunBundle | DiagnosisFolder) -> str:
    spec = folder.spec
    return str(spec.get("client", "") if isinstance(spec, dict) else spec.client)


def redact(folder: str | Path, out: str | Path) -> Path:
    """Write the redacted copy of a run (or diagnosis) folder as the new folder ``out``."""
    from qmsprint.store import open_folder, write_redacted_run

    return write_redacted_run(open_folder(Path(folder)), out)


def effects_csv(run: RunBundle) -> bytes:
    """A run's effects as CSV bytes for a download: spreadsheet formulas neutralised, no paths or connection strings."""
    from qmsprint.store import redact_frame, write_csv

    return str(write_csv(redact_frame(run.effects))).encode("utf-8")


def hash_password(password: str) -> str:
    """The ``password_hash`` value for a share's secrets (salted scrypt).

    Raises
    ------
    ValueError
        A password a share would refuse (under 12 characters, a placeholder).

    """
    from qmsprint.access import hash_password as _hash

    return _hash(password)


def reveal_agents(spec: SpecLike, pseudonyms: Iterable[str] | None = None) -> pd.DataFrame:
    """Pseudonym -> real agent id for the agents in the spec's data, from the engagement's key (consultant only).

    Returns
    -------
    pandas.DataFrame
        ``pseudonym``, ``agent_id`` (only the ``pseudonyms`` asked for, when given).

    Raises
    ------
    SpecError, DataError
        No key for the engagement, or the data cannot be read.

    """
    from qmsprint.data.pseudonymise import reveal

    return reveal(as_spec(spec), pseudonyms)
