"""End to end in a real browser: `streamlit run app.py` on a run bundle, driven by headless Chromium.

Uses Debian's ``chromium`` package (``make test`` installs it) through Playwright's Python API,
since browser downloads are not possible here. Screenshots of every page go to
``test-output/screenshots/``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from qmsprint.present.format import metric_label
from qmsprint.store import load_run
from qmsprint.ui.config import ENV_MODE, ENV_RUN, ENV_RUNS_DIR

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "test-output" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"]
# (sidebar link, page heading, url path)
PAGES = [
    ("Metrics", "Metrics", "metrics"),
    ("Segments", "Segments", "segments"),
    ("Diagnosis", "Diagnosis", "diagnosis"),
    ("Design", "Design", "design"),
    ("Data quality & trust", "Data quality & trust", "quality"),
    ("Compare pilots", "Compare pilots", "compare"),
    ("New run", "New run", "new-run"),
]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.read().decode().strip() == "ok":
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"streamlit did not become healthy in {timeout:.0f} s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def _streamlit(run: Path, mode: str, log: Path, extra: list[str] = ()):
    """`streamlit run app.py` on a free port for ``run``; always stopped afterwards."""
    port = _free_port()
    env = {**os.environ, ENV_MODE: mode, ENV_RUN: str(run), ENV_RUNS_DIR: str(run.parent)}
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true"]
    cmd += ["--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
    with log.open("w") as out:
        proc = subprocess.Popen([*cmd, *extra], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="module")
def server(small_run, tmp_path_factory):
    """The workbench on the small run."""
    with _streamlit(small_run, "workbench", tmp_path_factory.mktemp("streamlit") / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make system-deps` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def _settle(page) -> None:
    """Wait until the script has run and nothing is loading."""
    page.wait_for_selector(IDLE, timeout=60_000)
    page.wait_for_load_state("networkidle")
    page.wait_for_selector(IDLE, timeout=60_000)


def test_every_page_in_a_real_browser(server, browser, small_run):
    run = load_run(small_run)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server, wait_until="domcontentloaded")
    _settle(page)
    # the first screen tells the story: the call and every metric's card
    page.get_by_text(run.recommendation.headline).first.wait_for(timeout=30_000)
    for r in run.results:  # the cards draw one after another: wait for each (a loaded CI machine is slow)
        page.get_by_text(metric_label(r.metric), exact=True).first.wait_for(timeout=30_000)
    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=str(SHOTS / "recommendation.png"), full_page=True)

    nav = page.locator("[data-testid='stSidebarNav']")
    for link, heading, url_path in PAGES:
        nav.get_by_role("link", name=link).click()
        page.wait_for_url(f"**/{url_path}", timeout=30_000)
        page.get_by_role("heading", name=heading).first.wait_for(timeout=30_000)
        _settle(page)
        assert page.locator("[data-testid='stException']").count() == 0, f"exception on {link}"
        if url_path in ("metrics", "segments"):
            page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)  # interactive charts drew
        page.screenshot(path=str(SHOTS / f"{url_path}.png"), full_page=True)
    assert not errors, errors
    assert len(list(SHOTS.glob("*.png"))) >= len(PAGES) + 1


def test_share_mode_in_a_real_browser(small_run, browser, tmp_path):
    run = load_run(small_run)
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('password = "acme reads the pilot results"\n[share]\nclient_name = "Acme Care"\n')
    with _streamlit(small_run, "share", tmp_path / "share.log", ["--secrets.files", str(secrets)]) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url, wait_until="domcontentloaded")
        _settle(page)
        page.get_by_text("Please log in").wait_for(timeout=30_000)
        assert page.get_by_text(run.recommendation.headline).count() == 0
        page.get_by_label("Password", exact=True).fill("acme reads the pilot results")
        page.get_by_role("button", name="Log in").click()
        page.get_by_text(run.recommendation.headline).first.wait_for(timeout=30_000)
        _settle(page)
        nav = page.locator("[data-testid='stSidebarNav']")
        assert nav.get_by_role("link", name="New run").count() == 0
        assert nav.get_by_role("link", name="Compare pilots").count() == 0
        assert page.locator("[data-testid='stFileUploader']").count() == 0
        assert page.get_by_text("Acme Care").count() >= 1
        page.screenshot(path=str(SHOTS / "share-recommendation.png"), full_page=True)


def test_a_diagnosis_folder_opens_on_the_diagnosis_in_a_real_browser(diagnosis_folder, browser, tmp_path):
    SHOTS.mkdir(parents=True, exist_ok=True)
    with _streamlit(diagnosis_folder, "workbench", tmp_path / "diagnosis.log") as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url, wait_until="domcontentloaded")
        _settle(page)
        # a sprint starts here: the first page is the diagnosis, with its charts drawn
        page.get_by_role("heading", name="Diagnosis: does the checklist score measure what customers feel?").wait_for(
            timeout=30_000
        )
        page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
        assert page.locator("[data-testid='stException']").count() == 0
        nav = page.locator("[data-testid='stSidebarNav']")
        assert nav.get_by_role("link", name="Diagnosis").count() == 1
        assert nav.get_by_role("link", name="Recommendation").count() == 0
        page.screenshot(path=str(SHOTS / "diagnosis-folder.png"), full_page=True)
        assert not errors, errors
