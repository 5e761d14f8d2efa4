"""The text files of a share folder (``qmsprint share``): app entry, requirements, Docker, settings, README.

:func:`share_files` returns ``relative path -> text``; :func:`qmsprint.store.share.write_share_folder`
writes them next to the redacted run and qmsprint's code. The environment variable names match
:mod:`qmsprint.ui.config` (a test holds them to it).
"""

from __future__ import annotations

import json

APP_PORT = 8501
ENV_MODE, ENV_RUN, ENV_RUNS_DIR = "QMSPRINT_APP_MODE", "QMSPRINT_APP_RUN", "QMSPRINT_APP_RUNS_DIR"

APP = '''"""Streamlit entry of a qmsprint share: one run, read-only, behind a login (see README.md).

`streamlit run app.py` serves the run in run/ in share mode; nothing is shown until a visitor has
logged in with the login configured in .streamlit/secrets.toml.
"""

import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
os.environ["{mode}"] = "share"
os.environ["{run}"] = str(HERE / "{run_rel}")
os.environ["{runs_dir}"] = str(HERE / "run")

from qmsprint.ui.main import main  # noqa: E402 - after the share settings above

main()
'''

CONFIG = """# Streamlit settings of this share (the Dockerfile overrides the address inside its container).
[server]
headless = true
address = "127.0.0.1"        # only this machine: a TLS proxy in front publishes it (see README.md)
port = {port}
maxUploadSize = 1
fileWatcherType = "none"
enableXsrfProtection = true

[browser]
gatherUsageStats = false

[client]
toolbarMode = "viewer"
showErrorDetails = "none"

[theme]
primaryColor = "#1f6f8b"
"""

SECRETS = """# Copy to .streamlit/secrets.toml (never commit it, never bake it into an image) and fill in ONE login.
# The app shows nothing until the login below is complete and safe; `qmsprint app --share` and the
# app list what is missing.

# 1) Sign-in with the client's identity provider (OIDC: Microsoft Entra ID, Google, Okta, Auth0 ...).
#    Signing in only proves an e-mail address: the allowlist in [share] says who may see the results.
# [auth]
# redirect_uri = "https://results.client.example/oauth2callback"   # https, the address of this share
# cookie_secret = "<64 random characters: python -c 'import secrets; print(secrets.token_hex(32))'>"
# client_id = "<from the identity provider>"
# client_secret = "<from the identity provider>"
# server_metadata_url = "https://login.microsoftonline.com/<tenant>/v2.0/.well-known/openid-configuration"

# 2) Or one shared password, stored as a salted hash: run `qmsprint hash-password` and paste its line.
# password_hash = "scrypt$..."

[share]
client_name = {client}
allowed_emails = {emails}     # who may sign in with OIDC, e.g. ["ana@client.example"]
allowed_domains = {domains}   # or whole domains, e.g. ["client.example"] (never gmail.com and the like)
"""

DOCKERFILE = """# A qmsprint share of one run, served on port {port} inside the container.
# Build:  docker build -t qmsprint-share .
# Run:    docker run --rm -p 127.0.0.1:{port}:{port} \\
#             -v "$PWD/.streamlit/secrets.toml:/app/.streamlit/secrets.toml:ro" qmsprint-share
# Publish it only through a TLS proxy (see README.md); the secrets are mounted, never copied in.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \\
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false STREAMLIT_CLIENT_SHOW_ERROR_DETAILS=none
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY app.py ./
COPY qmsprint ./qmsprint
COPY run ./run
COPY .streamlit/config.toml ./.streamlit/config.toml
RUN useradd --create-home --uid 10001 share
USER share
EXPOSE {port}
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/_stcore/health')"
CMD ["python", "-m", "streamlit", "run", "app.py", "--server.address", "0.0.0.0", "--server.port", "{port}"]
"""

DOCKERIGNORE = """.streamlit/secrets.toml
**/__pycache__
**/*.pyc
.git
"""

GITIGNORE = """.streamlit/secrets.toml
__pycache__/
"""

