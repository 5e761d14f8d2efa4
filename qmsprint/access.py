"""Who may see a share: the login settings, checked before anything is served (no Streamlit here).

A share is served behind one of two logins, read from Streamlit's secrets (``.streamlit/secrets.toml``):

OIDC (Streamlit's ``st.login``)
    An ``[auth]`` section with ``redirect_uri``, ``cookie_secret`` and a provider's ``client_id``
    / ``client_secret`` / ``server_metadata_url``, AND an allowlist in ``[share]``:
    ``allowed_emails = ["ana@client.example"]`` and/or ``allowed_domains = ["client.example"]``.
    Signing in proves an e-mail address, not that its owner may see the results: any account of
    the provider can sign in, so the app lets in only the listed addresses and domains
    (:func:`email_allowed`; exact domain match, a provider's ``email_verified = false`` is
    refused). Public mail domains (``gmail.com`` ...) cannot be allowed as a whole.
Password
    ``password_hash`` (from ``qmsprint hash-password``: scrypt with a random salt) or ``password``,
    at the top level or in ``[share]``. A plain password must have at least
    :data:`MIN_PASSWORD` characters and not be a placeholder (``change me`` ...). Failed attempts
    make the next one wait longer (:class:`Throttle`: after two typos 1, 2, 4 ... seconds, at most
    :data:`MAX_DELAY`).

:func:`share_problems` lists everything wrong with a configuration at once (placeholder or short
``cookie_secret``, missing allowlist, weak password, ...); ``qmsprint app --share`` refuses to
start and the app shows nothing while it is not empty.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from qmsprint.errors import Problem

MIN_PASSWORD = 12
MIN_COOKIE_SECRET = 32
MAX_DELAY = 300.0
FREE_TRIES = 2  # wrong passwords before each further try has to wait
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
HASH_SCHEME = "scrypt"
PUBLIC_MAIL_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com", "yahoo.com", "ymail.com",
    "icloud.com", "me.com", "mac.com", "aol.com", "proton.me", "protonmail.com", "gmx.com", "gmx.net", "gmx.de",
    "web.de", "mail.com", "yandex.com", "yandex.ru", "zoho.com", "fastmail.com", "hey.com", "qq.com", "163.com",
})  # fmt: skip
_PLACEHOLDER_WORDS = ("changeme", "change", "replace", "example", "placeholder", "password", "secret", "yourpass",
                      "todo", "fixme", "letmein", "random", "default", "qwerty")  # fmt: skip
_WEAK_PASSWORD_PARTS = ("xxxx", "1234", "abcd", "...")
COOKIE_HELP = (
    f"use a random value of at least {MIN_COOKIE_SECRET} characters, e.g. from "
    '`python -c "import secrets; print(secrets.token_hex(32))"`'
)
ALLOWLIST_HELP = (
    "OIDC lets any account of the provider sign in: list who may see the results in [share] "
    "allowed_emails = [...] and/or allowed_domains = [...]"
)


# ------------------------------------------------------------------------------------------- settings


def _share(secrets_: dict[str, Any]) -> dict[str, Any]:
    share = secrets_.get("share")
    return share if isinstance(share, dict) else {}


def _providers(auth: dict[str, Any]) -> list[dict[str, Any]]:
    return [auth] + [v for v in auth.values() if isinstance(v, dict)]


def login_method(secrets_: dict[str, Any]) -> str | None:
    """``oidc`` when an ``[auth]`` section configures ``st.login``, ``password`` when a password is set.

    An ``[auth]`` section counts when it has ``redirect_uri`` and ``cookie_secret`` and a client id
    (directly or in a named provider sub-section); it wins over a password.
    """
    auth = secrets_.get("auth")
    if isinstance(auth, dict) and auth.get("redirect_uri") and auth.get("cookie_secret"):
        if any(p.get("client_id") for p in _providers(auth)):
            return "oidc"
    if password_setting(secrets_) is not None:
        return "password"
    return None


def password_setting(secrets_: dict[str, Any]) -> tuple[str, str] | None:
    """``("hash", value)`` or ``("plain", value)`` from ``password_hash`` / ``password`` (top level or ``[share]``).

    A hash wins over a plain password. ``None`` when neither is set (an empty string is not set).
    """
    share = _share(secrets_)
    for kind, key in (("hash", "password_hash"), ("plain", "password")):
        for source in (secrets_, share):
            value = source.get(key)
            if value is not None and str(value) != "":
                return kind, str(value)
    return None


def allowlist(secrets_: dict[str, Any]) -> tuple[list[str], list[str]]:
    """``[share] allowed_emails`` and ``allowed_domains``, lower-cased (a single string counts as a list of one)."""
    share = _share(secrets_)

    def items(key: str) -> list[str]:
        v = share.get(key) or []
        v = [v] if isinstance(v, str) else list(v) if isinstance(v, list | tuple) else []
        return [str(x).strip().lower().lstrip("@") if key == "allowed_domains" else str(x).strip().lower()
                for x in v if str(x).strip()]  # fmt: skip

    return items("allowed_emails"), items("allowed_domains")


def email_allowed(email: str | None, secrets_: dict[str, Any], verified: Any = None) -> bool:
    """True when a signed-in ``email`` is on the share's allowlist (an exact address or an exact domain).

    ``verified`` is the provider's ``email_verified`` claim: ``False`` always refuses.
    """
    if not email or verified is False or str(verified).lower() == "false":
        return False
    email = str(email).strip().lower()
    if email.count("@") != 1:
        return False
    emails, domains = allowlist(secrets_)
    return email in emails or email.rsplit("@", 1)[1] in domains


def is_placeholder(value: str, extra: Iterable[str] = ()) -> bool:
    """True for a value that looks like an example left in place (``change me``, ``<secret>``, ``aaaa``...).

    ``extra`` adds substrings that also count (passwords: ``1234``, ``xxxx`` ...).
    """
    v = value.strip().lower()
    squashed = re.sub(r"[\s_\-.!]+", "", v)
    if not squashed or v.startswith("<") or len(set(squashed)) < 4:
        return True
    return any(w in squashed or w in v for w in (*_PLACEHOLDER_WORDS, *extra))


def password_problems(password: str) -> list[str]:
    """Why a plain password is not good enough for a share (empty when it is)."""
    out = []
    if len(password.strip()) < MIN_PASSWORD:
        out.append(f"the password must have at least {MIN_PASSWORD} characters")
    if is_placeholder(password, _WEAK_PASSWORD_PARTS):
        out.append("the password looks like a placeholder or a common word; choose a real one")
    return out


def share_problems(secrets_: dict[str, Any]) -> list[Problem]:
    """Everything that makes these secrets unsafe for a share (empty when a share may start).

    Parameters
    ----------
    secrets_
        The merged secrets (``[auth]``, ``[share]``, ``password`` / ``password_hash``).

    """
    method = login_method(secrets_)
    if method is None:
        return [Problem("secrets", "share mode needs a login: an [auth] section (OIDC provider for st.login: "
                                   "redirect_uri, cookie_secret, client_id, client_secret, server_metadata_url) with "
                                   "[share] allowed_emails / allowed_domains, or password_hash = \"...\" from "
                                   "`qmsprint hash-password`")]  # fmt: skip
    problems: list[Problem] = []
    if method == "oidc":
        auth = secrets_["auth"]
        cookie = str(auth.get("cookie_secret", ""))
        if len(cookie) < MIN_COOKIE_SECRET or is_placeholder(cookie):
            problems.append(Problem("auth.cookie_secret", COOKIE_HELP))
        for p in _providers(auth):
            for key in ("client_id", "client_secret"):
                value = str(p.get(key, "x")).strip()
                if not value or value == "..." or value.startswith("<"):
                    problems.append(Problem(f"auth.{key}", "still the example's placeholder; paste the provider's"))
        redirect = str(auth.get("redirect_uri", ""))
        if not redirect.startswith("https://") and not re.match(r"http://(localhost|127\.0\.0\.1)(:\d+)?/", redirect):
            problems.append(Problem("auth.redirect_uri", "must be an https:// address (the share behind TLS), or "
                                                         "http://localhost for a local test"))  # fmt: skip
        emails, domains = allowlist(secrets_)
        if not emails and not domains:
            problems.append(Problem("share.allowed_emails", ALLOWLIST_HELP))
        for e in emails:
            if e.count("@") != 1 or "." not in e.rsplit("@", 1)[1]:
                problems.append(Problem("share.allowed_emails", f"{e!r} is not an e-mail address"))
        for d in domains:
            if d in PUBLIC_MAIL_DOMAINS:
                problems.append(Problem("share.allowed_domains", f"{d} would let anyone with a {d} address in; list "
                                                                 "those people in allowed_emails instead"))  # fmt: skip
            elif "." not in d or "@" in d or "*" in d:
                problems.append(Problem("share.allowed_domains", f"{d!r} is not a domain (e.g. client.example)"))
    else:
        kind, value = password_setting(secrets_) or ("plain", "")
        if kind == "hash":
            if parse_hash(value) is None:
                problems.append(Problem("password_hash", "not a hash from `qmsprint hash-password`"))
        else:
            problems += [Problem("password", m + " (or store password_hash from `qmsprint hash-password`)")
                         for m in password_problems(value)]  # fmt: skip
    return problems


# ------------------------------------------------------------------------------------------- password hashes


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """A salted scrypt hash of ``password`` for ``password_hash`` in the secrets (``scrypt$N$r$p$salt$hash``).

    Raises
    ------
    ValueError
        For a password a share would refuse (too short, a placeholder).

    """
    problems = password_problems(password)
    if problems:
        raise ValueError("; ".join(problems))
    salt = salt or secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"{HASH_SCHEME}${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r + (1 << 20), dklen=32)


def parse_hash(stored: str) -> tuple[int, int, int, bytes, bytes] | None:
    """``(N, r, p, salt, digest)`` of a ``password_hash``, or ``None`` when it is not one."""
    parts = stored.strip().split("$")
    if len(parts) != 6 or parts[0] != HASH_SCHEME:
        return None
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, digest = _unb64(parts[4]), _unb64(parts[5])
    except ValueError:
        return None
    if not (2**10 <= n <= 2**20 and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16 and len(salt) >= 8):
        return None
    return n, r, p, salt, digest


def verify_password(entered: str, secrets_: dict[str, Any]) -> bool:
    """Whether ``entered`` is the share's password (constant-time; a hash is recomputed with its salt)."""
    setting = password_setting(secrets_)
    if setting is None or not entered:
        return False
    kind, value = setting
    if kind == "hash":
        parsed = parse_hash(value)
        if parsed is None:
            return False
        n, r, p, salt, digest = parsed
        return hmac.compare_digest(_scrypt(entered, salt, n, r, p), digest)
    return hmac.compare_digest(entered.encode("utf-8"), value.encode("utf-8"))


