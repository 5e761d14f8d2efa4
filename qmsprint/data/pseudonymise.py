"""Keyed pseudonyms at the door: agent (and customer, interaction) ids never travel past loading.

Every id is replaced by ``<kind>-<hex>`` where ``hex`` starts the HMAC-SHA256 of ``"<kind>:<id>"``
under the engagement's key: ``agent-`` + 12 hex digits (48 bits), ``customer-`` /
``interaction-`` + 16. The same key gives the same pseudonyms in every run of an engagement (so
``compare`` and ``prior_from`` work across runs); without the key nobody can go back from a
pseudonym to a person, not even by sorting the staff list. With the key and the data the
consultant can (:func:`reveal`).

The key
    ``QMSPRINT_KEY`` (environment variable, at least :data:`MIN_KEY_CHARS` characters) or else the
    file ``.qmsprint/key`` in the experiment file's folder (for a spec built in code: its
    ``base_dir``), made on first use with 32 random bytes (hex), readable by its owner only
    (0600, folder 0700). It never goes into run folders, reports or shares; keep one per
    engagement, out of version control (``.gitignore`` lists ``.qmsprint/``), and back it up
    with the engagement's data: without it new runs get new pseudonyms. A key file others can
    read is refused. This is the one file the data layer writes itself: the key is an
    engagement setting read before any data, not an output of a run.

Where it happens
    :func:`qmsprint.data.prepare` and :func:`qmsprint.data.load_frame` call
    :func:`pseudonymise_ids` right after validation, before periods, repeat contacts, cells,
    warnings and health checks: every sentence built later (``e.g. agent-3f09c2a1b7de``) names
    pseudonyms. Validation errors, which stop a run and are never stored, still quote the source
    values so the consultant can find the row.

The distinct ids (thousands of agents) are pseudonymised in Python and joined back as a small
lookup table: on a million rows that costs a few hundredths of a second, where an HMAC per row
costs seconds. Hundreds of thousands of distinct values (customer ids) are hashed per row inside
DuckDB instead (its ``sha256`` on the key's padded blocks: :func:`hmac_expr`).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pandas as pd

from qmsprint.errors import Problem, SpecError
from qmsprint.privacy import HEX_DIGITS, is_pseudonym, pseudonym

__all__ = [
    "KEY_ENV",
    "engagement_key",
    "hmac_expr",
    "is_pseudonym",
    "key_file",
    "pseudonym",
    "pseudonymise_ids",
    "pseudonyms",
    "reveal",
]
from qmsprint.spec import Spec

KEY_ENV = "QMSPRINT_KEY"
KEY_DIR = ".qmsprint"
KEY_FILE = "key"
MIN_KEY_CHARS = 32
ID_KINDS = {"agent_id": "agent", "customer_id": "customer", "interaction_id": "interaction"}
_BLOCK = 64  # SHA-256 block size in bytes
IN_PYTHON_MAX = 200_000  # distinct ids pseudonymised in Python and joined back; above, per row in DuckDB


def key_file(spec: Spec | Path) -> Path:
    """Where the engagement's key file lives: ``.qmsprint/key`` beside the experiment file (or in a folder)."""
    if isinstance(spec, Path):
        return spec / KEY_DIR / KEY_FILE
    folder = spec.source_path.parent if spec.source_path is not None else Path(spec.base_dir).resolve()
    return folder / KEY_DIR / KEY_FILE


def _check_key_text(text: str, where: str) -> bytes:
    text = text.strip()
    if len(text) < MIN_KEY_CHARS:
        raise SpecError(
            "the pseudonymisation key is too short",
            [Problem(where, f"needs at least {MIN_KEY_CHARS} characters (it has {len(text)}); "
                            "delete the file to get a new random key, or set a longer QMSPRINT_KEY")],
        )  # fmt: skip
    return text.encode("utf-8")


def _create_key(path: Path) -> None:
    """Write a new random key at ``path`` (0600; folder 0700) unless one appears meanwhile."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".key-", dir=path.parent)  # mkstemp makes it 0600
    try:
        os.write(fd, (secrets.token_hex(32) + "\n").encode("ascii"))
        os.fsync(fd)
        os.close(fd)
        fd = -1
        try:
            os.link(tmp, path)  # never replaces a key another process just made
        except FileExistsError:
            pass
    finally:
        if fd >= 0:
            os.close(fd)
        Path(tmp).unlink(missing_ok=True)


def engagement_key(spec: Spec | Path, *, create: bool = True) -> bytes:
    """The key pseudonyms are made with (see the module docstring for where it comes from).

    ``spec`` may also be a folder: its ``.qmsprint/key`` (the workbench keeps uploads' key beside
    its runs folder).

    Raises
    ------
    SpecError
        A key that is too short, a key file other users can read, or (with ``create=False``)
        no key at all.

    """
    env = os.environ.get(KEY_ENV)
    if env:
        return _check_key_text(env, KEY_ENV)
    path = key_file(spec)
    if not path.exists():
        if not create:
            raise SpecError(
                "no pseudonymisation key for this engagement",
                [Problem(str(path), f"no key file here and {KEY_ENV} is not set; run the analysis once, or set "
                                    f"{KEY_ENV} to the engagement's key")],
            )  # fmt: skip
        try:
            _create_key(path)
        except OSError as err:
            raise SpecError(
                "cannot create the pseudonymisation key",
                [Problem(str(path), f"{err.strerror or err}; set {KEY_ENV} instead")],
            ) from None
    if os.name == "posix" and path.stat().st_mode & 0o077:
        raise SpecError(
            "the pseudonymisation key can be read by other users",
            [Problem(str(path), f"run `chmod 600 {path}` (and keep the folder private)")],
        )
    return _check_key_text(path.read_text(encoding="utf-8"), str(path))


def pseudonyms(values: Iterable[Any], key: bytes, kind: str = "agent") -> dict[str, str]:
    """Pseudonym of each distinct non-null value (as text)."""
    out: dict[str, str] = {}
    for v in values:
        if v is None or v is pd.NA or (isinstance(v, float) and v != v):
            continue
        s = str(v)
        if s not in out:
            out[s] = pseudonym(s, key, kind)
    return out


# ------------------------------------------------------------------------------------------- in the database


@ibis.udf.scalar.builtin(name="sha256")
def _sha256(x: dt.Binary) -> dt.String:  # type: ignore[empty-body]
    """DuckDB's sha256 of a blob, as hex."""