README = """# {title}

A read-only share of one pilot run made with qmsprint {version}: the results pages, the HTML report
and the effects table, behind a login. Nothing else is in this folder:

- `run/{run_name}/`: the run, redacted. Agents appear only as keyed pseudonyms (the key stays with
  the consultant), customer ids never, tenure not at all; no data-source path, no connection
  string, no comments from the experiment file; no per-agent posteriors.
- `app.py`: the app's entry (share mode on that run); `qmsprint/`: the code that draws it.
- `requirements.txt` (pinned), `Dockerfile`, `.streamlit/config.toml` (no usage statistics, no
  error details, listens on 127.0.0.1), `.streamlit/secrets.example.toml` (the login template).

## 1. The login
Copy `.streamlit/secrets.example.toml` to `.streamlit/secrets.toml` and fill in one login:

- **OIDC (recommended)**: register an app with the client's identity provider (redirect URI
  `https://<this share's address>/oauth2callback`), paste its `client_id`, `client_secret` and
  `server_metadata_url`, set a random `cookie_secret`, and list who may see the results in
  `[share] allowed_emails` and/or `allowed_domains`. Anyone else who signs in sees nothing.
- **Password**: `qmsprint hash-password` (on a machine with qmsprint) prints a `password_hash`
  line (salted scrypt); paste it. Passwords under 12 characters or placeholders are refused, and
  after two typos each wrong password makes the next try wait longer. Send the password through
  another channel than the link.

`secrets.toml` is listed in `.gitignore` and `.dockerignore`: keep it out of version control and
images. The app shows nothing while the login is missing or unsafe.

## 2. Serve it behind TLS
The app listens on 127.0.0.1:{port} only; put an HTTPS proxy in front (logins and results must
not travel in clear text). With Python 3.11:

```bash
python -m venv .venv && .venv/bin/pip install -r requirements.txt
.venv/bin/python -m streamlit run app.py
```

[Caddy](https://caddyserver.com) gets and renews the certificate itself (`/etc/caddy/Caddyfile`):

```
results.client.example {{
    reverse_proxy 127.0.0.1:{port}
}}
```

nginx needs the WebSocket upgrade for Streamlit:

```
location / {{
    proxy_pass http://127.0.0.1:{port};
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection "upgrade";
    proxy_set_header Host $host;
    proxy_read_timeout 86400;
}}
```

Or with Docker (the secrets are mounted read-only, the port published on 127.0.0.1 only):

```bash
docker build -t qmsprint-share .
docker run -d --restart unless-stopped -p 127.0.0.1:{port}:{port} \\
    -v "$PWD/.streamlit/secrets.toml:/app/.streamlit/secrets.toml:ro" qmsprint-share
```

## 3. Or Streamlit Community Cloud
Push this folder (without `secrets.toml`) to a **private** repository, deploy `app.py` with Python
3.11, paste the content of your `secrets.toml` into the app's *Secrets* settings, and set the
redirect URI to `https://<app>.streamlit.app/oauth2callback`. Cloud serves HTTPS itself. Keep
the app private too (Cloud's viewer list) as a second lock.

## Ending the share
Stop the server (or delete the Cloud app) and delete this folder; the consultant's run folder and
the pseudonymisation key are not in it.
"""


def share_files(
    *,
    run_rel: str,
    run_name: str,
    allowed_emails: list[str],
    allowed_domains: list[str],
    client_name: str,
    requirements: list[str],
    version: str,
) -> dict[str, str]:
    """The text files of a share folder, by relative path."""
    title = f"{client_name}: pilot results" if client_name else "Pilot results"
    reqs = f"# Pinned to the versions the share was made with (qmsprint {version}).\n"
    return {
        "app.py": APP.format(mode=ENV_MODE, run=ENV_RUN, runs_dir=ENV_RUNS_DIR, run_rel=run_rel),
        "requirements.txt": reqs + "".join(f"{r}\n" for r in requirements),
        "Dockerfile": DOCKERFILE.format(port=APP_PORT),
        ".dockerignore": DOCKERIGNORE,
        ".gitignore": GITIGNORE,
        ".streamlit/config.toml": CONFIG.format(port=APP_PORT),
        ".streamlit/secrets.example.toml": SECRETS.format(
            client=json.dumps(client_name), emails=json.dumps(allowed_emails), domains=json.dumps(allowed_domains)
        ),
        "README.md": README.format(title=title, version=version, run_name=run_name, port=APP_PORT),
    }
