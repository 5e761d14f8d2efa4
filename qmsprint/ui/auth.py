"""Login for share mode: Streamlit's OIDC login with an allowlist where ``[auth]`` is configured, else a password.

The rules (what counts as configured, the allowlist, hashes, delays) live in :mod:`qmsprint.access`;
this module only draws the login. Nothing is shown while the secrets have a problem
(:func:`qmsprint.access.share_problems`): the server refuses to start in that case, and this is
the second line of defence for a share started without qmsprint's launcher.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import streamlit as st

from qmsprint import access
from qmsprint.present.format import md

AUTH_KEY = "qmsprint_authenticated"
THROTTLE = access.Throttle()  # one per server process: new sessions do not reset it
_LOGGED: set[str] = set()


def _secrets() -> dict[str, Any]:
    try:
        return st.secrets.to_dict()
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):
        return {}


def _user() -> dict[str, Any] | None:
    """The signed-in OIDC user's claims, or ``None``."""
    try:
        if not st.user.is_logged_in:
            return None
        return st.user.to_dict()
    except (AttributeError, KeyError, st.errors.StreamlitAPIException):
        return None


def _client() -> str:
    """Who is trying to log in, for the delay after failures (the peer address; a proxy's for all behind it)."""
    try:
        ip = st.context.ip_address
    except Exception:  # noqa: BLE001 - no request context
        ip = None
    return ip if isinstance(ip, str) and ip else "unknown"


def _log_once(text: str) -> None:
    if text not in _LOGGED:
        _LOGGED.add(text)
        print(f"qmsprint share: {text}", file=sys.stderr, flush=True)


def gate(title: str) -> bool:
    """Show the login and return True once the visitor is signed in and allowed (share mode only)."""
    secrets = _secrets()
    problems = access.share_problems(secrets)
    if problems:
        _log_once("nothing is served until the secrets are fixed: " + "; ".join(str(p) for p in problems))
        _login_header(title, intro=False)
        st.error("This share has no safe login configured, so nothing is shown. Ask the person who shared this link.")
        return False
    if access.login_method(secrets) == "oidc":
        return _oidc(title, secrets)
    return _password(title, secrets)


def _oidc(title: str, secrets: dict[str, Any]) -> bool:
    user = _user()
    if user is None:
        _login_header(title)
        st.button("Log in", type="primary", icon=":material/login:", on_click=st.login)
        return False
    if access.email_allowed(user.get("email"), secrets, user.get("email_verified")):
        return True
    _login_header(title, intro=False)
    who = md(user.get("email") or "an account without an e-mail address")
    st.error(f"You are signed in as {who}, which is not on this share's list. Ask the person who shared this link.")
    st.button("Log out", on_click=st.logout, icon=":material/logout:")
    return False


def _password(title: str, secrets: dict[str, Any]) -> bool:
    if st.session_state.get(AUTH_KEY):
        return True
    _login_header(title)
    with st.form("login", enter_to_submit=True):
        entered = st.text_input("Password", type="password", key="qmsprint_password")
        submitted = st.form_submit_button("Log in", type="primary")
    if not submitted:
        return False
    client = _client()
    wait = THROTTLE.wait(client)
    if wait > 0:
        seconds = math.ceil(wait)
        st.warning(f"Too many wrong passwords. Try again in {seconds} second{'s' if seconds != 1 else ''}.")
        return False
    if access.verify_password(entered or "", secrets):
        THROTTLE.succeeded(client)
        st.session_state[AUTH_KEY] = True
        st.session_state.pop("qmsprint_password", None)
        st.rerun()
    delay = THROTTLE.failed(client)
    st.error(
        "That password is not right. Ask the person who shared this link."
        + (f" The next try is possible in {math.ceil(delay)} seconds." if delay >= 2 else "")
    )
    return False


def logout_button() -> None:
    """A log-out control in the sidebar (share mode)."""
    method = access.login_method(_secrets())
    if method == "oidc" and _user() is not None:
        st.sidebar.button("Log out", on_click=st.logout, icon=":material/logout:")
    elif method == "password" and st.session_state.get(AUTH_KEY):
        if st.sidebar.button("Log out", icon=":material/logout:"):
            st.session_state.pop(AUTH_KEY, None)
            st.rerun()


def _login_header(title: str, intro: bool = True) -> None:
    st.title(title or "Pilot results")
    if intro:
        st.write("These pilot results are shared privately. Please log in to continue.")