@ibis.udf.scalar.builtin(name="unhex")
def _unhex(x: dt.String) -> dt.Binary:  # type: ignore[empty-body]
    """DuckDB's hex -> blob."""


@ibis.udf.scalar.builtin(name="encode")
def _encode(x: dt.String) -> dt.Binary:  # type: ignore[empty-body]
    """DuckDB's text -> UTF-8 blob."""


@ibis.udf.scalar.builtin(name="concat")
def _concat(a: dt.Binary, b: dt.Binary) -> dt.Binary:  # type: ignore[empty-body]
    """DuckDB's blob concatenation."""


def _pads(key: bytes) -> tuple[str, str]:
    k = hashlib.sha256(key).digest() if len(key) > _BLOCK else key
    k = k.ljust(_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in k).hex(), bytes(b ^ 0x5C for b in k).hex()


def hmac_expr(col: ir.StringValue, key: bytes, kind: str) -> ir.StringValue:
    """The pseudonym of every value of ``col`` as a DuckDB expression (RFC 2104 HMAC with its sha256)."""
    inner_pad, outer_pad = _pads(key)
    message = _encode(ibis.literal(f"{kind}:") + col)
    inner = _sha256(_concat(_unhex(ibis.literal(inner_pad)), message))
    outer = _sha256(_concat(_unhex(ibis.literal(outer_pad)), _unhex(inner)))
    return ibis.ifelse(col.isnull(), ibis.null(dt.string), ibis.literal(f"{kind}-") + outer.substr(0, HEX_DIGITS[kind]))


def _in_database(con: Any) -> bool:
    return getattr(con, "name", "") == "duckdb"


def pseudonymise_ids(con: Any, table: ir.Table, key: bytes, columns: Sequence[str] = ("agent_id",)) -> ir.Table:
    """``table`` with the id ``columns`` (``agent_id``, ``customer_id``, ``interaction_id``) replaced by pseudonyms.

    The distinct values are pseudonymised here and joined back (one small lookup table: agents number
    in the thousands); with more than :data:`IN_PYTHON_MAX` distinct values DuckDB computes the HMAC
    of every row itself. Columns the table lacks are skipped; nulls stay null. ``con`` is the
    backend the table lives in.
    """
    for c in [c for c in columns if c in table.columns]:
        text = table[c].cast("string")
        values = con.execute(table.select(_v=text).distinct().limit(IN_PYTHON_MAX + 1))["_v"]
        if len(values) > IN_PYTHON_MAX and _in_database(con):
            table = table.mutate(**{c: hmac_expr(text, key, ID_KINDS[c])})
            continue
        if len(values) > IN_PYTHON_MAX:  # other backends: every distinct value, however many
            values = con.execute(table.select(_v=text).distinct())["_v"]
        mapping = pseudonyms(values, key, ID_KINDS[c])
        lookup = ibis.memtable(
            pd.DataFrame({"_qms_raw": list(mapping), "_qms_pseudonym": list(mapping.values())}, dtype="string")
        )
        joined = table.left_join(lookup, table[c].cast("string") == lookup._qms_raw)
        table = joined.mutate(**{c: joined._qms_pseudonym}).drop("_qms_raw", "_qms_pseudonym")
    return table


# ------------------------------------------------------------------------------------------- back, for the consultant


def reveal(spec: Spec, wanted: Iterable[str] | None = None) -> pd.DataFrame:
    """Pseudonym -> agent id for the agents in the spec's data (needs the engagement's key and the data).

    Parameters
    ----------
    spec
        The experiment file of the engagement (its data source and its key).
    wanted
        Pseudonyms to look up (default: every agent in the data).

    Returns
    -------
    pandas.DataFrame
        ``pseudonym``, ``agent_id``, sorted by pseudonym; pseudonyms not found in the data are left out.

    Raises
    ------
    SpecError, DataError
        No key for the engagement, or the data cannot be read.

    """
    from qmsprint.data.load import execute, open_source, parsed_expr, rename_map

    key = engagement_key(spec, create=False)
    src = open_source(spec)
    mapping, problems = rename_map(spec, list(src.table.columns))
    if "agent_id" not in mapping:
        from qmsprint.errors import DataError

        raise DataError(f"cannot read agent ids from {src.label}", problems or [Problem("agent_id", "no agent column")])
    parsed = parsed_expr(spec, src.table, {"agent_id": mapping["agent_id"]})
    raw = execute(src.con, parsed.select("agent_id").distinct(), "read the agent ids", src.label)["agent_id"]
    table = pd.DataFrame([(p, a) for a, p in pseudonyms(raw, key).items()], columns=["pseudonym", "agent_id"])
    if wanted is not None:
        table = table[table["pseudonym"].isin({str(w) for w in wanted})]
    return table.sort_values("pseudonym").reset_index(drop=True)