# ------------------------------------------------------------------------------------------- failed attempts


def failure_delay(failures: int) -> float:
    """Seconds to wait after ``failures`` failed attempts in a row.

    :data:`FREE_TRIES` typos cost nothing; then 1, 2, 4 ... seconds, up to :data:`MAX_DELAY`.
    """
    extra = failures - FREE_TRIES
    return 0.0 if extra <= 0 else min(MAX_DELAY, 2.0 ** (extra - 1))


@dataclass
class Throttle:
    """Failed logins per client (and all clients together): each failure pushes the next try further away.

    ``clock`` is ``time.monotonic`` (tests pass their own). One instance lives for the whole server,
    so opening new sessions does not reset it.
    """

    clock: Callable[[], float] = time.monotonic
    global_after: int = 20  # failures from all clients together before everyone waits too
    _failures: dict[str, int] = field(default_factory=dict)
    _until: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wait(self, client: str) -> float:
        """Seconds this client must still wait before its next try (0 when it may try now)."""
        now = self.clock()
        with self._lock:
            return max(0.0, self._until.get(client, 0.0) - now, self._until.get("*", 0.0) - now)

    def failed(self, client: str) -> float:
        """Record a failure; return the delay before the next try."""
        now = self.clock()
        with self._lock:
            n = self._failures.get(client, 0) + 1
            self._failures[client] = n
            self._until[client] = now + failure_delay(n)
            total = self._failures.get("*", 0) + 1
            self._failures["*"] = total
            if total > self.global_after:
                self._until["*"] = now + failure_delay(total - self.global_after)
            return failure_delay(n)

    def succeeded(self, client: str) -> None:
        """Forget the client's failures (and the global count) after a good login."""
        with self._lock:
            for k in (client, "*"):
                self._failures.pop(k, None)
                self._until.pop(k, None)
