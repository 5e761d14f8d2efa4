"""Login for share mode: Streamlit's OIDC login where ``[auth]`` is configured, else a password."""

from __future__ import annotations

import hmac
from typing import Any

import streamlit as st

from qmsprint.serve import login_method, share_password

AUTH_KEY = "qmsprint_authenticated"


def _secrets() -> dict[str, Any]:
    try:
        return st.secrets.to_dict()
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):
        return {}


def _logged_in_oidc() -> bool:
    try:
        return bool(st.user.is_logged_in)
    except (AttributeError, KeyError, st.errors.StreamlitAPIException):
        return False


def check_password(entered: str, expected: str) -> bool:
    """Constant-time comparison of a typed password with the configured one."""
    return hmac.compare_digest(entered.encode("utf-8"), expected.encode("utf-8"))


def gate(title: str) -> bool:
    """Show the login and return True once the visitor is signed in (share mode only).

    With neither login configured nothing is served (the server refuses to start in that case;
    this is the second line of defence).
    """
    secrets = _secrets()
    method = login_method(secrets)
    if method == "oidc":
        if _logged_in_oidc():
            return True
        _login_header(title)
        st.button("Log in", type="primary", icon=":material/login:", on_click=st.login)
        return False
    if method == "password":
        if st.session_state.get(AUTH_KEY):
            return True
        _login_header(title)
        with st.form("login", enter_to_submit=True):
            entered = st.text_input("Password", type="password", key="qmsprint_password")
            submitted = st.form_submit_button("Log in", type="primary")
        if submitted:
            if check_password(entered or "", share_password(secrets) or ""):
                st.session_state[AUTH_KEY] = True
                st.session_state.pop("qmsprint_password", None)
                st.rerun()
            st.error("That password is not right. Ask the person who shared this link.")
        return False
    st.error("This share has no login configured, so nothing is shown.")
    return False


def logout_button() -> None:
    """A log-out control in the sidebar (share mode)."""
    method = login_method(_secrets())
    if method == "oidc" and _logged_in_oidc():
        st.sidebar.button("Log out", on_click=st.logout, icon=":material/logout:")
    elif method == "password" and st.session_state.get(AUTH_KEY):
        if st.sidebar.button("Log out", icon=":material/logout:"):
            st.session_state.pop(AUTH_KEY, None)
            st.rerun()


def _login_header(title: str) -> None:
    st.title(title or "Pilot results")
    st.write("These pilot results are shared privately. Please log in to continue.")
