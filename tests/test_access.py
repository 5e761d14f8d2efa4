"""Who may see a share: OIDC allowlist, password rules and hashes, delays after failures, failing closed."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from qmsprint import access
from qmsprint.store import load_run
from qmsprint.ui.config import CLOSED, ENV_MODE, ENV_RUN, ENV_RUNS_DIR, from_env

ROOT = Path(__file__).resolve().parents[1]
STRONG = "correct horse battery staple"
COOKIE = secrets.token_hex(32)
OIDC = {
    "auth": {
        "redirect_uri": "https://results.client.example/oauth2callback",
        "cookie_secret": COOKIE,
        "client_id": "abc123",
        "client_secret": "s3cr3t-from-the-provider",
        "server_metadata_url": "https://login.client.example/.well-known/openid-configuration",
    },
    "share": {"allowed_emails": ["Ana@Partner.example"], "allowed_domains": ["client.example"]},
}


# ------------------------------------------------------------------------------------------- rules


def test_oidc_needs_an_allowlist_and_real_values():
    bare = {"auth": {**OIDC["auth"]}}
    assert access.login_method(bare) == "oidc"
    assert [p.where for p in access.share_problems(bare)] == ["share.allowed_emails"]
    assert access.share_problems(OIDC) == []
    auth = {"redirect_uri": "http://results.example.com/oauth2callback", "cookie_secret": "a long random string",
            "client_id": "...", "client_secret": "..."}  # fmt: skip
    example = {"auth": auth, "share": {"allowed_domains": ["gmail.com"]}}
    wheres = [p.where for p in access.share_problems(example)]
    assert wheres == ["auth.cookie_secret", "auth.client_id", "auth.client_secret", "auth.redirect_uri",
                      "share.allowed_domains"]  # fmt: skip
    local = {**OIDC, "auth": {**OIDC["auth"], "redirect_uri": "http://localhost:8501/oauth2callback"}}
    assert access.share_problems(local) == []


@pytest.mark.parametrize(
    ("email", "verified", "allowed"),
    [
        ("ana@partner.example", None, True),
        ("ANA@partner.example", True, True),
        ("bo@client.example", None, True),
        ("bo@sub.client.example", None, False),  # exact domains only
        ("bo@evilclient.example", None, False),
        ("bo@client.example.evil", None, False),
        ("ana@partner.example", False, False),  # the provider says the address is not verified
        ("someone@gmail.com", None, False),
        ("", None, False),
        (None, None, False),
        ("a@b@client.example", None, False),
    ],
)
def test_the_allowlist_decides_who_gets_in(email, verified, allowed):
    assert access.email_allowed(email, OIDC, verified) is allowed


@pytest.mark.parametrize("password", ["change me", "changeme", " ", "pw", "short-pw", "password1234", "x" * 20,
                                      "changemeplease!", "<your password>"])  # fmt: skip
def test_placeholder_and_short_passwords_are_refused(password):
    assert access.share_problems({"password": password})
    assert access.share_problems({"share": {"password": password}})
    with pytest.raises(ValueError):
        access.hash_password(password)


def test_a_hashed_password_is_accepted_and_checked():
    stored = access.hash_password(STRONG)
    assert stored.startswith("scrypt$") and STRONG not in stored
    assert stored != access.hash_password(STRONG)  # salted
    for secrets_ in ({"password_hash": stored}, {"share": {"password_hash": stored}}):
        assert access.login_method(secrets_) == "password" and access.share_problems(secrets_) == []
        assert access.verify_password(STRONG, secrets_)
        assert not access.verify_password(STRONG + " ", secrets_) and not access.verify_password("", secrets_)
    assert access.share_problems({"password_hash": "scrypt$1$1$1$x$y"})  # not a hash we made
    assert access.verify_password(STRONG, {"password": STRONG})  # a strong plain password still works


def test_failures_push_the_next_try_further_away():
    now = [100.0]
    t = access.Throttle(clock=lambda: now[0], global_after=5)
    assert t.wait("a") == 0
    assert [t.failed("a") for _ in range(6)] == [0, 0, 1, 2, 4, 8]  # two typos are free
    assert t.wait("a") == 8 and t.wait("b") == 0
    now[0] += 8
    assert t.wait("a") == 0
    assert [access.failure_delay(n) for n in (0, 2, 3, 11, 40)] == [0, 0, 1, 256, access.MAX_DELAY]
    for _ in range(3):  # attempts from many addresses add up
        t.failed("c")
    assert t.wait("d") > 0
    t.succeeded("a")
    assert t.wait("a") == 0


def test_cli_hash_password_refuses_weak_ones_and_prints_a_line_to_paste():
    from qmsprint.cli import app

    result = CliRunner().invoke(app, ["hash-password", "--stdin"], input=STRONG + "\n")
    assert result.exit_code == 0, result.output
    line = result.stdout.strip()
    assert line.startswith('password_hash = "scrypt$')
    stored = line.split('"')[1]
    assert access.verify_password(STRONG, {"password_hash": stored})
    weak = CliRunner().invoke(app, ["hash-password", "--stdin"], input="change me\n")
    assert weak.exit_code == 2 and "12 characters" in weak.output


def test_serve_refuses_unsafe_logins_with_every_problem(tmp_path, monkeypatch):
    from qmsprint.serve import ShareConfigError, serve

    monkeypatch.setattr("qmsprint.serve.launch", lambda cmd, env: pytest.fail("must not start"), raising=False)
    monkeypatch.setattr("qmsprint.serve.subprocess.call", lambda cmd, env: pytest.fail("must not start"))
    run = tmp_path / "run"
    run.mkdir()
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text('password = "change me"\n')
    with pytest.raises(ShareConfigError, match="safe to share") as err:
        serve(run_folder=run, share=True, secrets=secrets_file)
    assert "12 characters" in str(err.value) and "placeholder" in str(err.value)
    secrets_file.write_text(
        '[auth]\nredirect_uri = "https://r.example/oauth2callback"\ncookie_secret = "a long random string"\n'
        'client_id = "x1"\nclient_secret = "y2"\n'
    )
    with pytest.raises(ShareConfigError) as err:
        serve(run_folder=run, share=True, secrets=secrets_file)
    assert "auth.cookie_secret" in str(err.value) and "allowed_emails" in str(err.value)


# ------------------------------------------------------------------------------------------- in the app


def _share(monkeypatch, run: Path, secrets_: dict) -> AppTest:
    monkeypatch.setenv(ENV_MODE, "share")
    monkeypatch.setenv(ENV_RUN, str(run))
    monkeypatch.setenv(ENV_RUNS_DIR, str(run.parent))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for k, v in secrets_.items():
        at.secrets[k] = v
    return at


def _text(at: AppTest) -> str:
    kinds = ("title", "markdown", "caption", "error", "warning", "info")
    parts = [str(e.value) for kind in kinds for e in getattr(at, kind)]
    return "\n".join(parts)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("user", "shown"),
    [
        (None, False),
        ({"is_logged_in": True, "email": "bo@client.example"}, True),
        ({"is_logged_in": True, "email": "ana@partner.example", "email_verified": True}, True),
        ({"is_logged_in": True, "email": "eve@gmail.com"}, False),
        ({"is_logged_in": True, "email": "bo@client.example", "email_verified": False}, False),
    ],
)
def test_oidc_share_shows_results_only_to_the_allowlist(monkeypatch, small_run, user, shown):
    monkeypatch.setattr("qmsprint.ui.auth._user", lambda: user)
    at = _share(monkeypatch, small_run, OIDC).run()
    assert not at.exception, [e.value for e in at.exception]
    headline = load_run(small_run).recommendation.headline
    assert (headline in _text(at).replace("\\", "")) is shown
    if user is not None and not shown:
        assert "not on this share's list" in _text(at)
        assert [b.label for b in at.button] == ["Log out"]


@pytest.mark.slow
def test_password_share_delays_after_failures(monkeypatch, small_run):
    now = [0.0]
    monkeypatch.setattr("qmsprint.ui.auth.THROTTLE", access.Throttle(clock=lambda: now[0]))
    at = _share(monkeypatch, small_run, {"password_hash": access.hash_password(STRONG)}).run()

    def attempt(pw: str) -> str:
        at.text_input(key="qmsprint_password").input(pw)
        next(b for b in at.button if b.label == "Log in").click().run()
        return _text(at)

    assert "not right" in attempt("wrong guess number one")
    assert "not right" in attempt("wrong guess number two")  # typos cost nothing
    assert "next try is possible" not in attempt("wrong guess number three")  # ... a third waits 1 s
    assert "Try again in 1 second." in attempt(STRONG)  # straight away: even the right one waits
    now[0] += 1
    assert "not right" in attempt("wrong guess number four")
    text = attempt(STRONG)  # 2 s after the fourth failure
    assert "Too many wrong passwords" in text  # even the right password waits out the delay
    headline = load_run(small_run).recommendation.headline
    assert headline not in text.replace("\\", "")
    now[0] += 5
    assert headline in attempt(STRONG).replace("\\", "")


@pytest.mark.slow
@pytest.mark.parametrize("secrets_", [{"password": "change me"}, {"auth": OIDC["auth"]}, {}])
def test_the_app_shows_nothing_with_an_unsafe_login(monkeypatch, small_run, secrets_):
    at = _share(monkeypatch, small_run, secrets_).run()
    assert not at.exception
    assert "no safe login configured" in _text(at)
    assert not at.text_input and not at.button and not at.dataframe


@pytest.mark.slow
@pytest.mark.parametrize("mode", [None, "root", "Share", ""])
def test_without_the_launcher_or_with_an_unknown_mode_nothing_opens(monkeypatch, small_run, mode):
    if mode is None:
        monkeypatch.delenv(ENV_MODE, raising=False)
    else:
        monkeypatch.setenv(ENV_MODE, mode)
    monkeypatch.setenv(ENV_RUN, str(small_run))
    monkeypatch.setenv(ENV_RUNS_DIR, str(small_run.parent))
    assert from_env().mode == CLOSED
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception
    assert "qmsprint app" in _text(at)
    assert load_run(small_run).recommendation.headline not in _text(at).replace("\\", "")
    assert not at.sidebar.get("download_button") and not at.file_uploader and not at.selectbox
